//! The write path: group commit for every write the product's traffic makes
//! (callbacks, registrations, their PATCH, retries, verifications).
//!
//! Requests queue their [`Command`] to a writer; each writer takes whatever
//! has queued up while its previous transaction committed (up to
//! `batch_max`), applies it in ONE transaction and only then answers every
//! request in it. A 2xx therefore still means "committed", but one fsync
//! serves a whole batch.
//!
//! The writers run on a thread of their own with their own connections: on
//! the request runtime every await of a writer would queue behind request
//! tasks. How a batch is applied is the backend's business:
//! - SQLite ([`sqlite`]): one writer owning a `rusqlite` connection runs the
//!   batch synchronously with cached statements: no hand-off per statement.
//! - PostgreSQL ([`postgres`]): a handful of set-based statements per batch,
//!   with advisory locks so writers and processes never miss each other.

mod commands;
mod flows;
mod postgres;
mod postgres_batch;
mod postgres_open;
mod postgres_rollup;
mod rollup;
mod sqlite;
mod sqlite_batch;
mod sqlite_open;
mod sqlite_rollup;
mod sqlite_rows;
mod tally;
mod tx;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

pub use commands::{Command, Done, Renormalize, TimeoutChunk};

use crate::metrics::WriterMetrics;

use super::{
    IngestItem, IngestOutcome, MessageRecord, NewMessage, NewRetry, NewVerification,
    NewVerificationEvent, Registration, RetryRecord, SealedPayload, StoreError,
};

/// Queue depth per writer; beyond it, requests wait (backpressure).
const QUEUE_DEPTH: usize = 8192;

/// What applying one command led to: the command's own answer, or why it was
/// refused (`NotFound`, `Conflict`, or a storage failure of that item alone).
pub(crate) type ItemResult = Result<Done, StoreError>;

/// A backend's way of applying a batch of commands in one transaction.
///
/// `Err` means the transaction as a whole did not commit: the caller retries
/// the items one by one, so that one poison item fails alone.
pub(crate) trait BatchWriter {
    async fn apply(&mut self, batch: &[Command]) -> Result<Vec<ItemResult>, StoreError>;
}

struct Job {
    command: Command,
    reply: oneshot::Sender<ItemResult>,
}

/// The handle requests write through. Cheap to clone; the writers stop when
/// every clone is dropped.
#[derive(Clone)]
pub struct Writes {
    shards: Vec<mpsc::Sender<Job>>,
    /// How long a request waits for its answer before it gives up with 503.
    timeout: Duration,
}

impl Writes {
    /// Starts the writers for `database_url` (SQLite always runs one;
    /// PostgreSQL runs `writers`) and returns once their connections are open.
    /// `timeout` bounds every wait: a request, a connection attempt, a batch.
    /// Every committed transaction is recorded in `metrics`.
    pub async fn start(
        database_url: &str,
        writers: usize,
        batch_max: usize,
        timeout: Duration,
        metrics: WriterMetrics,
        notify: bool,
    ) -> Result<Self, StoreError> {
        let sqlite = database_url.starts_with("sqlite:");
        let writers = if sqlite { 1 } else { writers.max(1) };
        let batch_max = batch_max.max(1);
        let (shards, receivers): (Vec<_>, Vec<_>) =
            (0..writers).map(|_| mpsc::channel(QUEUE_DEPTH)).unzip();
        let (ready, opened) = oneshot::channel();
        let url = database_url.to_owned();
        std::thread::Builder::new()
            .name("smstrail-writer".to_owned())
            .spawn(move || {
                let batches = Batches {
                    max: batch_max,
                    metrics,
                    notify,
                };
                if sqlite {
                    sqlite_open::run(&url, receivers, batches, timeout, ready);
                } else {
                    postgres_open::run(&url, receivers, batches, timeout, ready);
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        opened
            .await
            .map_err(|_| StoreError::Unavailable("the writer thread stopped".to_owned()))??;
        Ok(Self { shards, timeout })
    }

    /// A view of the queues that does not keep the writers running.
    pub fn queue_watch(&self) -> QueueWatch {
        QueueWatch(self.shards.iter().map(mpsc::Sender::downgrade).collect())
    }

    /// Stores one callback; `Ok` only once it is committed.
    pub async fn ingest(&self, item: IngestItem) -> Result<IngestOutcome, StoreError> {
        match self.submit(Command::Ingest(item)).await? {
            Done::Ingested(outcome) => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// Registers an outbound message under its idempotency key, attaching any
    /// callbacks that arrived for its provider message id before it.
    pub async fn register_message(&self, message: NewMessage) -> Result<Registration, StoreError> {
        match self.submit(Command::Register(message)).await? {
            Done::Registered(registration) => Ok(registration),
            other => Err(unexpected(&other)),
        }
    }

    /// Sets the provider message id of a message that has none (or the same
    /// one), attaching waiting callbacks. `Conflict` if it already has another
    /// or another message has this one; `NotFound` if there is no message.
    pub async fn set_provider_message_id(
        &self,
        id: &str,
        provider_message_id: &str,
    ) -> Result<MessageRecord, StoreError> {
        let command = Command::SetProviderMessageId {
            id: id.to_owned(),
            provider_message_id: provider_message_id.to_owned(),
        };
        match self.submit(command).await? {
            Done::Message(message) => Ok(message),
            other => Err(unexpected(&other)),
        }
    }

    /// `NotFound` when the message does not exist.
    pub async fn record_retry(&self, retry: NewRetry) -> Result<RetryRecord, StoreError> {
        match self.submit(Command::RecordRetry(retry)).await? {
            Done::Retry(record) => Ok(record),
            other => Err(unexpected(&other)),
        }
    }

    /// Creates a verification with its opening event.
    pub async fn create_verification(
        &self,
        verification: NewVerification,
    ) -> Result<(), StoreError> {
        self.submit(Command::CreateVerification(verification))
            .await
            .map(drop)
    }

    /// Appends an event; `NotFound` when the verification does not exist.
    pub async fn add_verification_event(
        &self,
        event: NewVerificationEvent,
    ) -> Result<(), StoreError> {
        self.submit(Command::AddVerificationEvent(event))
            .await
            .map(drop)
    }

    /// Writes the timeout events of up to `limit` messages whose window had
    /// passed at `now_us` (one chunk of a reconcile pass), in one transaction.
    pub async fn time_out(
        &self,
        now_us: i64,
        limit: usize,
        payload: SealedPayload,
    ) -> Result<TimeoutChunk, StoreError> {
        let command = Command::TimeOut {
            now_us,
            limit,
            payload,
        };
        match self.submit(command).await? {
            Done::TimedOut(chunk) => Ok(chunk),
            other => Err(unexpected(&other)),
        }
    }

    /// Applies one chunk of a re-normalization; how many summaries changed.
    pub async fn renormalize(&self, chunk: Renormalize) -> Result<usize, StoreError> {
        match self.submit(Command::Renormalize(chunk)).await? {
            Done::Renormalized(changed) => Ok(changed),
            other => Err(unexpected(&other)),
        }
    }

    /// Queues the command and waits for its answer, at most `timeout`: a
    /// sender that gets no answer in time is told 503 and retries (a commit
    /// that lands after that is harmless: the retry is deduplicated).
    async fn submit(&self, command: Command) -> ItemResult {
        let shard = &self.shards[self.shard_of(&command)];
        let (reply, answer) = oneshot::channel();
        let queued = async {
            shard
                .send(Job { command, reply })
                .await
                .map_err(|_| stopped())?;
            answer.await.map_err(|_| stopped())?
        };
        tokio::time::timeout(self.timeout, queued)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "the database did not answer in time".to_owned(),
                ))
            })
    }

    /// Everything about one provider message id goes to the same writer, so
    /// writers rarely contend for the same rows (the advisory locks still
    /// make contention safe).
    fn shard_of(&self, command: &Command) -> usize {
        if self.shards.len() == 1 {
            return 0;
        }
        let mut hasher = DefaultHasher::new();
        command.shard_key().hash(&mut hasher);
        (hasher.finish() % self.shards.len() as u64) as usize
    }
}

/// Reads how many writes wait in each writer's queue. Holds weak handles:
/// the writers still stop when the last [`Writes`] is dropped.
#[derive(Debug, Clone)]
pub struct QueueWatch(Vec<mpsc::WeakSender<Job>>);

impl QueueWatch {
    /// Jobs queued and not yet taken, per writer (0 once a writer stopped).
    pub fn depths(&self) -> Vec<usize> {
        self.0
            .iter()
            .map(|weak| {
                weak.upgrade()
                    .map_or(0, |queue| queue.max_capacity() - queue.capacity())
            })
            .collect()
    }
}

/// How writers batch: at most `max` commands per transaction, each
/// committed transaction recorded in `metrics`.
#[derive(Clone)]
pub(crate) struct Batches {
    pub max: usize,
    pub metrics: WriterMetrics,
    /// Whether summary changes write `notify_outbox` rows (only when
    /// `SMSTRAIL_NOTIFY_URL` is set).
    pub notify: bool,
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the writer has stopped".to_owned())
}

fn unexpected(done: &Done) -> StoreError {
    StoreError::Corrupt(format!("the writer answered {done:?} to another command"))
}

/// One writer's life: take what has queued up, apply it in one transaction,
/// answer everyone in it; a batch that fails is retried item by item.
async fn run_writer(
    mut writer: impl BatchWriter,
    mut queue: mpsc::Receiver<Job>,
    batches: Batches,
) {
    let Batches {
        max: batch_max,
        metrics,
        ..
    } = batches;
    let mut jobs = Vec::with_capacity(batch_max);
    while queue.recv_many(&mut jobs, batch_max).await > 0 {
        // A request that gave up waiting was answered 503 and will be
        // retried: writing it now would only delay the ones still waiting.
        let (commands, replies): (Vec<Command>, Vec<_>) = jobs
            .drain(..)
            .filter(|job| !job.reply.is_closed())
            .map(|job| (job.command, job.reply))
            .unzip();
        if commands.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        match writer.apply(&commands).await {
            Ok(results) => {
                let elapsed = started.elapsed();
                metrics.record_commit(commands.len(), elapsed);
                tracing::debug!(
                    size = commands.len(),
                    elapsed_us = elapsed.as_micros() as u64,
                    "batch committed"
                );
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(error) if commands.len() == 1 || matches!(error, StoreError::Unavailable(_)) => {
                // The database itself is away: retrying item by item would
                // only make everyone wait longer for the same answer.
                tracing::error!(%error, size = commands.len(), "write transaction failed");
                let message = error.to_string();
                let mut error = Some(error);
                for reply in replies {
                    let error = error
                        .take()
                        .unwrap_or_else(|| StoreError::Unavailable(message.clone()));
                    let _ = reply.send(Err(error));
                }
            }
            Err(error) => {
                // One bad item must not fail its neighbours: retry one by one.
                tracing::warn!(%error, size = commands.len(), "batch failed; retrying items singly");
                for (command, reply) in commands.iter().zip(replies) {
                    let started = std::time::Instant::now();
                    let result = match writer.apply(std::slice::from_ref(command)).await {
                        Ok(mut results) => {
                            metrics.record_commit(1, started.elapsed());
                            results.pop().unwrap_or_else(|| Err(stopped()))
                        }
                        Err(error) => {
                            tracing::error!(%error, "write transaction failed");
                            Err(error)
                        }
                    };
                    let _ = reply.send(result);
                }
            }
        }
    }
}
