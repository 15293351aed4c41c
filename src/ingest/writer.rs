//! Group commit. Callbacks are queued to a few writer tasks; each writer takes
//! whatever has queued up while its previous transaction committed (up to
//! `batch_max`), applies it in one transaction and only then answers every
//! request in it. A 2xx therefore still means "committed", but one fsync
//! serves a whole batch instead of one callback.
//!
//! The writers run on a thread and runtime of their own, with their own
//! connections: on the shared runtime every await of a writer would queue
//! behind the request tasks, and a batch would take milliseconds of waiting
//! for a few hundred microseconds of work.

use std::hash::{DefaultHasher, Hash, Hasher};

use tokio::sync::{mpsc, oneshot};

use crate::store::{self, IngestItem, IngestOutcome, OpenOptions, Store, StoreError};

/// Queue depth per writer; beyond it, requests wait (backpressure).
const QUEUE_DEPTH: usize = 8192;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("the database did not commit the callback: {0}")]
    Storage(String),
    #[error("the ingest writer has stopped")]
    Stopped,
}

struct Job {
    item: IngestItem,
    reply: oneshot::Sender<Result<IngestOutcome, WriteError>>,
}

#[derive(Clone)]
pub struct WriteQueue {
    shards: Vec<mpsc::Sender<Job>>,
}

impl WriteQueue {
    /// Starts `writers` writer tasks (at least one) on the ingest thread,
    /// connected to `database_url`; returns once their connections are open.
    /// They stop when every clone of the queue is dropped.
    pub async fn start(
        database_url: &str,
        writers: usize,
        batch_max: usize,
    ) -> Result<Self, StoreError> {
        let writers = writers.max(1);
        let (shards, receivers): (Vec<_>, Vec<_>) =
            (0..writers).map(|_| mpsc::channel(QUEUE_DEPTH)).unzip();
        let (ready, opened) = oneshot::channel();
        let url = database_url.to_owned();
        std::thread::Builder::new()
            .name("smstrail-ingest".to_owned())
            .spawn(move || run_thread(url, receivers, batch_max.max(1), ready))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the ingest thread: {e}")))?;
        opened
            .await
            .map_err(|_| StoreError::Corrupt("the ingest thread stopped".to_owned()))??;
        Ok(Self { shards })
    }

    /// Queues `item` and waits until it is committed (or failed).
    pub async fn submit(&self, item: IngestItem) -> Result<IngestOutcome, WriteError> {
        let shard = &self.shards[self.shard_of(&item)];
        let (reply, answer) = oneshot::channel();
        shard
            .send(Job { item, reply })
            .await
            .map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// Everything about one provider message goes to the same writer, so the
    /// writers never contend for the same rows.
    fn shard_of(&self, item: &IngestItem) -> usize {
        let mut hasher = DefaultHasher::new();
        item.shard_key().hash(&mut hasher);
        (hasher.finish() % self.shards.len() as u64) as usize
    }
}

fn run_thread(
    url: String,
    receivers: Vec<mpsc::Receiver<Job>>,
    batch_max: usize,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(StoreError::Corrupt(format!("ingest runtime: {e}"))));
            return;
        }
    };
    runtime.block_on(async move {
        let store = match store::open_with(&url, OpenOptions::ingest(receivers.len())).await {
            Ok(store) => store,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let writers: Vec<_> = receivers
            .into_iter()
            .map(|rx| tokio::spawn(run_writer(store.clone(), rx, batch_max)))
            .collect();
        for writer in writers {
            let _ = writer.await;
        }
    });
}

async fn run_writer(store: Store, mut queue: mpsc::Receiver<Job>, batch_max: usize) {
    let mut batch = Vec::with_capacity(batch_max);
    while queue.recv_many(&mut batch, batch_max).await > 0 {
        let (items, replies): (Vec<IngestItem>, Vec<_>) =
            batch.drain(..).map(|job| (job.item, job.reply)).unzip();
        let started = std::time::Instant::now();
        match store.ingest(&items).await {
            Ok(outcomes) => {
                tracing::debug!(
                    size = items.len(),
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "batch committed"
                );
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(error) if items.len() == 1 => {
                tracing::error!(%error, "ingest transaction failed");
                for reply in replies {
                    let _ = reply.send(Err(WriteError::Storage(error.to_string())));
                }
            }
            Err(error) => {
                // One bad item must not fail its neighbours: retry one by one.
                tracing::warn!(%error, size = items.len(), "ingest batch failed; retrying items singly");
                for (item, reply) in items.into_iter().zip(replies) {
                    let result = match store.ingest(std::slice::from_ref(&item)).await {
                        Ok(mut outcomes) => outcomes.pop().ok_or(WriteError::Stopped),
                        Err(error) => {
                            tracing::error!(%error, "ingest transaction failed");
                            Err(WriteError::Storage(error.to_string()))
                        }
                    };
                    let _ = reply.send(result);
                }
            }
        }
    }
}
