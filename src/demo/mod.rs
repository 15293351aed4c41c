//! `smstrail demo`: fills the configured database with a month of realistic
//! traffic through the real pipeline, in-process: registrations through the
//! send-side use case and the writers, callbacks built and signed as each
//! provider sends them and handed to the ingest pipeline (verify, parse,
//! normalize, precedence, group commit), OTP verifications, retries and
//! fallbacks through the writers. No row is written behind the pipeline's
//! back; only the clock is the demo's (a month of history is played in
//! minutes), which the pipeline takes as an input anyway.

pub mod plan;
pub mod senders;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use crate::app::{AppState, StartError};
use crate::config::{Config, Secret};
use crate::domain::outbound::RetryKind;
use crate::domain::outbound::{OutboundMessage, RegisterRequest};
use crate::domain::verification::VerificationEventKind;
use crate::providers::{KNOWN, Route, WebhookRequest};
use crate::store::{IngestOutcome, NewRetry, NewVerification, NewVerificationEvent, StoreError};
use crate::usecase::registration::new_message_at;
use plan::{Callback, Ending, FollowUp, MessagePlan, OtpOutcome, Reply, Step};
use senders::{Delivery, DemoRequest, DemoSender, Inbound};

/// Every demo message's idempotency key starts so: how the demo tells its
/// own data from the product's.
pub const KEY_PREFIX: &str = "demo-";
pub const DEFAULT_MESSAGES: u64 = 2_000;
pub const MAX_MESSAGES: u64 = 3_000_000;
/// Messages played at once: enough to fill the writers' batches.
const IN_FLIGHT: usize = 384;
const SECOND_US: i64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub messages: u64,
    /// Run even though the database holds data that is not the demo's.
    pub force: bool,
    pub seed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "this database already holds {0} message(s) that the demo did not write; \
         refusing to mix demo traffic into it (use --force to do it anyway)"
    )]
    Refused(u64),
    #[error("--messages must be between 1 and {MAX_MESSAGES}, got {0}")]
    BadCount(u64),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("the pipeline refused a demo request: {0}")]
    Pipeline(String),
}

/// What a run did, counted as it went.
#[derive(Debug, Default)]
pub struct DemoSummary {
    pub messages: AtomicU64,
    pub callbacks: AtomicU64,
    pub duplicates: AtomicU64,
    pub for_review: AtomicU64,
    pub never_final: AtomicU64,
    pub verifications: AtomicU64,
    pub retries: AtomicU64,
    pub inbound: AtomicU64,
    pub by_status: std::sync::Mutex<HashMap<String, u64>>,
}

impl std::fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        writeln!(
            f,
            "{} messages, {} callbacks ({} duplicates, {} unknown statuses sent to review), \
             {} OTP verifications, {} retries and fallbacks, {} inbound messages",
            n(&self.messages),
            n(&self.callbacks),
            n(&self.duplicates),
            n(&self.for_review),
            n(&self.verifications),
            n(&self.retries),
            n(&self.inbound),
        )?;
        let by_status = self
            .by_status
            .lock()
            .map(|m| {
                let mut rows: Vec<_> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
                rows.sort();
                rows
            })
            .unwrap_or_default();
        let parts: Vec<String> = by_status.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(f, "final outcomes as planned: {}", parts.join(", "))?;
        write!(
            f,
            "{} messages never get a final receipt: the reconcile job (`smstrail reconcile`, \
             or `serve` within a minute) gives them their timeout",
            n(&self.never_final)
        )
    }
}

/// The configuration the demo runs with: every provider gets the demo's
/// throwaway credentials (it must sign like each of them), and nothing is
/// sent to the product.
pub fn demo_config(mut config: Config) -> Config {
    let secret = |name: &str| {
        senders::CREDENTIALS
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| Secret::new(*value))
    };
    config.twilio_auth_token = secret("SMSTRAIL_TWILIO_AUTH_TOKEN");
    config.standard_secret = secret("SMSTRAIL_STANDARD_SECRET");
    config.vonage_signature_secret = secret("SMSTRAIL_VONAGE_SIGNATURE_SECRET");
    config.telnyx_public_key = secret("SMSTRAIL_TELNYX_PUBLIC_KEY");
    config.plivo_auth_token = secret("SMSTRAIL_PLIVO_AUTH_TOKEN");
    config.vonage_signature_method = crate::config::VonageSignatureMethod::Md5Hash;
    config.notify_url = None;
    // The database timeout bounds what a provider waits before its retry;
    // the demo queues hundreds of stories at once, and one slow stretch of
    // a busy machine must not end a run of millions.
    config.db_timeout = config.db_timeout.max(DEMO_DB_TIMEOUT);
    config
}

/// The longest the demo waits for the database.
const DEMO_DB_TIMEOUT: Duration = Duration::from_secs(120);

/// Plays `options.messages` stories; `progress` hears how many are done.
pub async fn run(
    config: Config,
    options: &DemoOptions,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<Arc<DemoSummary>, DemoError> {
    if options.messages == 0 || options.messages > MAX_MESSAGES {
        return Err(DemoError::BadCount(options.messages));
    }
    let state = AppState::build(demo_config(config)).await?;
    let foreign = state.store.messages_without_key_prefix(KEY_PREFIX).await?;
    if foreign > 0 && !options.force {
        return Err(DemoError::Refused(foreign));
    }
    let now = Utc::now().timestamp_micros();
    let player = Arc::new(Player {
        senders: senders::all().into_iter().map(|s| (s.name(), s)).collect(),
        // A run's id keeps its keys and provider ids apart from earlier runs'.
        run: format!("{now:x}"),
        tag: ((now as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32,
        // The month ends an hour ago, so no callback lands in the future.
        end_us: now - 3_600 * SECOND_US,
        seed: options.seed,
        total: options.messages,
        summary: Arc::new(DemoSummary::default()),
        state,
    });
    let progress = Arc::new(progress);
    let mut tasks = JoinSet::new();
    let mut done = 0;
    for index in 0..options.messages {
        if tasks.len() >= IN_FLIGHT {
            finish_one(&mut tasks).await?;
            done += 1;
            progress(done);
        }
        let player = player.clone();
        tasks.spawn(async move { player.play(index).await });
    }
    while !tasks.is_empty() {
        finish_one(&mut tasks).await?;
        done += 1;
        progress(done);
    }
    player.state.store.refresh_statistics().await?;
    Ok(player.summary.clone())
}

async fn finish_one(tasks: &mut JoinSet<Result<(), DemoError>>) -> Result<(), DemoError> {
    match tasks.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(join)) => Err(DemoError::Pipeline(format!("a demo task failed: {join}"))),
        None => Ok(()),
    }
}

struct Player {
    state: AppState,
    senders: HashMap<&'static str, Box<dyn DemoSender>>,
    run: String,
    /// The run in provider message ids.
    tag: u32,
    end_us: i64,
    seed: u64,
    /// Stories in the run: their times are spread over the month in order.
    total: u64,
    summary: Arc<DemoSummary>,
}

/// Where a message's story stands while it is played.
struct Sent {
    id: String,
    provider: &'static str,
    provider_message_id: String,
    sent_at_us: i64,
}

impl Player {
    async fn play(&self, index: u64) -> Result<(), DemoError> {
        let plan = plan::message(self.seed, index, self.total);
        let created_at_us = self.end_us - plan.age_us;
        let first = self
            .register(&plan, plan.provider, index * 2, created_at_us, "")
            .await?;
        self.summary.messages.fetch_add(1, Ordering::Relaxed);
        let final_at_us = self.deliver(&plan, &first).await?;
        let mut resent = None;
        if plan.follow_up != FollowUp::None {
            resent = self.follow_up(&plan, &first, index, final_at_us).await?;
        }
        if let Some(outcome) = plan.otp {
            self.verify(&plan, &first, resent.as_ref(), outcome, final_at_us)
                .await?;
        }
        let reply_at = final_at_us + 90 * SECOND_US;
        self.reply(plan.provider, &plan.to, &plan.reply, index, reply_at)
            .await?;
        if let Some((from, provider, reply)) = plan::inbound_only(self.seed, index) {
            let provider = KNOWN
                .iter()
                .find(|p| **p == provider)
                .copied()
                .unwrap_or("twilio");
            self.reply(provider, &from, &reply, index + MAX_MESSAGES, reply_at)
                .await?;
        }
        Ok(())
    }

    async fn register(
        &self,
        plan: &MessagePlan,
        provider: &'static str,
        n: u64,
        created_at_us: i64,
        key_suffix: &str,
    ) -> Result<Sent, DemoError> {
        let sender = self.sender(provider)?;
        let provider_message_id = sender.message_id(self.tag, n);
        let sent_at_us = created_at_us + 150_000;
        let request = RegisterRequest {
            idempotency_key: Some(format!(
                "{KEY_PREFIX}{}-{}{key_suffix}",
                self.run, plan.index
            )),
            to: Some(plan.to.clone()),
            provider: Some(provider.to_owned()),
            provider_message_id: Some(provider_message_id.clone()),
            sender_identity: Some(plan.sender_identity.clone()),
            sender_type: Some(plan.sender_type.to_owned()),
            template_key: Some(plan.template.to_owned()),
            use_case: Some(plan.use_case.to_owned()),
            user_ref: Some(plan.user_ref.clone()),
            product_action: (plan.use_case == "transactional").then(|| {
                crate::domain::outbound::ProductActionRequest {
                    kind: Some("order".to_owned()),
                    reference: Some(format!("ord_{}", plan.index)),
                    url: Some(format!("https://shop.example/orders/ord_{}", plan.index)),
                }
            }),
            recipient_timezone: None,
            sent_at: DateTime::<Utc>::from_timestamp_micros(sent_at_us).map(|t| t.to_rfc3339()),
            metadata: None,
        };
        let message = OutboundMessage::parse(request, &KNOWN)
            .map_err(|e| DemoError::Pipeline(e.to_string()))?;
        let new = new_message_at(
            message,
            &self.state.cipher,
            &self.state.config.final_windows,
            created_at_us,
        )
        .map_err(|e| DemoError::Pipeline(e.to_string()))?;
        let id = new.id.clone();
        self.state.writes.register_message(new).await?;
        Ok(Sent {
            id,
            provider,
            provider_message_id,
            sent_at_us,
        })
    }

    fn sender(&self, provider: &str) -> Result<&dyn DemoSender, DemoError> {
        self.senders
            .get(provider)
            .map(|s| s.as_ref())
            .ok_or_else(|| DemoError::Pipeline(format!("no demo sender for {provider}")))
    }

    /// Plays the plan's callbacks in arrival order; returns when the last
    /// one arrived (or when the message would have been final).
    async fn deliver(&self, plan: &MessagePlan, sent: &Sent) -> Result<i64, DemoError> {
        let mut callbacks: Vec<&Callback> = plan.callbacks.iter().collect();
        callbacks.sort_by_key(|c| c.at_us + c.delay_us);
        let mut last_us = sent.sent_at_us;
        for (nonce, callback) in callbacks.into_iter().enumerate() {
            let at_us = sent.sent_at_us + callback.at_us;
            let arrives_us = at_us + callback.delay_us;
            last_us = last_us.max(arrives_us);
            let sender = self.sender(sent.provider)?;
            let Some(request) = sender.delivery(
                &self.state.config.public_url,
                &Delivery {
                    provider_message_id: &sent.provider_message_id,
                    to: &plan.to,
                    from: &plan.sender_identity,
                    step: callback.step,
                    error_pick: plan.error_pick,
                    at: instant(at_us),
                    attempt_at: instant(arrives_us),
                    nonce: plan.index * 16 + nonce as u64,
                },
            ) else {
                continue;
            };
            let outcome = self
                .send(sent.provider, Route::Status, &request, arrives_us)
                .await?;
            self.summary.callbacks.fetch_add(1, Ordering::Relaxed);
            match outcome {
                IngestOutcome::Duplicate => {
                    self.summary.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                IngestOutcome::Review => {
                    self.summary.for_review.fetch_add(1, Ordering::Relaxed);
                }
                IngestOutcome::Stored { .. } | IngestOutcome::Waiting => {}
            }
        }
        let label = match plan.ending {
            Ending::Silent => {
                self.summary.never_final.fetch_add(1, Ordering::Relaxed);
                "never final".to_owned()
            }
            ending => format!("{ending:?}").to_lowercase(),
        };
        if let Ok(mut counts) = self.summary.by_status.lock() {
            *counts.entry(label).or_default() += 1;
        }
        Ok(last_us)
    }

    async fn send(
        &self,
        provider: &str,
        route: Route,
        request: &DemoRequest,
        arrives_us: i64,
    ) -> Result<IngestOutcome, DemoError> {
        let url = format!("{}{}", self.state.config.public_url, request.path_and_query);
        let webhook = WebhookRequest {
            method: &request.method,
            url: &url,
            headers: &request.headers,
            body: &request.body,
            now: instant(arrives_us),
        };
        let (outcome, _) = self
            .state
            .ingest
            .handle(provider, route, &webhook)
            .await
            .map_err(|e| DemoError::Pipeline(format!("{provider}: {e}")))?;
        Ok(outcome)
    }

    /// A resend or failover is a new message that gets delivered; a channel
    /// fallback reaches the user another way and sends nothing.
    async fn follow_up(
        &self,
        plan: &MessagePlan,
        first: &Sent,
        index: u64,
        after_us: i64,
    ) -> Result<Option<Sent>, DemoError> {
        let (kind, provider) = match plan.follow_up {
            FollowUp::None => return Ok(None),
            FollowUp::Resend => (RetryKind::Resend, Some(plan.provider)),
            FollowUp::ProviderFailover => (
                RetryKind::ProviderFailover,
                Some(next_provider(plan.provider)),
            ),
            FollowUp::ChannelFallback => (RetryKind::ChannelFallback, None),
        };
        let at_us = after_us + 20 * SECOND_US;
        let again = match provider {
            Some(provider) => {
                let sent = self
                    .register(plan, provider, index * 2 + 1, at_us, "-again")
                    .await?;
                let delivered = MessagePlan {
                    ending: Ending::Delivered,
                    callbacks: vec![
                        Callback {
                            step: Step::Sent,
                            at_us: 400_000,
                            delay_us: 300_000,
                        },
                        Callback {
                            step: Step::Final(Ending::Delivered),
                            at_us: 5 * SECOND_US,
                            delay_us: 400_000,
                        },
                    ],
                    ..plan.clone()
                };
                self.deliver(&delivered, &sent).await?;
                self.summary.messages.fetch_add(1, Ordering::Relaxed);
                Some(sent)
            }
            None => None,
        };
        self.state
            .writes
            .record_retry(NewRetry {
                message_id: first.id.clone(),
                kind,
                new_message_id: again.as_ref().map(|s| s.id.clone()),
                reason: Some(format!("{:?} on {}", plan.ending, plan.provider).to_lowercase()),
                created_at_us: at_us,
            })
            .await?;
        self.summary.retries.fetch_add(1, Ordering::Relaxed);
        Ok(again)
    }

    async fn verify(
        &self,
        plan: &MessagePlan,
        first: &Sent,
        resent: Option<&Sent>,
        outcome: OtpOutcome,
        final_at_us: i64,
    ) -> Result<(), DemoError> {
        let id = uuid::Uuid::now_v7().to_string();
        let event = |kind, message_id: Option<&str>, at_us: i64| NewVerificationEvent {
            verification_id: id.clone(),
            kind,
            message_id: message_id.map(str::to_owned),
            occurred_at_us: at_us,
            recorded_at_us: at_us + 40_000,
        };
        self.state
            .writes
            .create_verification(NewVerification {
                id: id.clone(),
                user_ref: Some(plan.user_ref.clone()),
                created_at_us: first.sent_at_us,
                first_event: event(
                    VerificationEventKind::Requested,
                    Some(&first.id),
                    first.sent_at_us,
                ),
            })
            .await?;
        let mut at = final_at_us + 15 * SECOND_US;
        let mut steps = Vec::new();
        if let Some(resent) = resent {
            steps.push((VerificationEventKind::Resent, Some(resent.id.as_str())));
        }
        match outcome {
            OtpOutcome::Completed => {
                steps.push((VerificationEventKind::Checked, None));
                steps.push((VerificationEventKind::Completed, None));
            }
            OtpOutcome::Failed => {
                steps.extend([(VerificationEventKind::Checked, None); 3]);
                steps.push((VerificationEventKind::Failed, None));
            }
            OtpOutcome::Expired => steps.push((VerificationEventKind::Expired, None)),
            OtpOutcome::Abandoned => steps.push((VerificationEventKind::Abandoned, None)),
        }
        for (kind, message_id) in steps {
            at += 25 * SECOND_US;
            self.state
                .writes
                .add_verification_event(event(kind, message_id, at))
                .await?;
        }
        self.summary.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn reply(
        &self,
        provider: &str,
        from: &str,
        reply: &Reply,
        n: u64,
        at_us: i64,
    ) -> Result<(), DemoError> {
        let text = match reply {
            Reply::None => return Ok(()),
            Reply::Stop => "STOP",
            Reply::Start => "START",
            Reply::Text(text) => text,
        };
        let sender = self.sender(provider)?;
        // Inbound ids from a tag of their own: never one of an outbound message.
        let provider_message_id = sender.message_id(!self.tag, n);
        let request = sender.inbound(
            &self.state.config.public_url,
            &Inbound {
                provider_message_id: &provider_message_id,
                from,
                to: "+14155550123",
                text,
                at: instant(at_us),
            },
        );
        let provider = sender.name();
        self.send(provider, Route::Inbound, &request, at_us).await?;
        self.summary.inbound.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn next_provider(provider: &str) -> &'static str {
    let names: Vec<&'static str> = plan::PROVIDERS.iter().map(|(p, _)| *p).collect();
    let at = names.iter().position(|p| *p == provider).unwrap_or(0);
    names[(at + 1) % names.len()]
}

fn instant(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default()
}

/// How long the demo took, said plainly.
pub fn took(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_waits_for_a_busy_database_longer_than_a_provider_does() {
        let config = Config::from_sources(None, Vec::new()).expect("defaults");
        assert!(config.db_timeout < DEMO_DB_TIMEOUT);
        assert_eq!(demo_config(config).db_timeout, DEMO_DB_TIMEOUT);
        // A longer timeout someone configured is kept.
        let env = vec![("SMSTRAIL_DB_TIMEOUT".to_owned(), "3m".to_owned())];
        let config = Config::from_sources(None, env).expect("config");
        assert_eq!(demo_config(config).db_timeout, Duration::from_secs(180));
    }
}
