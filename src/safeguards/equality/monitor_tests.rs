use super::*;
use crate::safeguards::equality::baselines::{BaselineRow, BaselineTotals};
use crate::synthetic::rng::Rng;

fn eth(e: Ethnicity) -> Groups {
    Groups {
        ethnicity: Some(e),
        ..Groups::default()
    }
}

fn subjects(e: Ethnicity, members: usize, others: usize) -> Vec<Subject> {
    (0..members + others)
        .map(|i| Subject {
            groups: eth(e),
            member: i < members,
        })
        .collect()
}

#[test]
fn within_a_population_each_group_is_compared_with_white() {
    // Black: 30 suspects of 100 recorded; white: 20 of 200; asian: 0 of 10; not stated: ignored.
    let mut s = subjects(Ethnicity::Black, 30, 70);
    s.extend(subjects(Ethnicity::White, 20, 180));
    s.extend(subjects(Ethnicity::Asian, 0, 10));
    s.extend(subjects(Ethnicity::NotStated, 50, 0));
    let out = compare_within("p", &s, &[Dimension::Ethnicity]);
    assert_eq!(out.len(), 2, "{out:#?}");
    let black = out.iter().find(|c| c.group == "black").unwrap();
    assert_eq!(black.reference, "white");
    assert_eq!(
        black.counts,
        RriCounts {
            a_g: 30,
            n_g: 100,
            a_r: 20,
            n_r: 200
        }
    );
    // RRI = 0.3 / 0.1 = 3.
    let e = black.outcome.estimate().unwrap();
    assert!((e.rri - 3.0).abs() < 1e-12);
    assert!(black.flagged());
    let asian = out.iter().find(|c| c.group == "asian").unwrap();
    assert!(asian.outcome.estimate().is_none() && !asian.flagged());
}

#[test]
fn against_residents_the_baseline_is_the_census_table() {
    let row = |authority: &str, dimension, group: &str, residents| BaselineRow {
        authority: authority.to_owned(),
        msoa: String::new(),
        dimension,
        group: group.to_owned(),
        residents,
    };
    let residents = BaselineTotals::new(&[
        row("A", Dimension::Sex, "female", 600),
        row("A", Dimension::Sex, "male", 400),
        row("B", Dimension::Sex, "female", 100),
        row("B", Dimension::Sex, "male", 900),
    ]);
    let person = |sex, authority: &str| Groups {
        sex: Some(sex),
        authority: Some(authority.to_owned()),
        ..Groups::default()
    };
    let mut members = vec![person(Sex::Male, "A"); 10];
    members.extend(vec![person(Sex::Female, "B"); 14]);
    members.push(person(Sex::NotStated, "C"));
    let out = compare_to_residents(
        "q",
        &members,
        &residents,
        &[Dimension::Sex, Dimension::Authority],
    );
    // Sex: reference is the largest baseline, male (1300); female 14 of 700 against 10 of 1300.
    let sex = out.iter().find(|c| c.dimension == Dimension::Sex).unwrap();
    assert_eq!(
        (sex.group.as_str(), sex.reference.as_str()),
        ("female", "male")
    );
    assert_eq!(
        sex.counts,
        RriCounts {
            a_g: 14,
            n_g: 700,
            a_r: 10,
            n_r: 1300
        }
    );
    // Authority: A and B both 1000; the tie goes to the first code, A. C has no baseline.
    let auth: Vec<_> = out
        .iter()
        .filter(|c| c.dimension == Dimension::Authority)
        .collect();
    assert_eq!(auth.len(), 1);
    assert_eq!(
        (auth[0].group.as_str(), auth[0].reference.as_str()),
        ("B", "A")
    );
    assert_eq!(
        auth[0].counts,
        RriCounts {
            a_g: 14,
            n_g: 1000,
            a_r: 10,
            n_r: 1000
        }
    );
}

#[test]
fn an_alert_needs_the_same_comparison_flagged_in_both_months() {
    let month = |black_suspects: usize| {
        let mut s = subjects(Ethnicity::Black, black_suspects, 100 - black_suspects);
        s.extend(subjects(Ethnicity::White, 10, 90));
        s.extend(subjects(Ethnicity::Asian, 10, 90));
        compare_within("p", &s, &[Dimension::Ethnicity])
    };
    let (high, calm) = (month(40), month(10));
    assert_eq!(triggered(&high, &high).len(), 1);
    assert_eq!(triggered(&high, &high)[0].group, "black");
    assert!(triggered(&calm, &high).is_empty());
    assert!(triggered(&high, &calm).is_empty());
    assert!(triggered(&[], &high).is_empty());
}

/// One month of `child_suspect_vs_victim` in the S22 test: `PER_GROUP` children recorded as
/// suspect or victim in each of two groups, each a suspect with probability `p_white` (white,
/// the reference) or `p_black` (black).
fn s22_month(rng: &mut Rng, p_white: f64, p_black: f64) -> Vec<Comparison> {
    const PER_GROUP: usize = 1500;
    let mut s = Vec::with_capacity(2 * PER_GROUP);
    for (e, p) in [(Ethnicity::White, p_white), (Ethnicity::Black, p_black)] {
        for _ in 0..PER_GROUP {
            s.push(Subject {
                groups: eth(e),
                member: rng.chance(p),
            });
        }
    }
    compare_within(
        &Population::ChildSuspectVsVictim.code(),
        &s,
        &[Dimension::Ethnicity],
    )
}

/// The S22 test (issue 13 point 6). Each run draws two consecutive months; the alert fires when
/// the black-vs-white comparison of `child_suspect_vs_victim` is flagged in both. Sizes: 1,500
/// children recorded as suspect or victim per group per month, 20 % of white children suspects;
/// biased runs make 40 % of black children suspects (true RRI 2.0), control runs 20 % (RRI 1).
/// With about 300 reference suspects the standard error of ln RRI is about 0.07 in a control
/// month, so a month is flagged with probability about 5 % (mostly by the interval test in
/// either direction) and both months about 0.25 %; a biased month sits about 9 standard errors
/// above the flag line.
#[test]
fn s22_alert_fires_in_biased_runs_and_not_in_controls() {
    let fires = |seed: u64, p_black: f64| {
        let mut rng = Rng::stream(seed, 22);
        let first = s22_month(&mut rng, 0.2, p_black);
        let second = s22_month(&mut rng, 0.2, p_black);
        triggered(&first, &second)
            .iter()
            .any(|c| c.group == "black" && c.reference == "white")
    };
    let biased = (0..100).filter(|&seed| fires(seed, 0.4)).count();
    let control = (0..100).filter(|&seed| fires(1000 + seed, 0.2)).count();
    assert!(
        biased >= 95,
        "the alert fired in only {biased} of 100 biased runs"
    );
    assert!(
        control <= 5,
        "the alert fired in {control} of 100 control runs"
    );
}

mod month {
    use super::*;
    use crate::domain::{
        Agency, Category, Day, Grade, IncidentTime, LinkKind, Provenance, StopOutcome,
        TimePrecision,
    };

    fn agency() -> Agency {
        "synthetic-police".parse().unwrap()
    }

    fn incident(id: u64, day: Day) -> Incident {
        Incident {
            id: IncidentId::new(id),
            category: Category::KnifeCrime,
            time: IncidentTime {
                day,
                minute_of_day: None,
                precision: TimePrecision::Day,
            },
            location: None,
            involves_child: true,
            provenance: Provenance {
                agency: agency(),
                isa_ref: None,
                grade: None,
            },
        }
    }

    fn person(n: u32, birth_year: u16) -> Person {
        Person::new(
            format!("P{n:08}").parse().unwrap(),
            birth_year,
            vec![SubjectCategory::Victim],
            agency(),
            Day::from_ymd(2027, 1, 1).unwrap(),
        )
        .unwrap()
    }

    fn link(id: u64, p: &Person, incident: u64, category: SubjectCategory) -> Link {
        Link::new(
            id,
            LinkKind::PersonIncident,
            p.id.clone(),
            LinkTarget::Incident(IncidentId::new(incident)),
            vec![category],
            "1AP".parse::<Grade>().unwrap(),
            agency(),
            Day::from_ymd(2027, 1, 1).unwrap(),
        )
        .unwrap()
    }

    fn search(day: Day, age: &str, self_defined: &str, gender: &str) -> StopSearch {
        StopSearch {
            id: 1,
            day,
            minute_of_day: None,
            location: None,
            search_type: SearchType::PersonSearch,
            part_of_operation: None,
            operation: None,
            gender: Some(gender.to_owned()),
            age_range: Some(age.to_owned()),
            self_defined_ethnicity: Some(self_defined.to_owned()),
            officer_defined_ethnicity: Some("White".to_owned()),
            legislation: None,
            object_of_search: None,
            outcome: StopOutcome::Nfa,
            outcome_raw: None,
            outcome_linked_to_object: None,
            removal_of_more_than_outer_clothing: None,
            is_child: age == "10-17",
            provenance: Provenance {
                agency: agency(),
                isa_ref: None,
                grade: None,
            },
        }
    }

    /// Stop and search as a count-based population (each person search one record) against
    /// residents, by sex and age band, with RRIs and intervals worked out by hand from S22's
    /// formula.
    #[test]
    fn stop_searches_are_counted_by_sex_and_age_band_against_residents() {
        let oct = Day::from_ymd(2026, 10, 3).unwrap();
        let white = "White - English/Welsh/Scottish/Northern Irish/British";
        let mut searches = Vec::new();
        searches.extend((0..6).map(|_| search(oct, "10-17", white, "Male")));
        searches.extend((0..2).map(|_| search(oct, "18-24", white, "Female")));
        searches.extend((0..2).map(|_| search(oct, "10-17", white, "Female")));
        // No sex group, but in the 10–17 band.
        searches.push(search(oct, "10-17", white, "Other"));
        // A vehicle search is not a search of a person.
        let mut vehicle = search(oct, "10-17", white, "Male");
        vehicle.search_type = SearchType::VehicleSearch;
        searches.push(vehicle);
        let row = |dimension, group: &str, residents| BaselineRow {
            authority: "A".to_owned(),
            msoa: String::new(),
            dimension,
            group: group.to_owned(),
            residents,
        };
        let residents = BaselineTotals::new(&[
            row(Dimension::Sex, "female", 1000),
            row(Dimension::Sex, "male", 1000),
            row(Dimension::AgeBand, "10-17", 1200),
            row(Dimension::AgeBand, "18-24", 800),
        ]);
        let out = monitor_month(
            Month::of(oct),
            &MonthData {
                people: &[],
                links: &[],
                incidents: &[],
                equality: &BTreeMap::new(),
                stop_searches: &searches,
                residents: &residents,
            },
        );
        assert!(
            out.iter().all(|c| c.population == "stop_search"),
            "{out:#?}"
        );
        let find = |d| out.iter().find(|c| c.dimension == d).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // Sex: a tie of baselines goes to the first code, female. Male 6 of 1000 against
        // female 4 of 1000: RRI 1.5, interval exp(ln 1.5 ± 1.96 · sqrt(1/6 − 1/1000 + 1/4 −
        // 1/1000)) = 0.424574 .. 5.299432.
        let sex = find(Dimension::Sex);
        assert_eq!(
            (sex.group.as_str(), sex.reference.as_str(), sex.counts),
            (
                "male",
                "female",
                RriCounts {
                    a_g: 6,
                    n_g: 1000,
                    a_r: 4,
                    n_r: 1000
                }
            )
        );
        let e = sex.outcome.estimate().unwrap();
        assert!(close(e.rri, 1.5), "{e:?}");
        assert!((e.ci_low - 0.424_574).abs() < 1e-6, "{e:?}");
        assert!((e.ci_high - 5.299_432).abs() < 1e-6, "{e:?}");
        assert!(sex.flagged(), "RRI above 1.25");
        // Age band: 18-24, 2 of 800, against 10-17 (the larger baseline), 9 of 1200:
        // RRI 1/3, interval 0.072208 .. 1.538759 (includes 1, RRI below 1.25: not flagged).
        let age = find(Dimension::AgeBand);
        assert_eq!(
            (age.group.as_str(), age.reference.as_str(), age.counts),
            (
                "18-24",
                "10-17",
                RriCounts {
                    a_g: 2,
                    n_g: 800,
                    a_r: 9,
                    n_r: 1200
                }
            )
        );
        let e = age.outcome.estimate().unwrap();
        assert!(close(e.rri, 1.0 / 3.0), "{e:?}");
        assert!((e.ci_low - 0.072_208).abs() < 1e-6, "{e:?}");
        assert!((e.ci_high - 1.538_759).abs() < 1e-6, "{e:?}");
        assert!(!age.flagged());
    }

    /// A small month by hand: which people and searches land in which population and group.
    #[test]
    #[expect(
        clippy::too_many_lines,
        reason = "a test that walks one hand-built month end to end"
    )]
    fn a_month_counts_the_right_people_in_each_population() {
        use SubjectCategory::{Suspect, Victim};
        let oct = Day::from_ymd(2026, 10, 15).unwrap();
        let sep = Day::from_ymd(2026, 9, 15).unwrap();
        let incidents = [incident(1, oct), incident(2, sep)];
        // Four children (born 2012: 14 in 2026), one adult of 20, one of 40.
        let people: Vec<Person> = [2012, 2012, 2012, 2012, 2006, 1986]
            .iter()
            .zip(1..)
            .map(|(y, n)| person(n, *y))
            .collect();
        let eth = [
            Ethnicity::Black,
            Ethnicity::Black,
            Ethnicity::White,
            Ethnicity::White,
            Ethnicity::Black,
            Ethnicity::White,
        ];
        let equality: BTreeMap<PersonRef, PersonEquality> = people
            .iter()
            .zip(eth)
            .map(|(p, e)| {
                (
                    p.id.clone(),
                    PersonEquality {
                        person: p.id.clone(),
                        ethnicity: e,
                        sex: Sex::Male,
                        deprivation_decile: Some(1),
                        authority: Some("A".to_owned()),
                        msoa: None,
                    },
                )
            })
            .collect();
        let links = vec![
            link(1, &people[0], 1, Suspect),
            link(2, &people[1], 1, Victim),
            link(3, &people[2], 1, Victim),
            link(4, &people[3], 1, Victim),
            link(5, &people[4], 1, Suspect),
            link(6, &people[5], 1, Suspect),
            // September: not in the October month.
            link(7, &people[3], 2, Suspect),
        ];
        let row = |dimension, group: &str, residents| BaselineRow {
            authority: "A".to_owned(),
            msoa: String::new(),
            dimension,
            group: group.to_owned(),
            residents,
        };
        let residents = BaselineTotals::new(&[
            row(Dimension::Ethnicity, "black", 100),
            row(Dimension::Ethnicity, "white", 900),
            row(Dimension::Sex, "male", 1000),
        ]);
        let searches = [
            search(
                oct,
                "10-17",
                "Black/African/Caribbean/Black British - African",
                "Male",
            ),
            search(oct, "18-24", "White - Irish", "Female"),
            search(oct, "over 34", "White - Irish", "Female"),
            search(sep, "10-17", "White - Irish", "Female"),
        ];
        let out = monitor_month(
            Month::of(oct),
            &MonthData {
                people: &people,
                links: &links,
                incidents: &incidents,
                equality: &equality,
                stop_searches: &searches,
                residents: &residents,
            },
        );
        let find = |population: &str, dimension| {
            out.iter()
                .find(|c| c.population == population && c.dimension == dimension)
                .unwrap_or_else(|| panic!("no {population} {dimension}: {out:#?}"))
        };
        // Suspects aged 10–24 in October: child 1 (black) and the adult of 20 (black); the
        // adult of 40 is outside the baseline ages.
        let s = find("intelligence:suspect", Dimension::Ethnicity);
        assert_eq!(
            (s.group.as_str(), s.counts),
            (
                "black",
                RriCounts {
                    a_g: 2,
                    n_g: 100,
                    a_r: 0,
                    n_r: 900
                }
            )
        );
        // Children recorded as suspect or victim in October: black 1 of 2, white 0 of 2 (the
        // September suspect link of child 4 does not count).
        let c = find("child_suspect_vs_victim", Dimension::Ethnicity);
        assert_eq!(
            c.counts,
            RriCounts {
                a_g: 1,
                n_g: 2,
                a_r: 0,
                n_r: 2
            }
        );
        // Stop and search in October, 10–24: one black (self-defined wins over the officer's
        // "White"), one white; the over-34 search and September's are left out.
        let ss = find("stop_search", Dimension::Ethnicity);
        assert_eq!(
            ss.counts,
            RriCounts {
                a_g: 1,
                n_g: 100,
                a_r: 1,
                n_r: 900
            }
        );
        assert!(
            out.iter()
                .all(|c| c.population != "stop_search" || c.dimension != Dimension::Authority),
            "searches hold no residence"
        );
    }
}

/// The MSOA breakdown and the deprivation decile looked up from a person's MSOA, against
/// baselines whose decile comes from the baseline file's `decile` column.
#[test]
fn msoa_and_decile_breakdowns_count_people_by_their_msoa() {
    use crate::analysis::rri::RriCounts;
    use crate::safeguards::disclosure::DisclosurePolicy;
    use crate::safeguards::equality::api::publish;
    use crate::safeguards::equality::baselines::parse;
    let residents = BaselineTotals::new(
        &parse(
            "authority,msoa,dimension,group,residents,decile\n\
             A,E02000001,sex,male,600,1\n\
             A,E02000002,sex,male,400,10\n",
            "b.csv",
        )
        .unwrap(),
    );
    let person = |msoa: &str, decile: Option<u8>| PersonEquality {
        person: "P00000001".parse().unwrap(),
        ethnicity: Ethnicity::White,
        sex: Sex::Male,
        deprivation_decile: decile,
        authority: Some("A".to_owned()),
        msoa: Some(msoa.to_owned()),
    };
    // Three people of the decile-1 MSOA, one of the decile-10 MSOA, and one of the decile-10
    // MSOA whose own recorded decile (1) wins over the MSOA's.
    let people = [
        person("E02000001", None),
        person("E02000001", None),
        person("E02000001", None),
        person("E02000002", None),
        person("E02000002", Some(1)),
    ];
    let members: Vec<Groups> = people
        .iter()
        .map(|p| Groups::of(Some(p), Some(14)).with_decile_from(&residents))
        .collect();
    let out = compare_to_residents(
        "q",
        &members,
        &residents,
        &[Dimension::DeprivationDecile, Dimension::Msoa],
    );
    let find = |d| out.iter().find(|c| c.dimension == d).unwrap();
    let decile = find(Dimension::DeprivationDecile);
    assert_eq!(
        (
            decile.group.as_str(),
            decile.reference.as_str(),
            decile.counts
        ),
        (
            "1",
            "10",
            RriCounts {
                a_g: 4,
                n_g: 600,
                a_r: 1,
                n_r: 400
            }
        )
    );
    // RRI = (4 / 600) / (1 / 400) = 8 / 3.
    let e = decile.outcome.estimate().unwrap();
    assert!((e.rri - 8.0 / 3.0).abs() < 1e-12, "{e:?}");
    // MSOA: the reference is the larger baseline (E02000001, 600).
    let msoa = find(Dimension::Msoa);
    assert_eq!(
        (msoa.group.as_str(), msoa.reference.as_str(), msoa.counts),
        (
            "E02000002",
            "E02000001",
            RriCounts {
                a_g: 2,
                n_g: 400,
                a_r: 3,
                n_r: 600
            }
        )
    );
    // Published, the tiny MSOA counts are suppressed with the RRI derived from them.
    let p = publish(msoa, &DisclosurePolicy::default());
    assert!(p.group_monitored.is_suppressed() && p.reference_monitored.is_suppressed());
    assert!(p.suppressed && p.rri.is_none() && p.ci.is_none() && p.flagged.is_none());
}
