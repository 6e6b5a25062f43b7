//! Settings: defaults, then `SAFERPLACES_*` environment variables, then CLI flags (style.md
//! rule 5). Nothing outside this module reads the environment; [`Env`] lets tests fake it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// A settings value was invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable or flag held a value of the wrong form.
    #[error("{name}={value:?}: {reason}")]
    Invalid {
        /// The variable or flag.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias for configuration.
pub type ConfigResult<T> = Result<T, ConfigError>;

/// Where settings come from.
pub trait Env {
    /// The value of variable `key`, if set and valid Unicode.
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEnv;

impl Env for OsEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl<S: std::hash::BuildHasher> Env for std::collections::HashMap<&str, &str, S> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).map(|v| (*v).to_owned())
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A PostgreSQL connection string (`SAFERPLACES_DATABASE_URL`), which may hold a password:
/// its `Debug` form never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The connection string itself, for the driver only (never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

/// Connection limits of the server (issue 14, point 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Seconds a client has to send a whole request head, counted from the connection's
    /// opening or the first byte of a later request (`SAFERPLACES_HEADER_TIMEOUT_SECS`,
    /// default 10, at least 1).
    pub header_timeout_secs: u32,
    /// Seconds a kept-alive connection may wait for its next request
    /// (`SAFERPLACES_IDLE_TIMEOUT_SECS`, default 30, at least 1).
    pub idle_timeout_secs: u32,
    /// Most connections served at once (`SAFERPLACES_MAX_CONNECTIONS`, at least 1); `None`
    /// derives it from the open-file limit at start. Beyond it a connection gets `503`.
    pub max_connections: Option<u32>,
    /// Largest request body accepted, bytes (`SAFERPLACES_BODY_LIMIT_BYTES`, default 1 MiB);
    /// a longer declared body gets `413`.
    pub body_limit_bytes: u32,
    /// Seconds a request may run before it is answered `408` and its computation cancelled
    /// (`SAFERPLACES_REQUEST_TIMEOUT_SECS`, default 30, at least 1).
    pub request_timeout_secs: u32,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_timeout_secs: 10,
            idle_timeout_secs: 30,
            max_connections: None,
            body_limit_bytes: 1 << 20,
            request_timeout_secs: 30,
        }
    }
}

/// Limits of the admission layer of expensive computations (issue 14, point 1;
/// `api::admission`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionSettings {
    /// Computations running at once per disclosure class.
    pub workers_per_class: u32,
    /// Requests waiting for a worker per disclosure class; beyond it `503`.
    pub queue_per_class: u32,
    /// Memory all running computations may hold together, MiB.
    pub memory_total_mib: u32,
    /// Memory one computation may hold, MiB; a larger estimate is refused (`422`).
    pub memory_per_computation_mib: u32,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        Self {
            workers_per_class: 2,
            queue_per_class: 64,
            memory_total_mib: 1024,
            memory_per_computation_mib: 512,
        }
    }
}

/// Validated settings for every command.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free port).
    pub addr: SocketAddr,
    /// Directory of the embedded store, audit log and caches.
    pub data_dir: PathBuf,
    /// Built web app to serve (`web/dist`).
    pub web_dir: PathBuf,
    /// Boundary definitions (`geodata/`).
    pub geodata_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// Directory of the audit log (`SAFERPLACES_AUDIT_DIR`, default `<data_dir>/audit`). One
    /// process writes one log.
    pub audit_dir: PathBuf,
    /// A fixed "today" (`SAFERPLACES_TODAY`, YYYY-MM-DD) for tests and demonstrations of
    /// review dates and MACE windows; `None` uses the system clock.
    pub today: Option<crate::domain::Day>,
    /// Days after `review_due` before unreviewed entries are erased
    /// (`SAFERPLACES_RETENTION_GRACE_DAYS`, default 30).
    pub retention_grace_days: u16,
    /// Disclosure thresholds (`SAFERPLACES_DISCLOSURE_MIN_COUNT`,
    /// `SAFERPLACES_DISCLOSURE_MIN_COUNT_CHILDREN`, `SAFERPLACES_DISCLOSURE_ROUNDING`), never
    /// weaker than the floors in safeguards.md.
    pub disclosure: crate::safeguards::disclosure::DisclosurePolicy,
    /// The Ed25519 key that signs audit checkpoints (`SAFERPLACES_AUDIT_KEY_FILE`, default
    /// `<data_dir>.audit-key` beside the data directory; generated with mode 0600 when absent;
    /// its public key is `<file>.pub`). Never inside the data or audit directory.
    pub audit_key_file: PathBuf,
    /// Where the latest signed checkpoint is also written (`SAFERPLACES_AUDIT_WITNESS_DIR`,
    /// default `<data_dir>.audit-witness` beside the data directory, or `<audit_dir>.witness`
    /// beside an audit directory set with `SAFERPLACES_AUDIT_DIR`).
    pub audit_witness_dir: PathBuf,
    /// A checkpoint follows at most this many audit records
    /// (`SAFERPLACES_AUDIT_CHECKPOINT_EVERY`, default 1000, at least 1).
    pub audit_checkpoint_every: u32,
    /// A checkpoint follows at most this many seconds after the first record it covers
    /// (`SAFERPLACES_AUDIT_CHECKPOINT_SECS`, default 60, at least 1).
    pub audit_checkpoint_secs: u32,
    /// Memory for encoded tiles, MiB (`SAFERPLACES_TILE_CACHE_MB`, default 256; 0 turns the
    /// tile cache off, as the uncached benchmarks do).
    pub tile_cache_mb: u32,
    /// Anomaly limits on person-level access and refusals (issue 12, point 2):
    /// `SAFERPLACES_SUBJECTS_PER_HOUR` (50), `SAFERPLACES_BREAK_GLASS_PER_DAY` (3),
    /// `SAFERPLACES_REFUSALS_PER_MINUTE` (30), `SAFERPLACES_REFUSAL_COALESCE_MS` (5,000).
    pub budgets: crate::safeguards::monitor::Budgets,
    /// Information sharing agreements (`SAFERPLACES_SHARING_AGREEMENTS`, default
    /// `<geodata dir>/sharing_agreements.json`; S20).
    pub sharing_agreements: PathBuf,
    /// The deployment's own controller (`SAFERPLACES_CONTROLLER`): people and links it
    /// imports need no sharing agreement. Unset, every people or links import names one.
    pub controller: Option<String>,
    /// Header-read and idle timeouts, connection cap and body limit of the server.
    pub connections: ConnectionSettings,
    /// Workers, queue and memory budget of expensive computations
    /// (`SAFERPLACES_ANALYSIS_WORKERS` per disclosure class, default 2;
    /// `SAFERPLACES_ANALYSIS_QUEUE` per class, default 64; `SAFERPLACES_ANALYSIS_MEMORY_MB` for
    /// all of them together, default 1024, one computation at most half of it).
    pub admission: AdmissionSettings,
    /// `SAFERPLACES_DATABASE_URL`: a PostgreSQL database (issue 16). This release only
    /// migrates it (`saferplaces migrate`); unset or empty, the embedded SQLite store is used.
    pub database_url: Option<DatabaseUrl>,
}

/// Command-line overrides; `None` keeps the environment's or the default value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--addr`.
    pub addr: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

fn parse_addr(name: &'static str, value: &str) -> ConfigResult<SocketAddr> {
    value
        .parse()
        .map_err(|e: std::net::AddrParseError| ConfigError::Invalid {
            name,
            value: value.to_owned(),
            reason: format!("{e}; expected HOST:PORT such as 127.0.0.1:8080"),
        })
}

impl Settings {
    /// Where every command and the server take "today" from: the day fixed by
    /// `SAFERPLACES_TODAY`, else the system's UTC date. Review dates (S18), sharing
    /// agreements (S20) and the retention sweep are all checked against it.
    pub fn clock(&self) -> crate::api::Clock {
        self.today
            .map_or(crate::api::Clock::System, crate::api::Clock::Fixed)
    }

    /// Loads settings from `env` with `overrides` applied last.
    #[expect(
        clippy::too_many_lines,
        reason = "table-like: one block per setting (override, environment, default, check), in the order of the README's environment table"
    )]
    pub fn load(env: &dyn Env, overrides: &Overrides) -> ConfigResult<Self> {
        let addr = match (&overrides.addr, env.var("SAFERPLACES_ADDR")) {
            (Some(a), _) => parse_addr("--addr", a)?,
            (None, Some(a)) => parse_addr("SAFERPLACES_ADDR", &a)?,
            (None, None) => parse_addr("default", DEFAULT_ADDR)?,
        };
        let path = |key: &str, default: &str| {
            PathBuf::from(env.var(key).unwrap_or_else(|| default.to_owned()))
        };
        let data_dir = overrides
            .data_dir
            .clone()
            .unwrap_or_else(|| path("SAFERPLACES_DATA_DIR", "./data"));
        let log_format = match env.var("SAFERPLACES_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "SAFERPLACES_LOG_FORMAT",
                    value: other.to_owned(),
                    reason: "expected pretty or json".to_owned(),
                });
            }
        };
        let today = env
            .var("SAFERPLACES_TODAY")
            .map(|v| {
                v.parse::<crate::domain::Day>()
                    .map_err(|e| ConfigError::Invalid {
                        name: "SAFERPLACES_TODAY",
                        value: v.clone(),
                        reason: e.to_string(),
                    })
            })
            .transpose()?;
        let number = |name: &'static str, default: u32| -> ConfigResult<u32> {
            env.var(name).map_or(Ok(default), |v| {
                v.parse::<u32>().map_err(|e| ConfigError::Invalid {
                    name,
                    value: v.clone(),
                    reason: e.to_string(),
                })
            })
        };
        let grace = number("SAFERPLACES_RETENTION_GRACE_DAYS", 30)?;
        let retention_grace_days = u16::try_from(grace).map_err(|e| ConfigError::Invalid {
            name: "SAFERPLACES_RETENTION_GRACE_DAYS",
            value: grace.to_string(),
            reason: e.to_string(),
        })?;
        let tile_cache_mb = number("SAFERPLACES_TILE_CACHE_MB", 256)?;
        let defaults = crate::safeguards::disclosure::DisclosurePolicy::default();
        let disclosure = crate::safeguards::disclosure::DisclosurePolicy {
            min_count_general: number(
                "SAFERPLACES_DISCLOSURE_MIN_COUNT",
                defaults.min_count_general,
            )?,
            min_count_children: number(
                "SAFERPLACES_DISCLOSURE_MIN_COUNT_CHILDREN",
                defaults.min_count_children,
            )?,
            rounding_base: number("SAFERPLACES_DISCLOSURE_ROUNDING", defaults.rounding_base)?,
        };
        disclosure.validate().map_err(|e| ConfigError::Invalid {
            name: "SAFERPLACES_DISCLOSURE_*",
            value: format!("{disclosure:?}"),
            reason: e.to_string(),
        })?;
        let audit_dir_set = env.var("SAFERPLACES_AUDIT_DIR");
        let audit_witness_dir = match (env.var("SAFERPLACES_AUDIT_WITNESS_DIR"), &audit_dir_set) {
            (Some(w), _) => PathBuf::from(w),
            (None, Some(a)) => sibling("SAFERPLACES_AUDIT_DIR", Path::new(a), ".witness")?,
            (None, None) => sibling("SAFERPLACES_DATA_DIR", &data_dir, ".audit-witness")?,
        };
        let audit_dir = audit_dir_set.map_or_else(|| data_dir.join("audit"), PathBuf::from);
        let audit_key_file = match env.var("SAFERPLACES_AUDIT_KEY_FILE") {
            Some(k) => PathBuf::from(k),
            None => sibling("SAFERPLACES_DATA_DIR", &data_dir, ".audit-key")?,
        };
        for (dir, what) in [(&data_dir, "data"), (&audit_dir, "audit")] {
            if is_inside(&audit_key_file, dir) {
                return Err(ConfigError::Invalid {
                    name: "SAFERPLACES_AUDIT_KEY_FILE",
                    value: audit_key_file.display().to_string(),
                    reason: format!(
                        "the audit signing key must be kept outside the {what} directory {}",
                        dir.display()
                    ),
                });
            }
        }
        let at_least_one = |name: &'static str, default: u32| -> ConfigResult<u32> {
            let n = number(name, default)?;
            if n == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    value: n.to_string(),
                    reason: "must be at least 1".to_owned(),
                });
            }
            Ok(n)
        };
        let audit_checkpoint_every = at_least_one("SAFERPLACES_AUDIT_CHECKPOINT_EVERY", 1000)?;
        let audit_checkpoint_secs = at_least_one("SAFERPLACES_AUDIT_CHECKPOINT_SECS", 60)?;
        let budget_defaults = crate::safeguards::monitor::Budgets::default();
        let budgets = crate::safeguards::monitor::Budgets {
            subjects_per_hour: number(
                "SAFERPLACES_SUBJECTS_PER_HOUR",
                budget_defaults.subjects_per_hour,
            )?,
            break_glass_per_day: number(
                "SAFERPLACES_BREAK_GLASS_PER_DAY",
                budget_defaults.break_glass_per_day,
            )?,
            refusals_per_minute: number(
                "SAFERPLACES_REFUSALS_PER_MINUTE",
                budget_defaults.refusals_per_minute,
            )?,
            coalesce_ms: u64::from(number(
                "SAFERPLACES_REFUSAL_COALESCE_MS",
                budget_defaults.coalesce_ms as u32,
            )?),
        };
        let connection_defaults = ConnectionSettings::default();
        let connections = ConnectionSettings {
            header_timeout_secs: at_least_one(
                "SAFERPLACES_HEADER_TIMEOUT_SECS",
                connection_defaults.header_timeout_secs,
            )?,
            idle_timeout_secs: at_least_one(
                "SAFERPLACES_IDLE_TIMEOUT_SECS",
                connection_defaults.idle_timeout_secs,
            )?,
            max_connections: match env.var("SAFERPLACES_MAX_CONNECTIONS") {
                Some(_) => Some(at_least_one("SAFERPLACES_MAX_CONNECTIONS", 1)?),
                None => None,
            },
            body_limit_bytes: number(
                "SAFERPLACES_BODY_LIMIT_BYTES",
                connection_defaults.body_limit_bytes,
            )?,
            request_timeout_secs: at_least_one(
                "SAFERPLACES_REQUEST_TIMEOUT_SECS",
                connection_defaults.request_timeout_secs,
            )?,
        };
        let admission_defaults = AdmissionSettings::default();
        let memory_total_mib = at_least_one(
            "SAFERPLACES_ANALYSIS_MEMORY_MB",
            admission_defaults.memory_total_mib,
        )?;
        let admission = AdmissionSettings {
            workers_per_class: at_least_one(
                "SAFERPLACES_ANALYSIS_WORKERS",
                admission_defaults.workers_per_class,
            )?,
            queue_per_class: number(
                "SAFERPLACES_ANALYSIS_QUEUE",
                admission_defaults.queue_per_class,
            )?,
            memory_total_mib,
            // One computation may hold half of the budget of all of them.
            memory_per_computation_mib: (memory_total_mib / 2).max(1),
        };
        let geodata_dir = path("SAFERPLACES_GEODATA_DIR", "./geodata");
        let sharing_agreements = env.var("SAFERPLACES_SHARING_AGREEMENTS").map_or_else(
            || geodata_dir.join(crate::safeguards::sharing::AGREEMENTS_FILE_NAME),
            PathBuf::from,
        );
        Ok(Self {
            database_url: env
                .var("SAFERPLACES_DATABASE_URL")
                .filter(|u| !u.trim().is_empty())
                .map(DatabaseUrl),
            admission,
            connections,
            sharing_agreements,
            controller: env.var("SAFERPLACES_CONTROLLER").filter(|c| !c.is_empty()),
            budgets,
            audit_key_file,
            audit_witness_dir,
            audit_checkpoint_every,
            audit_checkpoint_secs,
            audit_dir,
            today,
            retention_grace_days,
            disclosure,
            tile_cache_mb,
            addr,
            data_dir,
            web_dir: path("SAFERPLACES_WEB_DIR", "./web/dist"),
            geodata_dir,
            log_format,
        })
    }
}

/// `<dir><suffix>` beside `dir`, e.g. `./data` and `.audit-key` give `./data.audit-key`.
fn sibling(name: &'static str, dir: &Path, suffix: &str) -> ConfigResult<PathBuf> {
    let absolute = std::path::absolute(dir).map_err(|e| ConfigError::Invalid {
        name,
        value: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let normal: PathBuf = absolute.components().collect();
    let Some(file_name) = normal.file_name() else {
        return Err(ConfigError::Invalid {
            name,
            value: dir.display().to_string(),
            reason: format!("has no name to put {suffix} beside; set the path explicitly"),
        });
    };
    let mut sibling = file_name.to_owned();
    sibling.push(suffix);
    Ok(normal.with_file_name(sibling))
}

/// Whether `path` is `dir` or inside it, comparing absolute paths and, where they exist,
/// paths with symbolic links resolved.
fn is_inside(path: &Path, dir: &Path) -> bool {
    let absolute = |p: &Path| -> PathBuf {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .components()
            .collect()
    };
    // Resolve the longest existing ancestor, keep the rest as written.
    let resolved = |p: &Path| -> PathBuf {
        let p = absolute(p);
        let mut rest = Vec::new();
        let mut head = p.as_path();
        loop {
            if let Ok(real) = head.canonicalize() {
                return rest.iter().rev().fold(real, |acc: PathBuf, c| acc.join(c));
            }
            match (head.parent(), head.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_owned());
                    head = parent;
                }
                _ => return p,
            }
        }
    };
    absolute(path).starts_with(absolute(dir)) || resolved(path).starts_with(resolved(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_database_url_is_read_and_never_shown_by_debug() {
        let env = HashMap::from([(
            "SAFERPLACES_DATABASE_URL",
            "postgres://app:hunter22@db/saferplaces",
        )]);
        let s = Settings::load(&env, &Overrides::default()).unwrap();
        let url = s.database_url.as_ref().unwrap();
        assert_eq!(url.expose(), "postgres://app:hunter22@db/saferplaces");
        assert!(!format!("{s:?}").contains("hunter22"));
        let empty = HashMap::from([("SAFERPLACES_DATABASE_URL", " ")]);
        assert!(
            Settings::load(&empty, &Overrides::default())
                .unwrap()
                .database_url
                .is_none()
        );
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::load(&HashMap::new(), &Overrides::default()).unwrap();
        assert_eq!(s.addr.to_string(), DEFAULT_ADDR);
        assert_eq!(s.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn flags_override_the_environment_which_overrides_defaults() {
        let env = HashMap::from([
            ("SAFERPLACES_ADDR", "127.0.0.1:9000"),
            ("SAFERPLACES_DATA_DIR", "/tmp/x"),
        ]);
        let s = Settings::load(&env, &Overrides::default()).unwrap();
        assert_eq!(s.addr.port(), 9000);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        let o = Overrides {
            addr: Some("127.0.0.1:0".to_owned()),
            data_dir: Some("/tmp/y".into()),
        };
        let s = Settings::load(&env, &o).unwrap();
        assert_eq!(s.addr.port(), 0);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/y"));
    }

    #[test]
    fn disclosure_thresholds_weaker_than_the_floors_are_refused() {
        let weak = HashMap::from([("SAFERPLACES_DISCLOSURE_MIN_COUNT", "3")]);
        assert!(Settings::load(&weak, &Overrides::default()).is_err());
        let stricter = HashMap::from([("SAFERPLACES_DISCLOSURE_MIN_COUNT", "8")]);
        assert_eq!(
            Settings::load(&stricter, &Overrides::default())
                .unwrap()
                .disclosure
                .min_count_general,
            8
        );
    }

    #[test]
    fn a_fixed_today_must_be_a_date() {
        let env = HashMap::from([("SAFERPLACES_TODAY", "tomorrow")]);
        assert!(Settings::load(&env, &Overrides::default()).is_err());
        let env = HashMap::from([("SAFERPLACES_TODAY", "2026-11-22")]);
        assert_eq!(
            Settings::load(&env, &Overrides::default())
                .unwrap()
                .today
                .unwrap()
                .to_string(),
            "2026-11-22"
        );
    }

    #[test]
    fn the_clock_is_the_fixed_today_when_set_and_the_system_date_otherwise() {
        let env = HashMap::from([("SAFERPLACES_TODAY", "2090-01-01")]);
        let fixed = Settings::load(&env, &Overrides::default()).unwrap().clock();
        assert_eq!(
            fixed,
            crate::api::Clock::Fixed("2090-01-01".parse().unwrap())
        );
        let unset = Settings::load(&HashMap::new(), &Overrides::default()).unwrap();
        assert_eq!(unset.clock(), crate::api::Clock::System);
    }

    #[test]
    fn the_audit_key_and_witness_default_beside_the_data_dir_and_never_inside_it() {
        let o = Overrides {
            data_dir: Some("/srv/sp/data".into()),
            ..Overrides::default()
        };
        let s = Settings::load(&HashMap::new(), &o).unwrap();
        assert_eq!(s.audit_key_file, PathBuf::from("/srv/sp/data.audit-key"));
        assert_eq!(
            s.audit_witness_dir,
            PathBuf::from("/srv/sp/data.audit-witness")
        );
        assert_eq!(
            (s.audit_checkpoint_every, s.audit_checkpoint_secs),
            (1000, 60)
        );
        let own_audit = HashMap::from([("SAFERPLACES_AUDIT_DIR", "/var/log/sp-audit/")]);
        let s = Settings::load(&own_audit, &o).unwrap();
        assert_eq!(
            s.audit_witness_dir,
            PathBuf::from("/var/log/sp-audit.witness")
        );
        for inside in [
            "/srv/sp/data/audit.key",
            "/srv/sp/data/../data/keys/k",
            "/var/log/sp-audit/k",
        ] {
            let env = HashMap::from([
                ("SAFERPLACES_AUDIT_KEY_FILE", inside),
                ("SAFERPLACES_AUDIT_DIR", "/var/log/sp-audit"),
            ]);
            let err = Settings::load(&env, &o).unwrap_err().to_string();
            assert!(err.contains("outside the"), "{inside}: {err}");
        }
        let zero = HashMap::from([("SAFERPLACES_AUDIT_CHECKPOINT_EVERY", "0")]);
        assert!(Settings::load(&zero, &o).is_err());
    }

    #[test]
    fn a_key_reached_through_a_symbolic_link_into_the_data_dir_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::symlink(&data, root.path().join("keys")).unwrap();
        let key = root.path().join("keys/audit.key");
        let env = HashMap::from([("SAFERPLACES_AUDIT_KEY_FILE", key.to_str().unwrap())]);
        let o = Overrides {
            data_dir: Some(data),
            ..Overrides::default()
        };
        assert!(Settings::load(&env, &o).is_err());
    }

    #[test]
    fn connection_limits_have_defaults_and_refuse_zero_timeouts_naming_the_variable() {
        let s = Settings::load(&HashMap::new(), &Overrides::default()).unwrap();
        assert_eq!(s.connections, ConnectionSettings::default());
        let env = HashMap::from([
            ("SAFERPLACES_HEADER_TIMEOUT_SECS", "2"),
            ("SAFERPLACES_IDLE_TIMEOUT_SECS", "5"),
            ("SAFERPLACES_MAX_CONNECTIONS", "20"),
            ("SAFERPLACES_BODY_LIMIT_BYTES", "1024"),
        ]);
        let c = Settings::load(&env, &Overrides::default())
            .unwrap()
            .connections;
        assert_eq!(
            (
                c.header_timeout_secs,
                c.idle_timeout_secs,
                c.max_connections,
                c.body_limit_bytes
            ),
            (2, 5, Some(20), 1024)
        );
        for (name, value) in [
            ("SAFERPLACES_HEADER_TIMEOUT_SECS", "0"),
            ("SAFERPLACES_IDLE_TIMEOUT_SECS", "0"),
            ("SAFERPLACES_MAX_CONNECTIONS", "0"),
            ("SAFERPLACES_MAX_CONNECTIONS", "many"),
            ("SAFERPLACES_BODY_LIMIT_BYTES", "-1"),
        ] {
            let err = Settings::load(&HashMap::from([(name, value)]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("{name}=")), "{err}");
        }
    }

    #[test]
    fn a_bad_address_names_its_source() {
        let env = HashMap::from([("SAFERPLACES_ADDR", "localhost")]);
        let err = Settings::load(&env, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("SAFERPLACES_ADDR="), "{err}");
    }
}
