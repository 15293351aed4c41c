//! Accounts at work: password hashing, login and phone-search throttling
//! and the first-run setup link. The rules (roles, what a valid password is) are in
//! `domain::account`; storage is in `store`.

pub mod password;
pub mod rate_limit;
pub mod search_limit;
pub mod setup;

pub use rate_limit::LoginLimiter;
pub use search_limit::SearchLimiter;
