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
        Ok(Self {
            addr,
            data_dir,
            web_dir: path("SAFERPLACES_WEB_DIR", "./web/dist"),
            geodata_dir: path("SAFERPLACES_GEODATA_DIR", "./geodata"),
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
    fn a_bad_address_names_its_source() {
        let env = HashMap::from([("SAFERPLACES_ADDR", "localhost")]);
        let err = Settings::load(&env, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("SAFERPLACES_ADDR="), "{err}");
    }
}
