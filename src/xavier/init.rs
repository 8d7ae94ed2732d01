//! Weight initialisers: Xavier/Glorot (eq. (23) and its normal form), He/Kaiming, LeCun, the
//! "standard" heuristic, and the naive N(0, σ²) of the depth experiment.
//!
//! **Fans (one convention, conventions appendix, C2).** A weight matrix W_i is J_i × J_{i+1}, rows = the
//! source layer, columns = the destination layer, as [`crate::backprop::Dense`] stores it
//! (Z = Wᵀ·A). So `fan_in = nrows` (J_i) and `fan_out = ncols` (J_{i+1}). A matrix with no
//! rows or no columns is refused with a typed error.
//!
//! Every initialiser fills the matrix from an injected RNG (any [`RngCore`], so a seeded
//! ChaCha in the proofs and a stub in the exact tests), through the SIMD kernels of
//! [`super::kernel`].

use nalgebra::{DMatrix, DVector};
use rand::RngCore;

use super::kernel;
use crate::activation::Activation;
use crate::backprop::Dense;
use crate::error::{Error, Result};

/// Glorot normal as Keras draws it: N(0, σ²) truncated at ±2σ has variance 0.7737413·σ², so
/// σ is the target std divided by √0.7737413 = 0.8796256610 (EXT-XAV-NORMAL). Computed from
/// Φ and φ in `claims` (truncated-normal variance 1 − 2·2φ(2)/(2Φ(2) − 1)) and checked there.
pub const TRUNCATED_STD_FACTOR: f64 = 0.879_625_661_034_239_8;

/// Where the truncated normal is cut, in standard deviations of the untruncated one.
pub const TRUNCATION: f32 = 2.0;

/// The fans of a weight matrix (C2): J_i in, J_{i+1} out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fans {
    pub fan_in: usize,
    pub fan_out: usize,
}

impl Fans {
    /// Both fans must be at least 1.
    pub fn new(fan_in: usize, fan_out: usize) -> Result<Self> {
        for (name, n) in [
            ("fan_in (rows of W)", fan_in),
            ("fan_out (columns of W)", fan_out),
        ] {
            if n == 0 {
                return Err(Error::ParameterOutOfRange {
                    name,
                    value: 0.0,
                    range: "[1, ∞): a weight matrix needs at least one row and one column",
                });
            }
        }
        Ok(Self { fan_in, fan_out })
    }

    /// The fans of `w` under C2: rows in, columns out.
    pub fn of<T: nalgebra::Scalar>(w: &DMatrix<T>) -> Result<Self> {
        Self::new(w.nrows(), w.ncols())
    }
}

/// A distribution the kernels can sample, with its scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// U[−bound, bound]; variance bound²/3 (XAV-UNIF-VAR).
    Uniform { bound: f64 },
    /// N(0, std²).
    Normal { std: f64 },
    /// N(0, std²) conditioned on |w| ≤ 2·std; variance 0.7737413·std².
    TruncatedNormal { std: f64 },
}

/// A weight initialiser. Every variance is a function of the [`Fans`] only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Eq. (23), XAV-23: U[−a, a] with a = gain·√6/√(J_i + J_{i+1}), so that
    /// Var(W) = gain²·2/(J_i + J_{i+1}) (XAV-HM's compromise).
    XavierUniform { gain: f64 },
    /// EXT-XAV-NORMAL: N(0, gain²·2/(J_i + J_{i+1})).
    XavierNormal { gain: f64 },
    /// EXT-XAV-NORMAL, as Keras draws it: a normal truncated at ±2σ whose σ is rescaled by
    /// 1/[`TRUNCATED_STD_FACTOR`], so the variance is still gain²·2/(J_i + J_{i+1}).
    XavierTruncatedNormal { gain: f64 },
    /// EXT-HE: U[−b, b] with b = √(6/((1 + a²)·J_i)); `slope` a = 0 for ReLU.
    HeUniform { slope: f64 },
    /// EXT-HE: N(0, 2/((1 + a²)·J_i)); `slope` a = 0 for ReLU.
    HeNormal { slope: f64 },
    /// EXT-LECUN: U[−√(3/J_i), √(3/J_i)], i.e. eq. (20) alone, Var = 1/J_i.
    LecunUniform,
    /// EXT-LECUN: N(0, 1/J_i).
    LecunNormal,
    /// EXT-XAV-STD-HEUR: U[−1/√J_i, 1/√J_i], Glorot and Bengio's baseline; Var = 1/(3J_i).
    HeuristicUniform,
    /// N(0, std²) whatever the shape: the naive initialisations of EXP-XAV-DEPTH.
    Normal { std: f64 },
}

impl Init {
    /// The initialiser the derivations recommend for a layer with this activation:
    /// Xavier-uniform for the odd activations with f'(0) = 1 (identity, tanh, softsign);
    /// Xavier-uniform with gain 4 for sigmoid (EXT-SIGMOID-INIT: a sigmoid layer is a tanh
    /// layer with weights/4); He-normal for ReLU and leaky ReLU (XAV-RELU, EXT-HE).
    pub fn recommended(activation: Activation) -> Init {
        match activation {
            Activation::Identity | Activation::Tanh | Activation::Softsign => {
                Init::XavierUniform { gain: 1.0 }
            }
            Activation::Sigmoid => Init::XavierUniform { gain: 4.0 },
            Activation::Relu => Init::HeNormal { slope: 0.0 },
            Activation::LeakyRelu(a) => Init::HeNormal {
                slope: f64::from(a.get()),
            },
        }
    }

    // ANCHOR: distribution
    /// The distribution this initialiser draws from for a matrix with these fans.
    ///
    /// # Errors
    /// [`Error::ParameterOutOfRange`] for a gain that is not finite and positive, a slope
    /// that is not finite, or a std that is not finite and positive.
    pub fn distribution(self, fans: Fans) -> Result<Distribution> {
        let (fi, fo) = (fans.fan_in as f64, fans.fan_out as f64);
        Ok(match self {
            Init::XavierUniform { gain } => Distribution::Uniform {
                bound: positive("gain", gain)? * 6f64.sqrt() / (fi + fo).sqrt(),
            },
            Init::XavierNormal { gain } => Distribution::Normal {
                std: positive("gain", gain)? * (2.0 / (fi + fo)).sqrt(),
            },
            Init::XavierTruncatedNormal { gain } => Distribution::TruncatedNormal {
                std: positive("gain", gain)? * (2.0 / (fi + fo)).sqrt() / TRUNCATED_STD_FACTOR,
            },
            Init::HeUniform { slope } => Distribution::Uniform {
                bound: (6.0 / ((1.0 + finite("slope", slope)?.powi(2)) * fi)).sqrt(),
            },
            Init::HeNormal { slope } => Distribution::Normal {
                std: (2.0 / ((1.0 + finite("slope", slope)?.powi(2)) * fi)).sqrt(),
            },
            Init::LecunUniform => Distribution::Uniform {
                bound: (3.0 / fi).sqrt(),
            },
            Init::LecunNormal => Distribution::Normal {
                std: (1.0 / fi).sqrt(),
            },
            Init::HeuristicUniform => Distribution::Uniform {
                bound: 1.0 / fi.sqrt(),
            },
            Init::Normal { std } => Distribution::Normal {
                std: positive("std", std)?,
            },
        })
    }
    // ANCHOR_END: distribution

    /// Var(W) for these fans: bound²/3 for the uniform ones, std² for the normal ones, the
    /// target variance for the truncated normal.
    pub fn variance(self, fans: Fans) -> Result<f64> {
        Ok(self.distribution(fans)?.variance())
    }

    /// Fills `w` (fan_in × fan_out, C2) from `rng`.
    ///
    /// # Errors
    /// A zero-sized `w`, or an invalid parameter (see [`Init::distribution`]).
    pub fn fill<R: RngCore + ?Sized>(self, w: &mut DMatrix<f32>, rng: &mut R) -> Result<()> {
        let d = self.distribution(Fans::of(w)?)?;
        d.fill(w.as_mut_slice(), rng)
    }

    /// A new fan_in × fan_out matrix drawn from this initialiser.
    pub fn matrix<R: RngCore + ?Sized>(
        self,
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) -> Result<DMatrix<f32>> {
        Fans::new(fan_in, fan_out)?;
        let mut w = DMatrix::zeros(fan_in, fan_out);
        self.fill(&mut w, rng)?;
        Ok(w)
    }

    /// A dense layer with weights from this initialiser and **zero** biases: the derivation
    /// drops b with Var(x + a) = Var(x), which needs b constant (XAV-ASSUME (b), VAR-SHIFT).
    pub fn dense<R: RngCore + ?Sized>(
        self,
        fan_in: usize,
        fan_out: usize,
        activation: Activation,
        rng: &mut R,
    ) -> Result<Dense> {
        Ok(Dense {
            weights: self.matrix(fan_in, fan_out, rng)?,
            bias: DVector::zeros(fan_out),
            activation,
        })
    }
}

impl Distribution {
    /// The largest |w| a draw can take: `bound` for the uniform, 2·std for the normal
    /// truncated at ±2σ, and `None` for the normal, which has no bound.
    ///
    /// ```
    /// use dnn_proofs::xavier::{Fans, Init};
    /// // Xavier-uniform for 784 → 256: a = √6/√(784 + 256).
    /// let d = Init::XavierUniform { gain: 1.0 }.distribution(Fans::new(784, 256)?)?;
    /// assert_eq!(d.bound(), Some(6f64.sqrt() / 1040f64.sqrt()));
    /// assert_eq!(Init::LecunNormal.distribution(Fans::new(784, 256)?)?.bound(), None);
    /// # Ok::<(), dnn_proofs::error::Error>(())
    /// ```
    pub fn bound(self) -> Option<f64> {
        match self {
            Distribution::Uniform { bound } => Some(bound),
            Distribution::Normal { .. } => None,
            Distribution::TruncatedNormal { std } => Some(f64::from(TRUNCATION) * std),
        }
    }

    /// The variance of one draw.
    pub fn variance(self) -> f64 {
        match self {
            Distribution::Uniform { bound } => bound * bound / 3.0,
            Distribution::Normal { std } => std * std,
            Distribution::TruncatedNormal { std } => {
                std * std * TRUNCATED_STD_FACTOR * TRUNCATED_STD_FACTOR
            }
        }
    }

    /// The excess kurtosis μ₄/σ⁴ − 3 of one draw: −6/5 for a uniform (μ₄ = a⁴/5, σ² = a²/3),
    /// 0 for a normal, m₄/m₂² − 3 for the normal cut at ±2σ (m₂ = 1 − 4φ(2)/Z,
    /// m₄ = 3 − 28φ(2)/Z, Z = 2Φ(2) − 1). It sets the O(1/J) correction to the Gaussian law of
    /// a pre-activation Σ_i W_i·O_i.
    pub fn excess_kurtosis(self) -> f64 {
        match self {
            Distribution::Uniform { .. } => -1.2,
            Distribution::Normal { .. } => 0.0,
            Distribution::TruncatedNormal { .. } => {
                let z = 2.0 * crate::stats::normal_cdf(2.0) - 1.0;
                let phi2 = (-2.0f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
                let m2 = 1.0 - 4.0 * phi2 / z;
                let m4 = 3.0 - 28.0 * phi2 / z;
                m4 / (m2 * m2) - 3.0
            }
        }
    }

    /// Fills `out` with i.i.d. draws (the scale rounded to f32 once).
    pub fn fill<R: RngCore + ?Sized>(self, out: &mut [f32], rng: &mut R) -> Result<()> {
        match self {
            Distribution::Uniform { bound } => kernel::fill_uniform(out, bound as f32, rng),
            Distribution::Normal { std } => kernel::fill_normal(out, std as f32, rng),
            Distribution::TruncatedNormal { std } => {
                kernel::fill_truncated_normal(out, std as f32, TRUNCATION, rng)
            }
        }
    }
}

fn finite(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::ParameterOutOfRange {
            name,
            value: v,
            range: "finite values",
        })
    }
}

fn positive(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Error::ParameterOutOfRange {
            name,
            value: v,
            range: "(0, ∞), finite",
        })
    }
}
