//! The change feed's notifications (issue 16, point 4): every write transaction sends
//! `NOTIFY saferplaces_changes` with its feed row ([`super::record_change`]), delivered on
//! commit; each server listens on its own connection and wakes its feed job, which then reads
//! the changes since its sequence number. Notifications are a shortcut, not the mechanism: the
//! job polls the feed's newest sequence number every [`crate::jobs::RELOAD_POLL`] anyway, so a
//! notification lost while the listener reconnects delays a change by at most one poll.

use std::sync::Arc;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::{Client, Config, NoTls};

use super::CHANGES_CHANNEL;

/// How long the listener waits after its connection fails before connecting again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// How long one wait for a notification lasts before the connection is checked.
const WAIT: Duration = Duration::from_secs(5);

/// Starts a thread that listens on [`CHANGES_CHANNEL`] through its own connection to `url`
/// and calls `wake.notify_one()` for each notification, reconnecting (with a warning) when
/// the connection fails. The thread lives as long as the process.
pub fn listen_for_changes(url: &str, wake: Arc<tokio::sync::Notify>) {
    let config: Result<Config, _> = url.parse();
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for changes: bad connection string; polling only");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("pg-listen".to_owned())
        .spawn(move || {
            loop {
                match listen(&config, &wake) {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(
                        error = %e,
                        "listening for PostgreSQL change notifications failed; polling until reconnected"
                    ),
                }
                std::thread::sleep(RECONNECT_AFTER);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the change listener; polling only");
    }
}

/// Listens until the connection fails.
fn listen(config: &Config, wake: &tokio::sync::Notify) -> Result<(), postgres::Error> {
    let mut client: Client = config.connect(NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))?;
    tracing::info!(
        channel = CHANGES_CHANNEL,
        "listening for change notifications"
    );
    // A change committed while the listener was away is picked up by the poll; wake once so
    // it is read now.
    wake.notify_one();
    loop {
        {
            let mut notifications = client.notifications();
            let mut waiting = notifications.timeout_iter(WAIT);
            while waiting.next()?.is_some() {
                wake.notify_one();
            }
        }
        if client.is_closed() {
            return Ok(());
        }
    }
}
