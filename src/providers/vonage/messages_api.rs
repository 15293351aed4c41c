//! Messages API payloads (providers.md §2.1–2.3): JSON status webhooks and
//! inbound messages.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::super::{ParseError, Report, Route};
use super::e164;
use crate::domain::{DeliveryReport, DeliveryStatus, InboundReport};

/// Vonage's Messages API error for an SMS whose validity period ran out
/// (the SMS API's `expired`).
const TTL_EXPIRED: &str = "1360";
/// Vonage's Messages API error for an SMS receipt that said `unknown`.
const UNKNOWN_RECEIPT: &str = "1330";

pub fn parse(route: Route, body: &[u8]) -> Result<Report, ParseError> {
    let object: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| ParseError::new(format!("body is not a JSON object: {e}")))?;
    match route {
        Route::Status => parse_status(&object).map(Report::Delivery),
        Route::Inbound => parse_inbound(&object).map(Report::Inbound),
    }
}

fn parse_status(object: &Map<String, Value>) -> Result<DeliveryReport, ParseError> {
    let raw_status = required_str(object, "status")?;
    let error_code = error_code(object);
    Ok(DeliveryReport {
        provider_message_id: required_str(object, "message_uuid")?,
        status: normalize_status(&raw_status, error_code.as_deref()),
        raw_status,
        error_code,
        // No event id (the JWT's `jti` is per request, not per event): the
        // pipeline dedups on (message_uuid, status, timestamp).
        provider_event_id: None,
        provider_occurred_at: timestamp(object),
    })
}

/// providers.md §2.2, Messages API table. For SMS, Vonage folds the
/// receipt's `expired` and `unknown` into `rejected` and tells them apart
/// only by the error; those two get their own normalized status back.
fn normalize_status(raw: &str, error_code: Option<&str>) -> Option<DeliveryStatus> {
    match raw {
        "submitted" => Some(DeliveryStatus::Sent),
        "delivered" | "read" => Some(DeliveryStatus::Delivered),
        "rejected" => Some(match error_code {
            Some(TTL_EXPIRED) => DeliveryStatus::Expired,
            Some(UNKNOWN_RECEIPT) => DeliveryStatus::Unknown,
            _ => DeliveryStatus::Rejected,
        }),
        "undeliverable" => Some(DeliveryStatus::Failed),
        _ => None,
    }
}

/// `error.title` carries the numeric code (a number or a string); where it
/// is missing, the code that ends `error.type`
/// (`https://developer.vonage.com/api-errors/messages#1360`).
fn error_code(object: &Map<String, Value>) -> Option<String> {
    let error = object.get("error")?.as_object()?;
    let title = match error.get("title") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    };
    title.or_else(|| {
        let kind = error.get("type")?.as_str()?;
        let (_, code) = kind.rsplit_once('#')?;
        (!code.is_empty() && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.to_owned())
    })
}

/// ISO-8601 UTC (`2024-06-13T11:02:41.000Z`). An unreadable time is dropped
/// and the receive time stands in.
fn timestamp(object: &Map<String, Value>) -> Option<DateTime<Utc>> {
    let text = object.get("timestamp")?.as_str()?;
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn parse_inbound(object: &Map<String, Value>) -> Result<InboundReport, ParseError> {
    Ok(InboundReport {
        provider_message_id: required_str(object, "message_uuid")?,
        from: e164(&number(object, "from")?),
        to: number(object, "to").map(|n| e164(&n)).unwrap_or_default(),
        // Vonage joins the parts of a long SMS before this webhook
        // (`sms.num_messages` counts them). Non-text types have no text.
        body: match object.get("text") {
            Some(Value::String(text)) => text.clone(),
            _ => String::new(),
        },
        provider_event_id: None,
        provider_occurred_at: timestamp(object),
    })
}

/// A number field: a string, or in the older payloads `{"type": "sms",
/// "number": "…"}`.
fn number(object: &Map<String, Value>, name: &str) -> Result<String, ParseError> {
    let value = match object.get(name) {
        Some(Value::Object(inner)) => inner.get("number"),
        other => other,
    };
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(ParseError::new(format!("{name} is not a number string"))),
        None => Err(ParseError::new(format!("missing {name}"))),
    }
}

fn required_str(object: &Map<String, Value>, name: &str) -> Result<String, ParseError> {
    match object.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ParseError::new(format!("{name} is empty"))),
        Some(_) => Err(ParseError::new(format!("{name} is not a string"))),
        None => Err(ParseError::new(format!("missing {name}"))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    /// The providers.md §2.1 status webhook.
    fn rejected_1360() -> Value {
        json!({
            "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            "to": "447700900000",
            "from": "447700900001",
            "timestamp": "2024-06-13T11:02:41.000Z",
            "status": "rejected",
            "channel": "sms",
            "client_ref": "ticket-8812",
            "error": {
                "type": "https://developer.vonage.com/api-errors/messages#1360",
                "title": 1360,
                "detail": "TTL was activated, no delivery receipt received within the validity period",
                "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"
            }
        })
    }

    fn status_of(body: &Value) -> Result<DeliveryReport, ParseError> {
        match parse(Route::Status, body.to_string().as_bytes())? {
            Report::Delivery(report) => Ok(report),
            other => panic!("expected a delivery report, got {other:?}"),
        }
    }

    #[test]
    fn status_example_parses_as_expired() {
        assert_eq!(
            status_of(&rejected_1360()).unwrap(),
            DeliveryReport {
                provider_message_id: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab".to_owned(),
                raw_status: "rejected".to_owned(),
                status: Some(DeliveryStatus::Expired),
                error_code: Some("1360".to_owned()),
                provider_event_id: None,
                provider_occurred_at: Some(Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 41).unwrap()),
            }
        );
    }

    #[test]
    fn every_status_in_the_table_maps() {
        use DeliveryStatus::*;
        let with = |status: &str, title: Option<Value>| {
            let mut body = json!({"message_uuid": "m-1", "status": status});
            if let Some(title) = title {
                body["error"] = json!({"title": title});
            }
            status_of(&body).unwrap().status
        };
        assert_eq!(with("submitted", None), Some(Sent));
        assert_eq!(with("delivered", None), Some(Delivered));
        assert_eq!(with("read", None), Some(Delivered));
        assert_eq!(with("rejected", Some(json!(1360))), Some(Expired));
        assert_eq!(with("rejected", Some(json!("1360"))), Some(Expired));
        assert_eq!(with("rejected", Some(json!(1330))), Some(Unknown));
        assert_eq!(with("rejected", Some(json!(1320))), Some(Rejected));
        assert_eq!(with("rejected", None), Some(Rejected));
        assert_eq!(with("undeliverable", None), Some(Failed));
        for unknown in ["accepted", "Delivered", "failed", "exploded"] {
            assert_eq!(with(unknown, None), None, "{unknown}");
        }
    }

    #[test]
    fn error_codes_from_title_or_type() {
        let code = |error: Value| {
            status_of(&json!({"message_uuid": "m", "status": "rejected", "error": error}))
                .unwrap()
                .error_code
        };
        assert_eq!(code(json!({"title": 1320})).as_deref(), Some("1320"));
        assert_eq!(code(json!({"title": " 1330 "})).as_deref(), Some("1330"));
        assert_eq!(
            code(json!({"type": "https://developer.vonage.com/api-errors/messages#1360"}))
                .as_deref(),
            Some("1360")
        );
        assert_eq!(
            status_of(&json!({"message_uuid": "m", "status": "rejected",
                "error": {"type": "https://x/errors#1360"}}))
            .unwrap()
            .status,
            Some(DeliveryStatus::Expired)
        );
        for odd in [
            json!({}),
            json!({"title": ""}),
            json!({"type": "#"}),
            json!({"type": "x#ab"}),
            json!("1360"),
            json!(null),
        ] {
            assert_eq!(code(odd.clone()), None, "{odd}");
        }
    }

    #[test]
    fn time_parsing() {
        let at = |ts: Value| {
            status_of(&json!({"message_uuid": "m", "status": "delivered", "timestamp": ts}))
                .unwrap()
                .provider_occurred_at
        };
        assert_eq!(
            at(json!("2024-06-13T11:02:41Z")),
            Some(Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 41).unwrap())
        );
        assert_eq!(
            at(json!("2024-06-13T13:02:41+02:00")),
            Some(Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 41).unwrap())
        );
        for bad in [
            json!("2024-06-13 11:02:41"),
            json!("yesterday"),
            json!(1718276561),
            json!(null),
        ] {
            assert_eq!(at(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn bad_payloads_are_parse_errors() {
        for body in [
            json!({"status": "delivered"}),
            json!({"message_uuid": "m"}),
            json!({"message_uuid": "", "status": "delivered"}),
            json!({"message_uuid": 7, "status": "delivered"}),
            json!({"message_uuid": "m", "status": ["delivered"]}),
            json!([]),
            json!("delivered"),
        ] {
            assert!(
                parse(Route::Status, body.to_string().as_bytes()).is_err(),
                "{body}"
            );
        }
        for raw in [&b""[..], b"{", b"\xff\xfe", b"null"] {
            assert!(parse(Route::Status, raw).is_err());
            assert!(parse(Route::Inbound, raw).is_err());
        }
    }

    #[test]
    fn inbound_parses_with_plus_numbers() {
        let body = json!({
            "channel": "sms",
            "message_uuid": "bbbbbbbb-cccc-dddd-eeee-0123456789ab",
            "to": "447700900001",
            "from": "447700900000",
            "timestamp": "2024-06-13T11:02:41Z",
            "message_type": "text",
            "text": "Stop",
            "sms": {"num_messages": "1", "keyword": "STOP"}
        });
        let Report::Inbound(report) = parse(Route::Inbound, body.to_string().as_bytes()).unwrap()
        else {
            panic!("inbound");
        };
        assert_eq!(
            report,
            InboundReport {
                provider_message_id: "bbbbbbbb-cccc-dddd-eeee-0123456789ab".to_owned(),
                from: "+447700900000".to_owned(),
                to: "+447700900001".to_owned(),
                body: "Stop".to_owned(),
                provider_event_id: None,
                provider_occurred_at: Some(Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 41).unwrap()),
            }
        );
    }

    #[test]
    fn inbound_older_number_objects_and_bad_input() {
        let body = json!({"message_uuid": "u", "from": {"type": "sms", "number": "447700900000"},
            "to": {"type": "sms", "number": "447700900001"}, "text": "hi"});
        let Ok(Report::Inbound(report)) = parse(Route::Inbound, body.to_string().as_bytes()) else {
            panic!("inbound");
        };
        assert_eq!(
            (report.from.as_str(), report.to.as_str()),
            ("+447700900000", "+447700900001")
        );
        for bad in [
            json!({"from": "447700900000", "text": "hi"}),
            json!({"message_uuid": "u", "text": "hi"}),
            json!({"message_uuid": "u", "from": {"type": "sms"}}),
            json!({"message_uuid": "u", "from": ""}),
            json!({"message_uuid": "u", "from": true}),
        ] {
            assert!(
                parse(Route::Inbound, bad.to_string().as_bytes()).is_err(),
                "{bad}"
            );
        }
        let no_text = json!({"message_uuid": "u", "from": "447700900000", "message_type": "image"});
        let Ok(Report::Inbound(report)) = parse(Route::Inbound, no_text.to_string().as_bytes())
        else {
            panic!("inbound");
        };
        assert_eq!((report.body.as_str(), report.to.as_str()), ("", ""));
    }
}
