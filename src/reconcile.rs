//! The reconciliation job (CONTRACT §1): messages that got no final status
//! within their use case's window get smstrail's own timeout event.
//!
//! A pass works in chunks of [`CHUNK`] messages, one writer transaction each,
//! walking the (is_final, final_deadline_us) index from the earliest due
//! deadline: its cost follows the work due, not the table size. Several
//! passes at once (servers on one PostgreSQL, a CLI pass beside a server on
//! SQLite) split the work through the database; see `claim_due`.

use std::time::Duration;

use crate::crypto::DataCipher;
use crate::store::{SealedPayload, StoreError, Writes};

/// Messages per transaction: small enough to keep a chunk's locks short,
/// large enough that a backlog clears in few round trips.
pub const CHUNK: usize = 500;

/// At most this many chunks per pass, so one pass over a huge backlog still
/// ends (the next pass goes on from there).
const MAX_CHUNKS: usize = 1_000;

/// The share of the writer's time `serve`'s pass may take while callbacks
/// keep arriving. A chunk holds the one writer for tens of milliseconds;
/// run back to back they cut ingest by 84 % on the 1 M-message benchmark.
/// Pausing after each chunk for 19 times what it took (its wait for the
/// writer included, so a busier writer slows the pass down further) keeps
/// ingest within its 10 % budget, and a 100,000-message backlog still clears
/// in a few minutes. The everyday pass (a handful due) is a single chunk and
/// never pauses.
pub const SHARE_BESIDE_INGEST: f64 = 0.05;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Messages that got their timeout event in this pass.
    pub timed_out: usize,
    /// Messages past their window with no provider message id (no event).
    pub without_provider_id: usize,
    pub chunks: usize,
}

impl std::fmt::Display for PassReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reconcile: {} message(s) timed out with no final receipt",
            self.timed_out
        )?;
        if self.without_provider_id > 0 {
            write!(
                f,
                "; {} past their window without a provider message id (nothing to time out)",
                self.without_provider_id
            )?;
        }
        Ok(())
    }
}

/// One pass at `now_us`: chunk after chunk until no message is due, at full
/// speed (`smstrail reconcile`: the operator asked for it now).
pub async fn run_pass(
    writes: &Writes,
    cipher: &DataCipher,
    now_us: i64,
    chunk: usize,
) -> Result<PassReport, StoreError> {
    run_paced_pass(writes, cipher, now_us, chunk, 1.0).await
}

/// One pass that takes at most `writer_share` (0 < share ≤ 1) of the
/// writer's time, pausing between chunks.
pub async fn run_paced_pass(
    writes: &Writes,
    cipher: &DataCipher,
    now_us: i64,
    chunk: usize,
    writer_share: f64,
) -> Result<PassReport, StoreError> {
    let payload = timeout_payload(cipher)?;
    let mut report = PassReport::default();
    while report.chunks < MAX_CHUNKS {
        let began = std::time::Instant::now();
        let done = writes.time_out(now_us, chunk, payload.clone()).await?;
        let took = began.elapsed();
        report.chunks += 1;
        report.timed_out += done.timed_out.len();
        report.without_provider_id += done.without_provider_id.len();
        // A chunk that handled nothing although full: every row was held by
        // another pass or a callback in flight; the next pass retries them.
        if !done.full || done.timed_out.len() + done.without_provider_id.len() == 0 {
            break;
        }
        tokio::time::sleep(pause_after(took, writer_share)).await;
    }
    Ok(report)
}

/// How long to leave the writer to others after a chunk that took `took`,
/// so the pass's share of its time is `share`.
pub fn pause_after(took: Duration, share: f64) -> Duration {
    if !(share > 0.0 && share < 1.0) {
        return Duration::ZERO;
    }
    took.mul_f64((1.0 - share) / share)
}

/// The raw payload every timeout event keeps: no provider sent one, so it
/// says what wrote the event and why. Sealed like every payload, so the
/// page opens it the same way.
fn timeout_payload(cipher: &DataCipher) -> Result<SealedPayload, StoreError> {
    let body = serde_json::json!({
        "source": "smstrail",
        "event": "timeout",
        "reason": "no final receipt within the message's final-status window",
    })
    .to_string();
    let sealed = cipher
        .seal(body.as_bytes())
        .map_err(|e| StoreError::Corrupt(format!("cannot seal the timeout payload: {e}")))?;
    Ok(SealedPayload {
        content_type: "application/json".to_owned(),
        sealed,
    })
}

/// `serve`'s job: a pass every `every`, for as long as the process runs,
/// sharing the writer with ingest. A failed pass is logged and the next one
/// tries again.
pub fn spawn(writes: Writes, cipher: DataCipher, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now_us = chrono::Utc::now().timestamp_micros();
            match run_paced_pass(&writes, &cipher, now_us, CHUNK, SHARE_BESIDE_INGEST).await {
                Ok(report) if report.timed_out + report.without_provider_id > 0 => {
                    tracing::info!(
                        timed_out = report.timed_out,
                        without_provider_id = report.without_provider_id,
                        "reconcile pass"
                    );
                }
                Ok(_) => tracing::debug!("reconcile pass: nothing due"),
                Err(error) => tracing::warn!(%error, "reconcile pass failed; retrying next time"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_five_percent_share_pauses_nineteen_times_the_chunk() {
        let pause = pause_after(Duration::from_millis(40), SHARE_BESIDE_INGEST);
        assert_eq!(pause.as_millis(), 760);
    }

    #[test]
    fn full_speed_and_nonsense_shares_never_pause() {
        for share in [1.0, 0.0, -0.5, 2.0, f64::NAN] {
            assert_eq!(pause_after(Duration::from_secs(1), share), Duration::ZERO);
        }
    }

    #[test]
    fn half_the_writer_pauses_as_long_as_the_chunk_took() {
        assert_eq!(
            pause_after(Duration::from_millis(30), 0.5),
            Duration::from_millis(30)
        );
    }
}
