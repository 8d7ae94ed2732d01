//! Activation functions (§激励函数 of the post) and the derivatives its backprop needs.
//!
//! Claim IDs: ACT-SIGMOID, ACT-SIGMOID-DERIV, ACT-TANH, ACT-TANH-DERIV, ACT-TANH-SIGMOID,
//! ACT-RELU, ACT-LRELU, ACT-SOFTSIGN.

// ANCHOR: sigmoid
/// ACT-SIGMOID: σ(x) = 1/(1 + e^{−x}), as the post writes it.
///
/// For x < −709.8, e^{−x} overflows to +∞ and the quotient gives 0, the correctly rounded
/// limit; the formula is therefore safe in f64 as written (unlike tanh's quotient).
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
// ANCHOR_END: sigmoid

// ANCHOR: sigmoid_stable
/// ACT-SIGMOID, the two-branch form: 1/(1+e^{−x}) for x ≥ 0 and e^{x}/(1+e^{x}) for x < 0.
/// Neither branch exponentiates a positive number, so neither overflows.
pub fn sigmoid_stable(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}
// ANCHOR_END: sigmoid_stable

// ANCHOR: sigmoid_derivative
/// ACT-SIGMOID-DERIV: σ'(x) = σ(x)·(1 − σ(x)), evaluated at the *input* x.
/// Its maximum is σ'(0) = 1/4.
pub fn sigmoid_derivative(x: f64) -> f64 {
    let s = sigmoid_stable(x);
    s * (1.0 - s)
}
// ANCHOR_END: sigmoid_derivative

// ANCHOR: tanh_literal
/// ACT-TANH, literally: tanh(x) = sinh(x)/cosh(x) = (e^x − e^{−x})/(e^x + e^{−x}).
///
/// Kept literal on purpose: for |x| ≳ 709.8 both exponentials overflow and the quotient is
/// ∞/∞ = NaN. That is the post's numerical caveat, and ACT-TANH shows it.
pub fn tanh_literal(x: f64) -> f64 {
    (x.exp() - (-x).exp()) / (x.exp() + (-x).exp())
}
// ANCHOR_END: tanh_literal

// ANCHOR: tanh_stable
/// ACT-TANH, stable: tanh(x) = sign(x)·(1 − 2/(e^{2|x|} + 1)).
///
/// e^{2|x|} overflows to +∞ only when the answer is ±1 anyway; near 0 the subtraction
/// cancels, so for |x| < 0.5 we use `exp_m1`: tanh(x) = e/(e + 2) with e = e^{2x} − 1.
pub fn tanh_stable(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let t = if a < 0.5 {
        let e = (2.0 * a).exp_m1();
        e / (e + 2.0)
    } else {
        1.0 - 2.0 / ((2.0 * a).exp() + 1.0)
    };
    t.copysign(x)
}
// ANCHOR_END: tanh_stable

// ANCHOR: tanh_derivative
/// ACT-TANH-DERIV: tanh'(x) = 1 − tanh²(x) = sech²(x); tanh'(0) = 1.
pub fn tanh_derivative(x: f64) -> f64 {
    let t = tanh_stable(x);
    1.0 - t * t
}
// ANCHOR_END: tanh_derivative

// ANCHOR: relu
/// ACT-RELU: f(x) = max(0, x).
///
/// NaN propagates (IEEE 754-2019 `maximum`, not Rust's `f64::max`, which would return 0).
pub fn relu(x: f64) -> f64 {
    if x.is_nan() || x > 0.0 { x } else { 0.0 }
}
// ANCHOR_END: relu

// ANCHOR: relu_derivative
/// ACT-RELU: f'(x) = 1 for x > 0 and 0 for x < 0. At the kink we fix f'(0) := 0 (the
/// subgradient is [0, 1]; PyTorch and TensorFlow use 0 as well). NaN gives NaN.
pub fn relu_derivative(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x > 0.0 {
        1.0
    } else {
        0.0
    }
}
// ANCHOR_END: relu_derivative

// ANCHOR: leaky_relu
/// ACT-LRELU: f(x) = x for x ≥ 0 and αx for x < 0. The post leaves α open; Maas et al.
/// (2013) used 0.01. For 0 ≤ α < 1 this equals max(x, αx).
pub fn leaky_relu(x: f64, alpha: f64) -> f64 {
    if x >= 0.0 { x } else { alpha * x }
}
// ANCHOR_END: leaky_relu

// ANCHOR: leaky_relu_derivative
/// ACT-LRELU: f'(x) = 1 for x > 0 and α for x < 0; at the kink f'(0) := α (the ReLU
/// convention f'(0) := 0 is the case α = 0). NaN gives NaN.
pub fn leaky_relu_derivative(x: f64, alpha: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x > 0.0 {
        1.0
    } else {
        alpha
    }
}
// ANCHOR_END: leaky_relu_derivative

// ANCHOR: softsign
/// ACT-SOFTSIGN (the post's "Softsig"): f(x) = x/(1 + |x|); f(0) = 0, |f| < 1, f odd.
pub fn softsign(x: f64) -> f64 {
    if x.is_infinite() {
        return x.signum();
    }
    x / (1.0 + x.abs())
}
// ANCHOR_END: softsign

// ANCHOR: softsign_derivative
/// ACT-SOFTSIGN: f'(x) = 1/(1 + |x|)²; f'(0) = 1.
pub fn softsign_derivative(x: f64) -> f64 {
    let d = 1.0 + x.abs();
    1.0 / (d * d)
}
// ANCHOR_END: softsign_derivative

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(tanh_stable(0.0), 0.0);
        assert_eq!(tanh_derivative(0.0), 1.0);
        assert_eq!(sigmoid_derivative(0.0), 0.25);
        assert_eq!(softsign_derivative(0.0), 1.0);
        assert!(tanh_literal(1000.0).is_nan());
        assert_eq!(tanh_stable(1000.0), 1.0);
        assert_eq!(tanh_stable(f64::NEG_INFINITY), -1.0);
        assert!(relu(f64::NAN).is_nan());
    }

    #[test]
    fn stable_tanh_matches_std() {
        // std's tanh is correctly rounded to within 1 ulp; our form adds a few roundings,
        // so 4 ulp relative (≈ 9e-16) bounds the gap.
        for i in -4000..=4000 {
            let x = f64::from(i) * 5e-3;
            let (a, b) = (tanh_stable(x), x.tanh());
            assert!(
                (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(f64::MIN_POSITIVE),
                "{x}"
            );
        }
    }
}
