//! The runner's experiments: EXP-XAV-DEPTH (4 initialisations × 4 activations, 20 layers,
//! forward and backward, plus the 1:4 non-square variant) and EXP-XAV-DEEP (50 tanh layers,
//! 30 ReLU layers), with the figures the book shows.
//!
//! They assert only robust inequalities with wide margins (CLAIMS.md §12). A planted bug
//! reruns only the configurations its initialiser changes: the others would repeat the
//! correct code's numbers exactly.

use rayon::prelude::*;

use super::depth::{Sim, deep_replicas, replicas};
use super::{ROOM, at_least, within_factor, within_rel};
use crate::activation::Activation;
use crate::claims::{Claim, Ctx, Findings, Planted, PostVerdict};
use crate::report::figure::{LinePlot, Series};
use crate::xavier::experiment::{DepthProfile, HIST_BINS};
use crate::xavier::init::Init;
use derivations::backprop::Activation as SpecActivation;
use derivations::xavier as spec;

const ACTIVATIONS: [Activation; 4] = [
    Activation::Identity,
    Activation::Tanh,
    Activation::Relu,
    Activation::Sigmoid,
];
const INIT_NAMES: [&str; 4] = ["N(0,1)", "N(0,0.01²)", "Xavier-uniform", "He-normal"];
const DEPTH: usize = 20;

#[derive(Clone, Copy, PartialEq)]
enum InitBug {
    HeFactorOne,
    XavierSqrt3,
}

/// The four initialisations, with a planted bug's substitution.
fn inits(bug: Option<InitBug>) -> [Init; 4] {
    [
        Init::Normal { std: 1.0 },
        Init::Normal { std: 0.01 },
        match bug {
            Some(InitBug::XavierSqrt3) => Init::XavierUniform {
                gain: 0.5f64.sqrt(), // √3/√(J_i+J_{i+1}) = √6/√(J_i+J_{i+1})·√(1/2)
            },
            _ => Init::XavierUniform { gain: 1.0 },
        },
        match bug {
            Some(InitBug::HeFactorOne) => Init::LecunNormal,
            _ => Init::HeNormal { slope: 0.0 },
        },
    ]
}

/// The configurations (activation, init) a variant must run: all for our code, only those
/// whose initialiser the bug replaces otherwise.
fn needed(bug: Option<InitBug>, a: usize, i: usize) -> bool {
    match bug {
        None => true,
        Some(InitBug::XavierSqrt3) => i == 2 && asserted(a, i),
        Some(InitBug::HeFactorOne) => i == 3 && ACTIVATIONS[a] == Activation::Relu,
    }
}

type Grid = Vec<Vec<Option<DepthProfile>>>;

fn histogram_range(a: Activation) -> Option<(f32, f32)> {
    match a {
        Activation::Tanh => Some((-1.0, 1.0)),
        Activation::Sigmoid => Some((0.0, 1.0)),
        _ => None,
    }
}

/// The configurations with assertions, averaged over several networks (the others only
/// draw the figures): linear, tanh and ReLU under Xavier, tanh under both naive inits,
/// ReLU under He.
fn asserted(a: usize, i: usize) -> bool {
    matches!(
        (ACTIVATIONS[a], i),
        (Activation::Identity, 2) | (Activation::Tanh, _) | (Activation::Relu, 2 | 3)
    )
}

/// The configurations whose backward pass is asserted: linear and tanh under Xavier.
fn backward_asserted(a: usize, i: usize) -> bool {
    i == 2 && matches!(ACTIVATIONS[a], Activation::Identity | Activation::Tanh)
}

fn run_grid(ctx: &Ctx, bug: Option<InitBug>, width: usize) -> Grid {
    let inits = inits(bug);
    let (reps, batch) = replicas(ctx);
    let jobs: Vec<(usize, usize)> = (0..4)
        .flat_map(|a| (0..4).map(move |i| (a, i)))
        .filter(|&(a, i)| needed(bug, a, i))
        .collect();
    let profiles: Vec<(usize, usize, DepthProfile)> = jobs
        .par_iter()
        .map(|&(a, i)| {
            let act = ACTIVATIONS[a];
            let widths = [width; DEPTH + 1];
            // Every network runs backward only where a backward assertion needs the
            // average; elsewhere the first network's backward pass draws the figure.
            let backward_nets = if backward_asserted(a, i) {
                usize::MAX
            } else {
                1
            };
            let sim = Sim {
                hist: histogram_range(act),
                backward_nets,
                ..Sim::new(&widths, act, inits[i])
            };
            let r = if asserted(a, i) { reps } else { 1 };
            (a, i, sim.run(ctx, (a * 4 + i) as u64, batch, r))
        })
        .collect();
    let mut grid: Grid = vec![vec![None; 4]; 4];
    for (a, i, p) in profiles {
        grid[a][i] = Some(p);
    }
    grid
}

/// Per-layer ratios v[l + 1]/v[l].
fn ratios(v: &[f64]) -> Vec<f64> {
    v.windows(2).map(|w| w[1] / w[0]).collect()
}

fn worst_gap(measured: &[f64], predicted: &[f64]) -> f64 {
    measured
        .iter()
        .zip(predicted)
        .map(|(m, p)| (m / p - 1.0).abs())
        .fold(0.0, f64::max)
}

// ---------------------------------------------------------------- EXP-XAV-DEPTH
// ANCHOR: exp_xav_depth

pub(super) fn exp_xav_depth() -> Claim {
    Claim::checked(
        "EXP-XAV-DEPTH",
        ROOM,
        "experiment → XAV-*",
        "20 layers, zero biases, x ~ N(0, I), backward probe N(0, 1): linear + Xavier keeps \
         gain 1 both ways; tanh + Xavier tracks the q-map (±10%) and its δ the factors \
         E[tanh'(√q_l z)²]; tanh + N(0, 1) saturates (> 70%); tanh + N(0, 0.01²) collapses by \
         ≈ J·1e-4 per layer; ReLU + Xavier loses 2⁻¹⁰ in 10 layers; ReLU + He keeps it (×2); \
         1:4 widths alternate the gains 0.4 and 1.6 (backward the reverse)",
        PostVerdict::Experiment,
        &[
            (
                InitBug::HeFactorOne,
                Planted::bug("He-normal with factor 1 (1/J_i) instead of 2"),
            ),
            (
                InitBug::XavierSqrt3,
                Planted::bug("Xavier-uniform with √3 instead of √6"),
            ),
        ],
        |bug, ctx| {
            let width = 512;
            let grid = run_grid(ctx, bug, width);
            let get = |a: Activation, i: usize| {
                let ai = ACTIVATIONS.iter().position(|&x| x == a).expect("listed");
                grid[ai][i].as_ref()
            };
            let mut f = Findings::default();
            if let Some(p) = get(Activation::Identity, 2) {
                let fwd = ratios(&p.pre_ms);
                let worst = fwd.iter().map(|g| g.ln().abs()).fold(0.0, f64::max);
                f.experiment(
                    "linear + Xavier: worst per-layer forward |ln gain| (< ln 1.1)",
                    worst,
                    1.1f64.ln(),
                    "equal widths: J·Var(W) = 1",
                );
                within_factor(
                    &mut f,
                    "linear + Xavier: E[IN_20²]/E[x²]",
                    p.pre_ms[DEPTH - 1] / p.input_ms,
                    1.0,
                    1.5,
                    "CLAIMS.md: within ×1.5",
                );
                let bwd: Vec<f64> = ratios(&p.delta_ms).iter().map(|r| 1.0 / r).collect();
                let worst = bwd.iter().map(|g| g.ln().abs()).fold(0.0, f64::max);
                f.experiment(
                    "linear + Xavier: worst per-layer backward |ln gain| (< ln 1.1)",
                    worst,
                    1.1f64.ln(),
                    "equal widths: J·Var(W) = 1",
                );
            }
            if let Some(p) = get(Activation::Tanh, 2) {
                let map = spec::q_sequence(SpecActivation::Tanh, 1.0, p.pre_ms[0], DEPTH);
                f.experiment(
                    "tanh + Xavier: worst |q_l / q-map − 1| over 20 layers (< 0.1)",
                    worst_gap(&p.pre_ms, &map),
                    0.1,
                    "XAV-LIN-18's recursion from the measured q_1",
                );
                // δ_l/δ_{l+1} = E[tanh'(IN_l)²] (J·Var(W) = 1), evaluated along the q-map.
                let chi: Vec<f64> = map
                    .iter()
                    .map(|&q| spec::chi(SpecActivation::Tanh, 1.0, q))
                    .collect();
                let measured: Vec<f64> = ratios(&p.delta_ms).iter().map(|r| 1.0 / r).collect();
                f.experiment(
                    "tanh + Xavier: worst |δ factor / E[tanh'(√q_l z)²] − 1|, layers 1–10 (< 0.1)",
                    worst_gap(&measured[..10], &chi[..10]),
                    0.1,
                    "0.464, 0.637, 0.727, … along the q-map",
                );
                let product: f64 = chi[..10].iter().product();
                within_rel(
                    &mut f,
                    "tanh + Xavier: E[δ_1²]/E[δ_11²] vs Π factors (≈ 0.071)",
                    p.delta_ms[0] / p.delta_ms[10],
                    product,
                    0.25,
                    "ten per-layer factors",
                );
            }
            if let Some(p) = get(Activation::Tanh, 0) {
                let least = p.saturated.iter().copied().fold(f64::INFINITY, f64::min);
                at_least(
                    &mut f,
                    "tanh + N(0,1): fewest saturated (|O| > 0.99) in a layer",
                    least,
                    0.7,
                    "IN has variance ≈ J·E[O²] ≫ 1",
                );
            }
            if let Some(p) = get(Activation::Tanh, 1) {
                let gain = width as f64 * 1e-4;
                let predicted: Vec<f64> = p
                    .pre_ms
                    .iter()
                    .map(|&q| spec::q_map(SpecActivation::Tanh, gain, q, 0.0) / q)
                    .collect();
                f.experiment(format!("tanh + N(0,0.01²): worst |per-layer gain / map − 1| (≈ J·1e-4 = {gain}) (< 0.1)"), worst_gap(&ratios(&p.pre_ms), &predicted), 0.1, "q-map with J·Var(W) = J·1e-4");
            }
            if let Some(p) = get(Activation::Relu, 2) {
                within_factor(
                    &mut f,
                    "ReLU + Xavier: q_11/q_1",
                    p.pre_ms[10] / p.pre_ms[0],
                    2f64.powi(-10),
                    2.0,
                    "E[ReLU(z)²] = q/2 per layer",
                );
            }
            if let Some(p) = get(Activation::Relu, 3) {
                let worst = p
                    .pre_ms
                    .iter()
                    .map(|q| (q / p.pre_ms[0]).ln().abs())
                    .fold(0.0, f64::max);
                f.experiment(
                    "ReLU + He: worst |ln(q_l/q_1)| over 20 layers (< ln 2)",
                    worst,
                    2f64.ln(),
                    "He: J·Var(W)·1/2 = 1",
                );
            }
            if bug != Some(InitBug::HeFactorOne) {
                nonsquare(ctx, bug, width, &mut f);
            }
            if bug.is_none() {
                f.figures.extend(depth_figures(&grid));
            }
            f
        },
    )
}

/// Identity layers with widths J/4, J, J/4, …: Xavier's per-layer gains alternate.
fn nonsquare(ctx: &Ctx, bug: Option<InitBug>, width: usize, f: &mut Findings) {
    let widths: Vec<usize> = (0..=DEPTH)
        .map(|i| if i % 2 == 0 { width / 4 } else { width })
        .collect();
    let (reps, batch) = replicas(ctx);
    let p = Sim::new(&widths, Activation::Identity, inits(bug)[2])
        .backward()
        .run(ctx, 100, batch, reps);
    // Layer l (0-based) maps widths[l] → widths[l + 1]; forward gain J_l·v, backward J_{l+1}·v.
    let v = |l: usize| spec::compromise_variance(&widths, l + 1);
    let fwd: Vec<f64> = (1..DEPTH).map(|l| widths[l] as f64 * v(l)).collect();
    let bwd: Vec<f64> = (1..DEPTH).map(|l| widths[l + 1] as f64 * v(l)).collect();
    let measured_bwd: Vec<f64> = ratios(&p.delta_ms).iter().map(|r| 1.0 / r).collect();
    // ±25%: the J/4-wide layers fluctuate most (about 1/√(J/4·r), r the effective rank of
    // the batch after many layers); still far from 1 and from the √3 bug's 0.2 and 0.8.
    f.experiment(
        "1:4 widths + Xavier: worst |forward gain / (0.4 or 1.6) − 1| (< 0.25)",
        worst_gap(&ratios(&p.pre_ms), &fwd),
        0.25,
        "XAV-HM: 2J_i/(J_i + J_{i+1})",
    );
    f.experiment(
        "1:4 widths + Xavier: worst |backward gain / (1.6 or 0.4) − 1| (< 0.25)",
        worst_gap(&measured_bwd, &bwd),
        0.25,
        "XAV-HM: 2J_{i+1}/(J_i + J_{i+1})",
    );
    if bug.is_none() {
        let layers = |v: &[f64]| {
            v.iter()
                .enumerate()
                .map(|(l, y)| ((l + 1) as f64, y.log10()))
                .collect()
        };
        f.figures.push(LinePlot {
            file_stem: "xavier-depth-nonsquare".into(),
            title: format!(
                "linear, Xavier, widths {}, {}, {}, …",
                widths[0], widths[1], widths[2]
            ),
            x_label: "layer".into(),
            y_label: "log10 mean square".into(),
            series: vec![
                Series {
                    name: "forward E[IN²]".into(),
                    points: layers(&p.pre_ms),
                },
                Series {
                    name: "backward E[δ²]".into(),
                    points: layers(&p.delta_ms),
                },
            ],
        });
    }
}

fn depth_figures(grid: &Grid) -> Vec<LinePlot> {
    let mut figs = Vec::new();
    for (a, act) in ACTIVATIONS.iter().enumerate() {
        for (dir, label) in [("forward", "E[IN²]"), ("backward", "E[δ²]")] {
            let series = (0..4)
                .filter_map(|i| grid[a][i].as_ref().map(|p| (i, p)))
                .map(|(i, p)| {
                    let v = if dir == "forward" {
                        &p.pre_ms
                    } else {
                        &p.delta_ms
                    };
                    Series {
                        name: INIT_NAMES[i].into(),
                        points: v
                            .iter()
                            .enumerate()
                            .map(|(l, y)| ((l + 1) as f64, y.log10()))
                            .collect(),
                    }
                })
                .collect();
            figs.push(LinePlot {
                file_stem: format!("xavier-depth-{dir}-{}", act.name()),
                title: format!("{}: {dir} {label} per layer", act.name()),
                x_label: "layer".into(),
                y_label: format!("log10 {label}"),
                series,
            });
        }
    }
    for (i, stem) in [(2, "xavier"), (0, "normal")] {
        if let Some(p) = grid[1][i].as_ref() {
            let bin = 2.0 / HIST_BINS as f64;
            let series = [1, 5, 10, 15, 20]
                .iter()
                .map(|&l| {
                    let counts = &p.histograms[l - 1];
                    let total: u64 = counts.iter().sum();
                    Series {
                        name: format!("layer {l}"),
                        points: counts
                            .iter()
                            .enumerate()
                            .map(|(b, &c)| {
                                (
                                    -1.0 + (b as f64 + 0.5) * bin,
                                    c as f64 / (total.max(1) as f64 * bin),
                                )
                            })
                            .collect(),
                    }
                })
                .collect();
            figs.push(LinePlot {
                file_stem: format!("xavier-hist-tanh-{stem}"),
                title: format!("tanh activations under {}", INIT_NAMES[i]),
                x_label: "activation value O".into(),
                y_label: "density".into(),
                series,
            });
        }
    }
    figs
}

// ANCHOR_END: exp_xav_depth
// ---------------------------------------------------------------- EXP-XAV-DEEP
// ANCHOR: exp_xav_deep

#[derive(Clone, Copy)]
enum DeepBug {
    HeFactorOne,
}

pub(super) fn exp_xav_deep() -> Claim {
    Claim::checked(
        "EXP-XAV-DEEP",
        ROOM,
        "experiment → XAV-DEEP",
        "50 tanh layers under Xavier end at q_50 within ±30% of 0.0102 (≈ 1/(2l)); 30 ReLU \
         layers under Xavier lose 2⁻³⁰ (log₂ −30 ± 3) of the second moment, under He keep it \
         (|log₂| ≤ 3)",
        PostVerdict::Experiment,
        &[(
            DeepBug::HeFactorOne,
            Planted::bug("He-normal with factor 1 (1/J_i) instead of 2"),
        )],
        |bug, ctx| {
            let (width, (_, batch)) = (512, replicas(ctx));
            let he = match bug {
                None => Init::HeNormal { slope: 0.0 },
                Some(DeepBug::HeFactorOne) => Init::LecunNormal,
            };
            let xavier = Init::XavierUniform { gain: 1.0 };
            let configs: Vec<(u64, usize, Activation, Init)> = match bug {
                None => vec![
                    (0, 50, Activation::Tanh, xavier),
                    (1, 30, Activation::Relu, xavier),
                    (2, 30, Activation::Relu, he),
                ],
                Some(_) => vec![(2, 30, Activation::Relu, he)],
            };
            let profiles: Vec<(u64, DepthProfile)> = configs
                .par_iter()
                .map(|&(part, depth, act, init)| {
                    (
                        part,
                        Sim::new(&vec![width; depth + 1], act, init).run(
                            ctx,
                            part,
                            batch,
                            deep_replicas(ctx, act == Activation::Relu),
                        ),
                    )
                })
                .collect();
            let mut f = Findings::default();
            for (part, p) in &profiles {
                let log2 = |l: usize| (p.out_ms[l - 1] / p.input_ms).log2();
                match part {
                    0 => within_rel(
                        &mut f,
                        "tanh + Xavier: q_50",
                        p.pre_ms[49],
                        0.0102,
                        0.3,
                        "XAV-LIN-18: ≈ 1/(2·50)",
                    ),
                    1 => f.experiment(
                        format!(
                            "ReLU + Xavier: |log₂(E[O_30²]/E[x²]) + 30| = |{:.2} + 30| (< 3)",
                            log2(30)
                        ),
                        (log2(30) + 30.0).abs(),
                        3.0,
                        "one halving per layer",
                    ),
                    _ => f.experiment(
                        format!(
                            "ReLU + He: |log₂(E[O_30²]/E[x²])| = |{:.2}| (< 3)",
                            log2(30)
                        ),
                        log2(30).abs(),
                        3.0,
                        "He: the second moment is preserved",
                    ),
                }
            }
            if bug.is_none() {
                f.figures.push(deep_figure(&profiles));
            }
            f
        },
    )
}

fn deep_figure(profiles: &[(u64, DepthProfile)]) -> LinePlot {
    let names = [
        "tanh + Xavier (50 layers)",
        "ReLU + Xavier (30)",
        "ReLU + He (30)",
    ];
    let mut series: Vec<Series> = profiles
        .iter()
        .map(|(part, p)| Series {
            name: names[*part as usize].into(),
            points: p
                .pre_ms
                .iter()
                .enumerate()
                .map(|(l, q)| ((l + 1) as f64, q.log10()))
                .collect(),
        })
        .collect();
    series.push(Series {
        name: "1/(2l)".into(),
        points: (2..=50)
            .map(|l| (l as f64, (0.5 / l as f64).log10()))
            .collect(),
    });
    LinePlot {
        file_stem: "xavier-deep".into(),
        title: "very deep networks: pre-activation variance per layer".into(),
        x_label: "layer l".into(),
        y_label: "log10 E[IN²]".into(),
        series,
    }
}

// ANCHOR_END: exp_xav_deep
