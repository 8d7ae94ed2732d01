//! The layer-by-layer predictions with their standard errors that the depth claims
//! (XAV-MOTIVE, XAV-LIN-18, XAV-DEEP), the assumptions and the depth experiments share, each
//! measured on real forward (and backward) passes of `backprop::Network`.
//!
//! **Predictions and their standard errors.** Given a layer's input O_l (J_l units × M batch
//! columns), the units of the next layer are independent: unit k sees its own column of W.
//! With Gaussian weights of variance v, column m of IN_l = W_lᵀO_l is N(0, q_m) unit by unit,
//! q_m = v·Σ_i O_{i,m}² = J_l·v·ms(O_{·,m}). So, *given O_l*:
//! - the linear step: E[ms(IN_l)] = J_l·v·ms(O_l) exactly;
//! - the activation step: E[ms(f(IN_l))] = mean_m g(q_m), g(q) = E[f(√q·z)²] (the q-map);
//! - the backward step (mean-field, XAV-ASSUME (c)): E[ms(δ_l)] = J_{l+2}·v_{l+1}·
//!   mean_m χ(q_m)·ms(δ_{l+1, ·,m}), χ(q) = E[f'(√q·z)²];
//!
//! and each observed mean square is an average of J independent per-unit values, whose spread
//! gives its standard error ([`unit_mean_and_se`]) — honest even when the batch columns are
//! correlated, as they are after many layers or after a ReLU. Uniform weights make IN a sum of
//! J non-Gaussian terms with fourth cumulant κ₄ = −1.2·q_m²·Σ_i O⁴/(Σ_i O²)² ≈ −3.6·q²/J; the
//! predictions add its Edgeworth term κ₄/24·E[h''''] ([`GaussianMoments`]).
//!
//! Over several layers the steps' residuals are martingale differences, so the variance of a
//! trajectory's log deviation is the sum of the levels' variances, each propagated through the
//! map's log-slope λ = q·g'(q)/g(q) (< 1 for tanh: the q-map contracts). The catalogue's q-map
//! trajectory ignores that the M columns have different q_m; the resulting finite-width offset
//! Σ ln(mean_m g(q_m)/g(mean_m q_m)), computed from the measured columns, is added to the
//! prediction ([`Layers::trajectory`]), and so are two second-order terms: the log of an
//! average lies below the log of its expectation by half its relative variance
//! ([`Pred::centre`]), and the map's curvature acts on the trajectory's own spread.
//!
//! **Calibration.** Over 300 base seeds at the CI budget the z statistics of the z-tests
//! built on these predictions (XAV-LIN-18, XAV-DEEP's three, EXT-MEANFIELD-TANH) have means
//! within 0.12 of 0 and SDs 0.95–1.04 (XAV-MOTIVE's and XAV-RELU's, over 200: |mean| ≤ 0.07,
//! SD ≤ 1.06): N(0, 1) within the sampling error of such a check (±0.06 on the mean, ±4% on
//! the SD); before the centring, the 30-layer ReLU test sat at mean −0.63.

use super::stream;
use crate::activation::Activation;
use crate::claims::{Ctx, Label};
use crate::stats::{TestOutcome, normal_cdf, normal_two_sided_p};
use crate::xavier::experiment::{
    self, DepthProfile, GaussianMoments, gaussian_moments, unit_mean_and_se,
};
use crate::xavier::init::{Fans, Init};

/// One configuration: a network of `widths` with `activation` layers, weights from `init`
/// and every bias `bias`; with the backward pass if `backward`. The predictions use the
/// variances of `model` (the initialiser the claim speaks of) when set, else of `init`: a
/// planted initialiser draws the weights, the claim's formula predicts.
#[derive(Clone, Copy)]
pub(super) struct Sim<'a> {
    pub widths: &'a [usize],
    pub activation: Activation,
    pub init: Init,
    pub model: Option<Init>,
    pub bias: f32,
    pub backward: bool,
    pub hist: Option<(f32, f32)>,
}

impl<'a> Sim<'a> {
    /// Zero biases, forward only, no histograms.
    pub fn new(widths: &'a [usize], activation: Activation, init: Init) -> Self {
        Self {
            widths,
            activation,
            init,
            model: None,
            bias: 0.0,
            backward: false,
            hist: None,
        }
    }

    /// Predictions from `model`'s variances (the weights still come from `init`).
    pub fn predicted_by(self, model: Init) -> Self {
        Self {
            model: Some(model),
            ..self
        }
    }

    /// With the backward pass from a N(0, 1) probe.
    pub fn backward(self) -> Self {
        Self {
            backward: true,
            ..self
        }
    }

    /// One fresh network on the claim's stream `part`, profiled on a batch of `batch`.
    pub fn run(&self, ctx: &Ctx, part: u64, batch: usize) -> Layers {
        let mut rng = stream(ctx, part);
        let net = experiment::network(self.widths, self.activation, self.init, self.bias, &mut rng)
            .expect("valid widths and initialiser");
        let p = experiment::profile(&net, batch, self.backward, self.hist, &mut rng)
            .expect("shapes fit");
        let dist = |l: usize| {
            self.model
                .unwrap_or(self.init)
                .distribution(Fans::new(self.widths[l], self.widths[l + 1]).expect("non-zero"))
                .expect("valid initialiser")
        };
        let layers = self.widths.len() - 1;
        Layers {
            p,
            activation: self.activation,
            bias: f64::from(self.bias),
            fwd: (0..layers)
                .map(|l| self.widths[l] as f64 * dist(l).variance())
                .collect(),
            bwd: (0..layers)
                .map(|l| self.widths[l + 1] as f64 * dist(l).variance())
                .collect(),
            kurtosis: (0..layers).map(|l| dist(l).excess_kurtosis()).collect(),
            act: std::cell::OnceCell::new(),
            bwd_steps: std::cell::OnceCell::new(),
        }
    }
}

/// One network's profile with what its weights were drawn for.
#[derive(Clone)]
pub(super) struct Layers {
    pub p: DepthProfile,
    pub activation: Activation,
    pub bias: f64,
    /// J_l·Var(W_l): the forward gain of the linear step of layer l.
    pub fwd: Vec<f64>,
    /// J_{l+1}·Var(W_l): its backward gain.
    pub bwd: Vec<f64>,
    /// The excess kurtosis of W_l's entries (−1.2 uniform, 0 normal).
    pub kurtosis: Vec<f64>,
    /// Per layer, once computed: E[ms(f(IN_l)) | O_l] and g(E[ms(IN_l) | O_l]).
    act: std::cell::OnceCell<Vec<(f64, f64)>>,
    /// Once computed: every backward step's prediction.
    bwd_steps: std::cell::OnceCell<Vec<Pred>>,
}

/// A prediction for one measured mean square, judged on the log scale:
/// ln(observed/predicted), centred, against `se`, the standard error of ln(observed) (the
/// per-unit SE of the observed mean divided by it).
#[derive(Debug, Clone)]
pub(super) struct Pred {
    pub what: Label,
    pub observed: f64,
    pub predicted: f64,
    pub se: f64,
    /// E[ln(observed/predicted)] under the claim, to second order: each layer's observed mean
    /// square X (of expectation μ, relative variance v) has E[ln(X/μ)] = −v/2, weighted by its
    /// coefficient in the prediction. A 30-layer ReLU trajectory at width 128 has se ≈ 0.9,
    /// so about −0.4 in ln: without it the test would lean to one side.
    pub centre: f64,
}

impl Pred {
    /// ln(observed/predicted) − centre: the relative error on the log scale, centred.
    pub fn dev(&self) -> f64 {
        (self.observed / self.predicted).ln() - self.centre
    }

    /// The slack of the prediction at `z` standard errors: z·se − |dev| (> 0: it held).
    pub fn slack(&self, z: f64) -> f64 {
        z * self.se - self.dev().abs()
    }
}

/// The variance map of a statement under test: q ↦ (g(q), g'(q)) without the gain.
pub(super) type Map<'m> = &'m dyn Fn(f64) -> (f64, f64);

impl Layers {
    /// Layers in the network.
    pub fn depth(&self) -> usize {
        self.fwd.len()
    }

    /// The column variances q_m of IN_l given O_l and their fourth cumulants κ₄.
    fn columns(&self, l: usize) -> impl Iterator<Item = (f64, f64)> + '_ {
        let (gain, exk) = (self.fwd[l], self.kurtosis[l]);
        self.p.in_cols[l]
            .iter()
            .zip(&self.p.in_kurt[l])
            .map(move |(&ms, &kurt)| {
                let q = gain * ms;
                (q, exk * kurt * q * q)
            })
    }

    fn moments(&self, q: f64) -> GaussianMoments {
        gaussian_moments(self.activation, q, self.bias)
    }

    /// E[ms(IN_l) | O_l] = J_l·Var(W_l)·ms(O_l).
    fn linear_mean(&self, l: usize) -> f64 {
        self.fwd[l] * mean(&self.p.in_cols[l])
    }

    /// E[ms(f(IN_l)) | O_l] = mean_m (g(q_m) + κ₄/24·E[(f²)'''']), and the mean-field
    /// g(E[ms(IN_l) | O_l]) the q-map uses instead; computed once per layer.
    fn activation_means(&self, l: usize) -> (f64, f64) {
        self.act.get_or_init(|| {
            (0..self.depth())
                .map(|l| {
                    let a = mean_of(self.columns(l).map(|(q, k4)| {
                        let m = self.moments(q);
                        m.g + correction(k4, m.g4)
                    }));
                    (a, self.moments(self.linear_mean(l)).g)
                })
                .collect()
        })[l]
    }

    /// The backward step at layer l < L − 1: ms(δ_l) against J_{l+2}·Var(W_{l+1})·
    /// mean_m χ(q_m)·ms(δ_{l+1,·,m}).
    pub fn backward(&self, l: usize) -> Pred {
        self.backward_steps()[l].clone()
    }

    /// Every backward step, computed once.
    fn backward_steps(&self) -> &[Pred] {
        self.bwd_steps.get_or_init(|| {
            (0..self.depth().saturating_sub(1))
                .map(|l| {
                    let next = &self.p.delta_cols[l + 1];
                    let predicted = self.bwd[l + 1]
                        * mean_of(self.columns(l).zip(next).map(|((q, k4), &d)| {
                            let m = self.moments(q);
                            (m.chi + correction(k4, m.chi4)) * d
                        }));
                    let (observed, se) = unit_mean_and_se(&self.p.delta_rows[l]);
                    let se = se / observed;
                    Pred {
                        what: Label::from(format!(
                            "layer {}: E[δ²] = J_next·Var(W_next)·E[f'²]·E[δ_next²]",
                            l + 1
                        ))
                        .markdown(format!(
                            r"layer {}: $\mathbb{{E}}[\delta^2] = J_{{\text{{next}}}}\, \mathrm{{Var}}(W_{{\text{{next}}}})\, \mathbb{{E}}[f'^2]\, \mathbb{{E}}[\delta_{{\text{{next}}}}^2]$",
                            l + 1
                        )),
                        observed,
                        predicted,
                        se,
                        centre: -se * se / 2.0,
                    }
                })
                .collect()
        })
    }

    /// The backward gain from layer b down to layer a (a < b): ms(δ_a)/ms(δ_b) against the
    /// product of the one-step predictions (their log deviations add).
    pub fn backward_span(&self, a: usize, b: usize) -> Pred {
        let steps = &self.backward_steps()[a..b];
        let observed = self.p.delta_ms[a] / self.p.delta_ms[b];
        // The steps' log deviations add, and so do their variances and centres.
        let dev: f64 = steps.iter().map(|s| (s.observed / s.predicted).ln()).sum();
        Pred {
            what: Label::from(format!(
                "E[δ_{}²]/E[δ_{}²] = Π of the backward factors",
                a + 1,
                b + 1
            ))
            .markdown(format!(
                r"$\mathbb{{E}}[\delta_{{{}}}^2]/\mathbb{{E}}[\delta_{{{}}}^2] = \prod$ of the backward factors",
                a + 1,
                b + 1
            )),
            observed,
            predicted: observed / dev.exp(),
            se: steps.iter().map(|s| s.se * s.se).sum::<f64>().sqrt(),
            centre: steps.iter().map(|s| s.centre).sum(),
        }
    }

    /// The fraction of saturated units (|O| > 0.99) at layer l against
    /// mean_m P(|√q_m·z| > atanh 0.99) (Gaussian weights).
    pub fn saturation(&self, l: usize) -> Pred {
        let c = 0.99f64.atanh();
        let predicted = mean_of(
            self.columns(l)
                .map(|(q, _)| 2.0 * normal_cdf(-c / q.sqrt())),
        );
        let (observed, se) = unit_mean_and_se(&self.p.saturated_rows[l]);
        let se = se / observed;
        Pred {
            what: Label::from(format!(
                "layer {}: fraction |O| > 0.99 = P(|IN| > atanh 0.99)",
                l + 1
            ))
            .markdown(format!(
                r"layer {}: fraction $\lvert O \rvert > 0.99$ $= P(\lvert IN \rvert > \operatorname{{atanh}} 0.99)$",
                l + 1
            )),
            observed,
            predicted,
            se,
            centre: -se * se / 2.0,
        }
    }

    /// The trajectory of the statement's map: from the measured q_from (or, with `None`,
    /// from the input: Q_0 = J_0·Var(W_0)·ms(x)) through Q_{l+1} = J·Var(W)·g(Q_l) to
    /// layer `to`, against ms(IN_to) — or, with `out`, against ms(O_{to+1}) = g(Q_to).
    ///
    /// With n_l the linear step's and a_l the activation step's log residual at level l,
    /// and D_l = ln E[q_l | O_l] − ln Q_l, to first order D_{l+1} = a_l + β_l + λ_l·D_l,
    /// β_l = ln(mean_m g(q_m)/g(mean_m q_m)) + ½·μ_l·Var(D_l) the finite-width offset (the
    /// columns' spread, and the map's curvature μ = dλ/d ln q on D's spread); D_from = −n_from
    /// (the start is measured), D_0 = 0 from the input; the final deviation is n_to + D_to
    /// (a_to + β_to + λ_to·D_to with `out`). The offsets are added to the prediction; each
    /// level's residual is a per-unit combination whose spread gives its variance.
    pub fn trajectory(&self, from: Option<usize>, to: usize, out: bool, map: Map) -> Pred {
        self.trajectories(from, &[to], out, map).remove(0)
    }

    /// [`Layers::trajectory`] to each layer of `tos`, with the map's trajectory computed once.
    pub fn trajectories(
        &self,
        from: Option<usize>,
        tos: &[usize],
        out: bool,
        map: Map,
    ) -> Vec<Pred> {
        let start = from.unwrap_or(0);
        let top = tos.iter().copied().max().unwrap_or(start);
        // The map's trajectory Q_l, g(Q_l) and log-slope λ_l at levels start..=top, and the
        // finite-width offsets β_l.
        let mut q = match from {
            Some(a) => self.p.pre_ms[a],
            None => self.linear_mean(0),
        };
        let (mut qs, mut gs, mut lambda, mut bias) = (vec![], vec![], vec![], vec![]);
        // The map's log-slope at q, and its derivative in ln q (the map's curvature on the log
        // scale), by a central difference of step 0.01 in ln q.
        let slope = |q: f64| {
            let (g, dg) = map(q);
            q * dg / g
        };
        let curvature = |q: f64| {
            let h = 0.01f64;
            (slope(q * h.exp()) - slope(q * (-h).exp())) / (2.0 * h)
        };
        // Var(D_l), D_l = ln E[q_l | O_l] − ln Q_l: 0 from the input, Var(n_start) from a
        // measured start; then D_{l+1} = a_l + λ_l·D_l (+ offsets), the level-l innovation a_l
        // independent of D_l except at the measured start, where D_start = −n_start shares
        // the units.
        let rel = |rows: &[f64], mean: f64| variance_of_mean(rows.iter().map(|v| v / mean));
        let mut var_d = if from.is_some() {
            rel(&self.p.pre_rows[start], self.p.pre_ms[start])
        } else {
            0.0
        };
        for l in start..=top {
            let (g, dg) = map(q);
            let lam = q * dg / g;
            qs.push(q);
            gs.push(g);
            lambda.push(lam);
            // The finite-width offset: the columns' spread (and the weights' fourth
            // cumulant), and the map's curvature acting on D_l's spread: E[ln F(Q·e^D)] =
            // ln F(Q) + λ·E[D] + ½·μ·Var(D), μ = dλ/d ln q.
            let (a, mean_field) = self.activation_means(l);
            let mu = if lam == 1.0 { 0.0 } else { curvature(q) };
            bias.push((a / mean_field).ln() + 0.5 * mu * var_d);
            let (ez, ea) = (self.p.pre_ms[l], self.p.out_ms[l]);
            var_d = if from.is_some() && l == start {
                let (pre, out) = (&self.p.pre_rows[l], &self.p.out_rows[l]);
                variance_of_mean(pre.iter().zip(out).map(|(z, o)| o / ea - lam * z / ez))
            } else {
                rel(&self.p.out_rows[l], ea) + lam * lam * var_d
            };
            if l < top {
                q = self.fwd[l + 1] * g;
            }
        }
        tos.iter()
            .map(|&to| {
                // The map's steps that reach the target: levels start..=last.
                let last = if out { to as isize } else { to as isize - 1 };
                // Π_{i=l+1}^{last} λ_i for level l.
                let tail = |l: usize| -> f64 {
                    ((l + 1) as isize..=last)
                        .map(|i| lambda[i as usize - start])
                        .product()
                };
                let mut offset = 0.0;
                let (mut var, mut centre) = (0.0, 0.0);
                for l in start..=to {
                    let inside = l as isize <= last;
                    let c_out = if inside { tail(l) } else { 0.0 };
                    let mut c_pre = if l == to && !out { 1.0 } else { 0.0 };
                    if from.is_some() && l == start && inside {
                        c_pre -= lambda[0] * tail(l);
                    }
                    if inside {
                        offset += bias[l - start] * tail(l);
                    }
                    if c_pre == 0.0 && c_out == 0.0 {
                        continue;
                    }
                    // Relative to the observed means: the SE of ln(observed).
                    let (ez, ea) = (self.p.pre_ms[l], self.p.out_ms[l]);
                    let (pre, out) = (&self.p.pre_rows[l], &self.p.out_rows[l]);
                    let unit = pre
                        .iter()
                        .zip(out)
                        .map(|(z, o)| c_pre * z / ez + c_out * o / ea);
                    var += variance_of_mean(unit);
                    centre -= (c_pre * variance_of_mean(pre.iter().map(|z| z / ez))
                        + c_out * variance_of_mean(out.iter().map(|o| o / ea)))
                        / 2.0;
                }
                let (observed, predicted) = if out {
                    (self.p.out_ms[to], gs[to - start])
                } else {
                    (self.p.pre_ms[to], qs[to - start])
                };
                let (what, typeset) = match out {
                    false => (format!("q_{}", to + 1), format!("$q_{{{}}}$", to + 1)),
                    true => (
                        format!("E[O_{}²]", to + 1),
                        format!(r"$\mathbb{{E}}[O_{{{}}}^2]$", to + 1),
                    ),
                };
                let what = match from {
                    Some(a) => {
                        Label::from(format!("{what} on the map from the measured q_{}", a + 1))
                            .markdown(format!(
                                "{typeset} on the map from the measured $q_{{{}}}$",
                                a + 1
                            ))
                    }
                    None => Label::from(format!("{what} on the map from the input"))
                        .markdown(format!("{typeset} on the map from the input")),
                };
                Pred {
                    what,
                    observed,
                    predicted: predicted * offset.exp(),
                    se: var.sqrt(),
                    centre,
                }
            })
            .collect()
    }
}

/// The squared standard error of the mean of independent values: s²/n (divisor n − 1).
fn variance_of_mean(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    let m = sum / n as f64;
    let ss: f64 = values.map(|v| (v - m) * (v - m)).sum();
    ss / (n as f64 - 1.0) / n as f64
}

/// The Edgeworth term κ₄/24·E[h''''] (0 when κ₄ = 0, whatever E[h''''] is).
fn correction(k4: f64, h4: f64) -> f64 {
    if k4 == 0.0 { 0.0 } else { k4 / 24.0 * h4 }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn mean_of(it: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = it.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    s / n as f64
}

/// The map of our activation (g and g' from [`gaussian_moments`]).
pub(super) fn our_map(activation: Activation, bias: f64) -> impl Fn(f64) -> (f64, f64) {
    move |q| {
        let m = gaussian_moments(activation, q, bias);
        (m.g, m.dg)
    }
}

/// q_1..q_n on `map` with gain J·Var(W) = `gain` from q_1.
pub(super) fn map_sequence(map: Map, gain: f64, q1: f64, n: usize) -> Vec<f64> {
    let mut q = vec![q1];
    while q.len() < n {
        let next = gain * map(q[q.len() - 1]).0;
        q.push(next);
    }
    q
}

/// Several independent networks' deviations of one prediction, pooled: the mean deviation
/// and its standard error √(Σ se²)/R.
pub(super) fn pooled(preds: &[Pred]) -> (f64, f64) {
    let r = preds.len() as f64;
    let dev = preds.iter().map(Pred::dev).sum::<f64>() / r;
    let se = preds.iter().map(|p| p.se * p.se).sum::<f64>().sqrt() / r;
    (dev, se)
}

/// The z-test of a pooled deviation (mean ln(observed/predicted) over R networks) against 0:
/// two-sided normal p; a NaN deviation or standard error gives an invalid outcome.
pub(super) fn z_outcome(dev: f64, se: f64, n: u64) -> TestOutcome {
    let z = dev / se;
    TestOutcome {
        test: "two-sided z-test (per-unit standard error)",
        statistic: z,
        n,
        p_value: normal_two_sided_p(z),
    }
}

/// Units behind a profile's statistics (for the report's n).
pub(super) fn units(widths: &[usize], networks: usize) -> u64 {
    (widths[1..].iter().sum::<usize>() * networks) as u64
}

/// The prediction with the least slack at `z` standard errors (for the report).
pub(super) fn worst(preds: &[Pred], z: f64) -> Option<&Pred> {
    preds
        .iter()
        .min_by(|a, b| a.slack(z).total_cmp(&b.slack(z)))
}

/// The minimum slack over predictions at `z` standard errors (NaN if any is NaN).
pub(super) fn worst_slack<'p>(preds: impl IntoIterator<Item = &'p Pred>, z: f64) -> f64 {
    preds.into_iter().fold(f64::INFINITY, |acc, p| {
        let s = p.slack(z);
        if s.is_nan() || acc.is_nan() {
            f64::NAN
        } else {
            acc.min(s)
        }
    })
}
