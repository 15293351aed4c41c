//! What an agent typed in the search box: a phone number (any common
//! international spelling) or an identifier matched exactly.

use super::phone::{PhoneError, PhoneNumber};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    Empty,
    Phone(PhoneNumber),
    /// A message id, provider message id, user ref or product action ref.
    Identifier {
        text: String,
        /// Set when the text looks like a phone number written without its
        /// country code: it is still searched as an identifier, and the page
        /// says how to search it as a number.
        phone_hint: Option<String>,
    },
    /// Starts like an international number (`+` or `00`) but is not one.
    InvalidPhone(String),
}

const MAX_IDENTIFIER_CHARS: usize = 200;

pub fn classify(input: &str) -> SearchTerm {
    let text = input.trim();
    if text.is_empty() {
        return SearchTerm::Empty;
    }
    if !looks_like_phone(text) {
        return SearchTerm::Identifier {
            text: text.chars().take(MAX_IDENTIFIER_CHARS).collect(),
            phone_hint: None,
        };
    }
    match PhoneNumber::parse_international(text) {
        Ok(number) => SearchTerm::Phone(number),
        Err(PhoneError::NoCallingCode) => SearchTerm::Identifier {
            text: text.to_owned(),
            phone_hint: Some(
                "to search it as a phone number, add the country code (+1 …, +44 … or 00 44 …)"
                    .to_owned(),
            ),
        },
        Err(error) => {
            SearchTerm::InvalidPhone(format!("{text:?} is not a valid phone number: {error}"))
        }
    }
}

/// Digits with phone separators, at least six digits: identifiers such as
/// UUIDs or `SM…` ids contain letters and never match.
fn looks_like_phone(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    digits >= 6
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')' | '/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(input: &str) -> String {
        match classify(input) {
            SearchTerm::Phone(number) => number.e164().to_owned(),
            other => panic!("{input:?} → {other:?}"),
        }
    }

    #[test]
    fn common_international_spellings_are_numbers() {
        assert_eq!(phone("+1 (415) 555-0100"), "+14155550100");
        assert_eq!(phone("+14155550100"), "+14155550100");
        assert_eq!(phone("+44 20 7946 0958"), "+442079460958");
        assert_eq!(phone("0044 20 7946 0958"), "+442079460958");
        assert_eq!(phone("+44 (0)20 7946 0958"), "+442079460958");
        assert_eq!(phone("+91 98765 43210"), "+919876543210");
        assert_eq!(phone("  +33 6 12 34 56 78 "), "+33612345678");
    }

    #[test]
    fn identifiers_are_matched_verbatim() {
        for id in [
            "SM0123456789abcdef0123456789abcdef",
            "0192f5a4-8c1e-7d2b-9a4f-1c2d3e4f5a6b",
            "user-42",
            "order#1001",
            "12345",
        ] {
            assert_eq!(
                classify(id),
                SearchTerm::Identifier {
                    text: id.to_owned(),
                    phone_hint: None
                }
            );
        }
        assert_eq!(classify("   "), SearchTerm::Empty);
    }

    #[test]
    fn a_national_number_is_searched_as_text_with_a_hint() {
        match classify("(415) 555-0100") {
            SearchTerm::Identifier { text, phone_hint } => {
                assert_eq!(text, "(415) 555-0100");
                assert!(phone_hint.is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_broken_international_number_says_why() {
        assert!(matches!(
            classify("+999 123 456"),
            SearchTerm::InvalidPhone(_)
        ));
        assert!(matches!(
            classify("+1 415"),
            SearchTerm::Identifier { .. } | SearchTerm::InvalidPhone(_)
        ));
    }
}
