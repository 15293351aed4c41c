//! `--reconcile SILENT`: what a reconcile pass costs, and what it does to
//! ingest running beside it.
//!
//! The preloaded database (`--preload N`) gets SILENT of its messages left
//! `sent` with no final receipt, their deadlines 20 s after the server
//! starts. The server runs with `SMSTRAIL_RECONCILE_EVERY=40s`: its first
//! pass (at start-up) finds nothing due, its second one, 40 s in, times
//! those messages out. Meanwhile the bench runs ingest rounds back to back
//! (register `--messages`, fire their callbacks), and sorts each round's
//! callback phase by what the server was doing: before the pass, during it
//! (due messages left at both ends of the phase, fewer than at the start),
//! or after it. Rounds that straddle an edge count for neither side.
//!
//! The rows made silent are bench fixtures like the rest of the preload;
//! the pass and the measured traffic are the real server's.

use std::time::{Duration, Instant};

use sqlx::{AnyConnection, Connection as _};

use super::{Options, RunReport, Server, run_scenario};

/// Deadlines fall this long after the fixture is written, so the start-up
/// pass finds nothing due.
const DEADLINE_AFTER: Duration = Duration::from_secs(20);
/// The server's pass interval: the second pass is the measured one.
pub const PASS_EVERY: &str = "40s";
/// Ingest rounds after the pass, for the second baseline.
const ROUNDS_AFTER: usize = 6;
/// Gives up on a pass that has not finished by then.
const PASS_TIMEOUT: Duration = Duration::from_secs(900);

/// Leaves `silent` preloaded messages waiting for a receipt that will not come.
pub async fn make_silent(url: &str, silent: usize) -> Result<(), String> {
    let mut conn = connect(url).await?;
    let deadline = chrono::Utc::now().timestamp_micros() + DEADLINE_AFTER.as_micros() as i64;
    // Provider ids are in hash order, so these are scattered over the history.
    let statements = [
        format!(
            "UPDATE messages SET is_final = FALSE, current_status = 'sent', \
             current_raw_status = 'sent', final_deadline_us = {deadline} \
             WHERE provider_message_id IN (SELECT provider_message_id FROM messages \
             ORDER BY provider_message_id LIMIT {silent})"
        ),
        // Their timelines end at `sent`, as a silent message's does (the
        // delivered events' duplicate counts go first: they point at them).
        "DELETE FROM event_duplicates WHERE event_id IN (SELECT id FROM message_events \
         WHERE raw_status = 'delivered' AND provider_message_id IN \
         (SELECT provider_message_id FROM messages WHERE is_final = FALSE))"
            .to_owned(),
        "DELETE FROM message_events WHERE raw_status = 'delivered' AND provider_message_id IN \
         (SELECT provider_message_id FROM messages WHERE is_final = FALSE)"
            .to_owned(),
    ];
    for statement in statements {
        sqlx::query(&statement)
            .execute(&mut conn)
            .await
            .map_err(|e| format!("making messages silent: {e}"))?;
    }
    let _ = conn.close().await;
    Ok(())
}

async fn connect(url: &str) -> Result<AnyConnection, String> {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))
}

/// Messages still waiting for their timeout (the pass clears the deadline).
async fn due(conn: &mut AnyConnection) -> Result<i64, String> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE is_final = FALSE AND final_deadline_us IS NOT NULL",
    )
    .fetch_one(conn)
    .await
    .map_err(|e| format!("counting due messages: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Before,
    During,
    After,
    Straddling,
}

/// Ingest rounds before, during and after the server's pass; prints the
/// comparison and returns every round's report.
pub async fn measure(
    server: &Server,
    url: &str,
    options: &Options,
    concurrency: usize,
    silent: usize,
) -> Result<Vec<RunReport>, String> {
    let mut conn = connect(url).await?;
    let initial = due(&mut conn).await?;
    let started = Instant::now();
    let mut pass_started = None;
    let mut pass_ended = None;
    let mut rounds: Vec<(Phase, RunReport)> = Vec::new();
    let mut after = 0;
    let mut round = 0;
    while after < ROUNDS_AFTER {
        if started.elapsed() > PASS_TIMEOUT {
            return Err(format!("the pass did not finish within {PASS_TIMEOUT:?}"));
        }
        let before = due(&mut conn).await?;
        let report = run_scenario(server, options, concurrency, round * options.messages).await?;
        let after_round = due(&mut conn).await?;
        round += 1;
        if before < initial && pass_started.is_none() {
            pass_started = Some(started.elapsed());
        }
        if after_round < initial && pass_started.is_none() {
            pass_started = Some(started.elapsed());
        }
        let phase = match (before, after_round) {
            (b, a) if b == initial && a == initial => Phase::Before,
            (b, a) if b < initial && a > 0 => Phase::During,
            (0, 0) => Phase::After,
            _ => Phase::Straddling,
        };
        if after_round == 0 && pass_ended.is_none() {
            pass_ended = Some(started.elapsed());
        }
        if phase == Phase::After {
            after += 1;
        }
        println!("{:?}: {}", phase, report.line());
        rounds.push((phase, report));
    }
    let _ = conn.close().await;

    let rate = |phase: Phase| {
        let rates: Vec<f64> = rounds
            .iter()
            .filter(|(p, _)| *p == phase)
            .map(|(_, r)| r.load.per_second())
            .collect();
        (rates.len(), mean(&rates))
    };
    let (before_n, before) = rate(Phase::Before);
    let (during_n, during) = rate(Phase::During);
    let (after_n, after_rate) = rate(Phase::After);
    let baseline = mean(
        &[before, after_rate]
            .into_iter()
            .filter(|r| *r > 0.0)
            .collect::<Vec<_>>(),
    );
    println!();
    println!(
        "reconcile pass over {} preloaded messages, {silent} of them due ({initial} counted):",
        options.preloads.iter().max().copied().unwrap_or(0)
    );
    if let (Some(s), Some(e)) = (pass_started, pass_ended) {
        // Both edges are known to within one round.
        let took = e.saturating_sub(s);
        println!(
            "  pass seen from {:.1}s to {:.1}s after start: ~{:.1}s, ~{:.0} timeouts/s",
            s.as_secs_f64(),
            e.as_secs_f64(),
            took.as_secs_f64(),
            initial as f64 / took.as_secs_f64().max(0.001)
        );
    }
    println!(
        "  callbacks/s: before {before:.0} ({before_n} rounds), during {during:.0} \
         ({during_n} rounds), after {after_rate:.0} ({after_n} rounds)"
    );
    if during_n > 0 && baseline > 0.0 {
        println!(
            "  ingest during the pass: {:+.1}% against the mean of before and after (target: > -10%)",
            (during / baseline - 1.0) * 100.0
        );
    } else {
        println!("  no round ran entirely inside the pass: use fewer --messages per round");
    }
    Ok(rounds.into_iter().map(|(_, r)| r).collect())
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}
