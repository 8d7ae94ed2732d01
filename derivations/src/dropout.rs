//! Dropout (§Dropout of the post; Srivastava et al. 2014) and the regularisers the post lists
//! at the end (§其他提高泛化的方法), transcribed literally in `f64`.
//!
//! Claim IDs: DROP-P, DROP-MASK, DROP-SHARE, DROP-SCALE, DROP-EXPECT, DROP-INVERTED,
//! DROP-ENTROPY, DROP-NSTRUCT, REG-L0, REG-L1, REG-L2, REG-MAXNORM, and the extensions
//! EXT-DROP-VAR, EXT-DROP-RIDGE and EXT-DROP-NWGM.
//!
//! **p is the keep probability** (conventions appendix, C6, as in Srivastava et al.: "each
//! unit is retained with a fixed probability p"). Every function that takes a probability
//! names it `p_keep`. The post itself uses p for the *drop* probability in its training paragraphs
//! and for the keep probability at prediction (DROP-P); the two readings agree only at
//! p = 0.5.
//!
//! Conventions (conventions appendix, C1–C2): a layer's weights W are J × K (fan_in × fan_out), stored
//! row by row, `w[j][k]` = W_{j,k} from unit j to unit k; IN_k = Σ_j W_{j,k}·O_j + b_k. A mask
//! r holds one entry per unit, r_j = 1 ("kept") or 0 ("dropped"), here `true`/`false`.
//!
//! Nothing here validates its input beyond what the formulas need: the fast code in
//! `dnn_proofs::dropout` rejects p ∉ (0, 1] with a typed error. Functions that enumerate
//! masks panic for more than [`MAX_ENUMERATED_UNITS`] units.

/// The most units whose 2^n masks [`expectation_over_masks`] enumerates (2^20 ≈ 10^6 terms).
pub const MAX_ENUMERATED_UNITS: usize = 20;

// ANCHOR: keep
/// One mask entry from a uniform draw u ∈ [0, 1): r = 1 ("kept") exactly when u < p, so
/// P(r = 1) = p, the keep probability (DROP-P).
pub fn keep(u: f64, p_keep: f64) -> bool {
    u < p_keep
}
// ANCHOR_END: keep

// ANCHOR: sample_masks
/// Masks r ~ Bernoulli(p) i.i.d. per unit *and per training example* (DROP-MASK):
/// `masks[m][j]` is r_j for example m, one fresh uniform draw each, in the order
/// example 1 unit 1, example 1 unit 2, ….
pub fn sample_masks(
    p_keep: f64,
    units: usize,
    examples: usize,
    mut uniform: impl FnMut() -> f64,
) -> Vec<Vec<bool>> {
    (0..examples)
        .map(|_| (0..units).map(|_| keep(uniform(), p_keep)).collect())
        .collect()
}
// ANCHOR_END: sample_masks

// ANCHOR: mask_probability
/// P(r) = Π_j p^{r_j}·(1 − p)^{1 − r_j}: the probability of one mask under i.i.d.
/// Bernoulli(p) entries.
pub fn mask_probability(r: &[bool], p_keep: f64) -> f64 {
    r.iter()
        .map(|&kept| if kept { p_keep } else { 1.0 - p_keep })
        .product()
}
// ANCHOR_END: mask_probability

// ANCHOR: expectation_over_masks
/// E_r[f(r)] = Σ_r P(r)·f(r) over all 2^n masks of n units: the exact expectation that the
/// scaling claims are about (DROP-SCALE, DROP-EXPECT, DROP-INVERTED). Mask number m has
/// r_j = bit j of m.
///
/// # Panics
/// If n > [`MAX_ENUMERATED_UNITS`].
pub fn expectation_over_masks(n: usize, p_keep: f64, mut f: impl FnMut(&[bool]) -> f64) -> f64 {
    assert!(
        n <= MAX_ENUMERATED_UNITS,
        "2^{n} masks is too many to enumerate"
    );
    let mut r = vec![false; n];
    let mut total = 0.0;
    for m in 0u64..1 << n {
        for (j, rj) in r.iter_mut().enumerate() {
            *rj = (m >> j) & 1 == 1;
        }
        total += mask_probability(&r, p_keep) * f(&r);
    }
    total
}
// ANCHOR_END: expectation_over_masks

// ANCHOR: pre_activation
/// IN_k = Σ_j W_{j,k}·O_j + b_k (C1): the next layer's input from this layer's outputs O.
pub fn pre_activation(w: &[Vec<f64>], o: &[f64], b: &[f64]) -> Vec<f64> {
    (0..b.len())
        .map(|k| (0..o.len()).map(|j| w[j][k] * o[j]).sum::<f64>() + b[k])
        .collect()
}
// ANCHOR_END: pre_activation

// ANCHOR: train_standard
/// The mask entry as the number it stands for, r_j ∈ {0, 1}.
pub fn r_value(kept: bool) -> f64 {
    if kept { 1.0 } else { 0.0 }
}

/// Standard dropout in training (§参数训练): a dropped unit is removed, so the next layer sees
/// Õ_j = r_j·O_j (a product, so a NaN or ±∞ output stays NaN even when dropped, as IEEE
/// arithmetic says).
pub fn train_standard(o: &[f64], r: &[bool]) -> Vec<f64> {
    o.iter().zip(r).map(|(&oj, &rj)| r_value(rj) * oj).collect()
}
// ANCHOR_END: train_standard

// ANCHOR: predict_weights
/// Prediction with standard dropout (§模型预测, DROP-SCALE): every *outgoing* weight of a
/// unit that was subject to dropout is multiplied by its keep probability, W_test = p·W.
/// Biases and incoming weights are not scaled.
pub fn predict_weights(w: &[Vec<f64>], p_keep: f64) -> Vec<Vec<f64>> {
    w.iter()
        .map(|row| row.iter().map(|&wjk| p_keep * wjk).collect())
        .collect()
}
// ANCHOR_END: predict_weights

// ANCHOR: train_inverted
/// Inverted dropout in training (DROP-INVERTED): the kept units are scaled by 1/p,
/// Õ_j = r_j·O_j/p, which is standard dropout with weights w = w'/p; at prediction the
/// weights w' = p·w are used as they are, with no scaling.
pub fn train_inverted(o: &[f64], r: &[bool], p_keep: f64) -> Vec<f64> {
    o.iter()
        .zip(r)
        .map(|(&oj, &rj)| r_value(rj) * oj / p_keep)
        .collect()
}
// ANCHOR_END: train_inverted

// ANCHOR: entropy
/// H(p) = −p·ln p − (1 − p)·ln(1 − p), in nats: the entropy of one mask entry
/// (DROP-ENTROPY); 0·ln 0 := 0. Its unique maximum is ln 2 at p = 1/2.
pub fn entropy(p_keep: f64) -> f64 {
    let term = |q: f64| if q > 0.0 { -q * q.ln() } else { 0.0 };
    term(p_keep) + term(1.0 - p_keep)
}

/// H₂(p) = H(p)/ln 2, in bits.
pub fn entropy_bits(p_keep: f64) -> f64 {
    entropy(p_keep) / std::f64::consts::LN_2
}

/// The entropy of the joint mask of n independent units, n·H(p) nats (≤ n·ln 2).
pub fn joint_entropy(n: usize, p_keep: f64) -> f64 {
    n as f64 * entropy(p_keep)
}
// ANCHOR_END: entropy

// ANCHOR: structures
/// C(n, k) in f64. Exact for n ≤ 50: each partial product C(n, i)·(n − i) is an integer
/// below 2^53, and dividing it by i + 1 leaves the integer C(n, i + 1).
pub fn binomial_coefficient(n: u64, k: u64) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    (0..k).fold(1.0, |c, i| c * (n - i) as f64 / (i + 1) as f64)
}

/// DROP-NSTRUCT (a): the effective number of sub-networks, 2^{n·H₂(p)}, the perplexity of
/// the mask distribution. (The number of *possible* sub-networks is 2^n for every
/// p ∈ (0, 1).)
pub fn effective_structures(n: usize, p_keep: f64) -> f64 {
    (n as f64 * entropy_bits(p_keep)).exp2()
}

/// DROP-NSTRUCT (b): the expected number of *distinct* masks among T i.i.d. draws,
/// E_T(p) = Σ_{k=0}^{n} C(n,k)·[1 − (1 − p^k(1−p)^{n−k})^T]: each of the C(n,k) masks with
/// k kept units has probability q = p^k(1−p)^{n−k} and is visited with probability
/// 1 − (1 − q)^T.
pub fn expected_distinct_masks(n: u64, t: u64, p_keep: f64) -> f64 {
    (0..=n)
        .map(|k| {
            let q = p_keep.powi(k as i32) * (1.0 - p_keep).powi((n - k) as i32);
            binomial_coefficient(n, k) * (1.0 - (1.0 - q).powf(t as f64))
        })
        .sum()
}

/// DROP-NSTRUCT (c): the size of the shell of sub-networks with round(n·p) kept units,
/// C(n, round(np)); at p = 1/2 it is the largest shell, C(n, ⌊n/2⌋).
pub fn largest_shell(n: u64, p_keep: f64) -> f64 {
    binomial_coefficient(n, (n as f64 * p_keep).round() as u64)
}
// ANCHOR_END: structures

// ANCHOR: variance
/// EXT-DROP-VAR, standard dropout y = r·x: mean and variance (p·x, p(1−p)·x²).
pub fn standard_moments(x: f64, p_keep: f64) -> (f64, f64) {
    (p_keep * x, p_keep * (1.0 - p_keep) * x * x)
}

/// EXT-DROP-VAR, inverted dropout y = r·x/p: mean and variance (x, x²·(1−p)/p).
pub fn inverted_moments(x: f64, p_keep: f64) -> (f64, f64) {
    (x, x * x * (1.0 - p_keep) / p_keep)
}

/// EXT-DROP-VAR: the variance of the next pre-activation Σ_j W_j·r_j·x_j/p under inverted
/// dropout, given x: (1−p)/p·Σ_j W_j²·x_j² (independent terms add their variances).
pub fn inverted_pre_activation_variance(w: &[f64], x: &[f64], p_keep: f64) -> f64 {
    (1.0 - p_keep) / p_keep
        * w.iter()
            .zip(x)
            .map(|(wj, xj)| (wj * xj).powi(2))
            .sum::<f64>()
}
// ANCHOR_END: variance

// ANCHOR: ridge
/// EXT-DROP-RIDGE, left side: the expected squared error of linear regression with an
/// independent dropout mask on every input entry, E_R ‖y − (R∘X)w‖², by enumerating all
/// 2^{N·d} masks R (X is N × d, `x[i][j]`).
///
/// # Panics
/// If N·d > [`MAX_ENUMERATED_UNITS`].
pub fn dropout_regression_loss(x: &[Vec<f64>], y: &[f64], w: &[f64], p_keep: f64) -> f64 {
    let d = w.len();
    expectation_over_masks(x.len() * d, p_keep, |r| {
        x.iter()
            .zip(y)
            .enumerate()
            .map(|(i, (xi, yi))| {
                let fit: f64 = (0..d)
                    .map(|j| if r[i * d + j] { xi[j] * w[j] } else { 0.0 })
                    .sum();
                (yi - fit).powi(2)
            })
            .sum()
    })
}

/// Γ = diag(XᵀX)^{1/2}: Γ_jj = √(Σ_i x_ij²), one entry per input column j.
pub fn ridge_gamma(x: &[Vec<f64>]) -> Vec<f64> {
    let d = x.first().map_or(0, Vec::len);
    (0..d)
        .map(|j| x.iter().map(|xi| xi[j] * xi[j]).sum::<f64>().sqrt())
        .collect()
}

/// EXT-DROP-RIDGE, right side (Srivastava et al. §9.1):
/// ‖y − pXw‖² + p(1−p)·‖Γw‖², with Γ from [`ridge_gamma`].
pub fn ridge_form(x: &[Vec<f64>], y: &[f64], w: &[f64], p_keep: f64, gamma: &[f64]) -> f64 {
    let fit: f64 = x
        .iter()
        .zip(y)
        .map(|(xi, yi)| {
            let xw: f64 = xi.iter().zip(w).map(|(a, b)| a * b).sum();
            (yi - p_keep * xw).powi(2)
        })
        .sum();
    let penalty: f64 = gamma.iter().zip(w).map(|(g, wj)| (g * wj).powi(2)).sum();
    fit + p_keep * (1.0 - p_keep) * penalty
}
// ANCHOR_END: ridge

// ANCHOR: nwgm
/// σ(z) = 1/(1 + e^{−z}).
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// EXT-DROP-NWGM, left side: a sigmoid unit with dropout on its d inputs, its weights
/// scaled by p for prediction: σ of the mean input, σ(Σ_j p·w_j·x_j + b).
pub fn weight_scaled_sigmoid(w: &[f64], x: &[f64], b: f64, p_keep: f64) -> f64 {
    sigmoid(
        w.iter()
            .zip(x)
            .map(|(wj, xj)| p_keep * wj * xj)
            .sum::<f64>()
            + b,
    )
}

/// z_r = Σ_j w_j·r_j·x_j + b, the unit's input under mask r.
fn masked_input(w: &[f64], x: &[f64], b: f64, r: &[bool]) -> f64 {
    w.iter()
        .zip(x)
        .zip(r)
        .map(|((wj, xj), &rj)| if rj { wj * xj } else { 0.0 })
        .sum::<f64>()
        + b
}

/// EXT-DROP-NWGM, right side (Baldi & Sadowski 2013): the normalised weighted geometric
/// mean of the 2^d sub-networks' outputs, G/(G + G') with G = Π_r σ(z_r)^{P(r)} and
/// G' = Π_r (1 − σ(z_r))^{P(r)}, computed in logarithms by enumeration.
///
/// # Panics
/// If d > [`MAX_ENUMERATED_UNITS`].
pub fn normalised_geometric_mean(w: &[f64], x: &[f64], b: f64, p_keep: f64) -> f64 {
    let ln_g = expectation_over_masks(w.len(), p_keep, |r| sigmoid(masked_input(w, x, b, r)).ln());
    let ln_g_prime = expectation_over_masks(w.len(), p_keep, |r| {
        (1.0 - sigmoid(masked_input(w, x, b, r))).ln()
    });
    1.0 / (1.0 + (ln_g_prime - ln_g).exp())
}

/// The arithmetic mean of the sub-networks' outputs, E_r[σ(z_r)] (what the NWGM is *not*).
pub fn arithmetic_mean(w: &[f64], x: &[f64], b: f64, p_keep: f64) -> f64 {
    expectation_over_masks(w.len(), p_keep, |r| sigmoid(masked_input(w, x, b, r)))
}
// ANCHOR_END: nwgm

// ANCHOR: reg_l0
/// REG-L0: ‖w‖₀ = #{j : w_j ≠ 0}, counting every non-zero entry however small (no
/// tolerance). Not a norm: ‖a·w‖₀ = ‖w‖₀ for every a ≠ 0.
pub fn l0(w: &[f64]) -> usize {
    w.iter().filter(|&&wj| wj != 0.0).count()
}

/// Σ_j |w_j|^q, which tends to ‖w‖₀ as q → 0⁺ (0^q = 0 for q > 0).
pub fn lq_sum(w: &[f64], q: f64) -> f64 {
    w.iter().map(|wj| wj.abs().powf(q)).sum()
}
// ANCHOR_END: reg_l0

// ANCHOR: reg_l1
/// REG-L1: the penalty λ‖w‖₁ = λ·Σ_j |w_j|.
pub fn l1(w: &[f64], lambda: f64) -> f64 {
    lambda * w.iter().map(|wj| wj.abs()).sum::<f64>()
}

/// A subgradient of λ|w|: λ·sign(w), with the convention 0 at w = 0 (any value in
/// [−λ, λ] is valid there).
pub fn l1_subgradient(w: f64, lambda: f64) -> f64 {
    if w > 0.0 {
        lambda
    } else if w < 0.0 {
        -lambda
    } else {
        0.0
    }
}

/// The proximal step of λ|·| with step α, soft-thresholding at t = αλ:
/// S_t(w) = sign(w)·max(|w| − t, 0) = argmin_u ½(u − w)² + t·|u|. It sets |w| ≤ t to an
/// exact 0, where a plain subgradient step w − t·sign(w) would overshoot past zero.
pub fn soft_threshold(w: f64, t: f64) -> f64 {
    if w > t {
        w - t
    } else if w < -t {
        w + t
    } else {
        0.0
    }
}
// ANCHOR_END: reg_l1

// ANCHOR: reg_l2
/// REG-L2: the penalty (λ/2)‖w‖².
pub fn l2(w: &[f64], lambda: f64) -> f64 {
    0.5 * lambda * w.iter().map(|wj| wj * wj).sum::<f64>()
}

/// The gradient of (λ/2)‖w‖², λ·w.
pub fn l2_gradient(w: f64, lambda: f64) -> f64 {
    lambda * w
}

/// One SGD step on ℓ + (λ/2)‖w‖² for a weight: w − α(∇ℓ + λw).
pub fn l2_sgd_step(w: f64, grad_loss: f64, alpha: f64, lambda: f64) -> f64 {
    w - alpha * (grad_loss + l2_gradient(w, lambda))
}

/// The same step written as weight decay: (1 − αλ)·w − α·∇ℓ. Biases are conventionally
/// not decayed (they take the plain step b − α·∇ℓ).
pub fn weight_decay_step(w: f64, grad_loss: f64, alpha: f64, lambda: f64) -> f64 {
    (1.0 - alpha * lambda) * w - alpha * grad_loss
}
// ANCHOR_END: reg_l2

// ANCHOR: reg_maxnorm
/// REG-MAXNORM: the projection after an update that keeps each hidden unit's *incoming*
/// weight vector in the ball ‖w_{·,k}‖₂ ≤ c. In C2's layout (W is J × K, `w[j][k]`) unit k's
/// incoming vector is the *column* k; it is rescaled by min(1, c/‖w_{·,k}‖₂), and columns
/// already inside the ball are left untouched.
pub fn max_norm_project(w: &mut [Vec<f64>], c: f64) {
    let k_units = w.first().map_or(0, Vec::len);
    for k in 0..k_units {
        let norm = w.iter().map(|row| row[k] * row[k]).sum::<f64>().sqrt();
        if norm > c {
            let scale = c / norm;
            for row in w.iter_mut() {
                row[k] *= scale;
            }
        }
    }
}
// ANCHOR_END: reg_maxnorm

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(entropy(0.5), std::f64::consts::LN_2);
        assert_eq!(entropy(1.0), 0.0);
        assert_eq!(binomial_coefficient(10, 5), 252.0);
        assert_eq!(binomial_coefficient(50, 25), 126_410_606_437_752.0);
        assert_eq!(expected_distinct_masks(3, 0, 0.3), 0.0);
        assert!((expected_distinct_masks(3, 1, 0.3) - 1.0).abs() < 1e-15);
        assert_eq!(soft_threshold(0.3, 0.5), 0.0);
        assert_eq!(soft_threshold(-0.7, 0.5), -0.19999999999999996);
        assert_eq!(l0(&[0.0, -0.0, 1e-300, 3.0]), 2);
    }

    #[test]
    fn masks_sum_to_one() {
        let total = expectation_over_masks(10, 0.8, |_| 1.0);
        assert!((total - 1.0).abs() < 1e-13);
    }

    #[test]
    fn ridge_prototype_value() {
        // The catalogue's prototype for EXT-DROP-RIDGE gave 8.289956880015328; its inputs are
        // not recorded, so this only pins the two sides against each other.
        let x = vec![
            vec![1.0, -0.5, 2.0],
            vec![0.3, 1.2, -1.0],
            vec![-0.7, 0.4, 0.9],
            vec![1.5, -1.1, 0.2],
        ];
        let (y, w) = ([1.0, -2.0, 0.5, 3.0], [0.4, -1.3, 0.8]);
        let lhs = dropout_regression_loss(&x, &y, &w, 0.7);
        let rhs = ridge_form(&x, &y, &w, 0.7, &ridge_gamma(&x));
        assert!((lhs - rhs).abs() < 1e-12 * lhs.abs(), "{lhs} vs {rhs}");
    }
}
