//! Dashboards without I/O: the buckets durations are counted in, the
//! periods a page covers, what each message, callback and verification
//! contributes to the rollups, and the figures computed from them.

pub mod buckets;
pub mod figures;
pub mod period;
pub mod rollup;

pub use buckets::{BUCKETS, Histogram, Percentile};
pub use figures::{Counts, OtpCounts};
pub use period::{Period, PeriodChoice, SpanRange};
pub use rollup::{EventFact, MessageState, OtpCategory};
