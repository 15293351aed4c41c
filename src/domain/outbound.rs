//! The send-side registration request (CONTRACT §4), parsed into a value that
//! is valid by construction. Every rejection names its field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::phone::PhoneNumber;

const MAX_TEXT: usize = 255;
const MAX_URL: usize = 2048;
const MAX_METADATA_BYTES: usize = 16 * 1024;

pub const SENDER_TYPES: [&str; 5] = [
    "10dlc",
    "toll_free",
    "short_code",
    "alphanumeric",
    "long_code",
];
pub const USE_CASES: [&str; 5] = [
    "otp",
    "account_alert",
    "transactional",
    "marketing",
    "other",
];
/// How a message was sent again in another's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    Retry,
    Resend,
    ProviderFailover,
    ChannelFallback,
}

impl RetryKind {
    pub const ALL: [Self; 4] = [
        Self::Retry,
        Self::Resend,
        Self::ProviderFailover,
        Self::ChannelFallback,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Resend => "resend",
            Self::ProviderFailover => "provider_failover",
            Self::ChannelFallback => "channel_fallback",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl TryFrom<String> for RetryKind {
    type Error = super::UnknownValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).ok_or_else(|| super::UnknownValue::new("retry kind", text))
    }
}

/// A rejected field and why, in words an API client can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The request body as sent; unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct RegisterRequest {
    pub idempotency_key: Option<String>,
    pub to: Option<String>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub sender_identity: Option<String>,
    pub sender_type: Option<String>,
    pub template_key: Option<String>,
    pub use_case: Option<String>,
    pub user_ref: Option<String>,
    pub product_action: Option<ProductActionRequest>,
    pub recipient_timezone: Option<String>,
    pub sent_at: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProductActionRequest {
    pub kind: Option<String>,
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub url: Option<String>,
}

/// A valid registration. Serializes canonically, which is what the
/// idempotency fingerprint is taken over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboundMessage {
    pub idempotency_key: String,
    #[serde(serialize_with = "serialize_e164")]
    pub to: PhoneNumber,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub sender_identity: Option<String>,
    pub sender_type: Option<String>,
    pub template_key: Option<String>,
    pub use_case: Option<String>,
    pub user_ref: Option<String>,
    pub product_action_kind: Option<String>,
    pub product_action_ref: Option<String>,
    pub product_action_url: Option<String>,
    pub recipient_timezone: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub metadata: Option<serde_json::Value>,
}

fn serialize_e164<S: serde::Serializer>(n: &PhoneNumber, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(n.e164())
}

impl OutboundMessage {
    pub fn parse(request: RegisterRequest, known_providers: &[&str]) -> Result<Self, FieldError> {
        let idempotency_key = required_text("idempotency_key", request.idempotency_key)?;
        let to_text = required("to", request.to)?;
        let to =
            PhoneNumber::parse_e164(&to_text).map_err(|e| FieldError::new("to", e.to_string()))?;
        let provider = required("provider", request.provider)?;
        if !known_providers.contains(&provider.as_str()) {
            return Err(FieldError::new(
                "provider",
                format!("must be one of {}", known_providers.join(", ")),
            ));
        }
        let action = request.product_action.unwrap_or_default();
        Ok(Self {
            idempotency_key,
            to,
            provider,
            provider_message_id: optional_text("provider_message_id", request.provider_message_id)?,
            sender_identity: optional_text("sender_identity", request.sender_identity)?,
            sender_type: one_of("sender_type", request.sender_type, &SENDER_TYPES)?,
            template_key: optional_text("template_key", request.template_key)?,
            use_case: one_of("use_case", request.use_case, &USE_CASES)?,
            user_ref: optional_text("user_ref", request.user_ref)?,
            product_action_kind: optional_text("product_action.kind", action.kind)?,
            product_action_ref: optional_text("product_action.ref", action.reference)?,
            product_action_url: web_url("product_action.url", action.url)?,
            recipient_timezone: time_zone("recipient_timezone", request.recipient_timezone)?,
            sent_at: instant("sent_at", request.sent_at)?,
            metadata: metadata(request.metadata)?,
        })
    }
}

pub fn required(field: &str, value: Option<String>) -> Result<String, FieldError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Some(_) => Err(FieldError::new(field, "must not be empty")),
        None => Err(FieldError::new(field, "is required")),
    }
}

pub fn required_text(field: &str, value: Option<String>) -> Result<String, FieldError> {
    optional_text(field, value)?.ok_or_else(|| FieldError::new(field, "is required"))
}

/// A short free-text value: trimmed, not blank, at most 255 characters, no
/// control characters.
pub fn optional_text(field: &str, value: Option<String>) -> Result<Option<String>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            "must not be empty (leave it out instead)",
        ));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(value.to_owned()))
}

pub fn one_of(
    field: &str,
    value: Option<String>,
    allowed: &[&str],
) -> Result<Option<String>, FieldError> {
    match value {
        None => Ok(None),
        Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
        Some(_) => Err(FieldError::new(
            field,
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

/// Only http(s) URLs: the UI renders this as a link, and `javascript:` must never be one.
fn web_url(field: &str, value: Option<String>) -> Result<Option<String>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let parsed = url::Url::parse(value.trim())
        .map_err(|_| FieldError::new(field, "must be an absolute http:// or https:// URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || value.len() > MAX_URL {
        return Err(FieldError::new(
            field,
            format!("must be an absolute http:// or https:// URL of at most {MAX_URL} characters"),
        ));
    }
    Ok(Some(value.trim().to_owned()))
}

fn time_zone(field: &str, value: Option<String>) -> Result<Option<String>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    value
        .parse::<chrono_tz::Tz>()
        .map(|tz| Some(tz.name().to_owned()))
        .map_err(|_| FieldError::new(field, "must be an IANA time zone name such as Europe/Paris"))
}

pub fn instant(field: &str, value: Option<String>) -> Result<Option<DateTime<Utc>>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| {
            FieldError::new(
                field,
                "must be an RFC 3339 instant such as 2026-11-26T10:00:00Z",
            )
        })
}

fn metadata(value: Option<serde_json::Value>) -> Result<Option<serde_json::Value>, FieldError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v @ serde_json::Value::Object(_)) => {
            if v.to_string().len() > MAX_METADATA_BYTES {
                Err(FieldError::new(
                    "metadata",
                    format!("must be at most {MAX_METADATA_BYTES} bytes"),
                ))
            } else {
                Ok(Some(v))
            }
        }
        Some(_) => Err(FieldError::new("metadata", "must be a JSON object")),
    }
}
