//! The smooth activations: sigmoid, tanh, their derivatives, tanh as a rescaled sigmoid,
//! and softsign (ACT-SIGMOID … ACT-TANH-SIGMOID, ACT-SOFTSIGN).

use super::*;

// ---------------------------------------------------------------- ACT-SIGMOID
// ANCHOR: act_sigmoid

#[derive(Clone, Copy)]
enum SigmoidBug {
    SignSlip,
    KernelSignSlip,
    KernelEarlyFlush,
}

/// The planted fast kernel with the wrong sign in the exponent: the production lanes run on
/// −x, i.e. 1/(1 + e^{x}).
fn sigmoid_kernel_sign_slip(x: &[f32], y: &mut [f32]) {
    let minus: Vec<f32> = x.iter().map(|v| -v).collect();
    sigmoid_kernel(&minus, y);
}

/// The planted fast kernel that flushes to 0 below x = −80 instead of −88, where σ is still
/// a normal f32 (σ(−80) ≈ 1.8e-35 > 2^-126): a plausible off-by-a-few threshold.
fn sigmoid_kernel_early_flush(x: &[f32], y: &mut [f32]) {
    sigmoid_kernel(x, y);
    for (o, &v) in y.iter_mut().zip(x) {
        if v < -80.0 {
            *o = 0.0;
        }
    }
}

pub(super) fn act_sigmoid() -> Claim {
    Claim::checked(
        "ACT-SIGMOID",
        ROOM,
        "§Sigmoid",
        "σ(x) = 1/(1+e^{−x}): σ(−x) = 1 − σ(x), σ(0) = 1/2, 0 ≤ σ ≤ 1 and finite, increasing, \
         equal to the two-branch stable form; the f32 kernel users call stays within its \
         committed bound of the f64 σ (2.5 ulp where σ is a normal f32, 2^-126 absolute \
         below) and is exact at ±0, ±∞ and NaN",
        PostVerdict::Correct,
        &[
            (
                SigmoidBug::SignSlip,
                Planted::bug("1/(1+e^{x}) (sign slip)"),
            ),
            (
                SigmoidBug::KernelSignSlip,
                Planted::bug("f32 kernel with the wrong sign in the exponent, 1/(1+e^{x})")
                    .by(KERNEL),
            ),
            (
                SigmoidBug::KernelEarlyFlush,
                Planted::bug("f32 kernel flushing to 0 below −80 instead of −88").by(KERNEL),
            ),
        ],
        |bug, ctx| {
            let s = |x: f64| match bug {
                Some(SigmoidBug::SignSlip) => 1.0 / (1.0 + x.exp()),
                _ => spec::sigmoid(x),
            };
            let xs = inputs(ctx, ctx.size(20_000, 1_000_000));
            let mut f = Findings::default();
            identity(
                &mut f,
                Label::from("σ(−x) = 1 − σ(x)").markdown(r"$\sigma(-x) = 1 - \sigma(x)$"),
                &xs,
                |x| s(-x),
                |x| 1.0 - s(x),
                IDENTITY_TOL,
            );
            f.bound(
                Label::from("|σ(0) − 1/2|").markdown(r"$\lvert \sigma(0) - 1/2 \rvert$"),
                (s(0.0) - 0.5).abs(),
                0.0,
                1,
                "exact in binary floating point",
            );
            property(
                &mut f,
                Label::from("0 ≤ σ(x) ≤ 1, finite").markdown(r"$0 \le \sigma(x) \le 1$, finite"),
                &xs,
                |x| (0.0..=1.0).contains(&s(x)),
                |x| format!("σ({x}) = {}", s(x)),
            );
            property(
                &mut f,
                Label::from("σ(x) > 1/2 for x > 0 (increasing through 1/2)")
                    .markdown(r"$\sigma(x) > 1/2$ for $x > 0$ (increasing through $1/2$)"),
                &xs,
                |x| x <= 0.0 || s(x) > 0.5,
                |x| format!("σ({x}) = {}", s(x)),
            );
            identity(
                &mut f,
                Label::from("σ equals the two-branch stable form")
                    .markdown(r"$\sigma$ equals the two-branch stable form"),
                &xs,
                s,
                spec::sigmoid_stable,
                IDENTITY_TOL,
            );
            let kernel: &(dyn Fn(&[f32], &mut [f32]) + Sync) = match bug {
                Some(SigmoidBug::KernelSignSlip) => &sigmoid_kernel_sign_slip,
                Some(SigmoidBug::KernelEarlyFlush) => &sigmoid_kernel_early_flush,
                _ => &sigmoid_kernel,
            };
            kernel_contracts(
                &mut f,
                &["sigmoid", "sigmoid (subnormal outputs)"],
                kernel,
                kernel_stride(ctx),
            );
            if bug.is_none() {
                f.figures.push(function_plot(false));
            }
            f
        },
    )
    .typeset(r"$\sigma(x) = 1/(1+e^{-x})$: $\sigma(-x) = 1 - \sigma(x)$, $\sigma(0) = 1/2$, $0 \le \sigma \le 1$ and finite, increasing, equal to the two-branch stable form; the f32 kernel users call stays within its committed bound of the f64 $\sigma$ (2.5 ulp where $\sigma$ is a normal f32, $2^{-126}$ absolute below) and is exact at $\pm 0$, $\pm\infty$ and NaN")
}

// ANCHOR_END: act_sigmoid
// ---------------------------------------------------------------- ACT-SIGMOID-DERIV
// ANCHOR: act_sigmoid_deriv

#[derive(Clone, Copy)]
enum SigmoidDerivBug {
    AtOutput,
    NaiveQuotient,
}

pub(super) fn act_sigmoid_deriv() -> Claim {
    Claim::checked(
        "ACT-SIGMOID-DERIV",
        ROOM,
        "used by eqs (3)–(16)",
        "σ'(x) = σ(x)(1 − σ(x)); its maximum is σ'(0) = 1/4; finite for all x",
        PostVerdict::Implied,
        &[
            (
                SigmoidDerivBug::AtOutput,
                Planted::bug("σ(O)(1−σ(O)) evaluated at the output O = σ(IN)"),
            ),
            (
                SigmoidDerivBug::NaiveQuotient,
                Planted::bug("e^{−x}/(1+e^{−x})² (NaN at x = −1000)"),
            ),
        ],
        |bug, ctx| {
            let d = |x: f64| match bug {
                None => spec::sigmoid_derivative(x),
                Some(SigmoidDerivBug::AtOutput) => spec::sigmoid_derivative(spec::sigmoid(x)),
                Some(SigmoidDerivBug::NaiveQuotient) => {
                    let e = (-x).exp();
                    e / ((1.0 + e) * (1.0 + e))
                }
            };
            let mut f = Findings::default();
            gradient(
                &mut f,
                Label::from("σ' against finite differences of σ")
                    .markdown(r"$\sigma'$ against finite differences of $\sigma$"),
                &bulk(ctx, ctx.size(20_000, 500_000), 20.0, false),
                spec::sigmoid,
                d,
            );
            f.bound(
                Label::from("|σ'(0) − 1/4|").markdown(r"$\lvert \sigma'(0) - 1/4 \rvert$"),
                (d(0.0) - 0.25).abs(),
                0.0,
                1,
                "exact: σ(0) = 1/2 is exact",
            );
            let grid: Vec<f64> = (-20_000..=20_000).map(|i| f64::from(i) * 1e-3).collect();
            let worst = grid.iter().map(|&x| d(x)).fold(f64::MIN, f64::max);
            f.bound(
                Label::from("max of σ' over a 1e-3 grid on [−20, 20]")
                    .markdown(r"max of $\sigma'$ over a $10^{-3}$ grid on $[-20, 20]$"),
                worst,
                0.25,
                grid.len() as u64,
                "σ' ≤ 1/4 exactly; σ(1−σ) ≤ 1/4 also holds after rounding",
            );
            let far = [-1e3, -745.0, -710.0, 710.0, 745.0, 1e3, f64::MAX, -f64::MAX];
            property(
                &mut f,
                Label::from("σ'(x) finite at |x| up to 1e3 and beyond")
                    .markdown(r"$\sigma'(x)$ finite at $\lvert x \rvert$ up to $10^3$ and beyond"),
                &far,
                |x| d(x).is_finite(),
                |x| format!("σ'({x}) = {}", d(x)),
            );
            if bug.is_none() {
                f.figures.push(function_plot(true));
            }
            f
        },
    )
    .typeset(r"$\sigma'(x) = \sigma(x)(1 - \sigma(x))$; its maximum is $\sigma'(0) = 1/4$; finite for all $x$")
}

// ANCHOR_END: act_sigmoid_deriv
// ---------------------------------------------------------------- ACT-TANH
// ANCHOR: act_tanh

#[derive(Clone, Copy)]
enum TanhBug {
    Unguarded,
    SameSign,
    KernelSaturatesEarly,
    KernelNotOdd,
}

/// The planted fast kernel that saturates early: |x| clamped to 4.5 instead of 9.5, so
/// tanh(9) comes out as tanh(4.5) = 0.99975, thousands of ulps from 1.
fn tanh_kernel_saturates_early(x: &[f32], y: &mut [f32]) {
    let clamped: Vec<f32> = x.iter().map(|v| v.clamp(-4.5, 4.5)).collect();
    tanh_kernel(&clamped, y);
}

/// The planted fast kernel tanh(x) = 2σ(2x) − 1 on the production σ lanes: right in the
/// limit, but not odd (σ's rounding is not symmetric) and cancelling near 0.
fn tanh_kernel_not_odd(x: &[f32], y: &mut [f32]) {
    let doubled: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
    sigmoid_kernel(&doubled, y);
    for o in y.iter_mut() {
        *o = 2.0 * *o - 1.0;
    }
}

pub(super) fn act_tanh() -> Claim {
    Claim::checked(
        "ACT-TANH",
        ROOM,
        "§tanh函数",
        "tanh = sinh/cosh = (e^x − e^{−x})/(e^x + e^{−x}); an implementation must use a stable \
         form: odd, |tanh| ≤ 1, finite at ±1e3, ±∞ ↦ ±1, NaN ↦ NaN; the f32 kernel users call \
         stays within its committed 2.5 ulp of the f64 tanh, is exact at ±0, ±∞ and NaN, and \
         is odd bit for bit",
        PostVerdict::Correct,
        &[
            (
                TanhBug::Unguarded,
                Planted::bug("the literal quotient without a guard (NaN at 1e3)"),
            ),
            (
                TanhBug::SameSign,
                Planted::bug("same sign in numerator and denominator (constant 1)"),
            ),
            (
                TanhBug::KernelSaturatesEarly,
                Planted::bug("f32 kernel saturating early (|x| clamped to 4.5, not 9.5)")
                    .by(KERNEL),
            ),
            (
                TanhBug::KernelNotOdd,
                Planted::bug("f32 kernel as 2σ(2x) − 1 (not odd, cancels near 0)").by(KERNEL),
            ),
        ],
        |bug, ctx| {
            let t = |x: f64| match bug {
                Some(TanhBug::Unguarded) => spec::tanh_literal(x),
                Some(TanhBug::SameSign) => (x.exp() + (-x).exp()) / (x.exp() + (-x).exp()),
                _ => spec::tanh_stable(x),
            };
            let mut f = Findings::default();
            let near = bulk(ctx, ctx.size(20_000, 1_000_000), 20.0, false);
            // The post's identity itself, as mathematics, where it does not overflow.
            identity(
                &mut f,
                Label::from("the post's (e^x − e^{−x})/(e^x + e^{−x}) = std tanh, |x| ≤ 20").markdown(r"the post's $(e^x - e^{-x})/(e^x + e^{-x})$ = std tanh, $\lvert x \rvert \le 20$"),
                &near,
                spec::tanh_literal,
                f64::tanh,
                1e-14,
            );
            identity(
                &mut f,
                Label::from("implementation = std tanh, |x| ≤ 20").markdown(r"implementation = std tanh, $\lvert x \rvert \le 20$"),
                &near,
                t,
                f64::tanh,
                1e-14,
            );
            let xs = inputs(ctx, ctx.size(20_000, 1_000_000));
            identity(
                &mut f,
                Label::from("odd: tanh(−x) = −tanh(x)").markdown(r"odd: $\tanh(-x) = -\tanh(x)$"),
                &xs,
                |x| t(-x),
                |x| -t(x),
                0.0,
            );
            property(
                &mut f,
                Label::from("|tanh(x)| ≤ 1 and finite").markdown(r"$\lvert \tanh(x) \rvert \le 1$ and finite"),
                &xs,
                |x| t(x).abs() <= 1.0,
                |x| format!("tanh({x}) = {}", t(x)),
            );
            let edges = [
                1e3,
                -1e3,
                710.0,
                -710.0,
                f64::MAX,
                -f64::MAX,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ];
            property(
                &mut f,
                Label::from("tanh at ±1e3, ±710, ±MAX, ±∞ is ±1").markdown(r"$\tanh$ at $\pm 10^3$, $\pm 710$, $\pm$MAX, $\pm\infty$ is $\pm 1$"),
                &edges,
                |x| t(x) == x.signum(),
                |x| format!("tanh({x}) = {}", t(x)),
            );
            property(
                &mut f,
                Label::from("NaN ↦ NaN").markdown(r"NaN $\mapsto$ NaN"),
                &[f64::NAN],
                |x| t(x).is_nan(),
                |x| format!("tanh({x}) = {}", t(x)),
            );
            let kernel: &(dyn Fn(&[f32], &mut [f32]) + Sync) = match bug {
                Some(TanhBug::KernelSaturatesEarly) => &tanh_kernel_saturates_early,
                Some(TanhBug::KernelNotOdd) => &tanh_kernel_not_odd,
                _ => &tanh_kernel,
            };
            kernel_contracts(&mut f, &["tanh"], kernel, kernel_stride(ctx));
            // Oddness bit for bit (the kernel's documented promise), on the same f32s as
            // the contract's dense sweep of the positive half, −x against x.
            let positive: Vec<f32> =
                crate::activation::accuracy::sweep_inputs(0.0, 20.0, kernel_stride(ctx)).collect();
            let negative: Vec<f32> = positive.iter().map(|v| -v).collect();
            let (mut up, mut down) = (vec![0.0f32; positive.len()], vec![0.0f32; positive.len()]);
            kernel(&positive, &mut up);
            kernel(&negative, &mut down);
            let mut odd = Tally::default();
            for ((x, a), b) in positive.iter().zip(&up).zip(&down) {
                odd.check(b.to_bits() == (-a).to_bits(), || {
                    format!("tanh({x}) = {a:e}, tanh(−{x}) = {b:e}")
                });
            }
            f.tally(
                Label::from(format!("{KERNEL} tanh: odd bit for bit, tanh(−x) = −tanh(x) on [0, 20]")).markdown(format!(r"{KERNEL} tanh: odd bit for bit, $\tanh(-x) = -\tanh(x)$ on $[0, 20]$")),
                odd,
            );
            f
        },
    )
    .typeset(r"$\tanh = \sinh/\cosh = (e^x - e^{-x})/(e^x + e^{-x})$; an implementation must use a stable form: odd, $\lvert \tanh \rvert \le 1$, finite at $\pm 10^3$, $\pm\infty \mapsto \pm 1$, NaN $\mapsto$ NaN; the f32 kernel users call stays within its committed 2.5 ulp of the f64 $\tanh$, is exact at $\pm 0$, $\pm\infty$ and NaN, and is odd bit for bit")
}

// ANCHOR_END: act_tanh
// ---------------------------------------------------------------- ACT-TANH-DERIV
// ANCHOR: act_tanh_deriv

#[derive(Clone, Copy)]
enum TanhDerivBug {
    InputSquared,
}

pub(super) fn act_tanh_deriv() -> Claim {
    Claim::checked(
        "ACT-TANH-DERIV",
        ROOM,
        "used by BP and Xavier",
        "tanh'(x) = 1 − tanh²(x) = sech²(x); tanh(0) = 0 and tanh'(0) = 1",
        PostVerdict::Implied,
        &[(
            TanhDerivBug::InputSquared,
            Planted::bug("1 − x² (input where the output belongs)"),
        )],
        |bug, ctx| {
            let d = |x: f64| match bug {
                None => spec::tanh_derivative(x),
                Some(TanhDerivBug::InputSquared) => 1.0 - x * x,
            };
            let mut f = Findings::default();
            gradient(
                &mut f,
                Label::from("tanh' against finite differences of tanh").markdown(r"$\tanh'$ against finite differences of $\tanh$"),
                &bulk(ctx, ctx.size(20_000, 500_000), 10.0, false),
                spec::tanh_stable,
                d,
            );
            f.bound(
                Label::from("|tanh(0)| + |tanh'(0) − 1|").markdown(r"$\lvert \tanh(0) \rvert + \lvert \tanh'(0) - 1 \rvert$"),
                spec::tanh_stable(0.0).abs() + (d(0.0) - 1.0).abs(),
                0.0,
                1,
                "exact at 0",
            );
            f
        },
    )
    .typeset(r"$\tanh'(x) = 1 - \tanh^2(x) = \operatorname{sech}^2(x)$; $\tanh(0) = 0$ and $\tanh'(0) = 1$")
}

// ANCHOR_END: act_tanh_deriv
// ---------------------------------------------------------------- ACT-TANH-SIGMOID
// ANCHOR: act_tanh_sigmoid

#[derive(Clone, Copy)]
enum RelationBug {
    MissingArgumentScale,
}

pub(super) fn act_tanh_sigmoid() -> Claim {
    Claim::checked(
        "ACT-TANH-SIGMOID",
        ROOM,
        "relation (tanh vs sigmoid)",
        "tanh(x) = 2σ(2x) − 1, equivalently σ(x) = (1 + tanh(x/2))/2",
        PostVerdict::Implied,
        &[(
            RelationBug::MissingArgumentScale,
            Planted::bug("tanh(x) = 2σ(x) − 1 (the 2 in the argument missing)"),
        )],
        |bug, ctx| {
            let scale = if bug.is_some() { 1.0 } else { 2.0 };
            let xs = bulk(ctx, ctx.size(20_000, 1_000_000), 30.0, false);
            let mut f = Findings::default();
            // |2σ(2x) − 1 − tanh x|: the subtraction near 0 costs an absolute ε, so the
            // catalogue's 1e-14 (relative to max(1, ·)) holds with a margin of ~40.
            identity(
                &mut f,
                Label::from("2σ(2x) − 1 = tanh(x), |x| ≤ 30")
                    .markdown(r"$2\sigma(2x) - 1 = \tanh x$, $\lvert x \rvert \le 30$"),
                &xs,
                |x| 2.0 * spec::sigmoid_stable(scale * x) - 1.0,
                spec::tanh_stable,
                1e-14,
            );
            identity(
                &mut f,
                Label::from("σ(x) = (1 + tanh(x/2))/2, |x| ≤ 30")
                    .markdown(r"$\sigma(x) = (1 + \tanh(x/2))/2$, $\lvert x \rvert \le 30$"),
                &xs,
                spec::sigmoid_stable,
                |x| (1.0 + spec::tanh_stable(x / scale)) / 2.0,
                1e-14,
            );
            f
        },
    )
    .typeset(r"$\tanh(x) = 2\sigma(2x) - 1$, equivalently $\sigma(x) = (1 + \tanh(x/2))/2$")
}

// ANCHOR_END: act_tanh_sigmoid
// ---------------------------------------------------------------- ACT-SOFTSIGN
// ANCHOR: act_softsign

#[derive(Clone, Copy)]
enum SoftsignBug {
    NoAbs,
}

pub(super) fn act_softsign() -> Claim {
    Claim::checked(
        "ACT-SOFTSIGN",
        ROOM,
        "§基本假设 (\"Softsig\")",
        "f(x) = x/(1+|x|), f'(x) = 1/(1+|x|)²; f(0) = 0, f'(0) = 1, f odd, |f| < 1",
        PostVerdict::Correct,
        &[(
            SoftsignBug::NoAbs,
            Planted::bug("x/(1+x) without the absolute value"),
        )],
        |bug, ctx| {
            let s = |x: f64| match bug {
                None => spec::softsign(x),
                Some(SoftsignBug::NoAbs) => x / (1.0 + x),
            };
            let mut f = Findings::default();
            f.bound(
                Label::from("|f(0)| + |f'(0) − 1|").markdown(r"$\lvert f(0) \rvert + \lvert f'(0) - 1 \rvert$"),
                s(0.0).abs() + (spec::softsign_derivative(0.0) - 1.0).abs(),
                0.0,
                1,
                "exact at 0",
            );
            let xs = inputs(ctx, ctx.size(20_000, 1_000_000));
            identity(&mut f, Label::from("odd: f(−x) = −f(x)").markdown(r"odd: $f(-x) = -f(x)$"), &xs, |x| s(-x), |x| -s(x), 0.0);
            property(
                &mut f,
                Label::from("|f(x)| < 1").markdown(r"$\lvert f(x) \rvert < 1$"),
                &xs,
                |x| s(x).abs() < 1.0,
                |x| format!("f({x}) = {}", s(x)),
            );
            gradient(
                &mut f,
                Label::from("f' against finite differences of f").markdown(r"$f'$ against finite differences of $f$"),
                &bulk(ctx, ctx.size(20_000, 500_000), 30.0, true),
                s,
                spec::softsign_derivative,
            );
            f
        },
    )
    .typeset(r"$f(x) = x/(1+\lvert x \rvert)$, $f'(x) = 1/(1+\lvert x \rvert)^2$; $f(0) = 0$, $f'(0) = 1$, $f$ odd, $\lvert f \rvert < 1$")
}

// ANCHOR_END: act_softsign
