//! The regularisers the post lists after dropout (§其他提高泛化的方法), as f32 steps on a
//! layer's weights: REG-L0, REG-L1, REG-L2, REG-MAXNORM. The literal f64 versions are in
//! `derivations::dropout`.
//!
//! Parameters are validated once at the boundary (typed errors); the loops are plain and
//! auto-vectorise. NaN weights stay NaN.

use nalgebra::DMatrix;

use crate::backprop::Dense;
use crate::error::{Error, Result, check_len};

/// REG-L0: ‖w‖₀ = #{j : w_j ≠ 0}, every non-zero counted however small (subnormals too).
/// Not a norm, and its gradient is 0 almost everywhere: SGD cannot use it directly.
pub fn l0_count(w: &[f32]) -> usize {
    w.iter().filter(|&&x| x != 0.0).count()
}

// ANCHOR: soft_threshold
/// REG-L1's proximal step with threshold t = αλ ≥ 0: w ← sign(w)·max(|w| − t, 0)
/// (soft-thresholding). Entries with |w| ≤ t become exactly +0.0.
///
/// # Errors
/// [`Error::ParameterOutOfRange`] unless t is finite and ≥ 0.
pub fn soft_threshold_in_place(w: &mut [f32], t: f32) -> Result<()> {
    require(t.is_finite() && t >= 0.0, "L1 threshold αλ", t, "[0, ∞)")?;
    for x in w.iter_mut() {
        *x = if *x > t {
            *x - t
        } else if *x < -t {
            *x + t
        } else if x.is_nan() {
            *x
        } else {
            0.0
        };
    }
    Ok(())
}
// ANCHOR_END: soft_threshold

// ANCHOR: weight_decay
/// REG-L2: one SGD step on ℓ + (λ/2)‖W‖² for a layer, written as weight decay:
/// W ← (1 − αλ)·W − α·∂ℓ/∂W, and b ← b − α·∂ℓ/∂b (biases are not decayed, by convention).
///
/// # Errors
/// [`Error::ParameterOutOfRange`] unless α and λ are finite and ≥ 0;
/// [`Error::LengthMismatch`] if a gradient's shape differs from its parameter's.
pub fn weight_decay_step(
    layer: &mut Dense,
    grad_weights: &DMatrix<f32>,
    grad_bias: &[f32],
    learning_rate: f32,
    lambda: f32,
) -> Result<()> {
    require(
        learning_rate.is_finite() && learning_rate >= 0.0,
        "learning rate α",
        learning_rate,
        "[0, ∞)",
    )?;
    require(
        lambda.is_finite() && lambda >= 0.0,
        "L2 strength λ",
        lambda,
        "[0, ∞)",
    )?;
    check_len("weight gradient", layer.weights.len(), grad_weights.len())?;
    check_len(
        "weight gradient (rows)",
        layer.weights.nrows(),
        grad_weights.nrows(),
    )?;
    check_len("bias gradient", layer.bias.len(), grad_bias.len())?;
    let keep = 1.0 - learning_rate * lambda;
    for (w, g) in layer.weights.iter_mut().zip(grad_weights.iter()) {
        *w = keep * *w - learning_rate * g;
    }
    for (b, g) in layer.bias.iter_mut().zip(grad_bias) {
        *b -= learning_rate * g;
    }
    Ok(())
}
// ANCHOR_END: weight_decay

// ANCHOR: max_norm
/// REG-MAXNORM: projects each hidden unit's *incoming* weight vector onto the ball
/// ‖w_{·,k}‖₂ ≤ c. With W fan_in × fan_out (C2), unit k's incoming vector is column k; a
/// column with norm above c is multiplied by c/‖w_{·,k}‖₂ (norm computed in f64), the others
/// are left bit for bit as they were.
///
/// # Errors
/// [`Error::ParameterOutOfRange`] unless c is finite and > 0.
pub fn max_norm_project(weights: &mut DMatrix<f32>, c: f32) -> Result<()> {
    require(c.is_finite() && c > 0.0, "max-norm radius c", c, "(0, ∞)")?;
    for mut column in weights.column_iter_mut() {
        let norm = column
            .iter()
            .map(|&w| f64::from(w) * f64::from(w))
            .sum::<f64>()
            .sqrt();
        if norm > f64::from(c) {
            let scale = (f64::from(c) / norm) as f32;
            column.iter_mut().for_each(|w| *w *= scale);
        }
    }
    Ok(())
}
// ANCHOR_END: max_norm

/// `Err(ParameterOutOfRange)` unless `ok`.
fn require(ok: bool, name: &'static str, value: f32, range: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::ParameterOutOfRange {
            name,
            value: f64::from(value),
            range,
        })
    }
}
