//! The batch-normalisation claims of the catalogue appendix (`book/src/catalogue.md`, section
//! batch_norm): BN-*, the experiments EXP-BN-INIT, EXP-BN-LR and EXP-BN-GEN, and the
//! extensions EXT-BN-BWD, EXT-BN-SCALE, EXT-BN-FOLD and EXT-BN-EMA.
//!
//! Each check takes the code under test as `Option<Bug>`: `None` is the literal f64
//! specification in `derivations::batch_norm` and, where the check says so, our f32 kernels;
//! `Some(bug)` is a planted wrong variant from the catalogue. Planted bugs live here, never
//! in a kernel.
//!
//! - `training`: BN-TRAIN-STATS, BN-TRAIN-NORM.
//! - `affine`: BN-GAUSS, BN-AFFINE, BN-IDENTITY.
//! - `inference`: BN-INF-MEAN, BN-INF-TRANSFORM; `bessel`: BN-INF-VAR.
//! - `running`: EXT-BN-EMA, EXT-BN-FOLD.
//! - `gradient`: EXT-BN-BWD; `invariance`: EXT-BN-SCALE, BN-ROLE-INIT.
//! - `experiment`: BN-CTX, EXP-BN-INIT, EXP-BN-LR and BN-ROLE-LR, on the network of `mlp`.
//! - `sample`: the random inputs.

mod affine;
mod bessel;
mod experiment;
mod gradient;
mod inference;
mod invariance;
mod mlp;
mod running;
mod sample;
mod training;

use crate::claims::Claim;
use crate::stats::{ALPHA, normal_cdf, z_critical};

/// The power of a two-sided level-α z-test (α = 1e-6) whose statistic, in the null's units, is
/// N(0, se_null²) under the null and N(shift, se_alt²) under a planted variant:
/// P(|X| > z_{α/2}·se_null) = Φ((shift − z·se_null)/se_alt) + Φ((−shift − z·se_null)/se_alt).
/// With se_alt = se_null this is `stats::z_power(shift/se_null, α)`; a variant that also
/// changes the statistic's spread (a noisier estimator) needs its own se_alt.
/// Why a central-difference check accepts what it does (conventions appendix, Gradient
/// checks).
pub(super) const FD_WHY: &str = "central differences in f64, h = 1e-6·max(1,|θ|): truncation \
     ~h² and rounding ~ε/h ≈ 2e-10; accepted within 1e-6·max(|g|,|ĝ|) + 1e-9 (conventions \
     appendix, Gradient checks); observed is the worst |g − ĝ| as a fraction of that band";

/// [`FD_WHY`] for a differenced function f of any size: the absolute term scales with |f|.
pub(super) const FD_WHY_SCALED: &str = "central differences in f64, h = 1e-6·max(1,|θ|): \
     truncation ~h² and rounding ~ε·|f|/h ≈ 2e-10·|f|; accepted within 1e-6·max(|g|,|ĝ|) + \
     1e-9·max(1,|f|) (conventions appendix, Gradient checks: the absolute term grows with the \
     differenced function); observed is the worst |g − ĝ| as a fraction of that band";

pub(super) fn power_against(shift: f64, se_null: f64, se_alt: f64) -> f64 {
    let z = z_critical(ALPHA);
    let d = shift.abs();
    normal_cdf((d - z * se_null) / se_alt) + normal_cdf((-d - z * se_null) / se_alt)
}

/// The derivation (room) every claim here belongs to.
const ROOM: &str = "batch_norm";

/// Every claim of this derivation, in catalogue order.
pub fn claims() -> Vec<Claim> {
    vec![
        experiment::bn_ctx(),
        affine::bn_gauss(),
        training::bn_train_stats(),
        training::bn_train_norm(),
        affine::bn_affine(),
        affine::bn_identity(),
        inference::bn_inf_mean(),
        bessel::bn_inf_var(),
        inference::bn_inf_transform(),
        invariance::bn_role_init(),
        experiment::bn_role_lr(),
        Claim::out_of_scope(
            "BN-ROLE-GEN",
            ROOM,
            "§BN的作用 3",
            "BN improves generalisation and reduces the need for dropout",
            "informal: Ioffe & Szegedy remove dropout from BN-Inception on empirical grounds; \
             its check is EXP-BN-GEN, out of scope (catalogue appendix)",
        ),
        experiment::exp_bn_init(),
        experiment::exp_bn_lr(),
        Claim::out_of_scope(
            "EXP-BN-GEN",
            ROOM,
            "experiment → BN-ROLE-GEN",
            "generalisation with and without BN",
            "out of scope: on toy problems the generalisation effect of BN is small against the \
             variance across seeds, and a meaningful test needs a real data set and many seeds, \
             which the project cannot download (catalogue appendix)",
        ),
        gradient::ext_bn_bwd(),
        invariance::ext_bn_scale(),
        running::ext_bn_fold(),
        running::ext_bn_ema(),
    ]
}
