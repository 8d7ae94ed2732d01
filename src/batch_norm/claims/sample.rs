//! Random inputs for the checks: normal and exponential draws from the seeded generator, and
//! batches in the two layouts (the specification's `x[i][k]`, the kernels' F × m matrix).

use nalgebra::DMatrix;
use rand::Rng;

pub(super) use crate::stats::{exponential, standard_normal as normal};

/// A batch `x[i][k]` of m samples and F features, feature k drawn from N(c_k, s_k²) with its
/// own centre c_k ∈ [−5, 5] and spread s_k ∈ [0.5, 3], so a statistic taken over the wrong
/// axis shows. Values are rounded to f32, so the kernels see exactly the same data.
pub(super) fn batch(rng: &mut impl Rng, m: usize, features: usize) -> Vec<Vec<f64>> {
    let centre: Vec<f64> = (0..features).map(|_| rng.random_range(-5.0..5.0)).collect();
    let spread: Vec<f64> = (0..features).map(|_| rng.random_range(0.5..3.0)).collect();
    (0..m)
        .map(|_| {
            (0..features)
                .map(|k| f64::from((centre[k] + spread[k] * normal(rng)) as f32))
                .collect()
        })
        .collect()
}

/// `x[i][k]` as the kernels' F × m matrix (column i = sample i).
pub(super) fn to_matrix(x: &[Vec<f64>]) -> DMatrix<f32> {
    DMatrix::from_fn(x[0].len(), x.len(), |k, i| x[i][k] as f32)
}

/// Values rounded to f32 and back, so the f64 reference and the f32 kernel see the same data.
pub(super) fn f32_values(v: impl IntoIterator<Item = f64>) -> Vec<f64> {
    v.into_iter().map(|x| f64::from(x as f32)).collect()
}
