//! Statistical disclosure control for aggregate outputs (safeguards.md S21).
//!
//! Every count that leaves the server for an aggregate role (`public`, `planner`) goes through
//! this module first: hexagon layers, tiles, area figures and exports. It turns true counts into
//! [`Published`] values and coarsens time windows to whole months.
//!
//! # Method
//!
//! 1. **Primary suppression.** A count from 1 to `threshold − 1` is published as
//!    `"count": null, "suppressed": true`. The threshold is
//!    [`DisclosurePolicy::min_count_general`] (default 5, so 1–4 are suppressed), or
//!    [`DisclosurePolicy::min_count_children`] (default 10, so 1–9) for layers about children
//!    ([`Sensitivity::Children`]). Both are configuration and can be made stricter but not weaker
//!    ([`DisclosurePolicy::validate`]). NHS Digital's 1–7 rule is `min_count_general = 8`. A true
//!    zero is published as 0. It describes nobody, and it is never used to hide another cell.
//! 2. **Rounding.** Any other count `n` is published as
//!    `max(nearest multiple of the base to n (halves up), smallest multiple of the base ≥
//!    threshold)`. With the defaults that is plain rounding to 5 (7 → 5, 8 → 10, 12 → 10,
//!    13 → 15), because 5, 6 and 7 already round to 5. The second term matters only when the
//!    threshold is not a multiple of the base. With threshold 6 and base 5, 6 and 7 would round to
//!    5, which looks like a count below the threshold, so they are published as 10. Both terms are
//!    multiples of the base and the second is at least the threshold. So every published value is
//!    0, or a multiple of the base that is at least the threshold. Totals are rounded from the
//!    true totals, not summed from rounded cells, so they need not add up exactly.
//! 3. **Secondary suppression.** Published figures are often related by sums. A parent hexagon
//!    is the sum of its children, because the index counts a point in the H3 ancestors of its
//!    res-10 cell. A table row is the sum of its cells. If only one cell of a sum is suppressed,
//!    subtracting the rest reveals it. This module treats the figures of one output and their sums
//!    as a *network*. Each count is an edge, each published sum is a node where inflow equals
//!    outflow, and a count that is in only one published sum ends at a shared `FREE` node. A
//!    suppressed count is *protected* when another assignment of values fits everything the
//!    attacker knows (below). Every count is in at most two sums, and the sums can be oriented so
//!    that each count flows out of one and into the other. That holds for H3 hierarchies and for
//!    two-way tables with margins. So the constraints form a network matrix, which is totally
//!    unimodular, and integer solutions come for free. Then a suppressed count can take another
//!    value exactly when it lies on a directed cycle of *movable* counts:
//!    - a suppressed count can always go up;
//!    - it can go down if it is above 1;
//!    - a published count or a zero cannot move.
//!
//!    This test is exact, not a heuristic. An unprotected count gets the cheapest cycle: the
//!    smallest total of newly suppressed values, then the fewest of them (the usual τ-ARGUS
//!    cost, which keeps large totals such as a whole-city cell published). The published counts on
//!    that cycle are suppressed too, and the process repeats until every suppressed count is
//!    protected. For one sibling group this is the classic rule: suppress the smallest non-zero
//!    sibling. The rule goes further in one case: a group whose suppressed cells all hold 1 gets
//!    one more, because two suppressed cells known to sum to 2 are both 1. The tests show that
//!    the classic "two per group" rule alone lets even an attacker who sees only rounded values
//!    pin such cells: `[1, 1, 1, 1, 38]` under a parent of 42 (published 40) forces four ones.
//!    For a table the rule gives the classic rectangle: a suppressed cell needs partners in its
//!    row and in its column.
//!
//! # Threat model
//!
//! The attacker has every figure of one output (one call). The protection does not rely on
//! rounding: the attacker is assumed to know the exact true value of every published count.
//! police.uk publishes every police-recorded crime of the general categories as a snapped point
//! with its month, so exact counts can be rebuilt, and a partner may hold exact figures. The
//! attacker also knows that zeros are true zeros, that suppressed counts are at least 1, and
//! every sum relation inside the output. It cannot tell primary from secondary suppressions, so
//! a suppressed count may be anything from 1 up. The guarantee is that every suppressed
//! count has at least two integer values consistent with all of this. An attacker who only sees
//! rounded values knows less, so the guarantee holds for them too. Rounding then adds noise on
//! top, which matters for partner-only data (the child categories) that nobody publishes
//! unrounded.
//!
//! # Limits
//!
//! - **Not a wide interval.** The guarantee is that a suppressed count cannot be pinned to one
//!   value. The totals may still show that it is "1 or 2".
//! - **Rule-aware attackers.** The choice of secondary cells is deterministic and depends on the
//!   values. An attacker who re-runs this algorithm on candidate inputs, or who can tell primary
//!   suppressions (below the threshold) from secondary ones (at least the threshold), may narrow
//!   a range and, in corner cases, pin a value. Take a group `[3, 5, 5]` with an exactly known
//!   parent of 13. The first 5 by cell order is chosen as the secondary. An attacker who knows
//!   that the secondary cell is the smallest sibling and at least 5 can pin it at 5, and so the 3.
//!   The model above, like τ-ARGUS audits, does not give the attacker that knowledge.
//! - **Only the sums inside one call are audited.** Anything that relates two calls is a
//!   differencing channel that this module cannot see. The callers must close each one:
//!   - *Bounding-box slices.* Protect the whole fixed geography (the study area for a window and
//!     category), then slice. Protecting a bbox treats cells outside it as zero, so the
//!     secondary pattern changes with the bbox.
//!   - *Overlapping time windows.* January–March minus January–April is April. Coarsening to
//!     months ([`coarsen_window_to_months`]) does not stop this. Protect each month on its own
//!     and publish windows as sums of the published months ([`WindowRelease`],
//!     [`protect_fixed_release`]); the server does (`safeguards::releases`).
//!   - *Categories.* "All" minus the general categories would difference out the child ones,
//!     and separately protected category layers give lower bounds against "all". The server
//!     leaves the child categories out of "all" and audits "all" and the general categories
//!     of a month together (`releases::general_month_releases`, [`widen`]).
//!   - *Authorities.* Thresholds apply to each authority separately and to the merged
//!     cross-border area (S21): `releases::authority_parts`.
//!   - *Resolutions.* Separate [`protect_cells`] calls per resolution are not coordinated. A
//!     parent suppressed at its level can be re-derived from published children, and its
//!     suppressed sibling from the grandparent. Use [`protect_cell_levels`] for every resolution
//!     served from the same data.
//! - **[`protect_cells`] leaves one residual case.** It assumes the parent total may be published
//!   exactly, but it cannot suppress that parent. A sibling group can consist of at least
//!   `threshold` cells that each hold exactly 1 incident. Say there are seven, and the parent of 7
//!   is known exactly. Then every one is pinned at 1, and only the parent's publisher could
//!   prevent that. This happens only when the threshold is at most 7, the general layers with the
//!   default or NHS-like settings. It is not rare in sparse fine layers: in a synthetic res-10
//!   layer about 1.6 % of the suppressed cells were in such groups. An attacker who sees only the
//!   rounded parent (5 for 5–7) can pin them only when all seven hold 1. [`protect_cell_levels`]
//!   has no such case.
//! - **Derived statistics** (rates, shares) of a suppressed count must be suppressed with it.
//!   [`Published::value`] is `None` for them.
//! - **Outside this module.** Rejecting user-drawn polygons (fixed geographies only) is for the
//!   API. Snapping points to approved map points and keeping the coordinates of incidents
//!   involving children on the server are for the point layers. So is the ban on small area ×
//!   age × ethnicity tables.
//! - **Cost.** Each suppressed count costs one local graph search, and a fix costs a local
//!   Dijkstra search. Neither expands the shared `FREE` node, so a layer of tens of thousands of
//!   cells stays fast.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use h3o::{CellIndex, Resolution};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::domain::{Category, Day, TimeWindow};

/// Lowest allowed general threshold: counts 1–4 are always suppressed (S21).
pub const FLOOR_MIN_COUNT_GENERAL: u32 = 5;
/// Lowest allowed threshold for layers about children: counts 1–9 are always suppressed (S21).
pub const FLOOR_MIN_COUNT_CHILDREN: u32 = 10;
/// Smallest allowed rounding base (S21: "rounded to the nearest 5").
pub const FLOOR_ROUNDING_BASE: u32 = 5;
/// Largest threshold or rounding base accepted. A higher value would suppress every real layer,
/// so it is taken as a configuration mistake. The bound also keeps the arithmetic far from
/// overflow.
pub const POLICY_CEILING: u32 = 1_000_000;

/// A disclosure policy or an input table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DisclosureError {
    /// A threshold or the rounding base is weaker than its floor in safeguards.md S21. Raise it
    /// to at least the floor.
    #[error("{field} = {value} is below the floor of {floor} required by safeguards.md S21")]
    BelowFloor {
        /// The policy field.
        field: &'static str,
        /// The configured value.
        value: u32,
        /// The lowest value allowed.
        floor: u32,
    },
    /// The child threshold is below the general one, so layers about children would be less
    /// protected than general layers. Raise `min_count_children`.
    #[error(
        "min_count_children = {children} is below min_count_general = {general}; layers about \
         children must not be less protected than general layers"
    )]
    ChildrenBelowGeneral {
        /// The configured child threshold.
        children: u32,
        /// The configured general threshold.
        general: u32,
    },
    /// A threshold or the rounding base is above [`POLICY_CEILING`], which would suppress
    /// everything. This is almost certainly a typing mistake.
    #[error("{field} = {value} is above the ceiling of {ceiling}")]
    AboveCeiling {
        /// The policy field.
        field: &'static str,
        /// The configured value.
        value: u32,
        /// The largest value allowed.
        ceiling: u32,
    },
    /// A table row has a different number of columns from the first row.
    #[error("table row {row} has {found} columns but row 0 has {expected}")]
    RaggedTable {
        /// Index of the offending row.
        row: usize,
        /// Number of columns in row 0.
        expected: usize,
        /// Number of columns in the offending row.
        found: usize,
    },
}

/// Result alias for disclosure control.
pub type DisclosureResult<T> = Result<T, DisclosureError>;

/// Thresholds and rounding for aggregate outputs (S21). Loaded from configuration.
/// [`DisclosurePolicy::validate`] refuses anything weaker than the floors.
///
/// # Units
///
/// All three fields are incident counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisclosurePolicy {
    /// Smallest count published in general layers. Default 5: counts 1–4 are suppressed. NHS
    /// Digital's stricter 1–7 rule is 8.
    pub min_count_general: u32,
    /// Smallest count published in layers about children. Default 10: counts 1–9 are suppressed
    /// (the ONS and UK LLC threshold).
    pub min_count_children: u32,
    /// Published counts are multiples of this. Default 5.
    pub rounding_base: u32,
}

impl Default for DisclosurePolicy {
    fn default() -> Self {
        Self {
            min_count_general: FLOOR_MIN_COUNT_GENERAL,
            min_count_children: FLOOR_MIN_COUNT_CHILDREN,
            rounding_base: FLOOR_ROUNDING_BASE,
        }
    }
}

impl DisclosurePolicy {
    /// Checks the policy against the floors in safeguards.md S21. Stricter values are accepted.
    ///
    /// # Errors
    ///
    /// - [`DisclosureError::BelowFloor`] when `min_count_general < 5`, `min_count_children < 10`
    ///   or `rounding_base < 5`.
    /// - [`DisclosureError::AboveCeiling`] when a value is above [`POLICY_CEILING`].
    /// - [`DisclosureError::ChildrenBelowGeneral`] when `min_count_children < min_count_general`.
    pub fn validate(&self) -> DisclosureResult<()> {
        let fields = [
            (
                "min_count_general",
                self.min_count_general,
                FLOOR_MIN_COUNT_GENERAL,
            ),
            (
                "min_count_children",
                self.min_count_children,
                FLOOR_MIN_COUNT_CHILDREN,
            ),
            ("rounding_base", self.rounding_base, FLOOR_ROUNDING_BASE),
        ];
        for (field, value, floor) in fields {
            if value < floor {
                return Err(DisclosureError::BelowFloor {
                    field,
                    value,
                    floor,
                });
            }
            if value > POLICY_CEILING {
                return Err(DisclosureError::AboveCeiling {
                    field,
                    value,
                    ceiling: POLICY_CEILING,
                });
            }
        }
        if self.min_count_children < self.min_count_general {
            return Err(DisclosureError::ChildrenBelowGeneral {
                children: self.min_count_children,
                general: self.min_count_general,
            });
        }
        Ok(())
    }

    /// The threshold actually applied for `sensitivity`. Counts from 1 to `threshold − 1` are
    /// suppressed.
    ///
    /// The protect functions never apply a policy weaker than the floors, even when it was not
    /// validated. Each value is clamped into `floor ..= POLICY_CEILING`, and the child threshold
    /// is never below the general one.
    pub fn threshold(&self, sensitivity: Sensitivity) -> u32 {
        let general = self
            .min_count_general
            .clamp(FLOOR_MIN_COUNT_GENERAL, POLICY_CEILING);
        match sensitivity {
            Sensitivity::General => general,
            Sensitivity::Children => self
                .min_count_children
                .clamp(FLOOR_MIN_COUNT_CHILDREN, POLICY_CEILING)
                .max(general),
        }
    }

    /// The rounding base actually applied: `rounding_base` clamped into
    /// `FLOOR_ROUNDING_BASE ..= POLICY_CEILING`.
    pub fn effective_rounding_base(&self) -> u32 {
        self.rounding_base
            .clamp(FLOOR_ROUNDING_BASE, POLICY_CEILING)
    }

    fn rules(&self, sensitivity: Sensitivity) -> Rules {
        Rules {
            threshold: u64::from(self.threshold(sensitivity)),
            base: u64::from(self.effective_rounding_base()),
        }
    }
}

/// Which threshold a layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// General layers: [`DisclosurePolicy::min_count_general`].
    General,
    /// Layers about children or other sensitive categories:
    /// [`DisclosurePolicy::min_count_children`].
    Children,
}

impl Sensitivity {
    /// The sensitivity of a layer filtered to `category`. It is `Children` when the category
    /// concerns children by definition ([`Category::concerns_children`]). `None` (all
    /// categories) is `General`.
    ///
    /// The all-categories layer includes the child categories. Publishing it next to every
    /// general category lets an attacker difference them out. See the module limits.
    pub fn for_category(category: Option<Category>) -> Self {
        match category {
            Some(c) if c.concerns_children() => Self::Children,
            _ => Self::General,
        }
    }
}

/// A count as published to an aggregate role. In JSON it is the pair of properties
/// `"count": <number or null>, "suppressed": <bool>`. Serialize it (or `#[serde(flatten)]` it)
/// or use [`Published::count_json`] and [`Published::is_suppressed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Published {
    /// A published count: 0 (a true zero), or a multiple of the rounding base that is at least
    /// the threshold.
    Value(u32),
    /// A suppressed count, published as `"count": null, "suppressed": true`.
    Suppressed,
}

impl Published {
    /// The `count` property: a number, or `null` when suppressed.
    pub fn count_json(self) -> serde_json::Value {
        match self {
            Self::Value(v) => serde_json::Value::from(v),
            Self::Suppressed => serde_json::Value::Null,
        }
    }

    /// The `suppressed` property.
    pub fn is_suppressed(self) -> bool {
        matches!(self, Self::Suppressed)
    }

    /// The published value, `None` when suppressed. A rate or share derived from a suppressed
    /// count must be suppressed with it (S21).
    pub fn value(self) -> Option<u32> {
        match self {
            Self::Value(v) => Some(v),
            Self::Suppressed => None,
        }
    }
}

impl Serialize for Published {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Published", 2)?;
        s.serialize_field("count", &self.value())?;
        s.serialize_field("suppressed", &self.is_suppressed())?;
        s.end()
    }
}

/// The effective threshold and base for one layer.
#[derive(Debug, Clone, Copy)]
struct Rules {
    threshold: u64,
    base: u64,
}

impl Rules {
    /// Primary suppression and rounding of one count, ignoring any sums it belongs to.
    fn publish(self, count: u64) -> Published {
        if count == 0 {
            Published::Value(0)
        } else if count < self.threshold {
            Published::Suppressed
        } else {
            Published::Value(self.rounded(count))
        }
    }

    /// The published value of a count of at least the threshold. Module docs, step 2.
    fn rounded(self, count: u64) -> u32 {
        let base = self.base;
        let nearest = count.saturating_add(base / 2) / base * base;
        let lowest = self.threshold.div_ceil(base) * base;
        let value = nearest.max(lowest);
        // Only sums of many u32 counts can pass u32::MAX. They are published as the largest
        // multiple of the base that fits, which is still at least the threshold because both
        // are at most POLICY_CEILING.
        u32::try_from(value).unwrap_or_else(|_| {
            u32::try_from(u64::from(u32::MAX) / base * base).unwrap_or(u32::MAX)
        })
    }
}

/// Protects one standalone figure: primary suppression and rounding only.
///
/// Use it only for a figure that is published with no sum relation to other published figures.
/// Cells, parents and totals need [`protect_cells`], [`protect_cell_levels`] or
/// [`protect_table`].
pub fn protect_count(count: u32, sensitivity: Sensitivity, policy: &DisclosurePolicy) -> Published {
    policy.rules(sensitivity).publish(u64::from(count))
}

/// Protects one layer of H3 counts at a single resolution (S21).
///
/// `counts` holds the cells of the **whole** layer, all at one resolution. Pass the fixed
/// geography (the study area for the window and category), not a bounding-box slice, and slice
/// the output afterwards (module limits). Absent cells count as 0. A cell listed twice has its
/// counts added.
///
/// Rules (module docs): primary suppression, rounding, then secondary suppression within each
/// sibling group (the cells sharing a parent one resolution up). The parent total is assumed to
/// be published and known exactly whenever it is at least the threshold. It is never suppressed
/// here, because it is not part of this output. No suppressed cell can then be recovered from
/// its siblings plus the parent total, apart from the residual case in the module limits: a
/// group of at least `threshold` cells that each hold exactly 1. To publish several resolutions
/// of the same data, use [`protect_cell_levels`] instead.
///
/// Input at mixed resolutions is a caller bug, and the sum relations are then unknown. Every
/// non-zero cell is suppressed (fail closed).
///
/// Returns one entry per distinct input cell, sorted by cell. The output is deterministic.
pub fn protect_cells(
    counts: &[(CellIndex, u32)],
    sensitivity: Sensitivity,
    policy: &DisclosurePolicy,
) -> Vec<(CellIndex, Published)> {
    protect_cells_audited(counts, sensitivity, policy).0
}

/// [`protect_cells`], plus the suppressed cells that could not be protected (the documented
/// residual).
fn protect_cells_audited(
    counts: &[(CellIndex, u32)],
    sensitivity: Sensitivity,
    policy: &DisclosurePolicy,
) -> (Vec<(CellIndex, Published)>, Vec<CellIndex>) {
    let rules = policy.rules(sensitivity);
    let cells = merge_counts(counts);
    let Some(res) = single_resolution(&cells) else {
        return (fail_closed(&cells), Vec::new());
    };
    let parent_res = res.pred();

    let mut net = Network::default();
    let mut parent_node: BTreeMap<CellIndex, usize> = BTreeMap::new();
    let mut parent_sum: BTreeMap<CellIndex, u64> = BTreeMap::new();
    let mut child_items = Vec::with_capacity(cells.len());
    for (&cell, &count) in &cells {
        let parent = parent_res.and_then(|r| cell.parent(r));
        let head = match parent {
            Some(p) => {
                *parent_sum.entry(p).or_default() += count;
                *parent_node.entry(p).or_insert_with(|| net.add_node())
            }
            // Resolution 0 has no parent: the cell is in no sum.
            None => FREE,
        };
        child_items.push((cell, net.add_item(FREE, head, count, true)));
    }
    // The parents: published elsewhere, so they are known here but can never be suppressed.
    for (parent, sum) in &parent_sum {
        if let Some(&node) = parent_node.get(parent) {
            net.add_item(node, FREE, *sum, false);
        }
    }
    net.protect(rules.threshold);

    // The children were added first, so item `i < cells.len()` is `child_items[i]`; the
    // hidden parents come after them and are not part of this output.
    let residual = net
        .unprotectable
        .iter()
        .filter_map(|&i| child_items.get(i).map(|(c, _)| *c))
        .collect();
    let out = child_items
        .into_iter()
        .map(|(cell, item)| (cell, net.published(item, rules)))
        .collect();
    (out, residual)
}

/// Protects one layer of H3 counts at every resolution from its own down to `coarsest`, jointly
/// (S21).
///
/// `counts` holds the whole layer (see [`protect_cells`]) at its finest published resolution.
/// Each coarser cell's count is the sum of its children's counts, as in the incident index. The
/// result holds every ancestor of every input cell from `coarsest` to the input resolution,
/// sorted by resolution (coarsest first) and then by cell. A `coarsest` finer than the input is
/// treated as the input resolution. (h3o's own cell order ignores the resolution and puts each
/// cell after its descendants, which is why the sort key starts with the resolution.)
///
/// All levels are audited as one network. A parent suppressed at its level always has a
/// suppressed child (so it cannot be re-derived from its children), and sibling groups are
/// protected as in [`protect_cells`]. Every figure published about this layer must come from
/// this one call. Nothing coarser than `coarsest` may be published (include it in the range if
/// it is). Under that contract there is no residual case.
///
/// Input at mixed resolutions fails closed, as in [`protect_cells`]: the input cells and their
/// ancestors are returned with every non-zero one suppressed.
pub fn protect_cell_levels(
    counts: &[(CellIndex, u32)],
    coarsest: Resolution,
    sensitivity: Sensitivity,
    policy: &DisclosurePolicy,
) -> Vec<(CellIndex, Published)> {
    let rules = policy.rules(sensitivity);
    let finest_cells = merge_counts(counts);
    let single = single_resolution(&finest_cells);
    // Every input cell and its ancestors down to `coarsest`, with summed counts.
    let mut all: BTreeMap<CellIndex, u64> = BTreeMap::new();
    for (&cell, &count) in &finest_cells {
        let top = coarsest.min(cell.resolution());
        for r in Resolution::range(top, cell.resolution()) {
            if let Some(ancestor) = cell.parent(r) {
                *all.entry(ancestor).or_default() += count;
            }
        }
    }
    let Some(finest) = single else {
        return coarse_first(fail_closed(&all));
    };
    let top = coarsest.min(finest);

    let mut net = Network::default();
    // One node per cell that is the sum of its children (every level but the finest).
    let node: BTreeMap<CellIndex, usize> = all
        .keys()
        .filter(|c| c.resolution() != finest)
        .map(|&c| (c, net.add_node()))
        .collect();
    let mut items = Vec::with_capacity(all.len());
    for (&cell, &count) in &all {
        let tail = node.get(&cell).copied().unwrap_or(FREE);
        let head = if cell.resolution() == top {
            FREE
        } else {
            cell.resolution()
                .pred()
                .and_then(|r| cell.parent(r))
                .and_then(|p| node.get(&p).copied())
                .unwrap_or(FREE)
        };
        items.push((cell, net.add_item(tail, head, count, true)));
    }
    net.protect(rules.threshold);
    coarse_first(
        items
            .into_iter()
            .map(|(cell, item)| (cell, net.published(item, rules)))
            .collect(),
    )
}

/// True when the attacker's interval `lo..=hi` for a suppressed count is narrower than the
/// suppression range `1..=threshold − 1`: fewer than `threshold − 1` possible values (issue
/// 13, point 5: "no suppressed true value is pinned to an interval narrower than the
/// threshold"). A raised lower bound alone is not narrowing: a suppressed cell with two
/// suppressed sub-cells is at least 2, which every reader of the layer can see, but its
/// interval stays open above.
pub fn narrowed((lo, hi): (i64, i64), threshold: i64) -> bool {
    hi.saturating_sub(lo).saturating_add(1) < threshold - 1
}

/// Most audit rounds [`widen_suppression`] runs; each suppresses at least one more count, and
/// the rounds end far sooner on real layers.
const WIDEN_ROUNDS: usize = 64;

/// Work of interval propagation per audit round: at most this many evaluations of each sum on
/// average (a worklist re-evaluates only the sums whose figures tightened).
const WIDEN_PASSES: usize = 64;

/// One published figure in a widening audit ([`widen`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditItem {
    /// What is published.
    pub published: Published,
    /// The true value.
    pub truth: u64,
    /// True when a suppressed figure may stand for 0 (the attacker's lower bound is then 0).
    pub zero_may_hide: bool,
}

/// A published sum relation: the figure `total` is the sum of the figures `parts` (indexes
/// into the audit's items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSum {
    /// The total.
    pub total: usize,
    /// The parts.
    pub parts: Vec<usize>,
}

/// The audit-and-extend step behind [`widen_suppression`], for any figures related by sums
/// (the H3 levels of one layer, or several layers of one month with "all" as the sum of the
/// categories in each cell). The attacker reads a published `r` as
/// `max(r − 2, threshold)..=r + 2`, a suppressed figure as at least 1 (at least 0 when it may
/// hide a zero) and a 0 as 0, and propagates every sum. Every suppressed figure it [`narrowed`] gets the published figure
/// with the smallest true value among those sharing a sum with it suppressed too; repeat until
/// none is narrowed, nothing is left to suppress, or [`WIDEN_ROUNDS`]. Suppressing more never
/// weakens another figure's protection.
pub fn widen(items: &mut [AuditItem], sums: &[AuditSum], threshold: u32) {
    const INF: i64 = 1 << 40;
    let threshold = i64::from(threshold);
    let clamp = |x: u64| i64::try_from(x).unwrap_or(INF).min(INF);
    let member = membership(items.len(), sums);
    for _ in 0..WIDEN_ROUNDS {
        let mut bounds: Vec<(i64, i64)> = items
            .iter()
            .map(|item| match item.published {
                Published::Value(0) => (0, 0),
                Published::Value(r) => {
                    let r = i64::from(r);
                    ((r - 2).max(threshold), r + 2)
                }
                Published::Suppressed => (i64::from(!item.zero_may_hide), INF),
            })
            .collect();
        // Worklist propagation: every sum once, then again whenever one of its figures tightens.
        let mut queued = vec![true; sums.len()];
        let mut queue: std::collections::VecDeque<usize> = (0..sums.len()).collect();
        let mut budget = WIDEN_PASSES.saturating_mul(sums.len());
        while let Some(k) = queue.pop_front() {
            queued[k] = false;
            if budget == 0 {
                break;
            }
            budget -= 1;
            let sum = &sums[k];
            if sum.total >= bounds.len() || sum.parts.iter().any(|&p| p >= bounds.len()) {
                continue;
            }
            let mut tightened: Vec<usize> = Vec::new();
            let lo_sum: i64 = sum.parts.iter().map(|&p| bounds[p].0).sum::<i64>().min(INF);
            let hi_sum: i64 = sum.parts.iter().map(|&p| bounds[p].1).sum::<i64>().min(INF);
            let (tlo, thi) = bounds[sum.total];
            let total = (tlo.max(lo_sum), thi.min(hi_sum));
            if total != (tlo, thi) && total.0 <= total.1 {
                bounds[sum.total] = total;
                tightened.push(sum.total);
            }
            let (tlo, thi) = bounds[sum.total];
            for &p in &sum.parts {
                let (lo, hi) = bounds[p];
                let others_lo = lo_sum - lo;
                let others_hi = if hi_sum >= INF { INF } else { hi_sum - hi };
                let new_lo = if others_hi >= INF {
                    lo
                } else {
                    lo.max(tlo - others_hi)
                };
                let new_hi = if thi >= INF {
                    hi
                } else {
                    hi.min(thi - others_lo)
                };
                if (new_lo, new_hi) != (lo, hi) && new_lo <= new_hi {
                    bounds[p] = (new_lo, new_hi);
                    tightened.push(p);
                }
            }
            for i in tightened {
                for &j in &member[i] {
                    if !queued[j] {
                        queued[j] = true;
                        queue.push_back(j);
                    }
                }
            }
        }
        let mut fixes: Vec<usize> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if item.published != Published::Suppressed
                || item.truth < 1
                || !narrowed(bounds[i], threshold)
            {
                continue;
            }
            // The cheapest published figure of the smallest sum holding one: a sibling, child
            // or parent before a ward, a ward before a district, so that the fix is local.
            let mut by_size: Vec<usize> = member[i].clone();
            by_size.sort_by_key(|&k| (sums[k].parts.len(), k));
            let fix = by_size.iter().find_map(|&k| {
                std::iter::once(sums[k].total)
                    .chain(sums[k].parts.iter().copied())
                    .filter(|&c| matches!(items[c].published, Published::Value(v) if v > 0))
                    .min_by_key(|&c| (clamp(items[c].truth), c))
            });
            if let Some(fix) = fix {
                fixes.push(fix);
            }
        }
        if fixes.is_empty() {
            break;
        }
        for fix in fixes {
            items[fix].published = Published::Suppressed;
        }
    }
}

/// The sums each of `len` figures is in (as total or part), by index into `sums`.
fn membership(len: usize, sums: &[AuditSum]) -> Vec<Vec<usize>> {
    let mut member: Vec<Vec<usize>> = vec![Vec::new(); len];
    for (k, sum) in sums.iter().enumerate() {
        for &i in std::iter::once(&sum.total).chain(&sum.parts) {
            if let Some(m) = member.get_mut(i) {
                m.push(k);
            }
        }
    }
    member
}

/// The audit items and parent–children sums of one layer of H3 cells (the output of
/// [`protect_cell_levels`]), with the true counts rolled up from `finest`. Items are in the
/// order of `cells`.
pub fn layer_audit(
    cells: &[(CellIndex, Published)],
    finest: &[(CellIndex, u32)],
    zero_may_hide: bool,
) -> (Vec<AuditItem>, Vec<AuditSum>) {
    let index: HashMap<CellIndex, usize> = cells
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (*c, i))
        .collect();
    let mut items: Vec<AuditItem> = cells
        .iter()
        .map(|(_, p)| AuditItem {
            published: *p,
            truth: 0,
            zero_may_hide,
        })
        .collect();
    for (cell, count) in merge_counts(finest) {
        for r in Resolution::range(Resolution::Zero, cell.resolution()) {
            if let Some(&i) = cell.parent(r).and_then(|a| index.get(&a)) {
                items[i].truth += count;
            }
        }
    }
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, (c, _)) in cells.iter().enumerate() {
        if let Some(&p) = c
            .resolution()
            .pred()
            .and_then(|r| c.parent(r))
            .and_then(|p| index.get(&p))
        {
            children.entry(p).or_default().push(i);
        }
    }
    let sums = children
        .into_iter()
        .map(|(total, parts)| AuditSum { total, parts })
        .collect();
    (items, sums)
}

/// Widens the protection of a layer from [`protect_cell_levels`] so that an attacker who reads
/// the published figures as intervals and propagates the parent–children sums cannot narrow
/// any suppressed count below `threshold − 1` possible values (issue 13, point 5: "no
/// suppressed true value is pinned to an interval narrower than the threshold";
/// [`narrowed`]). [`protect_cell_levels`] alone guarantees two possible values; the attack
/// harness found about one suppressed count in thirty-five narrowed further. The audit is the
/// harness's attacker (interval propagation, [`widen`]), not a full LP; an LP can in principle
/// narrow further.
///
/// `finest` are the true counts the layer was protected from (one resolution); `cells` the
/// output of [`protect_cell_levels`] for them.
pub fn widen_suppression(
    cells: Vec<(CellIndex, Published)>,
    finest: &[(CellIndex, u32)],
    sensitivity: Sensitivity,
    policy: &DisclosurePolicy,
) -> Vec<(CellIndex, Published)> {
    let (mut items, sums) = layer_audit(&cells, finest, false);
    widen(&mut items, &sums, policy.threshold(sensitivity));
    cells
        .into_iter()
        .zip(items)
        .map(|((cell, _), item)| (cell, item.published))
        .collect()
}

/// Sorts cells of several resolutions by resolution, coarsest first, then by cell.
fn coarse_first(mut cells: Vec<(CellIndex, Published)>) -> Vec<(CellIndex, Published)> {
    cells.sort_by_key(|(cell, _)| (cell.resolution(), *cell));
    cells
}

/// A protected 2-D table with its margins (see [`protect_table`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectedTable {
    /// The cells, in the input's row and column order.
    pub cells: Vec<Vec<Published>>,
    /// One total per row, protected from the true row total.
    pub row_totals: Vec<Published>,
    /// One total per column, protected from the true column total.
    pub column_totals: Vec<Published>,
    /// The total of the whole table, protected from the true total.
    pub grand_total: Published,
}

impl ProtectedTable {
    /// A fixed-release table from its published cells: every total is the sum of the
    /// published cells it covers, suppressed when any of them is (S21: a figure derived from a
    /// suppressed count is suppressed with it). The rows must have one length.
    pub fn from_fixed_cells(cells: Vec<Vec<Published>>) -> Self {
        let sum = |figures: &mut dyn Iterator<Item = Published>| -> Published {
            let mut total = 0_u32;
            for f in figures {
                match f {
                    Published::Value(v) => total = total.saturating_add(v),
                    Published::Suppressed => return Published::Suppressed,
                }
            }
            Published::Value(total)
        };
        let n_cols = cells.first().map_or(0, Vec::len);
        let row_totals: Vec<Published> =
            cells.iter().map(|r| sum(&mut r.iter().copied())).collect();
        let column_totals: Vec<Published> = (0..n_cols)
            .map(|j| sum(&mut cells.iter().filter_map(|r| r.get(j).copied())))
            .collect();
        let grand_total = sum(&mut row_totals.iter().copied());
        Self {
            cells,
            row_totals,
            column_totals,
            grand_total,
        }
    }
}

/// The number of columns of `rows`, refusing a ragged table.
fn table_width(rows: &[Vec<u32>]) -> DisclosureResult<usize> {
    let n_cols = rows.first().map_or(0, Vec::len);
    match rows.iter().enumerate().find(|(_, r)| r.len() != n_cols) {
        Some((row, r)) => Err(DisclosureError::RaggedTable {
            row,
            expected: n_cols,
            found: r.len(),
        }),
        None => Ok(n_cols),
    }
}

/// Protects a table of counts as a **fixed release** (issue 13): every cell on its own
/// (primary suppression and rounding, [`protect_count`]), whatever else the query asked for,
/// and every total as the sum of the published cells it covers, suppressed when any of them is
/// suppressed (S21: a figure derived from a suppressed count is suppressed with it).
///
/// Use it where callers choose which cells a table holds, such as time windows: a table
/// protected as a whole ([`protect_table`]) publishes totals rounded from true totals, and its
/// secondary suppression depends on the table's composition, so tables of overlapping windows
/// difference into the suppressed cells (the review pinned suppressed months by solving the 78
/// windows of a year). Here every figure is a function of the cells' own releases: any number
/// of overlapping tables tells no more than the cells themselves. The cost is utility: a total
/// is withheld whenever one of its cells is small, and totals add rounding errors.
pub fn protect_fixed_release(
    rows: &[Vec<u32>],
    sensitivity: Sensitivity,
    policy: &DisclosurePolicy,
) -> DisclosureResult<ProtectedTable> {
    table_width(rows)?;
    let rules = policy.rules(sensitivity);
    let cells: Vec<Vec<Published>> = rows
        .iter()
        .map(|r| r.iter().map(|&n| rules.publish(u64::from(n))).collect())
        .collect();
    Ok(ProtectedTable::from_fixed_cells(cells))
}

/// Protects a small 2-D table of counts together with its row, column and grand totals (S21).
/// Examples are areas × months or areas × categories for area comparisons.
///
/// Every cell and every total gets primary suppression and rounding. The totals are computed
/// from the true counts, so a published total is the rounded true total, not the sum of
/// rounded cells. Secondary suppression then audits the whole table as one network, so that no
/// suppressed cell or total can be recovered from the published rows, columns and totals,
/// whatever the row and column count. Every row and every column (the margins included) then
/// has either no suppressed entry or at least two, counting a suppressed total as one. A
/// suppressed cell usually gets the classic rectangle of partners.
///
/// # Errors
///
/// [`DisclosureError::RaggedTable`] when the rows differ in length.
pub fn protect_table(
    rows: &[Vec<u32>],
    sensitivity: Sensitivity,
    policy: &DisclosurePolicy,
) -> DisclosureResult<ProtectedTable> {
    let n_cols = table_width(rows)?;
    let rules = policy.rules(sensitivity);
    let mut net = Network::default();
    // Nodes: one per row sum, one per column sum, one for "column totals add up to the grand
    // total" (margin row) and one for "row totals add up to the grand total" (margin column).
    let row_node: Vec<usize> = rows.iter().map(|_| net.add_node()).collect();
    let col_node: Vec<usize> = (0..n_cols).map(|_| net.add_node()).collect();
    let margin_row = net.add_node();
    let margin_col = net.add_node();

    let mut row_sum = vec![0u64; rows.len()];
    let mut col_sum = vec![0u64; n_cols];
    let mut cell_items = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let mut items = Vec::with_capacity(n_cols);
        for (j, &count) in row.iter().enumerate() {
            let count = u64::from(count);
            row_sum[i] += count;
            col_sum[j] += count;
            items.push(net.add_item(col_node[j], row_node[i], count, true));
        }
        cell_items.push(items);
    }
    let row_items: Vec<usize> = row_sum
        .iter()
        .zip(&row_node)
        .map(|(&sum, &node)| net.add_item(node, margin_col, sum, true))
        .collect();
    let col_items: Vec<usize> = col_sum
        .iter()
        .zip(&col_node)
        .map(|(&sum, &node)| net.add_item(margin_row, node, sum, true))
        .collect();
    let grand = net.add_item(margin_col, margin_row, row_sum.iter().sum(), true);
    net.protect(rules.threshold);

    let published = |items: &[usize]| -> Vec<Published> {
        items.iter().map(|&i| net.published(i, rules)).collect()
    };
    Ok(ProtectedTable {
        cells: cell_items.iter().map(|items| published(items)).collect(),
        row_totals: published(&row_items),
        column_totals: published(&col_items),
        grand_total: net.published(grand, rules),
    })
}

/// Widens `window` to whole calendar months (S21: time is coarsened to the month for planner
/// and public layers). `from` moves to the first day of its month and `to` to the last day of
/// its month. Aggregate roles therefore only ever get whole months. That does not stop
/// differencing between overlapping month windows (module limits).
///
/// The last representable day, [`Day::MAX`] (2149-06-06), is kept when the month would run
/// past it.
pub fn coarsen_window_to_months(window: TimeWindow) -> TimeWindow {
    let from = window.from().month_start();
    let to = month_end(window.to());
    // Cannot fail: from <= window.from() <= window.to() <= to. The fallback is the coarsest
    // window, not the uncoarsened one.
    TimeWindow::new(from, to).unwrap_or_else(|_| TimeWindow::all())
}

/// Most months [`months_of`] lists: a century, far more than any store holds.
pub const MAX_RELEASE_MONTHS: usize = 1200;

/// The whole calendar months of `window` that meet `span` (the days the data hold), oldest
/// first, each as a window from its first to its last day. Empty when they do not meet. At most
/// [`MAX_RELEASE_MONTHS`] (the newest are dropped beyond it).
pub fn months_of(window: TimeWindow, span: TimeWindow) -> Vec<TimeWindow> {
    let first = window.from().max(span.from());
    let last = window.to().min(span.to());
    let mut months = Vec::new();
    let mut start = first.month_start();
    while start <= last && months.len() < MAX_RELEASE_MONTHS {
        let end = month_end(start);
        match TimeWindow::new(start, end) {
            Ok(month) => months.push(month),
            Err(_) => break,
        }
        if end == Day::MAX {
            break;
        }
        start = end.plus_days(1);
    }
    months
}

/// One month's published cells of a layer at every served resolution: the output of
/// [`protect_cell_levels`] for the counts of that calendar month.
pub type MonthRelease = [(CellIndex, Published)];

/// The published cells of a window of whole months, assembled from the monthly releases
/// ([`WindowRelease::from_months`]). This is the method aggregate roles get for every
/// time-windowed H3 output (hexagons, tiles, hot spots, emerging hot spots, cross-border
/// cells); see docs/DISCLOSURE.md, "Monthly release".
///
/// Every figure is a function of the monthly releases alone: a window's value for a cell is
/// the sum of the cell's published months, so overlapping windows difference only into
/// published monthly values, never into a suppressed month (the 78-window attack of the
/// review, applied to the map). Repeating a request gives the same answer, because the monthly
/// releases are deterministic functions of the month's counts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WindowRelease {
    cells: HashMap<CellIndex, Published>,
    partial: HashSet<CellIndex>,
    months: usize,
}

impl WindowRelease {
    /// Assembles a window from the releases of its months (one entry per month, each the whole
    /// study area). Per cell:
    ///
    /// - with at least one published month, the value is the sum of the published months, a
    ///   multiple of the base at least the threshold (so still a valid published value under
    ///   S21); it is a lower bound, and the cell is **partial**, when another month of the
    ///   window is shown as suppressed;
    /// - with no published month and at least one suppressed one, it is suppressed;
    /// - otherwise (every month 0) it is absent, which callers read as 0.
    ///
    /// `zero_hidden` is for child categories, where a month at 0 is shown as suppressed
    /// (`safeguards::releases`): a month in which the cell is 0 or absent then counts as a
    /// suppressed month, so `partial` says nothing a single month does not.
    pub fn from_months(months: &[&MonthRelease], zero_hidden: bool) -> Self {
        // Per cell: sum of published months, months published, months suppressed.
        let mut acc: HashMap<CellIndex, (u32, usize, usize)> = HashMap::new();
        for month in months {
            for &(cell, published) in *month {
                let entry = acc.entry(cell).or_default();
                match published {
                    Published::Value(0) => {}
                    Published::Value(v) => {
                        entry.0 = entry.0.saturating_add(v);
                        entry.1 += 1;
                    }
                    Published::Suppressed => entry.2 += 1,
                }
            }
        }
        let mut release = Self {
            cells: HashMap::with_capacity(acc.len()),
            partial: HashSet::new(),
            months: months.len(),
        };
        for (cell, (sum, published, suppressed)) in acc {
            let shown_suppressed = if zero_hidden {
                months.len() - published
            } else {
                suppressed
            };
            let value = if published > 0 {
                if shown_suppressed > 0 {
                    release.partial.insert(cell);
                }
                Published::Value(sum)
            } else if suppressed > 0 {
                Published::Suppressed
            } else {
                continue;
            };
            release.cells.insert(cell, value);
        }
        release
    }

    /// The published value of `cell`; `None` when it is 0 in every month (absent).
    pub fn get(&self, cell: &CellIndex) -> Option<&Published> {
        self.cells.get(cell)
    }

    /// True when `cell`'s value is the sum of its published months and another month of the
    /// window is shown as suppressed: the value is then a lower bound.
    pub fn is_partial(&self, cell: &CellIndex) -> bool {
        self.partial.contains(cell)
    }

    /// The number of months assembled.
    pub fn months(&self) -> usize {
        self.months
    }

    /// The cells with a value or suppressed, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&CellIndex, &Published)> {
        self.cells.iter()
    }
}

/// The last day of `day`'s month, or [`Day::MAX`] when that is not representable.
fn month_end(day: Day) -> Day {
    let (year, month, _) = day.ymd();
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    Day::from_ymd(next_year, next_month, 1).map_or(Day::MAX, |next| next.minus_days(1))
}

/// Adds up the counts of each distinct cell.
fn merge_counts(counts: &[(CellIndex, u32)]) -> BTreeMap<CellIndex, u64> {
    let mut cells: BTreeMap<CellIndex, u64> = BTreeMap::new();
    for &(cell, count) in counts {
        *cells.entry(cell).or_default() += u64::from(count);
    }
    cells
}

/// The one resolution of `cells`. `None` when they mix resolutions. An empty layer counts as
/// resolution 0: it has no sums either way.
fn single_resolution(cells: &BTreeMap<CellIndex, u64>) -> Option<Resolution> {
    let mut resolutions = cells.keys().map(|c| c.resolution());
    let first = resolutions.next().unwrap_or(Resolution::Zero);
    resolutions.all(|r| r == first).then_some(first)
}

/// Suppresses every non-zero count: used when the sum relations are unknown.
fn fail_closed(cells: &BTreeMap<CellIndex, u64>) -> Vec<(CellIndex, Published)> {
    cells
        .iter()
        .map(|(&cell, &count)| {
            let published = if count == 0 {
                Published::Value(0)
            } else {
                Published::Suppressed
            };
            (cell, published)
        })
        .collect()
}

/// The node for "in no published sum". A count in only one published sum ends here, and cycles
/// through it are allowed, because nothing constrains that end.
const FREE: usize = 0;

/// What the attacker knows about one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// A true zero, published as 0: known exactly.
    Zero,
    /// Published: assumed known exactly (module threat model).
    Published,
    /// Suppressed: known only to be at least 1.
    Suppressed,
}

/// One count: an edge from `tail` to `head`. It is a term of the sum at `head` and the total of
/// the sum at `tail`, so at every node other than [`FREE`] the inflow equals the outflow.
#[derive(Debug, Clone)]
struct Item {
    tail: usize,
    head: usize,
    value: u64,
    mark: Mark,
    /// False for counts published elsewhere (hidden parents), which this output cannot suppress.
    suppressible: bool,
}

/// Lexicographic search cost: total value of the extra suppressions, then their number.
type Cost = (u64, u32);

/// How a node was reached in a search: the item crossed and the node on the other side (towards
/// the search's start).
#[derive(Debug, Clone, Copy)]
struct Reached {
    cost: Cost,
    via: Option<(usize, usize)>,
}

/// The counts of one output and the sums relating them (module docs, step 3).
#[derive(Debug)]
struct Network {
    /// Number of nodes, [`FREE`] included.
    nodes: usize,
    items: Vec<Item>,
    /// Items touching each node; built by [`Network::protect`].
    incident: Vec<Vec<usize>>,
    /// Suppressed items that no secondary suppression could protect.
    unprotectable: Vec<usize>,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            nodes: 1,
            items: Vec::new(),
            incident: Vec::new(),
            unprotectable: Vec::new(),
        }
    }
}

impl Network {
    fn add_node(&mut self) -> usize {
        self.nodes += 1;
        self.nodes - 1
    }

    fn add_item(&mut self, tail: usize, head: usize, value: u64, suppressible: bool) -> usize {
        self.items.push(Item {
            tail,
            head,
            value,
            mark: Mark::Published,
            suppressible,
        });
        self.items.len() - 1
    }

    /// The published form of item `i`.
    fn published(&self, i: usize, rules: Rules) -> Published {
        match self.items.get(i) {
            Some(item) if item.mark == Mark::Published => {
                Published::Value(rules.rounded(item.value))
            }
            Some(item) if item.mark == Mark::Zero => Published::Value(0),
            // Suppressed, or an index this network never issued (fail closed).
            _ => Published::Suppressed,
        }
    }

    /// Primary suppression at `threshold`, then secondary suppression until every suppressed
    /// item is protected or shown to be unprotectable.
    fn protect(&mut self, threshold: u64) {
        self.incident = vec![Vec::new(); self.nodes];
        for (i, item) in self.items.iter_mut().enumerate() {
            item.mark = match item.value {
                0 => Mark::Zero,
                v if v < threshold => Mark::Suppressed,
                _ => Mark::Published,
            };
            if let Some(list) = self.incident.get_mut(item.tail) {
                list.push(i);
            }
            if item.head != item.tail
                && let Some(list) = self.incident.get_mut(item.head)
            {
                list.push(i);
            }
        }
        // Adding suppressions only adds movable items, so a protected item stays protected, and
        // each item needs checking once after it is suppressed.
        let mut checked = vec![false; self.items.len()];
        loop {
            let mut progress = false;
            for (x, done) in checked.iter_mut().enumerate() {
                if *done || self.items[x].mark != Mark::Suppressed {
                    continue;
                }
                *done = true;
                progress = true;
                if self.is_protected(x) {
                    continue;
                }
                match self.cheapest_fix(x) {
                    Some(fix) => {
                        for i in fix {
                            if self.items[i].mark == Mark::Published {
                                self.items[i].mark = Mark::Suppressed;
                            }
                        }
                    }
                    None => self.unprotectable.push(x),
                }
            }
            if !progress {
                break;
            }
        }
    }

    /// True when suppressed item `x` can take another value: it lies on a directed cycle of
    /// movable items (up from tail to head, or, above 1, down from head to tail).
    fn is_protected(&self, x: usize) -> bool {
        let item = &self.items[x];
        if item.tail == item.head {
            return true;
        }
        self.path(item.head, item.tail, x, false).is_some()
            || (item.value > 1 && self.path(item.tail, item.head, x, false).is_some())
    }

    /// The published items whose suppression puts `x` on a movable cycle most cheaply. `None`
    /// when no set of suppressible items can.
    fn cheapest_fix(&self, x: usize) -> Option<Vec<usize>> {
        let item = &self.items[x];
        let up = self.path(item.head, item.tail, x, true);
        let down = if item.value > 1 {
            self.path(item.tail, item.head, x, true)
        } else {
            None
        };
        match (up, down) {
            (Some(u), Some(d)) if d.0 < u.0 => Some(d.1),
            (Some(u), _) => Some(u.1),
            (None, d) => d.map(|d| d.1),
        }
    }

    /// The cost of crossing item `i` upwards (tail to head) or downwards. With `opening`, a
    /// suppressible published item can be crossed at the price of suppressing it. Such an item
    /// is at least the threshold, hence above 1, so it then moves both ways.
    fn arc_cost(&self, i: usize, up: bool, opening: bool) -> Option<Cost> {
        let item = &self.items[i];
        match item.mark {
            Mark::Suppressed if up || item.value > 1 => Some((0, 0)),
            Mark::Published if opening && item.suppressible => Some((item.value, 1)),
            _ => None,
        }
    }

    /// The cheapest path of movable (or, with `opening`, openable) items from `start` to
    /// `goal` that avoids item `skip`, as (cost, items). The path may pass through [`FREE`].
    /// Neither search expands `FREE`, whose degree can be the whole layer: a path through it is
    /// joined from a forward search reaching `FREE` and a backward search from `goal`.
    fn path(
        &self,
        start: usize,
        goal: usize,
        skip: usize,
        opening: bool,
    ) -> Option<(Cost, Vec<usize>)> {
        if start == goal {
            return Some(((0, 0), Vec::new()));
        }
        if start == FREE {
            let back = self.search(goal, FREE, true, skip, opening);
            return back.get(&FREE).map(|r| (r.cost, Self::trace(&back, FREE)));
        }
        let fwd = self.search(start, goal, false, skip, opening);
        if goal == FREE {
            return fwd.get(&FREE).map(|r| (r.cost, Self::trace(&fwd, FREE)));
        }
        let direct = fwd.get(&goal).map(|r| (r.cost, Self::trace(&fwd, goal)));
        let via_free = fwd.get(&FREE).and_then(|to_free| {
            if direct.as_ref().is_some_and(|d| d.0 <= to_free.cost) {
                return None;
            }
            let back = self.search(goal, FREE, true, skip, opening);
            back.get(&FREE).map(|from_free| {
                let cost = (
                    to_free.cost.0.saturating_add(from_free.cost.0),
                    to_free.cost.1.saturating_add(from_free.cost.1),
                );
                let mut items = Self::trace(&fwd, FREE);
                items.extend(Self::trace(&back, FREE));
                (cost, items)
            })
        });
        match (direct, via_free) {
            (Some(d), Some(v)) if v.0 < d.0 => Some(v),
            (Some(d), _) => Some(d),
            (None, v) => v,
        }
    }

    /// Dijkstra from `start` until `goal` is settled. `backward` follows arcs in reverse (it
    /// finds the nodes that can reach `start`). [`FREE`] is settled but never expanded. Returns
    /// the settled nodes.
    fn search(
        &self,
        start: usize,
        goal: usize,
        backward: bool,
        skip: usize,
        opening: bool,
    ) -> HashMap<usize, Reached> {
        let mut best: HashMap<usize, Reached> = HashMap::new();
        let mut settled: HashSet<usize> = HashSet::new();
        let mut heap = BinaryHeap::new();
        best.insert(
            start,
            Reached {
                cost: (0, 0),
                via: None,
            },
        );
        heap.push(Reverse(((0u64, 0u32), start)));
        while let Some(Reverse((cost, node))) = heap.pop() {
            if !settled.insert(node) {
                continue;
            }
            if node == goal {
                break;
            }
            if node == FREE {
                continue;
            }
            let Some(incident) = self.incident.get(node) else {
                continue;
            };
            for &i in incident {
                if i == skip {
                    continue;
                }
                let item = &self.items[i];
                if item.tail == item.head {
                    continue;
                }
                // Forward from the tail is "up"; forward from the head is "down". A backward
                // search crosses the same arcs the other way.
                let at_tail = item.tail == node;
                let next = if at_tail { item.head } else { item.tail };
                let Some(step) = self.arc_cost(i, at_tail != backward, opening) else {
                    continue;
                };
                let total = (cost.0.saturating_add(step.0), cost.1.saturating_add(step.1));
                let better = best.get(&next).is_none_or(|r| total < r.cost);
                if better && !settled.contains(&next) {
                    best.insert(
                        next,
                        Reached {
                            cost: total,
                            via: Some((i, node)),
                        },
                    );
                    heap.push(Reverse((total, next)));
                }
            }
        }
        best.retain(|n, _| settled.contains(n));
        best
    }

    /// The items on the search-tree path from `node` back to the search's start.
    fn trace(tree: &HashMap<usize, Reached>, mut node: usize) -> Vec<usize> {
        let mut items = Vec::new();
        while let Some(Reached {
            via: Some((item, prev)),
            ..
        }) = tree.get(&node)
        {
            items.push(*item);
            node = *prev;
        }
        items
    }
}

#[cfg(test)]
#[path = "disclosure_tests.rs"]
mod tests;
