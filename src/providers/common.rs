//! What several provider modules do alike: reading signature headers,
//! checking a signed timestamp's window, decoding form parameters, keying an
//! HMAC, restoring the '+' of E.164 numbers. One home each, so a fix reaches
//! every provider.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method};
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};

use super::{ParseError, VerifyError, WebhookRequest};
use crate::domain::PhoneNumber;

/// How far a signed timestamp may be from our clock, in both directions:
/// what the Standard Webhooks libraries and every Telnyx SDK allow, and
/// CONTRACT §3 step 2.
pub(crate) const TIMESTAMP_TOLERANCE_SECS: u64 = 5 * 60;

/// The first of `names` the request carries, as text. Absent or blank is
/// `Missing` (named by the first name), not visible ASCII is `Malformed`.
/// The value is returned untrimmed: it may be part of what was signed.
pub(crate) fn header<'a>(
    headers: &'a HeaderMap,
    names: &[&'static str],
) -> Result<&'a str, VerifyError> {
    let primary = names.first().copied().unwrap_or("header");
    let (name, value) = names
        .iter()
        .find_map(|name| headers.get(*name).map(|value| (*name, value)))
        .ok_or(VerifyError::Missing(primary))?;
    let value = value.to_str().map_err(|_| VerifyError::Malformed(name))?;
    if value.trim().is_empty() {
        return Err(VerifyError::Missing(primary));
    }
    Ok(value)
}

/// A signed unix-seconds timestamp, refused outside the window around `now`
/// (inclusive). `name` labels the error.
pub(crate) fn fresh_timestamp(
    text: &str,
    name: &'static str,
    now: DateTime<Utc>,
) -> Result<i64, VerifyError> {
    let timestamp: i64 = text.parse().map_err(|_| VerifyError::Malformed(name))?;
    // The signed timestamp is the attempt time, so this bounds replays.
    if timestamp < 0 || timestamp.abs_diff(now.timestamp()) > TIMESTAMP_TOLERANCE_SECS {
        return Err(VerifyError::StaleTimestamp);
    }
    Ok(timestamp)
}

/// An HMAC (`Hmac<Sha256>`, `Hmac<Sha1>` …) keyed with `key`. Only for
/// HMAC types, which take keys of any length.
pub(crate) fn hmac<M: Mac + KeyInit>(key: &[u8]) -> M {
    match M::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// `Ok` when one of the decoded `candidates` is `mac`'s tag (compared in
/// constant time), for headers that may list several signatures.
pub(crate) fn any_matches<M: Mac + Clone>(
    mac: &M,
    candidates: impl IntoIterator<Item = Vec<u8>>,
) -> Result<(), VerifyError> {
    let matched = candidates
        .into_iter()
        .any(|candidate| mac.clone().verify_slice(&candidate).is_ok());
    if matched {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// How a request carries its parameters, which decides what a URL-and-params
/// signature (Twilio, Plivo) covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carrier {
    /// GET: the parameters are in the query string, part of the signed URL.
    Query,
    /// Form POST (also a POST without Content-Type): the body parameters.
    Form,
    /// JSON POST.
    Json,
}

impl Carrier {
    /// Any body other than a form or JSON is refused: no signature scheme
    /// here covers it.
    pub(crate) fn of(request: &WebhookRequest<'_>) -> Result<Self, VerifyError> {
        if *request.method == Method::GET {
            return Ok(Self::Query);
        }
        let Some(value) = request.headers.get(CONTENT_TYPE) else {
            return Ok(Self::Form);
        };
        let value = value
            .to_str()
            .map_err(|_| VerifyError::Malformed("content-type"))?;
        let essence = value.split(';').next().unwrap_or(value).trim();
        if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            Ok(Self::Form)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Ok(Self::Json)
        } else {
            Err(VerifyError::Malformed("content-type"))
        }
    }

    /// The parameters a signature covers beside the URL: none for GET (they
    /// are in the URL; a body would be unsigned, so it is refused), the
    /// decoded body for a form POST, none for JSON (each scheme binds a JSON
    /// body its own way).
    pub(crate) fn signed_body_params(
        self,
        request: &WebhookRequest<'_>,
    ) -> Result<Vec<(String, String)>, VerifyError> {
        match self {
            Self::Query if !request.body.is_empty() => Err(VerifyError::Malformed("body")),
            Self::Query | Self::Json => Ok(Vec::new()),
            Self::Form => Ok(decode_form(request.body)),
        }
    }
}

pub(crate) fn decode_form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// The query of `url`, without its '?' and any fragment; "" when there is none.
pub(crate) fn query_of(url: &str) -> &str {
    let Some((_, after)) = url.split_once('?') else {
        return "";
    };
    after.split_once('#').map_or(after, |(query, _)| query)
}

/// `url` without its query and fragment: `scheme://authority/path` as received.
pub(crate) fn without_query(url: &str) -> &str {
    url.find(['?', '#']).map_or(url, |end| &url[..end])
}

/// Sorted by name, then value (how Twilio and Plivo order parameters before
/// signing). Repeats are kept; a scheme that drops them does so itself.
pub(crate) fn sorted_pairs(params: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted
}

/// Form-style parameters (name/value pairs) of an authentic request.
pub(crate) struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The GET query or the form body, whichever `carrier` says holds them.
    pub(crate) fn query_or_form(request: &WebhookRequest<'_>, carrier: Carrier) -> Self {
        Self(match carrier {
            Carrier::Query => decode_form(query_of(request.url).as_bytes()),
            Carrier::Form | Carrier::Json => decode_form(request.body),
        })
    }

    /// The value of `name`. Signatures sort a repeated name's values, so
    /// their order is not authenticated: disagreeing repeats are refused
    /// rather than one of them picked.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, ParseError> {
        let mut values = self
            .0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.any(|v| v != first) {
            return Err(ParseError::new(format!(
                "{name} is given more than once with different values"
            )));
        }
        Ok(Some(first))
    }

    /// The first of `names` with a non-empty value (providers repeat some
    /// fields under legacy names).
    pub(crate) fn first_of(&self, names: &[&str]) -> Result<Option<&str>, ParseError> {
        for name in names {
            if let Some(value) = self.get(name)?.filter(|v| !v.is_empty()) {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    pub(crate) fn required(&self, names: &[&str]) -> Result<&str, ParseError> {
        self.first_of(names)?
            .ok_or_else(|| ParseError::new(format!("missing {}", names.join(" or "))))
    }
}

/// An RFC 3339 time from a payload field, named in the error.
pub(crate) fn parse_rfc3339(field: &str, text: &str) -> Result<DateTime<Utc>, ParseError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ParseError::new(format!("{field} {text:?} is not RFC 3339: {e}")))
}

/// A number as some providers send it, E.164 digits without the '+'
/// ("14155550100"), given its '+' back when that makes a possible
/// international number. Short codes ("12345"), alphanumeric senders and
/// numbers that already have their '+' are returned as sent (trimmed).
pub(crate) fn with_plus(raw: &str) -> String {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        let candidate = format!("+{raw}");
        if PhoneNumber::parse_international(&candidate).is_ok() {
            return candidate;
        }
    }
    raw.to_owned()
}

/// The providers' unit tests build their requests with this.
#[cfg(test)]
pub(crate) mod testing {
    use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
    use chrono::{DateTime, Utc};

    use super::WebhookRequest;

    /// Owned name/value pairs, as a decoded form gives them.
    pub(crate) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    pub(crate) struct TestRequest {
        pub(crate) method: Method,
        pub(crate) url: String,
        pub(crate) headers: HeaderMap,
        pub(crate) body: Vec<u8>,
        pub(crate) now: DateTime<Utc>,
    }

    impl TestRequest {
        /// A POST of `body` to `url`, received now, without headers.
        pub(crate) fn post(url: &str, body: impl Into<Vec<u8>>) -> Self {
            Self {
                method: Method::POST,
                url: url.to_owned(),
                headers: HeaderMap::new(),
                body: body.into(),
                now: Utc::now(),
            }
        }

        /// Sets header `name` (any case) to `value`.
        pub(crate) fn set(&mut self, name: &str, value: &str) -> &mut Self {
            self.headers.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
                HeaderValue::from_str(value).expect("test header value"),
            );
            self
        }

        pub(crate) fn request(&self) -> WebhookRequest<'_> {
            WebhookRequest {
                method: &self.method,
                url: &self.url,
                headers: &self.headers,
                body: &self.body,
                now: self.now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue};
    use chrono::TimeZone;
    use sha2::Sha256;

    use super::*;

    #[test]
    fn header_takes_the_first_present_name_and_refuses_blank_values() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            header(&headers, &["a-sig", "b-sig"]),
            Err(VerifyError::Missing("a-sig"))
        );
        headers.insert(
            HeaderName::from_static("b-sig"),
            HeaderValue::from_static("v2"),
        );
        assert_eq!(header(&headers, &["a-sig", "b-sig"]), Ok("v2"));
        headers.insert(
            HeaderName::from_static("a-sig"),
            HeaderValue::from_static(" "),
        );
        assert_eq!(
            header(&headers, &["a-sig", "b-sig"]),
            Err(VerifyError::Missing("a-sig"))
        );
        headers.insert(
            HeaderName::from_static("a-sig"),
            HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        assert_eq!(
            header(&headers, &["a-sig"]),
            Err(VerifyError::Malformed("a-sig"))
        );
        assert_eq!(header(&headers, &[]), Err(VerifyError::Missing("header")));
    }

    #[test]
    fn timestamp_window_is_inclusive_both_ways() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        for (offset, fresh) in [
            (-301, false),
            (-300, true),
            (0, true),
            (300, true),
            (301, false),
        ] {
            let text = (1_700_000_000 + offset).to_string();
            let expected = if fresh {
                Ok(1_700_000_000 + offset)
            } else {
                Err(VerifyError::StaleTimestamp)
            };
            assert_eq!(fresh_timestamp(&text, "ts", now), expected, "{offset}");
        }
        for bad in ["", "x", "1.5", " 1700000000", "99999999999999999999"] {
            assert_eq!(
                fresh_timestamp(bad, "ts", now),
                Err(VerifyError::Malformed("ts")),
                "{bad:?}"
            );
        }
        assert_eq!(
            fresh_timestamp("-1", "ts", Utc.timestamp_opt(0, 0).unwrap()),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            fresh_timestamp(&i64::MIN.to_string(), "ts", now),
            Err(VerifyError::StaleTimestamp)
        );
    }

    #[test]
    fn url_pieces() {
        assert_eq!(query_of("https://h/p?a=1&b=2#f"), "a=1&b=2");
        assert_eq!(query_of("https://h/p"), "");
        assert_eq!(
            without_query("https://h:8443/p/q?a=1#f"),
            "https://h:8443/p/q"
        );
        assert_eq!(without_query("https://h/p#f?x"), "https://h/p");
        assert_eq!(without_query("https://answer.url"), "https://answer.url");
    }

    #[test]
    fn pairs_sort_by_name_then_value_and_keep_repeats() {
        let params = vec![
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "9".to_owned()),
            ("a".to_owned(), "1".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ];
        assert_eq!(
            sorted_pairs(&params),
            [("a", "1"), ("a", "1"), ("a", "9"), ("b", "2")]
        );
    }

    #[test]
    fn hmac_takes_any_key_length() {
        for key in [&b""[..], b"k", &[7u8; 200]] {
            let mut mac = hmac::<hmac::Hmac<Sha256>>(key);
            mac.update(b"x");
            assert_eq!(mac.finalize().into_bytes().len(), 32);
        }
    }

    #[test]
    fn plus_is_restored_only_on_possible_international_numbers() {
        for (raw, expected) in [
            ("14155550100", "+14155550100"),
            (" 442079460958 ", "+442079460958"),
            ("+14155550100", "+14155550100"),
            ("12345", "12345"),
            ("ACME", "ACME"),
            ("", ""),
            ("0014155550100", "0014155550100"),
            ("1415555010012345678", "1415555010012345678"),
            ("1-415-555-0100", "1-415-555-0100"),
        ] {
            assert_eq!(with_plus(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn rfc3339_names_the_field() {
        assert_eq!(
            parse_rfc3339("data.occurred_at", "2019-12-09T21:32:14.148+01:00").unwrap(),
            Utc.with_ymd_and_hms(2019, 12, 9, 20, 32, 14).unwrap()
                + chrono::Duration::milliseconds(148)
        );
        let err = parse_rfc3339("data.occurred_at", "yesterday").unwrap_err();
        assert!(err.0.contains("data.occurred_at"), "{err}");
    }
}
