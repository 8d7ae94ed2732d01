//! TRAIN-LOOP (catalogue appendix; the post's §参数训练流程): the post's four-step training procedure, on
//! least squares, where the descent lemma's constant is known exactly.

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use super::ROOM;
use crate::claims::{
    Claim, Findings, IDENTITY_TOL, Label, MaxError, Planted, PostVerdict, Tally, identity_error,
};

/// Least squares L(w) = ‖Xw − y‖², X of N × d: TRAIN-LOOP's test problem. Its Hessian is
/// 2XᵀX, so the descent lemma's constant is λ_max(2XᵀX).
struct LeastSquares {
    x: DMatrix<f64>,
    y: DVector<f64>,
}

impl LeastSquares {
    fn random(rng: &mut impl Rng) -> Self {
        let n = rng.random_range(3..=24);
        let d = rng.random_range(1..=6);
        Self {
            x: DMatrix::from_fn(n, d, |_, _| rng.random_range(-1.0..1.0)),
            y: DVector::from_fn(n, |_, _| rng.random_range(-2.0..2.0)),
        }
    }

    fn loss(&self, w: &DVector<f64>) -> f64 {
        (&self.x * w - &self.y).norm_squared()
    }

    /// λ_max of the Hessian 2XᵀX.
    fn smoothness(&self) -> f64 {
        let h = self.x.transpose() * &self.x * 2.0;
        h.symmetric_eigenvalues().max()
    }

    /// The minimum loss (least-squares solve by SVD).
    fn min_loss(&self) -> f64 {
        let w = self
            .x
            .clone()
            .svd(true, true)
            .solve(&self.y, 1e-12)
            .expect("SVD with both factors");
        self.loss(&w)
    }
}

/// TRAIN-LOOP's step cap.
const MAX_STEPS: usize = 500;

#[derive(Clone, Copy)]
enum LoopBug {
    StaleLoss,
    SkippedForward,
}

/// What one run of the training loop reports.
struct Run {
    /// (parameters, loss) as the loop saw them at each forward pass.
    seen: Vec<(DVector<f64>, f64)>,
    /// The parameters it returns and the loss it reports for them.
    w: DVector<f64>,
    loss: f64,
}

// ANCHOR: train_loop_procedure
/// The post's four-step procedure (§参数训练流程) on least squares:
/// (1) initialise w; (2) forward: the residual r = Xw − y and the loss ‖r‖²;
/// (3) backward and update: w ← w − α·2Xᵀr; (4) stop once the loss is below `tol` (or after
/// `max_steps` updates), else back to (2). The stopping rule reads the loss of the *current*
/// parameters: the forward pass (2) that follows every update.
fn train(
    p: &LeastSquares,
    w0: DVector<f64>,
    alpha: f64,
    tol: f64,
    max_steps: usize,
    bug: Option<LoopBug>,
) -> Run {
    let mut w = w0; // (1)
    let mut seen = Vec::new();
    let mut r = &p.x * &w - &p.y; // (2)
    for step in 0..=max_steps {
        if step > 0 && !matches!(bug, Some(LoopBug::SkippedForward)) {
            r = &p.x * &w - &p.y; // (2) again, after every update
        }
        let loss = r.norm_squared();
        seen.push((w.clone(), loss));
        let done = loss < tol || step == max_steps;
        if done && !matches!(bug, Some(LoopBug::StaleLoss)) {
            return Run { seen, w, loss }; // (4) on the current parameters
        }
        w -= p.x.transpose() * &r * (2.0 * alpha); // (3)
        if done {
            // Planted (stale loss): (4) placed after (3) but reading the loss of (2).
            return Run { seen, w, loss };
        }
    }
    unreachable!("the loop returns at step max_steps at the latest")
}
// ANCHOR_END: train_loop_procedure

// ANCHOR: train_loop
pub(super) fn train_loop() -> Claim {
    Claim::checked(
        "TRAIN-LOOP",
        ROOM,
        "§参数训练流程",
        "the loop re-runs the forward pass after every update and judges the stopping rule on the \
         current parameters; on least squares with α < 2/λ (λ = λ_max of the Hessian) every GD \
         step lowers the loss by at least α(1 − αλ/2)‖∇‖² (descent lemma)",
        PostVerdict::Correct,
        &[
            (
                LoopBug::StaleLoss,
                Planted::bug("stale loss: the stopping rule reads the loss from before the update"),
            ),
            (
                LoopBug::SkippedForward,
                Planted::bug("the forward pass skipped after an update"),
            ),
        ],
        |bug, ctx| {
            let mut rng = ctx.rng();
            let (mut fresh, mut stop, mut descent) =
                (MaxError::default(), Tally::default(), MaxError::default());
            for _ in 0..ctx.size(100, 1_000) {
                let p = LeastSquares::random(&mut rng);
                let w0 = DVector::from_fn(p.x.ncols(), |_, _| rng.random_range(-2.0..2.0));
                let lambda = p.smoothness();
                let alpha = rng.random_range(0.05..0.95) * 2.0 / lambda;
                let (l0, l_min) = (p.loss(&w0), p.min_loss());
                // Stop halfway down: reached in a few steps, never at the start.
                let tol = l_min + 0.5 * (l0 - l_min);
                let run = train(&p, w0, alpha, tol, MAX_STEPS, bug);
                // (i) Every loss the loop saw is the loss of the parameters it saw it with.
                for (w, loss) in &run.seen {
                    fresh.record(identity_error(*loss, p.loss(w)), *loss);
                }
                // (ii) The stopping rule: the reported loss is that of the returned
                // parameters, and the loop stopped at the first iterate below tol.
                let actual = p.loss(&run.w);
                let first_below = run.seen.iter().position(|(_, l)| *l < tol);
                let last = run.seen.len() - 1;
                let stopped_right = match first_below {
                    Some(t) => t == last,
                    None => last == MAX_STEPS, // ran out of steps without reaching tol
                };
                stop.check(
                    identity_error(run.loss, actual) <= IDENTITY_TOL && stopped_right,
                    || {
                        format!(
                            "reported {:.6e}, actual {actual:.6e}, tol {tol:.6e}",
                            run.loss
                        )
                    },
                );
                // (iii) Descent lemma on every step the loop took.
                for pair in run.seen.windows(2) {
                    let (w, l) = (&pair[0].0, p.loss(&pair[0].0));
                    let g = p.x.transpose() * (&p.x * w - &p.y) * 2.0;
                    let guaranteed = alpha * (1.0 - alpha * lambda / 2.0) * g.norm_squared();
                    // Losses are sums of ≤ 24 squares: rounding ≤ 1e-12·max(1, L) covers it.
                    let excess = pair[1].1 - (l - guaranteed);
                    descent.record(excess / (1e-12 * l.max(1.0)), l);
                }
            }
            let mut f = Findings::default();
            f.max_error(
                Label::from("|loss seen − loss of the parameters seen| (forward after every update)").markdown(r"$\lvert \text{loss seen} - \text{loss of the parameters seen} \rvert$ (forward after every update)"),
                &fresh,
                IDENTITY_TOL,
                "the same sum of squares evaluated twice: equal up to a few roundings",
            );
            f.tally("stopping rule judged on the current parameters", stop);
            f.max_error(
                Label::from("descent lemma: (L(w_{t+1}) − L(w_t) + α(1 − αλ/2)‖∇‖²) / (1e-12·max(1, L))").markdown(r"descent lemma: $(L(w_{t+1}) - L(w_t) + \alpha(1 - \alpha\lambda/2) \lVert \nabla \rVert^2) / (10^{-12} \max(1, L))$"),
                &descent,
                1.0,
                "α ∈ (0.05, 0.95)·2/λ_max: the exact quadratic expansion gives L(w_{t+1}) ≤ L(w_t) \
                 − α(1 − αλ/2)‖∇‖²; 1e-12 relative absorbs the rounding of ≤ 24-term sums",
            );
            f
        },
    )
    .typeset(r"the loop re-runs the forward pass after every update and judges the stopping rule on the current parameters; on least squares with $\alpha < 2/\lambda$ ($\lambda = \lambda_{\max}$ of the Hessian) every GD step lowers the loss by at least $\alpha(1 - \alpha\lambda/2) \lVert \nabla \rVert^2$ (descent lemma)")
}
// ANCHOR_END: train_loop
