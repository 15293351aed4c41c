//! The catalog against the research table. `testdata/error_codes.tsv` holds
//! the table's Twilio, Vonage, Telnyx, Plivo and SMPP rows, copied verbatim
//! with their source column, because CI runs on a clean clone without the
//! research folder.

use std::collections::HashSet;

use super::Finality::{Final, Maybe, NotFinal};
use super::*;

const TSV: &str = include_str!("testdata/error_codes.tsv");

struct Row<'a> {
    provider: &'a str,
    code: &'a str,
    official_name: &'a str,
    finality: &'a str,
    category: &'a str,
    source: &'a str,
}

fn rows() -> Vec<Row<'static>> {
    let mut lines = TSV.lines();
    assert_eq!(
        lines.next(),
        Some("provider\tcode\tofficial_name\tfinal\tcategory\tsource")
    );
    lines
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            let [provider, code, official_name, finality, category, source] = columns[..] else {
                panic!("not six columns: {line:?}");
            };
            Row {
                provider,
                code,
                official_name,
                finality,
                category,
                source,
            }
        })
        .collect()
}

/// The note a table row is about: a status word (`status:`, `stat:`) or an
/// error code, looked up the way a provider module's stored values are.
fn note_for(row: &Row<'_>) -> Option<&'static ErrorNote> {
    let provider = row.provider.to_ascii_lowercase();
    if let Some(word) = row.code.strip_prefix("status:") {
        explain_status(&provider, word)
    } else if row.code.starts_with("stat:") {
        explain_status(&provider, row.code)
    } else {
        explain(&provider, row.code)
    }
}

/// Every note in the catalog, named by the table that holds it.
fn all_notes() -> Vec<(&'static str, &'static ErrorNote)> {
    let mut notes = Vec::new();
    for (errors, statuses, catalog) in [
        ("twilio", "twilio status", &twilio::CATALOG),
        ("vonage", "vonage status", &vonage::CATALOG),
        ("telnyx", "telnyx status", &telnyx::CATALOG),
        ("plivo", "plivo status", &plivo::CATALOG),
    ] {
        notes.extend(catalog.errors.iter().map(|n| (errors, n)));
        notes.extend(catalog.statuses.iter().map(|n| (statuses, n)));
    }
    notes.extend(smpp::COMMAND_STATUS.iter().map(|n| ("smpp", n)));
    notes.extend(smpp::RECEIPT_STAT.iter().map(|n| ("smpp stat", n)));
    notes
}

fn finality_of(column: &str) -> Finality {
    match column {
        "yes" => Final,
        "no" => NotFinal,
        "maybe" => Maybe,
        other => panic!("final column {other:?}"),
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Whether `text` claims a person saw the message: no provider knows that.
fn claims_it_was_read(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    words(text)
        .iter()
        .any(|w| matches!(w.as_str(), "read" | "seen"))
        || ["received by", "user received", "user got", "user saw"]
            .iter()
            .any(|phrase| lower.contains(phrase))
}

const CATEGORIES: [&str; 11] = [
    "status",
    "rate/queue",
    "account/config",
    "handset/unreachable",
    "recipient opt-out/block",
    "number invalid/not capable",
    "carrier filtering/spam",
    "unknown",
    "network/provider fault",
    "sender registration/compliance",
    "content",
];

#[test]
fn every_row_of_the_research_table_has_a_note_that_agrees_with_it() {
    let rows = rows();
    assert_eq!(rows.len(), 200, "rows copied from error_codes.tsv");
    for row in &rows {
        let what = format!("{} {}", row.provider, row.code);
        let note = note_for(row).unwrap_or_else(|| panic!("{what}: no note"));
        assert_eq!(note.finality, finality_of(row.finality), "{what}");
        assert_eq!(note.official_name, row.official_name, "{what}");
        assert_eq!(note.category, row.category, "{what}");
        assert!(!note.meaning.trim().is_empty(), "{what}: empty meaning");
        assert!(!note.next_step.trim().is_empty(), "{what}: empty next step");
        assert!(
            !claims_it_was_read(note.meaning),
            "{what}: {}",
            note.meaning
        );
        assert!(
            !claims_it_was_read(note.next_step),
            "{what}: {}",
            note.next_step
        );
        assert!(!row.source.is_empty(), "{what}: no source");
    }
}

#[test]
fn every_note_but_vonage_messages_api_codes_comes_from_the_table() {
    let rows = rows();
    let covered: HashSet<*const ErrorNote> = rows
        .iter()
        .filter_map(note_for)
        .map(std::ptr::from_ref)
        .collect();
    let extra: Vec<String> = all_notes()
        .into_iter()
        .filter(|(_, note)| !covered.contains(&std::ptr::from_ref(*note)))
        .map(|(provider, note)| format!("{provider} {}", note.code))
        .collect();
    let messages_api = |entry: &String| {
        entry
            .strip_prefix("vonage ")
            .and_then(|code| code.parse::<u32>().ok())
            .is_some_and(|code| code >= 1000)
    };
    assert!(
        extra.iter().all(messages_api),
        "not in the table: {extra:?}"
    );
    assert_eq!(extra.len(), 20, "{extra:?}");
}

#[test]
fn codes_are_unique_within_each_table() {
    let mut seen = HashSet::new();
    for (table, note) in all_notes() {
        let key = (table, note.code.to_ascii_lowercase());
        assert!(seen.insert(key), "{table} {} twice", note.code);
    }
}

#[test]
fn error_codes_have_the_shape_their_provider_sends() {
    let all =
        |table: &[ErrorNote], shape: fn(&str) -> bool| table.iter().all(|note| shape(note.code));
    let digits = |code: &str| !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit());
    assert!(all(twilio::CATALOG.errors, digits));
    assert!(all(vonage::CATALOG.errors, digits));
    assert!(all(plivo::CATALOG.errors, digits));
    assert!(all(telnyx::CATALOG.errors, |code| {
        code.len() == 5 && code.starts_with('4') && code.bytes().all(|b| b.is_ascii_digit())
    }));
    assert!(all(smpp::COMMAND_STATUS, |code| {
        code.len() == 10
            && code.starts_with("0x")
            && code[2..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() && b.is_ascii_hexdigit())
    }));
}

#[test]
fn notes_are_filled_in_and_short() {
    for (provider, note) in all_notes() {
        let what = format!("{provider} {}", note.code);
        for (field, text) in [
            ("official_name", note.official_name),
            ("meaning", note.meaning),
            ("next_step", note.next_step),
        ] {
            assert_eq!(text.trim(), text, "{what} {field} has stray spaces");
            assert!(!text.is_empty(), "{what} {field} is empty");
            assert!(!text.contains("  "), "{what} {field} has a double space");
        }
        for (field, text) in [("meaning", note.meaning), ("next_step", note.next_step)] {
            assert!(text.ends_with('.'), "{what} {field} is not a sentence");
            let sentences = text.matches(". ").count() + 1;
            assert!(sentences <= 2, "{what} {field} has {sentences} sentences");
            assert!(!claims_it_was_read(text), "{what} {field}: {text}");
        }
        assert!(
            CATEGORIES.contains(&note.category),
            "{what} has category {:?}",
            note.category
        );
    }
}

#[test]
fn official_names_are_kept_verbatim() {
    let by_code = |provider, code| explain(provider, code).map(|n| n.official_name);
    assert_eq!(
        by_code("twilio", "30003"),
        Some("Unreachable destination handset")
    );
    assert_eq!(
        by_code("twilio", "30046"),
        Some("Message delivery not confirmed [unconfirmed]")
    );
    assert_eq!(
        by_code("twilio", "21211"),
        Some("Invalid 'To' Phone Number")
    );
    assert_eq!(
        by_code("twilio", "21408"),
        Some(
            "Permission to send an SMS or MMS has not been enabled for the region \
             indicated by the 'To' number"
        )
    );
    assert_eq!(
        by_code("twilio", "30446"),
        Some(
            "Toll Free verification rejection - Opt-in not sufficient: express consent \
             required"
        )
    );
    assert_eq!(
        by_code("plivo", "201"),
        Some(
            "Outbound messages from US toll-free numbers to Canadian destination numbers \
             are blocked"
        )
    );
    assert_eq!(by_code("telnyx", "40305"), Some("Invalid 'from' address"));
}

#[test]
fn each_provider_has_its_own_codes() {
    // The same digits mean different things at different providers.
    let meaning = |provider, code| explain(provider, code).map(|n| n.official_name);
    assert_eq!(meaning("vonage", "10"), Some("Illegal Message"));
    assert_eq!(meaning("plivo", "10"), Some("Invalid message"));
    assert_eq!(meaning("vonage", "5"), Some("Portability Error"));
    assert_eq!(meaning("plivo", "5"), None);
    assert_eq!(meaning("vonage", "50"), Some("Entity Filter [unconfirmed]"));
    assert_eq!(meaning("plivo", "50"), Some("Invalid destination number"));
    assert_eq!(meaning("twilio", "40001"), None);
    assert_eq!(meaning("telnyx", "30003"), None);
    assert_eq!(meaning("standard", "30003"), None);
}

#[test]
fn lookup_keys_are_the_raw_codes_the_providers_send() {
    let code = |provider, key| explain(provider, key).map(|n| n.code);
    // The examples of the module docs.
    assert_eq!(code("twilio", "30003"), Some("30003"));
    assert_eq!(code("vonage", "5"), Some("5"));
    assert_eq!(code("vonage", "1360"), Some("1360"));
    assert_eq!(code("telnyx", "40001"), Some("40001"));
    assert_eq!(code("plivo", "30"), Some("30"));
    // Surrounding spaces and the provider's letter case are forgiven; nothing else.
    assert_eq!(code(" Vonage ", " 5 "), Some("5"));
    for (provider, key) in [
        ("vonage", "05"),
        ("vonage", "err:5"),
        ("vonage", "5.0"),
        ("telnyx", "40001 40002"),
        ("plivo", "ErrorCode=30"),
        ("plivo", "+30"),
    ] {
        assert_eq!(code(provider, key), None, "{provider} {key:?}");
    }
}

#[test]
fn vonage_messages_api_codes_share_the_note_of_their_dlr_code() {
    for (messages_api, dlr) in [
        ("1180", "2"),
        ("1190", "3"),
        ("1200", "5"),
        ("1210", "6"),
        ("1220", "7"),
        ("1230", "8"),
        ("1240", "9"),
        ("1250", "11"),
        ("1260", "12"),
        ("1270", "13"),
        ("1280", "14"),
        ("1290", "15"),
        ("1330", "1"),
        ("1480", "50"),
        ("1481", "51"),
        ("1482", "52"),
        ("1483", "53"),
        ("1484", "54"),
    ] {
        let (Some(a), Some(b)) = (explain("vonage", messages_api), explain("vonage", dlr)) else {
            panic!("{messages_api} or {dlr} missing");
        };
        assert_eq!(a.code, messages_api);
        assert_eq!(
            (a.meaning, a.next_step, a.category),
            (b.meaning, b.next_step, b.category),
            "{messages_api} = {dlr}"
        );
    }
    // A Messages API `rejected` is Vonage's last word; the DLR's `1` is not.
    assert_eq!(explain("vonage", "1330").map(|n| n.finality), Some(Final));
    assert_eq!(explain("vonage", "1").map(|n| n.finality), Some(Maybe));
    let expired = explain("vonage", "1360")
        .map(|n| n.meaning)
        .unwrap_or_default();
    assert!(expired.contains("time limit"), "{expired}");
}

#[test]
fn smpp_command_status_is_recognized_for_every_provider() {
    for provider in [
        "standard", "twilio", "vonage", "telnyx", "plivo", "smpp", "sinch", "",
    ] {
        assert_eq!(
            explain(provider, "0x0000000b").map(|n| n.code),
            Some("0x0000000B"),
            "{provider:?}"
        );
        assert_eq!(
            explain(provider, "ESME_RTHROTTLED").map(|n| n.code),
            Some("0x00000058"),
            "{provider:?}"
        );
    }
    // The `err:` field of a receipt text is network-specific: no note.
    for key in ["err:000", "err:011", "err:0x0000000B", "011"] {
        assert_eq!(explain("standard", key), None, "{key}");
    }
}

#[test]
fn status_words_are_looked_up_as_status_words_only() {
    let code = |provider, word| explain_status(provider, word).map(|n| n.code);
    assert_eq!(
        code("telnyx", "delivery_unconfirmed"),
        Some("delivery_unconfirmed")
    );
    assert_eq!(code("TWILIO", " Delivered "), Some("delivered"));
    assert_eq!(code("vonage", "buffered"), Some("buffered"));
    // A provider's own word wins over SMPP's.
    assert_eq!(
        explain_status("vonage", "EXPIRED").map(|n| n.official_name),
        Some("expired")
    );
    // SMPP words, for any provider, in upper case or behind `stat:`.
    assert_eq!(code("standard", "UNDELIV"), Some("UNDELIV"));
    assert_eq!(code("standard", "stat:undeliv"), Some("UNDELIV"));
    assert_eq!(
        code("standard", "expired"),
        None,
        "our own word, not SMPP's"
    );
    // Status words are not error codes and error codes are not status words.
    assert_eq!(explain("twilio", "delivered"), None);
    assert_eq!(explain("twilio", "status:delivered"), None);
    assert_eq!(explain_status("twilio", "30003"), None);
    assert_eq!(explain_status("plivo", ""), None);
    assert_eq!(explain_status("plivo", "status:delivered"), None);
}

#[test]
fn provider_is_matched_case_insensitively() {
    for provider in ["twilio", "Twilio", "TWILIO", " twilio "] {
        assert_eq!(
            explain(provider, "30003").map(|n| n.code),
            Some("30003"),
            "{provider:?}"
        );
    }
}

#[test]
fn unknown_codes_and_providers_have_no_note() {
    for code in [
        "",
        " ",
        "0",
        "3000",
        "300030",
        "99999",
        "status:delivered",
        "delivered",
    ] {
        assert_eq!(explain("twilio", code), None, "{code:?}");
    }
    for provider in ["vonage", "telnyx", "sinch", "", "twilio2", "twil"] {
        assert_eq!(explain(provider, "30003"), None, "{provider:?}");
    }
}

#[test]
fn an_unknown_code_gets_a_generic_note_that_names_it() {
    let note = explain_or_generic("twilio", " 39999 ").unwrap_or_else(|| panic!("no note"));
    assert_eq!(note.code, "39999");
    assert_eq!(note.entry, None);
    assert_eq!(note.official_name, "Not in our catalog");
    assert_eq!(note.finality, Maybe);
    assert!(
        note.meaning.contains("error code 39999"),
        "{}",
        note.meaning
    );
    assert_eq!(note.next_step, UNKNOWN_CODE_NEXT_STEP);
    assert!(!claims_it_was_read(&note.meaning));
    // Unknown providers and SMPP receipt `err:` fields too.
    let err = explain_or_generic("standard", "err:011").map(|n| n.meaning);
    assert!(err.is_some_and(|m| m.contains("error code err:011")));
    // A provider sending junk does not flood the page.
    let long = "9".repeat(500);
    let note = explain_or_generic("plivo", &long).unwrap_or_else(|| panic!("no note"));
    assert_eq!(note.code, long, "the raw code is kept whole");
    assert!(note.meaning.len() < 200, "{}", note.meaning);
    assert!(note.meaning.contains(&format!("{}…", "9".repeat(40))));
}

#[test]
fn a_known_code_keeps_its_catalog_note() {
    let note = explain_or_generic("Telnyx", "40300").unwrap_or_else(|| panic!("no note"));
    let entry = explain("telnyx", "40300");
    assert_eq!(note.entry, entry);
    assert_eq!(note.code, "40300");
    assert_eq!(Some(note.official_name), entry.map(|e| e.official_name));
    assert_eq!(Some(note.meaning.as_str()), entry.map(|e| e.meaning));
    assert_eq!(Some(note.next_step), entry.map(|e| e.next_step));
    assert_eq!(Some(note.finality), entry.map(|e| e.finality));
}

#[test]
fn a_blank_code_is_no_code() {
    for code in ["", " ", "\t\n"] {
        assert_eq!(explain_or_generic("twilio", code), None, "{code:?}");
    }
}

#[test]
fn the_raw_status_note_prefers_the_providers_word() {
    let telnyx = raw_status_note(
        "telnyx",
        Some("delivery_unconfirmed"),
        DeliveryStatus::Unknown,
    );
    assert!(telnyx.contains("did not confirm delivery"), "{telnyx}");
    for (raw, status) in [
        (None, DeliveryStatus::Accepted),
        (Some("made-up"), DeliveryStatus::Sent),
        (Some(""), DeliveryStatus::Failed),
    ] {
        assert_eq!(
            raw_status_note("telnyx", raw, status),
            status_note(status),
            "{raw:?}"
        );
    }
}

#[test]
fn the_next_steps_use_the_agreed_wording() {
    let step = |code| explain("twilio", code).map(|n| n.next_step);
    assert_eq!(
        step("30003"),
        Some("Ask the user to check the phone is on and has signal, then resend once.")
    );
    assert!(step("21610").is_some_and(|s| s.contains("reply START")));
    for code in ["30018", "30034", "30040", "30041"] {
        assert!(
            step(code).is_some_and(|s| s.contains("needs registration")),
            "{code}"
        );
    }
    for code in ["30005", "30006", "21211", "21614", "21635"] {
        assert!(
            step(code).is_some_and(|s| s.starts_with("Do not resend")),
            "{code}"
        );
    }
    // Opt-outs at every provider get the same advice.
    for (provider, code) in [("twilio", "21610"), ("telnyx", "40300"), ("plivo", "200")] {
        assert_eq!(
            explain(provider, code).map(|n| n.next_step),
            Some(OPT_BACK_IN)
        );
    }
}

#[test]
fn codes_that_give_no_reason_say_so() {
    for (provider, code) in [
        ("twilio", "30008"),
        ("twilio", "30046"),
        ("twilio", "30453"),
        ("twilio", "30485"),
        ("vonage", "1"),
        ("vonage", "95"),
        ("telnyx", "40004"),
        ("telnyx", "40008"),
        ("plivo", "1000"),
        ("smpp", "0x000000FE"),
        ("smpp", "0x00000045"),
    ] {
        let meaning = explain(provider, code)
            .map(|n| n.meaning)
            .unwrap_or_default();
        assert!(
            meaning.contains("did not say why"),
            "{provider} {code}: {meaning}"
        );
    }
}

#[test]
fn delivered_words_say_what_the_report_does_not_show() {
    for (provider, word) in [
        ("twilio", "delivered"),
        ("vonage", "delivered"),
        ("telnyx", "delivered"),
        ("plivo", "delivered"),
        ("standard", "DELIVRD"),
    ] {
        let meaning = explain_status(provider, word)
            .map(|n| n.meaning)
            .unwrap_or_default();
        assert!(meaning.contains("reported"), "{provider}: {meaning}");
        assert!(meaning.contains("does not show"), "{provider}: {meaning}");
    }
    let zero = explain("vonage", "0")
        .map(|n| n.meaning)
        .unwrap_or_default();
    assert!(zero.contains("not that anyone looked at it"), "{zero}");
}

#[test]
fn no_note_claims_a_person_read_the_message() {
    for status in DeliveryStatus::ALL {
        let note = status_note(status);
        assert!(!note.is_empty(), "{status}");
        assert!(!claims_it_was_read(note), "{status}: {note}");
    }
    for (provider, note) in all_notes() {
        assert!(
            !claims_it_was_read(note.meaning),
            "{provider} {}",
            note.code
        );
        assert!(
            !claims_it_was_read(note.next_step),
            "{provider} {}",
            note.code
        );
    }
    // The check itself catches the claims it is there for.
    assert!(claims_it_was_read("The user has read it."));
    assert!(claims_it_was_read("It was received by the user."));
    assert!(!claims_it_was_read(
        "It has reached the phone; we are ready."
    ));
}

#[test]
fn status_notes_stay_within_what_each_status_proves() {
    let note = status_note;
    assert!(note(DeliveryStatus::Accepted).contains("taken our request"));
    assert!(note(DeliveryStatus::Sent).contains("no delivery confirmation yet"));
    assert!(note(DeliveryStatus::Delivered).contains("carrier reported"));
    assert!(note(DeliveryStatus::Delivered).contains("does not show"));
    let distinct: HashSet<_> = DeliveryStatus::ALL.into_iter().map(note).collect();
    assert_eq!(distinct.len(), DeliveryStatus::ALL.len());
}
