//! The depth experiment (EXP-XAV-DEPTH, EXP-XAV-DEEP): per-layer statistics of the
//! pre-activations, the activations and the backpropagated δ = ∂L/∂IN of a freshly
//! initialised network, from real forward and backward passes of [`crate::backprop`].
//!
//! Setup (CLAIMS.md §12): inputs x ~ N(0, I), a batch of them as the columns of a matrix;
//! the backward pass is driven by a probe: the targets are set to y = ŷ − s·p/2 with
//! p ~ N(0, 1), so that the loss gradient at the output, 2(ŷ − y), is s·p. The scale
//! s = max(1, rms(ŷ)) keeps ŷ − y representable in f32 when the outputs explode (with s = 1
//! and |ŷ| ~ 1e10 it would round to 0); the backward pass is linear in that gradient, so the
//! reported δ mean squares are divided by s², as for a unit probe.

use nalgebra::DMatrix;
use rand::RngCore;

use super::init::Init;
use super::kernel;
use crate::activation::Activation;
use crate::backprop::{Dense, Network};
use crate::error::Result;

/// What one pass measured, layer by layer (index l − 1 for layer l = 1..L of the network;
/// layer l maps J_l units to J_{l+1}).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DepthProfile {
    /// Mean square of the input batch x.
    pub input_ms: f64,
    /// Mean of (IN − b)² over units and batch: the pre-activation variance q_l (C5).
    pub pre_ms: Vec<f64>,
    /// Mean of O.
    pub out_mean: Vec<f64>,
    /// Mean of O².
    pub out_ms: Vec<f64>,
    /// Fraction of units with |O| > 0.99 (saturated tanh or sigmoid units).
    pub saturated: Vec<f64>,
    /// Mean of f'(IN)², the local slopes the backward pass multiplies by.
    pub slope_ms: Vec<f64>,
    /// Mean of δ² = (∂L/∂IN)² (empty without a backward pass).
    pub delta_ms: Vec<f64>,
    /// Histogram of O per layer over `HIST_BINS` equal bins of the requested range (empty if
    /// none was requested); values outside the range are not counted.
    pub histograms: Vec<Vec<u64>>,
}

impl DepthProfile {
    /// The average of several profiles of independent networks of one shape (histograms
    /// summed): the per-network fluctuations of a deep network are mostly common to the
    /// whole batch (they come from its weights), so averaging networks is what estimates the
    /// expectation the variance formulas speak of. Each per-layer series is averaged over
    /// the profiles that have it (a forward-only profile has no `delta_ms`).
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
        }
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
        p.pre_ms.push(mean_square(z.as_slice()));
        let o = outputs[l + 1].as_slice();
        p.out_mean
            .push(o.iter().map(|&v| f64::from(v)).sum::<f64>() / o.len() as f64);
        p.out_ms.push(mean_square(o));
        let saturated = o.iter().filter(|v| v.abs() > 0.99).count();
        p.saturated.push(saturated as f64 / o.len() as f64);
        slopes.resize(o.len(), 0.0);
        layer.activation.derivative_from_output(o, &mut slopes)?;
        p.slope_ms.push(mean_square(&slopes));
        if let Some((lo, hi)) = hist {
            p.histograms.push(histogram(o, lo, hi));
        }
    }
    if backward {
        let s2 = scale * scale;
        p.delta_ms = ws
            .deltas()
            .iter()
            .map(|d| mean_square(d.as_slice()) / s2)
            .collect();
    }
    Ok(p)
}

/// Mean of v² in f64.
pub fn mean_square(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / v.len() as f64
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
