//! The equality monitor's tables (migration 0008; safeguards.md S22): inherent methods of
//! [`SqliteStore`], kept out of the [`crate::store::Store`] trait so that nothing holding a
//! `dyn Store` (the API, the jobs) can read ethnicity. Only `safeguards::equality` calls them.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension as _, params};

use super::{SqliteStore, db, sql_id};
use crate::analysis::rri::{RriOutcome, rri};
use crate::domain::{PersonRef, StopSearch};
use crate::safeguards::equality::baselines::BaselineRow;
use crate::safeguards::equality::monitor::Comparison;
use crate::safeguards::equality::{
    AlertStatus, CloseOutcome, Dimension, EqualityAlert, Month, PersonEquality,
};
use crate::store::{StoreError, StoreResult};

fn corrupt(
    table: &'static str,
    row: &dyn std::fmt::Display,
    reason: &dyn std::fmt::Display,
) -> StoreError {
    StoreError::Corrupt {
        table,
        row: row.to_string(),
        reason: reason.to_string(),
    }
}

fn count(v: i64, table: &'static str, row: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| corrupt(table, &row, &format!("negative count {v}")))
}

impl SqliteStore {
    /// Stores (or replaces) the equality attributes of stored people. One transaction: when
    /// any person is not stored nothing is written.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] naming the first person who is not stored (`what`:
    /// `person`), [`StoreError::Database`] when the write fails.
    pub fn write_person_equality(&mut self, rows: &[PersonEquality]) -> StoreResult<u64> {
        self.writing("store equality attributes", |store| {
            let tx = store
                .conn
                .transaction()
                .map_err(db("starting an equality write"))?;
            {
                let mut exists = tx
                    .prepare("SELECT EXISTS (SELECT 1 FROM people WHERE id = ?1)")
                    .map_err(db("checking people for equality attributes"))?;
                let mut stmt = tx
                    .prepare(
                        "INSERT INTO person_equality \
                         (person_ref, ethnicity, sex, deprivation_decile, authority, msoa) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (person_ref) DO UPDATE SET \
                         ethnicity = ?2, sex = ?3, deprivation_decile = ?4, authority = ?5, msoa = ?6",
                    )
                    .map_err(db("writing equality attributes"))?;
                for r in rows {
                    let stored: bool = exists
                        .query_row([r.person.as_str()], |row| row.get(0))
                        .map_err(db("checking people for equality attributes"))?;
                    if !stored {
                        // Dropping the transaction rolls it back: nothing of the batch is kept.
                        return Err(StoreError::NotFound {
                            what: "person",
                            key: r.person.as_str().to_owned(),
                        });
                    }
                    stmt.execute(params![
                        r.person.as_str(),
                        r.ethnicity.code(),
                        r.sex.code(),
                        r.deprivation_decile,
                        r.authority,
                        r.msoa
                    ])
                    .map_err(db("writing equality attributes"))?;
                }
            }
            tx.commit().map_err(db("committing equality attributes"))?;
            Ok(rows.len() as u64)

        })
    }

    /// Every person's equality attributes (read only by the equality monitor).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the read fails or a row is not valid.
    pub fn person_equality(&self) -> StoreResult<BTreeMap<PersonRef, PersonEquality>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT person_ref, ethnicity, sex, deprivation_decile, authority, msoa \
                 FROM person_equality ORDER BY person_ref",
            )
            .map_err(db("reading equality attributes"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<u8>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(db("reading equality attributes"))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (id, ethnicity, sex, deprivation_decile, authority, msoa) =
                row.map_err(db("reading equality attributes"))?;
            let bad = |e: &dyn ToString| corrupt("person_equality", &id, &e.to_string());
            let person: PersonRef = id.parse().map_err(|e| bad(&e))?;
            let attrs = PersonEquality {
                person: person.clone(),
                ethnicity: ethnicity.parse().map_err(|e| bad(&e))?,
                sex: sex.parse().map_err(|e| bad(&e))?,
                deprivation_decile,
                authority,
                msoa,
            };
            out.insert(person, attrs);
        }
        Ok(out)
    }

    /// Replaces every resident baseline row with `rows`, recording where they came from.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the write fails.
    pub fn replace_equality_baselines(
        &mut self,
        rows: &[BaselineRow],
        source: &str,
    ) -> StoreResult<u64> {
        self.writing("store equality baselines", |store| {
            let tx = store
                .conn
                .transaction()
                .map_err(db("starting a baseline write"))?;
            tx.execute("DELETE FROM equality_baselines", [])
                .map_err(db("replacing baselines"))?;
            {
                let mut stmt = tx
                    .prepare(
                        "INSERT INTO equality_baselines \
                         (authority, msoa, dimension, grp, residents, source) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(db("writing baselines"))?;
                for r in rows {
                    stmt.execute(params![
                        r.authority,
                        r.msoa,
                        r.dimension.code(),
                        r.group,
                        sql_id(r.residents, "a baseline count")?,
                        source
                    ])
                    .map_err(db("writing baselines"))?;
                }
            }
            tx.commit().map_err(db("committing baselines"))?;
            Ok(rows.len() as u64)
        })
    }

    /// The resident baseline rows.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the read fails or a row is not valid.
    pub fn equality_baselines(&self) -> StoreResult<Vec<BaselineRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT authority, msoa, dimension, grp, residents FROM equality_baselines \
                 ORDER BY authority, msoa, dimension, grp",
            )
            .map_err(db("reading baselines"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(db("reading baselines"))?;
        let mut out = Vec::new();
        for row in rows {
            let (authority, msoa, dimension, group, residents) =
                row.map_err(db("reading baselines"))?;
            let key = format!("{authority}/{msoa}/{dimension}/{group}");
            out.push(BaselineRow {
                dimension: dimension.parse().map_err(
                    |e: crate::safeguards::equality::EqualityError| {
                        corrupt("equality_baselines", &key, &e)
                    },
                )?,
                residents: count(residents, "equality_baselines", &key)?,
                authority,
                msoa,
                group,
            });
        }
        Ok(out)
    }

    /// Every imported stop-and-search record.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the read fails or a record does not decode.
    pub fn stop_searches(&self) -> StoreResult<Vec<StopSearch>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, record FROM stop_searches ORDER BY id")
            .map_err(db("reading stop and search records"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(db("reading stop and search records"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, record) = row.map_err(db("reading stop and search records"))?;
            out.push(serde_json::from_str(&record).map_err(|e| corrupt("stop_searches", &id, &e))?);
        }
        Ok(out)
    }

    /// Replaces the stored results of `month` with `results`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the write fails.
    pub fn replace_equality_results(
        &mut self,
        month: Month,
        results: &[Comparison],
        computed_at: &str,
    ) -> StoreResult<()> {
        self.writing("store equality results", |store| {
            let month = month.to_string();
            let tx = store
                .conn
                .transaction()
                .map_err(db("starting an equality results write"))?;
            tx.execute("DELETE FROM equality_results WHERE month = ?1", [&month])
                .map_err(db("replacing equality results"))?;
            {
                let mut stmt = tx
                    .prepare(
                        "INSERT INTO equality_results (month, population, dimension, grp, reference, \
                         a_g, n_g, a_r, n_r, rri, ci_low, ci_high, no_estimate, flagged, computed_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                    )
                    .map_err(db("writing equality results"))?;
                for c in results {
                    let e = c.outcome.estimate();
                    let no_estimate = match c.outcome {
                        RriOutcome::Estimate(_) => None,
                        RriOutcome::NoEstimate { reason } => {
                            Some(serde_json::to_value(reason).map_or_else(
                                |_| String::new(),
                                |v| v.as_str().unwrap_or_default().to_owned(),
                            ))
                        }
                    };
                    stmt.execute(params![
                        month,
                        c.population,
                        c.dimension.code(),
                        c.group,
                        c.reference,
                        sql_id(c.counts.a_g, "a_g")?,
                        sql_id(c.counts.n_g, "n_g")?,
                        sql_id(c.counts.a_r, "a_r")?,
                        sql_id(c.counts.n_r, "n_r")?,
                        e.map(|e| e.rri),
                        e.map(|e| e.ci_low),
                        e.map(|e| e.ci_high),
                        no_estimate,
                        c.flagged(),
                        computed_at
                    ])
                    .map_err(db("writing equality results"))?;
                }
            }
            tx.commit().map_err(db("committing equality results"))?;
            Ok(())

        })
    }

    /// The stored results of `month`, or `None` when the month was never run. The outcome is
    /// recomputed from the stored counts (the same pure function that wrote it).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the read fails or a row is not valid.
    pub fn equality_results(&self, month: Month) -> StoreResult<Option<Vec<Comparison>>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT population, dimension, grp, reference, a_g, n_g, a_r, n_r \
                 FROM equality_results WHERE month = ?1 ORDER BY population, dimension, grp",
            )
            .map_err(db("reading equality results"))?;
        let rows = stmt
            .query_map([month.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    [
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                    ],
                ))
            })
            .map_err(db("reading equality results"))?;
        let mut out = Vec::new();
        for row in rows {
            let (population, dimension, group, reference, [a_g, n_g, a_r, n_r]) =
                row.map_err(db("reading equality results"))?;
            let key = format!("{month}/{population}/{dimension}/{group}");
            let t = "equality_results";
            let counts = crate::analysis::rri::RriCounts {
                a_g: count(a_g, t, &key)?,
                n_g: count(n_g, t, &key)?,
                a_r: count(a_r, t, &key)?,
                n_r: count(n_r, t, &key)?,
            };
            out.push(Comparison {
                dimension: dimension
                    .parse::<Dimension>()
                    .map_err(|e| corrupt(t, &key, &e))?,
                population,
                group,
                reference,
                counts,
                outcome: rri(counts),
            });
        }
        if out.is_empty() {
            let run: bool = self
                .conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM equality_runs WHERE month = ?1)",
                    [month.to_string()],
                    |r| r.get(0),
                )
                .map_err(db("reading equality runs"))?;
            if !run {
                return Ok(None);
            }
        }
        Ok(Some(out))
    }

    /// Records that `month` was run (a month may have no comparisons at all).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the write fails.
    pub fn record_equality_run(&mut self, month: Month, computed_at: &str) -> StoreResult<()> {
        self.writing("record an equality run", |store| {
            store
                .conn
                .execute(
                    "INSERT INTO equality_runs (month, computed_at) VALUES (?1, ?2) \
                     ON CONFLICT (month) DO UPDATE SET computed_at = ?2",
                    params![month.to_string(), computed_at],
                )
                .map_err(db("recording an equality run"))?;
            Ok(())
        })
    }

    /// The latest month that was run, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the read fails.
    pub fn latest_equality_month(&self) -> StoreResult<Option<String>> {
        self.conn
            .query_row("SELECT max(month) FROM equality_runs", [], |r| {
                r.get::<_, Option<String>>(0)
            })
            .map_err(db("reading equality runs"))
    }

    /// Opens an alert for comparison `c` in `month` unless one is already stored for it;
    /// returns the new alert's id, or `None` when it already existed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the write fails.
    pub fn open_equality_alert(
        &mut self,
        month: Month,
        c: &Comparison,
        opened_at: &str,
    ) -> StoreResult<Option<u64>> {
        self.writing("open an equality alert", |store| {
            let Some(e) = c.outcome.estimate() else {
                return Ok(None);
            };
            let id: Option<i64> = store
                .conn
                .query_row(
                    "INSERT INTO equality_alerts (month, population, dimension, grp, reference, rri, \
                     ci_low, ci_high, status, opened_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9) \
                     ON CONFLICT (month, population, dimension, grp) DO NOTHING RETURNING id",
                    params![
                        month.to_string(),
                        c.population,
                        c.dimension.code(),
                        c.group,
                        c.reference,
                        e.rri,
                        e.ci_low,
                        e.ci_high,
                        opened_at
                    ],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db("opening an equality alert"))?;
            Ok(id.map(|i| u64::try_from(i).unwrap_or_default()))

        })
    }

    /// Every alert, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the read fails or a row is not valid.
    pub fn equality_alerts(&self) -> StoreResult<Vec<EqualityAlert>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, month, population, dimension, grp, reference, rri, ci_low, ci_high, \
                 status, opened_at, outcome, record, closed_by, closed_at \
                 FROM equality_alerts ORDER BY id",
            )
            .map_err(db("reading equality alerts"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    EqualityAlert {
                        id: 0,
                        month: r.get(1)?,
                        population: r.get(2)?,
                        dimension: r.get(3)?,
                        group: r.get(4)?,
                        reference: r.get(5)?,
                        rri: r.get(6)?,
                        ci: [r.get(7)?, r.get(8)?],
                        status: AlertStatus::Open,
                        opened_at: r.get(10)?,
                        outcome: r.get(11)?,
                        record: r.get(12)?,
                        closed_by: r.get(13)?,
                        closed_at: r.get(14)?,
                    },
                    r.get::<_, String>(9)?,
                ))
            })
            .map_err(db("reading equality alerts"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, mut alert, status) = row.map_err(db("reading equality alerts"))?;
            alert.id = count(id, "equality_alerts", &id.to_string())?;
            alert.status = match status.as_str() {
                "open" => AlertStatus::Open,
                "closed" => AlertStatus::Closed,
                other => {
                    return Err(corrupt(
                        "equality_alerts",
                        &id,
                        &format!("status {other:?}"),
                    ));
                }
            };
            out.push(alert);
        }
        Ok(out)
    }

    /// Closes open alert `id` with an explain-or-reform record. Returns false when no open
    /// alert has this id (the caller checks the record first; the table refuses a record
    /// shorter than 30 characters too).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the write fails.
    pub fn close_equality_alert(
        &mut self,
        id: u64,
        outcome: CloseOutcome,
        record: &str,
        closed_by: &str,
        closed_at: &str,
    ) -> StoreResult<bool> {
        self.writing("close an equality alert", |store| {
            let n = store
                .conn
                .execute(
                    "UPDATE equality_alerts SET status = 'closed', outcome = ?2, record = ?3, \
                     closed_by = ?4, closed_at = ?5 WHERE id = ?1 AND status = 'open'",
                    params![
                        sql_id(id, "an alert id")?,
                        outcome.code(),
                        record,
                        closed_by,
                        closed_at
                    ],
                )
                .map_err(db("closing an equality alert"))?;
            Ok(n == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Agency, Dataset, Day, Person, SubjectCategory};
    use crate::safeguards::equality::{Ethnicity, Sex};
    use crate::store::Store as _;

    fn person(id: &str) -> Person {
        Person::new(
            id.parse().unwrap(),
            2010,
            vec![SubjectCategory::Victim],
            "synthetic-police".parse::<Agency>().unwrap(),
            Day::from_ymd(2027, 1, 1).unwrap(),
        )
        .unwrap()
    }

    fn attrs(id: &str) -> PersonEquality {
        PersonEquality {
            person: id.parse().unwrap(),
            ethnicity: Ethnicity::Black,
            sex: Sex::Female,
            deprivation_decile: Some(2),
            authority: Some("E06000023".to_owned()),
            msoa: Some("E02003012".to_owned()),
        }
    }

    #[test]
    fn equality_attributes_go_with_their_person_on_erasure() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let data = Dataset {
            people: vec![person("P00000001"), person("P00000002")],
            ..Dataset::default()
        };
        store.write_unchecked(&data).unwrap();
        store
            .write_person_equality(&[attrs("P00000001"), attrs("P00000002")])
            .unwrap();
        assert_eq!(store.person_equality().unwrap().len(), 2);
        // A batch with a person who is not stored is refused whole, naming that person.
        let mut changed = attrs("P00000002");
        changed.sex = Sex::Male;
        let err = store
            .write_person_equality(&[changed, attrs("P00000009")])
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound { what: "person", key } if key == "P00000009"),
            "{err:?}"
        );
        assert_eq!(
            store.person_equality().unwrap()[&"P00000002".parse::<PersonRef>().unwrap()],
            attrs("P00000002")
        );
        let gone: PersonRef = "P00000001".parse().unwrap();
        store.erase(std::slice::from_ref(&gone), &[]).unwrap();
        let left = store.person_equality().unwrap();
        assert_eq!(
            left.keys().map(PersonRef::as_str).collect::<Vec<_>>(),
            ["P00000002"]
        );
        assert_eq!(left.values().next().unwrap(), &attrs("P00000002"));
    }

    #[test]
    fn an_alert_closes_once_and_only_with_a_record_the_table_accepts() {
        use crate::analysis::rri::{RriCounts, rri};
        let mut store = SqliteStore::open_in_memory().unwrap();
        let counts = RriCounts {
            a_g: 40,
            n_g: 1000,
            a_r: 100,
            n_r: 5000,
        };
        let c = Comparison {
            population: "child_suspect_vs_victim".to_owned(),
            dimension: Dimension::Ethnicity,
            group: "black".to_owned(),
            reference: "white".to_owned(),
            counts,
            outcome: rri(counts),
        };
        let month: Month = "2026-10".parse().unwrap();
        assert_eq!(store.equality_results(month).unwrap(), None);
        store
            .replace_equality_results(month, std::slice::from_ref(&c), "t")
            .unwrap();
        store.record_equality_run(month, "t").unwrap();
        assert_eq!(
            store.equality_results(month).unwrap(),
            Some(vec![c.clone()])
        );
        assert_eq!(
            store.latest_equality_month().unwrap().as_deref(),
            Some("2026-10")
        );
        let id = store.open_equality_alert(month, &c, "t").unwrap().unwrap();
        assert_eq!(store.open_equality_alert(month, &c, "t").unwrap(), None);
        // The table itself refuses a short record, whoever writes it.
        assert!(
            store
                .close_equality_alert(id, CloseOutcome::Explain, "too short", "me", "t")
                .is_err()
        );
        let record = "a record of at least thirty characters, with evidence";
        assert!(
            store
                .close_equality_alert(id, CloseOutcome::Explain, record, "me", "t")
                .unwrap()
        );
        assert!(
            !store
                .close_equality_alert(id, CloseOutcome::Reform, record, "me", "t")
                .unwrap()
        );
        let a = &store.equality_alerts().unwrap()[0];
        assert_eq!(a.status, AlertStatus::Closed);
        assert_eq!(a.outcome.as_deref(), Some("explain"));
    }
}
