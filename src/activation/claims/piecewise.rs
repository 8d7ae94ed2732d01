//! The piecewise-linear activations: ReLU and leaky ReLU, their kink and their slopes
//! (ACT-RELU, ACT-LRELU).

use super::*;

// ---------------------------------------------------------------- ACT-RELU
// ANCHOR: act_relu

#[derive(Clone, Copy)]
enum ReluBug {
    Min,
    KinkOne,
    MaxNum,
}

pub(super) fn act_relu() -> Claim {
    Claim::checked(
        "ACT-RELU",
        ROOM,
        "§Relu",
        "f(x) = max(0, x); f'(x) = 1 for x > 0, 0 for x < 0; documented f'(0) := 0; NaN propagates \
         (spec and f32 kernel)",
        PostVerdict::Correct,
        &[
            (ReluBug::Min, Planted::bug("min(0, x) instead of max")),
            (
                ReluBug::KinkOne,
                Planted::bug("f'(0) = 1 against the documented 0"),
            ),
            (
                ReluBug::MaxNum,
                Planted::bug("f64::max(0, x) (maxNum): max(0, NaN) = 0 hides a NaN"),
            ),
        ],
        |bug, ctx| {
            let fun = |x: f64| match bug {
                None | Some(ReluBug::KinkOne) => spec::relu(x),
                Some(ReluBug::Min) => x.min(0.0),
                Some(ReluBug::MaxNum) => x.max(0.0),
            };
            let df = |x: f64| match bug {
                Some(ReluBug::KinkOne) if x == 0.0 => 1.0,
                _ => spec::relu_derivative(x),
            };
            let kernel = |x: f64| f64::from(Activation::Relu.apply(x as f32));
            let kernel_df = |x: f64| f64::from(Activation::Relu.apply_derivative(x as f32));
            piecewise_checks(ctx, 0.0, fun, df, kernel, kernel_df)
        },
    )
    .typeset(r"$f(x) = \max(0, x)$; $f'(x) = 1$ for $x > 0$, $0$ for $x < 0$; documented $f'(0) := 0$; NaN propagates (spec and f32 kernel)")
}

/// The checks ACT-RELU and ACT-LRELU share: exact piecewise values, the kink convention,
/// finite differences away from 0 and NaN propagation, on the spec and on the f32 kernel.
fn piecewise_checks(
    ctx: &Ctx,
    alpha: f64,
    fun: impl Fn(f64) -> f64,
    df: impl Fn(f64) -> f64,
    kernel: impl Fn(f64) -> f64,
    kernel_df: impl Fn(f64) -> f64,
) -> Findings {
    let want = |x: f64| if x >= 0.0 { x } else { alpha * x };
    let want_df = |x: f64| if x > 0.0 { 1.0 } else { alpha };
    let mut f = Findings::default();
    // Inputs exactly representable in f32, so the kernel sees the same x.
    let xs: Vec<f64> = inputs(ctx, ctx.size(20_000, 1_000_000))
        .into_iter()
        .map(|x| f64::from(x as f32))
        .collect();
    property(
        &mut f,
        Label::from("f(x) = x for x ≥ 0, αx for x < 0")
            .markdown(r"$f(x) = x$ for $x \ge 0$, $\alpha x$ for $x < 0$"),
        &xs,
        |x| fun(x) == want(x),
        |x| format!("f({x}) = {}", fun(x)),
    );
    property(
        &mut f,
        Label::from("f'(x) = 1 for x > 0, α for x < 0")
            .markdown(r"$f'(x) = 1$ for $x > 0$, $\alpha$ for $x < 0$"),
        &xs,
        |x| df(x) == want_df(x),
        |x| format!("f'({x}) = {}", df(x)),
    );
    let kinks = [0.0, -0.0];
    property(
        &mut f,
        Label::from("documented kink convention f'(0) := α (ReLU: 0)")
            .markdown(r"documented kink convention $f'(0) := \alpha$ (ReLU: $0$)"),
        &kinks,
        |x| df(x) == alpha,
        |x| format!("f'({x}) = {}", df(x)),
    );
    gradient(
        &mut f,
        Label::from("f' against finite differences, |x| ≥ 1e-3")
            .markdown(r"$f'$ against finite differences, $\lvert x \rvert \ge 10^{-3}$"),
        &bulk(ctx, ctx.size(5_000, 100_000), 30.0, true),
        &fun,
        &df,
    );
    property(
        &mut f,
        Label::from("NaN propagates through f and f'")
            .markdown(r"NaN propagates through $f$ and $f'$"),
        &[f64::NAN],
        |x| fun(x).is_nan() && df(x).is_nan(),
        |x| format!("f(NaN) = {}, f'(NaN) = {}", fun(x), df(x)),
    );
    // The f32 kernel: the same values exactly (αx rounds once in f32; compare to that).
    let want32 = |x: f64| {
        f64::from(if x >= 0.0 {
            x as f32
        } else {
            alpha as f32 * x as f32
        })
    };
    property(
        &mut f,
        Label::from("f32 kernel: f(x) exact (αx rounded once to f32)")
            .markdown(r"f32 kernel: $f(x)$ exact ($\alpha x$ rounded once to f32)"),
        &xs,
        |x| kernel(x) == want32(x),
        |x| format!("kernel f({x}) = {}", kernel(x)),
    );
    property(
        &mut f,
        Label::from("f32 kernel: f'(x), the kink convention and NaN")
            .markdown(r"f32 kernel: $f'(x)$, the kink convention and NaN"),
        &[&xs[..], &kinks[..]].concat(),
        |x| kernel_df(x) == f64::from(want_df(x) as f32),
        |x| format!("kernel f'({x}) = {}", kernel_df(x)),
    );
    property(
        &mut f,
        "f32 kernel: NaN propagates",
        &[f64::NAN],
        |x| kernel(x).is_nan() && kernel_df(x).is_nan(),
        |x| format!("kernel f(NaN) = {}", kernel(x)),
    );
    f
}

// ANCHOR_END: act_relu
// ---------------------------------------------------------------- ACT-LRELU
// ANCHOR: act_lrelu

#[derive(Clone, Copy)]
enum LeakyBug {
    AlphaOnPositive,
    MinForm,
    AlphaZero,
}

/// α = 0.1, not 0.01, so that an α silently set to 0 differs by more than rounding.
const ALPHA: f64 = 0.1;

pub(super) fn act_lrelu() -> Claim {
    Claim::checked(
        "ACT-LRELU",
        ROOM,
        "§Leaky ReLU",
        "f(x) = x for x ≥ 0, αx for x < 0 (= max(x, αx) for 0 ≤ α < 1); f' = 1 for x > 0, α for \
         x < 0; f'(0) := α; tested at α = 0.1 on the spec and the f32 kernel",
        PostVerdict::Correct,
        &[
            (
                LeakyBug::AlphaOnPositive,
                Planted::bug("α applied on the positive branch"),
            ),
            (LeakyBug::MinForm, Planted::bug("min(x, αx)")),
            (
                LeakyBug::AlphaZero,
                Planted::bug("α silently 0 (degenerates to ReLU)"),
            ),
        ],
        |bug, ctx| {
            let a = if matches!(bug, Some(LeakyBug::AlphaZero)) {
                0.0
            } else {
                ALPHA
            };
            let fun = |x: f64| match bug {
                Some(LeakyBug::AlphaOnPositive) => {
                    if x >= 0.0 {
                        a * x
                    } else {
                        x
                    }
                }
                Some(LeakyBug::MinForm) => x.min(a * x),
                _ => spec::leaky_relu(x, a),
            };
            let df = |x: f64| match bug {
                Some(LeakyBug::AlphaOnPositive) => {
                    if x > 0.0 {
                        a
                    } else {
                        1.0
                    }
                }
                Some(LeakyBug::MinForm) => {
                    if x > 0.0 {
                        a
                    } else {
                        1.0
                    }
                }
                _ => spec::leaky_relu_derivative(x, a),
            };
            let leaky = Activation::leaky_relu(ALPHA as f32).expect("0.1 is in [0, 1)");
            let kernel = |x: f64| f64::from(leaky.apply(x as f32));
            let kernel_df = |x: f64| f64::from(leaky.apply_derivative(x as f32));
            let mut f = piecewise_checks(ctx, ALPHA, fun, df, kernel, kernel_df);
            let xs = inputs(ctx, ctx.size(20_000, 1_000_000));
            identity(
                &mut f,
                Label::from("f(x) = max(x, αx) for α = 0.1").markdown(r"$f(x) = \max(x, \alpha x)$ for $\alpha = 0.1$"),
                &xs,
                fun,
                |x| x.max(ALPHA * x),
                0.0,
            );
            f
        },
    )
    .typeset(r"$f(x) = x$ for $x \ge 0$, $\alpha x$ for $x < 0$ ($= \max(x, \alpha x)$ for $0 \le \alpha < 1$); $f' = 1$ for $x > 0$, $\alpha$ for $x < 0$; $f'(0) := \alpha$; tested at $\alpha = 0.1$ on the spec and the f32 kernel")
}

// ANCHOR_END: act_lrelu
