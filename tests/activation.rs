//! The activation kernels against their documented conventions and the f64 specification:
//! accuracy within the committed bounds (`dnn_proofs::activation::accuracy`), the three call
//! paths (out of place, in place, one value) bit for bit, the fused bias and backward steps,
//! typed errors, the ReLU kink, NaN and infinities, and leaky ReLU's slope validation.
//!
//! Inputs come two ways: quickcheck properties (with shrinking, from a fixed seed so a
//! failure reproduces) whose values over-sample the edges, and a seeded ChaCha stream chained
//! after the full edge list. Lengths cover empty slices, one lane, and multiples of the lane
//! count and one off them, so every tail path runs.

mod common;

use derivations::activation as spec;
use dnn_proofs::Error;
use dnn_proofs::activation::accuracy::{self, UlpReport};
use dnn_proofs::activation::{Activation, Slope};
use dnn_proofs::simd::LANES;
use quickcheck::{Arbitrary, Gen, QuickCheck, Testable};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 0xAC7_0001;

/// Runs a property from a fixed seed (reproducible), 1000 cases of up to 100 elements.
fn check<A: Testable>(property: A) {
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(100, SEED))
        .tests(1000)
        .max_tests(10_000)
        .quickcheck(property);
}

/// The edges of the accuracy module plus a few more where a kernel changes branch.
fn edges() -> Vec<f32> {
    let mut e = accuracy::edge_inputs();
    e.extend([
        0.125, -0.125, 3.0, -3.0, 0.01, -0.01, 1e-20, -1e-20, 5e-39, -5e-39,
    ]);
    e
}

/// One value: a quarter from the edges, a quarter any bit pattern (every binade, NaN
/// payloads, subnormals), half uniform on [−20, 20], where tanh and σ are not saturated.
fn value(g: &mut Gen, edges: &[f32]) -> f32 {
    match u8::arbitrary(g) % 4 {
        0 => *g.choose(edges).expect("edges are not empty"),
        1 => f32::from_bits(u32::arbitrary(g)),
        _ => (u32::arbitrary(g) as f32 / u32::MAX as f32 - 0.5) * 40.0,
    }
}

/// A slice length: any up to the generator's size, or a multiple of the lane count and one
/// off it (0, LANES − 1, LANES, LANES + 1, 2·LANES − 1, …).
fn length(g: &mut Gen) -> usize {
    if bool::arbitrary(g) {
        usize::arbitrary(g) % (g.size() + 1)
    } else {
        let k = usize::arbitrary(g) % 5;
        let n = k * LANES;
        match u8::arbitrary(g) % 3 {
            0 => n.saturating_sub(1),
            1 => n,
            _ => n + 1,
        }
    }
}

/// Inputs for one property: a slice whose values over-sample the edges.
#[derive(Clone, Debug)]
struct Xs(Vec<f32>);

impl Arbitrary for Xs {
    fn arbitrary(g: &mut Gen) -> Self {
        let e = edges();
        let n = length(g);
        Xs((0..n).map(|_| value(g, &e)).collect())
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(self.0.shrink().map(Xs))
    }
}

/// A leaky-ReLU slope in [0, 1), often a round one.
#[derive(Clone, Copy, Debug)]
struct Alpha(f32);

impl Arbitrary for Alpha {
    fn arbitrary(g: &mut Gen) -> Self {
        let round = [0.0, 0.01, 0.1, 0.2, 0.5, 0.99, 1.0f32.next_down()];
        if bool::arbitrary(g) {
            Alpha(*g.choose(&round).expect("not empty"))
        } else {
            Alpha((u32::arbitrary(g) >> 8) as f32 / (1u32 << 24) as f32)
        }
    }
}

fn leaky(alpha: Alpha) -> Activation {
    Activation::leaky_relu(alpha.0).expect("alpha in [0, 1)")
}

/// Every activation, with leaky ReLU at the given slope.
fn kinds(alpha: Alpha) -> [Activation; 6] {
    let mut all = Activation::all();
    all[4] = leaky(alpha);
    all
}

fn forward(a: Activation, x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    a.forward(x, &mut y).expect("same length");
    y
}

/// Equal bits, except that any NaN equals any NaN.
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The index and values of the first difference, if any.
fn first_difference(a: &[f32], b: &[f32]) -> Option<(usize, f32, f32)> {
    a.iter()
        .zip(b)
        .position(|(&p, &q)| !same(p, q))
        .map(|i| (i, a[i], b[i]))
}

/// Every accuracy contract on the inputs `x` that lie in its domain, each kernel called on
/// that exact slice (so its tails run too).
fn contracts_hold(x: &[f32]) -> Result<(), String> {
    for c in accuracy::contracts() {
        let (lo, hi) = c.domain;
        let x: Vec<f32> = x
            .iter()
            .copied()
            .filter(|v| v.is_nan() || (lo..=hi).contains(v))
            .collect();
        let mut y = vec![0.0; x.len()];
        (c.kernel)(&x, &mut y);
        let report = accuracy::report(&x, &y, c.reference);
        if !c.holds(&report) {
            return Err(format!("{}: {report:?}", c.name));
        }
    }
    Ok(())
}

/// ReLU, leaky ReLU and the identity are exact: equal to the f64 specification rounded to
/// f32 (α·x is one f32 product, which is the f64 product of the same two f32s rounded).
fn piecewise_exact(x: &[f32], alpha: Alpha) -> Result<(), String> {
    /// A specification f(x, α) in f64.
    type Spec = fn(f64, f64) -> f64;
    let a = f64::from(alpha.0);
    let cases: [(Activation, Spec, Spec); 3] = [
        (
            Activation::Identity,
            |x, _| x,
            |x, _| if x.is_nan() { x } else { 1.0 },
        ),
        (
            Activation::Relu,
            |x, _| spec::relu(x),
            |x, _| spec::relu_derivative(x),
        ),
        (leaky(alpha), spec::leaky_relu, spec::leaky_relu_derivative),
    ];
    for (act, f, df) in cases {
        let mut y = vec![0.0; x.len()];
        let mut d = vec![0.0; x.len()];
        act.forward(x, &mut y).expect("same length");
        act.derivative(x, &mut d).expect("same length");
        for (i, &v) in x.iter().enumerate() {
            let (fy, fd) = (f(f64::from(v), a) as f32, df(f64::from(v), a) as f32);
            if !same(y[i], fy) || !same(d[i], fd) {
                return Err(format!(
                    "{} at {v:e}: f = {} (spec {fy}), f' = {} (spec {fd})",
                    act.name(),
                    y[i],
                    d[i]
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn kernels_match_the_specification_within_the_committed_bounds() {
    fn property(x: Xs, alpha: Alpha) -> Result<(), String> {
        contracts_hold(&x.0)?;
        piecewise_exact(&x.0, alpha)
    }
    check(property as fn(Xs, Alpha) -> Result<(), String>);
}

#[test]
fn seeded_stream_after_every_edge_matches_the_specification() {
    // 2^18 values: all edges first, then a stream where one value in four is an edge.
    let e = edges();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut x = e.clone();
    while x.len() < 1 << 18 {
        let v = match rng.random_range(0..4) {
            0 => e[rng.random_range(0..e.len())],
            1 => f32::from_bits(rng.random()),
            _ => rng.random_range(-20.0f32..20.0),
        };
        x.push(v);
    }
    contracts_hold(&x).unwrap();
    for alpha in [0.0, 0.01, 0.3] {
        piecewise_exact(&x, Alpha(alpha)).unwrap();
    }
}

#[test]
fn every_contract_holds_on_a_coarse_exhaustive_sweep() {
    // Stride 4099 over the dense ranges (the committed bounds were measured at stride 1;
    // see accuracy.rs), stride 4099·1021 over each domain, and the edges.
    for c in accuracy::contracts() {
        let report = accuracy::check(&c, 4099);
        assert!(report.cases > 500, "{}: {report:?}", c.name);
        assert!(c.holds(&report), "{}: {report:?}", c.name);
    }
}

#[test]
fn a_kernel_three_ulps_off_breaks_the_tanh_contract() {
    // The check can fail: the same tanh nudged up by three ulps, and a tanh that does not
    // saturate to ±1 at ±∞.
    let c = accuracy::contracts()
        .into_iter()
        .find(|c| c.name == "tanh")
        .expect("tanh contract");
    let nudged = |x: &[f32], y: &mut [f32]| {
        Activation::Tanh.forward(x, y).expect("same length");
        for v in y.iter_mut() {
            *v = v.next_up().next_up().next_up();
        }
    };
    let r = accuracy::check_kernel(&c, nudged, 4099);
    assert!(
        r.max_ulp > accuracy::TANH_MAX_ULP && r.special_mismatches > 0,
        "{r:?}"
    );
    let unsaturated = |x: &[f32], y: &mut [f32]| {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v.clamp(-9.0, 9.0).tanh();
        }
    };
    let r = accuracy::check_kernel(&c, unsaturated, 4099);
    assert!(r.first_special_mismatch == Some(f32::NEG_INFINITY), "{r:?}");
}

#[test]
fn out_of_place_in_place_and_one_value_agree_bit_for_bit() {
    fn property(x: Xs, alpha: Alpha) -> Result<(), String> {
        let x = x.0;
        for a in kinds(alpha) {
            type Slices = fn(Activation, &[f32], &mut [f32]);
            type InPlace = fn(Activation, &mut [f32]);
            type One = fn(Activation, f32) -> f32;
            let paths: [(&str, Slices, InPlace, One); 3] = [
                (
                    "forward",
                    |a, x, y| a.forward(x, y).expect("same length"),
                    Activation::forward_in_place,
                    Activation::apply,
                ),
                (
                    "derivative",
                    |a, x, y| a.derivative(x, y).expect("same length"),
                    Activation::derivative_in_place,
                    Activation::apply_derivative,
                ),
                (
                    "derivative_from_output",
                    |a, x, y| a.derivative_from_output(x, y).expect("same length"),
                    Activation::derivative_from_output_in_place,
                    |a, y| {
                        let mut d = [0.0];
                        a.derivative_from_output(&[y], &mut d).expect("same length");
                        d[0]
                    },
                ),
            ];
            for (name, out_of_place, in_place, one) in paths {
                let mut y = vec![0.0; x.len()];
                out_of_place(a, &x, &mut y);
                let mut z = x.clone();
                in_place(a, &mut z);
                let single: Vec<f32> = x.iter().map(|&v| one(a, v)).collect();
                if let Some(d) = first_difference(&y, &z) {
                    return Err(format!(
                        "{} {name}: out of place vs in place {d:?}",
                        a.name()
                    ));
                }
                if let Some(d) = first_difference(&y, &single) {
                    return Err(format!("{} {name}: slice vs one value {d:?}", a.name()));
                }
            }
            // Backprop's fused step: g·f'(from y), with gradients that include the edges.
            let mut d = vec![0.0; x.len()];
            a.derivative_from_output(&x, &mut d).expect("same length");
            let mut g: Vec<f32> = x.iter().rev().copied().collect();
            let expected: Vec<f32> = g.iter().zip(&d).map(|(g, d)| g * d).collect();
            a.backward_in_place(&x, &mut g).expect("same length");
            if let Some(d) = first_difference(&g, &expected) {
                return Err(format!("{} backward_in_place: {d:?}", a.name()));
            }
            // derivative at the input = derivative from the stored output, for the
            // kinds whose derivative is computed from the output.
            if matches!(a, Activation::Sigmoid | Activation::Tanh) {
                let y = forward(a, &x);
                let (mut d1, mut d2) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                a.derivative(&x, &mut d1).expect("same length");
                a.derivative_from_output(&y, &mut d2).expect("same length");
                if let Some(d) = first_difference(&d1, &d2) {
                    return Err(format!("{}: f'(z) vs f'(from y) {d:?}", a.name()));
                }
            }
        }
        Ok(())
    }
    check(property as fn(Xs, Alpha) -> Result<(), String>);
}

#[test]
fn forward_with_bias_is_forward_of_z_plus_b() {
    fn property(z: Xs, b: Xs, alpha: Alpha) -> Result<(), String> {
        let (mut z, b) = (z.0, b.0);
        if b.is_empty() {
            return Ok(());
        }
        // Whole columns only: trim z to a multiple of the bias length.
        z.truncate(z.len() - z.len() % b.len());
        for a in kinds(alpha) {
            let shifted: Vec<f32> = z
                .iter()
                .enumerate()
                .map(|(i, &v)| v + b[i % b.len()])
                .collect();
            let expected = forward(a, &shifted);
            let mut fused = z.clone();
            a.forward_with_bias(&mut fused, &b).expect("whole columns");
            if let Some(d) = first_difference(&fused, &expected) {
                return Err(format!("{} (columns of {}): {d:?}", a.name(), b.len()));
            }
        }
        Ok(())
    }
    check(property as fn(Xs, Xs, Alpha) -> Result<(), String>);
}

/// Every column length from 1 to 70 and column counts on both sides of the bias pattern's
/// period (`add_bias` repeats short biases into runs of lcm(n, 2·LANES) values, at most 256;
/// longer periods, e.g. n = 9, and long columns take the per-column loop): the same bits as
/// f(z + b) elementwise.
#[test]
fn forward_with_bias_is_exact_for_every_short_column_length() {
    for n in 1..=70usize {
        for columns in [1usize, 2, 3, 5, 17, 33, 64] {
            let b: Vec<f32> = (0..n).map(|j| 0.25 * j as f32 - 3.0).collect();
            let z: Vec<f32> = (0..n * columns)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 8.0)
                .collect();
            let shifted: Vec<f32> = z.iter().enumerate().map(|(i, &v)| v + b[i % n]).collect();
            for a in kinds(Alpha(0.1)) {
                let mut fused = z.clone();
                a.forward_with_bias(&mut fused, &b).expect("whole columns");
                let expected = forward(a, &shifted);
                assert_eq!(
                    first_difference(&fused, &expected),
                    None,
                    "{} with columns of {n}, {columns} columns",
                    a.name()
                );
            }
        }
    }
}

#[test]
fn forward_with_bias_rejects_partial_columns_and_an_empty_bias() {
    let mut z = vec![0.5f32; 7];
    for a in Activation::all() {
        assert_eq!(
            a.forward_with_bias(&mut z, &[0.1, 0.2, 0.3]),
            Err(Error::NotWholeColumns {
                what: "pre-activations",
                column: 3,
                found: 7
            })
        );
        assert_eq!(
            a.forward_with_bias(&mut z, &[]),
            Err(Error::NotWholeColumns {
                what: "pre-activations",
                column: 0,
                found: 7
            })
        );
        assert!(matches!(
            a.forward_with_bias(&mut [], &[]),
            Err(Error::NotWholeColumns { column: 0, .. })
        ));
        // Untouched on error; empty z with a bias is zero whole columns.
        assert_eq!(z, vec![0.5f32; 7]);
        assert_eq!(a.forward_with_bias(&mut [], &[1.0]), Ok(()));
    }
}

#[test]
fn length_mismatches_are_typed_errors() {
    let x = [1.0f32; 5];
    for a in Activation::all() {
        for n in [0, 4, 6] {
            let mut out = vec![0.0f32; n];
            let expected = Err(Error::LengthMismatch {
                what: "output",
                expected: 5,
                found: n,
            });
            assert_eq!(a.forward(&x, &mut out), expected);
            assert_eq!(a.derivative(&x, &mut out), expected);
            assert_eq!(a.derivative_from_output(&x, &mut out), expected);
            assert_eq!(
                a.backward_in_place(&x, &mut out),
                Err(Error::LengthMismatch {
                    what: "gradient",
                    expected: 5,
                    found: n,
                })
            );
        }
        assert_eq!(a.forward(&[], &mut []), Ok(()));
    }
}

#[test]
fn relu_kink_convention_is_zero_and_leaky_kink_is_alpha() {
    for z in [0.0f32, -0.0] {
        assert_eq!(Activation::Relu.apply_derivative(z), 0.0);
        assert_eq!(Activation::Relu.apply(z).to_bits(), 0.0f32.to_bits());
        let mut d = [1.0; 3];
        Activation::Relu.derivative(&[z; 3], &mut d).unwrap();
        assert_eq!(d, [0.0; 3]);
        Activation::Relu
            .derivative_from_output(&[z; 3], &mut d)
            .unwrap();
        assert_eq!(d, [0.0; 3]);
        for alpha in [0.0f32, 0.01, 0.5] {
            let a = Activation::leaky_relu(alpha).unwrap();
            assert_eq!(a.apply_derivative(z), alpha);
            let mut d = [1.0; 3];
            a.derivative_from_output(&[z; 3], &mut d).unwrap();
            assert_eq!(d, [alpha; 3]);
            assert_eq!(a.apply(z), 0.0);
        }
    }
    // Away from the kink: 1 above, 0 (α) below, also for the smallest subnormals.
    let tiny = f32::from_bits(1);
    assert_eq!(Activation::Relu.apply_derivative(tiny), 1.0);
    assert_eq!(Activation::Relu.apply_derivative(-tiny), 0.0);
    let a = Activation::leaky_relu(0.25).unwrap();
    assert_eq!(a.apply_derivative(-tiny), 0.25);
    assert_eq!(a.apply(-4.0), -1.0);
}

#[test]
fn nan_propagates_through_every_function_and_derivative() {
    let nans = [
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7F80_0001),
        f32::from_bits(0xFFC0_1234),
    ];
    for a in kinds(Alpha(0.01)) {
        for n in nans {
            assert!(a.apply(n).is_nan(), "{} f", a.name());
            assert!(a.apply_derivative(n).is_nan(), "{} f'", a.name());
            let mut d = [0.0];
            a.derivative_from_output(&[n], &mut d).unwrap();
            assert!(d[0].is_nan(), "{} f' from y", a.name());
            // In the middle of a slice and in the padded tail.
            let mut x = vec![0.5f32; 2 * LANES + 3];
            let last = x.len() - 1;
            x[LANES] = n;
            x[last] = n;
            for pass in 0..3 {
                let mut y = vec![0.0; x.len()];
                match pass {
                    0 => a.forward(&x, &mut y).unwrap(),
                    1 => a.derivative(&x, &mut y).unwrap(),
                    _ => a.derivative_from_output(&x, &mut y).unwrap(),
                }
                assert!(
                    y[LANES].is_nan() && y[last].is_nan(),
                    "{} pass {pass}",
                    a.name()
                );
                assert!(!y[0].is_nan(), "{} pass {pass}", a.name());
            }
            // A NaN bias poisons its row only.
            let mut z = vec![1.0f32; 6];
            a.forward_with_bias(&mut z, &[0.0, n, 0.0]).unwrap();
            let poisoned: Vec<bool> = z.iter().map(|v| v.is_nan()).collect();
            assert_eq!(
                poisoned,
                [false, true, false, false, true, false],
                "{}",
                a.name()
            );
        }
    }
}

#[test]
fn infinities_map_to_the_limits() {
    let inf = f32::INFINITY;
    let cases: [(Activation, f32, f32, f32, f32); 6] = [
        // (kind, f(−∞), f(+∞), f'(−∞), f'(+∞))
        (Activation::Identity, -inf, inf, 1.0, 1.0),
        (Activation::Sigmoid, 0.0, 1.0, 0.0, 0.0),
        (Activation::Tanh, -1.0, 1.0, 0.0, 0.0),
        (Activation::Relu, 0.0, inf, 0.0, 1.0),
        (Activation::leaky_relu(0.01).unwrap(), -inf, inf, 0.01, 1.0),
        (Activation::Softsign, -1.0, 1.0, 0.0, 0.0),
    ];
    for (a, f_lo, f_hi, d_lo, d_hi) in cases {
        let x = [-inf, inf, -inf, inf, -inf, inf, -inf, inf, -inf];
        let y = forward(a, &x);
        let mut d = vec![0.0; x.len()];
        a.derivative(&x, &mut d).unwrap();
        for i in 0..x.len() {
            let (f, df) = if x[i] < 0.0 {
                (f_lo, d_lo)
            } else {
                (f_hi, d_hi)
            };
            assert!(same(y[i], f), "{}({}) = {}", a.name(), x[i], y[i]);
            assert!(same(d[i], df), "{}'({}) = {}", a.name(), x[i], d[i]);
        }
        // From the stored outputs the derivative reaches the same limits.
        let mut d = vec![0.0; 2];
        a.derivative_from_output(&[f_lo, f_hi], &mut d).unwrap();
        assert!(
            same(d[0], d_lo) && same(d[1], d_hi),
            "{} from y: {d:?}",
            a.name()
        );
    }
    // Saturation is exact before infinity too: σ = 1 from 17.33 on, tanh = ±1 from 9.01.
    assert_eq!(Activation::Sigmoid.apply(17.5), 1.0);
    assert_eq!(Activation::Sigmoid.apply(-88.5), 0.0);
    assert_eq!(Activation::Tanh.apply(9.5), 1.0);
    assert_eq!(Activation::Tanh.apply(-1e30), -1.0);
}

#[test]
fn signed_zeros_and_oddness() {
    assert_eq!(Activation::Tanh.apply(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(Activation::Tanh.apply(0.0).to_bits(), 0.0f32.to_bits());
    assert_eq!(
        Activation::Softsign.apply(-0.0).to_bits(),
        (-0.0f32).to_bits()
    );
    assert_eq!(Activation::Sigmoid.apply(-0.0), 0.5);
    assert_eq!(Activation::Tanh.apply_derivative(0.0), 1.0);
    assert_eq!(Activation::Sigmoid.apply_derivative(0.0), 0.25);
    assert_eq!(Activation::Softsign.apply_derivative(-0.0), 1.0);
    // tanh and softsign are odd bit for bit: the sign is applied last.
    fn property(x: Xs) -> Result<(), String> {
        let neg: Vec<f32> = x.0.iter().map(|v| -v).collect();
        for a in [Activation::Tanh, Activation::Softsign] {
            let (p, n) = (forward(a, &x.0), forward(a, &neg));
            let flipped: Vec<f32> = n.iter().map(|v| -v).collect();
            if let Some(d) = first_difference(&p, &flipped) {
                return Err(format!("{} not odd: {d:?}", a.name()));
            }
        }
        Ok(())
    }
    check(property as fn(Xs) -> Result<(), String>);
}

#[test]
fn slope_accepts_zero_to_one_and_rejects_the_rest() {
    for ok in [0.0f32, -0.0, 0.01, 0.5, 1.0f32.next_down()] {
        assert_eq!(Slope::new(ok).map(Slope::get), Ok(ok), "{ok}");
        assert!(Activation::leaky_relu(ok).is_ok());
    }
    for bad in [
        -0.01f32,
        -1.0,
        1.0,
        1.5,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        let err = Slope::new(bad).expect_err("out of range");
        assert!(
            matches!(
                err,
                Error::ParameterOutOfRange {
                    range: "[0, 1)",
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
        assert!(Activation::leaky_relu(bad).is_err(), "{bad}");
    }
}

#[test]
fn ulp_yardstick() {
    assert_eq!(accuracy::ulp(1.0), f64::from(f32::EPSILON));
    assert_eq!(accuracy::ulp(0.75), f64::from(f32::EPSILON) / 2.0);
    assert_eq!(accuracy::ulp(-3.0), 2.0 * f64::from(f32::EPSILON));
    assert_eq!(accuracy::ulp(1e-40), f64::from(f32::from_bits(1)));
    assert_eq!(
        accuracy::ulps(1.0, 1.0 + f64::from(f32::EPSILON) / 2.0),
        0.5
    );
    // The sweep visits every f32 between its ends, −0 and +0 both.
    let xs: Vec<f32> = accuracy::sweep_inputs(-f32::from_bits(2), f32::from_bits(2), 1).collect();
    let bits: Vec<u32> = xs.iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        bits,
        [0x8000_0002, 0x8000_0001, 0x8000_0000, 0, 1, 2],
        "{xs:?}"
    );
    assert_eq!(accuracy::sweep_inputs(1.0, 2.0, 1).count(), (1 << 23) + 1);
    // Special cases: a NaN where a number belongs, and a wrong sign of zero, are mismatches.
    let r: UlpReport = accuracy::report(&[1.0, -0.0], &[f32::NAN, 0.0], |x| x);
    assert_eq!(r.special_mismatches, 2);
    assert_eq!(r.first_special_mismatch, Some(-0.0));
}

// ---- registry claims (appended by the registry author) ----

claim_tests! { "activation";
    act_role => "ACT-ROLE",
    act_sigmoid => "ACT-SIGMOID",
    act_sigmoid_deriv => "ACT-SIGMOID-DERIV",
    act_tanh => "ACT-TANH",
    act_tanh_deriv => "ACT-TANH-DERIV",
    act_tanh_sigmoid => "ACT-TANH-SIGMOID",
    act_relu => "ACT-RELU",
    act_lrelu => "ACT-LRELU",
    act_softsign => "ACT-SOFTSIGN",
    act_kernel_ulp => "ACT-KERNEL-ULP",
    exp_act_nonlin => "EXP-ACT-NONLIN",
    inf_dnn_pros => "INF-DNN-PROS",
    inf_dnn_cons => "INF-DNN-CONS",
}
