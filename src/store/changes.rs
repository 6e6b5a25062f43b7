//! The change feed (issue 15, point 1): every write transaction that changes what a server
//! holds in memory appends one row per kind of data it changed to `changes` (migration 0012),
//! in the same transaction, so a change is in the feed exactly when it is committed. A server
//! polls the newest sequence number (`Store::latest_change`, one indexed read) and, when it
//! moved, reads the kinds changed since the sequence it applied (`Store::changes_since`): it then reloads only those
//! kinds, and for imported incidents only the new segments. The same feed is what replicas of
//! a shared database follow.

/// A kind of served data, reloaded on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Incidents written as rows (the demo generator): the incidents are reloaded whole.
    Incidents,
    /// Incident segments appended by an import: only the new segments are read.
    IncidentSegments,
    /// Places of concern, schools, stops, routes, services and boundaries.
    Reference,
    /// People, links, cases (with their assignments) and meetings.
    People,
    /// Users and their tokens.
    Access,
    /// Incidents withdrawn (and the old ids of amended ones, whose corrected rows come as
    /// [`Self::IncidentSegments`]): only the withdrawals after the last applied are read
    /// (`Store::for_each_withdrawal_after`).
    IncidentWithdrawals,
}

impl ChangeKind {
    /// The `kind` column's value.
    pub fn code(self) -> &'static str {
        match self {
            Self::Incidents => "incidents",
            Self::IncidentSegments => "incident_segments",
            Self::Reference => "reference",
            Self::People => "people",
            Self::Access => "access",
            Self::IncidentWithdrawals => "incident_withdrawals",
        }
    }
}

/// What changed after a sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one flag per kind of served data, named; a bit set would hide the names"
)]
pub struct ChangeSet {
    /// The newest sequence number read (the one to ask from next time).
    pub latest: u64,
    /// Incidents must be reloaded whole.
    pub incidents: bool,
    /// Imports appended incident segments.
    pub incident_segments: bool,
    /// Reference layers changed.
    pub reference: bool,
    /// People, links, cases or meetings changed.
    pub people: bool,
    /// Users or tokens changed.
    pub access: bool,
    /// Incidents were withdrawn or amended (the amended rows are also in
    /// [`Self::incident_segments`]).
    pub incident_withdrawals: bool,
}

impl ChangeSet {
    /// Every kind, as after a change the feed cannot describe (a store without the feed).
    pub fn everything(latest: u64) -> Self {
        Self {
            latest,
            incidents: true,
            incident_segments: true,
            reference: true,
            people: true,
            access: true,
            incident_withdrawals: true,
        }
    }

    /// Notes a feed row of `kind` (its `kind` column) with sequence number `seq`; an unknown
    /// kind is refused naming the row. Both stores read their feed through this.
    pub(crate) fn mark(&mut self, seq: i64, kind: &str) -> Result<(), super::StoreError> {
        self.latest = self.latest.max(u64::try_from(seq).unwrap_or(0));
        match kind {
            "incidents" => self.incidents = true,
            "incident_segments" => self.incident_segments = true,
            "reference" => self.reference = true,
            "people" => self.people = true,
            "access" => self.access = true,
            "incident_withdrawals" => self.incident_withdrawals = true,
            other => {
                return Err(super::StoreError::Corrupt {
                    table: "changes",
                    row: seq.to_string(),
                    reason: format!("unknown kind {other:?}"),
                });
            }
        }
        Ok(())
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        !(self.incidents
            || self.incident_segments
            || self.reference
            || self.people
            || self.access
            || self.incident_withdrawals)
    }
}
