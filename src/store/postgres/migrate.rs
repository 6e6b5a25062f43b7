//! Versioned migrations of the PostgreSQL schema, embedded at compile time.
//!
//! Each file of `migrations/postgres/` is listed in [`MIGRATIONS`] (a unit test checks the
//! list against the directory) and applied in order, each in its own transaction together
//! with its row in `schema_migrations(version, name, sha256, applied_at)`: a migration is
//! applied whole or not at all, and applying twice is a no-op. A session advisory lock keeps
//! two servers starting at once from applying the same migration twice. An applied migration
//! whose file has changed since (its SHA-256 differs) stops the run before anything is
//! applied: the database would otherwise hold a schema this build does not describe.

use std::fmt::Write as _;

use postgres::error::ErrorPosition;
use postgres::{Client, Config, NoTls};
use sha2::{Digest, Sha256};

use super::{PgError, PgResult};

/// One migration file, embedded.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its version, the number its file name starts with.
    pub version: i32,
    /// The file name without `.sql`, e.g. `0001_init`.
    pub name: &'static str,
    /// The file's text.
    pub sql: &'static str,
}

impl Migration {
    /// The file's path in the repository, for messages.
    pub fn file(&self) -> String {
        format!("migrations/postgres/{}.sql", self.name)
    }

    /// SHA-256 of the file's bytes, lowercase hex.
    pub fn sha256(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .fold(String::with_capacity(64), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            })
    }
}

/// The migrations, in the order they apply.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_roles",
        sql: include_str!("../../../migrations/postgres/0002_roles.sql"),
    },
    Migration {
        version: 3,
        name: "0003_audit",
        sql: include_str!("../../../migrations/postgres/0003_audit.sql"),
    },
];

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Names of the migrations applied by this run, in order (empty: it was up to date).
    pub applied: Vec<&'static str>,
    /// The database's version after the run.
    pub version: i32,
}

/// Key of the session advisory lock held while migrating ("saferplc" in ASCII).
const LOCK_KEY: i64 = 0x7361_6665_7270_6c63;

/// Connects to `url` (a libpq connection string or `postgres://` URL) and applies every
/// migration the database lacks.
///
/// # Errors
///
/// A bad connection string, an unreachable server, a server without PostGIS, a changed
/// applied migration or a newer database (nothing applied), or a failing migration (named,
/// with the server's SQLSTATE and message; the migrations before it stay applied).
pub fn migrate(url: &str) -> PgResult<MigrationReport> {
    let config: Config = url.parse().map_err(|source| PgError::Config { source })?;
    let mut client = config.connect(NoTls).map_err(|source| PgError::Connect {
        target: target(&config),
        source,
    })?;
    let query = |context| move |source| PgError::Query { context, source };
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .map_err(query("waiting for the migration lock"))?;
    // Roles are cluster-wide while the lock is per database: two databases of one cluster
    // migrating at once can both find a role absent, and the second to create it fails. Its
    // transaction rolled back; once more finds the role and skips it.
    let mut report = apply_pending(&mut client);
    for _ in 0..2 {
        if !matches!(&report, Err(e) if is_role_race(e)) {
            break;
        }
        report = apply_pending(&mut client);
    }
    // Closing the session releases the lock too; unlocking says so sooner.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .map_err(query("releasing the migration lock"));
    let report = report?;
    unlocked?;
    Ok(report)
}

/// True for a migration that failed because another database of the cluster created the same
/// role at the same moment (`unique_violation` on the roles' catalogue).
fn is_role_race(e: &PgError) -> bool {
    matches!(e, PgError::Migration { sqlstate, message, .. }
        if sqlstate == "23505" && message.contains("pg_authid_rolname_index"))
}

/// Checks the applied migrations against [`MIGRATIONS`], then applies the rest in order.
fn apply_pending(client: &mut Client) -> PgResult<MigrationReport> {
    let query = |context| move |source| PgError::Query { context, source };
    // Created only when absent: `CREATE TABLE IF NOT EXISTS` needs the right to create in
    // `public` even when the table exists, which the servers' role need not have.
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .and_then(|r| r.try_get(0))
        .map_err(query("looking for the table schema_migrations"))?;
    if !exists {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer     PRIMARY KEY,
                 name       text        NOT NULL,
                 sha256     text        NOT NULL CHECK (length(sha256) = 64),
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
            )
            .map_err(query("creating the table schema_migrations"))?;
    }
    let rows = client
        .query(
            "SELECT version, name, sha256 FROM schema_migrations ORDER BY version",
            &[],
        )
        .map_err(query("reading schema_migrations"))?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let mut version = 0;
    for row in &rows {
        let (v, name, sha): (i32, String, String) = (row.get(0), row.get(1), row.get(2));
        let Some(m) = MIGRATIONS.iter().find(|m| m.version == v) else {
            return Err(PgError::TooNew {
                version: v,
                name,
                known,
            });
        };
        let embedded = m.sha256();
        if sha != embedded {
            return Err(PgError::ChecksumMismatch {
                file: m.file(),
                applied: sha,
                embedded,
            });
        }
        version = version.max(v);
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS
        .iter()
        .filter(|m| !rows.iter().any(|r| r.get::<_, i32>(0) == m.version))
    {
        if m.version == 1 {
            require_postgis(client)?;
        }
        apply(client, m)?;
        applied.push(m.name);
        version = version.max(m.version);
    }
    Ok(MigrationReport { applied, version })
}

/// Refuses, naming the server, when the server has no PostGIS to create.
fn require_postgis(client: &mut Client) -> PgResult<()> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'),
                    version()",
            &[],
        )
        .map_err(|source| PgError::Query {
            context: "looking for the PostGIS extension",
            source,
        })?;
    if row.get::<_, bool>(0) {
        Ok(())
    } else {
        Err(PgError::PostgisMissing { server: row.get(1) })
    }
}

/// Applies one migration and records it, in one transaction.
fn apply(client: &mut Client, m: &Migration) -> PgResult<()> {
    let failed = |e: postgres::Error| migration_error(m, &e);
    let mut tx = client.transaction().map_err(failed)?;
    tx.batch_execute(m.sql).map_err(failed)?;
    tx.execute(
        "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
        &[&m.version, &m.name, &m.sha256()],
    )
    .map_err(failed)?;
    tx.commit().map_err(failed)
}

/// The error of a failed migration: the server's SQLSTATE, message, detail and hint, and the
/// line of the failing statement in the file when the server gives its position.
fn migration_error(m: &Migration, e: &postgres::Error) -> PgError {
    let Some(db) = e.as_db_error() else {
        return PgError::Migration {
            file: m.file(),
            line: None,
            sqlstate: "client".to_owned(),
            message: e.to_string(),
            detail: None,
        };
    };
    let line = match db.position() {
        Some(ErrorPosition::Original(at)) => Some(line_of(m.sql, *at)),
        _ => None,
    };
    let detail = match (db.detail(), db.hint()) {
        (Some(d), Some(h)) => Some(format!("{d}; hint: {h}")),
        (Some(d), None) => Some(d.to_owned()),
        (None, Some(h)) => Some(format!("hint: {h}")),
        (None, None) => None,
    };
    PgError::Migration {
        file: m.file(),
        line,
        sqlstate: db.code().code().to_owned(),
        message: db.message().to_owned(),
        detail,
    }
}

/// 1-based line of the 1-based character position `at` in `sql` (as the server counts).
fn line_of(sql: &str, at: u32) -> usize {
    1 + sql
        .chars()
        .take((at as usize).saturating_sub(1))
        .filter(|c| *c == '\n')
        .count()
}

/// Hosts, port and database of a connection, without user or password (for messages).
pub(super) fn target(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(dir) => dir.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "host={} port={} dbname={}",
        if hosts.is_empty() {
            "(default)".to_owned()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("(the user's name)")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_once_in_version_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| {
                std::path::Path::new(n)
                    .extension()
                    .is_some_and(|e| e == "sql")
            })
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.name))
            .collect();
        assert_eq!(files, embedded);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i32::try_from(i + 1).unwrap(), "{}", m.name);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
            assert_eq!(
                std::fs::read_to_string(dir.join(format!("{}.sql", m.name))).unwrap(),
                m.sql
            );
        }
    }

    #[test]
    fn a_checksum_is_the_sha256_of_the_file_in_hex() {
        let m = Migration {
            version: 1,
            name: "0001_x",
            sql: "abc",
        };
        assert_eq!(
            m.sha256(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_servers_position_becomes_the_line_in_the_file() {
        let sql = "-- one\nCREATE TABLE a ();\nCREATE TABLE b ();\n";
        assert_eq!(line_of(sql, 1), 1);
        assert_eq!(line_of(sql, 8), 2);
        assert_eq!(line_of(sql, 27), 3);
        assert_eq!(line_of(sql, 0), 1);
    }

    #[test]
    fn a_bad_connection_string_is_refused_naming_the_variable() {
        let err = migrate("host=/tmp port=notaport").unwrap_err();
        assert!(matches!(err, PgError::Config { .. }), "{err:?}");
        assert!(err.to_string().contains("SAFERPLACES_DATABASE_URL"));
    }

    #[test]
    fn the_target_names_hosts_port_and_database_but_never_the_password() {
        let c: Config = "postgres://alice:secret@db.example:6543/saferplaces"
            .parse()
            .unwrap();
        let t = target(&c);
        assert_eq!(t, "host=db.example port=6543 dbname=saferplaces");
        assert!(!t.contains("secret"));
    }
}
