//! The domain: plain Rust, no I/O. Status model, normalized reports, phone
//! numbers and the rules that combine them.

pub mod event;
pub mod outbound;
pub mod phone;
pub mod status;
pub mod verification;

pub use event::{DeliveryReport, InboundKeyword, InboundReport};
pub use phone::{PhoneError, PhoneNumber};
pub use status::{DeliveryStatus, StatusAt};
