//! The ingest transaction, set-based: a batch of callbacks costs a handful of
//! statements (lock, insert events, read summaries, write summaries), not a
//! few per callback. Instantiated per backend by [`impl_ingest`], like
//! [`super::sql::impl_store`].

/// Adds the inherent ingest methods to a backend type that has
/// `lock_provider_messages`.
macro_rules! impl_ingest {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn ingest_batch(
                conn: &mut <$db as sqlx::Database>::Connection,
                batch: &[IngestItem],
            ) -> Result<Vec<IngestOutcome>, StoreError> {
                let mut outcomes = vec![IngestOutcome::Duplicate; batch.len()];
                let mut deliveries = Vec::new();
                for (index, item) in batch.iter().enumerate() {
                    match item {
                        IngestItem::Delivery { provider, report, dedup_key, payload, received_at_us } => {
                            deliveries.push(Delivery {
                                index,
                                provider,
                                report,
                                dedup_key,
                                payload,
                                received_at_us: *received_at_us,
                            });
                        }
                        IngestItem::Inbound { .. } => {
                            outcomes[index] = Self::ingest_inbound(conn, item).await?;
                        }
                        IngestItem::Unreadable { provider, route, reason, payload, received_at_us } => {
                            Self::insert_review(conn, provider, route, "unreadable", reason, None, payload, *received_at_us)
                                .await?;
                            outcomes[index] = IngestOutcome::Review;
                        }
                    }
                }
                if !deliveries.is_empty() {
                    for (index, outcome) in Self::ingest_deliveries(conn, &deliveries).await? {
                        outcomes[index] = outcome;
                    }
                }
                Ok(outcomes)
            }

            async fn ingest_deliveries(
                conn: &mut <$db as sqlx::Database>::Connection,
                deliveries: &[Delivery<'_>],
            ) -> Result<Vec<(usize, IngestOutcome)>, StoreError> {
                // A callback repeated inside one batch: only its first copy is offered.
                let mut seen = std::collections::HashSet::new();
                let firsts: Vec<&Delivery<'_>> =
                    deliveries.iter().filter(|d| seen.insert(d.dedup_key)).collect();

                let mut keys: Vec<(&str, &str)> = firsts
                    .iter()
                    .map(|d| (d.provider, d.report.provider_message_id.as_str()))
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                Self::lock_provider_messages(conn, &keys).await?;

                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO message_events (dedup_key, provider, provider_message_id, \
                     provider_event_id, raw_status, status, error_code, provider_occurred_at_us, \
                     received_at_us, content_type, raw_payload_sealed) ",
                );
                insert.push_values(&firsts, |mut row, d| {
                    row.push_bind(d.dedup_key)
                        .push_bind(d.provider)
                        .push_bind(d.report.provider_message_id.as_str())
                        .push_bind(d.report.provider_event_id.as_deref())
                        .push_bind(d.report.raw_status.as_str())
                        .push_bind(d.status_text())
                        .push_bind(d.report.error_code.as_deref())
                        .push_bind(d.provider_occurred_at_us())
                        .push_bind(d.received_at_us)
                        .push_bind(d.payload.content_type.as_str())
                        .push_bind(d.payload.sealed.as_slice());
                });
                insert.push(" ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key, id");
                let inserted: std::collections::HashMap<String, i64> = insert
                    .build_query_as::<(String, i64)>()
                    .fetch_all(&mut *conn)
                    .await?
                    .into_iter()
                    .collect();
                Self::count_duplicates(conn, deliveries, &inserted).await?;
                if inserted.is_empty() {
                    return Ok(deliveries.iter().map(|d| (d.index, IngestOutcome::Duplicate)).collect());
                }

                let mut select = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {SUMMARY_COLUMNS} FROM messages WHERE provider_message_id IN ("
                ));
                let mut ids = select.separated(", ");
                for (_, pmid) in &keys {
                    ids.push_bind(*pmid);
                }
                select.push(")");
                let summaries: Vec<Summary> = select.build_query_as().fetch_all(&mut *conn).await?;

                let plan = plan(deliveries, inserted, summaries)?;
                Self::insert_unmatched(conn, &plan.unmatched).await?;
                for (event_id, d) in &plan.reviews {
                    let reason = format!("unknown status {:?}", d.report.raw_status);
                    Self::insert_review(
                        conn, d.provider, "status", "unknown_status", &reason, Some(*event_id), d.payload,
                        d.received_at_us,
                    )
                    .await?;
                }
                Self::write_summaries(conn, &plan.touched).await?;
                Ok(plan.outcomes)
            }

            /// Counts the copies of already stored callbacks (providers retry), so
            /// the timeline can say how often each event was delivered.
            async fn count_duplicates(
                conn: &mut <$db as sqlx::Database>::Connection,
                deliveries: &[Delivery<'_>],
                inserted: &std::collections::HashMap<String, i64>,
            ) -> Result<(), StoreError> {
                let mut copies: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
                let mut first_seen = std::collections::HashSet::new();
                for d in deliveries {
                    let stored_now = inserted.contains_key(d.dedup_key) && first_seen.insert(d.dedup_key);
                    if !stored_now {
                        let entry = copies.entry(d.dedup_key).or_insert((0, d.received_at_us));
                        entry.0 += 1;
                        entry.1 = entry.1.max(d.received_at_us);
                    }
                }
                if copies.is_empty() {
                    return Ok(());
                }
                let mut upsert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO event_duplicates (event_id, count, last_received_at_us) \
                     SELECT e.id, v.column2, v.column3 FROM (",
                );
                upsert.push_values(&copies, |mut row, (key, (count, last))| {
                    row.push_bind(*key).push_bind(*count).push_bind(*last);
                });
                // `WHERE TRUE` keeps SQLite's parser from reading ON CONFLICT as a join clause.
                upsert.push(
                    ") AS v JOIN message_events e ON e.dedup_key = v.column1 WHERE TRUE \
                     ON CONFLICT (event_id) DO UPDATE SET count = event_duplicates.count + excluded.count, \
                     last_received_at_us = CASE WHEN excluded.last_received_at_us > \
                     event_duplicates.last_received_at_us THEN excluded.last_received_at_us \
                     ELSE event_duplicates.last_received_at_us END",
                );
                upsert.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn insert_unmatched(
                conn: &mut <$db as sqlx::Database>::Connection,
                unmatched: &[Delivery<'_>],
            ) -> Result<(), StoreError> {
                if unmatched.is_empty() {
                    return Ok(());
                }
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO unmatched_callbacks (provider, provider_message_id, first_received_at_us) ",
                );
                insert.push_values(unmatched, |mut row, d| {
                    row.push_bind(d.provider)
                        .push_bind(d.report.provider_message_id.as_str())
                        .push_bind(d.received_at_us);
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert.build().execute(&mut *conn).await?;
                Ok(())
            }

            /// Writes summaries back in one statement; `UPDATE … FROM (VALUES …)`
            /// and the `columnN` names work on both backends.
            async fn write_summaries(
                conn: &mut <$db as sqlx::Database>::Connection,
                summaries: &[Summary],
            ) -> Result<(), StoreError> {
                if summaries.is_empty() {
                    return Ok(());
                }
                let mut update = sqlx::QueryBuilder::<$db>::new(
                    "UPDATE messages SET current_status = v.column2, current_raw_status = v.column3, \
                     current_error_code = v.column4, status_at_us = v.column5, is_final = v.column6, \
                     updated_at_us = v.column7 FROM (",
                );
                update.push_values(summaries, |mut row, s| {
                    row.push_bind(s.id.as_str())
                        .push_bind(s.current_status.as_str())
                        .push_bind(s.current_raw_status.as_deref())
                        .push_bind(s.current_error_code.as_deref())
                        .push_bind(s.status_at_us)
                        .push_bind(s.is_final)
                        .push_bind(s.updated_at_us);
                });
                update.push(") AS v WHERE messages.id = v.column1");
                update.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn ingest_inbound(
                conn: &mut <$db as sqlx::Database>::Connection,
                item: &IngestItem,
            ) -> Result<IngestOutcome, StoreError> {
                let IngestItem::Inbound {
                    provider,
                    report,
                    sender,
                    body_sealed,
                    keyword,
                    dedup_key,
                    payload,
                    received_at_us,
                } = item
                else {
                    return Err(StoreError::Corrupt("not an inbound item".to_owned()));
                };
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO inbound_messages (dedup_key, provider, provider_message_id, \
                     sender_hash, sender_sealed, sender_masked, sender_country, \
                     recipient_identity, body_sealed, keyword, provider_occurred_at_us, \
                     received_at_us, content_type, raw_payload_sealed) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                     ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
                )
                .bind(dedup_key)
                .bind(*provider)
                .bind(&report.provider_message_id)
                .bind(&sender.hash)
                .bind(&sender.sealed)
                .bind(&sender.masked)
                .bind(&sender.country)
                .bind(&report.to)
                .bind(body_sealed)
                .bind(*keyword)
                .bind(report.provider_occurred_at.map(|t| t.timestamp_micros()))
                .bind(received_at_us)
                .bind(&payload.content_type)
                .bind(&payload.sealed)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(match id {
                    Some(_) => IngestOutcome::Stored { changed_summary: false },
                    None => IngestOutcome::Duplicate,
                })
            }

            #[allow(clippy::too_many_arguments)]
            async fn insert_review(
                conn: &mut <$db as sqlx::Database>::Connection,
                provider: &str,
                route: &str,
                kind: &str,
                reason: &str,
                event_id: Option<i64>,
                payload: &SealedPayload,
                received_at_us: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO review_items (provider, route, kind, reason, event_id, content_type, \
                     raw_payload_sealed, received_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(provider)
                .bind(route)
                .bind(kind)
                .bind(reason)
                .bind(event_id)
                .bind(&payload.content_type)
                .bind(&payload.sealed)
                .bind(received_at_us)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Folds the callbacks that arrived before the message's provider
            /// id was known into its summary, and clears them from the waiting list.
            async fn attach_waiting(
                conn: &mut <$db as sqlx::Database>::Connection,
                message_id: &str,
            ) -> Result<MessageRecord, StoreError> {
                let message = Self::load_message(conn, message_id).await?;
                let Some(pmid) = message.provider_message_id.clone() else {
                    return Ok(message);
                };
                let waiting = sqlx::query(
                    "DELETE FROM unmatched_callbacks WHERE provider = $1 AND provider_message_id = $2",
                )
                .bind(&message.provider)
                .bind(&pmid)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if waiting == 0 {
                    return Ok(message);
                }
                let events = Self::timeline(conn, &message.provider, &pmid).await?;
                let mut summary = Summary::from(&message);
                summary.apply_all(&events)?;
                Self::write_summaries(conn, std::slice::from_ref(&summary)).await?;
                Self::load_message(conn, message_id).await
            }
        }
    };
}

pub(super) use impl_ingest;
