//! The claims of CLAIMS.md §8 (XAV-*, VAR-*), the experiments EXP-XAV-DEPTH and
//! EXP-XAV-DEEP, and the extensions EXT-HE, EXT-HE-TELESCOPE, EXT-LECUN, EXT-XAV-NORMAL,
//! EXT-XAV-STD-HEUR, EXT-SIGMOID-INIT and EXT-MEANFIELD-TANH.
//!
//! Each check takes the code under test as `Option<Bug>`: `None` is our code (the literal
//! specification in `derivations::xavier`, our initialisers and kernels, the backprop
//! network); `Some(bug)` is a planted wrong variant, written here as an alternative code
//! path. Statistical checks run at α = 1e-6 each ([`ALPHA`]) and state the power their
//! sample size gives against the planted bugs.

mod assumptions;
mod backward;
mod conditions;
mod depth;
mod experiments;
mod extensions;
mod initialisers;
mod uniform;
mod variance;

use nalgebra::{DMatrix, DVector};
use rand_chacha::ChaCha8Rng;

use super::kernel;
use crate::claims::{Claim, Ctx, Findings};
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

/// The power of a χ²_k variance test against planted variance ratios f (true/claimed).
/// T/k has SD √(2/k) under the claim and f·√(2/k) under a mutant, so a mutant sits
/// |f − 1|/(max(1, f)·√(2/k)) of the larger SD from the claim; the two-sided z power of that
/// shift (normal approximation of χ²_k, k ≥ 100 here) is what we state.
fn chi_power(k: u64, ratios: &[f64]) -> String {
    let sd = (2.0 / k as f64).sqrt();
    let effects = ratios.iter().map(|&f| (f - 1.0).abs() / (f.max(1.0) * sd));
    power_note(&format!("χ² on {k} degrees of freedom"), effects)
}

/// "n gives effect ≥ e SE, power ≥ p against every planted bug", from effects in SE units.
fn power_note(size: &str, effects: impl Iterator<Item = f64>) -> String {
    let weakest = effects.fold(f64::INFINITY, f64::min);
    format!(
        "{size}: the weakest planted effect is {weakest:.1} SE, power {:.6} at α = {ALPHA:.0e} \
         (≥ 0.999 needs ≥ 7.98 SE)",
        z_power(weakest, ALPHA)
    )
}

/// Records `value ≥ min` (an exact or asserted lower bound) as `min − value ≤ 0`.
fn at_least(f: &mut Findings, what: &str, value: f64, min: f64, why: &str) {
    f.bound(
        format!("{what} = {value:.4e} ≥ {min:.3e}"),
        min - value,
        0.0,
        1,
        why,
    );
}

/// Records an experiment's `|value/target − 1| < rel`.
fn within_rel(f: &mut Findings, what: &str, value: f64, target: f64, rel: f64, detail: &str) {
    f.experiment(
        format!("{what}: {value:.4e} vs {target:.4e}, relative gap (< {rel})"),
        (value / target - 1.0).abs(),
        rel,
        detail,
    );
}

/// Records an experiment's `value` within a factor `factor` of `target` (|log ratio|).
fn within_factor(f: &mut Findings, what: &str, value: f64, target: f64, factor: f64, detail: &str) {
    f.experiment(
        format!("{what}: {value:.4e} vs {target:.4e}, |ln ratio| (< ln {factor})"),
        (value / target).ln().abs(),
        factor.ln(),
        detail,
    );
}
