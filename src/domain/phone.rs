//! Phone numbers: parsed by libphonenumber (the `phonenumber` crate), stored
//! in E.164, shown masked.
//!
//! A number is accepted when it is *possible*: a known calling code and a
//! national number of a length that code's plan uses. Whether it is *valid*
//! (in a range the crate's metadata knows) is recorded, not enforced: the
//! provider already accepted the send, ranges newer than the metadata exist,
//! and refusing the number would only lose its callbacks.
//!
//! Nothing here prints a full number on its own: `Debug` is masked and error
//! messages never echo the input, so a `{:?}` in a log line or an API error
//! cannot leak a recipient.

use std::fmt;
use std::sync::Once;

use phonenumber::Mode;
use phonenumber::metadata::DATABASE;

/// E.164 allows at most 15 digits after the '+'.
const MAX_DIGITS: usize = 15;
/// The shortest numbers libphonenumber accepts are 3-digit calling codes with
/// 4-digit national numbers (Niue, Tokelau, Ascension): 7 digits. A tighter
/// floor would refuse real recipients there.
const MIN_DIGITS: usize = 7;
/// The lenient parser tolerates a written national trunk prefix, as in
/// "+44 (0)20 7946 0958", so the raw digit count may exceed 15 by a little
/// before libphonenumber strips it.
const MAX_LENIENT_DIGITS: usize = MAX_DIGITS + 2;
/// No honest rendering of a phone number is longer; the bound keeps the
/// lenient parser's work proportional to a phone number, not to the input.
const MAX_LENIENT_CHARS: usize = 64;

/// How many compiled patterns libphonenumber keeps. Its own default, an LRU
/// of 100, holds fewer than five countries' number plans (about 23 patterns
/// each): traffic to ten countries recompiled patterns on every parse,
/// ~0.8 ms a number instead of ~15 µs. The whole metadata has about 1,800
/// patterns, so at this size each is compiled once and never evicted, and
/// memory grows only with the countries actually seen (~2 MB each).
const COMPILED_PATTERNS: usize = 2048;

/// `phonenumber::parse` of "+digits", with the pattern cache sized first.
fn library_parse(digits: &str) -> Result<phonenumber::PhoneNumber, phonenumber::ParseError> {
    static SIZED: Once = Once::new();
    SIZED.call_once(|| {
        // A poisoned lock only means a parse panicked mid-way; the cache
        // itself is still whole.
        let cache = DATABASE.cache();
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.set_capacity(COMPILED_PATTERNS);
    });
    phonenumber::parse(None, format!("+{digits}"))
}

/// A possible phone number in E.164 form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    /// '+' then digits, canonical (no trunk prefix, no separators).
    e164: String,
    calling_code: u16,
    /// ISO 3166-1 alpha-2, `None` for non-geographic codes such as +800.
    region: Option<phonenumber::country::Id>,
    /// In a range of its country's numbering plan, per the crate's metadata.
    valid: bool,
}

/// Why a text is not an acceptable phone number. The messages are meant for
/// API clients and agents, and never repeat the number itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error(
        "phone number must be in E.164 form: '+' followed by the country calling code and number, digits only, no spaces or punctuation"
    )]
    NotE164,
    #[error(
        "phone number is not in canonical E.164 form: drop the national trunk prefix (such as a 0 after the country calling code)"
    )]
    NotCanonical,
    #[error(
        "phone number may contain only digits, a leading '+', spaces and the separators - . ( ) /"
    )]
    InvalidCharacter,
    #[error(
        "phone number has no country calling code: write it with a leading '+' or the international prefix 00"
    )]
    NoCallingCode,
    #[error("phone number is too short: E.164 numbers have at least {MIN_DIGITS} digits")]
    TooShort,
    #[error("phone number is too long: E.164 numbers have at most {MAX_DIGITS} digits")]
    TooLong,
    #[error("phone number starts with an unknown country calling code")]
    UnknownCallingCode,
    #[error("phone number could not be read as a phone number")]
    Unparseable,
    #[error(
        "phone number cannot be a number of country calling code +{calling_code}: its national part has a length that plan does not use"
    )]
    Invalid { calling_code: u16 },
}

impl PhoneError {
    /// A stable machine-readable code for API error bodies; the Display text
    /// may be reworded, this may not.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "phone_empty",
            Self::NotE164 => "phone_not_e164",
            Self::NotCanonical => "phone_not_canonical",
            Self::InvalidCharacter => "phone_invalid_character",
            Self::NoCallingCode => "phone_no_calling_code",
            Self::TooShort => "phone_too_short",
            Self::TooLong => "phone_too_long",
            Self::UnknownCallingCode => "phone_unknown_calling_code",
            Self::Unparseable => "phone_unparseable",
            Self::Invalid { .. } => "phone_invalid",
        }
    }
}

impl PhoneNumber {
    /// Strict: what the send API accepts for `to`. Exactly E.164 ('+', then
    /// 7 to 15 digits, nothing else, in canonical form) and possible for its
    /// calling code (see [`Self::is_valid`] for the stricter test).
    pub fn parse_e164(text: &str) -> Result<Self, PhoneError> {
        if text.is_empty() {
            return Err(PhoneError::Empty);
        }
        let digits = text.strip_prefix('+').ok_or(PhoneError::NotE164)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotE164);
        }
        check_digit_count(digits.len(), MAX_DIGITS)?;
        let number = Self::from_international_digits(digits)?;
        // The library forgives a trunk prefix ("+4402079460958"); the API
        // must not, or two spellings of one recipient would reach storage.
        if number.e164 != text {
            return Err(PhoneError::NotCanonical);
        }
        Ok(number)
    }

    /// Lenient: what an agent types or a provider sends. Accepts separators
    /// (spaces, - . ( ) /), a leading '+' (also inside a parenthesis, as in
    /// "(+44) 20 …") or the international prefix 00, and a written trunk
    /// prefix like "+44 (0)20 …". A number without '+' or 00 is refused:
    /// its country could only be guessed.
    ///
    /// The result equals `parse_e164` of its own `e164()`.
    pub fn parse_international(text: &str) -> Result<Self, PhoneError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PhoneError::Empty);
        }
        if text.chars().count() > MAX_LENIENT_CHARS {
            return Err(PhoneError::TooLong);
        }

        let mut plus = false;
        let mut digits = String::with_capacity(MAX_LENIENT_DIGITS + 1);
        for c in text.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if !plus && digits.is_empty() => plus = true,
                c if is_separator(c) => {}
                _ => return Err(PhoneError::InvalidCharacter),
            }
        }

        let digits = if plus {
            digits.as_str()
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest
        } else if digits.is_empty() {
            return Err(PhoneError::Unparseable);
        } else {
            return Err(PhoneError::NoCallingCode);
        };
        check_digit_count(digits.len(), MAX_LENIENT_DIGITS)?;
        Self::from_international_digits(digits)
    }

    /// The number in E.164: '+' and digits.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    pub fn calling_code(&self) -> u16 {
        self.calling_code
    }

    /// Whether libphonenumber's metadata places the number in a range of its
    /// country's plan. `false` for fictional ranges (Ofcom's drama numbers)
    /// and for ranges newer than the metadata: shown, never refused.
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// ISO 3166-1 alpha-2 region ("US", "GB", "IN"). `None` when the number
    /// belongs to no single region (+800, +882 …). +1 is resolved per number
    /// (US, CA, the Caribbean …).
    pub fn country(&self) -> Option<&str> {
        self.region.as_ref().map(|id| id.as_ref())
    }

    /// "+1 •••• ••0100": the calling code, the hidden national digits as
    /// bullets in groups of four, then the last four digits. National numbers
    /// of four digits or fewer show only their last two, or the mask would
    /// show nearly everything.
    pub fn masked(&self) -> String {
        let digits = &self.e164[1..];
        let code_len = digit_count(self.calling_code);
        mask_national(&digits[..code_len], &digits[code_len..])
    }

    /// `digits`: everything after the '+' (or after 00), ASCII digits only.
    fn from_international_digits(digits: &str) -> Result<Self, PhoneError> {
        let parsed =
            library_parse(digits).map_err(|e| match e {
                phonenumber::ParseError::InvalidCountryCode => PhoneError::UnknownCallingCode,
                phonenumber::ParseError::TooShortAfterIdd
                | phonenumber::ParseError::TooShortNsn => PhoneError::TooShort,
                phonenumber::ParseError::TooLong => PhoneError::TooLong,
                phonenumber::ParseError::NoNumber
                | phonenumber::ParseError::MalformedInteger(_) => PhoneError::Unparseable,
            })?;
        let calling_code = parsed.country().code();
        let valid = parsed.is_valid();
        if !valid && !is_possible_length(calling_code, parsed.national().to_string().len()) {
            return Err(PhoneError::Invalid { calling_code });
        }

        let e164 = parsed.format().mode(Mode::E164).to_string();
        // The formatter is the library's; make sure what we store really is
        // the shape every other part of the system assumes.
        let formatted = e164.strip_prefix('+').ok_or(PhoneError::Unparseable)?;
        if !formatted.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::Unparseable);
        }
        check_digit_count(formatted.len(), MAX_DIGITS)?;

        // The lookup finds no region for a number outside every known range,
        // and phonenumber 0.3.10 loses the leading zero of Italian-style
        // national numbers (+39 06 …) when it looks one up: both fall back to
        // the main region of the calling code. Non-geographic codes (+800)
        // have the main region "001", which is no country, and stay `None`.
        let region = parsed.country().id().or_else(|| {
            DATABASE
                .region(&calling_code)
                .and_then(|regions| regions.first().and_then(|r| r.parse().ok()))
        });

        Ok(Self {
            e164,
            calling_code,
            region,
            valid,
        })
    }
}

/// Masked, so that logging a value or a struct holding one never leaks it.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.masked()).finish()
    }
}

/// Whether some region of `calling_code` uses national numbers of `len`
/// digits, for any kind of number that can be reached from abroad.
fn is_possible_length(calling_code: u16, len: usize) -> bool {
    let Ok(len) = u16::try_from(len) else {
        return false;
    };
    DATABASE.by_code(&calling_code).is_some_and(|regions| {
        regions.iter().any(|meta| {
            let d = meta.descriptors();
            [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            .any(|desc| desc.possible_length().contains(&len))
        })
    })
}

fn check_digit_count(count: usize, max: usize) -> Result<(), PhoneError> {
    if count < MIN_DIGITS {
        Err(PhoneError::TooShort)
    } else if count > max {
        Err(PhoneError::TooLong)
    } else {
        Ok(())
    }
}

/// What people put between digit groups, including the Unicode dashes and
/// spaces that copying from documents and web pages brings along.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        '-' | '.' | '(' | ')' | '/' | '\u{2010}'..='\u{2015}' | '\u{2212}'
    ) || c.is_whitespace()
}

fn digit_count(mut n: u16) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// How many trailing digits of a national number stay readable.
fn shown_digits(national_len: usize) -> usize {
    let shown = if national_len <= 4 { 2 } else { 4 };
    // Always hide at least one digit, however short the input.
    shown.min(national_len.saturating_sub(1))
}

fn mask_national(code: &str, national: &str) -> String {
    let shown = shown_digits(national.len());
    let hidden = national.len() - shown;
    let mut out = String::with_capacity(code.len() + 2 + hidden * 4 + shown);
    out.push('+');
    out.push_str(code);
    out.push(' ');
    for i in 0..hidden {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push('•');
    }
    out.push_str(&national[hidden..]);
    out
}

/// Masks every phone number found in free text: raw provider payloads
/// (form-encoded or JSON) and message bodies, for display.
///
/// What counts as a number:
/// - a '+' or a URL-encoded '%2B' followed by at least 7 digits, which may be
///   broken up by single spaces, '-', '.', parentheses or a URL-encoded space
///   ("%2B15558675310", "+1 (415) 555-0100"). Longer runs than E.164 allows are
///   masked too: hiding a non-number costs less than showing a number;
/// - a bare run of 7 to 15 digits that is the whole value of a form field or
///   JSON member whose name says it holds a number (`msisdn`, `to`, `from`,
///   `src`, `dst`, anything with `phone` …): Vonage and Plivo send numbers
///   without the '+'. Other bare digit runs (timestamps, prices, ids) stay.
///
/// How it is masked: each hidden digit becomes '•' in place, separators and
/// the '+'/'%2B' marker stay, so the payload keeps its shape. The calling code
/// stays readable when libphonenumber recognizes one, then the last four
/// digits (two for national numbers of four digits or fewer), as in
/// [`PhoneNumber::masked`]. URL-encoded text gets the same '•' rather than a
/// percent-encoding of it: the output is for people to read, not to decode,
/// and it never shows more than those last digits.
///
/// Numbers written without '+' or 00 inside a message body are not found.
pub fn mask_numbers_in_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 32);
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(marker) = plus_marker_len(&bytes[i..]) {
            let start = i + marker;
            let run = digit_run_with_separators(bytes, start);
            if run.positions.len() >= MIN_DIGITS {
                out.push_str(&text[copied..start]);
                mask_in_place(text, start, run.end, &run.positions, &mut out);
                copied = run.end;
                i = run.end;
            } else {
                i = start;
            }
            continue;
        }
        if bytes[i].is_ascii_digit() {
            let end = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            let len = end - i;
            let standalone = i == 0 || !is_word_byte(bytes[i - 1]);
            if standalone
                && (MIN_DIGITS..=MAX_DIGITS).contains(&len)
                && ends_value(bytes, end)
                && value_key(text, i).is_some_and(is_phone_key)
            {
                out.push_str(&text[copied..i]);
                let positions: Vec<usize> = (i..end).collect();
                mask_in_place(text, i, end, &positions, &mut out);
                copied = end;
            }
            // Skip the whole run so its tail is never taken for a new number.
            i = end;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// A value that is one number and nothing else, in any spelling: with or
/// without '+' or 00, with separators (a '+' between groups too: a space in
/// a form body), 7 to 17 digits. Masked like [`mask_numbers_in_text`] does;
/// `None` when the value is anything else. For values whose name says they
/// hold a number, where a bare digit run is a number too.
pub fn mask_whole_number(value: &str) -> Option<String> {
    let positions: Vec<usize> = value
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    let only_number = value
        .chars()
        .all(|c| c.is_ascii_digit() || c == '+' || is_separator(c));
    if !only_number || !(MIN_DIGITS..=MAX_LENIENT_DIGITS).contains(&positions.len()) {
        return None;
    }
    let mut out = String::with_capacity(value.len() + 16);
    mask_in_place(value, 0, value.len(), &positions, &mut out);
    Some(out)
}

/// Length of a '+' or '%2B' marker at the start of `bytes`.
fn plus_marker_len(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [b'+', ..] => Some(1),
        [b'%', b'2', b'B' | b'b', ..] => Some(3),
        _ => None,
    }
}

/// A number found in text: where it ends and where its digits are (byte
/// offsets), since separators like "%20" contain digits of their own.
struct Run {
    end: usize,
    positions: Vec<usize>,
}

/// Digits from `start`, allowing between digit groups up to two separators
/// (as in "+1 (415) 555-0100"), or a lone '+' (a space in a form body).
fn digit_run_with_separators(bytes: &[u8], start: usize) -> Run {
    let mut positions = Vec::new();
    let mut end = start;
    let mut i = start;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            positions.push(i);
            i += 1;
            end = i;
            continue;
        }
        if positions.is_empty() {
            break;
        }
        // A separator only belongs to the number when a digit follows it.
        let next = if bytes[i] == b'+' {
            // Only alone: " +44" after a number starts the next number.
            i + 1
        } else {
            let mut j = i;
            for _ in 0..2 {
                match separator_len(&bytes[j..]) {
                    Some(len) => j += len,
                    None => break,
                }
            }
            j
        };
        if next > i && bytes.get(next).is_some_and(u8::is_ascii_digit) {
            i = next;
        } else {
            break;
        }
    }
    Run { end, positions }
}

fn separator_len(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [b' ' | b'-' | b'.' | b'(' | b')', ..] => Some(1),
        [b'%', b'2', b'0' | b'8' | b'9', ..] => Some(3),
        _ => None,
    }
}

/// Writes `text[start..end]` to `out` with the hidden digits among
/// `positions` (sorted byte offsets of the number's digits) replaced by '•'.
fn mask_in_place(text: &str, start: usize, end: usize, positions: &[usize], out: &mut String) {
    let bytes = text.as_bytes();
    let digits: String = positions.iter().map(|&p| char::from(bytes[p])).collect();
    let code_len = library_parse(&digits)
        .ok()
        .map(|n| digit_count(n.country().code()))
        .filter(|&len| len < digits.len())
        // No recognizable calling code: hide it with the rest.
        .unwrap_or(0);
    let visible_tail = shown_digits(digits.len() - code_len);
    let hide_until = digits.len() - visible_tail;

    let mut written = start;
    for (nth, &pos) in positions.iter().enumerate() {
        if nth >= code_len && nth < hide_until {
            out.push_str(&text[written..pos]);
            out.push('•');
            written = pos + 1;
        }
    }
    out.push_str(&text[written..end]);
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'
}

/// Whether a bare digit run ending at `end` is a whole value: a JSON string or
/// number, or a form field.
fn ends_value(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        None => true,
        Some(b) => matches!(
            b,
            b'"' | b'&' | b',' | b'}' | b']' | b';' | b' ' | b'\t' | b'\r' | b'\n'
        ),
    }
}

/// The name of the form field or JSON member whose value starts at `start`.
fn value_key(text: &str, start: usize) -> Option<&str> {
    let before = &text[..start];
    if let Some(rest) = before.strip_suffix('=') {
        let key_start = rest
            .rfind(['&', '?', ';', '\n', '\r', ' '])
            .map_or(0, |p| p + 1);
        return Some(&rest[key_start..]);
    }
    // JSON: "key" : "value" or "key": 123
    let rest = before.strip_suffix('"').unwrap_or(before);
    let rest = rest.trim_end().strip_suffix(':')?.trim_end();
    let rest = rest.strip_suffix('"')?;
    let key_start = rest.rfind('"')? + 1;
    Some(&rest[key_start..])
}

/// Whether a form field or JSON member with this name holds a phone number.
pub fn is_phone_key(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    matches!(
        key.as_str(),
        "to" | "from"
            | "src"
            | "dst"
            | "msisdn"
            | "destination"
            | "recipient"
            | "sender"
            | "number"
            | "caller"
            | "called"
            | "mobile"
    ) || key.contains("phone")
        || key.contains("msisdn")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn e164(text: &str) -> PhoneNumber {
        match PhoneNumber::parse_e164(text) {
            Ok(n) => n,
            Err(e) => panic!("{text} should parse: {e}"),
        }
    }

    #[test]
    fn compiled_patterns_of_many_countries_are_all_kept() {
        // One number each from twelve plans: more patterns than the
        // library's own cache of 100 holds, which made it recompile them
        // on every parse.
        let numbers = [
            "+14155550100",
            "+447700900123",
            "+33612345678",
            "+4915112345678",
            "+919876543210",
            "+5511987654321",
            "+819012345678",
            "+61412345678",
            "+34612345678",
            "+393123456789",
            "+525512345678",
            "+27821234567",
        ];
        for n in numbers {
            e164(n);
        }
        let cache = DATABASE.cache();
        let cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(cache.capacity(), COMPILED_PATTERNS);
        assert!(cache.len() > 100, "{} patterns kept", cache.len());
    }

    fn lenient(text: &str) -> PhoneNumber {
        match PhoneNumber::parse_international(text) {
            Ok(n) => n,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    #[test]
    fn every_written_form_parses_to_the_same_e164() {
        let cases: &[(&str, &[&str])] = &[
            (
                "+14155550100",
                &[
                    "+14155550100",
                    "+1 (415) 555-0100",
                    "+1 415 555 0100",
                    "+1-415-555-0100",
                    "+1.415.555.0100",
                    "001 415 555 0100",
                    "0014155550100",
                    "  +1 415 555 0100\n",
                    "(+1) 415/555-0100",
                    "+1\u{a0}415\u{2011}555\u{2011}0100",
                ],
            ),
            (
                "+442079460958",
                &[
                    "+44 20 7946 0958",
                    "0044 20 7946 0958",
                    "+44 (0)20 7946 0958",
                    "+44 020 7946 0958",
                    "+44.20.7946.0958",
                ],
            ),
            ("+919876543210", &["+91 98765 43210", "0091-98765-43210"]),
            (
                "+4915123456789",
                &["+49 151 23456789", "+49 (0)151 2345 6789"],
            ),
            (
                "+33612345678",
                &["+33 6 12 34 56 78", "0033 (0)6 12 34 56 78"],
            ),
            ("+61412345678", &["+61 412 345 678", "+61 (0) 412 345 678"]),
        ];
        for (expected, forms) in cases {
            let strict = e164(expected);
            assert_eq!(strict.e164(), *expected);
            for form in *forms {
                assert_eq!(lenient(form), strict, "{form:?}");
            }
        }
    }

    #[test]
    fn calling_code_and_country() {
        let cases = [
            ("+14155550100", 1, Some("US")),
            ("+12025550123", 1, Some("US")),
            ("+16135550100", 1, Some("CA")),
            ("+14165550100", 1, Some("CA")),
            ("+442079460958", 44, Some("GB")),
            ("+919876543210", 91, Some("IN")),
            ("+4915123456789", 49, Some("DE")),
            ("+33612345678", 33, Some("FR")),
            ("+61412345678", 61, Some("AU")),
            ("+390612345678", 39, Some("IT")),
            ("+6834002", 683, Some("NU")),
            ("+80012345678", 800, None),
        ];
        for (text, code, country) in cases {
            let n = e164(text);
            assert_eq!(n.calling_code(), code, "{text}");
            assert_eq!(n.country(), country, "{text}");
        }
    }

    #[test]
    fn possible_but_invalid_numbers_are_accepted_and_marked() {
        // Ofcom's drama range, the US 555 exchange, and a number no plan
        // places but whose length fits: accepted with the country of their
        // calling code, marked not valid.
        let cases = [
            ("+447700900456", "+44 7700 900456", 44, Some("GB")),
            ("+447700900123", "+44 7700 900123", 44, Some("GB")),
            ("+15558675310", "+1 555 867 5310", 1, Some("US")),
        ];
        for (strict, lenient, code, country) in cases {
            let n = e164(strict);
            assert!(!n.is_valid(), "{strict}");
            assert_eq!(n.calling_code(), code, "{strict}");
            assert_eq!(n.country(), country, "{strict}");
            assert_eq!(PhoneNumber::parse_international(lenient), Ok(n));
        }
        for valid in [
            "+14155550100",
            "+442079460958",
            "+390612345678",
            "+80012345678",
        ] {
            assert!(e164(valid).is_valid(), "{valid}");
        }
    }

    #[test]
    fn strict_rejections() {
        let cases = [
            ("", PhoneError::Empty),
            ("14155550100", PhoneError::NotE164),
            ("+1 415 555 0100", PhoneError::NotE164),
            ("+1-415-555-0100", PhoneError::NotE164),
            (" +14155550100", PhoneError::NotE164),
            ("+14155550100 ", PhoneError::NotE164),
            ("+", PhoneError::NotE164),
            ("++14155550100", PhoneError::NotE164),
            ("+1415555O100", PhoneError::NotE164),
            ("+1-800-FLOWERS", PhoneError::NotE164),
            ("+١٤١٥٥٥٥٠١٠٠", PhoneError::NotE164),
            ("+123456", PhoneError::TooShort),
            ("+1234567890123456", PhoneError::TooLong),
            ("+4402079460958", PhoneError::NotCanonical),
            ("+1415555010", PhoneError::Invalid { calling_code: 1 }),
            ("+141555501001", PhoneError::Invalid { calling_code: 1 }),
            ("+4477009001", PhoneError::Invalid { calling_code: 44 }),
            ("+0123456789", PhoneError::UnknownCallingCode),
            ("+99912345678", PhoneError::UnknownCallingCode),
        ];
        for (text, expected) in cases {
            assert_eq!(PhoneNumber::parse_e164(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn lenient_rejections() {
        let cases = [
            ("", PhoneError::Empty),
            ("   ", PhoneError::Empty),
            ("-- ()", PhoneError::Unparseable),
            ("1-415-555-0100", PhoneError::NoCallingCode),
            ("(415) 555-0100", PhoneError::NoCallingCode),
            ("020 7946 0958", PhoneError::NoCallingCode),
            ("011 44 20 7946 0958", PhoneError::NoCallingCode),
            ("+1-800-FLOWERS", PhoneError::InvalidCharacter),
            ("+1 415 555 0100 ext 12", PhoneError::InvalidCharacter),
            ("+1 415 555 0100 #12", PhoneError::InvalidCharacter),
            ("tel:+14155550100", PhoneError::InvalidCharacter),
            ("+1 415 +555 0100", PhoneError::InvalidCharacter),
            ("1+4155550100", PhoneError::InvalidCharacter),
            ("+1 23", PhoneError::TooShort),
            ("00 1234", PhoneError::TooShort),
            ("+1 2345 6789 0123 4567 89", PhoneError::TooLong),
            ("+1 415 555 010", PhoneError::Invalid { calling_code: 1 }),
            ("+000 1234 5678", PhoneError::UnknownCallingCode),
        ];
        for (text, expected) in cases {
            assert_eq!(
                PhoneNumber::parse_international(text),
                Err(expected),
                "{text:?}"
            );
        }
        let long = format!("+1{}4155550100", " ".repeat(70));
        assert_eq!(
            PhoneNumber::parse_international(&long),
            Err(PhoneError::TooLong)
        );
    }

    #[test]
    fn error_messages_do_not_echo_the_number() {
        for text in ["+1415555010", "+4402079460958", "+1 415 555 0100"] {
            let err = match PhoneNumber::parse_e164(text) {
                Ok(n) => panic!("{text} should be refused, got {n:?}"),
                Err(e) => e,
            };
            let message = err.to_string();
            assert!(!message.contains("555"), "{message}");
            assert!(!message.contains("7946"), "{message}");
            assert!(err.code().starts_with("phone_"));
        }
    }

    #[test]
    fn masked_exact_strings() {
        let cases = [
            ("+14155550100", "+1 •••• ••0100"),
            ("+16135550100", "+1 •••• ••0100"),
            ("+442079460958", "+44 •••• ••0958"),
            ("+919876543210", "+91 •••• ••3210"),
            ("+4915123456789", "+49 •••• •••6789"),
            ("+33612345678", "+33 •••• •5678"),
            ("+61412345678", "+61 •••• •5678"),
            ("+390612345678", "+39 •••• ••5678"),
            ("+80012345678", "+800 ••••5678"),
            ("+29022123", "+290 •2123"),
            ("+6834002", "+683 ••02"),
        ];
        for (text, expected) in cases {
            assert_eq!(e164(text).masked(), expected, "{text}");
        }
    }

    #[test]
    fn mask_groups_by_four_and_always_hides_something() {
        assert_eq!(mask_national("1", "123456789012"), "+1 •••• ••••9012");
        assert_eq!(mask_national("1", "1234567890123"), "+1 •••• •••• •0123");
        assert_eq!(mask_national("690", "3456"), "+690 ••56");
        assert_eq!(mask_national("690", "345"), "+690 •45");
        assert_eq!(mask_national("690", "34"), "+690 •4");
    }

    #[test]
    fn debug_is_masked() {
        let shown = format!("{:?}", e164("+14155550100"));
        assert!(!shown.contains("4155550100"), "{shown}");
        assert!(shown.contains("0100"), "{shown}");
    }

    #[test]
    fn masks_a_twilio_form_body() {
        let body = "ToCountry=US&ToState=CA&SmsMessageSid=SM0123456789abcdef0123456789abcdef\
&NumMedia=0&ToCity=&FromZip=94105&SmsSid=SM0123456789abcdef0123456789abcdef&FromState=CA\
&SmsStatus=received&FromCity=SAN+FRANCISCO&Body=Call+me+at+%2B1+415+555+0199&FromCountry=US\
&To=%2B15558675310&NumSegments=1&MessageSid=SM0123456789abcdef0123456789abcdef\
&AccountSid=AC0123456789abcdef0123456789abcdef&From=%2B14155550100&ApiVersion=2010-04-01";
        let masked = mask_numbers_in_text(body);
        assert!(masked.contains("&To=%2B1••••••5310&"), "{masked}");
        assert!(masked.contains("&From=%2B1••••••0100&"), "{masked}");
        assert!(
            masked.contains("Body=Call+me+at+%2B1+•••+•••+0199&"),
            "{masked}"
        );
        for full in ["5558675310", "4155550100", "415+555"] {
            assert!(!masked.contains(full), "{masked}");
        }
        // Everything that is not a phone number is left exactly as it was.
        assert!(masked.contains("ApiVersion=2010-04-01"));
        assert!(masked.contains("FromZip=94105&"));
        assert!(masked.contains("SmsSid=SM0123456789abcdef0123456789abcdef&"));
        assert_eq!(masked.chars().filter(|&c| c == '•').count(), 18);
        assert_eq!(masked.replace('•', "0").len(), body.len());
    }

    #[test]
    fn masks_numbers_written_with_separators_in_a_message_body() {
        let masked = mask_numbers_in_text("call +1 (415) 555-0199 or %2B44%2020%207946%200958");
        assert_eq!(masked, "call +1 (•••) •••-0199 or %2B44%20••%20••••%200958");
    }

    #[test]
    fn masks_a_json_body() {
        let body = r#"{"data":{"event_type":"message.finalized","id":"b301ed3f-1490-491f-995f-6e64e69674d4","occurred_at":"2024-01-15T10:00:00.000+00:00","payload":{"from":{"phone_number":"+15558675310","carrier":"T-Mobile"},"to":[{"phone_number":"+442079460958","status":"delivered"}],"cost":{"amount":"0.0051"},"parts":1,"sent_at":1705312800}}}"#;
        let masked = mask_numbers_in_text(body);
        assert!(
            masked.contains(r#""phone_number":"+1••••••5310""#),
            "{masked}"
        );
        assert!(
            masked.contains(r#""phone_number":"+44••••••0958""#),
            "{masked}"
        );
        assert!(!masked.contains("5558675310"));
        assert!(!masked.contains("2079460958"));
        assert!(masked.contains(r#""occurred_at":"2024-01-15T10:00:00.000+00:00""#));
        assert!(masked.contains(r#""sent_at":1705312800"#));
        assert!(masked.contains("b301ed3f-1490-491f-995f-6e64e69674d4"));
    }

    #[test]
    fn masks_bare_numbers_under_phone_keys() {
        let vonage = "msisdn=447700900000&to=14155550100&network-code=23410&messageId=0A0000000123ABCD1&price=0.03330000&status=delivered&scts=2001011400&err-code=0";
        let masked = mask_numbers_in_text(vonage);
        assert_eq!(
            masked,
            "msisdn=44••••••0000&to=1••••••0100&network-code=23410&messageId=0A0000000123ABCD1&price=0.03330000&status=delivered&scts=2001011400&err-code=0"
        );
        let json = r#"{"From": "14155550100", "To": 442079460958, "MessageUUID": "1234567890123"}"#;
        assert_eq!(
            mask_numbers_in_text(json),
            r#"{"From": "1••••••0100", "To": 44••••••0958, "MessageUUID": "1234567890123"}"#
        );
    }

    #[test]
    fn leaves_text_without_numbers_alone_and_is_idempotent() {
        for text in [
            "",
            "+",
            "%2B",
            "a+b=c",
            "+12345",
            "price +0.0075 EUR",
            "héllo wörld • +",
            "tz 2024-01-15T10:00:00+00:00",
        ] {
            assert_eq!(mask_numbers_in_text(text), text);
        }
        let once = mask_numbers_in_text("To=%2B14155550100 and +44 20 7946 0958");
        assert_eq!(mask_numbers_in_text(&once), once);
    }

    proptest! {
        #[test]
        fn lenient_result_round_trips_through_strict(text in "[+0-9 ()./-]{0,24}") {
            if let Ok(n) = PhoneNumber::parse_international(&text) {
                prop_assert_eq!(PhoneNumber::parse_e164(n.e164()), Ok(n.clone()));
            }
        }

        #[test]
        fn strict_never_panics_and_accepts_only_canonical(text in "\\PC{0,20}") {
            if let Ok(n) = PhoneNumber::parse_e164(&text) {
                prop_assert_eq!(n.e164(), text.as_str());
            }
        }

        #[test]
        fn no_masked_text_shows_more_than_the_last_four_national_digits(
            national in "[2-9][0-9]{2}[2-9][0-9]{6}",
            prefix in "(To=%2B1|\"to\":\"\\+1|text \\+1|\\+1)",
        ) {
            let text = format!("{prefix}{national}&x");
            let masked = mask_numbers_in_text(&text);
            prop_assert!(masked.ends_with(&format!("{}&x", &national[6..])), "{}", masked);
            prop_assert!(!masked.contains(&national[..7]), "{}", masked);
        }
    }
}
