//! The dropout claims of the catalogue appendix (book/src/catalogue.md, "dropout"): DROP-*,
//! the regularisers REG-*, the experiments EXP-DROP-OVERFIT and EXP-DROP-WSI, and the
//! extensions EXT-DROP-VAR, EXT-DROP-INV-LR, EXT-DROP-RIDGE and EXT-DROP-NWGM.
//!
//! Each check takes the code under test as `Option<Bug>`: `None` is the literal f64
//! specification in `derivations::dropout` and, where it says so, our f32 kernels; `Some(bug)`
//! is a planted wrong variant from the catalogue. Planted bugs live here, never in a kernel.
//! Every test uses p ≠ 0.5, where the keep and drop readings of p differ (DROP-P).

mod experiment;
mod extensions;
mod masks;
mod regularisers;
mod scaling;
mod share;
mod structures;

use crate::claims::{Claim, PostVerdict, Power};
use crate::dropout::{Dropout, KeepProb, Scaling};
use crate::stats::TestOutcome;

const ROOM: &str = "dropout";

/// Every claim of this derivation, in catalogue order.
pub fn claims() -> Vec<Claim> {
    vec![
        masks::drop_p(),
        masks::drop_mask(),
        share::drop_share(),
        scaling::drop_scale(),
        scaling::drop_expect(),
        scaling::drop_inverted(),
        structures::drop_entropy(),
        structures::drop_nstruct(),
        Claim::out_of_scope(
            "DROP-WHY05",
            ROOM,
            "§基本思想",
            "\"this is probably why the paper uses 0.5\"",
            "informal and unsupported: Srivastava et al. justify 0.5 empirically (\"close to \
             optimal for a wide range of networks and tasks\") and recommend about 0.8 for \
             inputs; dropout's ridge strength (1−p)/p is monotone in p, not extremal at 0.5 \
             (EXT-DROP-RIDGE) (catalogue appendix, DROP-WHY05)",
        ),
        Claim::out_of_scope(
            "DROP-ENSEMBLE",
            ROOM,
            "§多模型集成, §权值共享",
            "dropout has the idea of Bagging (an ensemble of structures) and of Boosting",
            "informal: the bagging analogy is the standard one (bagging with parameter sharing, \
             Goodfellow et al. §7.12); the boosting analogy is unfounded, since boosting fits \
             models sequentially on re-weighted data; EXP-DROP-WSI quantifies the ensemble \
             view (catalogue appendix, DROP-ENSEMBLE)",
        ),
        Claim::follows(
            "DROP-OVERFIT",
            ROOM,
            "§Dropout",
            "dropout is \"a way to control overfitting\": informal, decided in the setting of \
             the experiment EXP-DROP-OVERFIT (test log-loss with and without dropout over \
             independent replicates), whose outcome it takes",
            PostVerdict::Informal,
            "EXP-DROP-OVERFIT",
        ),
        regularisers::reg_l0(),
        regularisers::reg_l1(),
        regularisers::reg_l2(),
        regularisers::reg_maxnorm(),
        experiment::exp_drop_overfit(),
        experiment::exp_drop_wsi(),
        extensions::ext_drop_var(),
        extensions::ext_drop_inv_lr(),
        extensions::ext_drop_ridge(),
        extensions::ext_drop_nwgm(),
    ]
}

/// A valid keep probability (the constants used here all are).
fn keep(p: f32) -> KeepProb {
    KeepProb::new(p).expect("a keep probability in (0, 1]")
}

/// Dropout with keep probability `p`.
fn dropout(p: f32, scaling: Scaling) -> Dropout {
    Dropout::new(keep(p), scaling)
}

/// One test for a family of `k` tests, each with its own p-value: Bonferroni's bound on the
/// family, p = min(1, k·min p), reported with the statistic of the most extreme member.
/// The family is rejected at level α exactly when some member is rejected at α/k.
fn bonferroni(outcomes: &[TestOutcome], test: &'static str) -> TestOutcome {
    let worst = outcomes
        .iter()
        .min_by(|a, b| a.p_value.total_cmp(&b.p_value))
        .expect("a non-empty family");
    TestOutcome {
        test,
        statistic: worst.statistic,
        n: outcomes.iter().map(|o| o.n).sum(),
        p_value: (worst.p_value * outcomes.len() as f64).min(1.0),
    }
}

/// The worst relative gap |a − b|/max(1, |a|, |b|) over pairs, for identities.
fn worst_gap(pairs: impl IntoIterator<Item = (f64, f64)>) -> (f64, u64) {
    let mut worst = 0.0f64;
    let mut n = 0;
    for (a, b) in pairs {
        let e = crate::claims::identity_error(a, b);
        worst = if e.is_nan() { f64::NAN } else { worst.max(e) };
        n += 1;
    }
    (worst, n)
}

/// Why enumeration identities are held to 1e-10 rather than the identity tolerance 1e-12: a
/// sum of up to 2^12 = 4096 terms carries a recursive-summation error of up to
/// 4096·u·Σ|terms| ≈ 4.5e-13 times the largest term, and the terms here reach about 10 (the
/// conventions appendix, Tolerances, allows 1e-10 for long sums).
const LONG_SUM_WHY: &str = "exact enumeration over ≤ 2^12 masks: recursive summation of 4096 \
     terms errs by ≤ 4096·u·Σ|terms| ≈ 4.5e-13 × the largest term (≤ 10 here), so the 1e-10 \
     the conventions appendix (Tolerances) allows for long sums; relative to max(1, |a|, |b|)";

/// The power of a two-sided level-α z-test (α = [`crate::stats::ALPHA`]) against a planted
/// shift of `effect` standard errors at the sample size used, with the effect in words.
fn z_power(effect: f64, against: impl std::fmt::Display) -> Power {
    let power = crate::stats::z_power(effect, crate::stats::ALPHA);
    Power::new(
        power,
        format!(
            "{against}: {effect:.1} standard errors, miss probability {:.1e}",
            1.0 - power
        ),
    )
}

/// Uniform on [lo, hi) from a rand generator (a shorthand).
fn uniform(rng: &mut impl rand::Rng, lo: f64, hi: f64) -> f64 {
    rng.random_range(lo..hi)
}
