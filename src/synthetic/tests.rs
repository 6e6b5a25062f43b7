//! Tests of the synthetic dataset against the real boundary files. Two datasets are shared by
//! the tests: the default one (60 000 incidents) and a smaller one (20 000 incidents).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use geo::{Contains, InteriorPoint};
use rstar::RTree;
use rstar::primitives::Line;

use super::calendar::{Calendar, is_youth_category};
use super::gazetteer::{EMERGING_CENTRE, FADING_CENTRE};
use super::rng::Rng;
use super::spatial::{AreaIndex, Authority, StripPolygon, distance_m, to_local_m};
use super::*;
use crate::domain::{
    Category, Dataset, Incident, LinkKind, LinkTarget, PersonRef, ServiceTier, SubjectCategory,
    TimePrecision,
};
use crate::ingest::west_of_england::{
    AreaSet, BATH_NE_SOMERSET, BRISTOL, NORTH_SOMERSET, SCHEME_LAD, SCHEME_LOCALITY_POLICE,
    SCHEME_LOCALITY_SOCIAL_CARE, SCHEME_WARD, SOUTH_GLOUCESTERSHIRE, load_area_set,
};

fn areas() -> &'static AreaSet {
    static AREAS: OnceLock<AreaSet> = OnceLock::new();
    AREAS.get_or_init(|| {
        load_area_set(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata")).unwrap()
    })
}

fn index() -> &'static AreaIndex {
    static INDEX: OnceLock<AreaIndex> = OnceLock::new();
    INDEX.get_or_init(|| AreaIndex::new(areas()).unwrap())
}

fn small_params() -> SyntheticParams {
    SyntheticParams {
        incidents: 20_000,
        ..SyntheticParams::default()
    }
}

/// The default dataset (60 000 incidents, 3 000 people).
fn default_dataset() -> &'static Dataset {
    static DS: OnceLock<Dataset> = OnceLock::new();
    DS.get_or_init(|| {
        let t = Instant::now();
        let ds = generate(&SyntheticParams::default(), areas()).unwrap();
        eprintln!("default synthetic dataset generated in {:?}", t.elapsed());
        ds
    })
}

/// A smaller dataset (20 000 incidents, 3 000 people).
fn small_dataset() -> &'static Dataset {
    static DS: OnceLock<Dataset> = OnceLock::new();
    DS.get_or_init(|| generate(&small_params(), areas()).unwrap())
}

fn window() -> Calendar {
    let p = SyntheticParams::default();
    Calendar::new(p.end_day, p.years).unwrap()
}

fn point(i: &Incident) -> Option<(f64, f64)> {
    i.location.map(|l| (l.point.lon(), l.point.lat()))
}

fn assert_same(a: &Dataset, b: &Dataset) {
    assert_eq!(a.incidents, b.incidents);
    assert_eq!(a.places, b.places);
    assert_eq!(a.schools, b.schools);
    assert_eq!(a.stops, b.stops);
    assert_eq!(a.routes, b.routes);
    assert_eq!(a.services, b.services);
    assert_eq!(a.boundaries, b.boundaries);
    assert_eq!(a.people, b.people);
    assert_eq!(a.links, b.links);
}

#[test]
fn the_default_parameters_are_the_documented_ones() {
    let p = SyntheticParams::default();
    assert_eq!(p.seed, 0x5AFE_0001);
    assert_eq!(p.incidents, 60_000);
    assert_eq!(p.people, 3_000);
    assert_eq!(p.end_day.to_string(), "2026-10-31");
    assert_eq!(p.years, 3);
}

#[test]
fn the_same_seed_gives_an_identical_dataset_and_a_different_seed_a_different_one() {
    let p = SyntheticParams {
        incidents: 4_000,
        people: 600,
        ..SyntheticParams::default()
    };
    let a = generate(&p, areas()).unwrap();
    let b = generate(&p, areas()).unwrap();
    assert_same(&a, &b);
    let c = generate(
        &SyntheticParams {
            seed: p.seed + 1,
            ..p
        },
        areas(),
    )
    .unwrap();
    assert_ne!(a.incidents, c.incidents);
    assert_ne!(a.people, c.people);
    assert_ne!(a.schools, c.schools);
}

#[test]
fn invalid_parameters_are_refused() {
    let bad_years = SyntheticParams {
        years: 0,
        ..SyntheticParams::default()
    };
    assert!(matches!(
        generate(&bad_years, areas()),
        Err(SyntheticError::InvalidParams { field: "years", .. })
    ));
    let too_early = SyntheticParams {
        end_day: "1971-06-01".parse().unwrap(),
        ..SyntheticParams::default()
    };
    assert!(matches!(
        generate(&too_early, areas()),
        Err(SyntheticError::InvalidParams { .. })
    ));
    let empty = AreaSet {
        boundaries: Vec::new(),
        bristol_ward_sub_area: BTreeMap::new(),
    };
    assert!(matches!(
        generate(&SyntheticParams::default(), &empty),
        Err(SyntheticError::MissingBoundary { .. })
    ));
}

#[test]
fn the_default_dataset_meets_the_minimum_counts() {
    let ds = default_dataset();
    assert_eq!(ds.incidents.len(), 60_000);
    let ids: Vec<u64> = ds.incidents.iter().map(|i| i.id.get()).collect();
    assert_eq!(ids, (1..=60_000).collect::<Vec<_>>());
    assert!(ds.places.len() >= 120);
    assert_eq!(
        ds.places.iter().map(|p| p.id.get()).collect::<Vec<_>>(),
        (1..=ds.places.len() as u32).collect::<Vec<_>>()
    );
    assert_eq!(ds.schools.len(), 100);
    assert_eq!(ds.routes.len(), 20);
    assert_eq!(ds.services.len(), 60);
    assert_eq!(
        ds.services.iter().map(|s| s.id.get()).collect::<Vec<_>>(),
        (1..=60).collect::<Vec<_>>()
    );
    assert_eq!(ds.people.len(), 3_000);
    assert!(ds.stops.len() >= 200, "{} stops", ds.stops.len());
    assert!(ds.links.len() >= 3_000);
    let exploiters = ds
        .people
        .iter()
        .filter(|p| {
            p.categories
                .contains(&SubjectCategory::SuspectedExploiterAdult)
        })
        .count();
    assert_eq!(exploiters, 40);
    let end = SyntheticParams::default().end_day;
    let children = ds.people.iter().filter(|p| p.may_be_child_on(end)).count();
    let share = children as f64 / ds.people.len() as f64;
    assert!((0.5..0.6).contains(&share), "child share {share}");
    let unlocated = ds.incidents.iter().filter(|i| i.location.is_none()).count();
    assert!(
        unlocated > 0 && unlocated * 100 <= ds.incidents.len(),
        "{unlocated} without location"
    );
    let month_only = ds
        .incidents
        .iter()
        .filter(|i| i.time.precision == TimePrecision::Month)
        .count();
    let month_share = month_only as f64 / ds.incidents.len() as f64;
    assert!(
        (0.07..0.13).contains(&month_share),
        "month-only share {month_share}"
    );
    assert!(
        ds.incidents
            .iter()
            .any(|i| i.provenance.isa_ref.is_some() && i.provenance.grade.is_some())
    );
    let by_definition = [
        Category::SeriousYouthViolence,
        Category::ChildExploitationConcern,
    ];
    assert!(
        ds.incidents
            .iter()
            .filter(|i| by_definition.contains(&i.category))
            .all(|i| i.involves_child)
    );
    let child_share = ds.incidents.iter().filter(|i| i.involves_child).count() as f64 / 60_000.0;
    assert!(
        (0.1..0.4).contains(&child_share),
        "involves_child share {child_share}"
    );
}

#[test]
fn every_located_incident_lies_in_bristol_north_somerset_or_south_gloucestershire() {
    let ds = small_dataset();
    let idx = index();
    let covered: Vec<&geo::MultiPolygon<f64>> = areas()
        .scheme(SCHEME_LAD)
        .filter(|b| [BRISTOL, NORTH_SOMERSET, SOUTH_GLOUCESTERSHIRE].contains(&b.code.as_str()))
        .map(|b| &b.geometry)
        .collect();
    assert_eq!(covered.len(), 3);
    for (k, inc) in ds.incidents.iter().enumerate() {
        let Some((lon, lat)) = point(inc) else {
            continue;
        };
        assert!(
            idx.covered_authority_at(lon, lat).is_some(),
            "incident {} at {lon},{lat}",
            inc.id
        );
        // An independent check with geo on a sample.
        if k % 25 == 0 {
            let p = geo::Point::new(lon, lat);
            assert!(
                covered.iter().any(|g| g.contains(&p)),
                "incident {} at {lon},{lat}",
                inc.id
            );
        }
    }
}

#[test]
fn all_incident_days_lie_in_the_window() {
    let ds = small_dataset();
    let cal = window();
    assert_eq!(cal.start.to_string(), "2023-10-31");
    for inc in &ds.incidents {
        assert!(
            inc.time.day >= cal.start && inc.time.day <= cal.end,
            "{} on {}",
            inc.id,
            inc.time.day
        );
        match inc.time.precision {
            TimePrecision::Exact => assert!(inc.time.minute_of_day.is_some_and(|m| m < 1440)),
            TimePrecision::Day => assert!(inc.time.minute_of_day.is_none()),
            TimePrecision::Month => {
                assert!(inc.time.minute_of_day.is_none());
                assert_eq!(inc.time.day.ymd().2, 1);
            }
        }
    }
    // Ids follow time order.
    assert!(
        ds.incidents
            .windows(2)
            .all(|w| w[0].time.day <= w[1].time.day || w[1].time.precision == TimePrecision::Month)
    );
}

fn first_and_last_year_counts(ds: &Dataset, centre: (f64, f64), radius_m: f64) -> (usize, usize) {
    let cal = window();
    let first_end = cal.start.plus_days(365);
    let last_start = cal.end.minus_days(365);
    let mut first = 0;
    let mut last = 0;
    for inc in &ds.incidents {
        let Some(p) = point(inc) else { continue };
        if distance_m(p, centre) > radius_m {
            continue;
        }
        if inc.time.day < first_end {
            first += 1;
        }
        if inc.time.day > last_start {
            last += 1;
        }
    }
    (first, last)
}

#[test]
fn the_emerging_hotspot_grows_and_the_fading_hotspot_declines() {
    let ds = small_dataset();
    let (first, last) = first_and_last_year_counts(ds, EMERGING_CENTRE, 500.0);
    assert!(
        last >= 3 * first && last >= 100,
        "emerging: first {first}, last {last}"
    );
    let (first, last) = first_and_last_year_counts(ds, FADING_CENTRE, 400.0);
    assert!(
        first >= 3 * last && first >= 100,
        "fading: first {first}, last {last}"
    );
}

#[test]
fn summer_months_have_more_incidents_than_winter_months() {
    let ds = small_dataset();
    let mut summer = 0;
    let mut winter = 0;
    for inc in &ds.incidents {
        match inc.time.day.ymd().1 {
            6..=8 => summer += 1,
            12 | 1 | 2 => winter += 1,
            _ => {}
        }
    }
    assert!(
        f64::from(summer) > 1.15 * f64::from(winter),
        "summer {summer}, winter {winter}"
    );
}

#[test]
fn youth_categories_peak_after_school_on_weekdays_more_than_other_categories() {
    let ds = small_dataset();
    // (after-school weekday count, exact-time count) for youth and other categories.
    let mut youth = (0_u32, 0_u32);
    let mut other = (0_u32, 0_u32);
    for inc in &ds.incidents {
        let Some(minute) = inc.time.minute_of_day else {
            continue;
        };
        let after_school = inc.time.day.weekday_mon0() < 5 && (15 * 60..18 * 60).contains(&minute);
        let slot = if is_youth_category(inc.category) {
            &mut youth
        } else {
            &mut other
        };
        slot.0 += u32::from(after_school);
        slot.1 += 1;
    }
    let youth_share = f64::from(youth.0) / f64::from(youth.1);
    let other_share = f64::from(other.0) / f64::from(other.1);
    assert!(
        youth_share > other_share + 0.05,
        "youth {youth_share}, other {other_share}"
    );
}

/// Pairs of incidents within `close_m` metres and `close_days` days of each other.
fn close_pairs(points: &[(f64, f64)], days: &[i32], close_m: f64, close_days: i32) -> u64 {
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    let cell = |p: (f64, f64)| {
        let (x, y) = to_local_m(p.0, p.1);
        ((x / close_m).floor() as i64, (y / close_m).floor() as i64)
    };
    for (i, p) in points.iter().enumerate() {
        grid.entry(cell(*p)).or_default().push(i);
    }
    let mut pairs = 0;
    for (i, p) in points.iter().enumerate() {
        let (cx, cy) = cell(*p);
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(list) = grid.get(&(cx + dx, cy + dy)) else {
                    continue;
                };
                for &j in list {
                    if j > i
                        && (days[i] - days[j]).abs() <= close_days
                        && distance_m(*p, points[j]) <= close_m
                    {
                        pairs += 1;
                    }
                }
            }
        }
    }
    pairs
}

#[test]
fn near_repeats_exceed_a_time_shuffled_baseline() {
    let ds = small_dataset();
    let (points, mut days): (Vec<(f64, f64)>, Vec<i32>) = ds
        .incidents
        .iter()
        .filter(|i| i.time.precision != TimePrecision::Month)
        .filter_map(|i| point(i).map(|p| (p, i32::from(i.time.day.days_since_epoch()))))
        .unzip();
    let observed = close_pairs(&points, &days, 200.0, 7);
    let mut rng = Rng::new(0x4B4E_4F58);
    let runs = 3;
    let mut baseline = 0;
    for _ in 0..runs {
        rng.shuffle(&mut days);
        baseline += close_pairs(&points, &days, 200.0, 7);
    }
    let expected = baseline as f64 / f64::from(runs);
    let ratio = observed as f64 / expected;
    eprintln!(
        "near-repeat pairs: observed {observed}, shuffled mean {expected:.0}, ratio {ratio:.2}"
    );
    assert!(
        ratio >= 1.5,
        "observed {observed}, shuffled mean {expected}, ratio {ratio}"
    );
}

/// Edges of the Bristol outline shared (within 50 m) with North Somerset or South
/// Gloucestershire, in local metres.
fn bristol_border_with_neighbours() -> RTree<Line<[f64; 2]>> {
    let lines_of = |code: &str| -> Vec<Line<[f64; 2]>> {
        let b = areas().get(SCHEME_LAD, code).unwrap();
        let mut out = Vec::new();
        for poly in &b.geometry.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for l in ring.lines() {
                    let (x1, y1) = to_local_m(l.start.x, l.start.y);
                    let (x2, y2) = to_local_m(l.end.x, l.end.y);
                    out.push(Line::new([x1, y1], [x2, y2]));
                }
            }
        }
        out
    };
    let mut neighbours = lines_of(NORTH_SOMERSET);
    neighbours.extend(lines_of(SOUTH_GLOUCESTERSHIRE));
    let neighbours = RTree::bulk_load(neighbours);
    let shared: Vec<Line<[f64; 2]>> = lines_of(BRISTOL)
        .into_iter()
        .filter(|l| {
            let mid = [
                f64::midpoint(l.from[0], l.to[0]),
                f64::midpoint(l.from[1], l.to[1]),
            ];
            neighbours
                .nearest_neighbor(&mid)
                .is_some_and(|n| rstar::PointDistance::distance_2(n, &mid) <= 50.0 * 50.0)
        })
        .collect();
    assert!(shared.len() > 100);
    RTree::bulk_load(shared)
}

#[test]
fn a_fair_share_of_incidents_lies_within_a_kilometre_of_a_bristol_border_on_each_side() {
    let ds = small_dataset();
    let border = bristol_border_with_neighbours();
    let idx = index();
    let (mut inside, mut outside, mut located) = (0_u32, 0_u32, 0_u32);
    for inc in &ds.incidents {
        let Some((lon, lat)) = point(inc) else {
            continue;
        };
        located += 1;
        let (x, y) = to_local_m(lon, lat);
        let near = border
            .nearest_neighbor(&[x, y])
            .is_some_and(|l| rstar::PointDistance::distance_2(l, &[x, y]) <= 1000.0 * 1000.0);
        if !near {
            continue;
        }
        match idx.covered_authority_at(lon, lat) {
            Some(Authority::Bristol) => inside += 1,
            Some(_) => outside += 1,
            None => {}
        }
    }
    let (in_share, out_share) = (
        f64::from(inside) / f64::from(located),
        f64::from(outside) / f64::from(located),
    );
    eprintln!(
        "within 1 km of the border: Bristol side {in_share:.3}, neighbour side {out_share:.3}"
    );
    assert!(in_share >= 0.05, "Bristol side {in_share}");
    assert!(out_share >= 0.05, "neighbour side {out_share}");
}

#[test]
fn every_person_and_link_has_a_category_and_a_timely_review() {
    let ds = small_dataset();
    let end = SyntheticParams::default().end_day;
    let by_ref: BTreeMap<&PersonRef, _> = ds.people.iter().map(|p| (&p.id, p)).collect();
    assert_eq!(
        by_ref.len(),
        ds.people.len(),
        "person references are unique"
    );
    for p in &ds.people {
        assert!(!p.categories.is_empty(), "{}", p.id);
        assert!(p.id.as_str().len() == 9);
        let max = if p.may_be_child_on(end) { 92 } else { 181 };
        assert!(
            p.review_due > end && p.review_due <= end.plus_days(max),
            "{} due {}",
            p.id,
            p.review_due
        );
        if p.may_be_child_on(end) {
            assert!(
                !p.categories
                    .contains(&SubjectCategory::SuspectedExploiterAdult)
            );
        }
    }
    let mut ids = BTreeSet::new();
    for l in &ds.links {
        assert!(ids.insert(l.id), "link id {} repeated", l.id);
        assert!(!l.categories.is_empty(), "link {}", l.id);
        let from = by_ref.get(&l.from).expect("link from a known person");
        let to_child = match &l.to {
            LinkTarget::Person(r) => by_ref
                .get(r)
                .expect("link to a known person")
                .may_be_child_on(end),
            LinkTarget::Place(id) => {
                assert!(ds.places.iter().any(|p| p.id == *id));
                false
            }
            LinkTarget::Incident(id) => {
                assert!(id.get() >= 1 && id.get() <= ds.incidents.len() as u64);
                false
            }
        };
        let max = if from.may_be_child_on(end) || to_child {
            92
        } else {
            181
        };
        assert!(
            l.review_due > end && l.review_due <= end.plus_days(max),
            "link {}",
            l.id
        );
        for c in &l.categories {
            assert!(
                from.categories.contains(c),
                "link {} category {c} missing on its person",
                l.id
            );
        }
    }
    for p in &ds.places {
        assert!(p.review_due > end && p.review_due <= end.plus_days(181));
        assert!(!p.guardians.is_empty());
    }
}

#[test]
fn every_person_who_may_have_been_a_child_suspect_has_a_safeguarding_link() {
    let ds = small_dataset();
    let start = window().start;
    let people: BTreeMap<&PersonRef, _> = ds.people.iter().map(|p| (&p.id, p)).collect();
    let safeguarded: BTreeSet<&PersonRef> = ds
        .links
        .iter()
        .filter(|l| l.kind == LinkKind::Safeguarding)
        .map(|l| &l.from)
        .collect();
    let mut child_suspects = 0;
    for l in ds
        .links
        .iter()
        .filter(|l| l.categories.contains(&SubjectCategory::Suspect))
    {
        let p = people[&l.from];
        if p.may_be_child_on(start) {
            child_suspects += 1;
            assert!(
                safeguarded.contains(&l.from),
                "{} is a child suspect without safeguarding",
                l.from
            );
        }
    }
    assert!(child_suspects > 50, "{child_suspects} child suspect links");
    // Children linked to incidents only to incidents that involve a child.
    let end = SyntheticParams::default().end_day;
    for l in &ds.links {
        if let LinkTarget::Incident(id) = &l.to
            && people[&l.from].may_be_child_on(end)
        {
            let inc = &ds.incidents[(id.get() - 1) as usize];
            assert!(
                inc.involves_child,
                "child linked to incident {id} not marked involves_child"
            );
        }
    }
}

#[test]
fn at_least_twenty_adults_are_linked_by_exploitation_to_five_or_more_children() {
    let ds = small_dataset();
    let end = SyntheticParams::default().end_day;
    let people: BTreeMap<&PersonRef, _> = ds.people.iter().map(|p| (&p.id, p)).collect();
    let mut children_of: BTreeMap<&PersonRef, BTreeSet<&PersonRef>> = BTreeMap::new();
    for l in ds.links.iter().filter(|l| l.kind == LinkKind::Exploitation) {
        let LinkTarget::Person(child) = &l.to else {
            panic!("exploitation link {} to a non-person", l.id)
        };
        assert!(people[child].may_be_child_on(end));
        assert!(!people[&l.from].may_be_child_on(window().start));
        assert!(
            people[child]
                .categories
                .contains(&SubjectCategory::ChildAtRiskOfExploitation)
        );
        children_of.entry(&l.from).or_default().insert(child);
    }
    let many = children_of.values().filter(|c| c.len() >= 5).count();
    assert!(many >= 20, "{many} adults linked to 5+ children");
    // S4: each suspected exploiter has a graded item about their own conduct and places.
    for exploiter in children_of.keys() {
        let own: Vec<_> = ds.links.iter().filter(|l| &l.from == *exploiter).collect();
        assert!(
            own.iter().any(|l| l.kind == LinkKind::PersonIncident),
            "{exploiter} has no conduct item"
        );
        assert!(
            own.iter().any(|l| l.kind == LinkKind::PersonPlace),
            "{exploiter} has no place link"
        );
    }
}

#[test]
fn the_youth_population_of_each_authority_and_locality_is_the_sum_of_its_wards() {
    let ds = small_dataset();
    let wards: Vec<_> = ds
        .boundaries
        .iter()
        .filter(|b| b.scheme.as_str() == SCHEME_WARD)
        .collect();
    assert_eq!(wards.len(), 106);
    for w in &wards {
        let v = w
            .youth_population
            .expect("every ward has a youth population");
        assert!((1_000..=3_500).contains(&v), "{} has {v}", w.name);
    }
    let mut checked = 0;
    for b in &ds.boundaries {
        let scheme = b.scheme.as_str();
        if ![
            SCHEME_LAD,
            SCHEME_LOCALITY_POLICE,
            SCHEME_LOCALITY_SOCIAL_CARE,
        ]
        .contains(&scheme)
        {
            continue;
        }
        let members: Vec<u32> = wards
            .iter()
            .filter(|w| b.geometry.contains(&w.geometry.interior_point().unwrap()))
            .filter_map(|w| w.youth_population)
            .collect();
        if b.code.as_str() == BATH_NE_SOMERSET {
            assert_eq!(b.youth_population, None);
        } else {
            assert!(!members.is_empty(), "{} has no wards", b.name);
            assert_eq!(
                b.youth_population,
                Some(members.iter().sum()),
                "{} {}",
                scheme,
                b.name
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 3 + 5 + 5);
    // Deprived inner and South Bristol wards are higher on average than the rest.
    let mean = |names: &[&str]| {
        let v: Vec<f64> = wards
            .iter()
            .filter(|w| names.contains(&w.name.as_str()))
            .map(|w| f64::from(w.youth_population.unwrap()))
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(
        mean(&["Filwood", "Hartcliffe", "Lawrence Hill", "Easton"])
            > mean(&["Henleaze", "Stoke Bishop", "Westbury-on-Trym"])
    );
}

#[test]
fn services_by_tier_favour_north_bristol_over_south_bristol() {
    let ds = small_dataset();
    let shape = |code: &str| {
        let b = areas().get(SCHEME_LOCALITY_SOCIAL_CARE, code).unwrap();
        StripPolygon::new(&b.geometry, 100.0).unwrap()
    };
    let (north, south) = (shape("bristol-north"), shape("bristol-south"));
    let count = |s: &StripPolygon, tier: ServiceTier| {
        ds.services
            .iter()
            .filter(|v| v.tier == tier && s.contains(v.location.lon(), v.location.lat()))
            .count()
    };
    let incidents = |s: &StripPolygon| {
        ds.incidents
            .iter()
            .filter_map(point)
            .filter(|p| s.contains(p.0, p.1))
            .count()
    };
    let (inc_n, inc_s) = (incidents(&north), incidents(&south));
    assert!(inc_s > 0 && inc_n > 0);
    assert!(count(&north, ServiceTier::Universal) > count(&south, ServiceTier::Universal));
    let higher =
        |s: &StripPolygon| count(s, ServiceTier::Targeted) + count(s, ServiceTier::Specialist);
    let per_incident_n = higher(&north) as f64 / inc_n as f64;
    let per_incident_s = higher(&south) as f64 / inc_s as f64;
    assert!(
        per_incident_s < per_incident_n,
        "south {per_incident_s}, north {per_incident_n}"
    );
    assert!(
        inc_s > inc_n,
        "South Bristol has more incidents ({inc_s}) than North ({inc_n})"
    );
}

#[test]
fn schools_places_and_stops_lie_in_the_authorities_they_claim() {
    let ds = small_dataset();
    let idx = index();
    let mut urns = BTreeSet::new();
    for s in &ds.schools {
        assert!((900_000..=999_999).contains(&s.urn.get()));
        assert!(urns.insert(s.urn));
        assert!(s.name.ends_with("(synthetic)"));
        let a = idx
            .authority_at(s.location.lon(), s.location.lat())
            .unwrap();
        assert_eq!(a.code(), s.la_code.as_str(), "{}", s.name);
    }
    let na = ds
        .schools
        .iter()
        .filter(|s| s.phase == crate::domain::Phase::NotApplicable)
        .count();
    assert!((1..=6).contains(&na));
    for p in &ds.places {
        assert!(
            idx.covered_authority_at(p.location.lon(), p.location.lat())
                .is_some(),
            "{}",
            p.name
        );
    }
    for s in &ds.services {
        assert!(
            idx.covered_authority_at(s.location.lon(), s.location.lat())
                .is_some(),
            "{}",
            s.name
        );
    }
    for st in &ds.stops {
        let code = st.id.as_str();
        assert!(code.len() == 12 && &code[4..7] == "SYN", "{code}");
        if let Some(a) = idx.authority_at(st.location.lon(), st.location.lat()) {
            assert_eq!(&code[..4], a.atco_prefix(), "{}", st.name);
        }
    }
}

#[test]
fn routes_are_densified_and_list_known_stops_about_every_400_metres() {
    let ds = small_dataset();
    let stops: BTreeMap<_, _> = ds.stops.iter().map(|s| (&s.id, s)).collect();
    let mut shared = BTreeMap::new();
    for r in &ds.routes {
        assert_eq!(r.mode, crate::domain::RouteMode::Bus);
        let mut length_m = 0.0;
        for w in r.line.windows(2) {
            let d = distance_m((w[0].lon(), w[0].lat()), (w[1].lon(), w[1].lat()));
            assert!(d <= 300.0, "route {} has a {d} m gap", r.short_name);
            length_m += d;
        }
        assert!(r.stops.len() >= 2);
        for s in &r.stops {
            assert!(
                stops.contains_key(s),
                "route {} lists unknown stop {s}",
                r.short_name
            );
            *shared.entry(s).or_insert(0) += 1;
        }
        let spacing_m = length_m / (r.stops.len() - 1) as f64;
        assert!(
            (300.0..=550.0).contains(&spacing_m),
            "route {} spacing {spacing_m}",
            r.short_name
        );
    }
    assert!(
        shared.values().any(|&n| n > 1),
        "some stops are shared between routes"
    );
}

#[test]
fn no_field_name_in_the_people_or_links_suggests_a_score() {
    let ds = small_dataset();
    let person = serde_json::to_string(&ds.people[0]).unwrap().to_lowercase();
    let link = serde_json::to_string(&ds.links[0]).unwrap().to_lowercase();
    for word in ["score", "rank", "rag", "risk_level", "harm"] {
        for json in [&person, &link] {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            assert!(keys.iter().all(|k| !k.contains(word)), "{word} in {keys:?}");
        }
    }
}
