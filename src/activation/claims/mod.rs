//! The activation claims of the catalogue appendix (book/src/catalogue.md, "activation"):
//! ACT-*, the experiment EXP-ACT-NONLIN, the general INF-* claims, and ACT-KERNEL-ULP (the
//! accuracy of our f32 kernels).
//!
//! Each check takes the code under test as `Option<Bug>`: `None` is the literal f64
//! specification in `derivations` (and, where it says so, our f32 kernel); `Some(bug)` is a
//! planted wrong variant from the catalogue. Planted bugs live here, never in a kernel.

mod kernel_ulp;
mod nonlinearity;
mod piecewise;
mod smooth;

use rand::Rng;

use super::Activation;
use crate::claims::gradcheck::{self, band_ratio, central_difference};
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Tally,
    identity_error,
};
use crate::report::figure::{LinePlot, Series};
use derivations::activation as spec;

const ROOM: &str = "activation";

/// Every claim of this derivation, in catalogue order.
pub fn claims() -> Vec<Claim> {
    vec![
        nonlinearity::act_role(),
        smooth::act_sigmoid(),
        smooth::act_sigmoid_deriv(),
        smooth::act_tanh(),
        smooth::act_tanh_deriv(),
        smooth::act_tanh_sigmoid(),
        piecewise::act_relu(),
        piecewise::act_lrelu(),
        smooth::act_softsign(),
        kernel_ulp::act_kernel_ulp(),
        nonlinearity::exp_act_nonlin(),
        Claim::out_of_scope(
            "INF-DNN-PROS",
            ROOM,
            "§DNN与传统方法对比",
            "DNNs reduce feature engineering; depth, width and non-linearity create combined features",
            "informal: not a mathematical statement and data-set dependent; the aside that the \
             network \"selects features that overfit easily\" is unsupported (catalogue appendix, \
             INF-DNN-PROS)",
        ),
        Claim::out_of_scope(
            "INF-DNN-CONS",
            ROOM,
            "§DNN与传统方法对比",
            "DNNs are black boxes, need large samples and demand hardware",
            "informal: not a mathematical statement (catalogue appendix, INF-DNN-CONS)",
        ),
    ]
}

/// Random inputs: half in the bulk |x| ≤ 30 where the functions vary, half out to |x| ≤ 1e3
/// where overflow lives.
fn inputs(ctx: &Ctx, n: usize) -> Vec<f64> {
    let mut rng = ctx.rng();
    (0..n)
        .map(|i| {
            let r = if i % 2 == 0 { 30.0 } else { 1e3 };
            rng.random_range(-r..=r)
        })
        .collect()
}

/// Records the largest §4 identity error of `a(x)` against `b(x)` over `xs`.
fn identity(
    f: &mut Findings,
    what: impl Into<Label>,
    xs: &[f64],
    a: impl Fn(f64) -> f64,
    b: impl Fn(f64) -> f64,
    tol: f64,
) {
    let mut e = MaxError::default();
    for &x in xs {
        e.record(identity_error(a(x), b(x)), x);
    }
    f.max_error(
        what.into().append(&format!(" (worst at x = {:.6})", e.at)),
        &e,
        tol,
        "|a − b|/max(1,|a|,|b|): a few f64 roundings and libm calls (≤ 1 ulp each) on O(1) values (conventions appendix, Tolerances)");
}

/// Records the worst finite-difference band ratio of `df` against `f` over `xs`.
fn gradient(
    f: &mut Findings,
    what: impl Into<Label>,
    xs: &[f64],
    fun: impl Fn(f64) -> f64,
    df: impl Fn(f64) -> f64,
) {
    let mut e = MaxError::default();
    for &x in xs {
        e.record(band_ratio(df(x), central_difference(&fun, x)), x);
    }
    f.max_error(
        what.into().append(&format!(" (worst at x = {:.6})", e.at)),
        &e,
        1.0,
        gradcheck::WHY,
    );
}

/// Records that `ok(x)` holds for every x of `xs`.
fn property(
    f: &mut Findings,
    what: impl Into<Label>,
    xs: &[f64],
    ok: impl Fn(f64) -> bool,
    show: impl Fn(f64) -> String,
) {
    let mut t = Tally::default();
    for &x in xs {
        t.check(ok(x), || show(x));
    }
    f.tally(what, t);
}

/// Inputs for gradient checks: the bulk only (the FD step must not straddle a kink, and
/// far out every derivative here is below the 1e-9 absolute floor anyway).
fn bulk(ctx: &Ctx, n: usize, r: f64, away_from_zero: bool) -> Vec<f64> {
    let mut rng = ctx.rng();
    let mut xs = Vec::with_capacity(n);
    while xs.len() < n {
        let x: f64 = rng.random_range(-r..=r);
        // Conventions appendix, Gradient checks: reject draws within 1e-3 of a kink for
        // ReLU-like functions.
        if !away_from_zero || x.abs() >= 1e-3 {
            xs.push(x);
        }
    }
    xs
}

/// The f32 kernel the users call, or a planted replacement, checked against the f64
/// specification with the committed bounds of the contracts named `names` (accuracy.rs):
/// every `stride`-th f32 of the dense ranges, a coarse sweep of the domain, and the edges.
/// Each item's description starts with "f32 kernel", so a planted kernel can be required to
/// fail exactly this check (`Planted::by(KERNEL)`).
fn kernel_contracts(
    f: &mut Findings,
    names: &[&str],
    kernel: &(dyn Fn(&[f32], &mut [f32]) + Sync),
    stride: u32,
) {
    use super::accuracy::{check_kernel, contracts};
    for c in contracts().iter().filter(|c| names.contains(&c.name)) {
        let r = check_kernel(c, kernel, stride);
        record_contract(f, &format!("{KERNEL} {}", c.name), c, &r);
    }
}

/// The prefix of every kernel check's description (see [`kernel_contracts`]).
const KERNEL: &str = "f32 kernel";

/// Why a committed bound is what it is: a regression bound, not a derived one (accuracy.rs,
/// "The committed bounds are regression bounds").
const REGRESSION_WHY: &str = "the committed regression bound (accuracy.rs): the maximum \
     measured exhaustively (stride 1) on the AVX-512 and the SSE2 (x86-64 baseline) builds, \
     rounded up by 1–4%; it catches a kernel that gets worse, it is not derived from the \
     arithmetic (an AVX2 build without AVX-512 was not measured)";

/// Records one contract's report: its ulp and absolute bounds where it states them, and the
/// exact special cases.
fn record_contract(
    f: &mut Findings,
    name: &str,
    c: &super::accuracy::Contract,
    r: &super::accuracy::UlpReport,
) {
    let at = |x: f32| {
        if x.is_nan() {
            String::from("—")
        } else {
            format!("{x:e}")
        }
    };
    // A domain in the name, as in "tanh' (|x| ≤ 0.55)" or "sigmoid' (x ≤ 0)", typeset.
    let typeset = match name.rsplit_once(" (") {
        Some((base, domain)) if domain.contains('≤') => format!(
            "{} (${}$)",
            crate::report::book::escape(base),
            domain
                .trim_end_matches(')')
                .replace("|x|", r"\lvert x \rvert")
                .replace('≤', r"\le")
        ),
        _ => crate::report::book::escape(name),
    };
    let label =
        |what: &str| Label::from(format!("{name}: {what}")).markdown(format!("{typeset}: {what}"));
    if c.max_ulp.is_finite() {
        f.bound(
            label(&format!(
                "max ulp error (worst at x = {})",
                at(r.worst_input)
            )),
            r.max_ulp,
            c.max_ulp,
            r.cases,
            REGRESSION_WHY,
        );
    }
    if c.max_abs.is_finite() {
        f.bound(
            label(&format!(
                "max absolute error (worst at x = {})",
                at(r.worst_abs_input)
            )),
            r.max_abs,
            c.max_abs,
            r.cases,
            REGRESSION_WHY,
        );
    }
    f.tally(
        Label::from(format!("{name}: NaN, ±∞, ±0 and saturated values exact")).markdown(format!(
            r"{typeset}: NaN, $\pm\infty$, $\pm 0$ and saturated values exact"
        )),
        Tally {
            violations: r.special_mismatches,
            cases: r.cases,
            first: r.first_special_mismatch.map(|x| format!("x = {x:e}")),
        },
    );
}

/// The stride of the kernel checks in ACT-SIGMOID and ACT-TANH: every 4099th f32 of the
/// dense ranges at the CI budget (about 5e5 inputs), every 97th at the full budget (about
/// 2e7); ACT-KERNEL-ULP runs every f32 at the full budget. Both are primes, so no binade
/// pattern aliases.
fn kernel_stride(ctx: &Ctx) -> u32 {
    ctx.size(4099, 97) as u32
}

fn sigmoid_kernel(x: &[f32], y: &mut [f32]) {
    Activation::Sigmoid.forward(x, y).expect("same length");
}

fn tanh_kernel(x: &[f32], y: &mut [f32]) {
    Activation::Tanh.forward(x, y).expect("same length");
}

/// The functions (or their derivatives) as the f32 kernels compute them, on [−6, 6].
fn function_plot(derivative: bool) -> LinePlot {
    let xs: Vec<f32> = (-600..=600).map(|i| i as f32 * 0.01).collect();
    let series = Activation::all()
        .into_iter()
        .filter(|a| *a != Activation::Identity)
        .map(|a| {
            let mut ys = vec![0.0; xs.len()];
            let done = if derivative {
                a.derivative(&xs, &mut ys)
            } else {
                a.forward(&xs, &mut ys)
            };
            done.expect("equal lengths");
            Series {
                name: a.name().to_owned(),
                points: xs
                    .iter()
                    .zip(&ys)
                    .map(|(&x, &y)| (f64::from(x), f64::from(y)))
                    .collect(),
            }
        })
        .collect();
    let (stem, title, y) = if derivative {
        (
            "activation-derivatives",
            "Derivatives f'(x) from the f32 kernels",
            "f'(x)",
        )
    } else {
        (
            "activation-functions",
            "Activation functions f(x) from the f32 kernels",
            "f(x)",
        )
    };
    LinePlot {
        file_stem: stem.into(),
        title: title.into(),
        x_label: "x".into(),
        y_label: y.into(),
        series,
    }
}
