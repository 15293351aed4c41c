//! How instants and callback latencies are written on the timeline page.

use chrono::{DateTime, Offset};
use chrono_tz::Tz;

/// `2026-03-08 01:59:59.123 EST (UTC−05:00)`: the zone's abbreviation alone
/// is ambiguous (IST, CST), so the offset is always shown beside it.
pub fn format_instant(us: i64, zone: Tz) -> String {
    let Some(utc) = DateTime::from_timestamp_micros(us) else {
        return "invalid time".to_owned();
    };
    let local = utc.with_timezone(&zone);
    let offset_seconds = local.offset().fix().local_minus_utc();
    format!(
        "{} (UTC{})",
        local.format("%Y-%m-%d %H:%M:%S%.3f %Z"),
        format_offset(offset_seconds)
    )
}

fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '\u{2212}' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A callback latency the way a person says it: two units at most, rounded
/// down so a value never shows as the next unit's threshold ("60.0 s").
pub fn format_duration_us(us: i64) -> String {
    let magnitude = format_magnitude(us.unsigned_abs());
    if us < 0 {
        // Negative latency means the provider's clock runs ahead of ours.
        format!("\u{2212}{magnitude} (provider clock ahead)")
    } else {
        magnitude
    }
}

fn format_magnitude(us: u64) -> String {
    const MS: u64 = 1_000;
    const S: u64 = 1_000 * MS;
    const MIN: u64 = 60 * S;
    const H: u64 = 60 * MIN;
    const D: u64 = 24 * H;
    let pair = |big: u64, big_unit: &str, small: u64, small_unit: &str| {
        if small == 0 {
            format!("{big} {big_unit}")
        } else {
            format!("{big} {big_unit} {small} {small_unit}")
        }
    };
    match us {
        0..MS => format!("{us} µs"),
        MS..S => format!("{} ms", us / MS),
        S..MIN => format!("{}.{} s", us / S, us % S / (S / 10)),
        MIN..H => pair(us / MIN, "min", us % MIN / S, "s"),
        H..D => pair(us / H, "h", us % H / MIN, "min"),
        _ => pair(us / D, "d", us % D / H, "h"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use chrono_tz::America::New_York;
    use chrono_tz::Asia::Kolkata;
    use chrono_tz::Europe::London;

    use super::*;

    fn us(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: i64) -> i64 {
        match Utc.with_ymd_and_hms(y, mo, d, h, mi, s) {
            chrono::LocalResult::Single(at) => at.timestamp_micros() + ms * 1_000,
            _ => panic!("bad test instant"),
        }
    }

    #[test]
    fn instants_show_in_kolkata_with_a_half_hour_offset() {
        assert_eq!(
            format_instant(us(2026, 1, 15, 12, 0, 0, 250), Kolkata),
            "2026-01-15 17:30:00.250 IST (UTC+05:30)"
        );
    }

    #[test]
    fn instants_follow_new_york_across_the_march_2026_change() {
        assert_eq!(
            format_instant(us(2026, 3, 8, 6, 59, 59, 123), New_York),
            "2026-03-08 01:59:59.123 EST (UTC\u{2212}05:00)"
        );
        assert_eq!(
            format_instant(us(2026, 3, 8, 7, 0, 0, 0), New_York),
            "2026-03-08 03:00:00.000 EDT (UTC\u{2212}04:00)"
        );
    }

    #[test]
    fn instants_follow_new_york_across_the_november_2026_change() {
        // 1 November 2026, 02:00 EDT falls back to 01:00 EST: 01:xx happens twice.
        assert_eq!(
            format_instant(us(2026, 11, 1, 5, 59, 59, 999), New_York),
            "2026-11-01 01:59:59.999 EDT (UTC\u{2212}04:00)"
        );
        assert_eq!(
            format_instant(us(2026, 11, 1, 6, 0, 0, 0), New_York),
            "2026-11-01 01:00:00.000 EST (UTC\u{2212}05:00)"
        );
    }

    #[test]
    fn instants_show_utc_and_london_summer_time() {
        assert_eq!(
            format_instant(0, Tz::UTC),
            "1970-01-01 00:00:00.000 UTC (UTC+00:00)"
        );
        assert_eq!(
            format_instant(us(2026, 7, 1, 12, 0, 0, 0), London),
            "2026-07-01 13:00:00.000 BST (UTC+01:00)"
        );
    }

    #[test]
    fn milliseconds_are_truncated_not_rounded() {
        assert_eq!(
            format_instant(999_999, Tz::UTC),
            "1970-01-01 00:00:00.999 UTC (UTC+00:00)"
        );
        assert_eq!(
            format_instant(-1, Tz::UTC),
            "1969-12-31 23:59:59.999 UTC (UTC+00:00)"
        );
    }

    #[test]
    fn out_of_range_instants_do_not_panic() {
        assert_eq!(format_instant(i64::MAX, New_York), "invalid time");
        assert_eq!(format_instant(i64::MIN, Kolkata), "invalid time");
        // The edges chrono can hold, pushed past them by the zone's offset.
        let max = DateTime::<Utc>::MAX_UTC.timestamp_micros();
        let min = DateTime::<Utc>::MIN_UTC.timestamp_micros();
        for zone in [chrono_tz::Pacific::Kiritimati, chrono_tz::Etc::GMTPlus12] {
            assert!(!format_instant(max, zone).is_empty());
            assert!(!format_instant(min, zone).is_empty());
        }
    }

    #[test]
    fn offsets_are_signed_with_a_real_minus() {
        assert_eq!(format_offset(0), "+00:00");
        assert_eq!(format_offset(19_800), "+05:30");
        assert_eq!(format_offset(-18_000), "\u{2212}05:00");
        assert_eq!(format_offset(-9_000), "\u{2212}02:30");
        assert_eq!(format_offset(45_900), "+12:45");
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        const S: i64 = 1_000_000;
        for (us, text) in [
            (0, "0 µs"),
            (999, "999 µs"),
            (1_000, "1 ms"),
            (850_000, "850 ms"),
            (999_999, "999 ms"),
            (S, "1.0 s"),
            (4_250_000, "4.2 s"),
            (59_999_999, "59.9 s"),
            (60 * S, "1 min"),
            (192 * S, "3 min 12 s"),
            (3_599 * S, "59 min 59 s"),
            (3_600 * S, "1 h"),
            (7_500 * S, "2 h 5 min"),
            (86_399 * S, "23 h 59 min"),
            (86_400 * S, "1 d"),
            (97_200 * S, "1 d 3 h"),
            (400 * 86_400 * S, "400 d"),
        ] {
            assert_eq!(format_duration_us(us), text, "{us}");
        }
    }

    #[test]
    fn negative_durations_say_the_provider_clock_is_ahead() {
        assert_eq!(
            format_duration_us(-1_200_000),
            "\u{2212}1.2 s (provider clock ahead)"
        );
        assert_eq!(
            format_duration_us(-5),
            "\u{2212}5 µs (provider clock ahead)"
        );
        assert!(format_duration_us(i64::MIN).ends_with("(provider clock ahead)"));
        assert!(format_duration_us(i64::MAX).ends_with(" h"));
    }
}
