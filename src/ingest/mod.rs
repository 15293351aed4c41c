//! The ingest pipeline of CONTRACT §3: verify, parse, deduplicate, store in
//! one transaction, answer only after commit. Provider formats stay in
//! `providers`; SQL stays in `store`.

use std::collections::HashMap;
use std::time::Instant;

use crate::crypto::{CryptoError, DataCipher};
use crate::domain::{InboundPart, InboundReport, PhoneNumber};
use crate::metrics::{CallbackOutcome, Metrics};
use crate::providers::{Acknowledgement, Provider, Report, Route, VerifyError, WebhookRequest};
use crate::store::{
    InboundItem, IngestItem, IngestOutcome, MappingCache, ProtectedNumber, SealedPayload,
    StoreError, Writes,
};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("provider {0:?} is not configured")]
    UnknownProvider(String),
    #[error("signature check failed: {0}")]
    Unauthorized(#[from] VerifyError),
    #[error("the callback was not stored: {0}")]
    Unavailable(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

pub struct Ingest {
    providers: HashMap<&'static str, Box<dyn Provider>>,
    writes: Writes,
    cipher: DataCipher,
    metrics: Metrics,
    /// The admins' status mappings, read before the providers' vocabulary.
    mappings: MappingCache,
}

impl Ingest {
    pub fn new(
        providers: Vec<Box<dyn Provider>>,
        writes: Writes,
        cipher: DataCipher,
        metrics: Metrics,
        mappings: MappingCache,
    ) -> Self {
        Self {
            providers: providers.into_iter().map(|p| (p.name(), p)).collect(),
            writes,
            cipher,
            metrics,
            mappings,
        }
    }

    pub fn is_configured(&self, provider: &str) -> bool {
        self.providers.contains_key(provider)
    }

    /// Runs one callback through the pipeline; `Ok` only once it is committed.
    pub async fn handle(
        &self,
        provider: &str,
        route: Route,
        request: &WebhookRequest<'_>,
    ) -> Result<(IngestOutcome, Acknowledgement), IngestError> {
        let started = Instant::now();
        let provider = self
            .providers
            .get(provider)
            .ok_or_else(|| IngestError::UnknownProvider(provider.to_owned()))?;
        let result = self
            .verify_and_store(provider.as_ref(), route, request)
            .await;
        let outcome = match &result {
            Ok(IngestOutcome::Stored { .. } | IngestOutcome::Waiting) => CallbackOutcome::Stored,
            Ok(IngestOutcome::Duplicate) => CallbackOutcome::Duplicate,
            Ok(IngestOutcome::Review) => CallbackOutcome::Review,
            Err(IngestError::Unauthorized(_)) => CallbackOutcome::RejectedSignature,
            Err(_) => CallbackOutcome::StorageError,
        };
        self.metrics
            .record_callback(provider.name(), outcome, started.elapsed());
        Ok((result?, provider.acknowledgement(route)))
    }

    /// Counts a request refused before the pipeline for its size.
    pub fn record_too_large(&self, provider: &str) {
        if let Some(provider) = self.providers.get(provider) {
            self.metrics.record_callback(
                provider.name(),
                CallbackOutcome::RejectedSize,
                std::time::Duration::ZERO,
            );
        }
    }

    async fn verify_and_store(
        &self,
        provider: &dyn Provider,
        route: Route,
        request: &WebhookRequest<'_>,
    ) -> Result<IngestOutcome, IngestError> {
        provider.verify(request)?;
        let item = self.prepare(provider, route, request)?;
        Ok(self.writes.ingest(item).await?)
    }

    fn prepare(
        &self,
        provider: &dyn Provider,
        route: Route,
        request: &WebhookRequest<'_>,
    ) -> Result<IngestItem, IngestError> {
        let name = provider.name();
        let received_at_us = request.now.timestamp_micros();
        let payload = SealedPayload {
            content_type: content_type(request),
            sealed: self.cipher.seal(request.body)?,
        };
        Ok(match provider.parse(route, request) {
            Ok(Report::Delivery(mut report)) => {
                if let Some(mapped) = self.mappings.get(name, &report.raw_status) {
                    report.status = Some(mapped);
                }
                IngestItem::Delivery {
                    provider: name,
                    dedup_key: report.dedup_key(name),
                    report,
                    payload,
                    received_at_us,
                }
            }
            Ok(Report::Inbound(report)) => {
                IngestItem::Inbound(self.inbound(name, report, None, payload, received_at_us)?)
            }
            Ok(Report::InboundPart(report, part)) => IngestItem::Inbound(self.inbound(
                name,
                report,
                Some(part),
                payload,
                received_at_us,
            )?),
            Err(error) => IngestItem::Unreadable {
                provider: name,
                route: route_name(route),
                reason: error.to_string(),
                dedup_key: format!("{name}:{}", self.cipher.payload_digest(request.body)),
                payload,
                received_at_us,
            },
        })
    }

    fn inbound(
        &self,
        provider: &'static str,
        report: InboundReport,
        part: Option<InboundPart>,
        payload: SealedPayload,
        received_at_us: i64,
    ) -> Result<InboundItem, IngestError> {
        Ok(InboundItem {
            provider,
            dedup_key: report.dedup_key(provider),
            sender: self.protect_sender(&report.from)?,
            body_sealed: self.cipher.seal(report.body.as_bytes())?,
            // A keyword is a whole message; one part of a long one never is.
            keyword: match part {
                None => report.keyword().map(|k| k.as_str()),
                Some(_) => None,
            },
            part,
            report,
            payload,
            received_at_us,
        })
    }

    /// Inbound senders are usually phone numbers, but short codes and
    /// alphanumeric senders exist: those are kept as given, still hashed,
    /// sealed and masked.
    fn protect_sender(&self, from: &str) -> Result<ProtectedNumber, CryptoError> {
        match PhoneNumber::parse_international(from) {
            Ok(number) => self.cipher.protect_number(&number),
            Err(_) => {
                let raw = from.trim();
                let visible: String = raw
                    .chars()
                    .rev()
                    .take(2)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                Ok(ProtectedNumber {
                    hash: self.cipher.phone_hash(raw),
                    sealed: self.cipher.seal(raw.as_bytes())?,
                    masked: format!("••••{visible}"),
                    country: None,
                })
            }
        }
    }
}

fn content_type(request: &WebhookRequest<'_>) -> String {
    request
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn route_name(route: Route) -> &'static str {
    match route {
        Route::Status => "status",
        Route::Inbound => "inbound",
    }
}
