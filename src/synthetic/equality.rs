//! Synthetic equality attributes and resident baselines for the S22 monitor demo.
//!
//! Drawn from their own random stream ([`EQUALITY_STREAM`]) after the rest of the dataset is
//! generated, so adding them changes no earlier draw and no demo value other tests pin. The
//! shares are rough, made-up figures in the shape of the West of England's 10–24 population
//! (Bristol more diverse than its neighbours); they are **not** Census figures. Real baselines
//! come from a Census 2021 table in the format of docs/formats.md "Resident baselines".

use crate::domain::{Boundary, Person};
use crate::safeguards::equality::baselines::BaselineRow;
use crate::safeguards::equality::{AGE_BANDS, Dimension, Ethnicity, PersonEquality, Sex};

use super::rng::{Rng, WeightedIndex};

/// The stream number of the equality draws (the other parts use 1 to 8).
pub const EQUALITY_STREAM: u64 = 22;

/// Bristol's ONS code.
const BRISTOL: &str = "E06000023";

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

/// Synthetic resident baselines: one whole-authority row (empty MSOA) per authority,
/// dimension and group, the authority's 10–24 residents split by the shares above.
pub fn resident_baselines(authorities: &[(String, u32)]) -> Vec<BaselineRow> {
    let mut rows = Vec::new();
    for (code, youth) in authorities {
        let total = f64::from(*youth);
        let mut push = |dimension, group: String, share: f64| {
            rows.push(BaselineRow {
                authority: code.clone(),
                msoa: String::new(),
                dimension,
                group,
                residents: (total * share).round() as u64,
            });
        };
        for (e, share) in ethnicity_shares(code) {
            push(Dimension::Ethnicity, e.code().to_owned(), share);
        }
        for (s, share) in SEX_SHARES {
            push(Dimension::Sex, s.code().to_owned(), share);
        }
        for (band, share) in AGE_BANDS.iter().zip(AGE_BAND_SHARES) {
            push(Dimension::AgeBand, (*band).to_owned(), share);
        }
        for (d, share) in (1u8..=10).zip(DECILE_SHARES) {
            push(Dimension::DeprivationDecile, d.to_string(), share);
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
        let rows = resident_baselines(&auths);
        let t = crate::safeguards::equality::baselines::BaselineTotals::new(&rows);
        assert_eq!(t.residents(Dimension::Authority, "E06000023"), 90_000);
        let parsed = crate::safeguards::equality::baselines::parse(
            &crate::safeguards::equality::baselines::to_csv(&rows),
            "synthetic",
        )
        .unwrap();
        assert_eq!(parsed, rows);
    }
}
