//! Synthetic equality attributes and resident baselines for the S22 monitor demo.
//!
//! Drawn from their own random stream ([`EQUALITY_STREAM`]) after the rest of the dataset is
//! generated, so adding them changes no earlier draw and no demo value other tests pin. The
//! shares are rough, made-up figures in the shape of the West of England's 10–24 population
//! (Bristol more diverse than its neighbours); they are **not** Census figures. Real baselines
//! come from a Census 2021 table in the format of docs/formats.md "Resident baselines".
//!
//! The MSOAs of residence and the baselines' MSOA rows come from [`super::msoa`] (real MSOA
//! codes, synthetic residents and deciles, streams 23 and 24).

use crate::domain::{Boundary, Person};
use crate::safeguards::equality::baselines::BaselineRow;
use crate::safeguards::equality::{AGE_BANDS, Dimension, Ethnicity, PersonEquality, Sex};

use super::msoa::SyntheticMsoa;
use super::rng::{Rng, WeightedIndex};

/// The stream number of the equality draws (the other parts use 1 to 8).
pub const EQUALITY_STREAM: u64 = 22;

/// Bristol's ONS code.
const BRISTOL: &str = crate::domain::Authority::Bristol.code();

/// Ethnic group shares (asian, black, mixed, white, other) of an authority's 10–24 residents.
fn ethnicity_shares(authority: &str) -> [(Ethnicity, f64); 5] {
    let (asian, black, mixed, white, other) = if authority == BRISTOL {
        (0.07, 0.08, 0.07, 0.75, 0.03)
    } else {
        (0.03, 0.015, 0.035, 0.91, 0.01)
    };
    [
        (Ethnicity::Asian, asian),
        (Ethnicity::Black, black),
        (Ethnicity::Mixed, mixed),
        (Ethnicity::White, white),
        (Ethnicity::Other, other),
    ]
}

/// Sex shares of 10–24 residents.
const SEX_SHARES: [(Sex, f64); 2] = [(Sex::Female, 0.49), (Sex::Male, 0.51)];

/// Age band shares (8 of the 15 years are 10–17).
const AGE_BAND_SHARES: [f64; 2] = [8.0 / 15.0, 7.0 / 15.0];

/// Deprivation decile shares of residents (1 most deprived): more in the most deprived deciles.
const DECILE_SHARES: [f64; 10] = [0.14, 0.12, 0.11, 0.10, 0.10, 0.09, 0.09, 0.09, 0.08, 0.08];

/// The authorities (`lad` boundaries) with a youth population, as (code, residents 10–24).
pub fn authorities(boundaries: &[Boundary]) -> Vec<(String, u32)> {
    boundaries
        .iter()
        .filter(|b| b.scheme.as_str() == "lad")
        .filter_map(|b| b.youth_population.map(|y| (b.code.as_str().to_owned(), y)))
        .filter(|(_, y)| *y > 0)
        .collect()
}

/// Synthetic resident baselines: per authority, dimension and group, the authority's 10–24
/// residents split by the shares above. Ethnicity and age band are whole-authority rows (empty
/// MSOA). An authority with MSOAs in `msoas` ([`super::msoa::synthetic_msoas`]) gives its
/// `sex` rows by MSOA (so its total, and each MSOA's, is the sum of its MSOAs' residents) and
/// one `deprivation_decile` row per MSOA holding the MSOA's residents in its decile: the rows
/// a baseline file with a `decile` column yields (docs/formats.md "Resident baselines"). An
/// authority without MSOAs gives whole-authority `sex` and decile rows.
pub fn resident_baselines(
    authorities: &[(String, u32)],
    msoas: &[SyntheticMsoa],
) -> Vec<BaselineRow> {
    let mut rows = Vec::new();
    for (code, youth) in authorities {
        let total = f64::from(*youth);
        let mut push = |msoa: &str, dimension, group: String, residents: u64| {
            rows.push(BaselineRow {
                authority: code.clone(),
                msoa: msoa.to_owned(),
                dimension,
                group,
                residents,
            });
        };
        let share = |share: f64| (total * share).round() as u64;
        for (e, s) in ethnicity_shares(code) {
            push("", Dimension::Ethnicity, e.code().to_owned(), share(s));
        }
        for (band, s) in AGE_BANDS.iter().zip(AGE_BAND_SHARES) {
            push("", Dimension::AgeBand, (*band).to_owned(), share(s));
        }
        let mine: Vec<&SyntheticMsoa> = msoas.iter().filter(|m| &m.authority == code).collect();
        if mine.is_empty() {
            for (s, sh) in SEX_SHARES {
                push("", Dimension::Sex, s.code().to_owned(), share(sh));
            }
            for (d, sh) in (1u8..=10).zip(DECILE_SHARES) {
                push("", Dimension::DeprivationDecile, d.to_string(), share(sh));
            }
            continue;
        }
        for m in mine {
            let female = ((m.residents as f64) * SEX_SHARES[0].1).round() as u64;
            let female = female.min(m.residents);
            push(
                &m.code,
                Dimension::Sex,
                Sex::Female.code().to_owned(),
                female,
            );
            push(
                &m.code,
                Dimension::Sex,
                Sex::Male.code().to_owned(),
                m.residents - female,
            );
            push(
                &m.code,
                Dimension::DeprivationDecile,
                m.decile.to_string(),
                m.residents,
            );
        }
    }
    rows
}

/// Synthetic equality attributes for `people`, drawn from stream [`EQUALITY_STREAM`] of
/// `seed`: an authority weighted by youth population, then ethnicity by that authority's
/// shares (3 % not stated), sex, and a deprivation decile skewed further towards the most
/// deprived than residents are (people known to services are).
pub fn people_equality(
    seed: u64,
    people: &[Person],
    authorities: &[(String, u32)],
) -> Vec<PersonEquality> {
    let mut rng = Rng::stream(seed, EQUALITY_STREAM);
    let Some(pick_authority) = WeightedIndex::new(authorities.iter().map(|(_, y)| f64::from(*y)))
    else {
        return Vec::new();
    };
    let deciles = WeightedIndex::new((1..=10).map(|d| 1.0 / f64::from(d)));
    people
        .iter()
        .map(|p| {
            let authority = &authorities[pick_authority.sample(&mut rng)].0;
            let shares = ethnicity_shares(authority);
            let ethnicity = if rng.chance(0.03) {
                Ethnicity::NotStated
            } else {
                rng.weighted(&shares.map(|(_, s)| s))
                    .map_or(Ethnicity::NotStated, |i| shares[i].0)
            };
            let sex = if rng.chance(SEX_SHARES[0].1) {
                Sex::Female
            } else {
                Sex::Male
            };
            let decile = deciles
                .as_ref()
                .map(|w| u8::try_from(w.sample(&mut rng) + 1).unwrap_or(10));
            PersonEquality {
                person: p.id.clone(),
                ethnicity,
                sex,
                deprivation_decile: decile,
                authority: Some(authority.clone()),
                msoa: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Agency, Day, PersonRef, SubjectCategory};

    fn person(i: u32) -> Person {
        Person::new(
            format!("P{i:08}").parse::<PersonRef>().unwrap(),
            2010,
            vec![SubjectCategory::Victim],
            "synthetic-police".parse::<Agency>().unwrap(),
            Day::from_ymd(2027, 1, 1).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn attributes_are_seeded_and_cover_every_person() {
        let people: Vec<Person> = (1..=500).map(person).collect();
        let auths = vec![
            ("E06000023".to_owned(), 90_000),
            ("E06000024".to_owned(), 30_000),
        ];
        let a = people_equality(7, &people, &auths);
        assert_eq!(a, people_equality(7, &people, &auths));
        assert_ne!(a, people_equality(8, &people, &auths));
        assert_eq!(a.len(), 500);
        assert!(a.iter().all(|x| x.authority.is_some()
            && x.deprivation_decile.is_some_and(|d| (1..=10).contains(&d))));
        let bristol = a
            .iter()
            .filter(|x| x.authority.as_deref() == Some("E06000023"))
            .count();
        assert!((300..450).contains(&bristol), "{bristol}");
        let rows = resident_baselines(&auths, &[]);
        let t = crate::safeguards::equality::baselines::BaselineTotals::new(&rows);
        assert_eq!(t.residents(Dimension::Authority, "E06000023"), 90_000);
        let parsed = crate::safeguards::equality::baselines::parse(
            &crate::safeguards::equality::baselines::to_csv(&rows),
            "synthetic",
        )
        .unwrap();
        assert_eq!(parsed, rows);
    }

    /// With the demo's MSOAs, every authority's residents are the sum of its MSOAs', each MSOA
    /// has its decile, and the decile baselines are the MSOAs' residents: the same rows a
    /// baseline file with a `decile` column gives (docs/formats.md "Resident baselines").
    #[test]
    fn baselines_by_msoa_sum_to_the_authority_and_carry_each_msoas_decile() {
        use crate::safeguards::equality::baselines::{BaselineTotals, parse, to_csv};
        use std::fmt::Write as _;
        let codes = super::super::msoa::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
        )
        .unwrap();
        let auths = vec![
            ("E06000023".to_owned(), 90_001),
            ("E06000024".to_owned(), 30_000),
            ("E09000001".to_owned(), 700),
        ];
        let msoas = super::super::msoa::synthetic_msoas(7, &auths, &codes);
        let rows = resident_baselines(&auths, &msoas);
        let t = BaselineTotals::new(&rows);
        for (a, youth) in &auths {
            assert_eq!(
                t.residents(Dimension::Authority, a),
                u64::from(*youth),
                "{a}"
            );
        }
        assert_eq!(t.groups(Dimension::Msoa).len(), 55 + 26);
        for m in &msoas {
            assert_eq!(t.residents(Dimension::Msoa, &m.code), m.residents);
            assert_eq!(t.decile_of(&m.code), Some(m.decile));
        }
        // Decile baselines: the authority without MSOAs by its shares, the others by MSOA.
        let decile_total: u64 = (1..=10)
            .map(|d| t.residents(Dimension::DeprivationDecile, &d.to_string()))
            .sum();
        let whole: u64 = rows
            .iter()
            .filter(|r| r.authority == "E09000001" && r.dimension == Dimension::DeprivationDecile)
            .map(|r| r.residents)
            .sum();
        assert_eq!(decile_total, 90_001 + 30_000 + whole);
        assert_eq!(parse(&to_csv(&rows), "synthetic").unwrap(), rows);
        // Written as a file with the decile column, the MSOA rows load to the same totals.
        let mut csv = String::from("authority,msoa,dimension,group,residents,decile\n");
        for r in rows.iter().filter(|r| !r.msoa.is_empty()) {
            if r.dimension == Dimension::Sex {
                let m = msoas.iter().find(|m| m.code == r.msoa).unwrap();
                writeln!(
                    csv,
                    "{},{},sex,{},{},{}",
                    r.authority, r.msoa, r.group, r.residents, m.decile
                )
                .unwrap();
            }
        }
        let from_file = BaselineTotals::new(&parse(&csv, "with-deciles.csv").unwrap());
        for m in &msoas {
            assert_eq!(from_file.residents(Dimension::Msoa, &m.code), m.residents);
            assert_eq!(from_file.decile_of(&m.code), Some(m.decile));
        }
        for d in 1..=10 {
            let d = d.to_string();
            let by_msoa: u64 = msoas
                .iter()
                .filter(|m| m.decile.to_string() == d)
                .map(|m| m.residents)
                .sum();
            assert_eq!(
                from_file.residents(Dimension::DeprivationDecile, &d),
                by_msoa
            );
        }
    }
}
