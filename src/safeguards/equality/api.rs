//! The published form of the monitor's results (`GET /api/v1/equality/latest`, the
//! `equality_monitor` role only).
//!
//! Every count (monitored and baseline, group and reference) is passed through
//! [`protect_count`] with the children's threshold (S21: the populations concern children;
//! 1–9 suppressed, others rounded). When any of the four counts of a comparison is suppressed,
//! its RRI, interval and flag are suppressed with it (S21: statistics derived from a suppressed
//! count go with it). The monitored counts (people recorded, stopped or subject to actions) are
//! about children, so a zero is shown as suppressed like 1–9 (as in the layers about children,
//! `safeguards::releases::hides_zero`): otherwise a small area's 0 against a neighbour's
//! suppressed count would tell the monitor which MSOA holds a recorded child that month.
//! Resident baselines publish their zeros. Published RRIs and interval ends are rounded to two
//! decimals, so they do not carry the exact counts the rounding removed. Alerts are listed
//! without figures.

use serde::Serialize;

use super::EqualityAlert;
use super::monitor::Comparison;
use crate::analysis::rri::RriOutcome;
use crate::safeguards::disclosure::{DisclosurePolicy, Published, Sensitivity, protect_count};

/// One published comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedComparison {
    /// Population code.
    pub population: String,
    /// Dimension code.
    pub dimension: String,
    /// Group.
    pub group: String,
    /// Reference group.
    pub reference: String,
    /// People of the group in the monitored population (`a_g`), protected.
    pub group_monitored: Published,
    /// The group's baseline (`N_g`), protected.
    pub group_baseline: Published,
    /// The reference's monitored count (`a_r`), protected.
    pub reference_monitored: Published,
    /// The reference's baseline (`N_r`), protected.
    pub reference_baseline: Published,
    /// RRI to two decimals; `None` when suppressed or undefined.
    pub rri: Option<f64>,
    /// 95 % interval to two decimals; `None` when suppressed or undefined.
    pub ci: Option<[f64; 2]>,
    /// S22 flag of the month; `None` when suppressed.
    pub flagged: Option<bool>,
    /// True when the figures derived from the counts are suppressed.
    pub suppressed: bool,
    /// Why there is no estimate (`zero_group_count`, ...), when the counts are published.
    pub no_estimate: Option<String>,
}

/// An alert as published: which comparison and its state, no figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedAlert {
    /// Id (for `saferplaces equality close --alert`).
    pub id: u64,
    /// Month.
    pub month: String,
    /// Population.
    pub population: String,
    /// Dimension.
    pub dimension: String,
    /// Group.
    pub group: String,
    /// Reference.
    pub reference: String,
    /// `open` or `closed`.
    pub status: super::AlertStatus,
    /// `explain` or `reform` once closed.
    pub outcome: Option<String>,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn protect(count: u64, policy: &DisclosurePolicy) -> Published {
    protect_count(
        u32::try_from(count).unwrap_or(u32::MAX),
        Sensitivity::Children,
        policy,
    )
}

/// The published form of one comparison.
pub fn publish(c: &Comparison, policy: &DisclosurePolicy) -> PublishedComparison {
    let mut counts =
        [c.counts.a_g, c.counts.n_g, c.counts.a_r, c.counts.n_r].map(|n| protect(n, policy));
    // The monitored counts (group and reference) never tell a zero from 1..9.
    for k in [0, 2] {
        if counts[k] == Published::Value(0) {
            counts[k] = Published::Suppressed;
        }
    }
    let suppressed = counts.iter().any(|p| p.is_suppressed());
    let (rri, ci, no_estimate) = match (suppressed, c.outcome) {
        (true, _) => (None, None, None),
        (false, RriOutcome::Estimate(e)) => (
            Some(round2(e.rri)),
            Some([round2(e.ci_low), round2(e.ci_high)]),
            None,
        ),
        (false, RriOutcome::NoEstimate { reason }) => (
            None,
            None,
            serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
        ),
    };
    PublishedComparison {
        population: c.population.clone(),
        dimension: c.dimension.code().to_owned(),
        group: c.group.clone(),
        reference: c.reference.clone(),
        group_monitored: counts[0],
        group_baseline: counts[1],
        reference_monitored: counts[2],
        reference_baseline: counts[3],
        rri,
        ci,
        flagged: (!suppressed).then(|| c.flagged()),
        suppressed,
        no_estimate,
    }
}

/// The published form of an alert.
pub fn publish_alert(a: &EqualityAlert) -> PublishedAlert {
    PublishedAlert {
        id: a.id,
        month: a.month.clone(),
        population: a.population.clone(),
        dimension: a.dimension.clone(),
        group: a.group.clone(),
        reference: a.reference.clone(),
        status: a.status,
        outcome: a.outcome.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::rri::{RriCounts, rri};
    use crate::safeguards::equality::Dimension;

    fn comparison(a_g: u64, n_g: u64, a_r: u64, n_r: u64) -> Comparison {
        let counts = RriCounts { a_g, n_g, a_r, n_r };
        Comparison {
            population: "child_suspect_vs_victim".to_owned(),
            dimension: Dimension::Ethnicity,
            group: "black".to_owned(),
            reference: "white".to_owned(),
            counts,
            outcome: rri(counts),
        }
    }

    #[test]
    fn small_counts_suppress_the_rri_derived_from_them() {
        let policy = DisclosurePolicy::default();
        // a_g = 3 is suppressed: the RRI, its interval and its flag go with it.
        let p = publish(&comparison(3, 40, 20, 400), &policy);
        assert!(p.group_monitored.is_suppressed());
        assert!(p.suppressed && p.rri.is_none() && p.ci.is_none() && p.flagged.is_none());
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["group_monitored"]["count"], serde_json::Value::Null);
        assert_eq!(json["group_monitored"]["suppressed"], true);
        // Counts above the threshold are rounded, and the RRI is published to two decimals.
        let p = publish(&comparison(42, 1003, 101, 5002), &policy);
        assert!(!p.suppressed);
        assert_eq!(p.group_monitored.value(), Some(40));
        assert_eq!(p.reference_monitored.value(), Some(100));
        let rri = p.rri.unwrap();
        assert!((rri - (rri * 100.0).round() / 100.0).abs() < 1e-12);
        assert_eq!(p.flagged, Some(true));
        // A zero monitored count looks like 1..9: suppressed, with everything derived from it.
        let p = publish(&comparison(0, 1000, 100, 5000), &policy);
        assert!(p.group_monitored.is_suppressed() && p.suppressed);
        assert_eq!(p.no_estimate, None);
        assert_eq!(p.flagged, None);
        assert_eq!(p, publish(&comparison(4, 1000, 100, 5000), &policy));
        // A zero baseline is published.
        let p = publish(&comparison(20, 0, 100, 5000), &policy);
        assert_eq!(p.group_baseline, Published::Value(0));
    }
}
