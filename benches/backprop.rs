//! One SGD training step of a 784-1024-1024-10 tanh network at batch 256, f32.
//!
//! Group `backprop/peak`:
//! - `fma`: the compute limit of one core, a loop of independent fused multiply-adds on
//!   vectors held in registers (no memory traffic); `Throughput::Elements` is its FLOPs
//!   (2 per lane per FMA), so the steps below read as a fraction of it.
//!
//! Group `backprop/step`:
//! - `simd/784-1024-1024-10x256`: [`Network::train_step`] (forward, backward, SGD update) on
//!   one thread;
//! - `simd-2t/784-1024-1024-10x256`: the same step with the workspace set to two threads;
//! - `products/784-1024-1024-10x256`: the step's matrix products alone through faer on one
//!   thread (what the step calls, on the same shapes, nothing else);
//! - `products-2t/784-1024-1024-10x256`: the same products through faer on two threads, as
//!   the two-thread step calls them: `products-2t ÷ products` is how far the GEMM library
//!   itself scales on the machine in that run; the products are nearly all of the step's
//!   time, so `simd-2t ÷ simd` can hardly exceed it;
//! - `products-matrixmultiply/784-1024-1024-10x256`: the same products through nalgebra's
//!   `gemm` (`matrixmultiply`), the step's GEMM before issue 11, for comparison.
//!
//! All set `Throughput::Elements` to the step's floating-point operations in its products,
//! 2·J_in·J_out·M per product (forward, weight gradient, and the input gradient of every
//! layer but the first), so criterion's elements/s read as FLOP/s and their ratio is the
//! fraction of the step spent outside the products.
//!
//! Group `backprop/literal`: the f64 literal derivation (per-sample loops, eqs (1)–(17)) on
//! a 4-8-8-1 network at batch 16, for scale.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dnn_proofs::activation::Activation;
use dnn_proofs::backprop::{Dense, Network, Threads};
use dnn_proofs::simd::{F32s, LANES};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::{DMatrix, DMatrixView, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const WIDTHS: [usize; 4] = [784, 1024, 1024, 10];
const BATCH: usize = 256;

fn random_matrix(rows: usize, cols: usize, scale: f32, rng: &mut ChaCha8Rng) -> DMatrix<f32> {
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-scale..scale))
}

fn network(rng: &mut ChaCha8Rng) -> Network {
    let n = WIDTHS.len() - 1;
    let layers = WIDTHS
        .windows(2)
        .enumerate()
        .map(|(i, w)| Dense {
            // Xavier-uniform bound, so tanh units are neither saturated nor linear.
            weights: random_matrix(w[0], w[1], (6.0 / (w[0] + w[1]) as f32).sqrt(), rng),
            bias: DVector::zeros(w[1]),
            activation: if i + 1 == n {
                Activation::Identity
            } else {
                Activation::Tanh
            },
        })
        .collect();
    Network::new(layers).expect("widths chain")
}

/// Floating-point operations in the step's products.
fn product_flops() -> u64 {
    let per_layer = |i: usize| 2 * (WIDTHS[i] * WIDTHS[i + 1] * BATCH) as u64;
    let layers = WIDTHS.len() - 1;
    // forward + weight gradient for every layer, input gradient for all but the first.
    (0..layers).map(|i| 2 * per_layer(i)).sum::<u64>() + (1..layers).map(per_layer).sum::<u64>()
}

fn transposed(m: &DMatrix<f32>) -> DMatrixView<'_, f32, nalgebra::Dyn, nalgebra::Dyn> {
    DMatrixView::from_slice_with_strides(m.as_slice(), m.ncols(), m.nrows(), m.nrows(), 1)
}

/// Independent FMA chains: more than latency × issue width (4 cycles × 2 per cycle on the
/// machines this was tuned on), so the loop is bound by the FMA units' throughput.
const CHAINS: usize = 12;
/// FMAs per chain per call.
const ROUNDS: usize = 4096;

/// The compute limit: `CHAINS` accumulators x ← x·m + a, held in registers.
fn peak(c: &mut Criterion) {
    let mut group = c.benchmark_group("backprop/peak");
    group.throughput(Throughput::Elements((2 * LANES * CHAINS * ROUNDS) as u64));
    // m < 1: every chain converges to a/(1 − m) ≈ 1, far from overflow and subnormals.
    let (m, a) = (F32s::splat(0.999), F32s::splat(0.001));
    group.bench_function("fma", |b| {
        b.iter(|| {
            let (m, a) = (black_box(m), black_box(a));
            let mut acc = [F32s::ONE; CHAINS];
            for _ in 0..ROUNDS {
                for x in &mut acc {
                    *x = x.mul_add(m, a);
                }
            }
            black_box(acc)
        })
    });
    group.finish();
}

fn faer_view(m: &DMatrix<f32>) -> MatRef<'_, f32> {
    MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols())
}

/// C ← A·B through faer with parallelism `par`, as the step's kernel calls it.
fn faer_product(c: &mut DMatrix<f32>, a: MatRef<'_, f32>, b: MatRef<'_, f32>, par: Par) {
    let (rows, cols) = c.shape();
    let c = MatMut::from_column_major_slice_mut(c.as_mut_slice(), rows, cols);
    matmul(c, Accum::Replace, a, b, 1.0, par);
}

fn step(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(784);
    let mut net = network(&mut rng);
    let x = random_matrix(WIDTHS[0], BATCH, 1.0, &mut rng);
    let y = random_matrix(WIDTHS[3], BATCH, 1.0, &mut rng);
    let mut ws = net.workspace(BATCH);

    let mut group = c.benchmark_group("backprop/step");
    group.throughput(Throughput::Elements(product_flops()));
    group.measurement_time(Duration::from_secs(8));
    group.sample_size(40);
    let id = "784-1024-1024-10x256";

    // A tiny learning rate keeps the weights (and so the tanh regime) where they started.
    group.bench_function(format!("simd/{id}"), |b| {
        b.iter(|| black_box(net.train_step(&x, &y, 1e-7, &mut ws).expect("shapes")))
    });
    let two = Threads::new(2).expect("2 ≥ 1");
    let mut ws2 = net.workspace(BATCH).with_threads(two);
    group.bench_function(format!("simd-2t/{id}"), |b| {
        b.iter(|| black_box(net.train_step(&x, &y, 1e-7, &mut ws2).expect("shapes")))
    });

    // The same products on the same shapes, and nothing else.
    let weights: Vec<DMatrix<f32>> = net.layers().iter().map(|l| l.weights.clone()).collect();
    let mut acts: Vec<DMatrix<f32>> = WIDTHS
        .iter()
        .map(|&j| random_matrix(j, BATCH, 1.0, &mut rng))
        .collect();
    let mut deltas: Vec<DMatrix<f32>> = WIDTHS[1..]
        .iter()
        .map(|&j| random_matrix(j, BATCH, 1.0, &mut rng))
        .collect();
    let mut grads: Vec<DMatrix<f32>> = weights
        .iter()
        .map(|w| DMatrix::zeros(w.nrows(), w.ncols()))
        .collect();
    let parallel = [
        ("products", Par::Seq),
        ("products-2t", Par::rayon(two.get())),
    ];
    for (name, par) in parallel {
        group.bench_function(format!("{name}/{id}"), |b| {
            b.iter(|| {
                for (l, w) in weights.iter().enumerate() {
                    let (inputs, rest) = acts.split_at_mut(l + 1);
                    let (w, input) = (faer_view(w).transpose(), faer_view(&inputs[l]));
                    faer_product(&mut rest[0], w, input, par);
                }
                for l in (0..weights.len()).rev() {
                    let (a, d) = (faer_view(&acts[l]), faer_view(&deltas[l]));
                    faer_product(&mut grads[l], a, d.transpose(), par);
                    if l > 0 {
                        let (below, at) = deltas.split_at_mut(l);
                        let (w, d) = (faer_view(&weights[l]), faer_view(&at[0]));
                        faer_product(&mut below[l - 1], w, d, par);
                    }
                }
                black_box(&grads);
            })
        });
    }
    group.bench_function(format!("products-matrixmultiply/{id}"), |b| {
        b.iter(|| {
            for (l, w) in weights.iter().enumerate() {
                let (inputs, rest) = acts.split_at_mut(l + 1);
                rest[0].gemm(1.0, &transposed(w), &inputs[l], 0.0);
            }
            for l in (0..weights.len()).rev() {
                grads[l].gemm(1.0, &acts[l], &transposed(&deltas[l]), 0.0);
                if l > 0 {
                    let (below, at) = deltas.split_at_mut(l);
                    below[l - 1].gemm(1.0, &weights[l], &at[0], 0.0);
                }
            }
            black_box(&grads);
        })
    });
    group.finish();
}

/// The literal f64 derivation (per-sample loops of eqs (1)–(17)) on a small network, for
/// scale: one SGD step (17) of a 4-8-8-1 tanh network on a batch of 16.
fn literal(c: &mut Criterion) {
    use derivations::backprop as spec;
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let widths = [4, 8, 8];
    let net = spec::Network::from_fn(&widths, &[spec::Activation::Tanh; 2], || {
        rng.random_range(-1.0..1.0)
    })
    .expect("fixed widths and activations fit");
    let batch: Vec<spec::Sample> = (0..16)
        .map(|_| {
            (
                (0..4).map(|_| rng.random_range(-1.0..1.0)).collect(),
                rng.random_range(-1.0..1.0),
            )
        })
        .collect();
    // Products as in `product_flops`, with the output unit as a third layer of width 1.
    let dims = [4, 8, 8, 1];
    let flops: u64 = (0..3)
        .map(|i| 4 * (dims[i] * dims[i + 1] * 16) as u64)
        .sum::<u64>()
        - 2 * (dims[0] * dims[1] * 16) as u64;
    let mut group = c.benchmark_group("backprop/literal");
    group.throughput(Throughput::Elements(flops));
    group.bench_function("f64/4-8-8-1x16", |b| {
        b.iter(|| black_box(spec::eq17_sgd_update(&net, &batch, 1e-3)))
    });
    group.finish();
}

criterion_group!(benches, peak, step, literal);
criterion_main!(benches);
