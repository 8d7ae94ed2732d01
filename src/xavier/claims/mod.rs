//! The claims of the catalogue appendix's xavier table (XAV-*, VAR-*), the experiments EXP-XAV-DEPTH and
//! EXP-XAV-DEEP, and the extensions EXT-HE, EXT-HE-TELESCOPE, EXT-LECUN, EXT-XAV-NORMAL,
//! EXT-XAV-STD-HEUR, EXT-SIGMOID-INIT and EXT-MEANFIELD-TANH.
//!
//! Each check takes the code under test as `Option<Bug>`: `None` is our code (the literal
//! specification in `derivations::xavier`, our initialisers and kernels, the backprop
//! network); `Some(bug)` is a planted wrong variant, written here as an alternative code
//! path. Statistical checks run at α = 1e-6 each ([`ALPHA`]) and state the power their
//! sample size gives against each planted bug's own predicted effect (conventions appendix,
//! Statistics): a planted bug rejected by a test must be missed with probability ≤ 2e-7 at
//! the CI budget, i.e. sit ≥ 10 SE from the claim (z_power(10, 1e-6) = 1 − 1.6e-7).

mod assumptions;
mod backward;
mod conditions;
mod depth;
mod experiments;
mod extensions;
mod initialisers;
mod predict;
mod uniform;
mod variance;

use nalgebra::{DMatrix, DVector};
use rand_chacha::ChaCha8Rng;

use super::kernel;
use crate::claims::{Claim, Ctx, Findings, Label, Power};
use crate::stats::{ALPHA, TestOutcome, chi_square_variance, z_power};

/// The derivation these claims belong to.
const ROOM: &str = "xavier";

/// Every claim of this derivation, in catalogue order.
pub fn claims() -> Vec<Claim> {
    vec![
        depth::xav_motive(),
        assumptions::xav_assume(),
        assumptions::xav_actcond(),
        assumptions::xav_relu(),
        assumptions::xav_sigmoid(),
        assumptions::xav_mean0(),
        depth::xav_lin_18(),
        variance::var_prod(),
        variance::var_shift(),
        variance::var_sum(),
        conditions::xav_19(),
        conditions::xav_fwd_rec(),
        conditions::xav_fwd_unroll(),
        conditions::xav_20(),
        backward::xav_21(),
        backward::xav_bwd_rec(),
        backward::xav_bwd_var(),
        backward::xav_22(),
        backward::xav_conflict(),
        backward::xav_hm(),
        uniform::xav_unif_var(),
        uniform::xav_23(),
        depth::xav_deep(),
        experiments::exp_xav_depth(),
        experiments::exp_xav_deep(),
        extensions::ext_he(),
        extensions::ext_he_telescope(),
        initialisers::ext_lecun(),
        initialisers::ext_xav_normal(),
        initialisers::ext_xav_std_heur(),
        extensions::ext_sigmoid_init(),
        extensions::ext_meanfield_tanh(),
    ]
}

/// The claim's generator on its own ChaCha stream `part`: the parts of one check draw
/// independent numbers, and the correct code and each planted bug see the same ones.
fn stream(ctx: &Ctx, part: u64) -> ChaCha8Rng {
    let mut rng = ctx.rng();
    rng.set_stream(part);
    rng
}

/// n i.i.d. N(0, 1) values (our kernel), in f64.
fn gaussian(rng: &mut ChaCha8Rng, n: usize) -> DVector<f64> {
    let mut v = vec![0.0f32; n];
    kernel::fill_normal(&mut v, 1.0, rng).expect("unit std is valid");
    DVector::from_iterator(n, v.into_iter().map(f64::from))
}

/// An f32 weight matrix in f64, for exact products in the checks.
fn to_f64(w: &DMatrix<f32>) -> DMatrix<f64> {
    w.map(f64::from)
}

/// The exact χ² test of a variance with known mean 0: for k i.i.d. N(0, σ²) values,
/// T = Σ x²/σ² ~ χ²_k. Passed to [`chi_square_variance`] as a sample of k + 1 with variance
/// T/k (its statistic (n − 1)·s²/σ² is then T on k degrees of freedom; the reported n is
/// k + 1).
fn chi_square_sum(t: f64, k: u64) -> TestOutcome {
    chi_square_variance(t / k as f64, k + 1, 1.0).expect("k ≥ 1 and σ² = 1 are valid")
}

/// The power of the two-sided z-test at α = [`ALPHA`] against a shift of `effect` standard
/// errors (the planted variant's own predicted effect at this sample size).
fn power(effect: f64, against: impl Into<String>) -> Power {
    let e = effect.abs();
    Power::new(z_power(e, ALPHA), format!("{}: {e:.1} SE", against.into()))
}

/// A planted variance ratio f (true/claimed) in standard errors of the χ²_k variance test:
/// T/k has SD √(2/k) under the claim and f·√(2/k) under the variant, so the variant sits
/// |f − 1|/(max(1, f)·√(2/k)) of the larger SD away (normal approximation of χ²_k; k ≥ 100
/// everywhere here).
fn chi_effect(k: u64, ratio: f64) -> f64 {
    (ratio - 1.0).abs() / (ratio.max(1.0) * (2.0 / k as f64).sqrt())
}

/// The power of the χ²_k variance test against a planted variance ratio.
fn chi_power(k: u64, ratio: f64, against: &str) -> Power {
    power(
        chi_effect(k, ratio),
        format!("{against} (variance ×{ratio:.4}, χ² on {k} degrees of freedom)"),
    )
}

/// The power of the DKW test at α = [`ALPHA`] with `n` draws against a law whose CDF lies
/// `gap` (sup distance) from the claimed one: the test rejects when D_n exceeds the radius
/// r = √(ln(2/α)/(2n)), which happens whenever the sample's ECDF is within gap − r of its own
/// law, so P(reject) ≥ 1 − 2·exp(−2n(gap − r)²) (DKW–Massart); no power claimed if gap ≤ r.
fn dkw_power(n: u64, gap: f64, against: &str) -> Power {
    let r = crate::stats::dkw_radius(n, ALPHA);
    let miss = if gap > r {
        (2.0 * (-2.0 * n as f64 * (gap - r).powi(2)).exp()).min(1.0)
    } else {
        1.0
    };
    Power::new(
        1.0 - miss,
        format!(
            "{against}: sup|F − F_claimed| = {gap:.4} against radius {r:.4} at N = {n}, miss ≤ {miss:.1e}"
        ),
    )
}

/// The power an item states: against `bug`'s own effect when a planted variant runs; on our
/// code, against the weakest of the planted variants the item is meant to reject (none:
/// [`Power::none`]).
fn stated<B: Copy>(bug: Option<B>, variants: &[B], power_of: impl Fn(B) -> Power) -> Power {
    match bug {
        Some(b) => power_of(b),
        None => variants
            .iter()
            .map(|&b| power_of(b))
            .min_by(|a, b| a.probability.total_cmp(&b.probability))
            .unwrap_or_else(Power::none),
    }
}

/// Records `value ≥ min` (an exact or asserted lower bound) as `min − value ≤ 0`; the book
/// shows the label's own Markdown form (or its escaped text), then the value and the bound.
fn at_least(f: &mut Findings, what: impl Into<Label>, value: f64, min: f64, why: &str) {
    use crate::report::book::{escape, num};
    let what = what.into();
    let typeset = what.markdown.unwrap_or_else(|| escape(&what.plain));
    f.bound(
        Label::from(format!("{} = {value:.4e} ≥ {min:.3e}", what.plain)).markdown(format!(
            r"{typeset} $= {} \ge {}$",
            num(value, 4),
            num(min, 3)
        )),
        min - value,
        0.0,
        1,
        why,
    );
}
