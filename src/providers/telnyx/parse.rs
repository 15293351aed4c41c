//! The v2 event envelope (providers.md §3.1–3.3) read into reports.
//!
//! Per-recipient status: Telnyx reports a status per entry of `payload.to`
//! (one entry for SMS; a group MMS has several). smstrail keeps one summary
//! per provider message id, so the entries are combined: when every entry
//! carries the same status, that is the status; when they disagree, the raw
//! status is the distinct values in `to` order joined by `,` (for example
//! `delivered,delivery_failed`), which no mapping knows, so the event is
//! stored, the summary is left alone and the event goes to review, where an
//! admin can see each recipient in the raw payload (or map that combination).
//! Claiming `delivered` while one recipient failed would be worse.

use serde::Deserialize;
use serde_json::Value;

use super::super::common::parse_rfc3339;
use super::super::{ParseError, Report};
use crate::domain::{DeliveryReport, DeliveryStatus, InboundReport};

#[derive(Deserialize)]
struct Envelope {
    data: Event,
}

#[derive(Deserialize)]
struct Event {
    event_type: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    occurred_at: Option<String>,
    payload: Payload,
}

#[derive(Deserialize)]
struct Payload {
    id: String,
    #[serde(default)]
    from: Option<Endpoint>,
    #[serde(default)]
    to: Option<Vec<Endpoint>>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    errors: Option<Vec<MessagingError>>,
}

#[derive(Deserialize)]
struct Endpoint {
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct MessagingError {
    /// A string in Telnyx's schema; a number is accepted too.
    #[serde(default)]
    code: Option<Value>,
}

pub(super) fn report(body: &[u8]) -> Result<Report, ParseError> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let envelope: Envelope = serde_path_to_error::deserialize(&mut json)
        .map_err(|e| ParseError::new(format!("not a Telnyx v2 event: {e}")))?;
    let event = envelope.data;
    if event.payload.id.is_empty() {
        return Err(ParseError::new("data.payload.id is empty"));
    }
    let provider_event_id = event.id.filter(|id| !id.is_empty());
    let provider_occurred_at = event
        .occurred_at
        .as_deref()
        .map(|text| parse_rfc3339("data.occurred_at", text))
        .transpose()?;
    let payload = event.payload;
    match event.event_type.as_str() {
        "message.sent" | "message.finalized" => {
            let raw_status = combined_status(payload.to.as_deref().unwrap_or_default())?;
            Ok(Report::Delivery(DeliveryReport {
                provider_message_id: payload.id,
                status: normalize_status(&raw_status),
                raw_status,
                error_code: first_error_code(payload.errors.as_deref().unwrap_or_default()),
                provider_event_id,
                provider_occurred_at,
            }))
        }
        "message.received" => {
            let from = payload
                .from
                .and_then(|from| from.phone_number)
                .filter(|number| !number.is_empty())
                .ok_or_else(|| ParseError::new("data.payload.from.phone_number is missing"))?;
            let to = payload
                .to
                .unwrap_or_default()
                .into_iter()
                .next()
                .and_then(|to| to.phone_number)
                .unwrap_or_default();
            Ok(Report::Inbound(InboundReport {
                provider_message_id: payload.id,
                from,
                to,
                // A picture message may have no text at all.
                body: payload.text.unwrap_or_default(),
                provider_event_id,
                provider_occurred_at,
            }))
        }
        other => Err(ParseError::new(format!(
            "unknown event type {other:?} (expected message.sent, message.finalized or message.received)"
        ))),
    }
}

/// See the module docs: one status, or the disagreeing ones joined by `,`.
fn combined_status(recipients: &[Endpoint]) -> Result<String, ParseError> {
    let mut distinct: Vec<&str> = Vec::new();
    for status in recipients.iter().filter_map(|r| r.status.as_deref()) {
        if !status.is_empty() && !distinct.contains(&status) {
            distinct.push(status);
        }
    }
    if distinct.is_empty() {
        return Err(ParseError::new(
            "data.payload.to carries no recipient status",
        ));
    }
    Ok(distinct.join(","))
}

/// The first error's code, the one that explains the outcome; the others
/// stay in the raw payload.
fn first_error_code(errors: &[MessagingError]) -> Option<String> {
    errors.iter().find_map(|error| match &error.code {
        Some(Value::String(code)) if !code.is_empty() => Some(code.clone()),
        Some(Value::Number(code)) => Some(code.to_string()),
        _ => None,
    })
}

/// providers.md §3.2. `delivery_unconfirmed` is Telnyx's terminal "no
/// receipt" state, which smstrail calls `unknown`. Inbound vocabulary
/// (`webhook_delivered`, `received`) on a delivery event is unknown here.
fn normalize_status(raw: &str) -> Option<DeliveryStatus> {
    match raw {
        "queued" | "sending" => Some(DeliveryStatus::Accepted),
        "sent" => Some(DeliveryStatus::Sent),
        "delivered" => Some(DeliveryStatus::Delivered),
        "delivery_failed" => Some(DeliveryStatus::Undelivered),
        "sending_failed" => Some(DeliveryStatus::Failed),
        "expired" => Some(DeliveryStatus::Expired),
        "delivery_unconfirmed" => Some(DeliveryStatus::Unknown),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn delivery(body: &Value) -> DeliveryReport {
        match report(body.to_string().as_bytes()) {
            Ok(Report::Delivery(report)) => report,
            other => panic!("expected a delivery report, got {other:?}"),
        }
    }

    /// An outbound event with one recipient in `status`.
    fn event(event_type: &str, status: &str) -> Value {
        json!({"data": {"record_type": "event", "event_type": event_type,
            "id": "evt-1", "occurred_at": "2024-06-13T11:02:00.5+00:00",
            "payload": {"id": "msg-1", "to": [{"phone_number": "+13125550123", "status": status}],
                        "errors": []}},
            "meta": {"attempt": 1}})
    }

    /// providers.md §3.1, the documented `message.finalized` example.
    const FINALIZED_EXAMPLE: &str = r#"{
      "data": {
        "record_type": "event",
        "event_type": "message.finalized",
        "id": "4ee8c3a6-4995-4309-a3c6-38e3db9ea4be",
        "occurred_at": "2019-12-09T21:32:14.148+00:00",
        "payload": {
          "record_type": "message",
          "id": "40317159-5e5e-4c79-9d1b-c5ba6a7dd12e",
          "direction": "outbound",
          "type": "SMS",
          "messaging_profile_id": "4001767e-ce0f-4cae-9d5f-0d5e636e7809",
          "from": {"phone_number": "+13125550100", "carrier": "Telnyx", "line_type": "VoIP"},
          "to": [{"phone_number": "+13125550123", "status": "delivery_failed", "carrier": "T-Mobile USA", "line_type": "Wireless"}],
          "text": "Your ticket #8812 was updated",
          "parts": 1,
          "encoding": "GSM-7",
          "errors": [{"code": "40008", "title": "Undeliverable", "detail": "The message was not delivered by the carrier."}],
          "cost": {"amount": "0.0051", "currency": "USD"},
          "received_at": "2019-12-09T21:32:13.553+00:00",
          "sent_at": "2019-12-09T21:32:13.781+00:00",
          "completed_at": "2019-12-09T21:32:14.148+00:00",
          "valid_until": null,
          "tags": [],
          "webhook_url": "https://example.com/webhooks/telnyx",
          "webhook_failover_url": null
        }
      },
      "meta": {"attempt": 1, "delivered_to": "https://example.com/webhooks/telnyx"}
    }"#;

    /// The shape of the 2019 inbound sample in telnyx-ruby's webhook test.
    const RECEIVED_EXAMPLE: &str = r#"{
      "data": {
        "record_type": "event",
        "event_type": "message.received",
        "id": "39547d14-fe28-4759-8650-0a974f80a612",
        "occurred_at": "2019-07-30T23:07:36.628+00:00",
        "payload": {
          "record_type": "message",
          "id": "b301ed3f-1490-491f-995f-6e64e69674d4",
          "direction": "inbound",
          "type": "SMS",
          "from": {"phone_number": "+18665550001", "carrier": "T-Mobile USA", "line_type": "Wireless", "status": "received"},
          "to": [{"phone_number": "+18445550001", "status": "webhook_delivered", "carrier": "Telnyx", "line_type": "Wireless"}],
          "text": "STOP",
          "media": [],
          "parts": 1,
          "encoding": "GSM-7",
          "received_at": "2019-07-30T23:07:36.456+00:00",
          "errors": []
        }
      },
      "meta": {"attempt": 1, "delivered_to": "https://example.com/webhooks/telnyx"}
    }"#;

    #[test]
    fn finalized_example_parses() {
        let Ok(Report::Delivery(report)) = report(FINALIZED_EXAMPLE.as_bytes()) else {
            panic!("a delivery report");
        };
        assert_eq!(
            report,
            DeliveryReport {
                provider_message_id: "40317159-5e5e-4c79-9d1b-c5ba6a7dd12e".to_owned(),
                raw_status: "delivery_failed".to_owned(),
                status: Some(DeliveryStatus::Undelivered),
                error_code: Some("40008".to_owned()),
                provider_event_id: Some("4ee8c3a6-4995-4309-a3c6-38e3db9ea4be".to_owned()),
                provider_occurred_at: Some(at("2019-12-09T21:32:14.148+00:00")),
            }
        );
    }

    #[test]
    fn received_example_parses() {
        let Ok(Report::Inbound(report)) = report(RECEIVED_EXAMPLE.as_bytes()) else {
            panic!("an inbound report");
        };
        assert_eq!(
            report,
            InboundReport {
                provider_message_id: "b301ed3f-1490-491f-995f-6e64e69674d4".to_owned(),
                from: "+18665550001".to_owned(),
                to: "+18445550001".to_owned(),
                body: "STOP".to_owned(),
                provider_event_id: Some("39547d14-fe28-4759-8650-0a974f80a612".to_owned()),
                provider_occurred_at: Some(at("2019-07-30T23:07:36.628+00:00")),
            }
        );
    }

    #[test]
    fn sent_event_parses() {
        let report = delivery(&event("message.sent", "sent"));
        assert_eq!(report.status, Some(DeliveryStatus::Sent));
        assert_eq!(report.provider_message_id, "msg-1");
        assert_eq!(report.provider_event_id.as_deref(), Some("evt-1"));
        assert_eq!(report.error_code, None);
        assert_eq!(
            report.provider_occurred_at,
            Some(
                Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 0).unwrap() + Duration::milliseconds(500)
            )
        );
    }

    #[test]
    fn status_mapping_table() {
        use DeliveryStatus::*;
        for (raw, expected) in [
            ("queued", Some(Accepted)),
            ("sending", Some(Accepted)),
            ("sent", Some(Sent)),
            ("delivered", Some(Delivered)),
            ("delivery_failed", Some(Undelivered)),
            ("sending_failed", Some(Failed)),
            ("expired", Some(Expired)),
            ("delivery_unconfirmed", Some(Unknown)),
            ("webhook_delivered", None),
            ("received", None),
            ("Delivered", None),
            ("teleported", None),
        ] {
            assert_eq!(normalize_status(raw), expected, "{raw}");
            let report = delivery(&event("message.finalized", raw));
            assert_eq!((report.raw_status.as_str(), report.status), (raw, expected));
        }
    }

    #[test]
    fn recipients_that_agree_give_their_status_and_disagreeing_ones_go_to_review() {
        let mut body = event("message.finalized", "delivered");
        body["data"]["payload"]["to"] = json!([
            {"phone_number": "+13125550123", "status": "delivered"},
            {"phone_number": "+13125550124", "status": "delivered"}]);
        let report = delivery(&body);
        assert_eq!(report.raw_status, "delivered");
        assert_eq!(report.status, Some(DeliveryStatus::Delivered));

        body["data"]["payload"]["to"] = json!([
            {"phone_number": "+13125550123", "status": "delivered"},
            {"phone_number": "+13125550124", "status": "delivery_failed"},
            {"phone_number": "+13125550125", "status": "delivered"},
            {"phone_number": "+13125550126"}]);
        let report = delivery(&body);
        assert_eq!(report.raw_status, "delivered,delivery_failed");
        assert_eq!(report.status, None);
    }

    #[test]
    fn error_codes_are_the_first_usable_one() {
        let mut body = event("message.finalized", "sending_failed");
        for (errors, expected) in [
            (
                json!([{"code": "40300", "title": "Blocked"}, {"code": "40008"}]),
                Some("40300"),
            ),
            (json!([{"code": 40008}]), Some("40008")),
            (
                json!([{"code": ""}, {"title": "no code"}, {"code": "40002"}]),
                Some("40002"),
            ),
            (json!([{"code": null}, {"code": {"nested": 1}}]), None),
            (json!([]), None),
            (json!(null), None),
        ] {
            body["data"]["payload"]["errors"] = errors.clone();
            assert_eq!(delivery(&body).error_code.as_deref(), expected, "{errors}");
        }
        body["data"]["payload"]
            .as_object_mut()
            .unwrap()
            .remove("errors");
        assert_eq!(delivery(&body).error_code, None);
    }

    #[test]
    fn optional_envelope_fields_may_be_missing() {
        let mut body = event("message.sent", "queued");
        let data = body["data"].as_object_mut().unwrap();
        data.remove("id");
        data.remove("occurred_at");
        let report = delivery(&body);
        assert_eq!(report.provider_event_id, None);
        assert_eq!(report.provider_occurred_at, None);
        body["data"]["id"] = json!("");
        assert_eq!(delivery(&body).provider_event_id, None);
    }

    #[test]
    fn inbound_without_text_or_recipient_is_still_a_message() {
        let mut body: Value = serde_json::from_str(RECEIVED_EXAMPLE).unwrap();
        let payload = body["data"]["payload"].as_object_mut().unwrap();
        payload.remove("text");
        payload.insert("to".to_owned(), json!([]));
        let Ok(Report::Inbound(report)) = report(body.to_string().as_bytes()) else {
            panic!("an inbound report");
        };
        assert_eq!((report.body.as_str(), report.to.as_str()), ("", ""));
    }

    #[test]
    fn unreadable_events_are_parse_errors_naming_the_problem() {
        let mut no_sender: Value = serde_json::from_str(RECEIVED_EXAMPLE).unwrap();
        no_sender["data"]["payload"]["from"] = json!({"carrier": "x"});
        let mut no_status = event("message.finalized", "delivered");
        no_status["data"]["payload"]["to"] = json!([{"phone_number": "+1"}]);
        let mut no_recipients = event("message.finalized", "delivered");
        no_recipients["data"]["payload"]["to"] = json!(null);
        let mut empty_id = event("message.sent", "sent");
        empty_id["data"]["payload"]["id"] = json!("");
        let mut numeric_id = event("message.sent", "sent");
        numeric_id["data"]["payload"]["id"] = json!(7);
        let mut bad_time = event("message.sent", "sent");
        bad_time["data"]["occurred_at"] = json!("yesterday");
        let mut other_type = event("message.sent", "sent");
        other_type["data"]["event_type"] = json!("call.initiated");
        for (body, needle) in [
            (no_sender, "from.phone_number"),
            (no_status, "recipient status"),
            (no_recipients, "recipient status"),
            (empty_id, "payload.id"),
            (numeric_id, "payload.id"),
            (bad_time, "occurred_at"),
            (other_type, "call.initiated"),
            (json!({"data": {"event_type": "message.sent"}}), "payload"),
            (json!({"data": []}), "data"),
            (json!([]), "Telnyx"),
        ] {
            let err = report(body.to_string().as_bytes()).unwrap_err();
            assert!(err.0.contains(needle), "{body}: {err}");
        }
        for raw in [&b""[..], b"not json", b"{", b"\xff\xfe"] {
            assert!(report(raw).is_err());
        }
    }

    proptest! {
        #[test]
        fn garbage_never_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = report(&body);
        }

        #[test]
        fn garbage_inside_a_valid_envelope_never_panics(
            event_type in "[a-z.]{0,20}", status in ".{0,12}", text in ".{0,12}",
        ) {
            let body = json!({"data": {"event_type": event_type, "id": text, "occurred_at": text,
                "payload": {"id": text, "to": [{"status": status, "phone_number": text}],
                            "from": {"phone_number": text}, "text": text, "errors": [{"code": text}]}}});
            let _ = report(body.to_string().as_bytes());
        }
    }
}
