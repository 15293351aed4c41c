//! The review queue: authentic callbacks we could not read, whose status the
//! provider mapping does not know, or whose message was never registered,
//! kept for a human to look at; and the status mappings an admin adds from it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::domain::remap::MappingRule;
use crate::domain::{DeliveryStatus, UnknownValue};

use super::audit::insert_audit;
use super::db::conflict_or;
use super::{NewAuditEntry, Store, StoreError};

/// Why a callback is in the review queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewKind {
    /// Authentic, but its body could not be read.
    Unreadable,
    /// Stored in the timeline, but the provider mapping does not know its status.
    UnknownStatus,
    /// Its provider message id had no registered message after
    /// `SMSTRAIL_UNMATCHED_AFTER`.
    Unmatched,
}

impl ReviewKind {
    pub const ALL: [ReviewKind; 3] = [Self::Unreadable, Self::UnknownStatus, Self::Unmatched];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreadable => "unreadable",
            Self::UnknownStatus => "unknown_status",
            Self::Unmatched => "unmatched",
        }
    }

    /// What the review page calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Unreadable => "unreadable payload",
            Self::UnknownStatus => "unknown status",
            Self::Unmatched => "unmatched callback",
        }
    }
}

impl TryFrom<String> for ReviewKind {
    type Error = UnknownValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownValue::new("review kind", text))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewRecord {
    pub id: i64,
    pub provider: String,
    pub route: String,
    #[sqlx(try_from = "String")]
    pub kind: ReviewKind,
    pub reason: String,
    pub event_id: Option<i64>,
    pub content_type: String,
    pub raw_payload_sealed: Vec<u8>,
    pub received_at_us: i64,
}

/// Open review items of one kind, provider and raw status.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewGroup {
    #[sqlx(try_from = "String")]
    pub kind: ReviewKind,
    pub provider: String,
    /// `None` for unreadable payloads and unmatched callbacks.
    pub raw_status: Option<String>,
    pub count: i64,
    pub first_at_us: i64,
    pub last_at_us: i64,
    /// The newest item of the group, shown as its example.
    pub example_id: i64,
}

/// One mapping from a provider's raw status to a normalized status.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatusMapping {
    pub provider: String,
    pub raw_status: String,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    pub created_at_us: i64,
    pub created_by: Option<String>,
}

impl StatusMapping {
    /// The mapping of `raw_status` among one provider's `mappings`, as the
    /// domain reads it.
    pub fn rule_for<'a>(mappings: &'a [Self], raw_status: &str) -> Option<MappingRule<'a>> {
        mappings
            .iter()
            .find(|m| m.raw_status == raw_status)
            .map(|m| MappingRule {
                status: m.status,
                added_by: m.created_by.as_deref(),
                added_at_us: m.created_at_us,
            })
    }
}

/// The mappings in memory, so that the ingest path asks no query per
/// callback. Refreshed when a mapping changes here and periodically (another
/// instance may have changed one).
#[derive(Debug, Clone, Default)]
pub struct MappingCache(Arc<RwLock<HashMap<(String, String), DeliveryStatus>>>);

impl MappingCache {
    pub fn get(&self, provider: &str, raw_status: &str) -> Option<DeliveryStatus> {
        let map = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Few mappings exist: the owned key costs less than a cleverer map.
        map.get(&(provider.to_owned(), raw_status.to_owned()))
            .copied()
    }

    fn replace(&self, mappings: &[StatusMapping]) {
        let fresh = mappings
            .iter()
            .map(|m| ((m.provider.clone(), m.raw_status.clone()), m.status))
            .collect();
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
    }
}

/// What the resolution note of an unmatched item says once its message came.
pub(crate) const REGISTERED_LATER: &str = "the message was registered later";

/// The dedup key of the review item of an unmatched provider message id.
pub(crate) fn unmatched_key(provider: &str, provider_message_id: &str) -> String {
    format!("unmatched:{provider}:{provider_message_id}")
}

impl Store {
    /// Unresolved items, oldest first.
    pub async fn review_items(&self, limit: i64) -> Result<Vec<ReviewRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, provider, route, kind, reason, event_id, content_type, \
             raw_payload_sealed, received_at_us FROM review_items \
             WHERE resolved_at_us IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// One item, resolved or not.
    pub async fn review_item(&self, id: i64) -> Result<Option<ReviewRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, provider, route, kind, reason, event_id, content_type, \
             raw_payload_sealed, received_at_us FROM review_items WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The open items grouped by kind, provider and raw status, the most
    /// recently active group first.
    pub async fn review_groups(&self, limit: i64) -> Result<Vec<ReviewGroup>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kind, provider, raw_status, COUNT(*) AS count, \
             MIN(received_at_us) AS first_at_us, MAX(received_at_us) AS last_at_us, \
             MAX(id) AS example_id FROM review_items WHERE resolved_at_us IS NULL \
             GROUP BY kind, provider, raw_status ORDER BY MAX(received_at_us) DESC, kind \
             LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Resolves every open item of a group with a note, audited in the same
    /// transaction; how many were resolved.
    pub async fn resolve_review_group(
        &self,
        kind: ReviewKind,
        provider: &str,
        raw_status: Option<&str>,
        note: &str,
        at_us: i64,
        audit: &NewAuditEntry,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        // COALESCE: a NULL raw status (unreadable, unmatched) is bound as ''
        // so that one statement text serves both, typed on PostgreSQL.
        let resolved = sqlx::query(
            "UPDATE review_items SET resolved_at_us = $1, resolution = $2, resolved_by = $3 \
             WHERE resolved_at_us IS NULL AND kind = $4 AND provider = $5 \
             AND COALESCE(raw_status, '') = $6",
        )
        .bind(at_us)
        .bind(note)
        .bind(audit.actor_email.clone())
        .bind(kind.as_str())
        .bind(provider)
        .bind(raw_status.unwrap_or(""))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if resolved == 0 {
            return Err(StoreError::NotFound);
        }
        let mut audit = audit.clone();
        audit.detail = Some(format!("{resolved} item(s)"));
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(resolved)
    }

    /// The periodic pass over callbacks still waiting for their message:
    /// every provider message id first seen at or before `cutoff_us` gets one
    /// review item (a conditional insert on its dedup key, so instances
    /// running the pass at once open it once). Items whose message has come
    /// since are resolved too: an attach that raced this pass's insert
    /// would otherwise leave its item open. Returns (opened, resolved).
    pub async fn sweep_unmatched(
        &self,
        cutoff_us: i64,
        now_us: i64,
    ) -> Result<(u64, u64), StoreError> {
        let opened = sqlx::query(
            "INSERT INTO review_items (provider, route, kind, reason, event_id, content_type, \
             raw_payload_sealed, raw_payload_removed_at_us, received_at_us, dedup_key, \
             provider_message_id) \
             SELECT u.provider, 'status', 'unmatched', \
             'callback for a message we never registered', e.id, e.content_type, \
             e.raw_payload_sealed, e.raw_payload_removed_at_us, u.first_received_at_us, \
             'unmatched:' || u.provider || ':' || u.provider_message_id, u.provider_message_id \
             FROM unmatched_callbacks u JOIN message_events e ON e.id = ( \
               SELECT MIN(m.id) FROM message_events m \
               WHERE m.provider = u.provider AND m.provider_message_id = u.provider_message_id) \
             WHERE u.first_received_at_us <= $1 \
             ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind(cutoff_us)
        .execute(self.pool())
        .await?
        .rows_affected();
        let resolved = sqlx::query(
            "UPDATE review_items SET resolved_at_us = $1, resolution = $2 \
             WHERE kind = 'unmatched' AND resolved_at_us IS NULL AND NOT EXISTS ( \
               SELECT 1 FROM unmatched_callbacks u WHERE u.provider = review_items.provider \
               AND u.provider_message_id = review_items.provider_message_id)",
        )
        .bind(now_us)
        .bind(REGISTERED_LATER)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok((opened, resolved))
    }

    /// Every mapping, by provider and raw status.
    pub async fn status_mappings(&self) -> Result<Vec<StatusMapping>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT provider, raw_status, status, created_at_us, created_by \
             FROM status_mappings ORDER BY provider, raw_status",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The mappings of one provider: what the message page needs to say
    /// which events a mapping normalized.
    pub async fn status_mappings_of(
        &self,
        provider: &str,
    ) -> Result<Vec<StatusMapping>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT provider, raw_status, status, created_at_us, created_by \
             FROM status_mappings WHERE provider = $1",
        )
        .bind(provider)
        .fetch_all(self.pool())
        .await?)
    }

    /// The cache the ingest path reads mappings from.
    pub fn mapping_cache(&self) -> MappingCache {
        self.inner.mappings.clone()
    }

    /// Reloads the mapping cache from the database.
    pub async fn refresh_mappings(&self) -> Result<(), StoreError> {
        let mappings = self.status_mappings().await?;
        self.inner.mappings.replace(&mappings);
        Ok(())
    }

    /// Adds a mapping and resolves the open unknown-status items it answers,
    /// audited in the same transaction; then refreshes the cache. `Conflict`
    /// when the raw status is mapped already. Re-normalizing the stored
    /// events is the caller's next step ([`Store::events_to_renormalize`]).
    pub async fn add_status_mapping(
        &self,
        mapping: &StatusMapping,
        audit: &NewAuditEntry,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO status_mappings (provider, raw_status, status, created_at_us, \
             created_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&mapping.provider)
        .bind(&mapping.raw_status)
        .bind(mapping.status.as_str())
        .bind(mapping.created_at_us)
        .bind(&mapping.created_by)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, "this raw status is mapped already"))?;
        let resolved = sqlx::query(
            "UPDATE review_items SET resolved_at_us = $1, resolution = $2, resolved_by = $3 \
             WHERE resolved_at_us IS NULL AND kind = 'unknown_status' AND provider = $4 \
             AND raw_status = $5",
        )
        .bind(mapping.created_at_us)
        .bind(format!(
            "remapped: {:?} now means {}",
            mapping.raw_status, mapping.status
        ))
        .bind(&mapping.created_by)
        .bind(&mapping.provider)
        .bind(&mapping.raw_status)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.refresh_mappings().await?;
        Ok(resolved)
    }

    /// Removes a mapping, audited; `NotFound` when there is none. Events
    /// stored under it keep their status: only new callbacks see the change.
    pub async fn remove_status_mapping(
        &self,
        provider: &str,
        raw_status: &str,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let removed =
            sqlx::query("DELETE FROM status_mappings WHERE provider = $1 AND raw_status = $2")
                .bind(provider)
                .bind(raw_status)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if removed == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.refresh_mappings().await
    }

    /// The next chunk of events with this raw status after `after_id`, in id
    /// order: (event id, provider message id).
    pub async fn events_to_renormalize(
        &self,
        provider: &str,
        raw_status: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, provider_message_id FROM message_events \
             WHERE provider = $1 AND raw_status = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(provider)
        .bind(raw_status)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}

/// How many events one re-normalization chunk takes: small enough that a
/// chunk is one short transaction queued between callbacks, never a long
/// one that ingest waits behind.
pub const RENORMALIZE_CHUNK: i64 = 500;

/// Re-normalizes every stored event of `provider` with `raw_status` to
/// `status`, a chunk at a time through the writers, recomputing the
/// summaries they touch. Returns (events, summaries changed).
pub async fn renormalize(
    store: &Store,
    writes: &super::Writes,
    provider: &str,
    raw_status: &str,
    status: Option<DeliveryStatus>,
    at_us: i64,
) -> Result<(usize, usize), StoreError> {
    let (mut events, mut changed, mut after_id) = (0, 0, 0);
    loop {
        let chunk = store
            .events_to_renormalize(provider, raw_status, after_id, RENORMALIZE_CHUNK)
            .await?;
        let Some(&(last_id, _)) = chunk.last() else {
            return Ok((events, changed));
        };
        after_id = last_id;
        events += chunk.len();
        let (event_ids, mut pmids): (Vec<i64>, Vec<String>) = chunk.into_iter().unzip();
        pmids.sort_unstable();
        pmids.dedup();
        changed += writes
            .renormalize(super::write::Renormalize {
                provider: provider.to_owned(),
                status,
                event_ids,
                provider_message_ids: pmids,
                at_us,
            })
            .await?;
    }
}
