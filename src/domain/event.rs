//! What a provider callback says once its own format is peeled off: the one
//! shape every provider module hands to the ingest pipeline.

use chrono::{DateTime, Utc};

use super::status::DeliveryStatus;

/// A delivery callback, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub provider_message_id: String,
    /// The provider's status string exactly as sent.
    pub raw_status: String,
    /// `None` when the provider mapping does not know `raw_status`: the event is
    /// stored, the summary is left alone and a review item is opened.
    pub status: Option<DeliveryStatus>,
    pub error_code: Option<String>,
    /// The provider's own id for this event, when it gives one (Standard
    /// Webhooks `webhook-id`, Telnyx `data.id`).
    pub provider_event_id: Option<String>,
    pub provider_occurred_at: Option<DateTime<Utc>>,
}

impl DeliveryReport {
    /// The key under which a repeat of this callback is recognized (CONTRACT §3
    /// step 4): the provider's event id where it gives one, else the tuple of
    /// provider message id, raw status and provider time.
    pub fn dedup_key(&self, provider: &str) -> String {
        dedup_key(
            provider,
            self.provider_event_id.as_deref(),
            &[
                &self.provider_message_id,
                &self.raw_status,
                &self
                    .provider_occurred_at
                    .map(|t| t.timestamp_micros().to_string())
                    .unwrap_or_default(),
            ],
        )
    }
}

/// An inbound message (a reply, or an opt-out keyword) from a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundReport {
    pub provider_message_id: String,
    /// The sender of the inbound message: one of our recipients. Raw as the
    /// provider sent it; parsed into E.164 by the pipeline.
    pub from: String,
    /// Our number or sender identity that received it.
    pub to: String,
    pub body: String,
    pub provider_event_id: Option<String>,
    pub provider_occurred_at: Option<DateTime<Utc>>,
}

impl InboundReport {
    pub fn dedup_key(&self, provider: &str) -> String {
        dedup_key(
            provider,
            self.provider_event_id.as_deref(),
            &[&self.provider_message_id],
        )
    }

    pub fn keyword(&self) -> Option<InboundKeyword> {
        InboundKeyword::recognize(&self.body)
    }
}

fn dedup_key(provider: &str, event_id: Option<&str>, parts: &[&str]) -> String {
    // Length-prefixed parts: no choice of separator can be forged by a value.
    let mut key = format!("{provider}|");
    match event_id {
        Some(id) => key.push_str(&format!("e{}:{id}", id.len())),
        None => {
            for part in parts {
                key.push_str(&format!("{}:{part}|", part.len()));
            }
        }
    }
    key
}

/// Keywords carriers and providers treat specially (CTIA / US carrier rules,
/// which Twilio, Telnyx and Plivo apply by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundKeyword {
    /// The recipient opted out.
    Stop,
    /// The recipient opted back in.
    Start,
    Help,
}

impl InboundKeyword {
    const STOP: [&'static str; 7] = [
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
    ];
    const START: [&'static str; 3] = ["START", "YES", "UNSTOP"];
    const HELP: [&'static str; 2] = ["HELP", "INFO"];

    /// A keyword counts only when it is the whole message (trimmed, any case,
    /// trailing punctuation ignored), as carriers match it.
    pub fn recognize(body: &str) -> Option<Self> {
        let word = body
            .trim()
            .trim_end_matches(['.', '!'])
            .to_ascii_uppercase();
        if Self::STOP.contains(&word.as_str()) {
            Some(Self::Stop)
        } else if Self::START.contains(&word.as_str()) {
            Some(Self::Start)
        } else if Self::HELP.contains(&word.as_str()) {
            Some(Self::Help)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Start => "start",
            Self::Help => "help",
        }
    }
}
