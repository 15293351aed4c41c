//! SMS API payloads (providers.md §2.1–2.3): delivery receipts and inbound
//! messages, flat parameters whichever way they were carried.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::super::{ParseError, Report, Route};
use super::e164;
use super::params::Params;
use crate::domain::{DeliveryReport, DeliveryStatus, InboundPart, InboundReport};

/// The most parts a concatenated SMS can have: the UDH counts them in one byte.
const MAX_PARTS: u16 = 255;

pub fn parse(route: Route, params: &Params) -> Result<Report, ParseError> {
    match route {
        Route::Status => parse_receipt(params).map(Report::Delivery),
        Route::Inbound => parse_inbound(params),
    }
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, ParseError> {
    params
        .non_empty(name)
        .ok_or_else(|| ParseError::new(format!("missing {name}")))
}

fn parse_receipt(params: &Params) -> Result<DeliveryReport, ParseError> {
    let provider_message_id = required(params, "messageId")?.to_owned();
    let raw_status = required(params, "status")?.to_owned();
    Ok(DeliveryReport {
        provider_message_id,
        status: normalize_status(&raw_status),
        raw_status,
        // "0" is Vonage's "no error" (it comes with `delivered`).
        error_code: params
            .non_empty("err-code")
            .map(str::trim)
            .filter(|code| *code != "0")
            .map(str::to_owned),
        // No event id: the pipeline dedups on (messageId, status, time).
        provider_event_id: None,
        provider_occurred_at: receipt_time(params),
    })
}

/// providers.md §2.2, SMS API table. `failed` is the carrier saying the
/// handset was not reached after hand-off, hence `undelivered`; `unknown` is
/// Vonage's own "no useful final state".
fn normalize_status(raw: &str) -> Option<DeliveryStatus> {
    match raw {
        "accepted" | "buffered" => Some(DeliveryStatus::Sent),
        "delivered" => Some(DeliveryStatus::Delivered),
        "expired" => Some(DeliveryStatus::Expired),
        "failed" => Some(DeliveryStatus::Undelivered),
        "rejected" => Some(DeliveryStatus::Rejected),
        "unknown" => Some(DeliveryStatus::Unknown),
        _ => None,
    }
}

/// When the receipt's event happened: `scts`, the time the carrier's receipt
/// reached Vonage (`YYMMDDHHMM`, read as UTC like Twilio's `RawDlrDoneDate`),
/// which every retry of the receipt repeats; else `message-timestamp`, when
/// Vonage began pushing it (UTC). An unreadable time is dropped and the
/// receive time stands in.
fn receipt_time(params: &Params) -> Option<DateTime<Utc>> {
    params.get("scts").and_then(parse_scts).or_else(|| {
        params
            .get("message-timestamp")
            .and_then(parse_message_timestamp)
    })
}

fn parse_scts(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.len() != 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(text, "%y%m%d%H%M")
        .ok()
        .map(|naive| naive.and_utc())
}

/// `YYYY-MM-DD HH:MM:SS`, UTC.
fn parse_message_timestamp(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|naive| naive.and_utc())
}

fn parse_inbound(params: &Params) -> Result<Report, ParseError> {
    let report = InboundReport {
        provider_message_id: required(params, "messageId")?.to_owned(),
        from: e164(required(params, "msisdn")?),
        to: params.get("to").map(e164).unwrap_or_default(),
        // Binary messages carry `data`/`udh` instead; their text is empty.
        body: params.get("text").unwrap_or_default().to_owned(),
        // Each part has its own messageId, so that is the dedup key.
        provider_event_id: None,
        provider_occurred_at: params
            .get("message-timestamp")
            .and_then(parse_message_timestamp),
    };
    match concat_part(params)? {
        Some(part) => Ok(Report::InboundPart(report, part)),
        None => Ok(Report::Inbound(report)),
    }
}

/// The part a `concat=true` message is, from `concat-ref`, `concat-part` and
/// `concat-total`. A one-part "concatenation" is a plain message.
fn concat_part(params: &Params) -> Result<Option<InboundPart>, ParseError> {
    if params.get("concat").map(str::trim) != Some("true") {
        return Ok(None);
    }
    let number = |name: &str| -> Result<u16, ParseError> {
        let text = required(params, name)?.trim();
        text.parse::<u16>()
            .ok()
            .filter(|n| (1..=MAX_PARTS).contains(n))
            .ok_or_else(|| {
                ParseError::new(format!(
                    "{name} {text:?} is not a number from 1 to {MAX_PARTS}"
                ))
            })
    };
    let group = required(params, "concat-ref")?.trim().to_owned();
    let total = number("concat-total")?;
    let part = number("concat-part")?;
    if part > total {
        return Err(ParseError::new(format!(
            "concat-part {part} is past concat-total {total}"
        )));
    }
    if total == 1 {
        return Ok(None);
    }
    Ok(Some(InboundPart {
        group,
        number: part,
        total,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn params(list: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            list.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    /// The providers.md §2.1 receipt.
    fn receipt(status: &str) -> Vec<(&str, &str)> {
        vec![
            ("msisdn", "447700900000"),
            ("to", "AcmeInc"),
            ("network-code", "23410"),
            ("messageId", "0B00000127FDBC63"),
            ("price", "0.03330000"),
            ("status", status),
            ("scts", "2406131102"),
            ("err-code", "0"),
            ("api-key", "a1b2c3d4"),
            ("client-ref", "ticket-8812"),
            ("message-timestamp", "2024-06-13 11:02:41"),
        ]
    }

    fn delivery(list: &[(&str, &str)]) -> Result<DeliveryReport, ParseError> {
        match parse(Route::Status, &params(list))? {
            Report::Delivery(report) => Ok(report),
            other => panic!("expected a delivery report, got {other:?}"),
        }
    }

    #[test]
    fn receipt_example_parses() {
        assert_eq!(
            delivery(&receipt("delivered")).unwrap(),
            DeliveryReport {
                provider_message_id: "0B00000127FDBC63".to_owned(),
                raw_status: "delivered".to_owned(),
                status: Some(DeliveryStatus::Delivered),
                error_code: None,
                provider_event_id: None,
                provider_occurred_at: Some(Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 0).unwrap()),
            }
        );
    }

    #[test]
    fn every_status_in_the_table_maps() {
        use DeliveryStatus::*;
        for (raw, expected) in [
            ("accepted", Some(Sent)),
            ("buffered", Some(Sent)),
            ("delivered", Some(Delivered)),
            ("expired", Some(Expired)),
            ("failed", Some(Undelivered)),
            ("rejected", Some(Rejected)),
            ("unknown", Some(Unknown)),
            ("submitted", None),
            ("DELIVRD", None),
            ("Delivered", None),
            ("teleported", None),
        ] {
            let report = delivery(&receipt(raw)).unwrap();
            assert_eq!(report.status, expected, "{raw}");
            assert_eq!(report.raw_status, raw);
        }
    }

    #[test]
    fn error_codes() {
        for (code, expected) in [
            ("0", None),
            ("", None),
            (" 0 ", None),
            ("6", Some("6")),
            ("99", Some("99")),
        ] {
            let mut list = receipt("failed");
            list[7].1 = code;
            assert_eq!(
                delivery(&list).unwrap().error_code.as_deref(),
                expected,
                "{code:?}"
            );
        }
        let mut list = receipt("failed");
        list.remove(7);
        assert_eq!(delivery(&list).unwrap().error_code, None);
    }

    #[test]
    fn receipt_time_prefers_scts_then_message_timestamp() {
        let pushed = Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 41).unwrap();
        for bad in ["", "2413131102", "240613110", "24061311021", "24O6131102"] {
            let mut list = receipt("delivered");
            list[6].1 = bad;
            assert_eq!(
                delivery(&list).unwrap().provider_occurred_at,
                Some(pushed),
                "{bad:?}"
            );
        }
        let mut list = receipt("delivered");
        list.retain(|(n, _)| *n != "scts");
        assert_eq!(delivery(&list).unwrap().provider_occurred_at, Some(pushed));
        list.retain(|(n, _)| *n != "message-timestamp");
        assert_eq!(delivery(&list).unwrap().provider_occurred_at, None);
        assert_eq!(parse_message_timestamp("2024-06-13T11:02:41Z"), None);
        assert_eq!(parse_message_timestamp("2024-02-30 11:02:41"), None);
    }

    #[test]
    fn missing_fields_are_parse_errors() {
        for name in ["messageId", "status"] {
            let mut list = receipt("delivered");
            list.retain(|(n, _)| *n != name);
            assert!(delivery(&list).is_err(), "{name}");
            let mut list = receipt("delivered");
            for pair in list.iter_mut().filter(|(n, _)| *n == name) {
                pair.1 = " ";
            }
            assert!(delivery(&list).is_err(), "blank {name}");
        }
        assert!(parse(Route::Status, &params(&[])).is_err());
        assert!(parse(Route::Inbound, &params(&[])).is_err());
        // An inbound message on the status route lacks a status.
        assert!(parse(Route::Status, &params(&inbound_stop())).is_err());
    }

    fn inbound_stop() -> Vec<(&'static str, &'static str)> {
        vec![
            ("api-key", "a1b2c3d4"),
            ("msisdn", "447700900000"),
            ("to", "447700900001"),
            ("messageId", "0A0000001234567B"),
            ("text", "STOP"),
            ("type", "text"),
            ("keyword", "STOP"),
            ("message-timestamp", "2024-06-13 11:02:41"),
            ("timestamp", "1718276561"),
            ("nonce", "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"),
        ]
    }

    #[test]
    fn inbound_example_parses_with_plus_numbers() {
        let Report::Inbound(report) = parse(Route::Inbound, &params(&inbound_stop())).unwrap()
        else {
            panic!("a single-part message");
        };
        assert_eq!(
            report,
            InboundReport {
                provider_message_id: "0A0000001234567B".to_owned(),
                from: "+447700900000".to_owned(),
                to: "+447700900001".to_owned(),
                body: "STOP".to_owned(),
                provider_event_id: None,
                provider_occurred_at: Some(Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 41).unwrap()),
            }
        );
        let mut missing_from = inbound_stop();
        missing_from.retain(|(n, _)| *n != "msisdn");
        assert!(parse(Route::Inbound, &params(&missing_from)).is_err());
    }

    fn inbound_part(fields: &[(&'static str, &'static str)]) -> Result<Report, ParseError> {
        let mut list = inbound_stop();
        list.extend_from_slice(fields);
        parse(Route::Inbound, &params(&list))
    }

    #[test]
    fn concatenated_parts_carry_their_place() {
        let report = inbound_part(&[
            ("concat", "true"),
            ("concat-ref", "108"),
            ("concat-total", "3"),
            ("concat-part", "2"),
        ])
        .unwrap();
        let Report::InboundPart(inbound, part) = report else {
            panic!("a part");
        };
        assert_eq!(inbound.provider_message_id, "0A0000001234567B");
        assert_eq!(
            part,
            InboundPart {
                group: "108".to_owned(),
                number: 2,
                total: 3
            }
        );
        let single = inbound_part(&[
            ("concat", "true"),
            ("concat-ref", "1"),
            ("concat-total", "1"),
            ("concat-part", "1"),
        ]);
        assert!(matches!(single, Ok(Report::Inbound(_))));
        let not_concat = inbound_part(&[("concat", "false"), ("concat-ref", "1")]);
        assert!(matches!(not_concat, Ok(Report::Inbound(_))));
    }

    #[test]
    fn bad_concatenation_fields_are_parse_errors() {
        for fields in [
            [
                ("concat-ref", "1"),
                ("concat-total", "3"),
                ("concat-part", "4"),
            ],
            [
                ("concat-ref", "1"),
                ("concat-total", "3"),
                ("concat-part", "0"),
            ],
            [
                ("concat-ref", "1"),
                ("concat-total", "256"),
                ("concat-part", "1"),
            ],
            [
                ("concat-ref", "1"),
                ("concat-total", "x"),
                ("concat-part", "1"),
            ],
            [
                ("concat-ref", "1"),
                ("concat-total", "-2"),
                ("concat-part", "1"),
            ],
            [
                ("concat-ref", " "),
                ("concat-total", "2"),
                ("concat-part", "1"),
            ],
        ] {
            let mut list = vec![("concat", "true")];
            list.extend_from_slice(&fields);
            assert!(inbound_part(&list).is_err(), "{fields:?}");
        }
        assert!(inbound_part(&[("concat", "true")]).is_err());
    }
}
