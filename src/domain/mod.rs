//! The domain: plain Rust, no I/O. Status model, normalized reports, phone
//! numbers, accounts, and what the support UI tells an agent (error notes,
//! next steps, time zones, timeline annotations).

pub mod account;
pub mod dashboard;
pub mod error_catalog;
pub mod event;
pub mod evidence;
pub mod guidance;
pub mod inbound_parts;
pub mod limbo;
pub mod opt_out;
pub mod outbound;
pub mod payload;
pub mod phone;
pub mod remap;
pub mod retention;
pub mod search;
pub mod status;
pub mod timeline;
pub mod timezones;
pub mod user_timeline;
pub mod verification;

pub use error_catalog::{ErrorNote, Finality};
pub use event::{DeliveryReport, InboundKeyword, InboundPart, InboundReport};
pub use phone::{PhoneError, PhoneNumber};
pub use status::{DeliveryStatus, StatusAt};
pub use timeline::{EventAnnotation, TimelineEvent};
pub use timezones::RecipientZone;

/// Text, stored or submitted, that names no value of one of our enums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

impl UnknownValue {
    pub fn new(what: &'static str, value: impl Into<String>) -> Self {
        Self {
            what,
            value: value.into(),
        }
    }
}
