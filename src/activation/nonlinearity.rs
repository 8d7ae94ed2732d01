//! ACT-ROLE and EXP-ACT-NONLIN: without a non-linear activation, depth adds nothing.
//!
//! Networks follow CLAIMS.md C1–C2: W_i is J_i × J_{i+1} and IN_{i+1} = W_iᵀ·O_i + b_{i+1}.

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use super::Activation;
use crate::claims::{
    Claim, Ctx, Findings, IDENTITY_TOL, MaxError, Planted, PostVerdict, Tally, identity_error,
};
use derivations::activation as spec;

/// The one planted bug of both claims: the activation enum defaults to `Identity`, so the
/// network called "tanh" is affine.
#[derive(Clone, Copy)]
enum Bug {
    DefaultsToIdentity,
}

const BUGS: &[(Bug, Planted)] = &[(
    Bug::DefaultsToIdentity,
    Planted::bug("activation defaults to Identity: the \"tanh\" network is affine"),
)];

/// The hidden activation of the network under test.
fn hidden(bug: Option<Bug>) -> (Activation, fn(f64) -> f64) {
    match bug {
        None => (Activation::Tanh, spec::tanh_stable),
        Some(Bug::DefaultsToIdentity) => (Activation::Identity, |x| x),
    }
}

/// A dense f64 network (C1–C2) with one activation on every layer after the input.
struct Net {
    weights: Vec<DMatrix<f64>>,
    biases: Vec<DVector<f64>>,
}

impl Net {
    fn random(widths: &[usize], rng: &mut impl Rng) -> Self {
        let weights = widths
            .windows(2)
            .map(|w| DMatrix::from_fn(w[0], w[1], |_, _| rng.random_range(-1.0..1.0)))
            .collect();
        let biases = widths[1..]
            .iter()
            .map(|&j| DVector::from_fn(j, |_, _| rng.random_range(-1.0..1.0)))
            .collect();
        Self { weights, biases }
    }

    fn forward(&self, x: &DVector<f64>, f: fn(f64) -> f64) -> DVector<f64> {
        self.weights
            .iter()
            .zip(&self.biases)
            .fold(x.clone(), |o, (w, b)| (w.transpose() * o + b).map(f))
    }

    /// The collapsed affine map of the identity-activation network: O_n = A·x + c with
    /// A = W_{n−1}ᵀ⋯W_1ᵀ and c the image of x = 0.
    fn collapse(&self) -> (DMatrix<f64>, DVector<f64>) {
        let a = self.weights.iter().fold(
            DMatrix::identity(self.weights[0].nrows(), self.weights[0].nrows()),
            |a, w| w.transpose() * a,
        );
        let c = self.forward(&DVector::zeros(self.weights[0].nrows()), |x| x);
        (a, c)
    }
}

/// XOR's four points as columns, and targets {0, 1}.
fn xor() -> (DMatrix<f64>, [f64; 4]) {
    (
        DMatrix::from_column_slice(2, 4, &[0., 0., 0., 1., 1., 0., 1., 1.]),
        [0., 1., 1., 0.],
    )
}

/// The hand-set 2-2-1 network of ACT-ROLE, hidden layer through our fused f32 kernel
/// `activation(z + b)`: h1 = f(10(x1+x2−0.5)), h2 = f(10(x1+x2−1.5)), ŷ = (h1 − h2)/2.
/// Returns ŷ on the four XOR points.
fn hand_set_xor(act: Activation) -> [f64; 4] {
    let (x, _) = xor();
    let mut z: Vec<f32> = x
        .column_iter()
        .flat_map(|c| [10.0 * (c[0] + c[1]) as f32; 2])
        .collect();
    act.forward_with_bias(&mut z, &[-5.0, -15.0])
        .expect("columns of 2");
    std::array::from_fn(|i| f64::from(z[2 * i] - z[2 * i + 1]) / 2.0)
}

// ANCHOR: act_role
pub(super) fn act_role() -> Claim {
    Claim::checked(
        "ACT-ROLE",
        "activation",
        "§激励函数",
        "with f = identity a network is one affine map (depth adds nothing) and cannot fit XOR \
         (best affine MSE 0.25); a 2-2-1 tanh network solves XOR and tanh networks are not affine",
        PostVerdict::Correct,
        BUGS,
        |bug, ctx| {
            let (act, f64_act) = hidden(bug);
            let mut rng = ctx.rng();
            let mut f = Findings::default();

            // 1. An identity network on non-square widths equals its collapsed affine map.
            let mut e = MaxError::default();
            for _ in 0..ctx.size(200, 5_000) {
                let net = Net::random(&[3, 5, 2, 4, 1], &mut rng);
                let (a, c) = net.collapse();
                let x = DVector::from_fn(3, |_, _| rng.random_range(-3.0..3.0));
                e.record(
                    identity_error(net.forward(&x, |x| x)[0], (a * &x + c)[0]),
                    0.0,
                );
            }
            f.max_error(
                "identity 3-5-2-4-1 network = its collapsed affine map",
                &e,
                IDENTITY_TOL,
                "a handful of f64 products and sums of O(1) terms",
            );

            // 2. The best affine least-squares fit to XOR has MSE exactly 1/4.
            let (x, y) = xor();
            let design = DMatrix::from_fn(4, 3, |r, c| if c == 2 { 1.0 } else { x[(c, r)] });
            let target = DVector::from_row_slice(&y);
            let fit = design
                .clone()
                .svd(true, true)
                .solve(&target, 1e-14)
                .expect("full-rank design");
            let mse = (design * fit - &target).norm_squared() / 4.0;
            f.bound(
                "|best affine MSE on XOR − 1/4|",
                (mse - 0.25).abs(),
                IDENTITY_TOL,
                4,
                "a 4×3 least-squares solve via SVD, errors ~10 ε",
            );

            // 3. The hand-set tanh network solves XOR (f32 kernel, fused bias).
            let yhat = hand_set_xor(act);
            let err = yhat
                .iter()
                .zip(y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            f.bound("hand-set 2-2-1 network: max |ŷ − y| on XOR", err, 1.0 - 5f64.tanh() + 1e-6, 4, "the exact error is 1 − tanh 5 ≈ 9.08e-5 (attained at (1,0)); f32 kernel rounding adds < 1e-6");

            // 4. Non-affinity: second differences of a random network vanish iff it is affine.
            let mut t = Tally::default();
            for _ in 0..ctx.size(200, 5_000) {
                let net = Net::random(&[3, 5, 2, 4, 1], &mut rng);
                let x = DVector::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
                let h = DVector::from_fn(3, |_, _| rng.random_range(-0.5..0.5));
                let g = |v: &DVector<f64>| net.forward(v, f64_act)[0];
                let d2 = g(&(&x + &h)) + g(&(&x - &h)) - 2.0 * g(&x);
                // An affine map gives |d2| ~ 1e-15 (rounding); 1e-9 is far above that and
                // far below a tanh network's curvature at these step sizes.
                t.check(d2.abs() > 1e-9, || format!("second difference {d2:e}"));
            }
            f.tally(
                "random 3-5-2-4-1 network is not affine (second difference ≠ 0)",
                t,
            );
            f
        },
    )
}

// ANCHOR_END: act_role

pub(super) fn exp_act_nonlin() -> Claim {
    Claim::checked(
        "EXP-ACT-NONLIN",
        "activation",
        "experiment → ACT-ROLE",
        "XOR: a 5-layer identity network trained by gradient descent never goes below MSE \
         0.25 − 1e-12; the hand-set 2-2-1 tanh network reaches MSE < 1e-7",
        PostVerdict::Experiment,
        BUGS,
        |bug, ctx| {
            let (act, _) = hidden(bug);
            let mut f = Findings::default();
            let lowest = train_linear_xor(ctx, ctx.size(2_000, 20_000));
            f.experiment(
                "0.25 − lowest MSE of a trained 2-3-4-3-1 identity network",
                0.25 - lowest,
                1e-12,
                format!("lowest MSE {lowest:.15}"),
            );
            let (_, y) = xor();
            let mse = hand_set_xor(act)
                .iter()
                .zip(y)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / 4.0;
            f.experiment(
                "MSE of the hand-set tanh network on XOR",
                mse,
                1e-7,
                "the catalogue computes 5.2e-9 in f64",
            );
            f
        },
    )
}

/// Full-batch gradient descent on XOR for a 2-3-4-3-1 identity-activation network
/// (squared loss, mean over the 4 points); returns the lowest MSE seen.
fn train_linear_xor(ctx: &Ctx, steps: usize) -> f64 {
    let mut rng = ctx.rng();
    let mut net = Net::random(&[2, 3, 4, 3, 1], &mut rng);
    let (x, y) = xor();
    let target = DMatrix::from_row_slice(1, 4, &y);
    let lr = 0.05;
    let mut lowest = f64::INFINITY;
    for _ in 0..steps {
        // Forward, keeping every layer's output (columns are samples).
        let mut outs = vec![x.clone()];
        for (w, b) in net.weights.iter().zip(&net.biases) {
            let z =
                w.transpose() * outs.last().expect("input") + b * DMatrix::from_element(1, 4, 1.0);
            outs.push(z);
        }
        let diff = outs.last().expect("output") - &target;
        lowest = lowest.min(diff.norm_squared() / 4.0);
        // Backward (f' = 1): δ_n = 2(ŷ − y)/4, ∂W_i = O_i·δ_{i+1}ᵀ, δ_i = W_i·δ_{i+1}.
        let mut delta = diff * 0.5;
        for i in (0..net.weights.len()).rev() {
            let gw = &outs[i] * delta.transpose();
            let gb = delta.column_sum();
            delta = &net.weights[i] * &delta;
            net.weights[i] -= gw * lr;
            net.biases[i] -= gb * lr;
        }
    }
    lowest
}
