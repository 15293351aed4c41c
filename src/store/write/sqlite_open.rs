//! Opening the SQLite writer's connection, and the thread that checkpoints
//! its WAL so that no batch's commit pays for the copy.

use std::str::FromStr;
use std::time::Duration;

use rusqlite::Connection;
use sqlx::sqlite::SqliteConnectOptions;

use tokio::sync::{mpsc, oneshot};

use super::sqlite::SqliteWriter;
use super::{Batches, Job, run_writer};
use crate::store::StoreError;

/// Starts the one SQLite writer on this thread (see `Writes::start`).
pub(super) fn run(
    url: &str,
    mut receivers: Vec<mpsc::Receiver<Job>>,
    batches: Batches,
    timeout: Duration,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let writer = match SqliteWriter::open(url, timeout) {
        Ok(writer) => SqliteWriter {
            notify: batches.notify,
            ..writer
        },
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let (Some(queue), true) = (receivers.pop(), receivers.is_empty()) else {
        let _ = ready.send(Err(StoreError::Unavailable(
            "SQLite runs exactly one writer".to_owned(),
        )));
        return;
    };
    // The writer never awaits anything but its queue: a current-thread
    // runtime on this thread is all it needs.
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(StoreError::Unavailable(format!("writer runtime: {e}"))));
            return;
        }
    };
    // Dropped when the writer stops, which stops the checkpointer too.
    let _checkpointer = writer.hand_checkpoints_to_a_thread(url, timeout);
    let _ = ready.send(Ok(()));
    runtime.block_on(run_writer(writer, queue, batches));
}

/// Statements kept prepared: every statement this writer runs fits.
const STATEMENT_CACHE: usize = 64;

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

impl SqliteWriter {
    /// `busy`: how long to wait for another process's write lock, so the
    /// writer never hangs on one.
    pub(super) fn open(url: &str, busy: Duration) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?;
        let conn = Connection::open(options.get_filename())?;
        conn.busy_timeout(busy)?;
        // FULL: a 2xx promises the callback survives a power cut, not only a crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            conn,
            notify: false,
        })
    }

    /// SQLite checkpoints the WAL inside the commit that crosses 1,000
    /// pages, fsyncs included: the batch that happens to cross it waits for
    /// the whole copy. A thread of its own checkpoints instead (PASSIVE:
    /// never blocks the writer), on the other core. Should it fail to start,
    /// the writer keeps checkpointing itself. Returns what keeps it running.
    pub(super) fn hand_checkpoints_to_a_thread(
        &self,
        url: &str,
        busy: Duration,
    ) -> Option<std::sync::mpsc::Sender<()>> {
        let opened = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::from)
            .and_then(|options| Ok(Connection::open(options.get_filename())?))
            .and_then(|conn| {
                conn.busy_timeout(busy)?;
                Ok(conn)
            });
        let conn = match opened {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, "no checkpoint thread; the writer checkpoints itself");
                return None;
            }
        };
        let (keep, stop) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("smstrail-checkpoint".to_owned())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stop.recv_timeout(CHECKPOINT_EVERY)
                {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    if let Err(error) = done {
                        tracing::warn!(%error, "WAL checkpoint failed; retrying");
                    }
                }
            });
        match spawned {
            Ok(_) => {
                if let Err(error) = self.conn.pragma_update(None, "wal_autocheckpoint", 0) {
                    tracing::warn!(%error, "the writer keeps checkpointing itself too");
                }
                Some(keep)
            }
            Err(error) => {
                tracing::warn!(%error, "no checkpoint thread; the writer checkpoints itself");
                None
            }
        }
    }
}
