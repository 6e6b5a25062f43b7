//! Subject access (safeguards.md S26): what this deployment holds about one person, who
//! accessed it and who received it, as one [`SubjectAccessReport`] rendered to JSON or to a
//! standalone HTML page (`saferplaces sar --person P`).
//!
//! [`build`] reads the store (the person, their earlier versions, links, reviews, cases and
//! MACE meetings, each with one small query) and the audit log (every event naming the person
//! in `subject_ids`, and the erasure records of the person and of the links erased with them),
//! and [`summarise_access`] turns the audit events into counts. Rendering ([`render_json`],
//! [`render_html`]) is pure. The caller appends [`sar_audit_event`] before releasing the
//! document: answering the request is itself a disclosure (S16).
//!
//! # What is withheld, and why
//!
//! A subject access request gives the person their own data, not other people's:
//!
//! - the reference of any other person linked to them is shown as "another person", and on a
//!   link recorded *from* another person the subject categories (which describe that person)
//!   are withheld;
//! - staff are named by organisation and role, never by user name (the free-text
//!   justifications staff typed, which may name others, are left out too); decision-makers of
//!   reviews are given as stored, because the review is a decision about the person;
//! - cases and meetings are listed by reference, kind and dates, without their other subjects
//!   or assigned staff.
//!
//! # "Was I on it?"
//!
//! An erased person is no longer in the store, but the audit log still names them in access
//! events and erasure records (by id only, S16). For a reference the store does not hold,
//! the report says `held: false` and still summarises the log; when neither the store nor the
//! log (earlier subject access requests aside) mentions the reference, [`build`] returns
//! [`SarError::NoRecord`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::domain::{Day, LinkTarget, PersonRef, PurposeCode};
use crate::store::{Store, StoreError};

use super::audit::{
    AuditEntry, AuditError, AuditEvent, AuditEventType, AuditFilter, AuditLog, Decision,
};
use super::policy::POLICY_VERSION;
use super::sharing::{Agreements, Permit};

/// The `channel` of the audit record a subject access request writes.
pub const SAR_CHANNEL: &str = "subject_access_request";
/// The `recipient_person` of that record.
pub const SAR_RECIPIENT: &str = "data subject";
/// The `actor_role` of that record: whoever operates the CLI after checking the requester's
/// identity outside the system.
pub const SAR_ACTOR_ROLE: &str = "operator";
/// What is said of a fact this deployment does not record.
pub const NOT_RECORDED: &str = "not recorded";
/// How another person is named in a subject's report.
pub const ANOTHER_PERSON: &str = "another person";

/// The most audit entries one report reads per query (far above any one person's history; a
/// log holding more names the person in a note rather than failing).
const AUDIT_READ_LIMIT: usize = 10_000_000;

/// What is withheld from every report (module docs).
pub const WITHHELD: &[&str] = &[
    "The references of other people linked to you: they are shown as \"another person\" (third-party data is withheld).",
    "On a link recorded from another person to you, that person's subject categories.",
    "The names of staff who accessed your data: their organisation and role are given instead, and the free-text justifications they typed are not included.",
    "The other subjects and the assigned staff of the cases and MACE meetings you are a subject of.",
];

/// Errors of a subject access request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SarError {
    /// Neither the store nor the audit log mentions the person.
    #[error(
        "no record of {0}: the store holds no such person and the audit log does not name them"
    )]
    NoRecord(PersonRef),
    /// The store failed.
    #[error("reading the store for the subject access request")]
    Store(#[source] StoreError),
    /// The audit log failed.
    #[error("reading the audit log for the subject access request")]
    Audit(#[source] AuditError),
}

/// Everything this deployment holds about one person (S26).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectAccessReport {
    /// The person's pseudonymous reference.
    pub person: String,
    /// Whether the store holds a record of them now.
    pub held: bool,
    /// When the report was produced, RFC 3339 UTC.
    pub produced_at: String,
    /// What the report covers.
    pub scope: String,
    /// The person's record, when held.
    pub record: Option<PersonRecord>,
    /// Earlier versions of the record, replaced by amendments.
    pub earlier_versions: Vec<PersonVersionRecord>,
    /// Every link from or to the person.
    pub links: Vec<LinkRecord>,
    /// Reviews recorded about the person.
    pub reviews: Vec<ReviewRecord>,
    /// Cases the person is a subject of.
    pub cases: Vec<CaseRecord>,
    /// MACE meetings with the person on the agenda.
    pub meetings: Vec<MeetingRecord>,
    /// When the record and its links are next reviewed, and when it is erased without one.
    pub review_dates: Option<ReviewDates>,
    /// Who accessed the person's data, from the audit log.
    pub access: AccessSummary,
    /// Recorded disclosures of the person's data (audit events of type `disclosure`).
    pub disclosures: Vec<DisclosureRecord>,
    /// Reads by organisations other than the controller of the record: disclosures under a
    /// sharing agreement.
    pub shared_with_other_organisations: Vec<AgreementRead>,
    /// Erasure records of the person and of links erased with them (ids only).
    pub erasures: Vec<ErasureRecord>,
    /// What the report leaves out, and why.
    pub withheld: Vec<String>,
    /// Anything else the reader needs to know about this report.
    pub notes: Vec<String>,
}

/// The person's record as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonRecord {
    /// Pseudonymous reference.
    pub reference: String,
    /// Year of birth, as stored.
    pub birth_year: u16,
    /// Subject categories.
    pub categories: Vec<String>,
    /// The organisation that controls the record (its `source` agency).
    pub controller: String,
    /// The sharing agreement the record arrived under, or [`NOT_RECORDED`] (the controller's
    /// own data, or data stored before agreements were recorded).
    pub isa_ref: String,
    /// Sharing agreements cited by the audited imports that collected the person.
    pub collected_under: Vec<String>,
    /// Next review date.
    pub review_due: String,
}

/// An earlier version of the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonVersionRecord {
    /// Year of birth.
    pub birth_year: u16,
    /// Subject categories.
    pub categories: Vec<String>,
    /// Controlling organisation.
    pub controller: String,
    /// The sharing agreement it arrived under, or [`NOT_RECORDED`].
    pub isa_ref: String,
    /// Review date.
    pub review_due: String,
    /// When it was replaced.
    pub superseded_at: String,
}

/// A link from or to the person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkRecord {
    /// The link's id.
    pub id: u64,
    /// `from_you` (recorded about you) or `to_you` (recorded about another person, naming you).
    pub direction: &'static str,
    /// The kind of link.
    pub kind: String,
    /// What the other end is: `person`, `place` or `incident`.
    pub linked_to_type: &'static str,
    /// The other end: a place or incident id, or [`ANOTHER_PERSON`].
    pub linked_to: String,
    /// Your subject categories in the link; empty when withheld (see `note`).
    pub categories: Vec<String>,
    /// Intelligence grade (3x5x2).
    pub grade: String,
    /// The organisation that controls the link.
    pub controller: String,
    /// The sharing agreement the link arrived under, or [`NOT_RECORDED`].
    pub isa_ref: String,
    /// Next review date.
    pub review_due: String,
    /// Why something is withheld, if it is.
    pub note: Option<String>,
}

/// A review recorded about the person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewRecord {
    /// `review:<id>`, as erasure records cite it.
    pub review: String,
    /// When it was decided.
    pub decided_at: String,
    /// `retain`, `amend` or `remove`.
    pub outcome: String,
    /// The decision-maker as stored.
    pub decided_by: String,
    /// Why.
    pub rationale: String,
    /// The next review date it set, if any.
    pub next_review_due: Option<String>,
}

/// A case the person is a subject of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRecord {
    /// Case reference.
    pub reference: String,
    /// `investigation` or `safeguarding`.
    pub kind: String,
    /// The organisation owning the case.
    pub organisation: String,
    /// When it was opened.
    pub opened: String,
    /// Its review date.
    pub review_due: String,
}

/// A MACE meeting with the person on the agenda.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeetingRecord {
    /// Meeting reference.
    pub reference: String,
    /// The panel.
    pub panel_id: u32,
    /// Meeting day.
    pub day: String,
}

/// Review dates (S18).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewDates {
    /// The record's next review.
    pub record_review_due: String,
    /// The day after which the record is erased if no review is recorded (review date plus
    /// the retention grace period).
    pub erased_if_not_reviewed_after: String,
    /// The earliest review date among the links.
    pub earliest_link_review_due: Option<String>,
    /// The latest review date among the links.
    pub latest_link_review_due: Option<String>,
}

/// Who accessed the person's data, from the audit log.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccessSummary {
    /// Audit events naming the person (repeated refusals counted as often as they happened).
    pub events: u64,
    /// Counts per event type and decision.
    pub by_event: Vec<EventCount>,
    /// Counts per organisation and role, with the first and last time.
    pub by_organisation: Vec<OrganisationCount>,
    /// Purposes and legal bases relied on, with counts.
    pub purposes: Vec<PurposeCount>,
    /// Reads made by break-glass declaration.
    pub break_glass_reads: u64,
}

/// Events of one type and decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventCount {
    /// Event type.
    pub event_type: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// How many.
    pub count: u64,
}

/// Events by one organisation in one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganisationCount {
    /// The organisation, or [`NOT_RECORDED`].
    pub organisation: String,
    /// The role.
    pub role: String,
    /// How many events.
    pub count: u64,
    /// The first, RFC 3339 UTC.
    pub first: String,
    /// The last.
    pub last: String,
}

/// A purpose and legal basis relied on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurposeCount {
    /// Purpose code, or [`NOT_RECORDED`].
    pub purpose: String,
    /// Legal basis, or [`NOT_RECORDED`].
    pub legal_basis: String,
    /// How many events.
    pub count: u64,
}

/// A recorded disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisclosureRecord {
    /// When.
    pub ts_utc: String,
    /// The named recipient.
    pub recipient_person: Option<String>,
    /// The recipient organisation.
    pub recipient_org: Option<String>,
    /// How it was sent.
    pub channel: Option<String>,
    /// The sharing agreement cited.
    pub isa_ref: Option<String>,
    /// `allow` or `deny`.
    pub decision: String,
}

/// Reads by one organisation other than the controller, for one purpose and legal basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgreementRead {
    /// The reading organisation.
    pub organisation: String,
    /// Purpose code.
    pub purpose: String,
    /// Legal basis, or [`NOT_RECORDED`].
    pub legal_basis: String,
    /// The sharing agreement recorded in the audit record, if any.
    pub isa_ref_recorded: Option<String>,
    /// The configured agreement whose flow covered the read on its day, if any.
    pub agreement: Option<String>,
    /// That flow's lawful gateway.
    pub gateway: Option<String>,
    /// How many reads.
    pub count: u64,
    /// The first, RFC 3339 UTC.
    pub first: String,
    /// The last.
    pub last: String,
}

/// An erasure record (ids only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureRecord {
    /// When.
    pub ts_utc: String,
    /// `person:P…` or `link:N`.
    pub record_id: String,
    /// The decision it cites (`review:<id>` or the retention sweep).
    pub review_decision_ref: Option<String>,
}

/// What [`build`] needs besides the store and the log.
#[derive(Debug, Clone, Copy)]
pub struct SarContext<'a> {
    /// The configured sharing agreements, to name the agreement behind a read by another
    /// organisation.
    pub agreements: &'a Agreements,
    /// Retention grace period after a missed review, days.
    pub grace_days: u16,
    /// When the report is produced, RFC 3339 UTC.
    pub produced_at: &'a str,
}

/// True for the audit record of a subject access request (which is not evidence that the
/// person is held: anyone can ask).
fn is_sar(event: &AuditEvent) -> bool {
    event.event_type == AuditEventType::Disclosure && event.channel.as_deref() == Some(SAR_CHANNEL)
}

/// A sharing agreement reference, or [`NOT_RECORDED`].
fn isa_or_not(isa_ref: Option<&crate::domain::IsaRef>) -> String {
    isa_ref.map_or_else(|| NOT_RECORDED.to_owned(), |i| i.as_str().to_owned())
}

/// The snake-case code serde gives a unit enum variant.
fn code_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Builds the report on `person` from `store` and `audit` (S26).
///
/// # Errors
///
/// [`SarError::NoRecord`] when neither the store nor the log (earlier subject access requests
/// aside) names the person; [`SarError::Store`] or [`SarError::Audit`] when either fails.
#[expect(
    clippy::too_many_lines,
    reason = "assembles the report from the store and the log section by section, in the order the report presents them"
)]
pub fn build(
    store: &dyn Store,
    audit: &AuditLog,
    person: &PersonRef,
    ctx: &SarContext<'_>,
) -> Result<SubjectAccessReport, SarError> {
    let held = store.person(person).map_err(SarError::Store)?;
    let filter = AuditFilter {
        subject_id: Some(person.as_str().to_owned()),
        ..AuditFilter::default()
    };
    let named = audit
        .read(&filter, AUDIT_READ_LIMIT)
        .map_err(SarError::Audit)?;
    let erasure_filter = AuditFilter {
        event_type: Some(AuditEventType::Erasure),
        ..AuditFilter::default()
    };
    let erasures = erasures_of(
        person,
        &audit
            .read(&erasure_filter, AUDIT_READ_LIMIT)
            .map_err(SarError::Audit)?,
    );
    let mentioned = named.iter().any(|e| !is_sar(&e.event)) || !erasures.is_empty();
    if held.is_none() && !mentioned {
        return Err(SarError::NoRecord(person.clone()));
    }
    let mut notes = Vec::new();
    if named.len() >= AUDIT_READ_LIMIT {
        notes.push(format!(
            "The audit log names you in more than {AUDIT_READ_LIMIT} records; the summary covers the first {AUDIT_READ_LIMIT}."
        ));
    }
    let controller = held.as_ref().map(|p| p.source.as_str().to_owned());
    let summary = summarise_access(&named, controller.as_deref(), ctx.agreements);
    let mut report = SubjectAccessReport {
        person: person.as_str().to_owned(),
        held: held.is_some(),
        produced_at: ctx.produced_at.to_owned(),
        scope: format!(
            "Produced {}. This report covers the data held by this saferplaces deployment (its store and its audit log) about {}; other systems of the same organisations are not covered.",
            ctx.produced_at,
            person.as_str()
        ),
        record: None,
        earlier_versions: Vec::new(),
        links: Vec::new(),
        reviews: Vec::new(),
        cases: Vec::new(),
        meetings: Vec::new(),
        review_dates: None,
        access: summary.access,
        disclosures: summary.disclosures,
        shared_with_other_organisations: summary.shared,
        erasures,
        withheld: WITHHELD.iter().map(|s| (*s).to_owned()).collect(),
        notes,
    };
    let Some(p) = held else {
        report.notes.push(
            "No record of you is currently held: the store has no record with this reference (it may have been erased). The audit log still names it, as summarised below.".to_owned(),
        );
        report.notes.push(
            "The organisation that controlled an erased record is not kept, so reads by other organisations cannot be told apart from the controller's own; every organisation that read it is listed under who accessed your data.".to_owned(),
        );
        return Ok(report);
    };
    let categories = |c: &[crate::domain::SubjectCategory]| -> Vec<String> {
        c.iter().map(|c| c.code().to_owned()).collect()
    };
    report.record = Some(PersonRecord {
        reference: p.id.as_str().to_owned(),
        birth_year: p.birth_year,
        categories: categories(&p.categories),
        controller: p.source.as_str().to_owned(),
        isa_ref: isa_or_not(p.isa_ref.as_ref()),
        collected_under: summary.collected_under,
        review_due: p.review_due.to_string(),
    });
    report.earlier_versions = store
        .person_versions(person)
        .map_err(SarError::Store)?
        .into_iter()
        .map(|v| PersonVersionRecord {
            birth_year: v.person.birth_year,
            categories: categories(&v.person.categories),
            controller: v.person.source.as_str().to_owned(),
            isa_ref: isa_or_not(v.person.isa_ref.as_ref()),
            review_due: v.person.review_due.to_string(),
            superseded_at: v.superseded_at,
        })
        .collect();
    let links = store.links_of_person(person).map_err(SarError::Store)?;
    report.links = links
        .iter()
        .map(|l| {
            let from_you = &l.from == person;
            let (linked_to_type, linked_to) = if from_you {
                match &l.to {
                    LinkTarget::Person(_) => ("person", ANOTHER_PERSON.to_owned()),
                    LinkTarget::Place(id) => ("place", id.to_string()),
                    LinkTarget::Incident(id) => ("incident", id.to_string()),
                }
            } else {
                ("person", ANOTHER_PERSON.to_owned())
            };
            LinkRecord {
                id: l.id,
                direction: if from_you { "from_you" } else { "to_you" },
                kind: code_of(&l.kind),
                linked_to_type,
                linked_to,
                categories: if from_you {
                    categories(&l.categories)
                } else {
                    Vec::new()
                },
                grade: l.grade.to_string(),
                controller: l.source.as_str().to_owned(),
                isa_ref: isa_or_not(l.isa_ref.as_ref()),
                review_due: l.review_due.to_string(),
                note: (!from_you).then(|| {
                    "recorded about another person and naming you: their subject categories are withheld".to_owned()
                }),
            }
        })
        .collect();
    report.reviews = store
        .reviews_of(person)
        .map_err(SarError::Store)?
        .into_iter()
        .map(|(id, r)| ReviewRecord {
            review: super::reviews::review_ref(id),
            decided_at: r.decided_at,
            outcome: r.outcome.code().to_owned(),
            decided_by: r.decided_by,
            rationale: r.rationale,
            next_review_due: r.review_due.map(|d| d.to_string()),
        })
        .collect();
    report.cases = store
        .cases_of(person)
        .map_err(SarError::Store)?
        .into_iter()
        .map(|c| CaseRecord {
            reference: c.reference.to_string(),
            kind: code_of(&c.kind),
            organisation: c.org,
            opened: c.opened.to_string(),
            review_due: c.review_due.to_string(),
        })
        .collect();
    report.meetings = store
        .meetings_of(person)
        .map_err(SarError::Store)?
        .into_iter()
        .map(|m| MeetingRecord {
            reference: m.reference.to_string(),
            panel_id: m.panel_id,
            day: m.day.to_string(),
        })
        .collect();
    report.review_dates = Some(ReviewDates {
        record_review_due: p.review_due.to_string(),
        erased_if_not_reviewed_after: p.review_due.plus_days(ctx.grace_days).to_string(),
        earliest_link_review_due: links
            .iter()
            .map(|l| l.review_due)
            .min()
            .map(|d| d.to_string()),
        latest_link_review_due: links
            .iter()
            .map(|l| l.review_due)
            .max()
            .map(|d| d.to_string()),
    });
    Ok(report)
}

/// The erasure records of `person` among `erasures`, and of the links erased with them: a
/// link's erasure record cites the same review decision (`review:<id>`) as its person's. Links
/// erased by a retention sweep cite the sweep, which many people share, so they cannot be
/// attributed and are not listed.
pub fn erasures_of(person: &PersonRef, erasures: &[AuditEntry]) -> Vec<ErasureRecord> {
    let own = format!("person:{}", person.as_str());
    let reviews: Vec<&str> = erasures
        .iter()
        .filter(|e| e.event.record_id.as_deref() == Some(own.as_str()))
        .filter_map(|e| e.event.review_decision_ref.as_deref())
        .filter(|r| r.starts_with("review:"))
        .collect();
    erasures
        .iter()
        .filter(|e| {
            let id = e.event.record_id.as_deref().unwrap_or("");
            id == own
                || (id.starts_with("link:")
                    && e.event
                        .review_decision_ref
                        .as_deref()
                        .is_some_and(|r| reviews.contains(&r)))
        })
        .map(|e| ErasureRecord {
            ts_utc: e.event.ts_utc.clone(),
            record_id: e.event.record_id.clone().unwrap_or_default(),
            review_decision_ref: e.event.review_decision_ref.clone(),
        })
        .collect()
}

/// What [`summarise_access`] finds in the audit events naming a person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessFindings {
    /// Counts.
    pub access: AccessSummary,
    /// Recorded disclosures.
    pub disclosures: Vec<DisclosureRecord>,
    /// Reads by organisations other than the controller.
    pub shared: Vec<AgreementRead>,
    /// Sharing agreements cited by allowed collections (imports) of the person.
    pub collected_under: Vec<String>,
}

/// Summarises `entries` (audit events naming one person) for a subject access report: counts
/// per event type and decision, per organisation and role (with first and last times), per
/// purpose and legal basis; the recorded disclosures; and the allowed reads by organisations
/// other than `controller`, grouped by organisation, purpose and legal basis, each with the
/// agreement in `agreements` that covered it on its day. No user names are kept. An event
/// standing for several identical refusals counts as many times as it stands for.
#[expect(
    clippy::too_many_lines,
    reason = "one grouping pass over the log entries with the agreement lookup per group"
)]
pub fn summarise_access(
    entries: &[AuditEntry],
    controller: Option<&str>,
    agreements: &Agreements,
) -> AccessFindings {
    let mut by_event: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut by_org: BTreeMap<(String, String), (u64, String, String)> = BTreeMap::new();
    let mut purposes: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut shared: BTreeMap<(String, String, String, Option<String>), AgreementRead> =
        BTreeMap::new();
    let mut out = AccessFindings::default();
    let or_not = |v: Option<&str>| v.unwrap_or(NOT_RECORDED).to_owned();
    for entry in entries {
        let e = &entry.event;
        let n = e.repeat_count.unwrap_or(1).max(1);
        out.access.events += n;
        *by_event
            .entry((e.event_type.code().to_owned(), e.decision.code().to_owned()))
            .or_default() += n;
        let org = or_not(e.actor_org.as_deref());
        let slot = by_org
            .entry((org.clone(), e.actor_role.clone()))
            .or_insert_with(|| (0, e.ts_utc.clone(), e.ts_utc.clone()));
        slot.0 += n;
        if e.ts_utc < slot.1 {
            slot.1.clone_from(&e.ts_utc);
        }
        if e.ts_utc > slot.2 {
            slot.2.clone_from(&e.ts_utc);
        }
        if e.purpose_code.is_some() || e.legal_basis.is_some() {
            *purposes
                .entry((
                    or_not(e.purpose_code.as_deref()),
                    or_not(e.legal_basis.as_deref()),
                ))
                .or_default() += n;
        }
        if e.break_glass == Some(true) && e.decision == Decision::Allow {
            out.access.break_glass_reads += n;
        }
        match e.event_type {
            AuditEventType::Disclosure => out.disclosures.push(DisclosureRecord {
                ts_utc: e.ts_utc.clone(),
                recipient_person: e.recipient_person.clone(),
                recipient_org: e.recipient_org.clone(),
                channel: e.channel.clone(),
                isa_ref: e.isa_ref.clone(),
                decision: e.decision.code().to_owned(),
            }),
            AuditEventType::Collection if e.decision == Decision::Allow => {
                if let Some(isa) = e.query.get("isa_ref").and_then(|v| v.as_str())
                    && !out.collected_under.iter().any(|c| c == isa)
                {
                    out.collected_under.push(isa.to_owned());
                }
            }
            AuditEventType::Consultation if e.decision == Decision::Allow => {
                let (Some(controller), Some(reader)) = (controller, e.actor_org.as_deref()) else {
                    continue;
                };
                if reader == controller {
                    continue;
                }
                let purpose = or_not(e.purpose_code.as_deref());
                let basis = or_not(e.legal_basis.as_deref());
                let day = e.ts_utc.get(..10).and_then(|d| d.parse::<Day>().ok());
                let permit = match (purpose.parse::<PurposeCode>(), day) {
                    (Ok(p), Some(day)) => agreements.permits(controller, Some(reader), p, day),
                    _ => None,
                };
                let (agreement, gateway) = match permit {
                    Some(Permit::Agreement(a, f)) => {
                        (Some(a.isa_ref.to_string()), Some(f.gateway.clone()))
                    }
                    _ => (None, None),
                };
                let key = (
                    reader.to_owned(),
                    purpose.clone(),
                    basis.clone(),
                    e.isa_ref.clone(),
                );
                let read = shared.entry(key).or_insert_with(|| AgreementRead {
                    organisation: reader.to_owned(),
                    purpose,
                    legal_basis: basis,
                    isa_ref_recorded: e.isa_ref.clone(),
                    agreement: None,
                    gateway: None,
                    count: 0,
                    first: e.ts_utc.clone(),
                    last: e.ts_utc.clone(),
                });
                read.count += n;
                if e.ts_utc < read.first {
                    read.first.clone_from(&e.ts_utc);
                }
                if e.ts_utc >= read.last {
                    read.last.clone_from(&e.ts_utc);
                }
                if agreement.is_some() {
                    read.agreement = agreement;
                    read.gateway = gateway;
                }
            }
            _ => {}
        }
    }
    out.access.by_event = by_event
        .into_iter()
        .map(|((event_type, decision), count)| EventCount {
            event_type,
            decision,
            count,
        })
        .collect();
    out.access.by_organisation = by_org
        .into_iter()
        .map(
            |((organisation, role), (count, first, last))| OrganisationCount {
                organisation,
                role,
                count,
                first,
                last,
            },
        )
        .collect();
    out.access.purposes = purposes
        .into_iter()
        .map(|((purpose, legal_basis), count)| PurposeCount {
            purpose,
            legal_basis,
            count,
        })
        .collect();
    out.shared = shared.into_values().collect();
    out
}

/// How many records the report discloses (for the audit record's `record_count`).
fn disclosed_records(report: &SubjectAccessReport) -> u64 {
    let n = usize::from(report.record.is_some())
        + report.earlier_versions.len()
        + report.links.len()
        + report.reviews.len()
        + report.cases.len()
        + report.meetings.len();
    n as u64
}

/// The audit record of answering the request (S16): a `disclosure` to the data subject
/// through the [`SAR_CHANNEL`], by `actor` (the CLI user), naming the person, with the SHA-256
/// of each document produced (`documents`: format and bytes).
pub fn sar_audit_event(
    report: &SubjectAccessReport,
    actor: &str,
    documents: &[(&str, &[u8])],
) -> AuditEvent {
    let mut e = AuditEvent::new(AuditEventType::Disclosure, SAR_ACTOR_ROLE, Decision::Allow);
    e.actor_user_id = Some(actor.to_owned());
    e.client = Some("cli".to_owned());
    e.subject_ids = vec![report.person.clone()];
    if let Some(r) = &report.record {
        e.subject_categories.clone_from(&r.categories);
    }
    e.recipient_person = Some(SAR_RECIPIENT.to_owned());
    e.channel = Some(SAR_CHANNEL.to_owned());
    e.record_count = disclosed_records(report);
    let hashes: BTreeMap<&str, String> = documents
        .iter()
        .map(|(format, bytes)| (*format, super::audit::hex(&Sha256::digest(bytes))))
        .collect();
    e.artifact_hash = documents
        .first()
        .and_then(|(format, _)| hashes.get(format).cloned());
    e.query = json!({"command": "sar", "held": report.held, "documents": hashes});
    POLICY_VERSION.clone_into(&mut e.policy_version);
    e
}

/// The audit record of a request about `person` that found no record (S16): the same
/// disclosure shape as [`sar_audit_event`], with nothing disclosed. Requests that find nothing
/// are audited so that probing for references is visible.
pub fn sar_no_record_event(person: &PersonRef, actor: &str) -> AuditEvent {
    let mut e = AuditEvent::new(AuditEventType::Disclosure, SAR_ACTOR_ROLE, Decision::Allow);
    e.actor_user_id = Some(actor.to_owned());
    e.client = Some("cli".to_owned());
    e.subject_ids = vec![person.as_str().to_owned()];
    e.recipient_person = Some(SAR_RECIPIENT.to_owned());
    e.channel = Some(SAR_CHANNEL.to_owned());
    e.query = json!({"command": "sar", "held": false, "found": false});
    POLICY_VERSION.clone_into(&mut e.policy_version);
    e
}

/// The report as one pretty-printed JSON document.
///
/// # Errors
///
/// A `serde_json` error (none is expected: every field is a plain value).
pub fn render_json(report: &SubjectAccessReport) -> serde_json::Result<String> {
    serde_json::to_string_pretty(report)
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The headings of the HTML page's sections, in order.
pub const HTML_SECTIONS: &[&str] = &[
    "Your record",
    "Earlier versions of your record",
    "Links",
    "Reviews",
    "Cases and MACE meetings",
    "Review dates",
    "Who accessed your data",
    "Who received your data",
    "Erasure records",
    "What this report withholds",
];

/// Appends a table: a caption, column headings and rows of cells, every value escaped; an
/// empty table becomes a sentence.
fn table(out: &mut String, caption: &str, headings: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        let _ = writeln!(out, "<p>{}: none.</p>", escape_html(caption));
        return;
    }
    let _ = writeln!(out, "<table>\n<caption>{}</caption>", escape_html(caption));
    out.push_str("<thead><tr>");
    for h in headings {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape_html(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape_html(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn paragraph(out: &mut String, text: &str) {
    let _ = writeln!(out, "<p>{}</p>", escape_html(text));
}

fn heading(out: &mut String, index: usize) {
    let title = HTML_SECTIONS.get(index).copied().unwrap_or("");
    let _ = writeln!(out, "<h2>{}</h2>", escape_html(title));
}

fn opt(value: Option<&String>) -> String {
    value.map_or_else(|| NOT_RECORDED.to_owned(), Clone::clone)
}

/// The report as a standalone, accessible HTML page: headings and tables, no script, no
/// external assets, every value escaped.
#[expect(
    clippy::too_many_lines,
    reason = "a linear HTML template: one section after another in page order"
)]
pub fn render_html(r: &SubjectAccessReport) -> String {
    let mut h = String::new();
    let person = escape_html(&r.person);
    let _ = writeln!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Subject access report: {person}</title>\n<style>\n\
         body {{ font-family: sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.5; color: #111; background: #fff; }}\n\
         table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; display: block; max-width: 100%; overflow-x: auto; }}\n\
         caption {{ text-align: left; font-weight: bold; padding: 0.25rem 0; }}\n\
         th, td {{ border: 1px solid #555; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }}\n\
         </style>\n</head>\n<body>\n<main>\n<h1>Subject access report: {person}</h1>"
    );
    paragraph(&mut h, &r.scope);
    paragraph(
        &mut h,
        if r.held {
            "A record of you is currently held."
        } else {
            "No record of you is currently held."
        },
    );
    for note in &r.notes {
        paragraph(&mut h, note);
    }

    heading(&mut h, 0);
    match &r.record {
        Some(p) => table(
            &mut h,
            "Your record as held",
            &["Field", "Value"],
            &[
                vec!["Reference".to_owned(), p.reference.clone()],
                vec!["Year of birth".to_owned(), p.birth_year.to_string()],
                vec!["Subject categories".to_owned(), p.categories.join(", ")],
                vec!["Controller".to_owned(), p.controller.clone()],
                vec!["Sharing agreement".to_owned(), p.isa_ref.clone()],
                vec![
                    "Collected under (audited imports)".to_owned(),
                    if p.collected_under.is_empty() {
                        NOT_RECORDED.to_owned()
                    } else {
                        p.collected_under.join(", ")
                    },
                ],
                vec!["Next review".to_owned(), p.review_due.clone()],
            ],
        ),
        None => paragraph(&mut h, "No record of you is currently held."),
    }

    heading(&mut h, 1);
    let rows: Vec<Vec<String>> = r
        .earlier_versions
        .iter()
        .map(|v| {
            vec![
                v.superseded_at.clone(),
                v.birth_year.to_string(),
                v.categories.join(", "),
                v.controller.clone(),
                v.isa_ref.clone(),
                v.review_due.clone(),
            ]
        })
        .collect();
    table(
        &mut h,
        "Earlier versions",
        &[
            "Replaced at",
            "Year of birth",
            "Subject categories",
            "Controller",
            "Sharing agreement",
            "Review date",
        ],
        &rows,
    );

    heading(&mut h, 2);
    let rows: Vec<Vec<String>> = r
        .links
        .iter()
        .map(|l| {
            vec![
                l.id.to_string(),
                l.direction.to_owned(),
                l.kind.clone(),
                l.linked_to_type.to_owned(),
                l.linked_to.clone(),
                if l.categories.is_empty() {
                    "withheld".to_owned()
                } else {
                    l.categories.join(", ")
                },
                l.grade.clone(),
                l.controller.clone(),
                l.isa_ref.clone(),
                l.review_due.clone(),
                l.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &mut h,
        "Links from or to you",
        &[
            "Link",
            "Direction",
            "Kind",
            "Linked to (type)",
            "Linked to",
            "Your categories",
            "Grade",
            "Controller",
            "Sharing agreement",
            "Review date",
            "Note",
        ],
        &rows,
    );

    heading(&mut h, 3);
    let rows: Vec<Vec<String>> = r
        .reviews
        .iter()
        .map(|v| {
            vec![
                v.review.clone(),
                v.decided_at.clone(),
                v.outcome.clone(),
                v.decided_by.clone(),
                v.rationale.clone(),
                opt(v.next_review_due.as_ref()),
            ]
        })
        .collect();
    table(
        &mut h,
        "Reviews recorded about you",
        &[
            "Review",
            "Decided at",
            "Outcome",
            "Decided by",
            "Rationale",
            "Next review",
        ],
        &rows,
    );

    heading(&mut h, 4);
    let rows: Vec<Vec<String>> = r
        .cases
        .iter()
        .map(|c| {
            vec![
                c.reference.clone(),
                c.kind.clone(),
                c.organisation.clone(),
                c.opened.clone(),
                c.review_due.clone(),
            ]
        })
        .collect();
    table(
        &mut h,
        "Cases you are a subject of",
        &["Case", "Kind", "Organisation", "Opened", "Review date"],
        &rows,
    );
    let rows: Vec<Vec<String>> = r
        .meetings
        .iter()
        .map(|m| vec![m.reference.clone(), m.panel_id.to_string(), m.day.clone()])
        .collect();
    table(
        &mut h,
        "MACE meetings with you on the agenda",
        &["Meeting", "Panel", "Day"],
        &rows,
    );

    heading(&mut h, 5);
    match &r.review_dates {
        Some(d) => table(
            &mut h,
            "Review dates",
            &["Date", "Value"],
            &[
                vec![
                    "Your record's next review".to_owned(),
                    d.record_review_due.clone(),
                ],
                vec![
                    "Erased if not reviewed after".to_owned(),
                    d.erased_if_not_reviewed_after.clone(),
                ],
                vec![
                    "Earliest link review".to_owned(),
                    opt(d.earliest_link_review_due.as_ref()),
                ],
                vec![
                    "Latest link review".to_owned(),
                    opt(d.latest_link_review_due.as_ref()),
                ],
            ],
        ),
        None => paragraph(&mut h, "No record is held, so no review is due."),
    }

    heading(&mut h, 6);
    paragraph(
        &mut h,
        &format!(
            "{} audit records name you. Staff are given by organisation and role, not by name. Reads made by break-glass declaration: {}.",
            r.access.events, r.access.break_glass_reads
        ),
    );
    let rows: Vec<Vec<String>> = r
        .access
        .by_event
        .iter()
        .map(|c| {
            vec![
                c.event_type.clone(),
                c.decision.clone(),
                c.count.to_string(),
            ]
        })
        .collect();
    table(
        &mut h,
        "Operations on your data",
        &["Operation", "Decision", "Count"],
        &rows,
    );
    let rows: Vec<Vec<String>> = r
        .access
        .by_organisation
        .iter()
        .map(|c| {
            vec![
                c.organisation.clone(),
                c.role.clone(),
                c.count.to_string(),
                c.first.clone(),
                c.last.clone(),
            ]
        })
        .collect();
    table(
        &mut h,
        "By organisation and role",
        &["Organisation", "Role", "Count", "First", "Last"],
        &rows,
    );
    let rows: Vec<Vec<String>> = r
        .access
        .purposes
        .iter()
        .map(|c| {
            vec![
                c.purpose.clone(),
                c.legal_basis.clone(),
                c.count.to_string(),
            ]
        })
        .collect();
    table(
        &mut h,
        "Purposes and legal bases relied on",
        &["Purpose", "Legal basis", "Count"],
        &rows,
    );

    heading(&mut h, 7);
    let rows: Vec<Vec<String>> = r
        .disclosures
        .iter()
        .map(|d| {
            vec![
                d.ts_utc.clone(),
                opt(d.recipient_person.as_ref()),
                opt(d.recipient_org.as_ref()),
                opt(d.channel.as_ref()),
                opt(d.isa_ref.as_ref()),
                d.decision.clone(),
            ]
        })
        .collect();
    table(
        &mut h,
        "Recorded disclosures",
        &[
            "When",
            "Recipient",
            "Recipient organisation",
            "Channel",
            "Sharing agreement",
            "Decision",
        ],
        &rows,
    );
    let rows: Vec<Vec<String>> = r
        .shared_with_other_organisations
        .iter()
        .map(|s| {
            vec![
                s.organisation.clone(),
                s.purpose.clone(),
                s.legal_basis.clone(),
                opt(s.isa_ref_recorded.as_ref()),
                opt(s.agreement.as_ref()),
                opt(s.gateway.as_ref()),
                s.count.to_string(),
                s.first.clone(),
                s.last.clone(),
            ]
        })
        .collect();
    table(
        &mut h,
        "Organisations other than the controller that read your record (disclosures under a sharing agreement)",
        &[
            "Organisation",
            "Purpose",
            "Legal basis",
            "Agreement recorded",
            "Agreement covering the read",
            "Gateway",
            "Reads",
            "First",
            "Last",
        ],
        &rows,
    );

    heading(&mut h, 8);
    let rows: Vec<Vec<String>> = r
        .erasures
        .iter()
        .map(|e| {
            vec![
                e.ts_utc.clone(),
                e.record_id.clone(),
                opt(e.review_decision_ref.as_ref()),
            ]
        })
        .collect();
    table(
        &mut h,
        "Erasure records",
        &["When", "Record", "Decision"],
        &rows,
    );

    heading(&mut h, 9);
    h.push_str("<ul>\n");
    for w in &r.withheld {
        let _ = writeln!(h, "<li>{}</li>", escape_html(w));
    }
    h.push_str("</ul>\n</main>\n</body>\n</html>\n");
    h
}

#[cfg(test)]
#[path = "sar_tests.rs"]
mod tests;
