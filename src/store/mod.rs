//! Storage behind one trait: the embedded SQLite store (default) now, PostgreSQL/PostGIS next
//! (its schema and migrations are in [`postgres`]; it does not implement the trait yet).
//!
//! The trait is synchronous, like the rest of the core (style.md rule 2): the server calls it
//! from `spawn_blocking`. Every write is one transaction: a batch is stored whole or not at
//! all. Records are keyed by their ids, so writing the same record twice stores it once.

pub mod cause;
pub mod changes;
pub mod postgres;
pub mod segment;
mod shared;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::{CheckReport, QUICK_CHECK_MAX_BYTES, SqliteStore};

use crate::domain::{Dataset, Day, PersonRef, Role, User};
use crate::safeguards::rules::{RuleViolation, StoredState, check_batch};

/// Errors from a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error; the message says the cause in words when it is about
    /// the file or the disk ([`cause::sqlite_cause`]).
    #[error("database error while {context}{}", cause::suffix(source))]
    Database {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The data directory could not be created or read.
    #[error("cannot use data directory {path}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database file could not be opened or prepared (its path named).
    #[error("opening the store {}", file.display())]
    Open {
        /// The database file.
        file: std::path::PathBuf,
        /// Why.
        #[source]
        source: Box<StoreError>,
    },
    /// A write was asked of a store opened read-only (its data directory or file cannot be
    /// written); nothing was changed.
    #[error(
        "cannot {operation}: the store {} is open read-only ({reason}); nothing was changed. \
         Make the data directory {} and the file writable to change it",
        file.display(),
        file.parent().map_or_else(|| std::path::Path::new(".").display(), std::path::Path::display)
    )]
    ReadOnly {
        /// What was refused.
        operation: &'static str,
        /// The database file.
        file: std::path::PathBuf,
        /// Why the store is read-only.
        reason: String,
    },
    /// The database holds a schema newer than this build understands.
    #[error("database schema version {found} is newer than this build's {supported}")]
    SchemaTooNew {
        /// Version found in the database.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// The batch breaks safeguards data rules (safeguards.md S1-S4, S18); nothing was written.
    #[error("{} safeguards rule violation(s), first: {}", .0.len(), .0.first().map_or("", |v| v.code))]
    Rules(Vec<RuleViolation>),
    /// No record with this key is stored.
    #[error("no {what} {key:?} is stored")]
    NotFound {
        /// Kind of record.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// A record with this key already exists and may not be replaced.
    #[error("{what} {key:?} already exists")]
    Duplicate {
        /// Kind of record.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// A stored segment does not match its checksum or cannot be read as written: the store
    /// is damaged and is refused rather than served (issue 14, point 4). The ids are the ones
    /// the segment's row records, which the checksum covers too.
    #[error(
        "the store is damaged: table {table}, segment {segment} (incident ids \
         {first_id}..={last_id}, {rows} rows): {reason}. Restore the database file from a \
         backup; `saferplaces check` lists every damaged segment"
    )]
    Damaged {
        /// Table.
        table: &'static str,
        /// The segment's id (its row key).
        segment: i64,
        /// Lowest incident id the segment covers.
        first_id: i64,
        /// Highest incident id the segment covers.
        last_id: i64,
        /// Rows the segment holds.
        rows: i64,
        /// What is wrong (checksum mismatch, missing checksum, a column of the wrong type).
        reason: String,
    },
    /// A stored record row does not match its checksum (`row_crc`) or has none: a value was
    /// changed on disk, not by the store (issue 14, point 4). Names the table, the row's key
    /// and its rowid (`None` for a `WITHOUT ROWID` table).
    #[error(
        "the store is damaged: table {table}, row {key}{}: {reason}. Restore the database file \
         from a backup; `saferplaces check` lists every damaged row",
        rowid.map_or_else(String::new, |r| format!(" (rowid {r})"))
    )]
    RowDamaged {
        /// Table.
        table: String,
        /// The row's primary key, as text (several columns joined with ", ").
        key: String,
        /// The row's rowid.
        rowid: Option<i64>,
        /// What is wrong (values that do not match, a missing checksum).
        reason: String,
    },
    /// A write failed in the database: names what was being done, the database file, and (in
    /// its source) the cause in words (issue 14, point 5). A write runs in one transaction, so
    /// a failure before its commit keeps nothing of it.
    #[error(
        "cannot {operation}: writing the store {} failed",
        file.display()
    )]
    Write {
        /// What was being done (`add a user`).
        operation: &'static str,
        /// The database file.
        file: std::path::PathBuf,
        /// The database error, with the cause in words.
        #[source]
        source: Box<StoreError>,
    },
    /// `SQLite`'s own structure check (`PRAGMA quick_check` or `integrity_check`) found damage;
    /// its messages are quoted as `SQLite` wrote them.
    #[error(
        "the store {} is damaged: PRAGMA {pragma} reported: {}. Restore the database file \
         from a backup",
        file.display(),
        messages.join("; ")
    )]
    StructureDamaged {
        /// The database file.
        file: std::path::PathBuf,
        /// `quick_check` or `integrity_check`.
        pragma: &'static str,
        /// `SQLite`'s messages, one per problem (at most 100).
        messages: Vec<String>,
    },
    /// An incident cannot be withdrawn or amended: it is withdrawn already (an amended one is
    /// withdrawn with the id of its replacement). Nothing was written.
    #[error(
        "incident {id} is already withdrawn{}; nothing was written",
        replaced_by.map_or_else(String::new, |r| format!(" (amended: replaced by incident {r})"))
    )]
    AlreadyWithdrawn {
        /// The incident.
        id: u64,
        /// The incident that replaced it, for an amendment.
        replaced_by: Option<u64>,
    },
    /// A withdrawal or amendment was refused before anything was written: `field` names what
    /// is wrong (`reason`, `actor`, `ids`, `category`, `location`, `day`).
    #[error("cannot {operation}: {field}: {problem}; nothing was written")]
    Refused {
        /// What was asked (`withdraw incidents`, `amend an incident`).
        operation: &'static str,
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// PostgreSQL reported an error (issue 16); the message quotes its SQLSTATE and message.
    #[error(
        "PostgreSQL error while {context}{}",
        self::postgres::server_message(source)
    )]
    Postgres {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: ::postgres::Error,
    },
    /// A stored row could not be turned back into a domain value.
    #[error("corrupt {table} row {row}: {reason}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// Row key.
        row: String,
        /// What was wrong.
        reason: String,
    },
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Counts and id bounds of the incidents stored up to an incident segment
/// ([`Store::incidents_fingerprint`]). Segments are never rewritten, and a change to the
/// incidents table is in the change feed, so with the feed this identifies the incidents.
/// Withdrawn incidents are not counted (a load skips them): withdrawals are never undone, so
/// a withdrawal among the incidents it covers always lowers a count and changes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncidentsFingerprint {
    /// Rows of the incidents table, less the withdrawn ones.
    pub table_rows: u64,
    /// Largest id in the incidents table (0 when empty).
    pub table_max_id: u64,
    /// Segments up to the cursor.
    pub segments: u64,
    /// Incidents in those segments, less the withdrawn ones.
    pub segment_rows: u64,
    /// Sum of those segments' smallest and largest ids (wrapping).
    pub segment_id_sum: u64,
}

/// Number of stored records per kind (`saferplaces stats --json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindCounts {
    /// Incidents.
    pub incidents: u64,
    /// Places of concern.
    pub places: u64,
    /// Schools.
    pub schools: u64,
    /// Transport stops.
    pub stops: u64,
    /// Transport routes.
    pub routes: u64,
    /// Youth services.
    pub services: u64,
    /// Boundaries, all schemes.
    pub boundaries: u64,
    /// People.
    pub people: u64,
    /// Links.
    pub links: u64,
    /// Cases.
    pub cases: u64,
    /// MACE meetings.
    pub meetings: u64,
    /// Stop-and-search records.
    pub stop_searches: u64,
}

// The batch types of an import live with the importers (`ingest::batch`); the store writes
// them in one transaction.
pub use crate::ingest::batch::{ImportBatch, ImportFile, ImportedIncident, SourceAttributes};

/// What an import batch stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportWritten {
    /// Records newly stored (not already present).
    pub stored: u64,
    /// Newly stored records without a location.
    pub unlocated: u64,
    /// Newly stored incidents outside the partnership area.
    pub outside_area: u64,
}

/// Why and by whom incidents are withdrawn or amended (kept with each withdrawal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalNote {
    /// Why (at least [`WithdrawalNote::MIN_REASON_CHARS`] characters once trimmed).
    pub reason: String,
    /// Who decided (a named person or the agency's reference).
    pub actor: String,
    /// When, RFC 3339 UTC.
    pub at: String,
}

impl WithdrawalNote {
    /// The shortest reason accepted, in characters.
    pub const MIN_REASON_CHARS: usize = 10;
}

/// The corrected fields of an amended incident; `None` keeps the stored value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IncidentCorrection {
    /// The corrected category.
    pub category: Option<crate::domain::Category>,
    /// The corrected location (its precision is kept; an incident without one gets
    /// [`crate::domain::LocationPrecision::Exact`]). The import's outside-the-area flag is
    /// kept as the import set it.
    pub location: Option<crate::domain::LonLat>,
    /// The corrected day (the time of day is kept; a month-precision incident becomes
    /// day-precision, since the day is now known).
    pub day: Option<Day>,
}

/// What an amendment stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AmendedIncident {
    /// The corrected incident as stored, under its new id.
    pub incident: crate::domain::Incident,
    /// The withdrawn incident's id.
    pub replaces: crate::domain::IncidentId,
    /// The names of the fields that changed (`category`, `location`, `day`), in that order.
    pub fields: Vec<&'static str>,
    /// The withdrawal's sequence number.
    pub seq: u64,
}

/// A user to create. The token itself is never stored, only its SHA-256 hash.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique login name.
    pub name: String,
    /// Role (must be assignable).
    pub role: Role,
    /// Organisation.
    pub org: Option<String>,
    /// MACE panels the user sits on.
    pub panels: Vec<u32>,
    /// Lower-case hex SHA-256 of the bearer token.
    pub token_hash: String,
    /// When the token stops being accepted, Unix seconds (UTC).
    pub token_expires_at: u64,
}

/// What an erasure removed: ids only, so each can get its own erasure record (S16, S18).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    /// People erased.
    pub people: Vec<PersonRef>,
    /// Links erased, ascending by id.
    pub links: Vec<ErasedLink>,
}

/// One erased link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasedLink {
    /// The link's id.
    pub id: u64,
    /// The erased person it went with (from or to them); `None` when it expired on its own.
    pub with_person: Option<PersonRef>,
}

/// A place where saferplaces keeps its records.
pub trait Store: Send {
    /// Where the store keeps its records, for messages (the `SQLite` file's path).
    fn location(&self) -> String {
        "the store".to_owned()
    }

    /// True when the store was opened read-only and refuses every write.
    fn is_read_only(&self) -> bool {
        false
    }

    /// Where a server keeps its saved incident index for this store (`index::persist`), if
    /// anywhere: beside the store's file.
    fn saved_index_path(&self) -> Option<std::path::PathBuf> {
        None
    }

    /// The schema version the store is at.
    fn schema_version(&self) -> StoreResult<u32>;

    /// Writes every record of `data` in one transaction without checking the safeguards data
    /// rules. Records whose id is already stored are left as they are, except people and links:
    /// a person or link stored with different fields is amended (the new version stored, the
    /// old one kept in `person_versions` / `link_versions`) and reported in
    /// [`Written::amended`]; an identical one stores nothing. Use [`Store::write`] for anything
    /// that carries people or links.
    fn write_records(&mut self, data: &Dataset) -> StoreResult<Written>;

    /// [`Store::write_records`], returning only how many records of each kind were newly
    /// stored.
    fn write_unchecked(&mut self, data: &Dataset) -> StoreResult<KindCounts> {
        self.write_records(data).map(|w| w.counts)
    }

    /// What is stored about the people `data` touches, for the rules
    /// ([`StoredState::touched`], plus the people of stored links whose ids `data` carries).
    fn stored_state(&self, data: &Dataset) -> StoreResult<StoredState>;

    /// The safeguards data rules' violations by `data` as of `as_of`, checked on the state the
    /// store would hold after writing it ([`crate::safeguards::rules`]).
    fn check_rules(&self, data: &Dataset, as_of: Day) -> StoreResult<Vec<RuleViolation>> {
        Ok(check_batch(data, as_of, &self.stored_state(data)?))
    }

    /// Checks the safeguards data rules against the resulting state as of `as_of`, then writes
    /// `data` in one transaction ([`Store::write_records`]). A batch with any violation is
    /// refused whole with [`StoreError::Rules`].
    fn write_checked(&mut self, data: &Dataset, as_of: Day) -> StoreResult<Written> {
        let violations = self.check_rules(data, as_of)?;
        if !violations.is_empty() {
            return Err(StoreError::Rules(violations));
        }
        self.write_records(data)
    }

    /// [`Store::write_checked`], returning only how many records of each kind were newly
    /// stored.
    fn write(&mut self, data: &Dataset, as_of: Day) -> StoreResult<KindCounts> {
        self.write_checked(data, as_of).map(|w| w.counts)
    }

    /// Reads every stored record.
    fn load(&self) -> StoreResult<Dataset>;

    /// Counts stored records per kind (withdrawn incidents not counted).
    fn counts(&self) -> StoreResult<KindCounts>;

    /// Creates a user; refuses a name that exists.
    fn add_user(&mut self, user: &NewUser) -> StoreResult<u64>;

    /// Replaces the token of the user called `name` with a fresh one (hash and expiry, Unix
    /// seconds), clearing any revocation; false when there is no such user.
    fn set_user_token(
        &mut self,
        name: &str,
        token_hash: &str,
        token_expires_at: u64,
    ) -> StoreResult<bool>;

    /// Marks the token of the user called `name` revoked at `revoked_at` (Unix seconds), keeping
    /// the row for the audit trail; a token revoked before keeps its first time. Returns the
    /// user, `None` when there is no such user.
    fn revoke_user(&mut self, name: &str, revoked_at: u64) -> StoreResult<Option<User>>;

    /// Every user with their token hash.
    fn users(&self) -> StoreResult<Vec<(String, User)>>;

    /// A number that changes whenever another connection commits to the store, so a server
    /// can notice imports, user changes and erasures made by other processes.
    fn change_marker(&self) -> StoreResult<u64>;

    /// The newest sequence number of the change feed (`changes`), 0 while it is empty; `None`
    /// for a store without the feed (an older schema opened read-only), whose changes only
    /// [`Self::change_marker`] notices.
    fn latest_change(&self) -> StoreResult<Option<u64>>;

    /// The kinds of served data changed after sequence number `after`.
    fn changes_since(&self, after: u64) -> StoreResult<changes::ChangeSet>;

    /// Reads the kinds `kinds` names (the rest of the dataset is left empty; withdrawn
    /// incidents are skipped), in one read, and
    /// the largest incident segment id stored then (0 when none): the cursor from which
    /// [`Self::for_each_incident_after_segment`] reads the segments imported later.
    fn load_kinds(&self, kinds: &changes::ChangeSet) -> StoreResult<(Dataset, u64)>;

    /// Every stored incident but the withdrawn ones, in batches (the rows, then each segment)
    /// handed to `each` in one read, so a caller that keeps only what it needs (the index's columns) never holds every
    /// full record at once; returns the largest segment id stored then. The caller verifies
    /// the rows' checksums through [`Self::load_kinds`] (segments are verified here).
    fn for_each_incident_batch(
        &self,
        each: &mut dyn FnMut(Vec<crate::domain::Incident>),
    ) -> StoreResult<u64>;

    /// What identifies the incidents stored up to segment `cursor` (the incidents table and
    /// the segments with an id up to it, less the withdrawn ones) without decoding any: a saved index
    /// (`index::persist`) is used only when this still matches.
    fn incidents_fingerprint(&self, cursor: u64) -> StoreResult<IncidentsFingerprint>;

    /// Hands the incidents of the segments with an id above `after` (withdrawn ones skipped)
    /// to `each`, one segment at a time (so a large import is never held as full records at once), and returns the
    /// largest segment id stored (the next cursor), in one read.
    fn for_each_incident_after_segment(
        &self,
        after: u64,
        each: &mut dyn FnMut(Vec<crate::domain::Incident>),
    ) -> StoreResult<u64>;

    /// How many incidents the segments with an id above `after` hold (from the segment table,
    /// without decoding any): at most what [`Self::for_each_incident_after_segment`] hands
    /// over (it skips withdrawn incidents).
    fn incident_rows_after_segment(&self, after: u64) -> StoreResult<u64>;

    /// Withdraws the incidents `ids` (recorded in error, or withdrawn by their source agency)
    /// in one transaction: each is recorded as withdrawn with `note` and a withdrawal sequence
    /// number, the incident itself is kept as stored, and every read that serves or exports
    /// incidents skips it from then on. An id given twice counts once. Returns the sequence
    /// numbers, in the order of `ids`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an id that is not stored, [`StoreError::AlreadyWithdrawn`]
    /// for one withdrawn before, [`StoreError::Refused`] for a reason that is too short or a
    /// missing actor or id: each names the id or field, and nothing is written.
    fn withdraw_incidents(
        &mut self,
        ids: &[crate::domain::IncidentId],
        note: &WithdrawalNote,
    ) -> StoreResult<Vec<u64>>;

    /// Amends the incident `id` in one transaction: stores the incident with `correction`
    /// applied under a new id (same provenance and source record, so a server's index sees
    /// an ordinary added incident) and withdraws `id` with `note`, naming the new id as its
    /// replacement.
    ///
    /// # Errors
    ///
    /// As [`Self::withdraw_incidents`], and [`StoreError::Refused`] for a correction that
    /// changes nothing; nothing is written.
    fn amend_incident(
        &mut self,
        id: crate::domain::IncidentId,
        correction: &IncidentCorrection,
        note: &WithdrawalNote,
    ) -> StoreResult<AmendedIncident>;

    /// Hands the incidents withdrawn with a sequence number above `after` to `each`, as they
    /// were stored (so an index can compute what it indexed them from), in batches, and
    /// returns the newest withdrawal sequence number (the next cursor; 0 when none), in one
    /// read.
    fn for_each_withdrawal_after(
        &self,
        after: u64,
        each: &mut dyn FnMut(Vec<crate::domain::Incident>),
    ) -> StoreResult<u64>;

    /// The user holding the token whose hash is `token_hash`.
    fn user_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<User>>;

    /// Writes one imported file's records in one transaction; records whose key is already
    /// stored are left as they are. The file and `summary` go to the register of imported files.
    /// With `commit` false the transaction is rolled back: a dry run that reports exactly what
    /// would be stored.
    fn write_import(
        &mut self,
        batch: &ImportBatch,
        file: &ImportFile,
        summary: &serde_json::Value,
        commit: bool,
    ) -> StoreResult<ImportWritten>;

    /// Links likely duplicate incidents (never deletes them); pairs already linked are left as
    /// they are. Returns how many links are new.
    fn write_matches(
        &mut self,
        matches: &[crate::ingest::reconcile::LikelyDuplicate],
        params: &serde_json::Value,
        found_at: &str,
    ) -> StoreResult<u64>;

    /// Assigns the user called `user` to the case `case_ref` (issue 12, point 1), recording
    /// who assigned it (`by`) and when (`at`, RFC 3339). `Some(false)` when already assigned,
    /// `None` when there is no such case. The caller checks that the user exists.
    fn assign_case(
        &mut self,
        case_ref: &crate::domain::CaseRef,
        user: &str,
        by: &str,
        at: &str,
    ) -> StoreResult<Option<bool>>;

    /// Erases people (with every link from or to them, their reviews, and their place in case
    /// and meeting subject lists) and links, in one transaction (safeguards.md S18), so that no
    /// byte of them is left in the store's files, journal included. Returns what was erased.
    fn erase(&mut self, people: &[PersonRef], links: &[u64]) -> StoreResult<Erased>;

    /// The stored person `id`, if any.
    fn person(&self, id: &PersonRef) -> StoreResult<Option<crate::domain::Person>>;

    /// Records a review (S7, S18) and, unless it removes the person, sets the person's review
    /// date to the review's, in one transaction. Returns the review's id. The caller checks the
    /// review first ([`crate::safeguards::reviews::check_review`]).
    fn record_review(&mut self, review: &crate::safeguards::reviews::Review) -> StoreResult<u64>;

    /// The id of the latest review of each of `people` that has one.
    fn latest_reviews(
        &self,
        people: &[PersonRef],
    ) -> StoreResult<std::collections::BTreeMap<PersonRef, u64>>;

    /// Earlier versions of the person `id` kept after amendments, oldest first (subject
    /// access, S26).
    fn person_versions(&self, id: &PersonRef) -> StoreResult<Vec<PersonVersion>>;

    /// Every stored link from or to the person `id`, by id (subject access, S26).
    fn links_of_person(&self, id: &PersonRef) -> StoreResult<Vec<crate::domain::Link>>;

    /// The reviews recorded about the person `id` with their ids, oldest first (S26).
    fn reviews_of(
        &self,
        id: &PersonRef,
    ) -> StoreResult<Vec<(u64, crate::safeguards::reviews::Review)>>;

    /// The cases that name the person `id` among their subjects, by reference (S26).
    fn cases_of(&self, id: &PersonRef) -> StoreResult<Vec<crate::domain::Case>>;

    /// The MACE meetings with the person `id` on their agenda, by reference (S26).
    fn meetings_of(&self, id: &PersonRef) -> StoreResult<Vec<crate::domain::MaceMeeting>>;
}

/// An earlier version of a person, replaced by an amendment (issue 12 point 6) and kept for
/// audit until the person is erased.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonVersion {
    /// The person as they were stored.
    pub person: crate::domain::Person,
    /// When this version was replaced, RFC 3339 UTC.
    pub superseded_at: String,
}

/// A stored person or link replaced by a changed version (issue 12 point 6): which record,
/// whose, and the names (never the values) of the fields that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amendment {
    /// `person:P…` or `link:42`.
    pub record: String,
    /// The pseudonymous subject: the person, or the person the link is from.
    pub subject: PersonRef,
    /// Names of the changed fields, in a fixed order.
    pub fields: Vec<&'static str>,
}

/// What a write stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Records newly stored per kind (amendments not included).
    pub counts: KindCounts,
    /// People and links amended.
    pub amended: Vec<Amendment>,
}
