//! Central finite differences in f64, with the acceptance rule of CLAIMS.md §4.

/// The step of CLAIMS.md §4: h = 1e-6·max(1, |θ|). Truncation error ~h² ≈ 1e-12 and
/// rounding error ~ε/h ≈ 2e-10, so the difference is good to about 1e-9 absolute.
pub fn step(theta: f64) -> f64 {
    1e-6 * theta.abs().max(1.0)
}

/// (f(θ + h) − f(θ − h)) / 2h.
pub fn central_difference(f: impl Fn(f64) -> f64, theta: f64) -> f64 {
    let h = step(theta);
    (f(theta + h) - f(theta - h)) / (2.0 * h)
}

/// How far an analytic gradient `g` is from its finite difference `fd`, as a fraction of
/// the §4 acceptance band 1e-6·max(|g|, |fd|) + 1e-9: at most 1 means accepted. NaN in
/// either gives NaN (rejected).
pub fn band_ratio(g: f64, fd: f64) -> f64 {
    (g - fd).abs() / (1e-6 * g.abs().max(fd.abs()) + 1e-9)
}

/// [`band_ratio`] for a function whose value at θ is `value`: the rounding error of the
/// difference is ε·|f(θ)|/h, so the absolute term of the band scales with max(1, |f(θ)|)
/// (CLAIMS.md §4 states it for functions of order one).
pub fn band_ratio_at(g: f64, fd: f64, value: f64) -> f64 {
    (g - fd).abs() / (1e-6 * g.abs().max(fd.abs()) + 1e-9 * value.abs().max(1.0))
}

/// Why the scaled band is what it is, for the evidence.
pub const WHY_SCALED: &str = "central differences in f64, h = 1e-6·max(1,|θ|): truncation ~h² and \
     rounding ~ε·|f|/h ≈ 2e-10·|f|; accepted within 1e-6·max(|g|,|ĝ|) + 1e-9·max(1,|f|) \
     (CLAIMS.md §4, its absolute term scaled by the size of the differenced function f); \
     observed is the worst |g − ĝ| as a fraction of that band";

/// Why the band is what it is, for the evidence.
pub const WHY: &str = "central differences in f64, h = 1e-6·max(1,|x|): truncation ~h² and \
     rounding ~ε/h ≈ 2e-10; accepted within 1e-6·max(|g|,|ĝ|) + 1e-9 (CLAIMS.md §4); \
     observed is the worst |g − ĝ| as a fraction of that band";
