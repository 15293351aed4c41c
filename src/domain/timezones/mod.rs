//! Which time zone a recipient's times are shown in (and, in `format`, how
//! instants and callback latencies are written on the timeline page).
//!
//! A recipient's zone is, in this order: the `recipient_timezone` the
//! product gave; the zone of the longest prefix of their number in
//! libphonenumber's prefix map (`prefixes`), so that +1 212 and +1 415 get
//! New York and Los Angeles; the only zone of their country in the tz
//! database's own `zone.tab` (embedded from `data/zone.tab`, public domain).
//! The page says "ambiguous" rather than guess when the best prefix, or the
//! country where no prefix matched, spans several zones.

mod format;
mod prefixes;

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono_tz::{TZ_VARIANTS, Tz};

pub use format::{format_duration_us, format_instant};
pub use prefixes::zones_of_number;

/// The zone to show a recipient's times in, and how sure we are of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientZone {
    /// The recipient's own time zone setting.
    Given(Tz),
    /// The only zone of the number's prefix (calling code and leading
    /// digits), or the only one it shares with the number's country.
    FromNumber(Tz),
    /// No prefix of the number is listed; the only zone of its country.
    FromCountry(Tz),
    /// The number's best prefix spans several zones; the page should let the
    /// agent pick.
    AmbiguousNumber {
        zones: Vec<Tz>,
    },
    /// No number to go by, and the country spans several zones.
    Ambiguous {
        country: String,
        zones: Vec<Tz>,
    },
    Unknown,
}

impl RecipientZone {
    /// The zone to show the recipient's times in, if any, and the sentence
    /// that tells the agent where it comes from or why none is shown. Never
    /// a digit of the number: the prefix stays unsaid.
    pub fn shown(self) -> (Option<Tz>, String) {
        let not_shown = "The recipient's local time is not shown:";
        match self {
            Self::Given(zone) => (
                Some(zone),
                format!(
                    "The recipient's zone, {}, was given when the message was registered.",
                    zone.name()
                ),
            ),
            Self::FromNumber(zone) => (
                Some(zone),
                format!(
                    "The recipient's zone, {}, follows from their number's leading digits.",
                    zone.name()
                ),
            ),
            Self::FromCountry(zone) => (
                Some(zone),
                format!(
                    "The recipient's zone, {}, is the only one of their country.",
                    zone.name()
                ),
            ),
            Self::AmbiguousNumber { zones } => (
                None,
                format!(
                    "{not_shown} numbers starting like theirs are in {} time zones and none \
                     was given for this message.",
                    zones.len()
                ),
            ),
            Self::Ambiguous { country, zones } => (
                None,
                format!(
                    "{not_shown} {country} has {} time zones and none was given for this \
                     message.",
                    zones.len()
                ),
            ),
            Self::Unknown => (None, format!("{not_shown} their country is unknown.")),
        }
    }
}

static ZONE_TAB: &str = include_str!("../data/zone.tab");

/// Country code (upper case) → its zones, in `zone.tab` order: roughly
/// geographic, with the most populous zones first where that allows, so the
/// first is a fair default for a picker.
static ZONES_BY_COUNTRY: LazyLock<HashMap<&'static str, Vec<Tz>>> =
    LazyLock::new(|| zones_by_country(ZONE_TAB));

fn zones_by_country(tab: &str) -> HashMap<&str, Vec<Tz>> {
    let mut map: HashMap<&str, Vec<Tz>> = HashMap::new();
    for line in tab.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut columns = line.split('\t');
        let (Some(country), Some(_coordinates), Some(zone)) =
            (columns.next(), columns.next(), columns.next())
        else {
            continue;
        };
        // A tzdata newer than chrono-tz's can name zones it does not know yet.
        if let Ok(zone) = zone.parse::<Tz>() {
            map.entry(country).or_default().push(zone);
        }
    }
    map
}

/// Picks the zone for a recipient: their own valid setting first, else the
/// zone of their number's longest listed prefix (`e164`, with or without its
/// `+`), else their country's only zone. An invalid setting is ignored
/// rather than trusted.
pub fn recipient_zone(
    recipient_timezone: Option<&str>,
    e164: Option<&str>,
    country: Option<&str>,
) -> RecipientZone {
    if let Some(zone) = recipient_timezone.and_then(parse_zone) {
        return RecipientZone::Given(zone);
    }
    let country = country
        .map(str::trim)
        .filter(|c| c.len() == 2)
        .map(str::to_ascii_uppercase);
    let country_zones = country
        .as_deref()
        .and_then(|c| ZONES_BY_COUNTRY.get(c))
        .map_or(&[][..], Vec::as_slice);
    match e164.and_then(zones_of_number) {
        Some([zone]) => return RecipientZone::FromNumber(*zone),
        Some(zones) if !zones.is_empty() => {
            // +44 7… is London, Guernsey or the Isle of Man; the number's
            // country (derived from the whole number) can settle it.
            let shared: Vec<Tz> = zones
                .iter()
                .copied()
                .filter(|z| country_zones.contains(z))
                .collect();
            return match shared[..] {
                [zone] => RecipientZone::FromNumber(zone),
                _ => RecipientZone::AmbiguousNumber {
                    zones: zones.to_vec(),
                },
            };
        }
        _ => {}
    }
    match (country, country_zones) {
        (Some(_), [zone]) => RecipientZone::FromCountry(*zone),
        (Some(country), zones) if !zones.is_empty() => RecipientZone::Ambiguous {
            country,
            zones: zones.to_vec(),
        },
        _ => RecipientZone::Unknown,
    }
}

/// An IANA zone name as typed by an agent: surrounding spaces and letter case
/// are forgiven, anything else is not.
pub fn parse_zone(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    name.parse::<Tz>().ok().or_else(|| {
        TZ_VARIANTS
            .iter()
            .copied()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
    })
}

#[cfg(test)]
mod tests {
    use chrono_tz::America::New_York;
    use chrono_tz::Asia::Kolkata;
    use chrono_tz::Europe::London;

    use super::*;

    #[test]
    fn a_valid_explicit_zone_beats_the_country() {
        assert_eq!(
            recipient_zone(Some("Asia/Kolkata"), None, Some("US")),
            RecipientZone::Given(Kolkata)
        );
        assert_eq!(
            recipient_zone(Some("  Europe/London "), None, None),
            RecipientZone::Given(London)
        );
    }

    #[test]
    fn a_garbage_explicit_zone_falls_back_to_the_country() {
        for garbage in [
            "",
            "  ",
            "Mars/Olympus_Mons",
            "EST5",
            "Asia/Kolkata/x",
            "+05:30",
        ] {
            assert_eq!(
                recipient_zone(Some(garbage), None, Some("IN")),
                RecipientZone::FromCountry(Kolkata),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn single_zone_countries_are_certain() {
        assert_eq!(
            recipient_zone(None, None, Some("IN")),
            RecipientZone::FromCountry(Kolkata)
        );
        assert_eq!(
            recipient_zone(None, None, Some("gb")),
            RecipientZone::FromCountry(London)
        );
        assert_eq!(
            recipient_zone(None, None, Some(" Gb ")),
            RecipientZone::FromCountry(London)
        );
    }

    #[test]
    fn multi_zone_countries_are_ambiguous_and_list_their_zones() {
        let RecipientZone::Ambiguous { country, zones } = recipient_zone(None, None, Some("us"))
        else {
            panic!("US has several zones");
        };
        assert_eq!(country, "US");
        assert_eq!(zones.first(), Some(&New_York), "zone.tab lists it first");
        assert!(zones.contains(&chrono_tz::America::Los_Angeles));
        assert!(zones.contains(&chrono_tz::Pacific::Honolulu));
        assert!(!zones.contains(&Kolkata));
        assert!(zones.len() > 20);
    }

    #[test]
    fn us_numbers_get_the_zone_of_their_area_code() {
        for (number, zone) in [
            ("+12125550100", New_York),
            ("+14155550100", chrono_tz::America::Los_Angeles),
            ("+13125550100", chrono_tz::America::Chicago),
            ("+18085550100", chrono_tz::Pacific::Honolulu),
        ] {
            assert_eq!(
                recipient_zone(None, Some(number), Some("US")),
                RecipientZone::FromNumber(zone),
                "{number}"
            );
        }
        // The number settles it even without a country.
        assert_eq!(
            recipient_zone(None, Some("14155550100"), None),
            RecipientZone::FromNumber(chrono_tz::America::Los_Angeles)
        );
    }

    #[test]
    fn a_given_zone_beats_the_number() {
        assert_eq!(
            recipient_zone(Some("Asia/Kolkata"), Some("+12125550100"), Some("US")),
            RecipientZone::Given(Kolkata)
        );
    }

    #[test]
    fn single_zone_countries_agree_with_their_numbers() {
        assert_eq!(
            recipient_zone(None, Some("+919876543210"), Some("IN")),
            RecipientZone::FromNumber(Kolkata),
            "libphonenumber's Asia/Calcutta is shown as Asia/Kolkata"
        );
        assert_eq!(
            recipient_zone(None, Some("+33612345678"), Some("FR")),
            RecipientZone::FromNumber(chrono_tz::Europe::Paris)
        );
    }

    #[test]
    fn an_ambiguous_prefix_is_settled_by_the_country_or_said_to_be_ambiguous() {
        // +44 7… is listed as London, Guernsey or the Isle of Man.
        assert_eq!(
            recipient_zone(None, Some("+447700900123"), Some("GB")),
            RecipientZone::FromNumber(London)
        );
        let RecipientZone::AmbiguousNumber { zones } =
            recipient_zone(None, Some("+447700900123"), None)
        else {
            panic!("no country to settle it");
        };
        assert!(zones.contains(&London) && zones.len() == 3, "{zones:?}");
        // Idaho's 208 29… spans Boise and Los Angeles, both zones of the US.
        let RecipientZone::AmbiguousNumber { zones } =
            recipient_zone(None, Some("+12082995555"), Some("US"))
        else {
            panic!("two US zones share the prefix");
        };
        assert_eq!(
            zones,
            vec![chrono_tz::America::Boise, chrono_tz::America::Los_Angeles]
        );
    }

    #[test]
    fn a_number_no_prefix_matches_falls_back_to_the_country() {
        // Not E.164 (a national number, a calling code of 0), or no such code.
        for number in ["02079460958", "+0123", "+99912345678", "", "not a number"] {
            assert_eq!(
                recipient_zone(None, Some(number), Some("GB")),
                RecipientZone::FromCountry(London),
                "{number:?}"
            );
            let RecipientZone::Ambiguous { country, .. } =
                recipient_zone(None, Some(number), Some("US"))
            else {
                panic!("{number:?}: the US spans several zones");
            };
            assert_eq!(country, "US");
            assert_eq!(
                recipient_zone(None, Some(number), None),
                RecipientZone::Unknown
            );
        }
    }

    #[test]
    fn the_page_is_told_where_the_zone_comes_from_or_why_there_is_none() {
        let (zone, note) = RecipientZone::FromNumber(New_York).shown();
        assert_eq!(zone, Some(New_York));
        assert_eq!(
            note,
            "The recipient's zone, America/New_York, follows from their number's leading digits."
        );
        let (zone, note) = RecipientZone::FromCountry(Kolkata).shown();
        assert_eq!(zone, Some(Kolkata));
        assert!(note.contains("only one of their country"), "{note}");
        assert!(RecipientZone::Given(London).shown().1.contains("was given"));
        let (zone, note) = RecipientZone::AmbiguousNumber {
            zones: vec![chrono_tz::America::Boise, chrono_tz::America::Los_Angeles],
        }
        .shown();
        assert_eq!(zone, None);
        assert_eq!(
            note,
            "The recipient's local time is not shown: numbers starting like theirs are in 2 \
             time zones and none was given for this message."
        );
        let (zone, note) = recipient_zone(None, None, Some("US")).shown();
        assert_eq!(zone, None);
        assert!(note.starts_with("The recipient's local time is not shown: US has "));
        let (zone, note) = RecipientZone::Unknown.shown();
        assert_eq!(zone, None);
        assert!(note.ends_with("their country is unknown."), "{note}");
    }

    #[test]
    fn unknown_or_missing_countries_give_unknown() {
        for country in [
            None,
            Some(""),
            Some("ZZ"),
            Some("USA"),
            Some("U"),
            Some("1N"),
        ] {
            assert_eq!(
                recipient_zone(None, None, country),
                RecipientZone::Unknown,
                "{country:?}"
            );
        }
        assert_eq!(
            recipient_zone(Some("nope"), None, None),
            RecipientZone::Unknown
        );
        // Multi-byte input of two bytes or more must not trip the case folding.
        assert_eq!(
            recipient_zone(None, None, Some("é")),
            RecipientZone::Unknown
        );
        assert_eq!(
            recipient_zone(None, None, Some("ÉÉ")),
            RecipientZone::Unknown
        );
    }

    #[test]
    fn the_embedded_zone_tab_is_the_tz_database_one() {
        assert!(ZONE_TAB.contains("This file is in the public domain"));
        let map = &*ZONES_BY_COUNTRY;
        // zone.tab covers every ISO country with inhabitants: about 250.
        assert!(map.len() > 240, "{} countries", map.len());
        let rows = ZONE_TAB
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        let kept: usize = map.values().map(Vec::len).sum();
        assert!(kept * 100 >= rows * 98, "kept {kept} of {rows} zones");
        assert!(
            map.keys()
                .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn zone_tab_parsing_skips_comments_bad_rows_and_unknown_zones() {
        let tab = "# comment\n\nIN\t+2232+08822\tAsia/Kolkata\nXX\t+0\tNowhere/Land\n\
                   bad row\nUS\t+1\tAmerica/New_York\tEastern\nUS\t+2\tAmerica/Chicago\n";
        let map = zones_by_country(tab);
        assert_eq!(map.get("IN"), Some(&vec![Kolkata]));
        assert_eq!(
            map.get("US"),
            Some(&vec![New_York, chrono_tz::America::Chicago])
        );
        assert_eq!(map.get("XX"), None);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn zone_names_forgive_spaces_and_case_only() {
        assert_eq!(parse_zone("Asia/Kolkata"), Some(Kolkata));
        assert_eq!(parse_zone(" asia/kolkata\n"), Some(Kolkata));
        assert_eq!(parse_zone("AMERICA/NEW_YORK"), Some(New_York));
        assert_eq!(parse_zone("UTC"), Some(Tz::UTC));
        for bad in [
            "",
            " ",
            "Asia Kolkata",
            "Asia/Kolkata2",
            "IST",
            "+05:30",
            "Asia/",
        ] {
            assert_eq!(parse_zone(bad), None, "{bad:?}");
        }
    }
}
