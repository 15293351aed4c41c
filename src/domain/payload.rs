//! What the message page shows of a raw provider payload: the body decoded
//! the way its receiver would decode it, with every phone number masked.
//!
//! Masking happens after decoding, value by value, never by scanning the
//! encoded text: a JSON `"\u002B14155550100"` (how .NET writes '+'), a
//! double-encoded form value (`%252B1…`), a number in an array or one with
//! separators under a phone-named key all reach the masking as the number
//! they mean.

use serde_json::Value;

use super::phone::{is_phone_key, mask_numbers_in_text, mask_whole_number};

/// How many extra rounds of percent-decoding a form value gets: senders
/// that encode twice exist, three times would be a bug of its own.
const EXTRA_DECODE_ROUNDS: usize = 2;
/// JSON nested deeper than this is shown as masked text: the walk stays
/// bounded whatever the body (serde_json itself stops at 128).
const MAX_DEPTH: usize = 64;

/// The payload for people to read: a form body one decoded field per line,
/// JSON pretty-printed, anything else as text; phone numbers masked in all.
pub fn readable_payload(content_type: &str, body: &[u8]) -> String {
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return readable_form(body);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            mask_json(&mut value, false, 0);
            serde_json::to_string_pretty(&value)
                .unwrap_or_else(|_| mask_numbers_in_text(&String::from_utf8_lossy(body)))
        }
        Err(_) => mask_numbers_in_text(&String::from_utf8_lossy(body)),
    }
}

fn readable_form(body: &[u8]) -> String {
    form_urlencoded::parse(body)
        .map(|(key, value)| {
            let key = fully_decoded(&key);
            let value = mask_value(&fully_decoded(&value), is_phone_key(&key));
            format!("{} = {value}", mask_numbers_in_text(&key))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A form value decoded again while it still holds percent-escapes, so a
/// double-encoded number is masked as the number it is.
fn fully_decoded(text: &str) -> String {
    let mut text = text.to_owned();
    for _ in 0..EXTRA_DECODE_ROUNDS {
        match percent_decoded(&text) {
            Some(decoded) if decoded != text => text = decoded,
            _ => break,
        }
    }
    text
}

/// `%XX` escapes decoded (a '+' stays: only the first round is form
/// decoding); `None` when the result is not UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex_value(*high).zip(hex_value(*low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                out.push((high << 4) | low);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Masks every number in a JSON value in place. `phone_key`: the member
/// that holds this value (or the array around it) is named like a number.
fn mask_json(value: &mut Value, phone_key: bool, depth: usize) {
    match value {
        Value::String(text) => *text = mask_value(text, phone_key),
        Value::Number(number) if phone_key => {
            let digits = number.to_string();
            if let Some(masked) = mask_whole_number(&digits) {
                *value = Value::String(masked);
            }
        }
        Value::Array(items) if depth < MAX_DEPTH => {
            for item in items {
                mask_json(item, phone_key, depth + 1);
            }
        }
        Value::Object(members) if depth < MAX_DEPTH => {
            let masked: serde_json::Map<String, Value> = std::mem::take(members)
                .into_iter()
                .map(|(key, mut member)| {
                    mask_json(&mut member, is_phone_key(&key), depth + 1);
                    (mask_numbers_in_text(&key), member)
                })
                .collect();
            *members = masked;
        }
        Value::Array(_) | Value::Object(_) => {
            *value = Value::String(mask_numbers_in_text(&value.to_string()));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// One decoded value: a whole number under a phone-named key (also bare or
/// with separators), JSON inside a string walked as JSON, else every
/// '+'-number in the text.
fn mask_value(text: &str, phone_key: bool) -> String {
    if phone_key && let Some(masked) = mask_whole_number(text) {
        return masked;
    }
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut inner) = serde_json::from_str::<Value>(text)
    {
        mask_json(&mut inner, phone_key, 1);
        return inner.to_string();
    }
    mask_numbers_in_text(text)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn json(body: &str) -> String {
        readable_payload("application/json", body.as_bytes())
    }

    fn form(body: &str) -> String {
        readable_payload("application/x-www-form-urlencoded", body.as_bytes())
    }

    #[test]
    fn json_unicode_escapes_are_decoded_before_masking() {
        let text = json(r#"{"To":"\u002B14155550100","note":"call \u002b14155550100"}"#);
        assert!(!text.contains("4155550100"), "{text}");
        assert!(text.contains("+1••••••0100"), "{text}");
        assert!(text.contains("0100"), "{text}");
    }

    #[test]
    fn double_encoded_form_values_are_masked_after_decoding() {
        let text = form("To=%252B14155550100&MessageStatus=delivered&Body=hi+there");
        assert!(!text.contains("4155550100"), "{text}");
        assert!(text.contains("To = +1••••••0100"), "{text}");
        assert!(text.contains("MessageStatus = delivered"), "{text}");
        assert!(text.contains("Body = hi there"), "{text}");
    }

    #[test]
    fn separators_under_phone_keys_and_bare_numbers_are_masked() {
        let text = json(
            r#"{"msisdn":"44 7700-900 456","to":447700900456,"phone_number":"(415) 555-0100","id":12345678901}"#,
        );
        for digits in ["7700900456", "7700-900", "447700900456", "555-0100"] {
            assert!(!text.contains(digits), "{digits}: {text}");
        }
        assert!(text.contains("12345678901"), "ids stay: {text}");
        let text = form("msisdn=447700900456&to=44+7700+900+456&messageId=0A0000001234567B");
        assert!(!text.contains("7700"), "{text}");
        assert!(text.contains("0A0000001234567B"), "{text}");
    }

    #[test]
    fn numbers_in_arrays_and_in_nested_json_strings_are_masked() {
        let text = json(
            r#"{"data":{"payload":{"to":[{"phone_number":"+14155550100"},"14155550101"],"cc":["+442079460958"]}},"inner":"{\"from\":\"\\u002B14155550102\"}"}"#,
        );
        for digits in ["4155550100", "4155550101", "2079460958", "4155550102"] {
            assert!(!text.contains(digits), "{digits}: {text}");
        }
    }

    #[test]
    fn other_bodies_are_masked_as_text() {
        let text = readable_payload("text/plain", b"from +14155550100, not json");
        assert_eq!(text, "from +1••••••0100, not json");
        let text = readable_payload("", b"\xff\xfe+14155550100");
        assert!(!text.contains("4155550100"), "{text}");
    }

    /// Either a whole E.164 number, or one with separators and/or without
    /// its '+' when the key names a number.
    fn spelled(digits: &str, style: u8, phone_key: bool) -> String {
        if !phone_key {
            return match style % 3 {
                0 => format!("+{digits}"),
                1 => format!("call +{digits} now"),
                _ => format!("+{digits}, or else"),
            };
        }
        let grouped: String = digits
            .as_bytes()
            .chunks(3)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(if style.is_multiple_of(2) { " " } else { "-" });
        match style % 4 {
            0 => format!("+{digits}"),
            1 => digits.to_owned(),
            2 => format!("+{grouped}"),
            _ => grouped,
        }
    }

    /// The number is gone when its last five digits are never seen together,
    /// whatever separators the output keeps: masking shows at most four.
    fn assert_masked(output: &str, digits: &str) {
        let squeezed: String = output
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/'))
            .collect();
        let tail = &digits[digits.len() - 5..];
        assert!(!squeezed.contains(tail), "{digits} survives in {output}");
    }

    proptest! {
        #[test]
        fn no_number_in_any_json_string_value_survives(
            digits in "[1-9][0-9]{6,14}",
            style in 0u8..12,
            key in prop::sample::select(vec!["to", "msisdn", "phone_number", "note", "x"]),
            nesting in 0usize..4,
            escape_plus in any::<bool>(),
            in_array in any::<bool>(),
        ) {
            let phone_key = key != "note" && key != "x";
            let mut value = Value::String(spelled(&digits, style, phone_key));
            if in_array {
                value = Value::Array(vec![Value::from("first"), value]);
            }
            let mut top = serde_json::Map::new();
            top.insert(key.to_owned(), value);
            top.insert("status".to_owned(), Value::from("delivered"));
            value = Value::Object(top);
            for level in 0..nesting {
                let mut outer = serde_json::Map::new();
                outer.insert(format!("level{level}"), value);
                value = Value::Object(outer);
            }
            let mut body = value.to_string();
            if escape_plus {
                body = body.replace('+', "\\u002B");
            }
            assert_masked(&json(&body), &digits);
        }

        #[test]
        fn no_number_in_any_form_value_survives(
            digits in "[1-9][0-9]{6,14}",
            style in 0u8..12,
            key in prop::sample::select(vec!["To", "From", "msisdn", "Body", "x"]),
            encodings in 1usize..=3,
        ) {
            let phone_key = !matches!(key, "Body" | "x");
            let mut value = spelled(&digits, style, phone_key);
            for _ in 1..encodings {
                value = form_urlencoded::byte_serialize(value.as_bytes()).collect();
            }
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("MessageStatus", "sent")
                .append_pair(key, &value)
                .finish();
            assert_masked(&form(&body), &digits);
        }
    }
}
