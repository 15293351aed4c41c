//! Prometheus metrics, one registry per app instance (no globals, so tests
//! can run many apps in one process).
//!
//! Every family is listed (`# HELP`/`# TYPE`) from the first scrape: label
//! sets known up front (configured provider × outcome, each writer, each
//! pool) start at zero, and families whose labels only requests reveal (HTTP
//! route and status) are listed empty. A scraper thus sees the whole schema
//! at once, and `rate()` and absence alerts work before the first sample.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::Store;
use crate::store::write::QueueWatch;

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
    const ALL: [Self; 6] = [
        Self::Stored,
        Self::Duplicate,
        Self::Review,
        Self::RejectedSignature,
        Self::RejectedSize,
        Self::StorageError,
    ];

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

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The matched route template (`/api/v1/messages/{id}`) or `unmatched`:
    /// never the raw path, whose ids would make one series per message.
    route: String,
    status: u16,
}

/// The route label of requests no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// 0.25 ms .. ~4 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// What the group-commit writers observe: one sample per committed write
/// transaction. Created before the writers start, which hold a clone.
#[derive(Debug, Clone)]
pub struct WriterMetrics {
    batch_size: Histogram,
    commit_seconds: Histogram,
}

impl Default for WriterMetrics {
    fn default() -> Self {
        Self {
            // 1 .. 8192, the largest queue a writer has.
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            commit_seconds: latency_histogram(),
        }
    }
}

impl WriterMetrics {
    /// A transaction of `size` commands committed after `elapsed`.
    pub fn record_commit(&self, size: usize, elapsed: Duration) {
        self.batch_size.observe(size as f64);
        self.commit_seconds.observe(elapsed.as_secs_f64());
    }
}

/// What the metrics read at scrape time, besides what code records.
pub struct Sources<'a> {
    /// The configured providers, whose callback series start at zero.
    pub providers: &'a [&'static str],
    pub writer: WriterMetrics,
    pub queues: QueueWatch,
    pub store: Store,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    callbacks: Family<CallbackLabels, Counter>,
    latency: Family<ProviderLabels, Histogram>,
    requests: Family<RequestLabels, Counter>,
    request_latency: Family<RequestLabels, Histogram>,
}

impl Metrics {
    pub fn new(sources: Sources<'_>) -> Self {
        let mut registry = Registry::with_prefix("smstrail");
        let callbacks = Family::<CallbackLabels, Counter>::default();
        let latency = Family::<ProviderLabels, Histogram>::new_with_constructor(latency_histogram);
        // Created, not incremented: the series exist at zero.
        for provider in sources.providers {
            for outcome in CallbackOutcome::ALL {
                callbacks.get_or_create_owned(&CallbackLabels {
                    provider: (*provider).to_owned(),
                    outcome: outcome.label().to_owned(),
                });
            }
            latency.get_or_create_owned(&ProviderLabels {
                provider: (*provider).to_owned(),
            });
        }
        registry.register(
            "callbacks",
            "Provider callbacks received, by provider and outcome",
            Listed(callbacks.clone()),
        );
        registry.register(
            "ingest_duration_seconds",
            "Time from receiving a callback to answering it",
            Listed(latency.clone()),
        );

        let requests = Family::<RequestLabels, Counter>::default();
        let request_latency =
            Family::<RequestLabels, Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            Listed(requests.clone()),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response headers, by method, route template and status",
            Listed(request_latency.clone()),
        );

        registry.register(
            "writer_queue_depth",
            "Writes waiting in each group-commit writer's queue",
            Sampled::new(move || {
                let depths = sources.queues.depths().into_iter().enumerate();
                depths
                    .map(|(writer, depth)| (vec![("writer", writer.to_string())], depth as u64))
                    .collect()
            }),
        );
        registry.register(
            "writer_batch_size",
            "Commands per committed write transaction",
            sources.writer.batch_size,
        );
        registry.register(
            "writer_commit_duration_seconds",
            "Time to apply and commit one write transaction",
            sources.writer.commit_seconds,
        );
        let pool_store = sources.store.clone();
        registry.register(
            "db_pool_connections",
            "Open connections of each query pool, idle or in use (the writers' own connections are not pooled)",
            Sampled::new(move || {
                let pools = pool_store.pool_use().into_iter();
                pools
                    .flat_map(|pool| {
                        [("idle", pool.idle), ("in_use", pool.in_use)].map(|(state, count)| {
                            let labels = vec![("pool", pool.name.to_owned()), ("state", state.to_owned())];
                            (labels, u64::from(count))
                        })
                    })
                    .collect()
            }),
        );
        registry.register(
            "db_pool_max_connections",
            "The most connections each query pool opens",
            Sampled::new(move || {
                let pools = sources.store.pool_use().into_iter();
                pools
                    .map(|pool| (vec![("pool", pool.name.to_owned())], u64::from(pool.max)))
                    .collect()
            }),
        );
        Self {
            registry: Arc::new(registry),
            callbacks,
            latency,
            requests,
            request_latency,
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

    /// One answered request. `route` is the matched route template or
    /// [`UNMATCHED_ROUTE`].
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = RequestLabels {
            method: method_label(method),
            route: route.to_owned(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.request_latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The registry in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Clients choose the method (the webhook route takes any): only the
/// standard ones become label values, so a client cannot mint series.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("OTHER")
}

/// A family listed even while it has no label set yet: prometheus-client
/// skips empty families altogether, descriptor included.
#[derive(Debug)]
struct Listed<M>(M);

impl<M: EncodeMetric> EncodeMetric for Listed<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

/// The labels and value of one gauge series.
type GaugeSample = (Vec<(&'static str, String)>, u64);

/// A gauge family read at scrape time from what it measures (the queues are
/// the channels themselves, the pools count their own connections), so no
/// copy has to be kept in step with them.
struct Sampled(Box<dyn Fn() -> Vec<GaugeSample> + Send + Sync>);

impl Sampled {
    fn new(read: impl Fn() -> Vec<GaugeSample> + Send + Sync + 'static) -> Self {
        Self(Box::new(read))
    }
}

impl std::fmt::Debug for Sampled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sampled")
    }
}

impl EncodeMetric for Sampled {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, value) in (self.0)() {
            encoder.encode_family(&labels)?.encode_gauge(&value)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

#[cfg(test)]
mod tests {
    use super::method_label;

    #[test]
    fn only_standard_methods_become_labels() {
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("BREW"), "OTHER");
        assert_eq!(method_label("get"), "OTHER");
    }
}
