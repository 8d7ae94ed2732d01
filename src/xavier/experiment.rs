//! The depth experiment (EXP-XAV-DEPTH, EXP-XAV-DEEP): per-layer statistics of the
//! pre-activations, the activations and the backpropagated δ = ∂L/∂IN of a freshly
//! initialised network, from real forward and backward passes of [`crate::backprop`].
//!
//! Setup (catalogue appendix, EXP-XAV-DEPTH): inputs x ~ N(0, I), a batch of them as the
//! columns of a matrix; the backward pass is driven by a probe: the targets are set to
//! y = ŷ − s·p/2 with p ~ N(0, 1), so that the loss gradient at the output, 2(ŷ − y), is s·p.
//! The scale s = max(1, rms(ŷ)) keeps ŷ − y representable in f32 when the outputs explode
//! (with s = 1 and |ŷ| ~ 1e10 it would round to 0); the backward pass is linear in that
//! gradient, so the reported δ mean squares are divided by s², as for a unit probe.
//!
//! **Why per unit and per column.** A layer's mean square is an average over J units and M
//! batch columns, but those J·M entries are not independent: the columns of one network share
//! its weights, and after a few layers (or after a ReLU, whose outputs share a positive mean)
//! they are strongly correlated. What *is* independent, given the layer below, is the units:
//! unit k of layer l + 1 sees its own column of weights. So a profile records, per layer, the
//! mean square of every unit over the batch (whose spread gives an honest standard error,
//! [`unit_mean_and_se`]) and the mean square of every batch column of the layer's input (which
//! fixes the exact conditional law of the next pre-activations for Gaussian weights: column m
//! of `Wᵀ·O` is N(0, J·Var(W)·ms(O_{·,m})) unit by unit).

use nalgebra::DMatrix;
use rand::RngCore;

use super::init::Init;
use super::kernel;
use crate::activation::Activation;
use crate::backprop::{Dense, Network};
use crate::error::Result;

/// What one pass measured, layer by layer (index l for network layer l = 0..L−1, which maps
/// O_l, with J_l units, to IN_l and O_{l+1}, with J_{l+1} units; O_0 = x).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DepthProfile {
    /// Mean square of the input batch x.
    pub input_ms: f64,
    /// Mean of (IN − b)² over units and batch: the pre-activation variance q_l (C5).
    pub pre_ms: Vec<f64>,
    /// Per unit of layer l: the mean over the batch of (IN − b)² (J_{l+1} values).
    pub pre_rows: Vec<Vec<f64>>,
    /// Per batch column of layer l's *input* O_l: its mean square over the J_l units (M values;
    /// `in_cols[0]` is the input x).
    pub in_cols: Vec<Vec<f64>>,
    /// Per batch column of O_l: Σ_i O_{i,m}⁴/(Σ_i O_{i,m}²)², which scales the fourth cumulant
    /// of the next pre-activations (3/J for Gaussian O, 1/J for constant |O|).
    pub in_kurt: Vec<Vec<f64>>,
    /// Mean of O.
    pub out_mean: Vec<f64>,
    /// Mean of O².
    pub out_ms: Vec<f64>,
    /// Per unit: the mean over the batch of O².
    pub out_rows: Vec<Vec<f64>>,
    /// Fraction of units with |O| > 0.99 (saturated tanh or sigmoid units).
    pub saturated: Vec<f64>,
    /// Per unit: the fraction of the batch with |O| > 0.99.
    pub saturated_rows: Vec<Vec<f64>>,
    /// Mean of f'(IN)², the local slopes the backward pass multiplies by.
    pub slope_ms: Vec<f64>,
    /// Mean of δ² = (∂L/∂IN)² (empty without a backward pass).
    pub delta_ms: Vec<f64>,
    /// Per unit: the mean over the batch of δ² (empty without a backward pass).
    pub delta_rows: Vec<Vec<f64>>,
    /// Per batch column: the mean of δ² over the layer's units (empty without a backward pass).
    pub delta_cols: Vec<Vec<f64>>,
    /// Histogram of O per layer over `HIST_BINS` equal bins of the requested range (empty if
    /// none was requested); values outside the range are not counted.
    pub histograms: Vec<Vec<u64>>,
}

impl DepthProfile {
    /// The average of several profiles of independent networks of one shape (histograms
    /// summed), for figures: each per-layer series is averaged over the profiles that have it
    /// (a forward-only profile has no `delta_ms`). The per-unit and per-column records are
    /// left empty: units of different networks do not share a layer below, so their spread
    /// is not a standard error of anything.
    ///
    /// # Panics
    /// If `profiles` is empty or the profiles have different depths.
    pub fn mean(profiles: &[DepthProfile]) -> DepthProfile {
        let n = profiles.len() as f64;
        let avg = |get: fn(&DepthProfile) -> &Vec<f64>| -> Vec<f64> {
            let with: Vec<&Vec<f64>> = profiles.iter().map(get).filter(|v| !v.is_empty()).collect();
            let len = with.first().map_or(0, |v| v.len());
            (0..len)
                .map(|l| with.iter().map(|v| v[l]).sum::<f64>() / with.len() as f64)
                .collect()
        };
        let histograms = (0..profiles[0].histograms.len())
            .map(|l| {
                (0..HIST_BINS)
                    .map(|b| profiles.iter().map(|p| p.histograms[l][b]).sum())
                    .collect()
            })
            .collect();
        DepthProfile {
            input_ms: profiles.iter().map(|p| p.input_ms).sum::<f64>() / n,
            pre_ms: avg(|p| &p.pre_ms),
            out_mean: avg(|p| &p.out_mean),
            out_ms: avg(|p| &p.out_ms),
            saturated: avg(|p| &p.saturated),
            slope_ms: avg(|p| &p.slope_ms),
            delta_ms: avg(|p| &p.delta_ms),
            histograms,
            ..DepthProfile::default()
        }
    }

    /// Every recorded number finite (a network whose signal overflowed f32 has ∞ or NaN
    /// somewhere): the count of non-finite values over all series.
    pub fn nonfinite(&self) -> usize {
        let series = [
            &self.pre_ms,
            &self.out_ms,
            &self.out_mean,
            &self.saturated,
            &self.slope_ms,
            &self.delta_ms,
        ];
        let nested = [
            &self.pre_rows,
            &self.in_cols,
            &self.in_kurt,
            &self.out_rows,
            &self.saturated_rows,
            &self.delta_rows,
            &self.delta_cols,
        ];
        usize::from(!self.input_ms.is_finite())
            + series
                .iter()
                .flat_map(|s| s.iter())
                .filter(|v| !v.is_finite())
                .count()
            + nested
                .iter()
                .flat_map(|s| s.iter().flatten())
                .filter(|v| !v.is_finite())
                .count()
    }
}

/// Bins of [`DepthProfile::histograms`].
pub const HIST_BINS: usize = 40;

/// A network of `activation` layers with widths `widths` (J_1, J_2, …, J_{L+1}), weights
/// from `init` and every bias equal to `bias` (0 in the derivation, XAV-ASSUME).
pub fn network<R: RngCore + ?Sized>(
    widths: &[usize],
    activation: Activation,
    init: Init,
    bias: f32,
    rng: &mut R,
) -> Result<Network> {
    let layers = widths
        .windows(2)
        .map(|w| {
            let mut d: Dense = init.dense(w[0], w[1], activation, rng)?;
            d.bias.fill(bias);
            Ok(d)
        })
        .collect::<Result<Vec<_>>>()?;
    Network::new(layers)
}

/// Runs a batch of `batch` inputs x ~ N(0, I) forward through `net` (and backward from a
/// N(0, 1) probe when `backward`), and measures every layer. `hist` is the range of the
/// activation histograms, if wanted.
pub fn profile<R: RngCore + ?Sized>(
    net: &Network,
    batch: usize,
    backward: bool,
    hist: Option<(f32, f32)>,
    rng: &mut R,
) -> Result<DepthProfile> {
    let widths = net.widths();
    let mut x = DMatrix::zeros(widths[0], batch);
    kernel::fill_normal(x.as_mut_slice(), 1.0, rng)?;
    let mut ws = net.workspace(batch);
    let mut scale = 1.0f64;
    if backward {
        let y_hat = net.forward(&x, &mut ws)?.clone();
        let mut probe = DMatrix::zeros(y_hat.nrows(), batch);
        kernel::fill_normal(probe.as_mut_slice(), 1.0, rng)?;
        scale = mean_square(y_hat.as_slice()).sqrt().max(1.0);
        let y = y_hat - probe * (0.5 * scale as f32);
        net.backward(&x, &y, &mut ws)?;
    } else {
        net.forward(&x, &mut ws)?;
    }
    let mut p = DepthProfile {
        input_ms: mean_square(x.as_slice()),
        ..DepthProfile::default()
    };
    let outputs = ws.outputs();
    let mut z = DMatrix::zeros(0, 0);
    let mut slopes = Vec::new();
    for (l, layer) in net.layers().iter().enumerate() {
        // IN − b = Wᵀ·O_{l−1}, from an explicit (contiguous) transpose: one copy of W,
        // small next to the product. (A strided Wᵀ view is not safe in nalgebra 0.34's
        // gemm when a dimension is 5 or less: its fallback loop then writes out of bounds.)
        z.resize_mut(layer.fan_out(), batch, 0.0);
        z.gemm(1.0, &layer.weights.transpose(), &outputs[l], 0.0);
        p.in_cols.push(column_mean_squares(&outputs[l], 1.0));
        p.in_kurt.push(column_kurtosis(&outputs[l]));
        let rows = row_mean_squares(&z, 1.0);
        p.pre_ms.push(mean(&rows));
        p.pre_rows.push(rows);
        let out = &outputs[l + 1];
        let o = out.as_slice();
        p.out_mean
            .push(o.iter().map(|&v| f64::from(v)).sum::<f64>() / o.len() as f64);
        let rows = row_mean_squares(out, 1.0);
        p.out_ms.push(mean(&rows));
        p.out_rows.push(rows);
        let mut sat = vec![0.0; out.nrows()];
        for column in out.column_iter() {
            for (s, v) in sat.iter_mut().zip(column.iter()) {
                if v.abs() > 0.99 {
                    *s += 1.0 / batch as f64;
                }
            }
        }
        p.saturated.push(mean(&sat));
        p.saturated_rows.push(sat);
        slopes.resize(o.len(), 0.0);
        layer.activation.derivative_from_output(o, &mut slopes)?;
        p.slope_ms.push(mean_square(&slopes));
        if let Some((lo, hi)) = hist {
            p.histograms.push(histogram(o, lo, hi));
        }
    }
    if backward {
        let s2 = scale * scale;
        for d in ws.deltas() {
            let rows = row_mean_squares(d, s2);
            p.delta_ms.push(mean(&rows));
            p.delta_rows.push(rows);
            p.delta_cols.push(column_mean_squares(d, s2));
        }
    }
    Ok(p)
}

/// Mean of v² in f64.
pub fn mean_square(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / v.len() as f64
}

/// Per row (unit) of a units × batch matrix: the mean over the batch of v², divided by `div`.
fn row_mean_squares(m: &DMatrix<f32>, div: f64) -> Vec<f64> {
    let (rows, cols) = m.shape();
    let mut out = vec![0.0; rows];
    for c in 0..cols {
        for (acc, &v) in out.iter_mut().zip(m.column(c).iter()) {
            *acc += f64::from(v) * f64::from(v);
        }
    }
    let d = cols as f64 * div;
    out.iter_mut().for_each(|v| *v /= d);
    out
}

/// Per column (batch sample): the mean over the units of v², divided by `div`.
fn column_mean_squares(m: &DMatrix<f32>, div: f64) -> Vec<f64> {
    m.column_iter()
        .map(|c| mean_square(c.as_slice()) / div)
        .collect()
}

/// Per column: Σ v⁴/(Σ v²)² in f64.
fn column_kurtosis(m: &DMatrix<f32>) -> Vec<f64> {
    m.column_iter()
        .map(|c| {
            let (s2, s4) = c.iter().fold((0.0, 0.0), |(s2, s4), &v| {
                let v2 = f64::from(v) * f64::from(v);
                (s2 + v2, s4 + v2 * v2)
            });
            s4 / (s2 * s2)
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The mean of per-unit values and its standard error sd/√n (sample SD, divisor n − 1):
/// the units of a layer are independent given the layer below, so this is the standard
/// error of the layer's mean square given that layer (NaN for fewer than two units).
pub fn unit_mean_and_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (m, (ss / (n - 1.0) / n).sqrt())
}

fn histogram(v: &[f32], lo: f32, hi: f32) -> Vec<u64> {
    let mut counts = vec![0u64; HIST_BINS];
    let scale = HIST_BINS as f32 / (hi - lo);
    for &x in v {
        let b = ((x - lo) * scale).floor();
        if (0.0..HIST_BINS as f32).contains(&b) {
            counts[b as usize] += 1;
        }
    }
    counts
}

// ANCHOR: gaussian_moments
/// Gaussian moments of an activation at pre-activation variance `q` and bias `b`: with
/// u = √q·z + b, z ~ N(0, 1),
/// - `g` = E[f(u)²], the variance map without its gain: q_{l+1} = J·Var(W)·g(q_l);
/// - `dg` = dg/dq = ½·E[(f²)''(u)] (Stein's identity), for the map's contraction;
/// - `chi` = E[f'(u)²], the backward factor without its gain (XAV-BWD-VAR corrected);
/// - `g4` = E[(f²)''''(u)] and `chi4` = E[(f'²)''''(u)]: a pre-activation that is a sum of
///   J non-Gaussian terms has a fourth cumulant κ₄ of order q²/J, which moves E[h(IN)] by
///   κ₄/24·E[h''''] (Edgeworth); these are the h'''' terms for h = f² and h = f'².
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianMoments {
    pub g: f64,
    pub dg: f64,
    pub chi: f64,
    pub g4: f64,
    pub chi4: f64,
}

/// [`GaussianMoments`] of `activation`: in closed form for the identity and the ReLU family
/// (f'(0) := α, the kernels' convention), by the trapezoidal rule for tanh and sigmoid
/// (and softsign, whose kink at 0 makes the rule only O(h²) accurate).
///
/// For the identity and the ReLU family with b = 0, `g4` and `chi4` are 0: E[f(IN)²] and
/// E[f'(IN)²] are then exact for *every* symmetric IN (ReLU(z)² + ReLU(−z)² = z²), so no
/// cumulant correction applies. For sigmoid and softsign they are not computed (NaN).
///
/// The trapezoidal rule on the whole line converges geometrically for integrands analytic in
/// a strip: tanh(√q·z + b) has its nearest poles at |Im z| = π/(2√q) (sigmoid: π/√q), so with
/// step h the error is about exp(−2π·(π/(2√q))/h) = exp(−π²/(√q·h)); h = 0.25/√q (at most 0.2)
/// makes that e^{−39}, and the range |z| ≤ 10 leaves a Gaussian tail below 1e-22. About
/// 100 nodes at q = 1: cheap enough to evaluate per batch column and layer (NaN for q above
/// 1e8 or not finite, where the rule would need too many nodes). Checked against
/// `derivations::xavier::q_map` and `chi` in `tests/xavier.rs`.
pub fn gaussian_moments(activation: Activation, q: f64, b: f64) -> GaussianMoments {
    let s = q.sqrt();
    match activation {
        Activation::Identity => GaussianMoments {
            g: q + b * b,
            dg: 1.0,
            chi: 1.0,
            g4: 0.0,
            chi4: 0.0,
        },
        Activation::Relu => leaky_moments(0.0, s, b),
        Activation::LeakyRelu(a) => leaky_moments(f64::from(a.get()), s, b),
        Activation::Tanh => trapezoid(s, b, |u| {
            let t = u.tanh();
            let (t2, d) = (t * t, 1.0 - t * t);
            // With t = tanh u and d = 1 − t² = t': f² = t², ½(f²)'' = d² − 2t²d,
            // (f²)'''' = −8d(2 − 15t² + 15t⁴); f'² = d², (d²)'''' = 8d²(7 − 80t² + 105t⁴).
            [
                t2,
                d * d - 2.0 * t2 * d,
                d * d,
                -8.0 * d * (2.0 - 15.0 * t2 + 15.0 * t2 * t2),
                8.0 * d * d * (7.0 - 80.0 * t2 + 105.0 * t2 * t2),
            ]
        }),
        Activation::Sigmoid => trapezoid(s, b, |u| {
            let y = 1.0 / (1.0 + (-u).exp());
            let d = y * (1.0 - y);
            // f'' = f'·(1 − 2y).
            [
                y * y,
                d * d + y * d * (1.0 - 2.0 * y),
                d * d,
                f64::NAN,
                f64::NAN,
            ]
        }),
        Activation::Softsign => trapezoid(s, b, |u| {
            let a = 1.0 + u.abs();
            let (y, d) = (u / a, 1.0 / (a * a));
            // f'' = −2·sign(u)/(1 + |u|)³.
            [
                y * y,
                d * d - 2.0 * y * u.signum() / (a * a * a),
                d * d,
                f64::NAN,
                f64::NAN,
            ]
        }),
    }
}
// ANCHOR_END: gaussian_moments

/// E over u = s·z + b of the five integrands of [`GaussianMoments`], given per point.
fn trapezoid(s: f64, b: f64, at: impl Fn(f64) -> [f64; 5]) -> GaussianMoments {
    const RANGE: f64 = 10.0;
    // Beyond q = 1e8 the rule would need more than 4e5 nodes: not computed (NaN), as for a
    // non-finite q.
    if !(s.is_finite() && b.is_finite() && s <= 1e4) {
        return GaussianMoments {
            g: f64::NAN,
            dg: f64::NAN,
            chi: f64::NAN,
            g4: f64::NAN,
            chi4: f64::NAN,
        };
    }
    let h = if s > 0.0 { (0.25 / s).min(0.2) } else { 0.2 };
    let n = (RANGE / h).ceil() as i64;
    let h = RANGE / n as f64;
    let mut acc = [0.0; 5];
    for k in -n..=n {
        let z = k as f64 * h;
        let w = (-0.5 * z * z).exp();
        for (a, v) in acc.iter_mut().zip(at(s * z + b)) {
            *a += w * v;
        }
    }
    let norm = h / (2.0 * std::f64::consts::PI).sqrt();
    GaussianMoments {
        g: acc[0] * norm,
        dg: acc[1] * norm,
        chi: acc[2] * norm,
        g4: acc[3] * norm,
        chi4: acc[4] * norm,
    }
}

/// Leaky ReLU with slope a: f(u)² = u² on u > 0, a²u² below; with P = Φ(b/s) and
/// E[u²; u > 0] = (s² + b²)P + b·s·φ(b/s), in closed form.
fn leaky_moments(a: f64, s: f64, b: f64) -> GaussianMoments {
    let (p, pos) = if s > 0.0 {
        let t = b / s;
        let p = crate::stats::normal_cdf(t);
        let phi = (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
        (p, (s * s + b * b) * p + b * s * phi)
    } else {
        let p = if b > 0.0 { 1.0 } else { 0.0 };
        (p, b * b * p)
    };
    let all = s * s + b * b;
    let a2 = a * a;
    let exact = if b == 0.0 { 0.0 } else { f64::NAN };
    GaussianMoments {
        g: pos + a2 * (all - pos),
        // ½(f²)'' = 1 on u > 0 and a² below.
        dg: p + a2 * (1.0 - p),
        chi: p + a2 * (1.0 - p),
        g4: exact,
        chi4: exact,
    }
}
