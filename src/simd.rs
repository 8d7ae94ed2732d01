//! The lane type every kernel uses: the widest `wide` vector the build's target features
//! allow. `wide` selects its implementation at compile time only, so this is a `cfg`, not a
//! runtime dispatch (the README, "The benchmarks").

#[cfg(target_feature = "avx512f")]
pub use wide::f32x16 as F32s;
#[cfg(target_feature = "avx512f")]
pub use wide::i32x16 as I32s;

#[cfg(not(target_feature = "avx512f"))]
pub use wide::f32x8 as F32s;
#[cfg(not(target_feature = "avx512f"))]
pub use wide::i32x8 as I32s;

/// f32 lanes per vector in this build.
pub const LANES: usize = core::mem::size_of::<F32s>() / core::mem::size_of::<f32>();

/// The instruction set the lane type maps to in this build, for the runner's header.
pub fn instruction_set() -> &'static str {
    if cfg!(target_feature = "avx512f") {
        "AVX-512"
    } else if cfg!(target_feature = "avx2") {
        "AVX2"
    } else if cfg!(target_feature = "avx") {
        "AVX"
    } else if cfg!(target_feature = "sse2") {
        "SSE2"
    } else {
        "scalar"
    }
}

/// a·b + c as a lane's `mul_add` computes it: fused where the target has FMA, else rounded
/// twice (`wide` then multiplies and adds), where a scalar `mul_add` always fuses. Test
/// oracles use it to predict the lanes' bits on every target.
#[cfg(test)]
pub(crate) trait LaneFma {
    fn lane_fma(self, b: Self, c: Self) -> Self;
}

#[cfg(test)]
macro_rules! lane_fma {
    ($($t:ty),*) => {$(
        impl LaneFma for $t {
            fn lane_fma(self, b: Self, c: Self) -> Self {
                if cfg!(target_feature = "fma") {
                    self.mul_add(b, c)
                } else {
                    self * b + c
                }
            }
        }
    )*};
}

#[cfg(test)]
lane_fma!(f32, f64);
