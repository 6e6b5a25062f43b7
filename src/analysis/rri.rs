//! The Relative Rate Index and its 95 % interval, exactly as safeguards.md S22 defines them,
//! and the S22 trigger.
//!
//! For a group `g` against a reference group `r`, with `a_g` people of group `g` in the
//! monitored population out of a baseline of `N_g` (and `a_r`, `N_r` for the reference):
//!
//! ```text
//! RRI    = (a_g / N_g) / (a_r / N_r)
//! 95% CI = exp( ln RRI ± 1.96 · sqrt(1/a_g − 1/N_g + 1/a_r − 1/N_r) )
//! ```
//!
//! **Guards.** The statistic is undefined when a count is zero (a zero rate, or a division by
//! zero) and the variance term is negative when a monitored count exceeds its baseline (the
//! monitored people are then not a subset of the baseline, so the binomial model behind the
//! interval does not hold). In each of these cases [`rri`] returns [`RriOutcome::NoEstimate`]
//! with the reason, never a NaN, an infinity or a panic. No continuity correction is applied:
//! S22 gives none, and adding one would change the figures the board compares with published
//! ones.
//!
//! **Trigger** ([`flags`], [`trigger`]): a month is flagged when RRI > 1.25 or the interval
//! excludes 1 (wholly above or wholly below it); an alert is raised when a comparison is flagged
//! in two consecutive months.

use serde::{Deserialize, Serialize};

/// The z value of a two-sided 95 % interval, as S22 writes it.
pub const Z_95: f64 = 1.96;

/// The RRI above which a month is flagged (S22).
pub const RRI_THRESHOLD: f64 = 1.25;

/// The counts of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RriCounts {
    /// People of the group in the monitored population (`a_g`).
    pub a_g: u64,
    /// The group's baseline (`N_g`).
    pub n_g: u64,
    /// People of the reference group in the monitored population (`a_r`).
    pub a_r: u64,
    /// The reference group's baseline (`N_r`).
    pub n_r: u64,
}

/// Why no estimate was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoEstimate {
    /// A baseline is zero: the rate is undefined.
    ZeroBaseline,
    /// The group's monitored count is zero: RRI would be 0 and its logarithm undefined.
    ZeroGroupCount,
    /// The reference group's monitored count is zero: RRI would be infinite.
    ZeroReferenceCount,
    /// A monitored count exceeds its baseline: the interval's variance would be negative.
    CountExceedsBaseline,
}

/// An estimate: RRI and its 95 % interval, all finite and positive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RriEstimate {
    /// The Relative Rate Index.
    pub rri: f64,
    /// Lower end of the 95 % interval.
    pub ci_low: f64,
    /// Upper end of the 95 % interval.
    pub ci_high: f64,
}

impl RriEstimate {
    /// True when the month is flagged under S22: RRI above 1.25, or an interval excluding 1.
    pub fn flagged(&self) -> bool {
        self.rri > RRI_THRESHOLD || self.ci_low > 1.0 || self.ci_high < 1.0
    }
}

/// The result of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RriOutcome {
    /// An estimate.
    Estimate(RriEstimate),
    /// No estimate, and why.
    NoEstimate {
        /// Why.
        reason: NoEstimate,
    },
}

impl RriOutcome {
    /// The estimate, if any.
    pub fn estimate(&self) -> Option<RriEstimate> {
        match self {
            Self::Estimate(e) => Some(*e),
            Self::NoEstimate { .. } => None,
        }
    }

    /// True when the month is flagged (an estimate that is flagged; no estimate never is).
    pub fn flagged(&self) -> bool {
        self.estimate().is_some_and(|e| e.flagged())
    }
}

/// RRI and its 95 % interval for `counts` (module docs for the formula and the guards).
pub fn rri(counts: RriCounts) -> RriOutcome {
    let RriCounts { a_g, n_g, a_r, n_r } = counts;
    let none = |reason| RriOutcome::NoEstimate { reason };
    if n_g == 0 || n_r == 0 {
        return none(NoEstimate::ZeroBaseline);
    }
    if a_g > n_g || a_r > n_r {
        return none(NoEstimate::CountExceedsBaseline);
    }
    if a_g == 0 {
        return none(NoEstimate::ZeroGroupCount);
    }
    if a_r == 0 {
        return none(NoEstimate::ZeroReferenceCount);
    }
    let (a_g, n_g, a_r, n_r) = (a_g as f64, n_g as f64, a_r as f64, n_r as f64);
    let rri = (a_g / n_g) / (a_r / n_r);
    // Non-negative: each a ≤ N, so 1/a ≥ 1/N.
    let variance = (1.0 / a_g - 1.0 / n_g + 1.0 / a_r - 1.0 / n_r).max(0.0);
    let half_width = Z_95 * variance.sqrt();
    let ln = rri.ln();
    let estimate = RriEstimate {
        rri,
        ci_low: (ln - half_width).exp(),
        ci_high: (ln + half_width).exp(),
    };
    if [estimate.rri, estimate.ci_low, estimate.ci_high]
        .iter()
        .all(|v| v.is_finite() && *v > 0.0)
    {
        RriOutcome::Estimate(estimate)
    } else {
        // Unreachable for u64 counts below 2^53; kept so no non-finite value is ever published.
        none(NoEstimate::ZeroBaseline)
    }
}

/// Whether each month of a series (oldest first) is flagged.
pub fn flags(series: &[RriOutcome]) -> Vec<bool> {
    series.iter().map(RriOutcome::flagged).collect()
}

/// True when the S22 trigger holds at the last month of `series` (oldest first): the last two
/// months are both flagged.
pub fn trigger(series: &[RriOutcome]) -> bool {
    matches!(series, [.., a, b] if a.flagged() && b.flagged())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(a_g: u64, n_g: u64, a_r: u64, n_r: u64) -> RriEstimate {
        rri(RriCounts { a_g, n_g, a_r, n_r })
            .estimate()
            .expect("an estimate")
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn rri_and_interval_match_hand_computed_values() {
        // a_g=40, N_g=1000, a_r=100, N_r=5000: RRI = 0.04/0.02 = 2.
        // var = 1/40 − 1/1000 + 1/100 − 1/5000 = 0.025 − 0.001 + 0.01 − 0.0002 = 0.0338;
        // sqrt = 0.183848...; 1.96 · sqrt = 0.360342...; exp(ln 2 ∓ 0.360342) =
        // 2 · exp(∓0.360342) = 1.394876..., 2.867638...
        let e = est(40, 1000, 100, 5000);
        assert!(close(e.rri, 2.0), "{e:?}");
        assert!(close(e.ci_low, 1.394_876), "{e:?}");
        assert!(close(e.ci_high, 2.867_638), "{e:?}");
        assert!(e.flagged());

        // Equal rates: a_g=10, N_g=100, a_r=20, N_r=200: RRI = 1;
        // var = 0.1 − 0.01 + 0.05 − 0.005 = 0.135; 1.96 · sqrt = 0.720150...;
        // CI = exp(∓0.720150) = 0.486679..., 2.054741...
        let e = est(10, 100, 20, 200);
        assert!(close(e.rri, 1.0), "{e:?}");
        assert!(close(e.ci_low, 0.486_679), "{e:?}");
        assert!(close(e.ci_high, 2.054_741), "{e:?}");
        assert!(!e.flagged());
    }

    #[test]
    fn the_trigger_flags_a_high_rri_or_an_interval_excluding_one() {
        // RRI 1.3 with a wide interval: flagged by the point estimate alone.
        let wide = est(13, 100, 10, 100);
        assert!(wide.rri > 1.25 && wide.ci_low < 1.0);
        assert!(wide.flagged());
        // RRI 1.2 with a narrow interval wholly above 1: flagged by the interval.
        let narrow = est(1200, 10_000, 1000, 10_000);
        assert!(narrow.rri < 1.25 && narrow.ci_low > 1.0, "{narrow:?}");
        assert!(narrow.flagged());
        // RRI 0.5 with an interval wholly below 1: flagged (the interval excludes 1).
        let low = est(500, 10_000, 1000, 10_000);
        assert!(low.ci_high < 1.0);
        assert!(low.flagged());
    }

    #[test]
    fn zero_and_impossible_counts_give_no_estimate_never_nan() {
        let case = |a_g, n_g, a_r, n_r| rri(RriCounts { a_g, n_g, a_r, n_r });
        assert_eq!(
            case(0, 100, 5, 100),
            RriOutcome::NoEstimate {
                reason: NoEstimate::ZeroGroupCount
            }
        );
        assert_eq!(
            case(5, 100, 0, 100),
            RriOutcome::NoEstimate {
                reason: NoEstimate::ZeroReferenceCount
            }
        );
        assert_eq!(
            case(5, 0, 5, 100),
            RriOutcome::NoEstimate {
                reason: NoEstimate::ZeroBaseline
            }
        );
        assert_eq!(
            case(0, 0, 0, 0),
            RriOutcome::NoEstimate {
                reason: NoEstimate::ZeroBaseline
            }
        );
        assert_eq!(
            case(101, 100, 5, 100),
            RriOutcome::NoEstimate {
                reason: NoEstimate::CountExceedsBaseline
            }
        );
        assert!(!case(0, 100, 5, 100).flagged());
        // a = N everywhere: variance 0, a degenerate but finite interval.
        let full = est(7, 7, 3, 3);
        assert!(close(full.rri, 1.0) && close(full.ci_low, 1.0) && close(full.ci_high, 1.0));
        // Extreme counts stay finite.
        let big = est(
            1,
            u64::from(u32::MAX),
            u64::from(u32::MAX),
            u64::from(u32::MAX),
        );
        assert!(big.rri.is_finite() && big.ci_low > 0.0 && big.ci_high.is_finite());
        // Serialises without NaN.
        let json = serde_json::to_string(&case(0, 0, 1, 1)).unwrap();
        assert_eq!(json, r#"{"status":"no_estimate","reason":"zero_baseline"}"#);
    }

    #[test]
    fn the_alert_needs_two_consecutive_flagged_months() {
        let hit = rri(RriCounts {
            a_g: 40,
            n_g: 1000,
            a_r: 100,
            n_r: 5000,
        });
        let calm = rri(RriCounts {
            a_g: 10,
            n_g: 100,
            a_r: 20,
            n_r: 200,
        });
        let none = rri(RriCounts {
            a_g: 0,
            n_g: 100,
            a_r: 20,
            n_r: 200,
        });
        assert!(trigger(&[hit, hit]));
        assert!(trigger(&[calm, hit, hit]));
        assert!(!trigger(&[hit]));
        assert!(!trigger(&[hit, calm]));
        assert!(!trigger(&[hit, calm, hit]));
        assert!(!trigger(&[hit, none]));
        assert!(!trigger(&[]));
        assert_eq!(flags(&[hit, calm, none]), vec![true, false, false]);
    }
}
