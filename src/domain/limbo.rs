//! smstrail's own timeout events, in plain language: which event is one,
//! what it means, and which receipts came after it.

/// The raw status of smstrail's own timeout event: the prefix says no
/// provider sent it.
pub const TIMEOUT_RAW_STATUS: &str = "smstrail:no_final_receipt";

/// Whether an event was written by smstrail's reconcile job, not a provider.
pub fn is_timeout(raw_status: &str) -> bool {
    raw_status == TIMEOUT_RAW_STATUS
}

/// The timeout event of a timeline: where it is, and its reason. `start_us`
/// is when the window started (sent, else registered); the event happens at
/// the deadline, so the window is the difference and the reason names the
/// window that applied then, whatever the setting says today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    pub event_id: i64,
    pub received_at_us: i64,
    pub reason: String,
    /// A final receipt was stored after the timeout (the summary follows it).
    pub late_receipt: bool,
}

/// One event as far as timeouts care.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub id: i64,
    pub raw_status: &'a str,
    pub provider_at_us: Option<i64>,
    pub received_at_us: i64,
    pub is_final: bool,
}

/// Finds the timeout in a timeline, and whether a final receipt followed it.
pub fn find_timeout(start_us: i64, events: &[Seen<'_>]) -> Option<Timeout> {
    let event = events.iter().find(|e| is_timeout(e.raw_status))?;
    Some(Timeout {
        event_id: event.id,
        received_at_us: event.received_at_us,
        reason: reason(event.provider_at_us.map(|d| d.saturating_sub(start_us))),
        late_receipt: events.iter().any(|e| e.id > event.id && e.is_final),
    })
}

impl Timeout {
    /// A provider event stored after the timeout: a late receipt (its id is
    /// later; its provider time may well be earlier).
    pub fn came_before(&self, event_id: i64) -> bool {
        event_id > self.event_id
    }
}

/// "no final receipt within 10 minutes".
pub fn reason(window_us: Option<i64>) -> String {
    match window_us {
        Some(us) if us > 0 => format!("no final receipt within {}", plain_duration(us)),
        _ => "no final receipt within its window".to_owned(),
    }
}

/// A window as people say it: `10 minutes`, `1 hour`, `72 hours`, `30 days`.
pub fn plain_duration(us: i64) -> String {
    let seconds = us / 1_000_000;
    let (n, unit) = if seconds % 86_400 == 0 && seconds > 3 * 86_400 {
        (seconds / 86_400, "day")
    } else if seconds % 3_600 == 0 && seconds >= 3_600 {
        (seconds / 3_600, "hour")
    } else if seconds % 60 == 0 && seconds >= 60 {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {unit}{plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000;

    #[test]
    fn windows_read_as_people_say_them() {
        assert_eq!(
            reason(Some(10 * MINUTE)),
            "no final receipt within 10 minutes"
        );
        assert_eq!(plain_duration(60 * MINUTE), "1 hour");
        assert_eq!(plain_duration(72 * 60 * MINUTE), "72 hours");
        assert_eq!(plain_duration(7 * 24 * 60 * MINUTE), "7 days");
        assert_eq!(plain_duration(30_000_000), "30 seconds");
        assert_eq!(reason(None), "no final receipt within its window");
    }

    #[test]
    fn the_timeout_and_what_came_after_it() {
        let seen = |id, raw_status, provider_at_us, received_at_us, is_final| Seen {
            id,
            raw_status,
            provider_at_us: Some(provider_at_us),
            received_at_us,
            is_final,
        };
        let events = [
            seen(1, "sent", 5, 6, false),
            seen(2, TIMEOUT_RAW_STATUS, 10 * MINUTE, 10 * MINUTE + 7, false),
            seen(3, "delivered", 8, 11 * MINUTE, true),
        ];
        let timeout = find_timeout(0, &events).unwrap();
        assert!(timeout.late_receipt);
        assert_eq!(timeout.reason, "no final receipt within 10 minutes");
        assert!(!timeout.came_before(1));
        assert!(timeout.came_before(3));
    }
}
