//! Events whose normalized status came from an admin's mapping (added from
//! the review queue), said plainly so an agent knows the provider did not
//! use our vocabulary and who decided what its word means.

use super::DeliveryStatus;

/// A mapping as stored: `raw_status` of one provider means `status`.
#[derive(Debug, Clone, Copy)]
pub struct MappingRule<'a> {
    pub status: DeliveryStatus,
    pub added_by: Option<&'a str>,
    pub added_at_us: i64,
}

/// The mapping that gave an event its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMapping {
    pub status: DeliveryStatus,
    pub added_by: String,
    pub added_at_us: i64,
    /// The event was stored before the mapping existed: adding the mapping
    /// re-normalized it (its status changed after it arrived).
    pub renormalized: bool,
}

/// Whether `rule` (the current mapping of the event's provider and raw
/// status) is what normalized the event. The ingest path reads mappings
/// before the built-in vocabulary and re-normalizing rewrites stored events,
/// so an event carrying the mapping's status got it from the mapping.
pub fn applied_mapping(
    event_status: Option<DeliveryStatus>,
    received_at_us: i64,
    rule: Option<MappingRule<'_>>,
) -> Option<AppliedMapping> {
    let rule = rule?;
    (event_status == Some(rule.status)).then(|| AppliedMapping {
        status: rule.status,
        added_by: rule.added_by.unwrap_or("an admin").to_owned(),
        added_at_us: rule.added_at_us,
        renormalized: received_at_us < rule.added_at_us,
    })
}

impl AppliedMapping {
    /// E.g. `"accepted_by_handset" means delivered by the mapping ana@example.com
    /// added on 2026-11-30 10:00 UTC; this event arrived before and was
    /// re-normalized.` `added_on` is the mapping's time, already formatted.
    pub fn note(&self, raw_status: &str, added_on: &str) -> String {
        let mut note = format!(
            "{raw_status:?} means {} by the mapping {} added on {added_on}",
            self.status, self.added_by
        );
        if self.renormalized {
            note.push_str("; this event arrived before it and was re-normalized");
        }
        note.push('.');
        note
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDED_AT: i64 = 1_000_000;

    fn rule(status: DeliveryStatus, by: Option<&str>) -> Option<MappingRule<'_>> {
        Some(MappingRule {
            status,
            added_by: by,
            added_at_us: ADDED_AT,
        })
    }

    #[test]
    fn no_mapping_means_the_vocabulary_normalized_it() {
        assert_eq!(
            applied_mapping(Some(DeliveryStatus::Delivered), 5, None),
            None
        );
    }

    #[test]
    fn an_event_with_the_mapped_status_names_the_mapping() {
        let applied = applied_mapping(
            Some(DeliveryStatus::Delivered),
            ADDED_AT + 1,
            rule(DeliveryStatus::Delivered, Some("ana@example.com")),
        )
        .expect("applied");
        assert_eq!(applied.added_by, "ana@example.com");
        assert!(!applied.renormalized, "stored after the mapping existed");
        assert_eq!(
            applied.note("DELIVRD_OK", "2026-11-30 10:00 UTC"),
            "\"DELIVRD_OK\" means delivered by the mapping ana@example.com added on \
             2026-11-30 10:00 UTC."
        );
    }

    #[test]
    fn an_event_older_than_its_mapping_was_renormalized() {
        let applied = applied_mapping(
            Some(DeliveryStatus::Failed),
            ADDED_AT - 1,
            rule(DeliveryStatus::Failed, None),
        )
        .expect("applied");
        assert!(applied.renormalized);
        assert_eq!(applied.added_by, "an admin");
        assert!(
            applied
                .note("x", "then")
                .ends_with("this event arrived before it and was re-normalized.")
        );
    }

    #[test]
    fn an_event_whose_status_differs_was_not_normalized_by_the_mapping() {
        // Still unmapped (re-normalization not reached it yet) or normalized
        // otherwise: claiming the mapping would be wrong.
        assert_eq!(
            applied_mapping(None, 0, rule(DeliveryStatus::Delivered, None)),
            None
        );
        assert_eq!(
            applied_mapping(
                Some(DeliveryStatus::Sent),
                0,
                rule(DeliveryStatus::Delivered, None)
            ),
            None
        );
    }
}
