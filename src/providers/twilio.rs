//! Twilio Programmable Messaging (providers.md §1): form-encoded status and
//! inbound webhooks, authenticated by `X-Twilio-Signature`, an HMAC-SHA1 of
//! the public URL followed by the sorted parameters, keyed with the Auth Token.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::common::{self, Carrier, FormFields, query_of};
use super::{Acknowledgement, ParseError, Provider, Report, Route, VerifyError, WebhookRequest};
use crate::config::{Config, Secret};
use crate::domain::{DeliveryReport, DeliveryStatus, InboundReport};

const SIGNATURE_HEADER: &str = "X-Twilio-Signature";
const BODY_HASH_PARAM: &str = "bodySHA256";

type HmacSha1 = Hmac<Sha1>;

pub struct Twilio {
    auth_token: Secret,
}

impl Twilio {
    pub fn new(auth_token: Secret) -> Self {
        Self { auth_token }
    }

    pub fn from_config(config: &Config) -> Option<Self> {
        config.twilio_auth_token.clone().map(Self::new)
    }
}

/// The `X-Twilio-Signature` Twilio would send for `url` and `params`, exactly
/// as the official helpers compute it (no URL normalization).
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mac = signature_mac(auth_token.as_bytes(), url, &sorted_params(params));
    BASE64.encode(mac.finalize().into_bytes())
}

/// Sorted by name then value with exact repeats dropped, which is how the
/// helpers order a repeated name's values ("sort the values, drop duplicates").
fn sorted_params(params: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut sorted = common::sorted_pairs(params);
    sorted.dedup();
    sorted
}

fn signature_mac(key: &[u8], url: &str, sorted: &[(&str, &str)]) -> HmacSha1 {
    let mut mac: HmacSha1 = common::hmac(key);
    mac.update(url.as_bytes());
    // Name and value are concatenated without separators: that is Twilio's
    // scheme, so `a=bc` and `ab=c` sign alike and nothing here can change it.
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

impl Provider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let header = common::header(request.headers, &[SIGNATURE_HEADER])?.trim();
        // Not base64 cannot be the base64 of any HMAC: a plain mismatch.
        let signature = BASE64.decode(header).map_err(|_| VerifyError::Mismatch)?;

        let carrier = Carrier::of(request)?;
        if carrier == Carrier::Json {
            check_body_hash(request.url, request.body)?;
        }
        let params = carrier.signed_body_params(request)?;
        let sorted = sorted_params(&params);
        let key = self.auth_token.expose().as_bytes();
        let matches = url_variants(request.url).iter().any(|url| {
            signature_mac(key, url, &sorted)
                .verify_slice(&signature)
                .is_ok()
        });
        if matches {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    fn parse(&self, route: Route, request: &WebhookRequest<'_>) -> Result<Report, ParseError> {
        let fields = read_fields(request)?;
        match route {
            Route::Status => parse_status(&fields).map(Report::Delivery),
            Route::Inbound => parse_inbound(&fields).map(Report::Inbound),
        }
    }

    fn acknowledgement(&self, route: Route) -> Acknowledgement {
        match route {
            Route::Inbound => Acknowledgement::EMPTY_XML_RESPONSE,
            Route::Status => Acknowledgement::EMPTY_TEXT,
        }
    }
}

/// The signature covers only the URL for JSON bodies, so the body is bound to
/// it through the `bodySHA256` query parameter.
fn check_body_hash(url: &str, body: &[u8]) -> Result<(), VerifyError> {
    let mut claimed = form_urlencoded::parse(query_of(url).as_bytes())
        .filter(|(name, _)| name == BODY_HASH_PARAM)
        .map(|(_, value)| value);
    let Some(first) = claimed.next() else {
        return Err(VerifyError::Missing(BODY_HASH_PARAM));
    };
    // Two hashes would leave open which one the sender meant.
    if claimed.next().is_some() {
        return Err(VerifyError::Malformed(BODY_HASH_PARAM));
    }
    let claimed =
        hex::decode(first.as_bytes()).map_err(|_| VerifyError::Malformed(BODY_HASH_PARAM))?;
    let actual = Sha256::digest(body);
    // The body is not secret, but a branch-free compare costs nothing.
    let differs = claimed.len() != actual.len()
        || claimed
            .iter()
            .zip(actual.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0;
    if differs {
        Err(VerifyError::Mismatch)
    } else {
        Ok(())
    }
}

/// The URL forms the official helpers accept, because Twilio's own signing is
/// inconsistent about ports and quote escaping: the URL as given, with its
/// port removed or the scheme's default port added, and each of those with
/// `'` in the query escaped as `%27` (what a WHATWG URL parser does). Only the
/// port and that one escape vary, so another host, path or query never matches.
fn url_variants(url: &str) -> Vec<Cow<'_, str>> {
    let mut bases: Vec<Cow<'_, str>> = vec![Cow::Borrowed(url)];
    if let Some(parts) = UrlParts::split(url) {
        match parts.port {
            Some(_) => bases.push(Cow::Owned(format!("{}{}", parts.head, parts.tail))),
            None => {
                if let Some(port) = default_port(parts.scheme) {
                    bases.push(Cow::Owned(format!("{}:{port}{}", parts.head, parts.tail)));
                }
            }
        }
    }
    let mut variants = Vec::with_capacity(bases.len() * 2);
    for base in bases {
        let escaped = escape_query_quotes(&base);
        variants.push(base);
        if let Some(escaped) = escaped {
            variants.push(Cow::Owned(escaped));
        }
    }
    variants
}

fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else {
        None
    }
}

/// `url` with `'` escaped in its query, when there is one to escape.
fn escape_query_quotes(url: &str) -> Option<String> {
    let start = url.find('?')? + 1;
    let end = url[start..].find('#').map_or(url.len(), |i| start + i);
    let query = &url[start..end];
    if !query.contains('\'') {
        return None;
    }
    Some(format!(
        "{}{}{}",
        &url[..start],
        query.replace('\'', "%27"),
        &url[end..]
    ))
}

/// A URL cut around its port, on the text as received: re-serializing through
/// a URL parser would change what was signed.
struct UrlParts<'a> {
    scheme: &'a str,
    /// Scheme, credentials and host, up to the port's colon.
    head: &'a str,
    port: Option<&'a str>,
    /// Path, query and fragment.
    tail: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> Option<Self> {
        let scheme_end = url.find("://")?;
        let authority_start = scheme_end + 3;
        let authority_end = url[authority_start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| authority_start + i);
        let authority = &url[authority_start..authority_end];
        // Credentials may hold ':' too; the port comes after the last '@'.
        let host_start = authority.rfind('@').map_or(0, |i| i + 1);
        let host = &authority[host_start..];
        // A ':' inside brackets belongs to an IPv6 address.
        let port_colon = host.rfind(':').filter(|&i| !host[i..].contains(']'));
        let (head_end, port) = match port_colon {
            Some(i) => {
                let port = &host[i + 1..];
                if !port.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (authority_start + host_start + i, Some(port))
            }
            None => (authority_end, None),
        };
        Some(Self {
            scheme: &url[..scheme_end],
            head: &url[..head_end],
            port,
            tail: &url[authority_end..],
        })
    }
}

/// The request's parameters as name/value pairs, wherever they were carried.
fn read_fields(request: &WebhookRequest<'_>) -> Result<FormFields, ParseError> {
    let carrier = Carrier::of(request).map_err(|e| ParseError::new(e.to_string()))?;
    match carrier {
        Carrier::Json => json_fields(request.body).map(FormFields::new),
        Carrier::Query | Carrier::Form => Ok(FormFields::query_or_form(request, carrier)),
    }
}

fn json_fields(body: &[u8]) -> Result<Vec<(String, String)>, ParseError> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| ParseError::new(format!("body is not a JSON object: {e}")))?;
    Ok(object
        .into_iter()
        .filter_map(|(name, value)| match value {
            serde_json::Value::String(s) => Some((name, s)),
            serde_json::Value::Number(n) => Some((name, n.to_string())),
            _ => None,
        })
        .collect())
}

fn parse_status(fields: &FormFields) -> Result<DeliveryReport, ParseError> {
    let provider_message_id = fields.required(&["MessageSid", "SmsSid"])?.to_owned();
    let raw_status = fields.required(&["MessageStatus", "SmsStatus"])?.to_owned();
    let error_code = fields
        .get("ErrorCode")?
        .filter(|code| !code.is_empty())
        .map(str::to_owned);
    // An unreadable or ambiguous time is dropped: the receive time stands in.
    let provider_occurred_at = fields
        .get("RawDlrDoneDate")
        .ok()
        .flatten()
        .and_then(parse_raw_dlr_done_date);
    Ok(DeliveryReport {
        provider_message_id,
        status: normalize_status(&raw_status),
        raw_status,
        error_code,
        // Twilio gives no event id; the pipeline dedups on the tuple.
        provider_event_id: None,
        provider_occurred_at,
    })
}

fn parse_inbound(fields: &FormFields) -> Result<InboundReport, ParseError> {
    let provider_message_id = fields
        .required(&["MessageSid", "SmsMessageSid", "SmsSid"])?
        .to_owned();
    Ok(InboundReport {
        // An inbound sid names exactly one message, so it is the event id too.
        provider_event_id: Some(provider_message_id.clone()),
        provider_message_id,
        from: fields.required(&["From"])?.to_owned(),
        to: fields.get("To")?.unwrap_or_default().to_owned(),
        body: fields.get("Body")?.unwrap_or_default().to_owned(),
        provider_occurred_at: None,
    })
}

/// providers.md §1.2. `receiving`/`received` describe inbound messages, so on
/// the status route they are as unknown as any other string.
fn normalize_status(raw: &str) -> Option<DeliveryStatus> {
    match raw {
        "accepted" | "scheduled" | "queued" | "sending" => Some(DeliveryStatus::Accepted),
        "sent" => Some(DeliveryStatus::Sent),
        // partially_delivered: some part arrived; a judgement call kept visible by raw_status.
        "delivered" | "read" | "partially_delivered" => Some(DeliveryStatus::Delivered),
        "undelivered" => Some(DeliveryStatus::Undelivered),
        "failed" | "canceled" => Some(DeliveryStatus::Failed),
        _ => None,
    }
}

/// `RawDlrDoneDate` is `YYMMDDhhmm` in whatever zone the carrier uses, which
/// Twilio does not say. It is read as UTC: off by the carrier's offset at
/// worst, and only ever compared with other reports for the same message.
fn parse_raw_dlr_done_date(text: &str) -> Option<DateTime<Utc>> {
    if text.len() != 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(text, "%y%m%d%H%M")
        .ok()
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use axum::http::header::CONTENT_TYPE;
    use axum::http::{HeaderMap, HeaderValue, Method};
    use chrono::TimeZone;

    use super::super::common::decode_form;
    use super::super::common::testing::pairs;
    use super::*;

    const TOKEN: &str = "12345";
    const BASE_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const T1_SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const T12_BODY: &str = r#"{"property": "value", "boolean": true}"#;
    const T12_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const EMPTY_OBJECT_HASH: &str =
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    fn default_params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    struct Req {
        method: Method,
        url: String,
        headers: HeaderMap,
        body: Vec<u8>,
    }

    impl Req {
        fn form(url: &str, params: &[(String, String)], signature: Option<&str>) -> Self {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            let mut req = Self::new(Method::POST, url, body.into_bytes(), signature);
            req.headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            req
        }

        fn json(url: &str, body: &str, signature: Option<&str>) -> Self {
            let mut req = Self::new(Method::POST, url, body.as_bytes().to_vec(), signature);
            req.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            req
        }

        fn new(method: Method, url: &str, body: Vec<u8>, signature: Option<&str>) -> Self {
            let mut headers = HeaderMap::new();
            if let Some(signature) = signature {
                headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
            }
            Self {
                method,
                url: url.to_owned(),
                headers,
                body,
            }
        }

        fn request(&self) -> WebhookRequest<'_> {
            WebhookRequest {
                method: &self.method,
                url: &self.url,
                headers: &self.headers,
                body: &self.body,
                now: Utc::now(),
            }
        }

        fn verify(&self, token: &str) -> Result<(), VerifyError> {
            Twilio::new(Secret::new(token)).verify(&self.request())
        }

        fn parse(&self, route: Route) -> Result<Report, ParseError> {
            Twilio::new(Secret::new(TOKEN)).parse(route, &self.request())
        }
    }

    fn verify_form(
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<(), VerifyError> {
        Req::form(url, params, Some(signature)).verify(TOKEN)
    }

    // §1.5 vectors.

    #[test]
    fn t1_base_url_and_default_params() {
        assert_eq!(sign(TOKEN, BASE_URL, &default_params()), T1_SIGNATURE);
        assert_eq!(
            verify_form(BASE_URL, &default_params(), T1_SIGNATURE),
            Ok(())
        );
    }

    #[test]
    fn t2_other_port_is_validated_with_the_port_stripped() {
        let url = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(verify_form(url, &default_params(), T1_SIGNATURE), Ok(()));
    }

    #[test]
    fn t3_default_https_port_is_added() {
        let signature = "kvajT1Ptam85bY51eRf/AJRuM3w=";
        let signed = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert_eq!(sign(TOKEN, signed, &default_params()), signature);
        assert_eq!(verify_form(BASE_URL, &default_params(), signature), Ok(()));
        assert_eq!(verify_form(signed, &default_params(), signature), Ok(()));
    }

    #[test]
    fn t4_default_http_port() {
        let signature = "0ZXoZLH/DfblKGATFgpif+LLRf4=";
        let signed = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
        assert_eq!(sign(TOKEN, signed, &default_params()), signature);
        assert_eq!(verify_form(signed, &default_params(), signature), Ok(()));
        let without_port = "http://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            verify_form(without_port, &default_params(), signature),
            Ok(())
        );
    }

    #[test]
    fn t5_explicit_other_port_signed_as_given() {
        let signature = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=";
        let url = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(sign(TOKEN, url, &default_params()), signature);
        assert_eq!(verify_form(url, &default_params(), signature), Ok(()));
        let without_port = "http://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            verify_form(without_port, &default_params(), signature),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn t6_repeated_values_are_sorted_and_deduplicated() {
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        let signature = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
        assert_eq!(sign(TOKEN, BASE_URL, &params), signature);
        assert_eq!(verify_form(BASE_URL, &params, signature), Ok(()));
    }

    #[test]
    fn t7_repeated_name_in_either_order() {
        let signature = "83O6e2vORAoJHUNzJjDWN1jz+BA=";
        for values in [
            ["+1325xxxxxxx", "+1415xxxxxxx"],
            ["+1415xxxxxxx", "+1325xxxxxxx"],
        ] {
            let params = pairs(&[
                ("MessagingBinding.Address", values[0]),
                ("MessagingBinding.Address", values[1]),
            ]);
            assert_eq!(sign(TOKEN, BASE_URL, &params), signature);
            assert_eq!(verify_form(BASE_URL, &params, signature), Ok(()));
        }
    }

    #[test]
    fn t8_credentials_are_part_of_the_url() {
        let url = "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2";
        let signature = "CukzLTc1tT5dXEDIHm/tKBanW10=";
        assert_eq!(sign(TOKEN, url, &default_params()), signature);
        assert_eq!(verify_form(url, &default_params(), signature), Ok(()));
        assert_eq!(
            verify_form(BASE_URL, &default_params(), signature),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn t9_user_without_password() {
        let url = "https://user@mycompany.com/myapp.php?foo=1&bar=2";
        let signature = "2YRLlVAflCqxaNicjMpJcSTgzSs=";
        assert_eq!(sign(TOKEN, url, &default_params()), signature);
        assert_eq!(verify_form(url, &default_params(), signature), Ok(()));
    }

    #[test]
    fn t10_credentials_and_default_port() {
        let signed = "https://user:pass@mycompany.com:443/myapp.php?foo=1&bar=2";
        let signature = "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=";
        assert_eq!(sign(TOKEN, signed, &default_params()), signature);
        assert_eq!(verify_form(signed, &default_params(), signature), Ok(()));
        let without_port = "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            verify_form(without_port, &default_params(), signature),
            Ok(())
        );
    }

    #[test]
    fn t11_quote_in_query_matches_its_percent_escape() {
        let given = format!("{BASE_URL}&Body=It's+amazing");
        let escaped = format!("{BASE_URL}&Body=It%27s+amazing");
        let signature = "TfZzewPq8wqrGlMfyAud8+/IvJ0=";
        assert_eq!(sign(TOKEN, &escaped, &default_params()), signature);
        assert_eq!(
            sign(TOKEN, &given, &default_params()),
            "dsq4Ehbj6cs+KdTkpF5sSSplOWw="
        );
        assert_eq!(verify_form(&given, &default_params(), signature), Ok(()));
        assert_eq!(verify_form(&escaped, &default_params(), signature), Ok(()));
    }

    #[test]
    fn t12_body_hash() {
        assert_eq!(hex::encode(Sha256::digest(T12_BODY.as_bytes())), T12_HASH);
        assert_eq!(hex::encode(Sha256::digest(b"{}")), EMPTY_OBJECT_HASH);
    }

    #[test]
    fn t13_json_body_signed_through_its_hash() {
        let url = format!("{BASE_URL}&bodySHA256={T12_HASH}");
        let signature = "a9nBmqA0ju/hNViExpshrM61xv4=";
        assert_eq!(sign(TOKEN, &url, &[]), signature);
        assert_eq!(
            Req::json(&url, T12_BODY, Some(signature)).verify(TOKEN),
            Ok(())
        );
    }

    #[test]
    fn t14_json_body_signed_with_default_port() {
        let url = format!("{BASE_URL}&bodySHA256={EMPTY_OBJECT_HASH}");
        let with_port = "Ldidvp12m26NI7eqEvxnEpkd9Hc=";
        let without_port = "rw/jVviOgicj2+kHZULvebnA4ag=";
        assert_eq!(sign(TOKEN, &url, &[]), without_port);
        let signed = url.replace("mycompany.com", "mycompany.com:443");
        assert_eq!(sign(TOKEN, &signed, &[]), with_port);
        assert_eq!(Req::json(&url, "{}", Some(with_port)).verify(TOKEN), Ok(()));
        assert_eq!(
            Req::json(&url, "{}", Some(without_port)).verify(TOKEN),
            Ok(())
        );
    }

    #[test]
    fn t15_json_body_hash_as_only_query_parameter() {
        let url = format!("https://mycompany.com/myapp.php?bodySHA256={T12_HASH}");
        let signature = "y77kIzt2vzLz71DgmJGsen2scGs=";
        assert_eq!(sign(TOKEN, &url, &[]), signature);
        assert_eq!(
            Req::json(&url, T12_BODY, Some(signature)).verify(TOKEN),
            Ok(())
        );
    }

    #[test]
    fn t16_wrong_or_missing_signature() {
        assert_eq!(
            verify_form(BASE_URL, &default_params(), "WRONG_SIGNATURE"),
            Err(VerifyError::Mismatch)
        );
        // Valid base64 of the right length, still not the HMAC.
        assert_eq!(
            verify_form(BASE_URL, &default_params(), "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            Req::form(BASE_URL, &default_params(), None).verify(TOKEN),
            Err(VerifyError::Missing(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify_form(BASE_URL, &default_params(), ""),
            Err(VerifyError::Missing(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn t17_extra_query_parameter_does_not_match() {
        let url = format!("{BASE_URL}&somethingUnexpected=true");
        assert_eq!(
            verify_form(&url, &default_params(), T1_SIGNATURE),
            Err(VerifyError::Mismatch)
        );
    }

    // Further refusals.

    #[test]
    fn changed_added_or_removed_parameter_does_not_match() {
        let mut changed = default_params();
        changed[2].1 = "1235".to_owned();
        assert_eq!(
            verify_form(BASE_URL, &changed, T1_SIGNATURE),
            Err(VerifyError::Mismatch)
        );
        let mut added = default_params();
        added.push(("Extra".to_owned(), "1".to_owned()));
        assert_eq!(
            verify_form(BASE_URL, &added, T1_SIGNATURE),
            Err(VerifyError::Mismatch)
        );
        let removed = default_params()[1..].to_vec();
        assert_eq!(
            verify_form(BASE_URL, &removed, T1_SIGNATURE),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn retargeted_url_does_not_match() {
        for url in [
            "https://mycompany.com/other.php?foo=1&bar=2",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            "https://mycompany.com/myapp.php?foo=1",
            "https://evil.example/myapp.php?foo=1&bar=2",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            "https://mycompany.com:443/other.php?foo=1&bar=2",
        ] {
            assert_eq!(
                verify_form(url, &default_params(), T1_SIGNATURE),
                Err(VerifyError::Mismatch),
                "{url}"
            );
        }
    }

    #[test]
    fn another_token_does_not_match() {
        let req = Req::form(BASE_URL, &default_params(), Some(T1_SIGNATURE));
        assert_eq!(req.verify("54321"), Err(VerifyError::Mismatch));
    }

    #[test]
    fn json_with_wrong_or_missing_body_hash_is_refused() {
        let url = format!("{BASE_URL}&bodySHA256={T12_HASH}");
        let signature = sign(TOKEN, &url, &[]);
        let tampered = r#"{"property": "other", "boolean": true}"#;
        assert_eq!(
            Req::json(&url, tampered, Some(&signature)).verify(TOKEN),
            Err(VerifyError::Mismatch)
        );
        let bad_hex = format!("{BASE_URL}&bodySHA256=zz");
        let signature = sign(TOKEN, &bad_hex, &[]);
        assert_eq!(
            Req::json(&bad_hex, T12_BODY, Some(&signature)).verify(TOKEN),
            Err(VerifyError::Malformed(BODY_HASH_PARAM))
        );
        let signature = sign(TOKEN, BASE_URL, &[]);
        assert_eq!(
            Req::json(BASE_URL, T12_BODY, Some(&signature)).verify(TOKEN),
            Err(VerifyError::Missing(BODY_HASH_PARAM))
        );
    }

    #[test]
    fn get_signs_the_url_only_and_refuses_a_body() {
        let url = "https://example.com/webhooks/twilio/inbound?MessageSid=SM1&From=%2B1555&Body=hi";
        let signature = sign(TOKEN, url, &[]);
        let req = Req::new(Method::GET, url, Vec::new(), Some(&signature));
        assert_eq!(req.verify(TOKEN), Ok(()));
        let Ok(Report::Inbound(report)) = req.parse(Route::Inbound) else {
            panic!("GET fields come from the query");
        };
        assert_eq!(
            (report.from.as_str(), report.body.as_str()),
            ("+1555", "hi")
        );
        let with_body = Req::new(Method::GET, url, b"Body=other".to_vec(), Some(&signature));
        assert_eq!(with_body.verify(TOKEN), Err(VerifyError::Malformed("body")));
    }

    #[test]
    fn form_without_content_type_is_read_as_form() {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(default_params())
            .finish();
        let req = Req::new(
            Method::POST,
            BASE_URL,
            body.into_bytes(),
            Some(T1_SIGNATURE),
        );
        assert_eq!(req.verify(TOKEN), Ok(()));
    }

    #[test]
    fn unsigned_content_types_are_refused() {
        let mut req = Req::form(BASE_URL, &default_params(), Some(T1_SIGNATURE));
        req.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            req.verify(TOKEN),
            Err(VerifyError::Malformed("content-type"))
        );
        req.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        assert_eq!(req.verify(TOKEN), Ok(()));
    }

    // twilio-node spec/unit/webhooks/webhooks.spec.js: signatures made at test time.

    #[test]
    fn node_default_port_both_ways() {
        let token = "s3cr3t";
        let params = pairs(&[("Body", "hello")]);
        let with_port = "https://example.com:443/path?test=param";
        let without_port = "https://example.com/path?test=param";
        for (signed, requested) in [(with_port, without_port), (without_port, with_port)] {
            let signature = sign(token, signed, &params);
            let req = Req::form(requested, &params, Some(&signature));
            assert_eq!(req.verify(token), Ok(()), "{signed} vs {requested}");
        }
    }

    #[test]
    fn node_quote_escaping_both_ways() {
        let token = "s3cr3t";
        let params = pairs(&[("Body", "hello")]);
        let quoted = "https://example.com/path?test=param'WithQuote";
        let escaped = "https://example.com/path?test=param%27WithQuote";
        // twilio-node normalizes through WHATWG URL before signing, so a
        // signature "for" either spelling is the HMAC of the escaped one.
        let node_signature = sign(token, escaped, &params);
        for requested in [quoted, escaped] {
            let req = Req::form(requested, &params, Some(&node_signature));
            assert_eq!(req.verify(token), Ok(()), "{requested}");
        }
        // twilio-python signs the URL as given.
        let raw_signature = sign(token, quoted, &params);
        assert_eq!(
            Req::form(quoted, &params, Some(&raw_signature)).verify(token),
            Ok(())
        );
    }

    #[test]
    fn node_other_query_value_fails() {
        let token = "s3cr3t";
        let params = pairs(&[("Body", "hello")]);
        let signature = sign(token, "https://example.com/path?test=param", &params);
        let req = Req::form(
            "https://example.com/path?test=param2",
            &params,
            Some(&signature),
        );
        assert_eq!(req.verify(token), Err(VerifyError::Mismatch));
    }

    #[test]
    fn url_variants_only_touch_port_and_quotes() {
        let variants: Vec<String> = url_variants("https://u:p@h.example:8443/a?q='x'#f")
            .into_iter()
            .map(Cow::into_owned)
            .collect();
        assert_eq!(
            variants,
            [
                "https://u:p@h.example:8443/a?q='x'#f",
                "https://u:p@h.example:8443/a?q=%27x%27#f",
                "https://u:p@h.example/a?q='x'#f",
                "https://u:p@h.example/a?q=%27x%27#f",
            ]
        );
        let ipv6: Vec<String> = url_variants("http://[::1]/a")
            .into_iter()
            .map(Cow::into_owned)
            .collect();
        assert_eq!(ipv6, ["http://[::1]/a", "http://[::1]:80/a"]);
        assert_eq!(url_variants("not a url").len(), 1);
    }

    // Parsing.

    const STATUS_BODY: &str = "MessageSid=SM3b6c0d2a7f8e4b1c9d0e1f2a3b4c5d6e\
        &SmsSid=SM3b6c0d2a7f8e4b1c9d0e1f2a3b4c5d6e\
        &AccountSid=AC8f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e\
        &MessagingServiceSid=MG0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d\
        &From=%2B15017122661&To=%2B15558675310&ApiVersion=2010-04-01\
        &MessageStatus=undelivered&SmsStatus=undelivered&ErrorCode=30003\
        &RawDlrDoneDate=2406131102";

    const INBOUND_BODY: &str = "MessageSid=SM9f8e7d6c5b4a39281706f5e4d3c2b1a0\
        &SmsSid=SM9f8e7d6c5b4a39281706f5e4d3c2b1a0&SmsMessageSid=SM9f8e7d6c5b4a39281706f5e4d3c2b1a0\
        &AccountSid=AC8f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e&MessagingServiceSid=MG0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d\
        &From=%2B14155550123&To=%2B15017122661\
        &Body=STOP&NumMedia=0&NumSegments=1&FromCountry=US&FromState=CA&FromCity=SAN+FRANCISCO\
        &FromZip=94105&ToCountry=US&ToState=WA&ToCity=SEATTLE&ToZip=98101&SmsStatus=received&ApiVersion=2010-04-01";

    fn form_req(body: &str) -> Req {
        let mut req = Req::new(Method::POST, BASE_URL, body.as_bytes().to_vec(), None);
        req.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        req
    }

    fn status_of(body: &str) -> Result<DeliveryReport, ParseError> {
        match form_req(body).parse(Route::Status)? {
            Report::Delivery(report) => Ok(report),
            other => panic!("expected a delivery report, got {other:?}"),
        }
    }

    fn inbound_of(body: &str) -> Result<InboundReport, ParseError> {
        match form_req(body).parse(Route::Inbound)? {
            Report::Inbound(report) => Ok(report),
            other => panic!("expected an inbound report, got {other:?}"),
        }
    }

    #[test]
    fn status_example_parses() {
        let signature = sign(TOKEN, BASE_URL, &decode_form(STATUS_BODY.as_bytes()));
        let mut req = form_req(STATUS_BODY);
        req.headers
            .insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature).unwrap());
        assert_eq!(req.verify(TOKEN), Ok(()));
        assert_eq!(
            status_of(STATUS_BODY).unwrap(),
            DeliveryReport {
                provider_message_id: "SM3b6c0d2a7f8e4b1c9d0e1f2a3b4c5d6e".to_owned(),
                raw_status: "undelivered".to_owned(),
                status: Some(DeliveryStatus::Undelivered),
                error_code: Some("30003".to_owned()),
                provider_event_id: None,
                provider_occurred_at: Some(Utc.with_ymd_and_hms(2024, 6, 13, 11, 2, 0).unwrap()),
            }
        );
    }

    #[test]
    fn inbound_example_parses() {
        assert_eq!(
            inbound_of(INBOUND_BODY).unwrap(),
            InboundReport {
                provider_message_id: "SM9f8e7d6c5b4a39281706f5e4d3c2b1a0".to_owned(),
                from: "+14155550123".to_owned(),
                to: "+15017122661".to_owned(),
                body: "STOP".to_owned(),
                provider_event_id: Some("SM9f8e7d6c5b4a39281706f5e4d3c2b1a0".to_owned()),
                provider_occurred_at: None,
            }
        );
    }

    #[test]
    fn every_status_in_the_table_maps() {
        use DeliveryStatus::*;
        for (raw, expected) in [
            ("accepted", Accepted),
            ("scheduled", Accepted),
            ("queued", Accepted),
            ("sending", Accepted),
            ("sent", Sent),
            ("delivered", Delivered),
            ("read", Delivered),
            ("partially_delivered", Delivered),
            ("undelivered", Undelivered),
            ("failed", Failed),
            ("canceled", Failed),
        ] {
            let report = status_of(&format!("MessageSid=SM1&MessageStatus={raw}")).unwrap();
            assert_eq!(report.status, Some(expected), "{raw}");
            assert_eq!(report.raw_status, raw);
        }
    }

    #[test]
    fn unknown_and_inbound_statuses_map_to_none() {
        for raw in ["receiving", "received", "exploded", "Delivered "] {
            let report = status_of(&format!("MessageSid=SM1&MessageStatus={raw}")).unwrap();
            assert_eq!(report.status, None, "{raw}");
            assert_eq!(report.raw_status, raw);
        }
    }

    #[test]
    fn legacy_names_are_fallbacks() {
        let report = status_of("SmsSid=SM2&SmsStatus=sent").unwrap();
        assert_eq!(report.provider_message_id, "SM2");
        assert_eq!(report.status, Some(DeliveryStatus::Sent));
        let report = inbound_of("SmsMessageSid=SM3&From=%2B1555").unwrap();
        assert_eq!(report.provider_message_id, "SM3");
        assert_eq!((report.to.as_str(), report.body.as_str()), ("", ""));
    }

    #[test]
    fn missing_fields_are_parse_errors() {
        assert!(status_of("MessageStatus=sent").is_err());
        assert!(status_of("MessageSid=SM1").is_err());
        assert!(status_of("MessageSid=&MessageStatus=sent").is_err());
        assert!(inbound_of("From=%2B1555&Body=hi").is_err());
        assert!(inbound_of("MessageSid=SM1&Body=hi").is_err());
    }

    #[test]
    fn disagreeing_repeats_are_parse_errors() {
        assert!(status_of("MessageSid=SM1&MessageStatus=sent&MessageStatus=failed").is_err());
        assert!(status_of("MessageSid=SM1&MessageStatus=sent&MessageStatus=sent").is_ok());
    }

    #[test]
    fn error_code_and_done_date_edge_cases() {
        let report = status_of("MessageSid=SM1&MessageStatus=failed&ErrorCode=").unwrap();
        assert_eq!(report.error_code, None);
        let report = status_of("MessageSid=SM1&MessageStatus=sent").unwrap();
        assert_eq!(
            (report.error_code, report.provider_occurred_at),
            (None, None)
        );
        for bad in ["2413131102", "240613110", "24061311021", "24O6131102", ""] {
            let report = status_of(&format!(
                "MessageSid=SM1&MessageStatus=delivered&RawDlrDoneDate={bad}"
            ))
            .unwrap();
            assert_eq!(report.provider_occurred_at, None, "{bad}");
        }
    }

    #[test]
    fn json_status_body_parses() {
        let body =
            r#"{"MessageSid":"SM9","MessageStatus":"delivered","ErrorCode":30008,"Nested":{}}"#;
        let Report::Delivery(report) = Req::json(BASE_URL, body, None)
            .parse(Route::Status)
            .unwrap()
        else {
            panic!("expected a delivery report");
        };
        assert_eq!(report.provider_message_id, "SM9");
        assert_eq!(report.status, Some(DeliveryStatus::Delivered));
        assert_eq!(report.error_code.as_deref(), Some("30008"));
        assert!(
            Req::json(BASE_URL, "[]", None)
                .parse(Route::Status)
                .is_err()
        );
    }

    #[test]
    fn acknowledgements() {
        let twilio = Twilio::new(Secret::new(TOKEN));
        let inbound = twilio.acknowledgement(Route::Inbound);
        assert_eq!(inbound.content_type, "text/xml");
        assert!(inbound.body.contains("<Response></Response>"));
        assert_eq!(twilio.acknowledgement(Route::Status).body, "");
        assert_eq!(twilio.name(), "twilio");
    }
}
