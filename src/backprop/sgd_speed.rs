//! SGD-FAST and its experiment EXP-SGD-SPEED (catalogue appendix): mini-batch SGD
//! against full-batch GD on redundant data, at equal budgets of samples processed and of
//! iterations. Mini-batches reshuffle each epoch ([`epoch_batches`]), as the catalogue says.
//! Only the catalogue's inequalities are asserted; every other number goes into the
//! evidence's detail.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{ROOM, epoch_batches, standard_normal};
use crate::claims::{Claim, Ctx, Findings, Planted, PostVerdict};
use crate::report::figure::{LinePlot, Series};

/// EXP-SGD-SPEED's setup: d = 10, 256 distinct points each repeated 16 times (N = 4096).
const D: usize = 10;
const DISTINCT: usize = 256;
const REPEATS: usize = 16;
const N: usize = DISTINCT * REPEATS;
/// The mini-batch size and the two step-size grids of the catalogue.
const M: usize = 32;
const FULL_STEPS: [f64; 4] = [0.3, 1.0, 3.0, 10.0];
const MINI_STEPS: [f64; 3] = [0.03, 0.1, 0.3];
/// Epoch budgets asserted (1) and reported (2, 5, 10).
const EPOCHS: usize = 10;

#[derive(Clone, Copy)]
enum SpeedBug {
    IterationBudget,
    FullData,
}

const SPEED_BUGS: &[(SpeedBug, Planted)] = &[
    (
        SpeedBug::IterationBudget,
        Planted::bug("the budget counted in iterations, not samples (one SGD step per \"epoch\")"),
    ),
    (
        SpeedBug::FullData,
        Planted::bug("a \"mini-batch\" trainer that uses the full data set every step"),
    ),
];

/// Logistic regression on redundant data: x ~ N(0, I_d), labels from a logistic teacher
/// w* ~ N(0, I_d), y ~ Bernoulli(σ(w*·x)); each point repeated 16 times.
struct Logistic {
    x: Vec<[f64; D]>,
    y: Vec<f64>,
}

impl Logistic {
    fn new(rng: &mut impl Rng) -> Self {
        let teacher: [f64; D] = std::array::from_fn(|_| standard_normal(rng));
        let (mut x, mut y) = (Vec::with_capacity(N), Vec::with_capacity(N));
        for _ in 0..DISTINCT {
            let xp: [f64; D] = std::array::from_fn(|_| standard_normal(rng));
            let p = sigmoid(dot(&teacher, &xp));
            let yp = if rng.random::<f64>() < p { 1.0 } else { 0.0 };
            for _ in 0..REPEATS {
                x.push(xp);
                y.push(yp);
            }
        }
        Self { x, y }
    }

    /// The training log-loss, (1/N)·Σ_i [softplus(z_i) − y_i·z_i] with z_i = w·x_i.
    fn loss(&self, w: &[f64; D]) -> f64 {
        let total: f64 = self
            .x
            .iter()
            .zip(&self.y)
            .map(|(x, y)| {
                let z = dot(w, x);
                z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z
            })
            .sum();
        total / N as f64
    }

    /// Adds the per-sample gradient (σ(w·x_i) − y_i)·x_i to `sum`, counting the call.
    fn add_gradient(&self, w: &[f64; D], i: usize, sum: &mut [f64; D], calls: &mut u64) {
        *calls += 1;
        let r = sigmoid(dot(w, &self.x[i])) - self.y[i];
        sum.iter_mut()
            .zip(&self.x[i])
            .for_each(|(s, x)| *s += r * x);
    }

    /// w ← w − η·(1/|B|)·Σ_{i∈B} ∇ℓ_i.
    fn step(&self, w: &mut [f64; D], batch: &[usize], eta: f64, calls: &mut u64) {
        let mut g = [0.0; D];
        for &i in batch {
            self.add_gradient(w, i, &mut g, calls);
        }
        let scale = eta / batch.len() as f64;
        w.iter_mut().zip(g).for_each(|(w, g)| *w -= scale * g);
    }
}

fn dot(a: &[f64; D], b: &[f64; D]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn sigmoid(z: f64) -> f64 {
    derivations::activation::sigmoid_stable(z)
}

/// One training run from w = 0: the loss after each epoch (index = epochs) and after each of
/// the first iterations (index = iterations), the curve for the figure, and the per-sample
/// gradient calls of the first epoch.
struct Trace {
    by_epoch: Vec<f64>,
    by_iteration: Vec<f64>,
    curve: Vec<(f64, f64)>,
    first_epoch_calls: u64,
}

/// Full-batch GD: one step per epoch, on all N samples.
fn full_batch(data: &Logistic, eta: f64) -> Trace {
    let mut w = [0.0; D];
    let all: Vec<usize> = (0..N).collect();
    let mut by_epoch = vec![data.loss(&w)];
    let (mut calls, mut first_epoch_calls) = (0, 0);
    for epoch in 1..=EPOCHS {
        data.step(&mut w, &all, eta, &mut calls);
        by_epoch.push(data.loss(&w));
        if epoch == 1 {
            first_epoch_calls = calls;
        }
    }
    let curve = by_epoch
        .iter()
        .enumerate()
        .map(|(e, &l)| (e as f64, l))
        .collect();
    Trace {
        by_iteration: by_epoch.clone(),
        by_epoch,
        curve,
        first_epoch_calls,
    }
}

// ANCHOR: mini_batch
/// Mini-batch SGD, M = 32, reshuffled each epoch (the shuffles come from `rng`).
fn mini_batch(data: &Logistic, eta: f64, mut rng: ChaCha8Rng, bug: Option<SpeedBug>) -> Trace {
    let mut w = [0.0; D];
    let steps_per_epoch = match bug {
        Some(SpeedBug::IterationBudget) => 1,
        _ => N / M,
    };
    let mut batches = Vec::new().into_iter();
    let (mut by_epoch, mut by_iteration) = (vec![data.loss(&w)], vec![data.loss(&w)]);
    let mut curve = vec![(0.0, data.loss(&w))];
    let (mut calls, mut first_epoch_calls) = (0, 0);
    for step in 1..=EPOCHS * steps_per_epoch {
        let batch = batches.next().unwrap_or_else(|| {
            batches = epoch_batches(N, M, &mut rng).into_iter();
            batches.next().expect("N ≥ M")
        });
        let batch = match bug {
            Some(SpeedBug::FullData) => (0..N).collect(),
            _ => batch,
        };
        data.step(&mut w, &batch, eta, &mut calls);
        if step <= 5 {
            by_iteration.push(data.loss(&w));
        }
        if step % 8 == 0 {
            curve.push((step as f64 / steps_per_epoch as f64, data.loss(&w)));
        }
        if step % steps_per_epoch == 0 {
            by_epoch.push(data.loss(&w));
            if step == steps_per_epoch {
                first_epoch_calls = calls;
            }
        }
    }
    Trace {
        by_epoch,
        by_iteration,
        curve,
        first_epoch_calls,
    }
}
// ANCHOR_END: mini_batch

/// Both grids trained on one data set; `best(k)` picks the lowest loss of each grid.
struct Speed {
    full: Vec<Trace>,
    mini: Vec<Trace>,
}

impl Speed {
    fn run(ctx: &Ctx, bug: Option<SpeedBug>) -> Self {
        let mut rng = ctx.rng();
        let data = Logistic::new(&mut rng);
        rng.set_stream(1); // the shuffles: the same for every step size
        let full = FULL_STEPS
            .iter()
            .map(|&eta| full_batch(&data, eta))
            .collect();
        let mini = MINI_STEPS
            .iter()
            .map(|&eta| mini_batch(&data, eta, rng.clone(), bug))
            .collect();
        Self { full, mini }
    }

    /// (index of the best step size, its loss) at `at` in `pick`.
    fn best(traces: &[Trace], pick: impl Fn(&Trace) -> f64) -> (usize, f64) {
        traces
            .iter()
            .map(pick)
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |b, (i, l)| if l < b.1 { (i, l) } else { b },
            )
    }

    fn full_at(&self, epochs: usize) -> f64 {
        Self::best(&self.full, |t| t.by_epoch[epochs]).1
    }

    fn mini_at(&self, epochs: usize) -> f64 {
        Self::best(&self.mini, |t| t.by_epoch[epochs]).1
    }

    /// The per-epoch table for the report.
    fn table(&self) -> String {
        [1, 2, 5, 10]
            .iter()
            .map(|&e| {
                format!(
                    "{e} ep: mini {:.4} vs full {:.4}",
                    self.mini_at(e),
                    self.full_at(e)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Loss against samples processed, the best step size of each grid at one epoch.
    fn figure(&self) -> LinePlot {
        let (fi, _) = Self::best(&self.full, |t| t.by_epoch[1]);
        let (mi, _) = Self::best(&self.mini, |t| t.by_epoch[1]);
        LinePlot {
            file_stem: "backprop-sgd-speed".into(),
            title: "EXP-SGD-SPEED: logistic regression, N = 4096 (256 points × 16)".into(),
            x_label: "samples processed / N (epochs)".into(),
            y_label: "training log-loss".into(),
            series: vec![
                Series {
                    name: format!("mini-batch SGD, M = 32, η = {}", MINI_STEPS[mi]),
                    points: self.mini[mi].curve.clone(),
                },
                Series {
                    name: format!("full-batch GD, η = {}", FULL_STEPS[fi]),
                    points: self.full[fi].curve.clone(),
                },
            ],
        }
    }

    /// The evidence both claims share: the sample count and the per-sample comparison.
    fn per_sample(&self, f: &mut Findings) {
        let calls = self
            .mini
            .iter()
            .map(|t| t.first_epoch_calls)
            .max()
            .unwrap_or(0);
        f.bound(
            "|per-sample gradients in one mini-batch epoch − N|",
            (calls as f64 - N as f64).abs(),
            0.0,
            1,
            "an epoch is N samples processed, by definition of the equal budget",
        );
        f.experiment(
            "best mini-batch loss after 1 epoch + 0.02 < best full-batch loss after 1 epoch",
            self.mini_at(1) + 0.02,
            self.full_at(1),
            self.table(),
        );
    }
}

// ANCHOR: exp_sgd_speed
/// Refuted in our setting: the honest first run misses the catalogue's margin (see the
/// report's numbers), so it is recorded as "not supported in this setting", never tuned.
pub(super) fn exp_sgd_speed() -> Claim {
    Claim::refuted(
        "EXP-SGD-SPEED",
        ROOM,
        "experiment → SGD-FAST",
        "logistic regression (d = 10, x ~ N(0, I), teacher w* ~ N(0, I), 256 points × 16, w₀ = 0): \
         at an equal budget of 1 epoch the best mini-batch SGD (M = 32, η ∈ {0.03, 0.1, 0.3}) \
         beats the best full-batch GD (η ∈ {0.3, 1, 3, 10}) by ≥ 0.02 in training log-loss — \
         not supported in this setting: mini-batch is ahead, by less than 0.02",
        PostVerdict::Experiment,
        |_control, ctx| {
            let speed = Speed::run(ctx, None);
            let mut f = Findings::default();
            speed.per_sample(&mut f);
            f.figures.push(speed.figure());
            f
        },
    )
}
// ANCHOR_END: exp_sgd_speed

// ANCHOR: sgd_fast
pub(super) fn sgd_fast() -> Claim {
    Claim::checked(
        "SGD-FAST",
        ROOM,
        "§训练方法",
        "per iteration, full-batch GD is at least as good as mini-batch SGD (each of its steps \
         processes N samples, not M); per sample processed, mini-batch SGD is ahead early on \
         redundant data, but in EXP-SGD-SPEED's setting by less than the catalogue's 0.02 \
         (reported, see EXP-SGD-SPEED)",
        PostVerdict::Imprecise,
        SPEED_BUGS,
        |bug, ctx| {
            let speed = Speed::run(ctx, bug);
            let mut f = Findings::default();
            let calls = speed
                .mini
                .iter()
                .map(|t| t.first_epoch_calls)
                .max()
                .unwrap_or(0);
            f.bound(
                "|per-sample gradients in one mini-batch epoch − N|",
                (calls as f64 - N as f64).abs(),
                0.0,
                1,
                "an epoch is N samples processed, by definition of the equal budget",
            );
            for k in [1, 2, 5] {
                let full = Speed::best(&speed.full, |t| t.by_iteration[k]).1;
                let mini = Speed::best(&speed.mini, |t| t.by_iteration[k]).1;
                f.experiment(
                    format!(
                        "per iteration: best full-batch loss after {k} steps < best mini-batch"
                    ),
                    full,
                    mini,
                    format!("per sample processed (reported): {}", speed.table()),
                );
            }
            f
        },
    )
}
// ANCHOR_END: sgd_fast
