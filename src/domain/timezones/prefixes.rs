//! libphonenumber's map from number prefixes to time zones
//! (`resources/timezones/map_data.txt` of google/libphonenumber, Apache
//! License 2.0; the file and its licence are in `src/domain/data/`), embedded
//! in the binary and parsed once.
//!
//! Each line is `PREFIX|Zone&Zone…`: the calling code and the leading digits
//! of the national number, then every zone numbers with that prefix can be
//! in. The longest prefix of a number that the map lists wins; several zones
//! mean the prefix alone cannot tell which.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono_tz::Tz;

static MAP_DATA: &str = include_str!("../data/libphonenumber-timezones.txt");

static PREFIX_ZONES: LazyLock<PrefixZones> = LazyLock::new(|| PrefixZones::parse(MAP_DATA));

/// The zones of the longest prefix of an E.164 number (with or without its
/// `+`) that the map lists; `None` when no prefix matches or the input is
/// not an E.164 number.
pub fn zones_of_number(e164: &str) -> Option<&'static [Tz]> {
    PREFIX_ZONES.longest_match(e164)
}

/// libphonenumber still writes some zones by names the tz database keeps
/// only as links; they are shown under the name `zone.tab` gives them, so
/// that a number and its country agree on the zone (a test checks that every
/// zone of the map is in `zone.tab` or here).
const LEGACY_NAMES: [(&str, &str); 11] = [
    ("Africa/Asmera", "Africa/Asmara"),
    ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ("America/Godthab", "America/Nuuk"),
    ("Asia/Calcutta", "Asia/Kolkata"),
    ("Asia/Choibalsan", "Asia/Ulaanbaatar"),
    ("Asia/Katmandu", "Asia/Kathmandu"),
    ("Asia/Rangoon", "Asia/Yangon"),
    ("Atlantic/Faeroe", "Atlantic/Faroe"),
    ("Pacific/Enderbury", "Pacific/Kanton"),
    ("Pacific/Ponape", "Pacific/Pohnpei"),
    ("Pacific/Truk", "Pacific/Chuuk"),
];

fn current_name(name: &str) -> &str {
    LEGACY_NAMES
        .iter()
        .find(|(legacy, _)| *legacy == name)
        .map_or(name, |(_, current)| current)
}

/// E.164 allows 15 digits; calling codes start at 1.
const MAX_DIGITS: usize = 15;

#[derive(Debug, Default)]
pub(super) struct PrefixZones<'a> {
    by_prefix: HashMap<&'a str, Vec<Tz>>,
    longest_prefix: usize,
}

impl<'a> PrefixZones<'a> {
    /// Reads the map, skipping comments, blank lines, malformed lines and
    /// zones this build's tz database does not know; a prefix left with no
    /// zone is dropped, so a shorter one answers for it. A repeated prefix
    /// keeps its first line.
    pub(super) fn parse(text: &'a str) -> Self {
        let mut map = Self::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((prefix, zones)) = line.split_once('|') else {
                continue;
            };
            let prefix = prefix.trim();
            let digits_only = prefix.bytes().all(|b| b.is_ascii_digit());
            if prefix.is_empty() || prefix.len() > MAX_DIGITS || !digits_only {
                continue;
            }
            let mut known: Vec<Tz> = Vec::new();
            for zone in zones
                .split('&')
                .filter_map(|z| current_name(z.trim()).parse().ok())
            {
                if !known.contains(&zone) {
                    known.push(zone);
                }
            }
            if known.is_empty() || map.by_prefix.contains_key(prefix) {
                continue;
            }
            map.longest_prefix = map.longest_prefix.max(prefix.len());
            map.by_prefix.insert(prefix, known);
        }
        map
    }

    pub(super) fn longest_match(&self, e164: &str) -> Option<&[Tz]> {
        let digits = e164.trim();
        let digits = digits.strip_prefix('+').unwrap_or(digits);
        let is_e164 = !digits.is_empty()
            && digits.len() <= MAX_DIGITS
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !is_e164 {
            return None;
        }
        (1..=digits.len().min(self.longest_prefix))
            .rev()
            .find_map(|len| self.by_prefix.get(&digits[..len]))
            .map(Vec::as_slice)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_prefix.len()
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::America::{Denver, Los_Angeles, New_York};
    use chrono_tz::Asia::Kolkata;
    use chrono_tz::Europe::London;

    use super::*;

    #[test]
    fn the_embedded_map_is_libphonenumbers_and_parses_whole() {
        assert!(MAP_DATA.contains("Copyright (C) 2012 The Libphonenumber Authors"));
        let lines = MAP_DATA
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert!(lines > 3_000, "{lines} lines");
        assert_eq!(PREFIX_ZONES.len(), lines, "every line kept");
        assert!(PREFIX_ZONES.longest_prefix >= 7);
    }

    #[test]
    fn every_zone_of_the_map_is_known_by_its_zone_tab_name() {
        let zone_tab = super::super::ZONE_TAB;
        let canonical: Vec<&str> = zone_tab
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('\t').nth(2))
            .collect();
        for line in MAP_DATA.lines().filter(|l| l.contains('|')) {
            for zone in line.split_once('|').map_or("", |(_, z)| z).split('&') {
                let name = current_name(zone);
                assert!(canonical.contains(&name), "{zone} in {line:?}");
                assert!(name.parse::<Tz>().is_ok(), "chrono-tz lacks {name}");
            }
        }
        for (legacy, current) in LEGACY_NAMES {
            assert!(canonical.contains(&current), "{current}");
            assert!(!canonical.contains(&legacy), "{legacy}");
        }
    }

    #[test]
    fn us_area_codes_have_their_own_zones() {
        assert_eq!(zones_of_number("+12125550100"), Some(&[New_York][..]));
        assert_eq!(zones_of_number("+14155550100"), Some(&[Los_Angeles][..]));
        assert_eq!(zones_of_number("13035550100"), Some(&[Denver][..]));
    }

    #[test]
    fn legacy_names_are_shown_by_their_current_name() {
        assert_eq!(zones_of_number("+919876543210"), Some(&[Kolkata][..]));
    }

    #[test]
    fn the_longest_listed_prefix_wins() {
        let map = PrefixZones::parse(
            "1|America/New_York&America/Chicago\n12|America/Chicago\n1234|America/Denver\n",
        );
        let chicago = chrono_tz::America::Chicago;
        assert_eq!(map.longest_match("+1234567"), Some(&[Denver][..]));
        assert_eq!(
            map.longest_match("+1235"),
            Some(&[chicago][..]),
            "123 is not listed"
        );
        assert_eq!(map.longest_match("+19"), Some(&[New_York, chicago][..]));
        assert_eq!(map.longest_match("+1"), Some(&[New_York, chicago][..]));
        assert_eq!(map.longest_match("+2"), None);
        // Real data: a London number, and Idaho's 208 2… split by exchange.
        assert_eq!(zones_of_number("+442079460958"), Some(&[London][..]));
        assert_eq!(zones_of_number("+12082015555"), Some(&[Denver][..]));
        assert_eq!(
            zones_of_number("+12082995555"),
            Some(&[chrono_tz::America::Boise, Los_Angeles][..])
        );
    }

    #[test]
    fn input_that_is_not_an_e164_number_matches_nothing() {
        for input in [
            "",
            "+",
            "++1212",
            "+1 212 555 0100",
            "+1-212-5550100",
            "0012125550100",
            "+0212",
            "+1212555010012345",
            "x1212",
            "+١٢١٢",
        ] {
            assert_eq!(zones_of_number(input), None, "{input:?}");
        }
        assert_eq!(zones_of_number(" +12125550100 "), Some(&[New_York][..]));
    }

    #[test]
    fn the_file_format_forgives_comments_blanks_and_junk() {
        let text = "# Copyright\n\n   \n#1|Europe/London\n 44 | Europe/London \n\
                    33|Europe/Paris&Mars/Olympus\n34|Mars/Olympus\nnot a line\n|Europe/Rome\n\
                    4x|Europe/Rome\n44|Europe/Berlin\n7|Europe/Moscow&&Europe/Moscow\r\n\
                    1234567890123456|Europe/Rome\n91|Asia/Calcutta&Asia/Kolkata\n";
        let map = PrefixZones::parse(text);
        assert_eq!(
            map.longest_match("+44"),
            Some(&[London][..]),
            "the first 44 line"
        );
        assert_eq!(
            map.longest_match("+33"),
            Some(&[chrono_tz::Europe::Paris][..]),
            "an unknown zone is skipped"
        );
        assert_eq!(map.longest_match("+34"), None, "no known zone left");
        assert_eq!(
            map.longest_match("+79"),
            Some(&[chrono_tz::Europe::Moscow][..]),
            "empty and repeated names"
        );
        assert_eq!(
            map.longest_match("+91"),
            Some(&[Kolkata][..]),
            "one zone, two names"
        );
        assert_eq!(map.len(), 4);
        assert_eq!(PrefixZones::parse("").longest_match("+1"), None);
    }
}
