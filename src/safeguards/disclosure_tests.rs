//! Disclosure control (S21): worked examples, and property tests against an attacker that
//! searches exhaustively for other values of every suppressed count.

use super::*;
use h3o::LatLng;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

// ---------------------------------------------------------------------------------------------
// Fixtures: real H3 cells near Bristol.

/// The res-`res` cell holding central Bristol.
fn bristol(res: Resolution) -> CellIndex {
    LatLng::new(51.45, -2.59).unwrap().to_cell(res)
}

/// The children of `cell` at `res`, sorted.
fn kids(cell: CellIndex, res: Resolution) -> Vec<CellIndex> {
    let mut v: Vec<CellIndex> = cell.children(res).collect();
    v.sort();
    v
}

/// The seven res-7 children of the res-6 Bristol cell.
fn parents7() -> Vec<CellIndex> {
    kids(bristol(Resolution::Six), Resolution::Seven)
}

/// The 49 res-8 grandchildren of the res-6 Bristol cell, grouped by res-7 parent.
fn cells8() -> Vec<CellIndex> {
    parents7()
        .into_iter()
        .flat_map(|p| kids(p, Resolution::Eight))
        .collect()
}

fn lookup(out: &[(CellIndex, Published)], cell: CellIndex) -> Published {
    out.iter()
        .find(|(c, _)| *c == cell)
        .map_or_else(|| panic!("{cell} missing from the output"), |(_, p)| *p)
}

/// Sums a layer into its parents at `res`, as the incident index does.
fn roll_up(layer: &[(CellIndex, u32)], res: Resolution) -> Vec<(CellIndex, u32)> {
    let mut sums: BTreeMap<CellIndex, u32> = BTreeMap::new();
    for &(cell, count) in layer {
        *sums.entry(cell.parent(res).unwrap()).or_default() += count;
    }
    sums.into_iter().collect()
}

const S: Published = Published::Suppressed;

/// A GeoJSON-like property set embedding a published count.
#[derive(Serialize)]
struct Feature {
    h3: &'static str,
    #[serde(flatten)]
    count: Published,
}
const fn v(n: u32) -> Published {
    Published::Value(n)
}

// ---------------------------------------------------------------------------------------------
// The attacker: every additive relation it knows, and an exhaustive search for another value.

/// What the attacker knows about the published counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Knowledge {
    /// It knows the true value of every published count (from police.uk, say).
    Exact,
    /// It knows only the rounded value: each published count lies in its rounding interval.
    Rounded,
}

/// Upper bound for a suppressed count: the attacker allows any value from 1 up to here, far
/// above every count in these tests, since it cannot tell primary from secondary suppressions.
const UNBOUNDED: i64 = 1_000_000;

#[derive(Debug, Clone, Copy)]
struct Unknown {
    truth: i64,
    lo: i64,
    hi: i64,
}

/// `Σ terms = total`.
#[derive(Debug, Clone)]
struct Relation {
    terms: Vec<usize>,
    total: usize,
}

/// An attacker's view of one output: integer unknowns with bounds, tied by sums.
struct Attack {
    policy: DisclosurePolicy,
    sensitivity: Sensitivity,
    knowledge: Knowledge,
    vars: Vec<Unknown>,
    sums: Vec<Relation>,
}

impl Attack {
    fn new(policy: DisclosurePolicy, sensitivity: Sensitivity, knowledge: Knowledge) -> Self {
        Self {
            policy,
            sensitivity,
            knowledge,
            vars: Vec::new(),
            sums: Vec::new(),
        }
    }

    /// Adds a count with true value `truth` published as `published`, with the bounds the
    /// attacker can deduce from the publication alone.
    fn learn(&mut self, truth: u64, published: Published) -> usize {
        let truth = i64::try_from(truth).unwrap();
        let (lo, hi) = match (published, self.knowledge) {
            (Published::Suppressed, _) => (1, UNBOUNDED),
            (Published::Value(_), Knowledge::Exact) => (truth, truth),
            (Published::Value(p), Knowledge::Rounded) => self.rounding_interval(p),
        };
        assert!(
            lo <= truth && truth <= hi,
            "truth {truth} outside [{lo}, {hi}]"
        );
        self.vars.push(Unknown { truth, lo, hi });
        self.vars.len() - 1
    }

    /// Every count that the public rounding rule publishes as `p`, found by trying them all.
    fn rounding_interval(&self, p: u32) -> (i64, i64) {
        let limit =
            p + 3 * self.policy.effective_rounding_base() + self.policy.threshold(self.sensitivity);
        let hits: Vec<i64> = (0..=limit)
            .filter(|&n| protect_count(n, self.sensitivity, &self.policy) == Published::Value(p))
            .map(i64::from)
            .collect();
        (*hits.first().unwrap(), *hits.last().unwrap())
    }

    fn relate(&mut self, terms: Vec<usize>, total: usize) {
        self.sums.push(Relation { terms, total });
    }

    /// True when unknown `x` has at least two values consistent with everything known.
    fn has_second_value(&self, x: usize) -> bool {
        let u = self.vars[x];
        [(u.truth + 1, u.hi), (u.lo, u.truth - 1)]
            .into_iter()
            .filter(|(lo, hi)| lo <= hi)
            .any(|range| {
                let mut domains: Vec<(i64, i64)> = self.vars.iter().map(|u| (u.lo, u.hi)).collect();
                domains[x] = range;
                self.solve(domains)
            })
    }

    /// Exhaustive search with bound propagation: is there any integer point in `domains`
    /// satisfying every sum?
    fn solve(&self, mut domains: Vec<(i64, i64)>) -> bool {
        if !self.propagate(&mut domains) {
            return false;
        }
        let Some(k) = (0..domains.len())
            .filter(|&k| domains[k].0 < domains[k].1)
            .min_by_key(|&k| domains[k].1 - domains[k].0)
        else {
            return true;
        };
        let (lo, hi) = domains[k];
        let truth = self.vars[k].truth;
        let branches: Vec<(i64, i64)> = if (lo..=hi).contains(&truth) {
            [(truth, truth), (lo, truth - 1), (truth + 1, hi)].into()
        } else {
            let mid = lo + (hi - lo) / 2;
            let halves = if truth < lo {
                [(lo, mid), (mid + 1, hi)]
            } else {
                [(mid + 1, hi), (lo, mid)]
            };
            halves.into()
        };
        branches.into_iter().filter(|(a, b)| a <= b).any(|range| {
            let mut next = domains.clone();
            next[k] = range;
            self.solve(next)
        })
    }

    /// Tightens every bound from every sum until nothing changes; false when a domain empties.
    fn propagate(&self, d: &mut [(i64, i64)]) -> bool {
        loop {
            let mut changed = false;
            for s in &self.sums {
                let lo: i64 = s.terms.iter().map(|&k| d[k].0).sum();
                let hi: i64 = s.terms.iter().map(|&k| d[k].1).sum();
                changed |= tighten(d, s.total, lo, hi);
                for &k in &s.terms {
                    let (others_lo, others_hi) = (lo - d[k].0, hi - d[k].1);
                    let (t_lo, t_hi) = d[s.total];
                    changed |= tighten(d, k, t_lo - others_hi, t_hi - others_lo);
                }
            }
            if d.iter().any(|(lo, hi)| lo > hi) {
                return false;
            }
            if !changed {
                return true;
            }
        }
    }
}

fn tighten(d: &mut [(i64, i64)], k: usize, lo: i64, hi: i64) -> bool {
    let before = d[k];
    d[k] = (d[k].0.max(lo), d[k].1.min(hi));
    d[k] != before
}

// ---------------------------------------------------------------------------------------------
// Policy and sensitivity.

#[test]
fn the_default_policy_is_the_floor_in_s21() {
    let p = DisclosurePolicy::default();
    assert_eq!(
        (p.min_count_general, p.min_count_children, p.rounding_base),
        (5, 10, 5)
    );
    assert_eq!(p.validate(), Ok(()));
}

#[test]
fn weaker_policies_are_refused_and_stricter_ones_accepted() {
    let below = |field, value, floor| {
        Err(DisclosureError::BelowFloor {
            field,
            value,
            floor,
        })
    };
    let cases = [
        ("defaults", (5, 10, 5), Ok(())),
        ("NHS Digital 1-7", (8, 10, 5), Ok(())),
        ("stricter everywhere", (10, 20, 10), Ok(())),
        (
            "general 1-3 only",
            (4, 10, 5),
            below("min_count_general", 4, 5),
        ),
        (
            "children 1-8 only",
            (5, 9, 5),
            below("min_count_children", 9, 10),
        ),
        ("rounding to 4", (5, 10, 4), below("rounding_base", 4, 5)),
        ("all zero", (0, 0, 0), below("min_count_general", 0, 5)),
        (
            "children weaker than general",
            (12, 10, 5),
            Err(DisclosureError::ChildrenBelowGeneral {
                children: 10,
                general: 12,
            }),
        ),
        (
            "absurd rounding",
            (5, 10, 2_000_000),
            Err(DisclosureError::AboveCeiling {
                field: "rounding_base",
                value: 2_000_000,
                ceiling: POLICY_CEILING,
            }),
        ),
    ];
    for (name, (g, c, b), expected) in cases {
        let p = DisclosurePolicy {
            min_count_general: g,
            min_count_children: c,
            rounding_base: b,
        };
        assert_eq!(p.validate(), expected, "{name}");
    }
}

#[test]
fn a_policy_reads_from_configuration_with_defaults_and_refuses_unknown_keys() {
    let p: DisclosurePolicy = serde_json::from_str("{}").unwrap();
    assert_eq!(p, DisclosurePolicy::default());
    let p: DisclosurePolicy = serde_json::from_str(r#"{"min_count_general": 8}"#).unwrap();
    assert_eq!(
        (p.min_count_general, p.min_count_children, p.rounding_base),
        (8, 10, 5)
    );
    assert!(serde_json::from_str::<DisclosurePolicy>(r#"{"min_count_genral": 8}"#).is_err());
}

#[test]
fn an_unvalidated_weak_policy_is_raised_to_the_floors() {
    let weak = DisclosurePolicy {
        min_count_general: 1,
        min_count_children: 2,
        rounding_base: 1,
    };
    assert_eq!(weak.threshold(Sensitivity::General), 5);
    assert_eq!(weak.threshold(Sensitivity::Children), 10);
    assert_eq!(weak.effective_rounding_base(), 5);
    assert_eq!(protect_count(4, Sensitivity::General, &weak), S);
    assert_eq!(protect_count(9, Sensitivity::Children, &weak), S);
    assert_eq!(protect_count(7, Sensitivity::General, &weak), v(5));
    // A child threshold below a stricter general one is raised to it.
    let odd = DisclosurePolicy {
        min_count_general: 12,
        min_count_children: 10,
        rounding_base: 5,
    };
    assert_eq!(odd.threshold(Sensitivity::Children), 12);
}

#[test]
fn categories_about_children_use_the_child_threshold() {
    assert_eq!(Sensitivity::for_category(None), Sensitivity::General);
    for &c in Category::ALL {
        let expected = if c.concerns_children() {
            Sensitivity::Children
        } else {
            Sensitivity::General
        };
        assert_eq!(Sensitivity::for_category(Some(c)), expected, "{c}");
    }
    assert_eq!(
        Sensitivity::for_category(Some(Category::ChildExploitationConcern)),
        Sensitivity::Children
    );
    assert_eq!(
        Sensitivity::for_category(Some(Category::Burglary)),
        Sensitivity::General
    );
}

// ---------------------------------------------------------------------------------------------
// Primary suppression and rounding.

#[test]
fn single_counts_are_suppressed_below_the_threshold_and_otherwise_rounded() {
    let nhs = DisclosurePolicy {
        min_count_general: 8,
        ..DisclosurePolicy::default()
    };
    let six = DisclosurePolicy {
        min_count_general: 6,
        ..DisclosurePolicy::default()
    };
    let general = Sensitivity::General;
    let kid = Sensitivity::Children;
    let d = DisclosurePolicy::default();
    let cases = [
        ("zero is a true zero", 0, general, d, v(0)),
        ("1 is suppressed", 1, general, d, S),
        ("4 is suppressed", 4, general, d, S),
        ("5 is published", 5, general, d, v(5)),
        ("7 rounds down", 7, general, d, v(5)),
        ("8 rounds up", 8, general, d, v(10)),
        ("12 rounds down", 12, general, d, v(10)),
        ("13 rounds up", 13, general, d, v(15)),
        ("large counts round too", 1_002, general, d, v(1_000)),
        ("children: 9 is suppressed", 9, kid, d, S),
        ("children: 10 is published", 10, kid, d, v(10)),
        ("children: 12 rounds down", 12, kid, d, v(10)),
        ("children: 13 rounds up", 13, kid, d, v(15)),
        ("NHS: 7 is suppressed", 7, general, nhs, S),
        ("NHS: 8 rounds to 10", 8, general, nhs, v(10)),
        (
            "threshold 6: 6 is lifted to 10, not 5",
            6,
            general,
            six,
            v(10),
        ),
        ("threshold 6: 7 is lifted to 10", 7, general, six, v(10)),
        ("threshold 6: 12 rounds to 10", 12, general, six, v(10)),
        ("threshold 6: 13 rounds to 15", 13, general, six, v(15)),
    ];
    for (name, count, sensitivity, policy, expected) in cases {
        assert_eq!(
            protect_count(count, sensitivity, &policy),
            expected,
            "{name}"
        );
    }
}

#[test]
fn rounding_never_publishes_a_value_below_the_threshold_for_any_valid_policy() {
    for threshold in 5..=30u64 {
        for base in 5..=20u64 {
            let rules = Rules { threshold, base };
            let mut previous = 0;
            for n in 0..=400u64 {
                let p = rules.publish(n);
                match p {
                    Published::Value(0) => assert_eq!(n, 0),
                    Published::Suppressed => assert!((1..threshold).contains(&n)),
                    Published::Value(x) => {
                        let x = u64::from(x);
                        assert!(
                            x >= threshold && x % base == 0,
                            "t={threshold} b={base} n={n} -> {x}"
                        );
                        // Nearest multiple (halves up), lifted to the first multiple >= threshold.
                        let nearest = (n * 2 + base) / (2 * base) * base;
                        assert_eq!(x, nearest.max(threshold.div_ceil(base) * base));
                        assert!(x >= previous, "rounding must not decrease");
                        previous = x;
                    }
                }
            }
        }
    }
}

#[test]
fn huge_counts_stay_multiples_of_the_base_within_u32() {
    let policy = DisclosurePolicy {
        rounding_base: 7,
        ..DisclosurePolicy::default()
    };
    let Published::Value(x) = protect_count(u32::MAX, Sensitivity::General, &policy) else {
        panic!("a huge count is published");
    };
    assert_eq!(x % 7, 0);
    assert!(u32::MAX - x < 7);
    // A table whose totals exceed u32 publishes them clamped, still as multiples of the base.
    let t = protect_table(&[vec![u32::MAX, u32::MAX]], Sensitivity::General, &policy).unwrap();
    assert_eq!(t.grand_total, v(u32::MAX / 7 * 7));
}

#[test]
fn suppressed_cells_publish_a_null_count_and_a_suppressed_flag() {
    assert_eq!(S.count_json(), serde_json::Value::Null);
    assert!(S.is_suppressed());
    assert_eq!(S.value(), None);
    assert_eq!(v(15).count_json(), serde_json::json!(15));
    assert!(!v(15).is_suppressed());
    assert_eq!(v(0).count_json(), serde_json::json!(0));
    assert_eq!(
        serde_json::to_value(S).unwrap(),
        serde_json::json!({"count": null, "suppressed": true})
    );
    assert_eq!(
        serde_json::to_value(v(15)).unwrap(),
        serde_json::json!({"count": 15, "suppressed": false})
    );
    let f = Feature {
        h3: "8819583923fffff",
        count: S,
    };
    assert_eq!(
        serde_json::to_string(&f).unwrap(),
        r#"{"h3":"8819583923fffff","count":null,"suppressed":true}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Sibling groups.

#[test]
fn sibling_groups_get_a_second_suppression_only_when_needed() {
    let d = DisclosurePolicy::default();
    let cases: [(&str, &[u32], &[Published]); 8] = [
        (
            "one suppressed cell gets a second: the smallest sibling",
            &[3, 20, 30],
            &[S, S, v(30)],
        ),
        (
            "a group with none stays",
            &[12, 20, 30],
            &[v(10), v(20), v(30)],
        ),
        (
            "two suppressed cells that can trade values stay two",
            &[2, 3, 40],
            &[S, S, v(40)],
        ),
        (
            "two ones would be pinned by their sum of 2: a third",
            &[1, 1, 40, 50],
            &[S, S, S, v(50)],
        ),
        (
            "zeros are never chosen as partners",
            &[3, 0, 0, 25],
            &[S, v(0), v(0), S],
        ),
        (
            "a group below the threshold needs no partner",
            &[3, 0, 0],
            &[S, v(0), v(0)],
        ),
        ("ties go to the first cell", &[4, 9, 9], &[S, S, v(10)]),
        (
            "all seven siblings published",
            &[5, 6, 7, 8, 12, 13, 100],
            &[v(5), v(5), v(5), v(10), v(10), v(15), v(100)],
        ),
    ];
    let group = kids(parents7()[0], Resolution::Eight);
    for (name, counts, expected) in cases {
        let layer: Vec<(CellIndex, u32)> =
            group.iter().copied().zip(counts.iter().copied()).collect();
        let out = protect_cells(&layer, Sensitivity::General, &d);
        let got: Vec<Published> = out.iter().map(|(_, p)| *p).collect();
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn a_children_layer_suppresses_nine_and_publishes_ten() {
    let [a, b, ..] = parents7()[..] else {
        unreachable!()
    };
    let (ga, gb) = (kids(a, Resolution::Eight), kids(b, Resolution::Eight));
    let layer = [
        (ga[0], 10),
        (gb[0], 9),
        (gb[1], 20),
        (gb[2], 30),
        (gb[3], 13),
    ];
    let out = protect_cells(&layer, Sensitivity::Children, &DisclosurePolicy::default());
    let cases = [
        ("10 is published", ga[0], v(10)),
        ("9 is suppressed", gb[0], S),
        ("13 is the smallest partner of 9", gb[3], S),
        ("20 stays", gb[1], v(20)),
        ("30 stays", gb[2], v(30)),
    ];
    for (name, cell, expected) in cases {
        assert_eq!(lookup(&out, cell), expected, "{name}");
    }
}

#[test]
fn output_is_sorted_by_cell_merges_duplicates_and_keeps_explicit_zeros() {
    let g = kids(parents7()[2], Resolution::Eight);
    let layer = [(g[3], 20), (g[1], 0), (g[3], 20), (g[0], 30)];
    let out = protect_cells(&layer, Sensitivity::General, &DisclosurePolicy::default());
    assert_eq!(out, vec![(g[0], v(30)), (g[1], v(0)), (g[3], v(40))]);
    assert!(protect_cells(&[], Sensitivity::General, &DisclosurePolicy::default()).is_empty());
}

#[test]
fn input_at_mixed_resolutions_fails_closed() {
    let p = parents7()[0];
    let c = kids(p, Resolution::Eight)[0];
    let out = protect_cells(
        &[(p, 100), (c, 40), (bristol(Resolution::Nine), 0)],
        Sensitivity::General,
        &DisclosurePolicy::default(),
    );
    assert!(
        out.iter()
            .all(|(cell, pub_)| if cell.resolution() == Resolution::Nine {
                *pub_ == v(0)
            } else {
                pub_.is_suppressed()
            })
    );
}

/// Seven cells with one incident each under a parent of 7: the parent pins each at 1.
fn seven_single_incidents() -> Vec<(CellIndex, u32)> {
    kids(parents7()[1], Resolution::Eight)
        .into_iter()
        .map(|c| (c, 1))
        .collect()
}

#[test]
fn seven_single_incidents_under_a_published_parent_are_the_documented_residual_of_protect_cells() {
    let layer = seven_single_incidents();
    let d = DisclosurePolicy::default();
    let (out, residual) = protect_cells_audited(&layer, Sensitivity::General, &d);
    assert!(out.iter().all(|(_, p)| p.is_suppressed()));
    assert_eq!(
        residual.len(),
        7,
        "every cell is pinned once the parent of 7 is known"
    );
    // The child threshold of 10 suppresses the parent itself, so nothing is pinned.
    let (_, residual) = protect_cells_audited(&layer, Sensitivity::Children, &d);
    assert!(residual.is_empty());
}

#[test]
fn seven_single_incidents_are_covered_when_levels_are_protected_together() {
    let d = DisclosurePolicy::default();
    let out = protect_cell_levels(
        &seven_single_incidents(),
        Resolution::Six,
        Sensitivity::General,
        &d,
    );
    assert_eq!(
        lookup(&out, parents7()[1]),
        S,
        "the parent of 7 is suppressed with its children"
    );
    assert_eq!(
        lookup(&out, bristol(Resolution::Six)),
        S,
        "and the grandparent, equal to it"
    );
    assert_eq!(out.len(), 1 + 1 + 7);
    let keys: Vec<(Resolution, CellIndex)> =
        out.iter().map(|(c, _)| (c.resolution(), *c)).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "sorted by resolution, then cell"
    );
    assert_eq!(out[0].0, bristol(Resolution::Six));
}

/// Res 8 layer under three res-7 parents holding 1, 8 and 8: the res-7 group needs a
/// secondary suppression, and the chosen parent has a single published child.
fn one_and_two_eights() -> Vec<(CellIndex, u32)> {
    let p = parents7();
    vec![
        (kids(p[0], Resolution::Eight)[0], 1),
        (kids(p[1], Resolution::Eight)[0], 8),
        (kids(p[2], Resolution::Eight)[0], 8),
    ]
}

#[test]
fn separately_protected_resolutions_leak_where_jointly_protected_levels_do_not() {
    let d = DisclosurePolicy::default();
    let g = Sensitivity::General;
    let layer8 = one_and_two_eights();
    let layer7 = roll_up(&layer8, Resolution::Seven);
    let layer6 = roll_up(&layer8, Resolution::Six);
    // Three separate calls, and an attacker who knows the published values exactly.
    let (out8, out7, out6) = (
        protect_cells(&layer8, g, &d),
        protect_cells(&layer7, g, &d),
        protect_cells(&layer6, g, &d),
    );
    let mut attack = Attack::new(d, g, Knowledge::Exact);
    let top = attack.learn(17, out6[0].1);
    let mid: Vec<usize> = layer7
        .iter()
        .zip(&out7)
        .map(|(&(_, n), &(_, p))| attack.learn(u64::from(n), p))
        .collect();
    let low: Vec<usize> = layer8
        .iter()
        .zip(&out8)
        .map(|(&(_, n), &(_, p))| attack.learn(u64::from(n), p))
        .collect();
    attack.relate(mid.clone(), top);
    for (m, l) in mid.iter().zip(&low) {
        attack.relate(vec![*l], *m);
    }
    assert_eq!(out7[0].1, S, "the 1 is suppressed at res 7");
    assert!(
        !attack.has_second_value(mid[0]),
        "and recovered through the other resolutions"
    );

    // One joint call: the attacker finds a second value for every suppressed count.
    let joint = protect_cell_levels(&layer8, Resolution::Six, g, &d);
    let mut attack = Attack::new(d, g, Knowledge::Exact);
    let ids = learn_levels(&mut attack, &layer8, &joint);
    for (cell, p) in &joint {
        if p.is_suppressed() {
            assert!(attack.has_second_value(ids[cell]), "{cell} is pinned");
        }
    }
}

#[test]
fn a_parent_suppressed_at_its_level_gets_a_suppressed_child() {
    let d = DisclosurePolicy::default();
    let joint = protect_cell_levels(
        &one_and_two_eights(),
        Resolution::Six,
        Sensitivity::General,
        &d,
    );
    for (cell, p) in &joint {
        if cell.resolution() == Resolution::Seven && p.is_suppressed() {
            let children_suppressed = joint
                .iter()
                .filter(|(c, _)| {
                    c.parent(Resolution::Seven) == Some(*cell)
                        && c.resolution() == Resolution::Eight
                })
                .filter(|(_, p)| p.is_suppressed())
                .count();
            assert!(
                children_suppressed >= 1,
                "{cell} could be re-derived from its children"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tables.

#[test]
fn a_single_suppressed_table_cell_gets_the_cheapest_rectangle() {
    let rows = [vec![3, 20, 30], vec![25, 40, 50], vec![35, 45, 60]];
    let t = protect_table(&rows, Sensitivity::General, &DisclosurePolicy::default()).unwrap();
    assert_eq!(
        t.cells,
        vec![
            vec![S, S, v(30)],
            vec![S, S, v(50)],
            vec![v(35), v(45), v(60)]
        ]
    );
    // Totals are the rounded true totals: 53, 115, 140 and 63, 105, 140, and 308.
    assert_eq!(t.row_totals, vec![v(55), v(115), v(140)]);
    assert_eq!(t.column_totals, vec![v(65), v(105), v(140)]);
    assert_eq!(t.grand_total, v(310));
}

#[test]
fn tiny_one_row_and_empty_tables_are_protected_too() {
    let d = DisclosurePolicy::default();
    let g = Sensitivity::General;
    // Everything small: every non-zero entry, totals included, is suppressed.
    let t = protect_table(&[vec![1, 2], vec![0, 1]], g, &d).unwrap();
    assert_eq!(t.cells, vec![vec![S, S], vec![v(0), S]]);
    assert_eq!(
        (t.row_totals, t.column_totals, t.grand_total),
        (vec![S, S], vec![S, S], S)
    );
    // A one-row table: the row total equals the grand total, and both are published together.
    let t = protect_table(&[vec![20, 30]], g, &d).unwrap();
    assert_eq!((t.row_totals[0], t.grand_total), (v(50), v(50)));
    // No rows.
    let t = protect_table(&[], g, &d).unwrap();
    assert_eq!(t.grand_total, v(0));
    assert!(t.cells.is_empty() && t.column_totals.is_empty());
}

#[test]
fn a_ragged_table_is_refused() {
    let err = protect_table(
        &[vec![1, 2], vec![3]],
        Sensitivity::General,
        &DisclosurePolicy::default(),
    );
    assert_eq!(
        err,
        Err(DisclosureError::RaggedTable {
            row: 1,
            expected: 2,
            found: 1
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Time.

#[test]
fn windows_coarsen_to_whole_months() {
    let cases = [
        (
            "inside a leap February",
            "2024-02-10",
            "2024-02-20",
            "2024-02-01",
            "2024-02-29",
        ),
        (
            "inside a common February",
            "2023-02-10",
            "2023-02-11",
            "2023-02-01",
            "2023-02-28",
        ),
        (
            "December ends on the 31st",
            "2023-12-05",
            "2023-12-06",
            "2023-12-01",
            "2023-12-31",
        ),
        (
            "across a year end",
            "2023-12-31",
            "2024-01-01",
            "2023-12-01",
            "2024-01-31",
        ),
        (
            "a whole month is unchanged",
            "2024-04-01",
            "2024-04-30",
            "2024-04-01",
            "2024-04-30",
        ),
        (
            "a 30-day month",
            "2024-06-15",
            "2024-09-02",
            "2024-06-01",
            "2024-09-30",
        ),
        (
            "the epoch",
            "1970-01-01",
            "1970-01-01",
            "1970-01-01",
            "1970-01-31",
        ),
        (
            "the last representable month stops at Day::MAX",
            "2149-06-02",
            "2149-06-06",
            "2149-06-01",
            "2149-06-06",
        ),
    ];
    for (name, from, to, want_from, want_to) in cases {
        let w = TimeWindow::new(from.parse().unwrap(), to.parse().unwrap()).unwrap();
        let c = coarsen_window_to_months(w);
        assert_eq!(
            (c.from().to_string(), c.to().to_string()),
            (want_from.to_owned(), want_to.to_owned()),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Property tests.

/// Counts weighted towards the suppressed range and the thresholds, so that primary and
/// secondary suppression, all-ones groups and zeros all occur.
fn any_count() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => Just(0u32),
        2 => Just(1u32),
        3 => 1u32..=4,
        3 => 1u32..=16,
        2 => 10u32..=40,
    ]
}

/// A valid policy at or above the floors (thresholds 5..=12 and 10..=16, bases 5..=12).
fn any_policy() -> impl Strategy<Value = DisclosurePolicy> {
    (5u32..=12, 10u32..=16, 5u32..=12).prop_map(|(g, c, b)| DisclosurePolicy {
        min_count_general: g,
        min_count_children: c.max(g),
        rounding_base: b,
    })
}

fn any_sensitivity() -> impl Strategy<Value = Sensitivity> {
    prop_oneof![Just(Sensitivity::General), Just(Sensitivity::Children)]
}

/// A res-8 layer over the 49 grandchildren of the Bristol res-6 cell. Zero cells are sometimes
/// listed, sometimes absent.
fn any_layer() -> impl Strategy<Value = Vec<(CellIndex, u32)>> {
    proptest::collection::vec((any_count(), any::<bool>()), 49).prop_map(|counts| {
        cells8()
            .into_iter()
            .zip(counts)
            .filter(|(_, (n, listed))| *n > 0 || *listed)
            .map(|(c, (n, _))| (c, n))
            .collect()
    })
}

/// A layer of cell counts, as the index returns it.
type Layer = Vec<(CellIndex, u32)>;

/// A layer, and the same layer shuffled.
fn any_layer_twice_in_any_order() -> impl Strategy<Value = (Layer, Layer)> {
    any_layer().prop_flat_map(|l| (Just(l.clone()), Just(l).prop_shuffle()))
}

fn any_table() -> impl Strategy<Value = Vec<Vec<u32>>> {
    (1usize..=4, 1usize..=4).prop_flat_map(|(r, c)| {
        proptest::collection::vec(proptest::collection::vec(any_count(), c), r)
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x5AFE_D15C),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Checks one published value against its true count: 0 only for 0, suppressed for every
/// count in 1..threshold, otherwise the rounding of the count (a multiple of the base at least
/// the threshold).
fn assert_publishable(truth: u64, p: Published, policy: &DisclosurePolicy, s: Sensitivity) {
    let threshold = u64::from(policy.threshold(s));
    let base = policy.effective_rounding_base();
    match p {
        Published::Value(0) => assert_eq!(truth, 0, "a non-zero count published as 0"),
        Published::Value(x) => {
            assert!(
                u64::from(x) >= threshold && x % base == 0,
                "{x} published for {truth}"
            );
            assert_eq!(
                Some(p),
                u32::try_from(truth)
                    .ok()
                    .map(|t| protect_count(t, s, policy))
            );
        }
        Published::Suppressed => assert!(truth > 0, "a zero was suppressed"),
    }
    if (1..threshold).contains(&truth) {
        assert_eq!(p, S, "{truth} is in the suppressed range");
    }
}

/// Adds every cell of a levels output and its true count to `attack`, with a sum per parent.
fn learn_levels(
    attack: &mut Attack,
    layer: &[(CellIndex, u32)],
    out: &[(CellIndex, Published)],
) -> BTreeMap<CellIndex, usize> {
    let mut truth: BTreeMap<CellIndex, u64> = BTreeMap::new();
    let finest = layer.first().map(|(c, _)| c.resolution());
    for &(cell, n) in layer {
        for &(c, _) in out {
            if cell.parent(c.resolution()) == Some(c) {
                *truth.entry(c).or_default() += u64::from(n);
            }
        }
    }
    let ids: BTreeMap<CellIndex, usize> = out
        .iter()
        .map(|&(c, p)| (c, attack.learn(truth.get(&c).copied().unwrap_or(0), p)))
        .collect();
    for &(parent, _) in out {
        if Some(parent.resolution()) == finest {
            continue;
        }
        let terms: Vec<usize> = out
            .iter()
            .filter(|(c, _)| {
                c.resolution().pred() == Some(parent.resolution())
                    && c.parent(parent.resolution()) == Some(parent)
            })
            .map(|(c, _)| ids[c])
            .collect();
        attack.relate(terms, ids[&parent]);
    }
    ids
}

/// Property (a) for one random layer, table, policy and sensitivity.
fn check_every_published_value(
    layer: &[(CellIndex, u32)],
    rows: &[Vec<u32>],
    policy: &DisclosurePolicy,
    s: Sensitivity,
) {
    assert_eq!(policy.validate(), Ok(()));
    let truth: BTreeMap<CellIndex, u64> = merge_counts(layer);
    for (cell, p) in protect_cells(layer, s, policy) {
        assert_publishable(truth[&cell], p, policy, s);
    }
    for (cell, p) in protect_cell_levels(layer, Resolution::Six, s, policy) {
        let sum: u64 = truth
            .iter()
            .filter(|(c, _)| c.parent(cell.resolution()) == Some(cell))
            .map(|(_, n)| n)
            .sum();
        assert_publishable(sum, p, policy, s);
    }
    let t = protect_table(rows, s, policy).unwrap();
    let table = TableTruth::new(rows);
    for (row, published) in rows.iter().zip(&t.cells) {
        for (&n, &p) in row.iter().zip(published) {
            assert_publishable(u64::from(n), p, policy, s);
        }
    }
    for (&n, &p) in table.row_sums.iter().zip(&t.row_totals) {
        assert_publishable(n, p, policy, s);
    }
    for (&n, &p) in table.col_sums.iter().zip(&t.column_totals) {
        assert_publishable(n, p, policy, s);
    }
    assert_publishable(table.grand, t.grand_total, policy, s);
}

/// Property (b) for one resolution: the attacker has the published children, the parent layer
/// (protected by its own call, from counts summed as the index does) and the policy. It knows
/// each published value exactly or only its rounding interval. Every suppressed child has a
/// second feasible value, apart from the documented residual, which is checked to be exactly
/// that.
fn check_cells_against_parent_totals(
    layer: &[(CellIndex, u32)],
    policy: DisclosurePolicy,
    s: Sensitivity,
) {
    let (children, residual) = protect_cells_audited(layer, s, &policy);
    let parent_layer = roll_up(layer, Resolution::Seven);
    let parents = protect_cells(&parent_layer, s, &policy);
    let threshold = u64::from(policy.threshold(s));
    let truth = merge_counts(layer);
    let parent_of = |c: &CellIndex| c.parent(Resolution::Seven);
    for cell in &residual {
        let group: Vec<u64> = truth
            .iter()
            .filter(|(c, n)| parent_of(c) == parent_of(cell) && **n > 0)
            .map(|(_, n)| *n)
            .collect();
        assert!(
            group.iter().all(|&n| n == 1) && group.len() as u64 >= threshold,
            "unexpected residual {group:?}"
        );
    }
    for knowledge in [Knowledge::Exact, Knowledge::Rounded] {
        let mut attack = Attack::new(policy, s, knowledge);
        let kid_ids: Vec<(CellIndex, usize)> = children
            .iter()
            .map(|&(c, p)| (c, attack.learn(truth[&c], p)))
            .collect();
        for (&(parent, n), &(_, p)) in parent_layer.iter().zip(&parents) {
            let total = attack.learn(u64::from(n), p);
            let terms = kid_ids
                .iter()
                .filter(|(c, _)| parent_of(c) == Some(parent))
                .map(|(_, id)| *id)
                .collect();
            attack.relate(terms, total);
        }
        for (&(cell, p), &(_, id)) in children.iter().zip(&kid_ids) {
            if p.is_suppressed() && !residual.contains(&cell) {
                assert!(
                    attack.has_second_value(id),
                    "{knowledge:?}: {cell} pinned in {layer:?}"
                );
            }
        }
    }
}

/// Property (b) across resolutions: res 6, 7 and 8 protected jointly, and an attacker with
/// every level and every parent sum.
fn check_joint_levels(layer: &[(CellIndex, u32)], policy: DisclosurePolicy, s: Sensitivity) {
    let out = protect_cell_levels(layer, Resolution::Six, s, &policy);
    for knowledge in [Knowledge::Exact, Knowledge::Rounded] {
        let mut attack = Attack::new(policy, s, knowledge);
        let ids = learn_levels(&mut attack, layer, &out);
        for (cell, p) in &out {
            if p.is_suppressed() {
                assert!(
                    attack.has_second_value(ids[cell]),
                    "{knowledge:?}: {cell} pinned in {layer:?}"
                );
            }
        }
    }
}

/// True row, column and grand totals of a table.
struct TableTruth {
    row_sums: Vec<u64>,
    col_sums: Vec<u64>,
    grand: u64,
}

impl TableTruth {
    fn new(rows: &[Vec<u32>]) -> Self {
        let cols = rows.first().map_or(0, Vec::len);
        let row_sums: Vec<u64> = rows
            .iter()
            .map(|r| r.iter().map(|&n| u64::from(n)).sum())
            .collect();
        let col_sums = (0..cols)
            .map(|j| rows.iter().map(|r| u64::from(r[j])).sum())
            .collect();
        let grand = row_sums.iter().sum();
        Self {
            row_sums,
            col_sums,
            grand,
        }
    }
}

/// Property (b) for tables: an attacker with every published cell, row total, column total and
/// the grand total, all sums related. This covers the per-row and per-column attacks, which
/// know less.
fn check_table(rows: &[Vec<u32>], policy: DisclosurePolicy, s: Sensitivity) {
    let t = protect_table(rows, s, &policy).unwrap();
    let truth = TableTruth::new(rows);
    for knowledge in [Knowledge::Exact, Knowledge::Rounded] {
        let mut attack = Attack::new(policy, s, knowledge);
        let cell_ids: Vec<Vec<usize>> = rows
            .iter()
            .zip(&t.cells)
            .map(|(r, ps)| {
                r.iter()
                    .zip(ps)
                    .map(|(&n, &p)| attack.learn(u64::from(n), p))
                    .collect()
            })
            .collect();
        let row_ids: Vec<usize> = truth
            .row_sums
            .iter()
            .zip(&t.row_totals)
            .map(|(&n, &p)| attack.learn(n, p))
            .collect();
        let col_ids: Vec<usize> = truth
            .col_sums
            .iter()
            .zip(&t.column_totals)
            .map(|(&n, &p)| attack.learn(n, p))
            .collect();
        let grand = attack.learn(truth.grand, t.grand_total);
        for (ids, &row) in cell_ids.iter().zip(&row_ids) {
            attack.relate(ids.clone(), row);
        }
        for (j, &col) in col_ids.iter().enumerate() {
            attack.relate(cell_ids.iter().map(|r| r[j]).collect(), col);
        }
        attack.relate(row_ids.clone(), grand);
        attack.relate(col_ids.clone(), grand);
        let published = t
            .cells
            .iter()
            .flatten()
            .chain(&t.row_totals)
            .chain(&t.column_totals)
            .chain([&t.grand_total]);
        let ids = cell_ids
            .iter()
            .flatten()
            .chain(&row_ids)
            .chain(&col_ids)
            .chain([&grand]);
        for (p, &id) in published.zip(ids) {
            if p.is_suppressed() {
                assert!(
                    attack.has_second_value(id),
                    "{knowledge:?}: entry {id} pinned in {rows:?} -> {t:?}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// S21 test (a): every published value is 0, suppressed, or a rounded value at least the
    /// threshold, in every kind of output, for both sensitivities and random valid policies.
    #[test]
    fn every_published_value_is_zero_suppressed_or_a_rounded_value_at_least_the_threshold(
        layer in any_layer(),
        rows in any_table(),
        policy in any_policy(),
        s in any_sensitivity(),
    ) {
        check_every_published_value(&layer, &rows, &policy, s);
    }

    /// S21 test (b), one resolution: no suppressed child is recovered from its siblings and the
    /// parent total.
    #[test]
    fn no_suppressed_cell_is_recovered_from_its_siblings_and_parent_total(
        layer in any_layer(),
        policy in any_policy(),
        s in any_sensitivity(),
    ) {
        check_cells_against_parent_totals(&layer, policy, s);
    }

    /// S21 test (b), several resolutions protected jointly: no suppressed cell at any level is
    /// recovered from the others.
    #[test]
    fn no_suppressed_cell_is_recovered_across_jointly_protected_levels(
        layer in any_layer(),
        policy in any_policy(),
        s in any_sensitivity(),
    ) {
        check_joint_levels(&layer, policy, s);
    }

    /// S21 test (b), tables: no suppressed cell or total is recovered from rows, columns and
    /// totals.
    #[test]
    fn no_suppressed_table_entry_is_recovered_from_rows_columns_and_totals(
        rows in any_table(),
        policy in any_policy(),
        s in any_sensitivity(),
    ) {
        check_table(&rows, policy, s);
    }

    /// The same layer in any order gives the same output.
    #[test]
    fn protection_is_deterministic_and_independent_of_input_order(
        (layer, shuffled) in any_layer_twice_in_any_order(),
        policy in any_policy(),
    ) {
        let g = Sensitivity::General;
        prop_assert_eq!(protect_cells(&layer, g, &policy), protect_cells(&shuffled, g, &policy));
        prop_assert_eq!(
            protect_cell_levels(&layer, Resolution::Six, g, &policy),
            protect_cell_levels(&shuffled, Resolution::Six, g, &policy)
        );
    }
}

#[test]
fn a_fixed_release_publishes_each_cell_alike_in_every_table_and_derives_totals_from_them() {
    let policy = DisclosurePolicy::default();
    let year = vec![vec![0, 3, 12, 7, 40], vec![6, 8, 9, 1, 22]];
    let whole = protect_fixed_release(&year, Sensitivity::General, &policy).unwrap();
    assert_eq!(
        whole.cells[0],
        vec![
            Published::Value(0),
            Published::Suppressed,
            Published::Value(10),
            Published::Value(5),
            Published::Value(40)
        ]
    );
    // A total with a suppressed month is suppressed; one without is the sum of the published
    // months, not the rounded true total (12 + 7 + 40 = 59 would round to 60; 10 + 5 + 40 = 55).
    assert_eq!(whole.row_totals[0], Published::Suppressed);
    let later: Vec<Vec<u32>> = year.iter().map(|r| r[2..].to_vec()).collect();
    let part = protect_fixed_release(&later, Sensitivity::General, &policy).unwrap();
    assert_eq!(part.row_totals[0], Published::Value(55));
    assert_eq!(
        part.cells[0][..],
        whole.cells[0][2..],
        "a cell is the same in every window"
    );
    assert_eq!(part.column_totals[0], Published::Value(20), "10 + 10");
    assert_eq!(
        part.grand_total,
        Published::Suppressed,
        "row 1 holds a suppressed month"
    );
    // Child categories use their own threshold.
    let child = protect_fixed_release(&[vec![9, 10]], Sensitivity::Children, &policy).unwrap();
    assert_eq!(
        child.cells[0],
        vec![Published::Suppressed, Published::Value(10)]
    );
    assert!(protect_fixed_release(&[vec![1, 2], vec![3]], Sensitivity::General, &policy).is_err());
}

fn day(s: &str) -> Day {
    s.parse().unwrap()
}

#[test]
fn months_of_lists_the_whole_months_a_window_shares_with_the_data() {
    let w = |a: &str, b: &str| TimeWindow::new(day(a), day(b)).unwrap();
    let months = months_of(w("2025-11-01", "2026-02-28"), w("2025-12-15", "2026-06-30"));
    let firsts: Vec<String> = months.iter().map(|m| m.from().to_string()).collect();
    assert_eq!(firsts, ["2025-12-01", "2026-01-01", "2026-02-01"]);
    assert_eq!(months[1].to(), day("2026-01-31"));
    assert_eq!(months[2].to(), day("2026-02-28"));
    assert!(months_of(w("2020-01-01", "2020-02-01"), w("2025-01-01", "2025-02-01")).is_empty());
    // The widest window is bounded by the data, not by the calendar.
    assert_eq!(
        months_of(TimeWindow::all(), w("2024-01-10", "2024-03-02")).len(),
        3
    );
}

#[test]
fn a_window_release_is_the_sum_of_its_published_months_and_flags_lower_bounds() {
    let [a, b, c] = {
        let cells = cells8();
        [cells[0], cells[1], cells[2]]
    };
    let jan = vec![
        (a, Published::Value(10)),
        (b, Published::Suppressed),
        (c, Published::Suppressed),
    ];
    let feb = vec![(a, Published::Value(5)), (b, Published::Value(15))];
    let w = WindowRelease::from_months(&[&jan, &feb], false);
    assert_eq!(w.get(&a), Some(&Published::Value(15)));
    assert!(!w.is_partial(&a), "both months published");
    assert_eq!(w.get(&b), Some(&Published::Value(15)));
    assert!(
        w.is_partial(&b),
        "January is suppressed: 15 is a lower bound"
    );
    assert_eq!(
        w.get(&c),
        Some(&Published::Suppressed),
        "no month published"
    );
    assert_eq!(w.months(), 2);
    // One month is that month's release, unchanged.
    let one = WindowRelease::from_months(&[&jan], false);
    for &(cell, p) in &jan {
        assert_eq!(one.get(&cell), Some(&p));
        assert!(!one.is_partial(&cell));
    }
    // Child categories: a month at 0 is shown as suppressed, so it makes a sum partial too.
    let child = WindowRelease::from_months(&[&jan, &feb], true);
    assert!(!child.is_partial(&a) && child.is_partial(&b));
    let mar: Vec<(CellIndex, Published)> = vec![];
    let child = WindowRelease::from_months(&[&jan, &mar], true);
    assert!(
        child.is_partial(&a),
        "a is 0 (absent) in March, shown as suppressed"
    );
    assert_eq!(child.get(&a), Some(&Published::Value(10)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, rng_seed: RngSeed::Fixed(13), ..ProptestConfig::default() })]
    /// Every window figure is a valid published value (S21 test (a)) and a function of the
    /// months' figures only: permuting the months or assembling twice changes nothing.
    #[test]
    fn window_releases_are_valid_published_values_and_depend_only_on_the_months(
        months in prop::collection::vec(prop::collection::vec((0usize..6, 0u32..30), 0..8), 1..6),
        zero_hidden in any::<bool>(),
    ) {
        let cells = cells8();
        let policy = DisclosurePolicy::default();
        let releases: Vec<Vec<(CellIndex, Published)>> = months
            .iter()
            .map(|m| {
                let counts: Vec<(CellIndex, u32)> = m.iter().map(|&(i, n)| (cells[i], n)).collect();
                protect_cell_levels(&counts, Resolution::Five, Sensitivity::General, &policy)
            })
            .collect();
        let parts: Vec<&MonthRelease> = releases.iter().map(Vec::as_slice).collect();
        let w = WindowRelease::from_months(&parts, zero_hidden);
        let mut reversed = parts.clone();
        reversed.reverse();
        prop_assert_eq!(&w, &WindowRelease::from_months(&reversed, zero_hidden));
        for (cell, p) in w.iter() {
            if let Published::Value(v) = *p {
                prop_assert!(v == 0 || (v >= 5 && v % 5 == 0), "{v}");
            }
            let sum: u32 = parts
                .iter()
                .filter_map(|m| m.iter().find(|(c, _)| c == cell))
                .filter_map(|(_, p)| p.value())
                .sum();
            prop_assert_eq!(p.value().unwrap_or(0), sum);
        }
    }
}

#[test]
fn widening_suppresses_a_sibling_when_the_sums_narrow_a_suppressed_count() {
    let parent = bristol(Resolution::Seven);
    let k = kids(parent, Resolution::Eight);
    let (a, b, c) = (k[0], k[1], k[2]);
    let policy = DisclosurePolicy::default();
    // Parent 12 (published 10: 8..12), a = 5 and c = 5 published (5..7 each), b = 2 suppressed:
    // b = 12 - a - c lies in 8-14 .. 12-10, i.e. 1..=2, two values where 1..=4 should be open.
    let cells = vec![
        (parent, Published::Value(10)),
        (a, Published::Value(5)),
        (b, Published::Suppressed),
        (c, Published::Value(5)),
    ];
    let finest = [(a, 5), (b, 2), (c, 5)];
    let out = widen_suppression(cells.clone(), &finest, Sensitivity::General, &policy);
    let get = |cell| lookup(&out, cell);
    assert_eq!(get(b), Published::Suppressed);
    assert_eq!(
        [get(a), get(c)]
            .iter()
            .filter(|p| p.is_suppressed())
            .count(),
        1,
        "one sibling joins b: {out:?}"
    );
    assert_eq!(
        get(parent),
        Published::Value(10),
        "the parent stays published"
    );
    // Now b + the suppressed sibling lie in 8-7 .. 12-5 = 1..=7: b keeps 1..=6 open.
    assert!(!narrowed((1, 6), 5) && narrowed((1, 2), 5));
    // A layer the sums do not narrow is left as it is.
    let safe = vec![
        (parent, Published::Value(10)),
        (a, Published::Suppressed),
        (b, Published::Suppressed),
        (c, Published::Value(5)),
    ];
    let finest = [(a, 3), (b, 2), (c, 5)];
    assert_eq!(
        widen_suppression(safe.clone(), &finest, Sensitivity::General, &policy),
        safe
    );
}
