//! Gradient checks: analytic gradients against central finite differences in f64, with the
//! acceptance band of the conventions appendix ("Gradient checks").
//!
//! For one parameter, [`central_difference`] and [`band_ratio_at`]. For a whole parameter
//! vector, [`check_gradient`] (a scalar function) and [`check_vjp`] (a layer: a vector
//! function contracted with an upstream gradient). Both report the worst parameter, its two
//! values and its band, and [`Findings::gradient`](super::Findings::gradient) records the
//! result as evidence.
//!
//! ```
//! use proofs_engine::claims::gradcheck::check_gradient;
//! // f(θ) = θ₀²·θ₁, ∇f = (2θ₀θ₁, θ₀²).
//! let f = |t: &[f64]| t[0] * t[0] * t[1];
//! let ok = check_gradient(f, &[1.5, -2.0], &[-6.0, 2.25]).unwrap();
//! assert!(ok.passes());
//! let wrong = check_gradient(f, &[1.5, -2.0], &[-6.0, 1.5]).unwrap();
//! assert!(!wrong.passes());
//! assert_eq!(wrong.worst, 1);
//! ```

use crate::{Error, Result};

/// The step h = 1e-6·max(1, |θ|). Truncation error ~h² ≈ 1e-12 and rounding error
/// ~ε/h ≈ 2e-10, so the difference is good to about 1e-9 absolute for f of order one.
pub fn step(theta: f64) -> f64 {
    1e-6 * theta.abs().max(1.0)
}

/// (f(θ + h) − f(θ − h)) / 2h.
pub fn central_difference(f: impl Fn(f64) -> f64, theta: f64) -> f64 {
    let h = step(theta);
    (f(theta + h) - f(theta - h)) / (2.0 * h)
}

/// How far an analytic gradient `g` is from its finite difference `fd`, as a fraction of
/// the band 1e-6·max(|g|, |fd|) + 1e-9: at most 1 means accepted. NaN in either gives NaN
/// (rejected).
pub fn band_ratio(g: f64, fd: f64) -> f64 {
    band_ratio_at(g, fd, 1.0)
}

/// The band 1e-6·max(|g|, |fd|) + 1e-9·max(1, |f(θ)|) for a function whose value at θ is
/// `value`: the rounding error of the difference is ε·|f(θ)|/h, so the absolute term
/// scales with the size of f.
pub fn band(g: f64, fd: f64, value: f64) -> f64 {
    1e-6 * g.abs().max(fd.abs()) + 1e-9 * value.abs().max(1.0)
}

/// |g − fd| as a fraction of [`band`].
pub fn band_ratio_at(g: f64, fd: f64, value: f64) -> f64 {
    (g - fd).abs() / band(g, fd, value)
}

/// Why the scaled band is what it is, for the evidence.
pub const WHY_SCALED: &str = "central differences in f64, h = 1e-6·max(1,|θ|): truncation ~h² and \
     rounding ~ε·|f|/h ≈ 2e-10·|f|; accepted within 1e-6·max(|g|,|ĝ|) + 1e-9·max(1,|f|) \
     (conventions appendix, \"Gradient checks\", its absolute term scaled by the size of the \
     differenced function f); observed is the worst |g − ĝ| as a fraction of that band";

/// Why the band is what it is, for the evidence.
pub const WHY: &str = "central differences in f64, h = 1e-6·max(1,|x|): truncation ~h² and \
     rounding ~ε/h ≈ 2e-10; accepted within 1e-6·max(|g|,|ĝ|) + 1e-9 (conventions appendix, \
     \"Gradient checks\"); observed is the worst |g − ĝ| as a fraction of that band";

/// A gradient vector checked against central differences.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientCheck {
    /// How many parameters were checked.
    pub parameters: usize,
    /// The parameter with the largest finite band ratio.
    pub worst: usize,
    /// The analytic and the finite-difference derivative there.
    pub analytic: f64,
    pub numeric: f64,
    /// |analytic − numeric| / band there: at most 1 is accepted (NaN when no parameter gave
    /// a finite ratio).
    pub ratio: f64,
    /// The band there.
    pub band: f64,
    /// Parameters whose analytic or numeric derivative is NaN or infinite.
    pub nonfinite: usize,
    /// The first of them.
    pub first_nonfinite: Option<usize>,
}

impl GradientCheck {
    /// Every parameter within its band, none non-finite.
    pub fn passes(&self) -> bool {
        self.nonfinite == 0 && self.ratio <= 1.0
    }

    fn from_pairs(pairs: impl Iterator<Item = (f64, f64)>, value: f64) -> Self {
        let mut c = GradientCheck {
            parameters: 0,
            worst: 0,
            analytic: f64::NAN,
            numeric: f64::NAN,
            ratio: f64::NAN,
            band: f64::NAN,
            nonfinite: 0,
            first_nonfinite: None,
        };
        for (i, (g, fd)) in pairs.enumerate() {
            c.parameters += 1;
            let r = band_ratio_at(g, fd, value);
            if !r.is_finite() {
                c.nonfinite += 1;
                c.first_nonfinite.get_or_insert(i);
            } else if c.ratio.is_nan() || r > c.ratio {
                (c.worst, c.analytic, c.numeric, c.ratio) = (i, g, fd, r);
                c.band = band(g, fd, value);
            }
        }
        c
    }
}

impl GradientCheck {
    /// The same as its [`Display`](std::fmt::Display) text, as Markdown with the numbers and
    /// |difference| typeset for the book (no bare `|`, which would end a table cell).
    pub fn markdown(&self) -> String {
        use crate::report::book::num;
        let ratio = if self.ratio.is_finite() {
            format!("{:.2}", self.ratio)
        } else {
            num(self.ratio, 2)
        };
        let mut s = format!(
            r"worst parameter {} of {}: analytic ${}$, finite difference ${}$, $\lvert \text{{difference}} \rvert = {ratio} \times$ band ${}$",
            self.worst,
            self.parameters,
            num(self.analytic, 9),
            num(self.numeric, 9),
            num(self.band, 2)
        );
        if let Some(i) = self.first_nonfinite {
            s += &format!(
                "; {} non-finite, the first at parameter {i}",
                self.nonfinite
            );
        }
        s
    }
}

impl std::fmt::Display for GradientCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worst parameter {} of {}: analytic {:.9e}, finite difference {:.9e}, |difference| = {:.2} × band {:.2e}",
            self.worst, self.parameters, self.analytic, self.numeric, self.ratio, self.band
        )?;
        if let Some(i) = self.first_nonfinite {
            write!(
                f,
                "; {} non-finite, the first at parameter {i}",
                self.nonfinite
            )?;
        }
        Ok(())
    }
}

fn check_lengths(theta: &[f64], other: &[f64], what: &'static str) -> Result<()> {
    if theta.is_empty() {
        return Err(Error::LengthMismatch {
            what: "parameters",
            expected: 1,
            found: 0,
        });
    }
    crate::error::check_len(what, theta.len(), other.len())
}

/// Checks the gradient `analytic` of a scalar function `f` at `theta`, parameter by
/// parameter, against central differences with the scaled band.
///
/// # Errors
/// [`Error::LengthMismatch`] when `theta` is empty or `analytic` has another length.
pub fn check_gradient(
    f: impl Fn(&[f64]) -> f64,
    theta: &[f64],
    analytic: &[f64],
) -> Result<GradientCheck> {
    check_lengths(theta, analytic, "analytic gradient")?;
    let value = f(theta);
    gradient_with_scale(f, theta, analytic, value)
}

/// [`check_gradient`] with the band's absolute term scaled by `scale` instead of |f(θ)|.
fn gradient_with_scale(
    f: impl Fn(&[f64]) -> f64,
    theta: &[f64],
    analytic: &[f64],
    scale: f64,
) -> Result<GradientCheck> {
    let mut t = theta.to_vec();
    let numeric: Vec<f64> = (0..theta.len())
        .map(|i| {
            let h = step(theta[i]);
            t[i] = theta[i] + h;
            let up = f(&t);
            t[i] = theta[i] - h;
            let down = f(&t);
            t[i] = theta[i];
            (up - down) / (2.0 * h)
        })
        .collect();
    Ok(GradientCheck::from_pairs(
        analytic.iter().copied().zip(numeric),
        scale,
    ))
}

/// Checks a layer's backward pass: for y = F(θ) and an upstream gradient u, the analytic
/// vector–Jacobian product `vjp` = uᵀ·∂F/∂θ against the central differences of θ ↦ u·F(θ).
/// The rounding error of that difference scales with Σ|uᵢ·Fᵢ(θ)|, not with |u·F(θ)| (a
/// random-sign u makes the sum cancel), so the band's absolute term uses the former.
///
/// Draw u with [`upstream`]: an upstream gradient of equal entries cancels whatever sums to
/// zero over the outputs (the mean terms of a normalisation's backward pass, say), and then
/// a backward pass missing those terms passes.
///
/// # Errors
/// [`Error::LengthMismatch`] when `theta` is empty, `vjp` is not as long as `theta`, or
/// `F(θ)` is not as long as `u`.
pub fn check_vjp(
    f: impl Fn(&[f64]) -> Vec<f64>,
    theta: &[f64],
    u: &[f64],
    vjp: &[f64],
) -> Result<GradientCheck> {
    check_lengths(theta, vjp, "vector-Jacobian product")?;
    let y = f(theta);
    crate::error::check_len("upstream gradient", y.len(), u.len())?;
    let scale = y.iter().zip(u).map(|(y, u)| (y * u).abs()).sum::<f64>();
    let dot = |t: &[f64]| f(t).iter().zip(u).map(|(y, u)| y * u).sum::<f64>();
    gradient_with_scale(dot, theta, vjp, scale)
}

/// An upstream gradient of `n` entries with distinct magnitudes and both signs: each entry
/// uniform on ±[0.5, 1.5], so no sum over outputs cancels by symmetry.
pub fn upstream(rng: &mut impl rand::Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let m = rng.random_range(0.5..1.5);
            if rng.random_bool(0.5) { m } else { -m }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn step_and_band() {
        assert_eq!(step(0.5), 1e-6);
        assert_eq!(step(-4.0), 4e-6);
        assert!((band(2.0, 1.0, 0.5) - (2e-6 + 1e-9)).abs() < 1e-20);
        assert!((band(-2.0, 3.0, -50.0) - (3e-6 + 5e-8)).abs() < 1e-20);
        assert_eq!(band_ratio(1.0, 1.0), 0.0);
        assert!((band_ratio(1.0, 1.0 + 2e-6) - 2e-6 / (1e-6 * (1.0 + 2e-6) + 1e-9)).abs() < 1e-9);
        assert!(band_ratio(f64::NAN, 1.0).is_nan());
        let d = central_difference(|x| x * x * x, 2.0);
        assert!((d - 12.0).abs() < 1e-8, "{d}");
    }

    #[test]
    fn names_the_worst_parameter() {
        let f = |t: &[f64]| t[0].sin() + t[1] * t[2];
        let theta = [0.3, 2.0, -1.0];
        let good = [0.3f64.cos(), -1.0, 2.0];
        let c = check_gradient(f, &theta, &good).unwrap();
        assert!(c.passes(), "{c}");
        assert_eq!(c.parameters, 3);
        let bad = [0.3f64.cos(), -1.0, 2.01];
        let c = check_gradient(f, &theta, &bad).unwrap();
        assert!(!c.passes());
        assert_eq!(c.worst, 2);
        assert_eq!(c.analytic, 2.01);
        assert!((c.numeric - 2.0).abs() < 1e-8);
        assert!(c.ratio > 1000.0);
        assert!(c.to_string().contains("worst parameter 2 of 3"), "{c}");
        let nan = [f64::NAN, -1.0, 2.0];
        let c = check_gradient(f, &theta, &nan).unwrap();
        assert!(!c.passes());
        assert_eq!((c.worst, c.nonfinite, c.first_nonfinite), (2, 1, Some(0)));
        assert!(
            c.to_string()
                .contains("1 non-finite, the first at parameter 0"),
            "{c}"
        );
        assert!(c.ratio < 1.0, "the finite parameters are right");
    }

    #[test]
    fn vjp_with_a_random_upstream_catches_a_missing_term() {
        // y = (x − μ)/σ (biased σ): uᵀJ = (u − mean(u) − y·mean(u·y))/σ. A backward pass
        // that drops the y·mean(u·y) term is exact for an upstream of equal entries (then
        // mean(u·y) = c·mean(y) = 0) and wrong for any other.
        let normalise = |x: &[f64]| {
            let n = x.len() as f64;
            let m = x.iter().sum::<f64>() / n;
            let s = (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt();
            x.iter().map(|v| (v - m) / s).collect::<Vec<_>>()
        };
        let x = [1.0, -2.0, 0.5, 3.0];
        let y = normalise(&x);
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let sigma = (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt();
        let backward = |u: &[f64], full: bool| {
            let mu = u.iter().sum::<f64>() / n;
            let muy = u.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>() / n;
            let extra = if full { muy } else { 0.0 };
            u.iter()
                .zip(&y)
                .map(|(ui, yi)| (ui - mu - yi * extra) / sigma)
                .collect::<Vec<_>>()
        };
        let uniform = [1.0; 4];
        assert!(
            check_vjp(normalise, &x, &uniform, &backward(&uniform, false))
                .unwrap()
                .passes()
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let u = upstream(&mut rng, 4);
        assert!(u.iter().all(|v| (0.5..1.5).contains(&v.abs())));
        assert!(
            check_vjp(normalise, &x, &u, &backward(&u, true))
                .unwrap()
                .passes()
        );
        assert!(
            !check_vjp(normalise, &x, &u, &backward(&u, false))
                .unwrap()
                .passes()
        );
        let right = backward(&u, true);
        // Length errors name what is wrong.
        let e = check_vjp(normalise, &x, &u[..3], &right)
            .unwrap_err()
            .to_string();
        assert!(e.contains("upstream gradient"), "{e}");
        let e = check_gradient(|_| 0.0, &[], &[]).unwrap_err().to_string();
        assert!(e.contains("parameters"), "{e}");
        let e = check_gradient(|_| 0.0, &[1.0], &[1.0, 2.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("analytic gradient"), "{e}");
    }
}
