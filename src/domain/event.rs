//! What a provider callback says once its own format is peeled off: the one
//! shape every provider module hands to the ingest pipeline.

use chrono::{DateTime, Utc};

use super::status::DeliveryStatus;

/// A delivery callback, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub provider_message_id: String,
    /// The provider's status string exactly as sent.
    pub raw_status: String,
    /// `None` when the provider mapping does not know `raw_status`: the event is
    /// stored, the summary is left alone and a review item is opened.
    pub status: Option<DeliveryStatus>,
    pub error_code: Option<String>,
    /// The provider's own id for this event, when it gives one (Standard
    /// Webhooks `webhook-id`, Telnyx `data.id`).
    pub provider_event_id: Option<String>,
    pub provider_occurred_at: Option<DateTime<Utc>>,
}

impl DeliveryReport {
    /// The key under which a repeat of this callback is recognized (CONTRACT §3
    /// step 4): the provider's event id where it gives one, else the tuple of
    /// provider message id, raw status and provider time.
    pub fn dedup_key(&self, provider: &str) -> String {
        dedup_key(
            provider,
            self.provider_event_id.as_deref(),
            &[
                &self.provider_message_id,
                &self.raw_status,
                &self
                    .provider_occurred_at
                    .map(|t| t.timestamp_micros().to_string())
                    .unwrap_or_default(),
            ],
        )
    }
}

/// An inbound message (a reply, or an opt-out keyword) from a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundReport {
    pub provider_message_id: String,
    /// The sender of the inbound message: one of our recipients. Raw as the
    /// provider sent it; parsed into E.164 by the pipeline.
    pub from: String,
    /// Our number or sender identity that received it.
    pub to: String,
    pub body: String,
    pub provider_event_id: Option<String>,
    pub provider_occurred_at: Option<DateTime<Utc>>,
}

impl InboundReport {
    pub fn dedup_key(&self, provider: &str) -> String {
        dedup_key(
            provider,
            self.provider_event_id.as_deref(),
            &[&self.provider_message_id],
        )
    }

    pub fn keyword(&self) -> Option<InboundKeyword> {
        InboundKeyword::recognize(&self.body)
    }
}

fn dedup_key(provider: &str, event_id: Option<&str>, parts: &[&str]) -> String {
    // Length-prefixed parts: no choice of separator can be forged by a value.
    let mut key = format!("{provider}|");
    match event_id {
        Some(id) => key.push_str(&format!("e{}:{id}", id.len())),
        None => {
            for part in parts {
                key.push_str(&format!("{}:{part}|", part.len()));
            }
        }
    }
    key
}

/// Where one part of a long inbound message belongs, for providers that
/// deliver the parts one by one (Vonage's SMS API: `concat-ref`,
/// `concat-part`, `concat-total`). Each part is stored as it comes, under its
/// own provider message id; readers put them back together
/// ([`super::inbound_parts::roll_up`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundPart {
    /// The sender's reference shared by the parts of one message. It is
    /// small (one or two bytes on the handset) and reused, so it only
    /// groups parts together with the sender, recipient and part count.
    pub group: String,
    /// 1-based.
    pub number: u16,
    pub total: u16,
}

/// Keywords carriers and providers treat specially (CTIA / US carrier rules,
/// which Twilio, Telnyx and Plivo apply by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundKeyword {
    /// The recipient opted out.
    Stop,
    /// The recipient opted back in.
    Start,
    Help,
}

impl InboundKeyword {
    const STOP: [&'static str; 7] = [
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
    ];
    const START: [&'static str; 3] = ["START", "YES", "UNSTOP"];
    const HELP: [&'static str; 2] = ["HELP", "INFO"];

    /// A keyword counts only when it is the whole message (trimmed, any case,
    /// trailing punctuation ignored), as carriers match it.
    pub fn recognize(body: &str) -> Option<Self> {
        let word = body
            .trim()
            .trim_end_matches(['.', '!', '?'])
            .trim_end()
            .to_ascii_uppercase();
        if Self::STOP.contains(&word.as_str()) {
            Some(Self::Stop)
        } else if Self::START.contains(&word.as_str()) {
            Some(Self::Start)
        } else if Self::HELP.contains(&word.as_str()) {
            Some(Self::Help)
        } else {
            None
        }
    }

    /// The keyword as [`Self::as_str`] stores it (`stop`, `start`, `help`).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Stop, Self::Start, Self::Help]
            .into_iter()
            .find(|k| k.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Start => "start",
            Self::Help => "help",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn t0() -> DateTime<Utc> {
        match Utc.timestamp_opt(1_700_000_000, 0) {
            chrono::LocalResult::Single(at) => at,
            _ => panic!("test instant out of range"),
        }
    }

    fn report(message_id: &str, raw_status: &str, at: Option<DateTime<Utc>>) -> DeliveryReport {
        DeliveryReport {
            provider_message_id: message_id.to_owned(),
            raw_status: raw_status.to_owned(),
            status: Some(DeliveryStatus::Delivered),
            error_code: None,
            provider_event_id: None,
            provider_occurred_at: at,
        }
    }

    fn inbound(message_id: &str, body: &str) -> InboundReport {
        InboundReport {
            provider_message_id: message_id.to_owned(),
            from: "+14155550100".to_owned(),
            to: "+14155550199".to_owned(),
            body: body.to_owned(),
            provider_event_id: None,
            provider_occurred_at: Some(t0()),
        }
    }

    #[test]
    fn the_same_report_gets_the_same_key() {
        let a = report("SM1", "delivered", Some(t0()));
        assert_eq!(a.dedup_key("twilio"), a.clone().dedup_key("twilio"));
        let without_time = report("SM1", "delivered", None);
        assert_eq!(
            without_time.dedup_key("twilio"),
            without_time.clone().dedup_key("twilio")
        );
    }

    #[test]
    fn fields_outside_the_key_do_not_change_it() {
        // A repeat whose mapping or error code differs (a remap, a provider
        // resending with more detail) is still the same callback.
        let a = report("SM1", "delivered", Some(t0()));
        let mut b = a.clone();
        b.status = None;
        b.error_code = Some("30003".to_owned());
        assert_eq!(a.dedup_key("twilio"), b.dedup_key("twilio"));
    }

    #[test]
    fn each_part_of_the_tuple_changes_the_key() {
        let base = report("SM1", "delivered", Some(t0()));
        let variants = [
            report("SM2", "delivered", Some(t0())),
            report("SM1", "undelivered", Some(t0())),
            report("SM1", "DELIVERED", Some(t0())),
            report("SM1", "delivered", Some(t0() + Duration::milliseconds(1))),
            report("SM1", "delivered", Some(t0() + Duration::microseconds(1))),
            report("SM1", "delivered", None),
        ];
        let base_key = base.dedup_key("twilio");
        for variant in &variants {
            assert_ne!(variant.dedup_key("twilio"), base_key, "{variant:?}");
        }
        assert_ne!(base.dedup_key("vonage"), base_key);
    }

    #[test]
    fn the_event_id_wins_when_present() {
        let mut a = report("SM1", "delivered", Some(t0()));
        a.provider_event_id = Some("evt_1".to_owned());
        let mut b = report("SM2", "failed", None);
        b.provider_event_id = Some("evt_1".to_owned());
        assert_eq!(a.dedup_key("telnyx"), b.dedup_key("telnyx"));

        let mut c = a.clone();
        c.provider_event_id = Some("evt_2".to_owned());
        assert_ne!(a.dedup_key("telnyx"), c.dedup_key("telnyx"));

        let mut d = a.clone();
        d.provider_event_id = None;
        assert_ne!(a.dedup_key("telnyx"), d.dedup_key("telnyx"));
        assert_ne!(a.dedup_key("telnyx"), a.dedup_key("standard"));
    }

    #[test]
    fn separators_inside_values_cannot_forge_a_collision() {
        let with_event = |id: &str| {
            let mut r = report("m", "s", None);
            r.provider_event_id = Some(id.to_owned());
            r
        };
        let reports = [
            report("a", "b|1:c", None),
            report("a|1:b", "c", None),
            report("a|1:b|", "c", None),
            report("a", "b", None),
            report("a", "b|0:", None),
            report("a|", "b", None),
            report("a:", "b", None),
            report("1:a", "b", None),
            report("a", "", None),
            report("", "a", None),
            report("", "", None),
            report("a", "b", Some(t0())),
            report("a", &format!("b|16:{}", t0().timestamp_micros()), None),
            with_event("1:m|1:s|0:|"),
            with_event("e1:m"),
            with_event("m|1:s"),
            with_event(""),
            with_event("|"),
        ];
        let keys: HashSet<String> = reports.iter().map(|r| r.dedup_key("p")).collect();
        assert_eq!(keys.len(), reports.len(), "{keys:#?}");
    }

    fn crafted() -> impl Strategy<Value = String> {
        "[a1:|e]{0,6}"
    }

    proptest! {
        #[test]
        fn keys_are_equal_exactly_when_the_deduplicated_fields_are(
            a in (crafted(), crafted(), prop::option::of(crafted()), prop::option::of(0i64..3)),
            b in (crafted(), crafted(), prop::option::of(crafted()), prop::option::of(0i64..3)),
        ) {
            let build = |(message_id, raw, event, seconds): &(String, String, Option<String>, Option<i64>)| {
                let mut r = report(message_id, raw, seconds.map(|s| t0() + Duration::seconds(s)));
                r.provider_event_id = event.clone();
                r
            };
            let (ra, rb) = (build(&a), build(&b));
            let same = match (&a.2, &b.2) {
                (Some(x), Some(y)) => x == y,
                (None, None) => a.0 == b.0 && a.1 == b.1 && a.3 == b.3,
                _ => false,
            };
            prop_assert_eq!(ra.dedup_key("p") == rb.dedup_key("p"), same);
        }

        #[test]
        fn inbound_keys_are_equal_exactly_when_the_ids_are(
            a in (crafted(), prop::option::of(crafted())),
            b in (crafted(), prop::option::of(crafted())),
        ) {
            let build = |(message_id, event): &(String, Option<String>)| {
                let mut r = inbound(message_id, "hi");
                r.provider_event_id = event.clone();
                r
            };
            let same = match (&a.1, &b.1) {
                (Some(x), Some(y)) => x == y,
                (None, None) => a.0 == b.0,
                _ => false,
            };
            prop_assert_eq!(build(&a).dedup_key("p") == build(&b).dedup_key("p"), same);
        }
    }

    #[test]
    fn inbound_keys() {
        let a = inbound("MM1", "hello");
        let mut same_id_other_body = inbound("MM1", "STOP");
        same_id_other_body.provider_occurred_at = None;
        assert_eq!(
            a.dedup_key("twilio"),
            same_id_other_body.dedup_key("twilio")
        );
        assert_ne!(
            a.dedup_key("twilio"),
            inbound("MM2", "hello").dedup_key("twilio")
        );
        assert_ne!(a.dedup_key("twilio"), a.dedup_key("plivo"));

        let mut with_event = inbound("MM1", "hello");
        with_event.provider_event_id = Some("evt".to_owned());
        let mut other_message_same_event = inbound("MM9", "bye");
        other_message_same_event.provider_event_id = Some("evt".to_owned());
        assert_eq!(
            with_event.dedup_key("telnyx"),
            other_message_same_event.dedup_key("telnyx")
        );
        assert_ne!(with_event.dedup_key("telnyx"), a.dedup_key("telnyx"));
    }

    #[test]
    fn recognizes_whole_message_keywords() {
        let cases = [
            ("STOP", InboundKeyword::Stop),
            ("stop", InboundKeyword::Stop),
            (" Stop. ", InboundKeyword::Stop),
            ("Stop!", InboundKeyword::Stop),
            ("\tstop\n", InboundKeyword::Stop),
            ("UNSUBSCRIBE", InboundKeyword::Stop),
            ("StopAll", InboundKeyword::Stop),
            ("cancel", InboundKeyword::Stop),
            ("end", InboundKeyword::Stop),
            ("quit", InboundKeyword::Stop),
            ("revoke", InboundKeyword::Stop),
            ("START", InboundKeyword::Start),
            ("yes", InboundKeyword::Start),
            ("unstop", InboundKeyword::Start),
            ("HELP", InboundKeyword::Help),
            ("help", InboundKeyword::Help),
            ("INFO", InboundKeyword::Help),
            ("Info.", InboundKeyword::Help),
        ];
        for (body, expected) in cases {
            assert_eq!(InboundKeyword::recognize(body), Some(expected), "{body:?}");
            assert_eq!(inbound("MM1", body).keyword(), Some(expected), "{body:?}");
        }
    }

    #[test]
    fn ignores_keywords_inside_longer_messages() {
        for body in [
            "stop it",
            "",
            "   ",
            ".",
            "help me",
            "please stop",
            "STOPP",
            "S T O P",
            "start over",
            "information",
            "\u{2063}",
        ] {
            assert_eq!(InboundKeyword::recognize(body), None, "{body:?}");
            assert_eq!(inbound("MM1", body).keyword(), None, "{body:?}");
        }
    }

    #[test]
    fn keyword_names() {
        assert_eq!(InboundKeyword::Stop.as_str(), "stop");
        assert_eq!(InboundKeyword::Start.as_str(), "start");
        assert_eq!(InboundKeyword::Help.as_str(), "help");
    }
}
