//! Plivo's status callback and inbound message fields (providers.md §4.1–4.3)
//! read into reports. The route decides which one a request is, since Plivo
//! calls a different URL for each.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::super::common::{Carrier, FormFields, with_plus};
use super::super::{ParseError, Report, Route, WebhookRequest};
use crate::domain::{DeliveryReport, DeliveryStatus, InboundReport};

/// The callback's times, latest stage first: the one that dates this status.
const TIME_FIELDS: [&str; 4] = [
    "DeliveryReportTime",
    "SentTime",
    "QueuedTime",
    "MessageTime",
];

pub(super) fn report(route: Route, request: &WebhookRequest<'_>) -> Result<Report, ParseError> {
    let carrier = Carrier::of(request).map_err(|e| ParseError::new(e.to_string()))?;
    let fields = FormFields::query_or_form(request, carrier);
    match route {
        Route::Status => status(&fields).map(Report::Delivery),
        Route::Inbound => inbound(&fields).map(Report::Inbound),
    }
}

fn status(fields: &FormFields) -> Result<DeliveryReport, ParseError> {
    let raw_status = fields.required(&["Status"])?.to_owned();
    Ok(DeliveryReport {
        provider_message_id: fields.required(&["MessageUUID"])?.to_owned(),
        status: normalize_status(&raw_status),
        raw_status,
        error_code: fields.first_of(&["ErrorCode"])?.map(str::to_owned),
        // Plivo gives no event id: the pipeline deduplicates on message id,
        // status and this time, which a retry of the same callback repeats.
        provider_event_id: None,
        provider_occurred_at: occurred_at(fields)?,
    })
}

fn inbound(fields: &FormFields) -> Result<InboundReport, ParseError> {
    // A status callback pointed at the inbound URL would otherwise be stored
    // as an empty message from the recipient.
    if fields.get("Status")?.is_some() && fields.get("Text")?.is_none() {
        return Err(ParseError::new(
            "a status callback (Status, no Text) on the inbound route: \
             send message status callbacks to /webhooks/plivo/status",
        ));
    }
    let provider_message_id = fields.required(&["MessageUUID"])?.to_owned();
    Ok(InboundReport {
        // An inbound uuid names exactly one message, so it is the event id too.
        provider_event_id: Some(provider_message_id.clone()),
        provider_message_id,
        from: with_plus(fields.required(&["From"])?),
        to: with_plus(fields.get("To")?.unwrap_or_default()),
        body: fields.get("Text")?.unwrap_or_default().to_owned(),
        provider_occurred_at: None,
    })
}

/// `YYYY-mm-dd HH:MM:SS.ffffff`, read as UTC (Plivo does not name the zone).
/// An unreadable time is dropped: the receive time stands in.
fn occurred_at(fields: &FormFields) -> Result<Option<DateTime<Utc>>, ParseError> {
    Ok(fields
        .first_of(&TIME_FIELDS)?
        .and_then(|text| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f").ok())
        .map(|naive| naive.and_utc()))
}

/// providers.md §4.2; `rejected` is from older docs, `read` is WhatsApp's.
fn normalize_status(raw: &str) -> Option<DeliveryStatus> {
    match raw {
        "queued" => Some(DeliveryStatus::Accepted),
        "sent" => Some(DeliveryStatus::Sent),
        "delivered" | "read" => Some(DeliveryStatus::Delivered),
        "undelivered" => Some(DeliveryStatus::Undelivered),
        "failed" => Some(DeliveryStatus::Failed),
        "rejected" => Some(DeliveryStatus::Rejected),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::header::CONTENT_TYPE;
    use axum::http::{HeaderMap, HeaderValue, Method};
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;

    /// providers.md §4.1, the documented status callback (one line).
    const STATUS_EXAMPLE: &str = "MessageUUID=db3ce55a-7f1d-11e1-8ea7-1231380bc196&To=14155550123\
        &From=14155550100&Type=sms&Status=undelivered&ErrorCode=300&Units=1&TotalRate=0.00500\
        &TotalAmount=0.00500&MCC=310&MNC=260&Sequence=3&MessageTime=2024-06-13 11:02:40.118322\
        &QueuedTime=2024-06-13 11:02:40.201117&SentTime=2024-06-13 11:02:41.004551\
        &DeliveryReportTime=2024-06-13 11:02:55.771020\
        &ParentMessageUUID=db3ce55a-7f1d-11e1-8ea7-1231380bc196&PowerpackUUID=";

    const INBOUND_EXAMPLE: &str = "From=14155550100&To=14155550199&Type=sms&Text=STOP\
        &MessageUUID=8f5b1ed4-2a0e-11ef-9a7b-0242ac120002&Units=1&TotalRate=0&TotalAmount=0";

    fn parse_with(
        method: Method,
        route: Route,
        url: &str,
        body: &str,
    ) -> Result<Report, ParseError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let request = WebhookRequest {
            method: &method,
            url,
            headers: &headers,
            body: body.as_bytes(),
            now: Utc::now(),
        };
        report(route, &request)
    }

    fn post(route: Route, body: &str) -> Result<Report, ParseError> {
        parse_with(
            Method::POST,
            route,
            "https://example.com/webhooks/plivo/x",
            body,
        )
    }

    fn status_of(body: &str) -> DeliveryReport {
        match post(Route::Status, body) {
            Ok(Report::Delivery(report)) => report,
            other => panic!("expected a delivery report, got {other:?}"),
        }
    }

    fn inbound_of(body: &str) -> InboundReport {
        match post(Route::Inbound, body) {
            Ok(Report::Inbound(report)) => report,
            other => panic!("expected an inbound report, got {other:?}"),
        }
    }

    fn micros(at: DateTime<Utc>, us: i64) -> Option<DateTime<Utc>> {
        Some(at + Duration::microseconds(us))
    }

    #[test]
    fn status_example_parses() {
        assert_eq!(
            status_of(STATUS_EXAMPLE),
            DeliveryReport {
                provider_message_id: "db3ce55a-7f1d-11e1-8ea7-1231380bc196".to_owned(),
                raw_status: "undelivered".to_owned(),
                status: Some(DeliveryStatus::Undelivered),
                error_code: Some("300".to_owned()),
                provider_event_id: None,
                provider_occurred_at: micros(
                    Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 55).unwrap(),
                    771_020
                ),
            }
        );
    }

    #[test]
    fn inbound_example_parses_with_the_plus_restored() {
        assert_eq!(
            inbound_of(INBOUND_EXAMPLE),
            InboundReport {
                provider_message_id: "8f5b1ed4-2a0e-11ef-9a7b-0242ac120002".to_owned(),
                from: "+14155550100".to_owned(),
                to: "+14155550199".to_owned(),
                body: "STOP".to_owned(),
                provider_event_id: Some("8f5b1ed4-2a0e-11ef-9a7b-0242ac120002".to_owned()),
                provider_occurred_at: None,
            }
        );
        let short_code = inbound_of("From=447700900123&To=60601&Text=&MessageUUID=u1");
        assert_eq!(
            (
                short_code.from.as_str(),
                short_code.to.as_str(),
                short_code.body.as_str()
            ),
            ("+447700900123", "60601", "")
        );
    }

    #[test]
    fn status_mapping_table() {
        use DeliveryStatus::*;
        for (raw, expected) in [
            ("queued", Some(Accepted)),
            ("sent", Some(Sent)),
            ("delivered", Some(Delivered)),
            ("read", Some(Delivered)),
            ("undelivered", Some(Undelivered)),
            ("failed", Some(Failed)),
            ("rejected", Some(Rejected)),
            ("received", None),
            ("Delivered", None),
            ("teleported", None),
        ] {
            let report = status_of(&format!("MessageUUID=u1&Status={raw}"));
            assert_eq!((report.raw_status.as_str(), report.status), (raw, expected));
        }
    }

    #[test]
    fn the_latest_stage_time_dates_the_status() {
        let queued = status_of(
            "MessageUUID=u1&Status=queued&MessageTime=2024-06-13 11:02:40.118322\
             &QueuedTime=2024-06-13 11:02:40.201117&SentTime=&DeliveryReportTime=",
        );
        let at = Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 40).unwrap();
        assert_eq!(queued.provider_occurred_at, micros(at, 201_117));
        let sent = status_of("MessageUUID=u1&Status=sent&SentTime=2024-06-13 11:02:41");
        assert_eq!(
            sent.provider_occurred_at,
            Some(Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 41).unwrap())
        );
        for bad in [
            "yesterday",
            "2024-13-01 00:00:00",
            "2024-06-13T11:02:41Z",
            "2024-06-13",
        ] {
            let report = status_of(&format!("MessageUUID=u1&Status=sent&SentTime={bad}"));
            assert_eq!(report.provider_occurred_at, None, "{bad}");
        }
        assert_eq!(
            status_of("MessageUUID=u1&Status=sent").provider_occurred_at,
            None
        );
    }

    #[test]
    fn empty_error_code_is_none() {
        assert_eq!(
            status_of("MessageUUID=u1&Status=failed&ErrorCode=").error_code,
            None
        );
        assert_eq!(
            status_of("MessageUUID=u1&Status=failed&ErrorCode=420")
                .error_code
                .as_deref(),
            Some("420")
        );
    }

    #[test]
    fn get_callbacks_are_read_from_the_query() {
        let url = "https://example.com/webhooks/plivo/status?MessageUUID=u9&Status=delivered";
        let Ok(Report::Delivery(report)) = parse_with(Method::GET, Route::Status, url, "") else {
            panic!("a delivery report");
        };
        assert_eq!(report.provider_message_id, "u9");
        assert_eq!(report.status, Some(DeliveryStatus::Delivered));
    }

    #[test]
    fn missing_ambiguous_or_misrouted_fields_are_parse_errors() {
        for (route, body, needle) in [
            (Route::Status, "Status=sent", "MessageUUID"),
            (Route::Status, "MessageUUID=u1", "Status"),
            (Route::Status, "MessageUUID=&Status=sent", "MessageUUID"),
            (
                Route::Status,
                "MessageUUID=u1&Status=sent&Status=failed",
                "Status",
            ),
            (Route::Inbound, "From=14155550100&Text=hi", "MessageUUID"),
            (Route::Inbound, "MessageUUID=u1&Text=hi", "From"),
            (
                Route::Inbound,
                "MessageUUID=u1&From=1&Status=delivered",
                "status callback",
            ),
            (Route::Inbound, "", "MessageUUID"),
        ] {
            let err = post(route, body).unwrap_err();
            assert!(err.0.contains(needle), "{body}: {err}");
        }
        // Text present: an inbound message, whatever else it carries.
        assert_eq!(
            inbound_of("MessageUUID=u1&From=14155550100&Status=received&Text=hi").body,
            "hi"
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
            let body = String::from_utf8_lossy(&body).into_owned();
            let _ = post(Route::Status, &body);
            let _ = post(Route::Inbound, &body);
        }

        #[test]
        fn garbage_values_never_panic(uuid in ".{0,12}", status in ".{0,12}", time in ".{0,30}", from in ".{0,20}") {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("MessageUUID", &uuid), ("Status", &status), ("SentTime", &time),
                               ("From", &from), ("Text", &time)])
                .finish();
            let _ = post(Route::Status, &body);
            let _ = post(Route::Inbound, &body);
        }
    }
}
