//! Throughput of batch normalisation (the README, "The benchmarks").
//!
//! Three kernels — the training forward, the backward pass and inference — on three shapes of
//! a features × batch f32 matrix (columns are samples):
//! - `4Ki`: 64 features × batch 64 (16 KiB, in L1);
//! - `1Mi`: 4096 features × batch 256 (4 MiB, in L3), the 256 × 4096;
//! - `16Mi`: 65536 features × batch 256 (64 MiB, twice the 32 MiB L3), the beyond-L3 size.
//!
//! Each kernel runs as three implementations:
//! - `simd`: ours, [`BatchNorm`] on one thread (one read of the data per pass over a tile
//!   held in cache), and inference also in place (`inference_in_place/simd`: x ← BN(x), which
//!   writes back the lines it read instead of fetching a separate output's lines before
//!   writing them); `simd-2t`: the same layer on two threads (`with_threads`), each taking
//!   half the features;
//! - `reference`: the literal f64 specification from `derivations`, feature by feature (each
//!   feature's m values gathered into a `Vec<f64>`, the result scattered back as f32);
//! - `scalar`: the naive per-feature f32 loop a user would write: for each feature, walk its
//!   m samples (stride F) for the mean, again for the variance, again to normalise.
//!
//! The yardstick `batch_norm/copy/memcpy/<size>` copies the same F·m floats with
//! `copy_from_slice`, measured in the same run: inference reads and writes each element once,
//! exactly what a copy does, and the training forward reads twice (once from cache here) and
//! writes once. The performance issue's targets are ratios to it measured in one run:
//! training forward ≥ 0.9 at `16Mi` and ≥ 0.55 at `1Mi`, backward ≥ 0.6 at `16Mi`,
//! inference ≥ 0.8 at `1Mi`. (Beyond the cache glibc's memcpy uses non-temporal stores, which
//! skip reading the destination's lines before writing them; safe Rust has no such store,
//! which is what the in-place inference avoids instead. Tried through `unsafe` intrinsics in
//! the layer's beyond-cache maps, on the 64-byte-aligned part of each column, those stores
//! gave no consistent gain on the machine this was tuned on, so the crate has no `unsafe`.)
//! `batch_norm/copy/memcpy-2t/<size>` is the copy on two threads (half the columns each, run
//! as the layer runs its pieces): the yardstick for `simd-2t`.
//! `batch_norm/copy/row-blocks/<size>` copies the same floats in the order the layer's in-cache
//! maps walk them (blocks of [`ROW_BLOCK`] rows, one column at a time: runs of at most that many
//! floats, 4·F bytes apart): the most a map in this layout and order could reach, so it shows how
//! much of a gap to the plain copy the order costs.
//!
//! Throughput is in elements (F·m per call). IDs are `batch_norm/<kernel>/<impl>/<size>`.
//! Run with `cargo bench --bench batch_norm` (a few minutes); `-- inference/` runs one kernel.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use derivations::batch_norm as spec;
use dnn_proofs::Threads;
use dnn_proofs::batch_norm::{BatchNorm, ROW_BLOCK, RunningStats};
use dnn_proofs::threads::run_pieces;
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (name, features, batch).
const SHAPES: [(&str, usize, usize); 3] =
    [("4Ki", 64, 64), ("1Mi", 4096, 256), ("16Mi", 65536, 256)];

const EPS: f32 = 1e-5;

/// `y ← x` for an F-row matrix, block of rows by block of rows, each block column by column:
/// the access order of the layer's in-cache maps, with nothing computed.
fn copy_in_row_blocks(x: &[f32], y: &mut [f32], f: usize) {
    for start in (0..f).step_by(ROW_BLOCK) {
        let rows = start..(start + ROW_BLOCK).min(f);
        for (yc, xc) in y.chunks_exact_mut(f).zip(x.chunks_exact(f)) {
            yc[rows.clone()].copy_from_slice(&xc[rows.clone()]);
        }
    }
}

/// Data with a different mean and spread per feature, fixed seed.
fn data(f: usize, m: usize, seed: u64) -> DMatrix<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centre: Vec<f32> = (0..f).map(|_| rng.random_range(-3.0..3.0)).collect();
    let spread: Vec<f32> = (0..f).map(|_| rng.random_range(0.5..2.0)).collect();
    DMatrix::from_fn(f, m, |k, _| {
        centre[k] + spread[k] * rng.random_range(-1.0f32..1.0)
    })
}

fn layer(f: usize) -> BatchNorm {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let gamma = (0..f).map(|_| rng.random_range(0.5..1.5)).collect();
    let beta = (0..f).map(|_| rng.random_range(-0.5..0.5)).collect();
    BatchNorm::with_affine(gamma, beta, EPS).expect("valid layer")
}

/// Feature k's m values as f64 (the reference's gather).
fn gather(x: &DMatrix<f32>, k: usize) -> Vec<f64> {
    x.row(k).iter().map(|&v| f64::from(v)).collect()
}

fn reference_train(bn: &BatchNorm, x: &DMatrix<f32>, y: &mut DMatrix<f32>) {
    for k in 0..x.nrows() {
        let yk = spec::train_forward(
            &gather(x, k),
            f64::from(bn.gamma()[k]),
            f64::from(bn.beta()[k]),
            f64::from(bn.eps()),
        );
        for (j, v) in yk.into_iter().enumerate() {
            y[(k, j)] = v as f32;
        }
    }
}

fn reference_backward(bn: &BatchNorm, x: &DMatrix<f32>, g: &DMatrix<f32>, dx: &mut DMatrix<f32>) {
    for k in 0..x.nrows() {
        let d = spec::backward(
            &gather(x, k),
            f64::from(bn.gamma()[k]),
            f64::from(bn.eps()),
            &gather(g, k),
        );
        for (j, v) in d.x.into_iter().enumerate() {
            dx[(k, j)] = v as f32;
        }
        black_box((d.gamma, d.beta));
    }
}

fn reference_inference(
    bn: &BatchNorm,
    mean: &[f64],
    var: &[f64],
    x: &DMatrix<f32>,
    y: &mut DMatrix<f32>,
) {
    let f = x.nrows();
    for (xc, yc) in x
        .as_slice()
        .chunks_exact(f)
        .zip(y.as_mut_slice().chunks_exact_mut(f))
    {
        for k in 0..f {
            let v = spec::inference_transform(
                f64::from(xc[k]),
                mean[k],
                var[k],
                f64::from(bn.gamma()[k]),
                f64::from(bn.beta()[k]),
                f64::from(bn.eps()),
            );
            yc[k] = v as f32;
        }
    }
}

/// The naive f32 loop: per feature, three strided walks over its samples.
fn scalar_train(bn: &BatchNorm, x: &DMatrix<f32>, y: &mut DMatrix<f32>) {
    let (f, m) = x.shape();
    let (xs, ys) = (x.as_slice(), y.as_mut_slice());
    for k in 0..f {
        let mut mean = 0.0f32;
        for j in 0..m {
            mean += xs[j * f + k];
        }
        mean /= m as f32;
        let mut var = 0.0f32;
        for j in 0..m {
            let d = xs[j * f + k] - mean;
            var += d * d;
        }
        var /= m as f32;
        let inv = 1.0 / (var + bn.eps()).sqrt();
        for j in 0..m {
            ys[j * f + k] = (xs[j * f + k] - mean) * inv * bn.gamma()[k] + bn.beta()[k];
        }
    }
}

/// The naive f32 backward, compact form, per feature.
fn scalar_backward(bn: &BatchNorm, x: &DMatrix<f32>, g: &DMatrix<f32>, dx: &mut DMatrix<f32>) {
    let (f, m) = x.shape();
    let (xs, gs, ds) = (x.as_slice(), g.as_slice(), dx.as_mut_slice());
    for k in 0..f {
        let mut mean = 0.0f32;
        for j in 0..m {
            mean += xs[j * f + k];
        }
        mean /= m as f32;
        let mut var = 0.0f32;
        for j in 0..m {
            let d = xs[j * f + k] - mean;
            var += d * d;
        }
        var /= m as f32;
        let inv = 1.0 / (var + bn.eps()).sqrt();
        let (mut sg, mut sgx) = (0.0f32, 0.0f32);
        for j in 0..m {
            sg += gs[j * f + k];
            sgx += gs[j * f + k] * (xs[j * f + k] - mean) * inv;
        }
        let a = bn.gamma()[k] * inv / m as f32;
        for j in 0..m {
            let h = (xs[j * f + k] - mean) * inv;
            ds[j * f + k] = a * (m as f32 * gs[j * f + k] - sg - h * sgx);
        }
        black_box((sg, sgx));
    }
}

/// The naive inference loop, per feature.
fn scalar_inference(
    bn: &BatchNorm,
    mean: &[f32],
    var: &[f32],
    x: &DMatrix<f32>,
    y: &mut DMatrix<f32>,
) {
    let (f, m) = x.shape();
    let (xs, ys) = (x.as_slice(), y.as_mut_slice());
    for k in 0..f {
        let inv = 1.0 / (var[k] + bn.eps()).sqrt();
        for j in 0..m {
            ys[j * f + k] = (xs[j * f + k] - mean[k]) * inv * bn.gamma()[k] + bn.beta()[k];
        }
    }
}

/// Short runs in cache; fewer samples beyond L3, where one call of the f64 reference takes
/// about a second.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    if n >= 16 << 20 {
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
    } else {
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
    }
    group.throughput(Throughput::Elements(n as u64));
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_norm");
    for (size, f, m) in SHAPES {
        configure(&mut group, f * m);
        let bn = layer(f);
        let x = data(f, m, 1);
        let g = data(f, m, 2);
        // Written once before timing, so no page is first touched inside the timed loop.
        let mut out = DMatrix::from_element(f, m, 1.0f32);
        let stats = bn.forward_train(&x, &mut out).expect("valid shapes");
        let mut running = RunningStats::cumulative(f);
        running.update(&stats).expect("finite statistics");
        let (mean, var) = running.values().expect("one batch averaged");
        let (mean32, var32): (Vec<f32>, Vec<f32>) = mean
            .iter()
            .zip(&var)
            .map(|(&a, &b)| (a as f32, b as f32))
            .unzip();

        group.bench_function(BenchmarkId::new("copy/memcpy", size), |b| {
            b.iter(|| black_box(out.as_mut_slice()).copy_from_slice(black_box(x.as_slice())))
        });

        group.bench_function(BenchmarkId::new("copy/row-blocks", size), |b| {
            b.iter(|| copy_in_row_blocks(black_box(x.as_slice()), black_box(out.as_mut_slice()), f))
        });

        // The copy on two threads, each copying half the columns, run as batch norm runs its
        // pieces: the two-thread yardstick.
        group.bench_function(BenchmarkId::new("copy/memcpy-2t", size), |b| {
            b.iter(|| {
                let half = f * (m / 2);
                let (low, high) = black_box(out.as_mut_slice()).split_at_mut(half);
                let (x_low, x_high) = black_box(x.as_slice()).split_at(half);
                run_pieces(vec![(low, x_low), (high, x_high)], |(to, from)| {
                    to.copy_from_slice(from)
                });
            })
        });

        let two = Threads::new(2).expect("2 ≥ 1");
        for (name, bn) in [
            ("simd", bn.clone()),
            ("simd-2t", bn.clone().with_threads(two)),
        ] {
            group.bench_function(
                BenchmarkId::new(format!("train_forward/{name}"), size),
                |b| {
                    b.iter(|| {
                        bn.forward_train(black_box(&x), black_box(&mut out))
                            .expect("valid")
                    })
                },
            );
            group.bench_function(BenchmarkId::new(format!("backward/{name}"), size), |b| {
                b.iter(|| {
                    bn.backward(black_box(&x), black_box(&g), &stats, black_box(&mut out))
                        .expect("valid")
                })
            });
            group.bench_function(BenchmarkId::new(format!("inference/{name}"), size), |b| {
                b.iter(|| {
                    bn.forward_inference(&running, black_box(&x), black_box(&mut out))
                        .expect("valid")
                })
            });
        }

        // In place, x ← BN(x), with γ = 1, β = 0 and statistics (0, 1), so that repeating it
        // (scale 1/√(1 + ε)) leaves the data's magnitude, and the timing, unchanged.
        let identity = BatchNorm::new(f, EPS).expect("valid layer");
        let unit = RunningStats::fixed(vec![0.0; f], vec![1.0; f]).expect("valid statistics");
        let mut data_in_place = x.clone();
        group.bench_function(BenchmarkId::new("inference_in_place/simd", size), |b| {
            b.iter(|| {
                identity
                    .forward_inference_in_place(&unit, black_box(&mut data_in_place))
                    .expect("valid")
            })
        });

        group.bench_function(BenchmarkId::new("train_forward/scalar", size), |b| {
            b.iter(|| scalar_train(&bn, black_box(&x), black_box(&mut out)))
        });
        group.bench_function(BenchmarkId::new("backward/scalar", size), |b| {
            b.iter(|| scalar_backward(&bn, black_box(&x), black_box(&g), black_box(&mut out)))
        });
        group.bench_function(BenchmarkId::new("inference/scalar", size), |b| {
            b.iter(|| scalar_inference(&bn, &mean32, &var32, black_box(&x), black_box(&mut out)))
        });

        group.bench_function(BenchmarkId::new("train_forward/reference", size), |b| {
            b.iter(|| reference_train(&bn, black_box(&x), black_box(&mut out)))
        });
        group.bench_function(BenchmarkId::new("backward/reference", size), |b| {
            b.iter(|| reference_backward(&bn, black_box(&x), black_box(&g), black_box(&mut out)))
        });
        group.bench_function(BenchmarkId::new("inference/reference", size), |b| {
            b.iter(|| reference_inference(&bn, &mean, &var, black_box(&x), black_box(&mut out)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
