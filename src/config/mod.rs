//! Settings: defaults, then `SAFERPLACES_*` environment variables, then CLI flags (style.md
//! rule 5). Nothing outside this module reads the environment; [`Env`] lets tests fake it.

use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Loads settings from `env` with `overrides` applied last.
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
        let audit_dir = env
            .var("SAFERPLACES_AUDIT_DIR")
            .map_or_else(|| data_dir.join("audit"), PathBuf::from);
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
        let geodata_dir = path("SAFERPLACES_GEODATA_DIR", "./geodata");
        let sharing_agreements = env.var("SAFERPLACES_SHARING_AGREEMENTS").map_or_else(
            || geodata_dir.join(crate::safeguards::sharing::AGREEMENTS_FILE_NAME),
            PathBuf::from,
        );
        Ok(Self {
            sharing_agreements,
            controller: env.var("SAFERPLACES_CONTROLLER").filter(|c| !c.is_empty()),
            budgets,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
    fn a_bad_address_names_its_source() {
        let env = HashMap::from([("SAFERPLACES_ADDR", "localhost")]);
        let err = Settings::load(&env, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("SAFERPLACES_ADDR="), "{err}");
    }
}
