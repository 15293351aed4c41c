//! Prometheus metrics, one registry per app instance (no globals, so tests
//! can run many apps in one process).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What became of one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    Stored,
    Duplicate,
    Review,
    RejectedSignature,
    RejectedSize,
    StorageError,
}

impl CallbackOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Review => "review",
            Self::RejectedSignature => "rejected_signature",
            Self::RejectedSize => "rejected_size",
            Self::StorageError => "storage_error",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackLabels {
    provider: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    callbacks: Family<CallbackLabels, Counter>,
    latency: Family<ProviderLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("smstrail");
        let callbacks = Family::<CallbackLabels, Counter>::default();
        registry.register(
            "callbacks",
            "Provider callbacks received, by provider and outcome",
            callbacks.clone(),
        );
        let latency = Family::<ProviderLabels, Histogram>::new_with_constructor(
            // 0.25 ms .. ~4 s
            || Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
        );
        registry.register(
            "ingest_duration_seconds",
            "Time from receiving a callback to answering it",
            latency.clone(),
        );
        Self {
            registry: Arc::new(registry),
            callbacks,
            latency,
        }
    }

    pub fn record_callback(&self, provider: &str, outcome: CallbackOutcome, elapsed: Duration) {
        self.callbacks
            .get_or_create(&CallbackLabels {
                provider: provider.to_owned(),
                outcome: outcome.label().to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The registry in the text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
