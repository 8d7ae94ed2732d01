//! Throughput of the activation kernels (the README, "The benchmarks").
//!
//! Every kernel runs at three sizes, in L1 (`4Ki` elements), in L2 (`256Ki`) and far beyond L3
//! (`16Mi`), as three implementations:
//! - `simd`: our kernel, [`Activation`] on slices;
//! - `reference`: the f64 specification from the `derivations` crate, applied to each f32
//!   converted to f64 and the result rounded back;
//! - `scalar`: the plain f32 loop a user would write (`x.tanh()`, `1/(1 + e^{−x})`, ...).
//!
//! The yardstick `activation/copy/memcpy/<size>` copies the same bytes with `copy_from_slice`:
//! at `16Mi` no elementwise kernel that reads one array and writes another can beat it.
//!
//! IDs are `activation/<kernel>/<impl>/<size>`; throughput is in elements, so criterion
//! prints elements per second. Run with `cargo bench --bench activation` (a few minutes);
//! `cargo bench --bench activation -- tanh/` runs one kernel.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use derivations::activation as spec;
use dnn_proofs::activation::Activation;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The three sizes, named as in the bench IDs.
const SIZES: [(&str, usize); 3] = [("4Ki", 4 << 10), ("256Ki", 256 << 10), ("16Mi", 16 << 20)];

/// Leaky ReLU's slope in every implementation (Maas et al. 2013).
const ALPHA: f32 = 0.01;

/// One implementation: writes `out` from `input` (same length).
type Impl = fn(&[f32], &mut [f32]);

/// One kernel: its name, how to make its input from pre-activations z, and its three
/// implementations, each writing `out` from its input.
struct Kernel {
    name: &'static str,
    /// Maps the pre-activations to the input of `simd` and `scalar`: z itself, or the
    /// stored output y = f(z) for the `*_derivative` kernels, as backprop computes them.
    /// `reference` always reads z: the specification is a function of z.
    input: fn(&[f32]) -> Vec<f32>,
    simd: Impl,
    reference: Impl,
    scalar: Impl,
}

/// `out[i] = f(x[i])` through f64, the reference implementation.
#[inline(always)]
fn through_f64(x: &[f32], out: &mut [f32], f: impl Fn(f64) -> f64) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = f(f64::from(v)) as f32;
    }
}

/// `out[i] = f(x[i])` in f32, the scalar implementation.
#[inline(always)]
fn plain(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = f(v);
    }
}

fn same(z: &[f32]) -> Vec<f32> {
    z.to_vec()
}

fn tanh_output(z: &[f32]) -> Vec<f32> {
    z.iter().map(|&v| v.tanh()).collect()
}

fn sigmoid_output(z: &[f32]) -> Vec<f32> {
    z.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect()
}

fn leaky() -> Activation {
    Activation::leaky_relu(ALPHA).expect("0.01 is a valid slope")
}

fn kernels() -> Vec<Kernel> {
    vec![
        Kernel {
            name: "tanh",
            input: same,
            simd: |z, o| Activation::Tanh.forward(z, o).expect("same length"),
            reference: |z, o| through_f64(z, o, spec::tanh_stable),
            scalar: |z, o| plain(z, o, f32::tanh),
        },
        Kernel {
            name: "sigmoid",
            input: same,
            simd: |z, o| Activation::Sigmoid.forward(z, o).expect("same length"),
            reference: |z, o| through_f64(z, o, spec::sigmoid_stable),
            scalar: |z, o| plain(z, o, |v| 1.0 / (1.0 + (-v).exp())),
        },
        Kernel {
            name: "relu",
            input: same,
            simd: |z, o| Activation::Relu.forward(z, o).expect("same length"),
            reference: |z, o| through_f64(z, o, spec::relu),
            scalar: |z, o| plain(z, o, |v| v.max(0.0)),
        },
        Kernel {
            name: "leaky_relu",
            input: same,
            simd: |z, o| leaky().forward(z, o).expect("same length"),
            reference: |z, o| through_f64(z, o, |v| spec::leaky_relu(v, f64::from(ALPHA))),
            scalar: |z, o| plain(z, o, |v| if v >= 0.0 { v } else { ALPHA * v }),
        },
        Kernel {
            name: "softsign",
            input: same,
            simd: |z, o| Activation::Softsign.forward(z, o).expect("same length"),
            reference: |z, o| through_f64(z, o, spec::softsign),
            scalar: |z, o| plain(z, o, |v| v / (1.0 + v.abs())),
        },
        // The derivatives as backprop computes them: from the stored output y = f(z). The
        // reference is the specification's derivative at z (which evaluates f(z) in f64 and
        // then the identity); the scalar loop is the identity in f32 on y, which the
        // compiler vectorizes by itself.
        Kernel {
            name: "tanh_derivative",
            input: tanh_output,
            simd: |y, o| {
                let t = Activation::Tanh;
                t.derivative_from_output(y, o).expect("same length")
            },
            reference: |z, o| through_f64(z, o, spec::tanh_derivative),
            scalar: |y, o| plain(y, o, |t| 1.0 - t * t),
        },
        Kernel {
            name: "sigmoid_derivative",
            input: sigmoid_output,
            simd: |y, o| {
                let s = Activation::Sigmoid;
                s.derivative_from_output(y, o).expect("same length")
            },
            reference: |z, o| through_f64(z, o, spec::sigmoid_derivative),
            scalar: |y, o| plain(y, o, |s| s * (1.0 - s)),
        },
    ]
}

/// Pre-activations: uniform on [−8, 8], where tanh and σ are neither linear nor saturated,
/// with a fixed seed so every run times the same data.
fn pre_activations(n: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(0xAC7);
    (0..n).map(|_| rng.random_range(-8.0f32..8.0)).collect()
}

/// Short runs in cache, fewer samples beyond L3. Flat sampling (every sample runs the same
/// number of passes) keeps the slow scalar and reference passes, up to a quarter second
/// each at 16Mi, from being repeated dozens of times: the whole file runs in about three
/// minutes.
fn configure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    n: usize,
) {
    group.sampling_mode(SamplingMode::Flat);
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
    let mut group = c.benchmark_group("activation");
    let kernels = kernels();
    for (size, n) in SIZES {
        configure(&mut group, n);
        let z = pre_activations(n);
        // Written once before timing, so no page is first touched inside the timed loop.
        let mut out = vec![1.0f32; n];

        group.bench_function(BenchmarkId::new("copy/memcpy", size), |b| {
            b.iter(|| black_box(&mut out[..]).copy_from_slice(black_box(&z)))
        });
        for k in &kernels {
            let y = (k.input)(&z);
            let impls: [(&str, Impl, &[f32]); 3] = [
                ("simd", k.simd, &y),
                ("reference", k.reference, &z),
                ("scalar", k.scalar, &y),
            ];
            for (imp, f, x) in impls {
                let id = BenchmarkId::new(format!("{}/{imp}", k.name), size);
                group.bench_function(id, |b| b.iter(|| f(black_box(x), black_box(&mut out))));
            }
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Plots and 100 000 bootstrap resamples cost more than the measurements themselves.
    config = Criterion::default().without_plots().nresamples(10_000);
    targets = bench
}
criterion_main!(benches);
