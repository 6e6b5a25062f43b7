//! The audit log kept in PostgreSQL (issue 16, point 5): one trail for every server on the
//! database, hash-chained and checkpointed exactly as the file log (module docs of
//! [`super`]).
//!
//! The table is `audit.log (seq bigint PRIMARY KEY, line text)` (migration `0003_audit`): row
//! `seq` holds, byte for byte, line `seq` of the file the log would be, without its line
//! feed, so `SELECT line FROM audit.log ORDER BY seq` is that file and the file's verifier
//! runs over the rows unchanged. The application role may only SELECT and INSERT; triggers
//! refuse UPDATE, DELETE and TRUNCATE for everyone, the table's owner included.
//!
//! An append is one transaction: it takes `pg_advisory_xact_lock` on [`LOCK_KEY`], reads the
//! rows other servers appended since this one's last known `seq` (checking that that row is
//! still there, unchanged), computes the next line and inserts it, then commits; so two
//! servers appending at once never fork the chain. A failed transaction is rolled back and the
//! writer's view of the chain with it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use postgres::{Client, Config, NoTls};

use super::{
    AuditError, AuditResult, Chain, Checkpoint, FailureKind, GENESIS_HASH, LineRead, LineSource,
    MAX_LINE_BYTES, Sink, Tail, TailError, VerifyFailure, VerifyReport, Writer, tail_of_line,
    verify_lines,
};

/// Key of the transaction-level advisory lock every append holds ("spaudit1" in ASCII).
pub(super) const LOCK_KEY: i64 = 0x7370_6175_6469_7431;

/// Rows read per query when catching up or reading the log.
const PAGE_ROWS: i64 = 10_000;

/// The connection of a database log.
pub(super) struct DbSink {
    client: Client,
    /// To reconnect after the connection was lost.
    config: Config,
}

impl fmt::Debug for DbSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbSink")
            .field("target", &describe(&self.config))
            .finish_non_exhaustive()
    }
}

/// The database error of `context` on the log `path`.
fn db_error(path: &Path, context: &'static str) -> impl Fn(postgres::Error) -> AuditError {
    let path = path.to_path_buf();
    move |source| AuditError::Database {
        path: path.clone(),
        context,
        source,
    }
}

/// Hosts and database of a connection, without user or password (for messages).
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(dir) => dir.display().to_string(),
        })
        .collect();
    format!(
        "host={} dbname={}",
        if hosts.is_empty() {
            "(default)".to_owned()
        } else {
            hosts.join(",")
        },
        config.get_dbname().unwrap_or("(the user's name)")
    )
}

impl DbSink {
    /// Connects to `url` and checks that the table exists; returns the sink and the
    /// description of the table that stands for the log's path in messages.
    pub(super) fn connect(url: &str) -> AuditResult<(Self, PathBuf)> {
        let config: Config = url.parse().map_err(db_error(
            Path::new("PostgreSQL (SAFERPLACES_DATABASE_URL) table audit.log"),
            "parsing the connection string SAFERPLACES_DATABASE_URL",
        ))?;
        let path = PathBuf::from(format!("PostgreSQL {} table audit.log", describe(&config)));
        let mut client = config
            .connect(NoTls)
            .map_err(db_error(&path, "connecting"))?;
        let exists: bool = client
            .query_one("SELECT to_regclass('audit.log') IS NOT NULL", &[])
            .and_then(|row| row.try_get(0))
            .map_err(db_error(&path, "looking for the table audit.log"))?;
        if !exists {
            return Err(AuditError::NotWritable {
                path,
                reason: "the table audit.log does not exist: run `saferplaces migrate`".to_owned(),
            });
        }
        Ok((Self { client, config }, path))
    }

    /// Begins the transaction of an append and takes the audit lock in it, reconnecting
    /// first when the connection was lost.
    fn begin(&mut self, path: &Path) -> AuditResult<()> {
        if self.client.is_closed() {
            self.client = self
                .config
                .connect(NoTls)
                .map_err(db_error(path, "reconnecting"))?;
        }
        self.client
            .batch_execute("BEGIN")
            .map_err(db_error(path, "beginning a transaction"))?;
        if let Err(e) = self
            .client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        {
            self.rollback();
            return Err(db_error(path, "waiting for the audit lock")(e));
        }
        Ok(())
    }

    fn commit(&mut self, path: &Path) -> AuditResult<()> {
        self.client
            .batch_execute("COMMIT")
            .map_err(db_error(path, "committing"))
    }

    fn rollback(&mut self) {
        // A lost connection rolls back by itself.
        let _ = self.client.batch_execute("ROLLBACK");
    }

    /// The chain head after the last row, the row checked on its own.
    pub(super) fn read_tail(&mut self, path: &Path) -> AuditResult<Result<Tail, TailError>> {
        let row = self
            .client
            .query_opt(
                "SELECT seq, line FROM audit.log ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .map_err(db_error(path, "reading the last row"))?;
        let Some(row) = row else {
            return Ok(Ok(Tail {
                seq: 0,
                hash: GENESIS_HASH.to_owned(),
                checkpoint: None,
            }));
        };
        let (seq, line): (i64, String) = (
            row.try_get(0)
                .map_err(db_error(path, "reading the last row"))?,
            row.try_get(1)
                .map_err(db_error(path, "reading the last row"))?,
        );
        Ok(tail_of_line(line.as_bytes())
            .and_then(|tail| {
                if i64::try_from(tail.seq) == Ok(seq) {
                    Ok(tail)
                } else {
                    Err(format!("the row with seq {seq} holds line {}", tail.seq))
                }
            })
            .map_err(TailError::Invalid))
    }

    /// The line of the row `seq`, if there is one.
    pub(super) fn line_at(&mut self, path: &Path, seq: u64) -> AuditResult<Option<String>> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        self.client
            .query_opt("SELECT line FROM audit.log WHERE seq = $1", &[&seq])
            .and_then(|row| row.map(|r| r.try_get(0)).transpose())
            .map_err(db_error(path, "reading the witness's row"))
    }

    /// [`Writer::refresh`] of the database log: checks that the last row this process saw is
    /// still there, unchanged, then takes the rows after it.
    pub(super) fn refresh(&mut self, chain: &mut Chain, path: &Path) -> AuditResult<()> {
        let mut after = i64::try_from(chain.seq).unwrap_or(i64::MAX);
        if chain.seq > 0 {
            let row = self
                .client
                .query_opt("SELECT line FROM audit.log WHERE seq = $1", &[&after])
                .map_err(db_error(path, "reading the last row seen"))?;
            let line: Option<String> = row
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(db_error(path, "reading the last row seen"))?;
            let same = line
                .as_deref()
                .and_then(|l| tail_of_line(l.as_bytes()).ok())
                .is_some_and(|t| t.seq == chain.seq && t.hash == chain.hash);
            if !same {
                let what = if line.is_some() { "changed" } else { "deleted" };
                return Err(chain.break_with(
                    path,
                    format!(
                        "line {}, the last this process saw, was {what} in the table",
                        chain.seq
                    ),
                ));
            }
        }
        loop {
            let rows = self
                .client
                .query(
                    "SELECT seq, line FROM audit.log WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &PAGE_ROWS],
                )
                .map_err(db_error(path, "reading the rows other writers appended"))?;
            if rows.is_empty() {
                return Ok(());
            }
            for row in &rows {
                let (seq, line): (i64, String) = (
                    row.try_get(0).map_err(db_error(path, "reading a row"))?,
                    row.try_get(1).map_err(db_error(path, "reading a row"))?,
                );
                if seq != after + 1 {
                    return Err(chain.break_with(
                        path,
                        format!("the row after seq {after} has seq {seq}: rows are missing"),
                    ));
                }
                chain.take_line(path, line.as_bytes())?;
                after = seq;
            }
        }
    }

    /// Inserts `line` (its line feed dropped) as row `seq`, in the append's transaction.
    pub(super) fn insert(&mut self, path: &Path, seq: u64, line: &str) -> AuditResult<()> {
        let seq = i64::try_from(seq).map_err(|_| AuditError::NotWritable {
            path: path.to_path_buf(),
            reason: "the sequence number is beyond a bigint".to_owned(),
        })?;
        let line = line.strip_suffix('\n').unwrap_or(line);
        self.client
            .execute(
                "INSERT INTO audit.log (seq, line) VALUES ($1, $2)",
                &[&seq, &line],
            )
            .map_err(db_error(path, "inserting the line"))?;
        Ok(())
    }

    /// The lines of the rows with `after < seq <= upto`, in `seq` order.
    pub(super) fn lines(&mut self, after: u64, upto: u64) -> RowLines<'_> {
        RowLines::new(
            &mut self.client,
            i64::try_from(after).unwrap_or(i64::MAX),
            i64::try_from(upto).unwrap_or(i64::MAX),
        )
    }
}

/// Runs `f` in a transaction holding the audit lock ([`super::locked`] for the database
/// log): committed when `f` succeeds; otherwise rolled back, and the writer's chain state
/// with it (a failure that made the writer unusable stays).
pub(super) fn in_transaction<T>(
    path: &Path,
    writer: &mut Writer,
    f: impl FnOnce(&mut Writer) -> AuditResult<T>,
) -> AuditResult<T> {
    let saved = writer.chain.clone();
    if let Sink::Db(db) = &mut writer.sink {
        db.begin(path)?;
    }
    let result = f(writer);
    let Sink::Db(db) = &mut writer.sink else {
        return result;
    };
    let outcome = match result {
        Ok(value) => db.commit(path).map(|()| value),
        Err(e) => {
            db.rollback();
            Err(e)
        }
    };
    if outcome.is_err() {
        let broken = writer.chain.broken.take();
        writer.chain = saved;
        writer.chain.broken = broken.or(writer.chain.broken.take());
        writer.chain.pending_witness = None;
    }
    outcome
}

/// The rows' lines in `seq` order, read in pages; a row whose `seq` is not its position (a
/// row deleted before it, or renumbered) is a read error.
pub(super) struct RowLines<'a> {
    client: &'a mut Client,
    /// The `seq` of the last row returned.
    after: i64,
    /// The last `seq` to read.
    upto: i64,
    page: std::vec::IntoIter<(i64, String)>,
    done: bool,
}

impl<'a> RowLines<'a> {
    fn new(client: &'a mut Client, after: i64, upto: i64) -> Self {
        Self {
            client,
            after,
            upto,
            page: Vec::new().into_iter(),
            done: false,
        }
    }

    fn fetch(&mut self) -> Result<Vec<(i64, String)>, postgres::Error> {
        let rows = self.client.query(
            "SELECT seq, line FROM audit.log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
            &[&self.after, &self.upto, &PAGE_ROWS],
        )?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}

impl LineSource for RowLines<'_> {
    fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<LineRead> {
        buf.clear();
        loop {
            if let Some((seq, line)) = self.page.next() {
                let position = self.after + 1;
                if seq != position {
                    return Err(io::Error::other(format!(
                        "the row at position {position} has seq {seq}: rows were deleted or renumbered"
                    )));
                }
                self.after = seq;
                if line.len() > MAX_LINE_BYTES {
                    return Ok(LineRead::TooLong);
                }
                buf.extend_from_slice(line.as_bytes());
                return Ok(LineRead::Line { terminated: true });
            }
            if self.done || self.after >= self.upto {
                return Ok(LineRead::Eof);
            }
            let rows = self.fetch().map_err(io::Error::other)?;
            self.done = rows.is_empty();
            self.page = rows.into_iter();
        }
    }
}

/// [`super::verify_database_with`]'s reading of the rows.
pub(super) fn verify_rows(
    url: &str,
    trusted: Option<&VerifyingKey>,
    anchors: &[(&str, &Checkpoint)],
) -> Result<VerifyReport, VerifyFailure> {
    let unreadable = |reason: String| VerifyFailure {
        line: 1,
        seq: None,
        kind: FailureKind::Chain,
        reason,
    };
    let config: Config = url.parse().map_err(|e| {
        unreadable(format!(
            "SAFERPLACES_DATABASE_URL is not a valid connection string: {e}"
        ))
    })?;
    let target = describe(&config);
    let mut client = config
        .connect(NoTls)
        .map_err(|e| unreadable(format!("cannot connect to PostgreSQL at {target}: {e}")))?;
    let exists: bool = client
        .query_one("SELECT to_regclass('audit.log') IS NOT NULL", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|e| {
            unreadable(format!(
                "cannot look for the table audit.log in {target}: {e}{}",
                crate::store::postgres::server_message(&e)
            ))
        })?;
    if !exists {
        if let Some((who, cp)) = anchors.first() {
            return Err(VerifyFailure {
                line: 1,
                seq: None,
                kind: FailureKind::Deleted,
                reason: format!(
                    "the table audit.log does not exist in {target}, but {who} holds a signed checkpoint covering {} lines",
                    cp.count
                ),
            });
        }
        return Ok(VerifyReport::empty());
    }
    verify_lines(
        &mut RowLines::new(&mut client, 0, i64::MAX),
        trusted,
        anchors,
    )
}
