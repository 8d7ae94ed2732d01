//! Throughput of the dropout kernels (the README, "The benchmarks").
//!
//! Two kernels, inverted dropout at keep probability p = 0.8:
//! - `forward`: draw the mask, store it, and write y = r·x/p;
//! - `backward`: g ← r·g/p from a stored mask;
//!
//! each as three implementations:
//! - `simd`: ours, [`Dropout::forward`] / [`Dropout::backward`] (counter-based generator,
//!   mask as bits);
//! - `reference`: the literal f64 derivation from the `derivations` crate, element by
//!   element (`keep(u, p)` on the same uniforms, then r·x/p in f64, rounded to f32), with the
//!   mask as one `bool` per element;
//! - `scalar`: the plain loop a user would write: one `rng.random::<f32>()` per element from
//!   `ChaCha8Rng` for the forward, a `bool` mask, y = x·(1/p) or 0.
//!
//! The yardstick `dropout/copy/memcpy/<size>` copies the same bytes (one f32 read and one
//! written per element) with `copy_from_slice`. Issue 6's target: the forward at ≥ 60% of
//! the copy's throughput at 16 Mi.
//!
//! IDs are `dropout/<kernel>/<impl>/<size>` at 4 Ki (L1), 256 Ki (L2) and 16 Mi (beyond L3)
//! elements; throughput is in elements. Run with `cargo bench --bench dropout`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use derivations::dropout as spec;
use dnn_proofs::dropout::{Dropout, KeepProb, Mask, MaskStream, Scaling};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZES: [(&str, usize); 3] = [("4Ki", 4 << 10), ("256Ki", 256 << 10), ("16Mi", 16 << 20)];

/// The keep probability (not 0.5, where keep and drop readings agree: DROP-P).
const P: f32 = 0.8;

fn dropout() -> Dropout {
    Dropout::new(
        KeepProb::new(P).expect("0.8 is in (0, 1]"),
        Scaling::Inverted,
    )
}

/// The literal forward: the same uniforms as ours, `keep(u, p)` and r·x/p in f64.
fn reference_forward(stream: MaskStream, x: &[f32], y: &mut [f32], mask: &mut [bool]) {
    let p = f64::from(P);
    for (i, ((yi, &xi), ri)) in y.iter_mut().zip(x).zip(mask.iter_mut()).enumerate() {
        let u = f64::from(stream.uniform(i as u64)) / 4_294_967_296.0;
        *ri = spec::keep(u, p);
        *yi = (spec::r_value(*ri) * f64::from(xi) / p) as f32;
    }
}

/// The literal backward: g·r/p in f64 from a `bool` mask.
fn reference_backward(mask: &[bool], g: &mut [f32]) {
    let p = f64::from(P);
    for (gi, &ri) in g.iter_mut().zip(mask) {
        *gi = (spec::r_value(ri) * f64::from(*gi) / p) as f32;
    }
}

/// The loop a user would write: one random number per element.
fn scalar_forward(rng: &mut ChaCha8Rng, x: &[f32], y: &mut [f32], mask: &mut [bool]) {
    let s = 1.0 / P;
    for ((yi, &xi), ri) in y.iter_mut().zip(x).zip(mask.iter_mut()) {
        *ri = rng.random::<f32>() < P;
        *yi = if *ri { xi * s } else { 0.0 };
    }
}

fn scalar_backward(mask: &[bool], g: &mut [f32]) {
    let s = 1.0 / P;
    for (gi, &ri) in g.iter_mut().zip(mask) {
        *gi *= if ri { s } else { 0.0 };
    }
}

/// Short runs in cache, fewer samples beyond L3.
fn configure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    n: usize,
) {
    if n >= 16 << 20 {
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
    } else {
        group
            .sample_size(30)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(800));
    }
    group.throughput(Throughput::Elements(n as u64));
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("dropout");
    let d = dropout();
    for (size, n) in SIZES {
        configure(&mut group, n);
        let mut rng = ChaCha8Rng::seed_from_u64(0xD80);
        let x: Vec<f32> = (0..n).map(|_| rng.random_range(-4.0f32..4.0)).collect();
        // Written once before timing, so no page is first touched inside the timed loop.
        let mut y = vec![1.0f32; n];
        let mut bits = Mask::new(n);
        let mut bools = vec![false; n];
        let stream = MaskStream::new(0xD80, 1);

        group.bench_function(BenchmarkId::new("copy/memcpy", size), |b| {
            b.iter(|| black_box(&mut y[..]).copy_from_slice(black_box(&x)))
        });

        group.bench_function(BenchmarkId::new("forward/simd", size), |b| {
            b.iter(|| d.forward(stream, black_box(&x), &mut y, &mut bits))
        });
        group.bench_function(BenchmarkId::new("forward/reference", size), |b| {
            b.iter(|| reference_forward(stream, black_box(&x), &mut y, &mut bools))
        });
        group.bench_function(BenchmarkId::new("forward/scalar", size), |b| {
            b.iter(|| scalar_forward(&mut rng, black_box(&x), &mut y, &mut bools))
        });

        // The backward runs in place on y, so the kept entries grow by 1/p = 1.25 a pass and
        // reach ∞ after about 400 passes: harmless for timing (only subnormals leave the fast
        // path), and each bench starts again from the forward's output.
        d.forward(stream, &x, &mut y, &mut bits)
            .expect("equal lengths");
        bools
            .iter_mut()
            .enumerate()
            .for_each(|(i, r)| *r = bits.get(i));
        let fresh = y.clone();
        group.bench_function(BenchmarkId::new("backward/simd", size), |b| {
            y.copy_from_slice(&fresh);
            b.iter(|| d.backward(black_box(&bits), black_box(&mut y)))
        });
        group.bench_function(BenchmarkId::new("backward/reference", size), |b| {
            y.copy_from_slice(&fresh);
            b.iter(|| reference_backward(black_box(&bools), black_box(&mut y)))
        });
        group.bench_function(BenchmarkId::new("backward/scalar", size), |b| {
            y.copy_from_slice(&fresh);
            b.iter(|| scalar_backward(black_box(&bools), black_box(&mut y)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
