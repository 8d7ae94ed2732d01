//! Seeds: one per claim, derived from its ID and the run's base seed.

/// The environment variable that overrides the base seed (as `--seed` does).
pub const SEED_ENV: &str = "DNN_PROOFS_SEED";

/// The base seed: `DNN_PROOFS_SEED` if set, else 0 (each claim then runs on the seed derived
/// from its ID alone).
///
/// # Errors
/// [`crate::Error::InvalidEnv`] naming the variable and its value when it is not an
/// unsigned 64-bit integer.
pub fn base_seed_from_env() -> crate::Result<u64> {
    match std::env::var(SEED_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(0),
        Err(std::env::VarError::NotUnicode(v)) => Err(invalid(v.to_string_lossy().into_owned())),
        Ok(s) => s.trim().parse().map_err(|_| invalid(s)),
    }
}

fn invalid(value: String) -> crate::Error {
    crate::Error::InvalidEnv {
        name: SEED_ENV,
        value,
        expected: "an unsigned 64-bit integer (0 to 18446744073709551615)",
    }
}

/// The seed a claim's run uses: FNV-1a of the claim ID, mixed with the base seed through
/// SplitMix64 so nearby base seeds give unrelated streams. Stable across platforms and
/// releases, so a printed seed reproduces the run anywhere.
pub fn claim_seed(id: &str, base_seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ base_seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
