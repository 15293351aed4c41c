//! Starting the PostgreSQL writers: one connection each, on the writer
//! thread's own runtime.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use tokio::sync::{mpsc, oneshot};

use super::postgres::PgWriter;
use super::{Batches, Job, run_writer};
use crate::store::StoreError;

/// Starts `receivers.len()` writers (see `Writes::start`).
pub(super) fn run(
    url: &str,
    receivers: Vec<mpsc::Receiver<Job>>,
    batches: Batches,
    timeout: Duration,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(StoreError::Unavailable(format!("writer runtime: {e}"))));
            return;
        }
    };
    runtime.block_on(async move {
        let options = match connect_options(url, timeout) {
            Ok(options) => options,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let mut writers = Vec::with_capacity(receivers.len());
        for _ in &receivers {
            let mut writer = PgWriter {
                notify: batches.notify,
                options: options.clone(),
                timeout,
                conn: None,
            };
            // Start-up fails loudly when the database is not there at all.
            if let Err(e) = writer.connection().await {
                let _ = ready.send(Err(e));
                return;
            }
            writers.push(writer);
        }
        let _ = ready.send(Ok(()));
        let local = tokio::task::LocalSet::new();
        for (writer, queue) in writers.into_iter().zip(receivers) {
            local.spawn_local(run_writer(writer, queue, batches.clone()));
        }
        local.await;
    });
}

/// The server cancels a statement that runs past the timeout.
fn connect_options(url: &str, timeout: Duration) -> Result<PgConnectOptions, StoreError> {
    Ok(PgConnectOptions::from_str(url)?
        .options([("statement_timeout", timeout.as_millis().to_string())]))
}
