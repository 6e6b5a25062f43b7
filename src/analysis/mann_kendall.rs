//! The Mann–Kendall trend test (Mann 1945; Kendall 1975; `analytics.md` §2.3).
//!
//! ```text
//! S      = Σ_{k<j} sign(x_j − x_k)
//! Var(S) = [T(T−1)(2T+5) − Σ_g t_g(t_g−1)(2t_g+5)] / 18      t_g = size of tie group g
//! Z      = (S − 1)/√Var(S) if S > 0;  0 if S = 0;  (S + 1)/√Var(S) if S < 0
//! p      = 2 (1 − Φ(|Z|)),  tau = S / (T(T−1)/2)
//! ```
//!
//! This is pymannkendall's `original_test` (and R `trend::mk.test`): continuity-corrected Z,
//! ties by exact equality. NaN entries are skipped (pymannkendall drops them too), so T is the
//! number of finite values. With T < 2, or Var(S) = 0, the test is undefined: Z = 0, p = 1 and
//! no trend (documented, never a panic).

use serde::Serialize;

use super::gistar::two_sided_p;

/// The result of one Mann–Kendall test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MannKendall {
    /// Values used (finite entries of the series).
    pub n: usize,
    /// Kendall's S.
    pub s: i64,
    /// Var(S) with the tie correction.
    pub var_s: f64,
    /// Continuity-corrected standard normal statistic.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Kendall's tau, S / (T(T−1)/2); 0 when T < 2.
    pub tau: f64,
}

/// Direction of a significant trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// Significant and increasing.
    Increasing,
    /// Significant and decreasing.
    Decreasing,
    /// Not significant (or undefined).
    None,
}

impl MannKendall {
    /// The trend at significance `alpha` (p ≤ alpha counts as significant).
    pub fn trend(&self, alpha: f64) -> Trend {
        if self.p <= alpha && self.z > 0.0 {
            Trend::Increasing
        } else if self.p <= alpha && self.z < 0.0 {
            Trend::Decreasing
        } else {
            Trend::None
        }
    }
}

/// Runs the test on `series` (in time order), skipping NaN entries.
#[expect(
    clippy::many_single_char_names,
    reason = "the variables follow the notation of the formulas in analytics.md"
)]
#[expect(
    clippy::float_cmp,
    reason = "ties are groups of exactly equal values, as in pymannkendall"
)]
pub fn mann_kendall(series: &[f64]) -> MannKendall {
    let mut x: Vec<f64> = series.iter().copied().filter(|v| !v.is_nan()).collect();
    let t = x.len();
    let mut s: i64 = 0;
    for j in 1..t {
        let xj = x[j];
        for &xk in &x[..j] {
            s += i64::from(xj > xk) - i64::from(xj < xk);
        }
    }
    // Tie groups by exact equality.
    x.sort_unstable_by(f64::total_cmp);
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < t {
        let mut j = i + 1;
        while j < t && x[j] == x[i] {
            j += 1;
        }
        let g = (j - i) as f64;
        if g > 1.0 {
            tie_term += g * (g - 1.0) * (2.0 * g + 5.0);
        }
        i = j;
    }
    let tf = t as f64;
    let var_s = (tf * (tf - 1.0) * (2.0 * tf + 5.0) - tie_term) / 18.0;
    let z = if var_s <= 0.0 || s == 0 {
        0.0
    } else if s > 0 {
        (s as f64 - 1.0) / var_s.sqrt()
    } else {
        (s as f64 + 1.0) / var_s.sqrt()
    };
    let pairs = tf * (tf - 1.0) / 2.0;
    MannKendall {
        n: t,
        s,
        var_s,
        z,
        p: two_sided_p(z),
        tau: if pairs > 0.0 { s as f64 / pairs } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use approx::assert_relative_eq;

    use super::*;

    #[test]
    fn the_conformance_series_gives_the_published_figures() {
        // analytics.md §10.3.
        let r = mann_kendall(&[0.5, 1.2, 1.1, 2.0, 2.4, 2.2, 3.1, 3.0, 3.3, 3.9]);
        assert_eq!(r.s, 39);
        assert_relative_eq!(r.var_s, 125.0);
        assert_relative_eq!(r.z, 3.398_823, max_relative = 1e-6);
        assert_relative_eq!(r.p, 6.767_64e-4, max_relative = 1e-5);
        assert_relative_eq!(r.tau, 0.866_666_666_666_666_7, max_relative = 1e-12);
        assert_eq!(r.trend(0.05), Trend::Increasing);
    }

    #[test]
    fn ties_reduce_the_variance() {
        // Two tie groups of size 2 and one of size 3: 2·(2·1·9) + 3·2·11 = 102.
        let r = mann_kendall(&[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0]);
        assert_relative_eq!(r.var_s, (8.0 * 7.0 * 21.0 - 102.0) / 18.0);
        assert!(r.s > 0);
    }

    #[test]
    #[expect(
        clippy::float_cmp,
        reason = "the undefined case returns exactly 0 and 1"
    )]
    fn short_constant_and_nan_series_are_defined() {
        for series in [
            &[][..],
            &[1.0][..],
            &[2.0, 2.0, 2.0][..],
            &[f64::NAN; 4][..],
        ] {
            let r = mann_kendall(series);
            assert_eq!(r.z, 0.0);
            assert_eq!(r.p, 1.0);
            assert_eq!(r.trend(0.05), Trend::None);
        }
        let r = mann_kendall(&[3.0, f64::NAN, 2.0, 1.0, 0.0]);
        assert_eq!(r.n, 4);
        assert_eq!(r.s, -6);
    }
}
