//! Group commit. Callbacks are queued to a few writer tasks; each writer takes
//! whatever has queued up while its previous transaction committed (up to
//! `batch_max`), applies it in one transaction and only then answers every
//! request in it. A 2xx therefore still means "committed", but one fsync
//! serves a whole batch instead of one callback.

use std::hash::{DefaultHasher, Hash, Hasher};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::store::{DynStore, IngestItem, IngestOutcome};

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
    /// Starts `writers` writer tasks (at least one).
    pub fn start(store: DynStore, writers: usize, batch_max: usize) -> (Self, Vec<JoinHandle<()>>) {
        let (shards, handles) = (0..writers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                (
                    tx,
                    tokio::spawn(run_writer(store.clone(), rx, batch_max.max(1))),
                )
            })
            .unzip();
        (Self { shards }, handles)
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

async fn run_writer(store: DynStore, mut queue: mpsc::Receiver<Job>, batch_max: usize) {
    let mut batch = Vec::with_capacity(batch_max);
    while queue.recv_many(&mut batch, batch_max).await > 0 {
        let (items, replies): (Vec<IngestItem>, Vec<_>) =
            batch.drain(..).map(|job| (job.item, job.reply)).unzip();
        match store.ingest(&items).await {
            Ok(outcomes) => {
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
