//! What the demo sends: for message number `n` of a run, a deterministic
//! story (country, provider, sender, template, use case, what the carrier
//! said and when, duplicates, late arrivals, the OTP outcome, a retry or a
//! fallback, a reply or a STOP). Plain data, no I/O: the driver plays it
//! through the pipeline; the provider adapters turn its abstract outcomes
//! into each provider's own words.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Providers the demo spreads messages over, each with its share (percent).
pub const PROVIDERS: [(&str, u32); 5] = [
    ("twilio", 35),
    ("vonage", 20),
    ("telnyx", 15),
    ("plivo", 15),
    ("standard", 15),
];

/// A destination: calling code, how numbers are built, how often its
/// carriers send no final receipt (percent), and its sender types.
#[derive(Debug, Clone, Copy)]
pub struct Country {
    pub code: &'static str,
    /// E.164 prefixes of valid mobile ranges; four digits are appended.
    pub prefixes: &'static [&'static str],
    pub silent_percent: u32,
    pub sender_types: &'static [&'static str],
    /// Callback delay: the typical seconds from sent to the final receipt.
    pub receipt_seconds: u32,
}

const LOCAL: &[&str] = &["long_code", "alphanumeric"];

/// Eight time zones and more: the US spans four, Brazil and Australia two.
pub const COUNTRIES: [Country; 10] = [
    Country {
        code: "US",
        prefixes: &["+1212555", "+1415555", "+1312555", "+1303555", "+1206555"],
        silent_percent: 2,
        sender_types: &["10dlc", "toll_free", "short_code"],
        receipt_seconds: 4,
    },
    Country {
        code: "GB",
        prefixes: &["+44740012", "+44770012"],
        silent_percent: 2,
        sender_types: LOCAL,
        receipt_seconds: 5,
    },
    Country {
        code: "DE",
        prefixes: &["+491512345", "+491701234"],
        silent_percent: 3,
        sender_types: LOCAL,
        receipt_seconds: 6,
    },
    Country {
        code: "FR",
        prefixes: &["+3361234"],
        silent_percent: 3,
        sender_types: LOCAL,
        receipt_seconds: 6,
    },
    Country {
        code: "IN",
        prefixes: &["+91987654", "+91981234"],
        silent_percent: 18,
        sender_types: &["alphanumeric"],
        receipt_seconds: 20,
    },
    Country {
        code: "BR",
        prefixes: &["+551198765", "+559298765"],
        silent_percent: 9,
        sender_types: &["short_code", "long_code"],
        receipt_seconds: 12,
    },
    Country {
        code: "JP",
        prefixes: &["+81901234"],
        silent_percent: 4,
        sender_types: &["long_code"],
        receipt_seconds: 5,
    },
    Country {
        code: "AU",
        prefixes: &["+6141234", "+6142345"],
        silent_percent: 3,
        sender_types: LOCAL,
        receipt_seconds: 5,
    },
    Country {
        code: "NG",
        prefixes: &["+234803123"],
        silent_percent: 25,
        sender_types: &["alphanumeric"],
        receipt_seconds: 40,
    },
    Country {
        code: "MX",
        prefixes: &["+52551234"],
        silent_percent: 7,
        sender_types: &["long_code"],
        receipt_seconds: 10,
    },
];

/// (template, use case, share in percent)
pub const TEMPLATES: [(&str, &str, u32); 7] = [
    ("otp_login", "otp", 30),
    ("otp_signup", "otp", 12),
    ("login_alert", "account_alert", 10),
    ("password_changed", "account_alert", 5),
    ("order_shipped", "transactional", 18),
    ("payment_receipt", "transactional", 10),
    ("weekly_offers", "marketing", 15),
];

/// How a message's delivery ends, before any provider's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Delivered,
    /// The carrier could not deliver (handset off, unknown subscriber...).
    Undelivered,
    /// The provider could not send it.
    Failed,
    Expired,
    Rejected,
    /// No final receipt ever: the reconcile job's work.
    Silent,
}

/// One callback, in the order it reaches us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Queued,
    Sent,
    Final(Ending),
    /// A status word the provider's vocabulary does not know (review queue).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub step: Step,
    /// Microseconds after the message was sent, by the provider's clock.
    pub at_us: i64,
    /// Microseconds after `at_us` that it reaches us.
    pub delay_us: i64,
}

/// How the user's OTP check went, for `otp` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpOutcome {
    Completed,
    /// Wrong codes until the product gave up.
    Failed,
    Expired,
    Abandoned,
}

/// What the product did after a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    None,
    /// Sent again through the same provider.
    Resend,
    /// Sent again through the next provider.
    ProviderFailover,
    /// Told the user another way (e-mail, voice): no new message.
    ChannelFallback,
}

/// What the recipient sent back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    None,
    Stop,
    Start,
    Text(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePlan {
    pub index: u64,
    pub provider: &'static str,
    pub country: &'static str,
    pub to: String,
    pub sender_type: &'static str,
    pub sender_identity: String,
    pub template: &'static str,
    pub use_case: &'static str,
    pub user_ref: String,
    /// Microseconds before the end of the run's 30-day span.
    pub age_us: i64,
    pub ending: Ending,
    /// The provider's error code's place in its list, for endings that carry one.
    pub error_pick: u32,
    /// In arrival order (duplicates repeated, late ones moved).
    pub callbacks: Vec<Callback>,
    pub otp: Option<OtpOutcome>,
    pub follow_up: FollowUp,
    pub reply: Reply,
}

pub const SPAN_US: i64 = 30 * 24 * 3_600 * 1_000_000;
const SECOND_US: i64 = 1_000_000;

/// When message `index` of `total` was registered, as an age: the month is
/// played in time order, as live traffic arrives, each message at a random
/// instant of its own slice. (Uniformly random ages made every writer batch
/// touch hundreds of rollup buckets and index pages at once, which live
/// traffic never does.)
fn age_us(rng: &mut SmallRng, index: u64, total: u64) -> i64 {
    let total = i128::from(total.max(index + 1));
    let slice_start = i128::from(index) * i128::from(SPAN_US) / total;
    let slice_end = (i128::from(index) + 1) * i128::from(SPAN_US) / total;
    // Both lie in 0..=SPAN_US, which fits an i64.
    let (start, end) = (
        slice_start as i64,
        (slice_end as i64).max(slice_start as i64 + 1),
    );
    SPAN_US - 1 - rng.random_range(start..end).min(SPAN_US - 1)
}

/// The plan of message `index` of the run of `total` seeded `seed`: the same
/// every time.
pub fn message(seed: u64, index: u64, total: u64) -> MessagePlan {
    let mut rng = SmallRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let provider = weighted(&mut rng, &PROVIDERS.map(|(p, w)| (p, w)));
    let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
    let prefix = country.prefixes[rng.random_range(0..country.prefixes.len())];
    let to = format!("{prefix}{:04}", rng.random_range(0..10_000));
    let sender_type = country.sender_types[rng.random_range(0..country.sender_types.len())];
    let sender_identity = match sender_type {
        "alphanumeric" => "ACME".to_owned(),
        "short_code" => "72345".to_owned(),
        "toll_free" => "+18885550123".to_owned(),
        _ => format!("+1415555{:04}", 100 + rng.random_range(0..8)),
    };
    let (template, use_case) = {
        let picked = weighted(&mut rng, &TEMPLATES.map(|(t, u, w)| ((t, u), w)));
        (picked.0, picked.1)
    };
    let ending = ending(&mut rng, &country, provider);
    let callbacks = callbacks(&mut rng, ending, &country);
    let otp = (use_case == "otp").then(|| otp_outcome(&mut rng, ending));
    let follow_up = match ending {
        Ending::Delivered | Ending::Silent => FollowUp::None,
        _ => match rng.random_range(0..10) {
            0..=2 => FollowUp::Resend,
            3..=4 => FollowUp::ProviderFailover,
            5 => FollowUp::ChannelFallback,
            _ => FollowUp::None,
        },
    };
    let reply = match rng.random_range(0..1000) {
        0..=11 => Reply::Stop,
        12..=14 => Reply::Start,
        15..=29 => Reply::Text("Thanks!"),
        30..=34 => Reply::Text("HELP"),
        _ => Reply::None,
    };
    MessagePlan {
        index,
        provider,
        country: country.code,
        to,
        sender_type,
        sender_identity,
        template,
        use_case,
        // A few hundred messages per thousand users: users repeat.
        user_ref: format!("user-{}", rng.random_range(0..(index / 3 + 50))),
        age_us: age_us(&mut rng, index, total),
        ending,
        error_pick: rng.random(),
        callbacks,
        otp,
        follow_up,
        reply,
    }
}

fn weighted<T: Copy>(rng: &mut SmallRng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (choice, weight) in choices {
        if pick < *weight {
            return *choice;
        }
        pick -= weight;
    }
    choices[choices.len() - 1].0
}

fn ending(rng: &mut SmallRng, country: &Country, provider: &str) -> Ending {
    if rng.random_range(0..100) < country.silent_percent {
        return Ending::Silent;
    }
    // Providers differ a little, so the scorecard has something to show.
    let failures = match provider {
        "vonage" => 12,
        "plivo" => 10,
        _ => 8,
    };
    let roll = rng.random_range(0..100);
    if roll >= failures {
        return Ending::Delivered;
    }
    match roll % 8 {
        0..=3 => Ending::Undelivered,
        4 | 5 => Ending::Failed,
        6 => Ending::Expired,
        _ => Ending::Rejected,
    }
}

/// queued → sent → final, with the provider's and our clocks; 10 % of
/// callbacks repeat, 5 % of messages get one late, 1 % an unknown word.
fn callbacks(rng: &mut SmallRng, ending: Ending, country: &Country) -> Vec<Callback> {
    let mut at = 0;
    let mut steps = vec![Step::Queued];
    if ending != Ending::Failed && ending != Ending::Rejected {
        steps.push(Step::Sent);
    }
    if rng.random_range(0..100) == 0 {
        steps.push(Step::Unknown);
    }
    if ending != Ending::Silent {
        steps.push(Step::Final(ending));
    }
    let mut out: Vec<Callback> = steps
        .into_iter()
        .map(|step| {
            at += match step {
                Step::Queued => rng.random_range(50_000..400_000),
                Step::Sent | Step::Unknown => rng.random_range(200_000..2 * SECOND_US),
                // A long tail: most receipts in seconds, a few in minutes.
                Step::Final(_) => {
                    let typical = i64::from(country.receipt_seconds) * SECOND_US;
                    let tail = if rng.random_range(0..50) == 0 { 30 } else { 1 };
                    rng.random_range(typical / 3..typical * 2) * tail
                }
            };
            Callback {
                step,
                at_us: at,
                delay_us: rng.random_range(80_000..1_500_000),
            }
        })
        .collect();
    if out.len() > 1 && rng.random_range(0..20) == 0 {
        // The last callback overtakes the one before it.
        let last = out.len() - 1;
        out.swap(last - 1, last);
        out[last].delay_us = out[last - 1].delay_us + out[last - 1].at_us - out[last].at_us
            + rng.random_range(100_000..3 * SECOND_US);
    }
    if rng.random_range(0..10) == 0 {
        let repeat = out[rng.random_range(0..out.len())].clone();
        out.push(Callback {
            delay_us: repeat.delay_us + rng.random_range(1..60) * SECOND_US,
            ..repeat
        });
    }
    out
}

fn otp_outcome(rng: &mut SmallRng, ending: Ending) -> OtpOutcome {
    let roll = rng.random_range(0..100);
    match ending {
        Ending::Delivered => match roll {
            0..=84 => OtpOutcome::Completed,
            85..=89 => OtpOutcome::Failed,
            90..=94 => OtpOutcome::Expired,
            _ => OtpOutcome::Abandoned,
        },
        // No code arrived: the user waited, then left.
        Ending::Silent => match roll {
            0..=39 => OtpOutcome::Completed,
            40..=69 => OtpOutcome::Expired,
            _ => OtpOutcome::Abandoned,
        },
        _ => {
            if roll < 60 {
                OtpOutcome::Expired
            } else {
                OtpOutcome::Abandoned
            }
        }
    }
}

/// Numbers that text us without ever being sent to (one per 500 messages).
pub fn inbound_only(seed: u64, index: u64) -> Option<(String, &'static str, Reply)> {
    if index % 500 != 499 {
        return None;
    }
    let mut rng = SmallRng::seed_from_u64(seed ^ index.rotate_left(17));
    let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
    let prefix = country.prefixes[rng.random_range(0..country.prefixes.len())];
    let reply = if rng.random_bool(0.5) {
        Reply::Stop
    } else {
        Reply::Text("Who is this?")
    };
    // 9xxx: outside the 0000–8999 the outbound plans mostly use... any is fine.
    Some((
        format!("{prefix}{:04}", rng.random_range(0..10_000)),
        PROVIDERS[rng.random_range(0..PROVIDERS.len())].0,
        reply,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PhoneNumber;

    #[test]
    fn a_plan_is_the_same_every_time() {
        assert_eq!(message(7, 42, 100), message(7, 42, 100));
        assert_ne!(message(7, 42, 100), message(8, 42, 100));
    }

    #[test]
    fn every_prefix_gives_valid_numbers_of_its_country() {
        for country in COUNTRIES {
            for prefix in country.prefixes {
                for suffix in ["0000", "5555", "9999"] {
                    let text = format!("{prefix}{suffix}");
                    let number = PhoneNumber::parse_international(&text)
                        .unwrap_or_else(|e| panic!("{text}: {e}"));
                    assert!(number.is_valid(), "{text} is not a valid number");
                    assert_eq!(number.country(), Some(country.code), "{text}");
                }
            }
        }
    }

    #[test]
    fn ten_thousand_plans_cover_every_kind_of_story() {
        let plans: Vec<MessagePlan> = (0..10_000).map(|i| message(1, i, 10_000)).collect();
        for ending in [
            Ending::Delivered,
            Ending::Undelivered,
            Ending::Failed,
            Ending::Expired,
            Ending::Rejected,
            Ending::Silent,
        ] {
            assert!(plans.iter().any(|p| p.ending == ending), "{ending:?}");
        }
        for (provider, _) in PROVIDERS {
            assert!(plans.iter().any(|p| p.provider == provider), "{provider}");
        }
        for country in COUNTRIES {
            assert!(plans.iter().any(|p| p.country == country.code));
        }
        for outcome in [
            OtpOutcome::Completed,
            OtpOutcome::Failed,
            OtpOutcome::Expired,
            OtpOutcome::Abandoned,
        ] {
            assert!(plans.iter().any(|p| p.otp == Some(outcome)), "{outcome:?}");
        }
        for follow_up in [
            FollowUp::Resend,
            FollowUp::ProviderFailover,
            FollowUp::ChannelFallback,
        ] {
            assert!(plans.iter().any(|p| p.follow_up == follow_up));
        }
        assert!(plans.iter().any(|p| p.reply == Reply::Stop));
        assert!(
            plans
                .iter()
                .any(|p| p.callbacks.iter().any(|c| c.step == Step::Unknown))
        );
        let repeated = |p: &MessagePlan| {
            p.callbacks
                .iter()
                .enumerate()
                .any(|(i, c)| p.callbacks[..i].iter().any(|e| e.step == c.step))
        };
        assert!(plans.iter().any(repeated), "duplicates");
        let late = |p: &MessagePlan| p.callbacks.windows(2).any(|w| w[1].at_us < w[0].at_us);
        assert!(plans.iter().any(late), "out of order");
        assert!(plans.iter().all(|p| p.age_us >= 0 && p.age_us < SPAN_US));
    }

    #[test]
    fn the_month_is_played_in_time_order() {
        for total in [1, 7, 2_000, 3_000_000] {
            let ages: Vec<i64> = (0..total.min(2_000))
                .map(|i| message(9, i, total).age_us)
                .collect();
            assert!(ages.iter().all(|a| (0..SPAN_US).contains(a)), "{total}");
            assert!(
                ages.windows(2).all(|w| w[0] > w[1]),
                "oldest first: {total}"
            );
        }
        // The whole run covers the month, from its start to its end.
        let first = message(9, 0, 1_000).age_us;
        let last = message(9, 999, 1_000).age_us;
        assert!(first > SPAN_US - SPAN_US / 1_000 - 1, "{first}");
        assert!(last < SPAN_US / 1_000, "{last}");
        // A message given more than the run's total still gets a time.
        assert!((0..SPAN_US).contains(&message(9, 5, 3).age_us));
    }

    #[test]
    fn a_silent_message_has_no_final_callback() {
        for plan in (0..2_000).map(|i| message(3, i, 2_000)) {
            let finals = plan
                .callbacks
                .iter()
                .filter(|c| matches!(c.step, Step::Final(_)))
                .count();
            assert_eq!(finals == 0, plan.ending == Ending::Silent, "{plan:?}");
        }
    }

    #[test]
    fn arrival_times_only_grow_except_for_late_ones() {
        for plan in (0..2_000).map(|i| message(5, i, 2_000)) {
            for c in &plan.callbacks {
                assert!(c.at_us > 0 && c.delay_us > 0, "{plan:?}");
            }
        }
    }
}
