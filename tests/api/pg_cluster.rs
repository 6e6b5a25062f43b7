//! A throwaway PostgreSQL cluster for the tests (issue 16, point 6): `initdb` into a short
//! temporary directory under /tmp, started with `pg_ctl` on a Unix socket in that directory
//! (no TCP), trust authentication; stopped and removed on drop.
//!
//! `PgCluster::start` returns `None`, printing why, when PostgreSQL's server binaries or the
//! PostGIS extension files are absent (`.ci/run` installs both). `initdb` refuses to run as
//! root, so as root (CI, this machine) the cluster runs as the `postgres` system user created by
//! Debian's package, through `runuser`, in a directory it owns.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster.
pub struct PgCluster {
    /// The directory: `data/` (the cluster), the socket and `log`.
    dir: tempfile::TempDir,
    /// The server binaries' directory.
    bin: PathBuf,
    /// The socket's port number.
    port: u16,
    /// Run the server's tools as `postgres` (the tests run as root).
    as_postgres: bool,
}

impl PgCluster {
    /// Starts a fresh cluster, or `None` (with the reason printed) without PostgreSQL and
    /// PostGIS. Panics, with the server's log, when they are present but the cluster fails.
    pub fn start() -> Option<Self> {
        let Some(bin) = server_bin() else {
            eprintln!(
                "skipped: no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in \
                 /usr/lib/postgresql/15/bin; .ci/run installs postgresql-15"
            );
            return None;
        };
        let control = sharedir(&bin).join("extension/postgis.control");
        if !control.is_file() {
            eprintln!(
                "skipped: PostGIS is not installed ({} is absent); .ci/run installs \
                 postgresql-15-postgis-3",
                control.display()
            );
            return None;
        }
        // Unix socket paths are limited to about 107 bytes: keep the directory short.
        let dir = tempfile::Builder::new()
            .prefix("sp-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        let as_postgres = rustix::process::geteuid().is_root();
        if as_postgres {
            let (uid, gid) = (id_of("-u"), id_of("-g"));
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run_tool(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--data-checksums",
                "--no-sync",
                "--no-instructions",
            ],
        );
        let options = format!(
            "-c listen_addresses='' -k {} -p {port} -c fsync=off",
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("log");
        cluster.run_tool(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-w",
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "start",
            ],
        );
        Some(cluster)
    }

    /// Connection string of `dbname` as `user`.
    pub fn url_as(&self, user: &str, dbname: &str) -> String {
        format!(
            "host={} port={} user={user} dbname={dbname}",
            self.dir.path().display(),
            self.port
        )
    }

    /// Connection string of the `postgres` database as the superuser.
    pub fn url(&self) -> String {
        self.url_as("postgres", "postgres")
    }

    /// A connection (as `user`, to `dbname`).
    pub fn client_as(&self, user: &str, dbname: &str) -> postgres::Client {
        postgres::Client::connect(&self.url_as(user, dbname), postgres::NoTls).unwrap()
    }

    /// A superuser connection to the `postgres` database.
    pub fn client(&self) -> postgres::Client {
        self.client_as("postgres", "postgres")
    }

    /// The socket directory and port, for `ogrinfo`'s `PG:` strings.
    pub fn socket(&self) -> (&Path, u16) {
        (self.dir.path(), self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one server tool (as `postgres` when root), panicking with its output and the
    /// server log when it fails.
    fn run_tool(&self, tool: &str, args: &[&str]) {
        let out = self.tool(tool, args).output().unwrap();
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            panic!(
                "{tool} {args:?} failed ({}): {}{}\nserver log:\n{log}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn tool(&self, tool: &str, args: &[&str]) -> Command {
        let program = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        // The `postgres` user may not be able to enter the test's working directory.
        cmd.args(args).current_dir(self.dir.path());
        cmd
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .tool(
                "pg_ctl",
                &["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"],
            )
            .output();
        // The directory itself goes with `self.dir`.
    }
}

/// The directory holding `initdb` and `pg_ctl`: PATH first (`.ci/run` puts PostgreSQL 15's
/// there), then Debian's PostgreSQL 15 directory.
fn server_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/lib/postgresql/15/bin")])
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        // Debian links them into /usr/local/bin or elsewhere: use the real directory, where
        // `postgres` and `pg_config` sit beside them.
        .map(|d| {
            d.join("initdb")
                .canonicalize()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or(d)
        })
}

/// The share directory of the server whose binaries are in `bin` (extension control files
/// are in its `extension/`): `pg_config --sharedir` when present, else Debian's layout.
fn sharedir(bin: &Path) -> PathBuf {
    if let Ok(out) = Command::new(bin.join("pg_config"))
        .arg("--sharedir")
        .output()
        && out.status.success()
    {
        return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    }
    let major = Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let v = String::from_utf8_lossy(&o.stdout).into_owned();
            v.split_whitespace()
                .last()
                .and_then(|n| n.split('.').next().map(str::to_owned))
        })
        .unwrap_or_else(|| "15".to_owned());
    PathBuf::from(format!("/usr/share/postgresql/{major}"))
}

/// The `postgres` user's uid (`-u`) or gid (`-g`).
fn id_of(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "running as root needs the `postgres` system user (Debian's postgresql package creates it)"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}
