//! Telling the product (`SMSTRAIL_NOTIFY_URL`): a background task sends the
//! rows of the transactional outbox (written by the writers in the same
//! transaction as the summary change) as Standard Webhooks–signed POSTs.
//! At least once: a row is marked sent only after a 2xx; a failed attempt is
//! retried with exponential backoff up to a cap; a sender that dies holding
//! a row loses its lease and another instance (or its restart) takes over.
//! Ordered per message: only the oldest unsent row of a message is claimed.

use std::time::Duration;

use serde_json::json;

use crate::config::Config;
use crate::providers::standard;
use crate::store::Store;
use crate::store::outbox::OutboxEvent;

/// How the sender paces itself.
#[derive(Debug, Clone)]
pub struct NotifyOptions {
    /// How often due rows are looked for.
    pub poll_every: Duration,
    /// The first retry's delay; doubled per attempt up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// How long one POST may take.
    pub request_timeout: Duration,
    /// Rows claimed per round.
    pub batch: i64,
}

impl Default for NotifyOptions {
    fn default() -> Self {
        Self {
            poll_every: Duration::from_secs(1),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(10),
            batch: 50,
        }
    }
}

/// The delay before attempt `attempts + 1`, after `attempts` failed ones.
pub fn backoff(options: &NotifyOptions, attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    options
        .backoff_base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(options.backoff_cap)
}

/// The sender of one process.
pub struct Notifier {
    store: Store,
    client: reqwest::Client,
    url: String,
    key: Vec<u8>,
    options: NotifyOptions,
}

impl Notifier {
    /// `None` when notifying is not configured.
    pub fn from_config(store: Store, config: &Config) -> Option<Self> {
        let url = config.notify_url.clone()?;
        let key = standard::decode_secret(config.notify_secret.as_ref()?.expose()).ok()?;
        Some(Self::new(store, url, key, NotifyOptions::default()))
    }

    pub fn new(store: Store, url: String, key: Vec<u8>, options: NotifyOptions) -> Self {
        let client = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            store,
            client,
            url,
            key,
            options,
        }
    }

    /// Runs the sender until the process stops.
    pub fn spawn(self) {
        tokio::spawn(async move {
            tracing::info!(url = %self.url, "notifying the product of final and timed-out messages");
            let mut tick = tokio::time::interval(self.options.poll_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // Keep going while rounds come back full.
                while let Ok(n) = self.round().await {
                    if n < self.options.batch as usize {
                        break;
                    }
                }
            }
        });
    }

    /// One round: claim due rows, send each, record the answer. How many
    /// rows it claimed.
    pub async fn round(&self) -> Result<usize, crate::store::StoreError> {
        let now = chrono::Utc::now().timestamp_micros();
        // The lease outlives the POSTs of the whole round.
        let lease = (self.options.request_timeout * (self.options.batch as u32 + 1))
            .min(Duration::from_secs(3600));
        let lease_until = now + lease.as_micros() as i64;
        let events = self
            .store
            .claim_outbox(now, lease_until, self.options.batch)
            .await
            .inspect_err(|error| tracing::warn!(%error, "could not claim outbox rows"))?;
        let claimed = events.len();
        for event in events {
            let result = self.send(&event).await;
            let at = chrono::Utc::now().timestamp_micros();
            let stored = match result {
                Ok(()) => self.store.outbox_sent(event.id, at).await,
                Err(error) => {
                    let delay = backoff(&self.options, event.attempts);
                    tracing::warn!(
                        message_id = %event.message_id, attempt = event.attempts, %error,
                        "the product was not notified; retrying later"
                    );
                    let retry_at = at + delay.as_micros() as i64;
                    self.store.outbox_failed(event.id, retry_at, &error).await
                }
            };
            if let Err(error) = stored {
                // The lease runs out and the row is sent again: at least once.
                tracing::warn!(%error, "could not record a notification attempt");
            }
        }
        Ok(claimed)
    }

    async fn send(&self, event: &OutboxEvent) -> Result<(), String> {
        let body = serde_json::to_vec(&event_body(event)).map_err(|e| e.to_string())?;
        let msg_id = format!("msg_smstrail_{}", event.id);
        let timestamp = chrono::Utc::now().timestamp();
        let signature = standard::sign(&self.key, &msg_id, timestamp, &body);
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the product answered {status}"))
        }
    }
}

/// The event as the product receives it.
pub fn event_body(event: &OutboxEvent) -> serde_json::Value {
    let occurred_at = chrono::DateTime::from_timestamp_micros(event.occurred_at_us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    let product_action = if event.product_action_kind.is_some()
        || event.product_action_ref.is_some()
        || event.product_action_url.is_some()
    {
        json!({
            "kind": event.product_action_kind,
            "ref": event.product_action_ref,
            "url": event.product_action_url,
        })
    } else {
        serde_json::Value::Null
    };
    json!({
        "type": event.event_type,
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "id": event.message_id,
            "provider": event.provider,
            "provider_message_id": event.provider_message_id,
            "status": event.status,
            "error_code": event.error_code,
            "use_case": event.use_case,
            "user_ref": event.user_ref,
            "product_action": product_action,
            "occurred_at": occurred_at,
        }
    })
}
