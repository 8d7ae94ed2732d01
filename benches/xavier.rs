//! Throughput of the initialisers (the README, "The benchmarks"; the SIMD uniform
//! fill must reach 4× a scalar `rng.random_range` loop at 1 Mi weights).
//!
//! Group `xavier/uniform`, at 64 Ki weights (a 256 × 256 matrix, in L2) and 1 Mi (a
//! 1024 × 1024 matrix, beyond L2):
//! - `simd`: [`Init::XavierUniform`]'s fill, the lane kernel seeded from the ChaCha8 RNG;
//! - `scalar`: the loop a user would write, `rng.random_range(-a..a)` per weight, ChaCha8;
//! - `bits`: every bit from ChaCha8 (`rng.fill` a buffer of words), mapped to floats in lanes
//!   by [`uniform_from_bits`]: how far a kernel gets while ChaCha's output is the limit.
//!
//! Group `xavier/normal`, at 1 Mi weights: Xavier-normal, He-normal and the truncated
//! Xavier-normal (Box–Muller in lanes, rejection at ±2σ), against `scalar`, a plain
//! Box–Muller loop in f32 on ChaCha8's `random::<f32>()`.
//!
//! Every benchmark sets `Throughput::Elements` (weights), so criterion prints weights per
//! second and the ratios are read between IDs of the same group and size.
//! Run with `cargo bench --bench xavier`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dnn_proofs::xavier::Init;
use dnn_proofs::xavier::kernel::uniform_from_bits;
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (name, rows, cols): 64 Ki and 1 Mi weights.
const SHAPES: [(&str, usize, usize); 2] = [("64Ki", 256, 256), ("1Mi", 1024, 1024)];

fn bench_uniform(c: &mut Criterion) {
    let mut group = c.benchmark_group("xavier/uniform");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (size, rows, cols) in SHAPES {
        let n = rows * cols;
        group.throughput(Throughput::Elements(n as u64));
        let mut rng = ChaCha8Rng::seed_from_u64(0x5A71);
        // Written once before timing, so no page is first touched inside the timed loop.
        let mut w = DMatrix::<f32>::from_element(rows, cols, 1.0);
        let a = (6.0 / (rows + cols) as f32).sqrt();
        let xavier = Init::XavierUniform { gain: 1.0 };
        group.bench_function(BenchmarkId::new("simd", size), |b| {
            b.iter(|| {
                xavier
                    .fill(black_box(&mut w), &mut rng)
                    .expect("valid shape")
            })
        });
        group.bench_function(BenchmarkId::new("scalar", size), |b| {
            b.iter(|| {
                for x in black_box(&mut w).iter_mut() {
                    *x = rng.random_range(-a..a);
                }
            })
        });
        let mut words = vec![0u32; n];
        group.bench_function(BenchmarkId::new("bits", size), |b| {
            b.iter(|| {
                rng.fill(&mut words[..]);
                uniform_from_bits(&words, a, black_box(w.as_mut_slice())).expect("same length")
            })
        });
    }
    group.finish();
}

/// One N(0, σ²) value by Box–Muller from two f32 uniforms (the cosine branch only).
#[inline(always)]
fn box_muller(rng: &mut ChaCha8Rng, std: f32) -> f32 {
    let u1 = 1.0 - rng.random::<f32>(); // (0, 1]
    let u2 = rng.random::<f32>();
    std * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn bench_normal(c: &mut Criterion) {
    let mut group = c.benchmark_group("xavier/normal");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let (size, rows, cols) = SHAPES[1];
    group.throughput(Throughput::Elements((rows * cols) as u64));
    let mut rng = ChaCha8Rng::seed_from_u64(0x5A72);
    let mut w = DMatrix::<f32>::from_element(rows, cols, 1.0);
    for (name, init) in [
        ("xavier_normal", Init::XavierNormal { gain: 1.0 }),
        ("he_normal", Init::HeNormal { slope: 0.0 }),
        (
            "xavier_truncated",
            Init::XavierTruncatedNormal { gain: 1.0 },
        ),
    ] {
        group.bench_function(BenchmarkId::new(name, size), |b| {
            b.iter(|| init.fill(black_box(&mut w), &mut rng).expect("valid shape"))
        });
    }
    let std = (2.0 / (rows + cols) as f32).sqrt();
    group.bench_function(BenchmarkId::new("scalar", size), |b| {
        b.iter(|| {
            for x in black_box(&mut w).iter_mut() {
                *x = box_muller(&mut rng, std);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_uniform, bench_normal);
criterion_main!(benches);
