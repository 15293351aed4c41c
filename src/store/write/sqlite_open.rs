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
    let mut writer = match SqliteWriter::open(url, timeout) {
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

/// How often the checkpoint thread looks at the WAL's size.
const WAL_WATCH_EVERY: Duration = Duration::from_millis(100);

/// The WAL size beyond which the writer empties it. A PASSIVE checkpoint
/// never waits for the writer, so under sustained writes it never finds the
/// WAL fully copied at a moment the writer could start it over, and the
/// file grows without end (2.7 GB for 20,000 demo messages; the disk would
/// have filled long before 3 million). Past this size the checkpoint thread
/// raises a flag and the writer, between two batches, runs a TRUNCATE
/// checkpoint itself: it holds the write lock already, so it only copies
/// what PASSIVE has not and empties the file. A short pause per 64 MiB
/// written, which also holds the writer to the pace the disk can copy at.
const WAL_BYTES_LIMIT: u64 = 64 << 20;

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
            wal_full: None,
            busy,
        })
    }

    /// SQLite checkpoints the WAL inside the commit that crosses 1,000
    /// pages, fsyncs included: the batch that happens to cross it waits for
    /// the whole copy. A thread of its own checkpoints instead (PASSIVE:
    /// never blocks the writer), on the other core. Should it fail to start,
    /// the writer keeps checkpointing itself. Returns what keeps it running.
    pub(super) fn hand_checkpoints_to_a_thread(
        &mut self,
        url: &str,
        busy: Duration,
    ) -> Option<std::sync::mpsc::Sender<()>> {
        // One parse of the URL gives both the connection and the WAL's path.
        let opened = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::from)
            .and_then(|options| {
                let file = options.get_filename();
                let conn = Connection::open(file)?;
                conn.busy_timeout(busy)?;
                Ok((
                    conn,
                    std::path::PathBuf::from(format!("{}-wal", file.display())),
                ))
            });
        let (conn, wal) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(%error, "no checkpoint thread; the writer checkpoints itself");
                return None;
            }
        };
        let checkpoints_per_watch =
            (CHECKPOINT_EVERY.as_millis() / WAL_WATCH_EVERY.as_millis()).max(1) as u32;
        let (keep, stop) = std::sync::mpsc::channel::<()>();
        let wal_full = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let raise = std::sync::Arc::clone(&wal_full);
        let spawned = std::thread::Builder::new()
            .name("smstrail-checkpoint".to_owned())
            .spawn(move || {
                let mut watched = 0u32;
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stop.recv_timeout(WAL_WATCH_EVERY)
                {
                    watched = watched.wrapping_add(1);
                    if std::fs::metadata(&wal).is_ok_and(|meta| meta.len() > WAL_BYTES_LIMIT) {
                        raise.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    if !watched.is_multiple_of(checkpoints_per_watch) {
                        continue;
                    }
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
                self.wal_full = Some(wal_full);
                Some(keep)
            }
            Err(error) => {
                tracing::warn!(%error, "no checkpoint thread; the writer checkpoints itself");
                None
            }
        }
    }
}

/// How long the writer's TRUNCATE waits for readers still on the old WAL
/// before it gives up until the next batch (a dashboard read takes less).
const TRUNCATE_WAITS: Duration = Duration::from_millis(250);

impl SqliteWriter {
    /// Between batches: empties the WAL when the checkpoint thread found it
    /// too large. Readers still on the old WAL make it give up after
    /// [`TRUNCATE_WAITS`]; the flag is raised again at the next look.
    pub(super) fn truncate_wal_if_full(&mut self) {
        let Some(flag) = &self.wal_full else { return };
        if !flag.swap(false, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let truncated = self.conn.busy_timeout(TRUNCATE_WAITS).and_then(|()| {
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                    row.get::<_, i64>(0)
                })
        });
        if let Err(error) = self.conn.busy_timeout(self.busy) {
            tracing::warn!(%error, "cannot restore the writer's busy timeout");
        }
        match truncated {
            Ok(0) => tracing::debug!("WAL truncated"),
            Ok(_) => tracing::debug!("WAL truncate gave way to readers; next batch"),
            Err(error) => tracing::warn!(%error, "WAL truncate failed"),
        }
    }
}
