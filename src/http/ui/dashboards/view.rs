//! The page's figures, charts and tables, computed from the period's
//! rollup rows. Each chart has a table with the same figures beside it.

use super::charts::{self, Chart, Legend, Piece, Row};
use super::links::Links;
use crate::domain::DeliveryStatus;
use crate::domain::dashboard::figures::{
    breakdown, histogram_breakdown, percent, rarely_sends_receipts,
};
use crate::domain::dashboard::{Counts, Histogram, OtpCategory, OtpCounts, Percentile};
use crate::domain::outbound::RetryKind;
use crate::store::{CountRow, DashboardData, LatencyKind};

/// Rows a chart draws; its table lists up to [`TABLE_ROWS`].
const CHART_ROWS: usize = 10;
const TABLE_ROWS: usize = 50;

/// A figure, and the search listing what it counts (when one can).
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
}

fn cell(n: i64, href: Option<String>) -> Cell {
    Cell {
        text: thousands(n),
        href: href.filter(|_| n > 0),
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("−{out}") } else { out }
}

fn none_label(value: &str) -> String {
    if value.is_empty() {
        "(none)".to_owned()
    } else {
        value.to_owned()
    }
}

pub struct Totals {
    pub messages: Cell,
    pub delivered: Cell,
    pub delivered_rate: String,
    pub receipt_coverage: String,
    pub not_final: Cell,
    pub callbacks: String,
    pub duplicates: String,
    pub duplicate_rate: String,
}

pub struct OutcomeLine {
    pub label: String,
    pub messages: Cell,
    pub delivered_rate: String,
    pub statuses: Vec<Cell>,
}

pub struct OutcomeSection {
    pub id: &'static str,
    pub title: String,
    pub dimension: &'static str,
    pub chart: Chart,
    pub lines: Vec<OutcomeLine>,
    /// Values beyond the table's rows.
    pub more: usize,
}

pub struct OtpLine {
    pub label: String,
    pub requested: String,
    pub completion: String,
    pub categories: Vec<String>,
}

pub struct OtpSection {
    pub requested: String,
    pub completion: String,
    pub chart: Chart,
    pub lines: Vec<(String, String, String)>,
    /// By country, then by provider.
    pub tables: Vec<(&'static str, Vec<OtpLine>)>,
    pub otp_messages: Option<String>,
}

pub struct LatencyLine {
    pub label: String,
    pub callbacks: String,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub finals: String,
    pub f50: String,
    pub f95: String,
    pub f99: String,
}

pub struct LatencySection {
    pub callback_chart: Chart,
    pub final_chart: Chart,
    /// By provider, then by country.
    pub tables: Vec<(&'static str, Vec<LatencyLine>)>,
}

pub struct LimboLine {
    pub country: String,
    pub messages: Cell,
    pub not_final: Cell,
    pub settled: String,
    pub never_final: Cell,
    pub share: String,
    pub rarely: bool,
}

pub struct LimboSection {
    pub not_final: Cell,
    pub by_status: Vec<(String, Cell)>,
    pub timed_out_now: Cell,
    pub timeouts: String,
    pub late_receipts: String,
    pub chart: Chart,
    pub countries: Vec<LimboLine>,
}

pub struct RetryLine {
    pub provider: String,
    pub messages: String,
    pub kinds: Vec<Cell>,
    pub rate: String,
}

pub struct RetrySection {
    pub total: String,
    pub rate: String,
    pub chart: Chart,
    pub kinds: Vec<(String, Cell, String)>,
    pub by_provider: Vec<RetryLine>,
}

pub struct ScoreLine {
    pub provider: String,
    pub country: String,
    pub messages: Cell,
    pub coverage: String,
    pub callbacks: String,
    pub p50: String,
    pub p95: String,
    pub duplicates: String,
    pub duplicate_rate: String,
}

pub struct Views {
    pub empty: bool,
    pub totals: Totals,
    pub outcomes: Vec<OutcomeSection>,
    pub otp: OtpSection,
    pub latency: LatencySection,
    pub limbo: LimboSection,
    pub retries: RetrySection,
    pub scorecard: Vec<ScoreLine>,
    pub status_names: Vec<&'static str>,
    pub otp_names: Vec<&'static str>,
    pub retry_names: Vec<String>,
}

/// The countries seen in the period, for the filter's suggestions.
pub fn countries(data: &DashboardData) -> Vec<String> {
    let mut seen: Vec<String> = data
        .counts
        .iter()
        .map(|r| r.country.clone())
        .filter(|c| !c.is_empty())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen
}

impl Views {
    pub fn build(data: &DashboardData, links: Option<&Links>) -> Self {
        let link = |extra: &[(&'static str, &str)]| links.and_then(|l| l.search(extra));
        let mut all = Counts::default();
        for row in &data.counts {
            all.add(&row.counts);
        }
        Self {
            empty: all.messages() == 0,
            totals: Totals {
                messages: cell(all.messages(), link(&[])),
                delivered: cell(
                    all.of(DeliveryStatus::Delivered),
                    link(&[("status", "delivered")]),
                ),
                delivered_rate: percent(all.delivered_rate()),
                receipt_coverage: percent(all.receipt_coverage()),
                not_final: cell(all.not_final(), link(&[("final", "no")])),
                callbacks: thousands(all.callbacks),
                duplicates: thousands(all.duplicates),
                duplicate_rate: percent(all.duplicate_rate()),
            },
            outcomes: vec![
                outcome(
                    data,
                    "by-country",
                    "Country",
                    "country",
                    |r| &r.country,
                    &link,
                ),
                outcome(
                    data,
                    "by-provider",
                    "Provider",
                    "provider",
                    |r| &r.provider,
                    &link,
                ),
                outcome(
                    data,
                    "by-sender",
                    "Sender identity",
                    "sender",
                    |r| &r.sender,
                    &link,
                ),
                outcome(
                    data,
                    "by-template",
                    "Template",
                    "template",
                    |r| &r.template,
                    &link,
                ),
            ],
            otp: otp(data, &link),
            latency: latency(data),
            limbo: limbo(data, &all, &link),
            retries: retries(data, &all, &link),
            scorecard: scorecard(data, &link),
            status_names: DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect(),
            otp_names: OtpCategory::ALL.iter().map(|c| c.label()).collect(),
            retry_names: RetryKind::ALL
                .iter()
                .map(|k| k.as_str().replace('_', " "))
                .collect(),
        }
    }
}

fn status_legend() -> Vec<Legend> {
    DeliveryStatus::ALL
        .iter()
        .map(|s| Legend {
            class: format!("s-{}", s.as_str()),
            label: s.as_str().to_owned(),
        })
        .collect()
}

fn outcome(
    data: &DashboardData,
    id: &'static str,
    dimension: &'static str,
    param: &'static str,
    key: impl Fn(&CountRow) -> &String,
    link: &impl Fn(&[(&'static str, &str)]) -> Option<String>,
) -> OutcomeSection {
    let by = breakdown(&data.counts, |r| key(r).as_str(), |r| &r.counts);
    let rows: Vec<Row> = by
        .iter()
        .take(CHART_ROWS)
        .map(|(value, c)| Row {
            label: none_label(value),
            pieces: DeliveryStatus::ALL
                .iter()
                .map(|s| Piece {
                    class: format!("s-{}", s.as_str()),
                    value: c.of(*s) as f64,
                    title: format!(
                        "{}: {} {} of {} ({})",
                        none_label(value),
                        thousands(c.of(*s)),
                        s.as_str(),
                        thousands(c.messages()),
                        percent(crate::domain::dashboard::figures::rate(
                            c.of(*s),
                            c.messages()
                        ))
                    ),
                    href: link(&[(param, value.as_str()), ("status", s.as_str())]),
                })
                .collect(),
            figure: thousands(c.messages()),
        })
        .collect();
    let title = format!("Delivery outcome by {}", dimension.to_lowercase());
    let description = format!(
        "Share of messages in each current status, per {}, for the {} largest by volume.",
        dimension.to_lowercase(),
        rows.len()
    );
    OutcomeSection {
        id,
        chart: charts::stacked_shares(id, &title, description, rows, status_legend()),
        title,
        dimension,
        lines: by
            .iter()
            .take(TABLE_ROWS)
            .map(|(value, c)| OutcomeLine {
                label: none_label(value),
                messages: cell(c.messages(), link(&[(param, value.as_str())])),
                delivered_rate: percent(c.delivered_rate()),
                statuses: DeliveryStatus::ALL
                    .iter()
                    .map(|s| {
                        cell(
                            c.of(*s),
                            link(&[(param, value.as_str()), ("status", s.as_str())]),
                        )
                    })
                    .collect(),
            })
            .collect(),
        more: by.len().saturating_sub(TABLE_ROWS),
    }
}

fn otp_line(label: String, c: &OtpCounts) -> OtpLine {
    OtpLine {
        label,
        requested: thousands(c.requested()),
        completion: percent(c.completion_rate()),
        categories: OtpCategory::ALL
            .iter()
            .map(|k| thousands(c.of(*k)))
            .collect(),
    }
}

fn otp(
    data: &DashboardData,
    link: &impl Fn(&[(&'static str, &str)]) -> Option<String>,
) -> OtpSection {
    let mut all = OtpCounts::default();
    for row in &data.otp {
        all.add(&row.counts);
    }
    let group = |key: fn(&crate::store::OtpRow) -> &String| {
        let mut sums: std::collections::BTreeMap<&str, OtpCounts> = Default::default();
        for row in &data.otp {
            sums.entry(key(row).as_str()).or_default().add(&row.counts);
        }
        let mut lines: Vec<(&str, OtpCounts)> = sums.into_iter().collect();
        lines.sort_by(|a, b| b.1.requested().cmp(&a.1.requested()).then(a.0.cmp(b.0)));
        lines
            .into_iter()
            .take(TABLE_ROWS)
            .map(|(label, c)| otp_line(none_label(label), &c))
            .collect()
    };
    let row = Row {
        label: "All verifications".to_owned(),
        pieces: OtpCategory::ALL
            .iter()
            .map(|k| Piece {
                class: format!("o-{}", k.as_str()),
                value: all.of(*k) as f64,
                title: format!(
                    "{}: {} of {} ({})",
                    k.label(),
                    thousands(all.of(*k)),
                    thousands(all.requested()),
                    percent(crate::domain::dashboard::figures::rate(
                        all.of(*k),
                        all.requested()
                    ))
                ),
                href: None,
            })
            .collect(),
        figure: thousands(all.requested()),
    };
    let legend = OtpCategory::ALL
        .iter()
        .map(|k| Legend {
            class: format!("o-{}", k.as_str()),
            label: k.label().to_owned(),
        })
        .collect();
    OtpSection {
        requested: thousands(all.requested()),
        completion: percent(all.completion_rate()),
        chart: charts::stacked_shares(
            "otp",
            "Where OTP verifications ended",
            "Share of OTP verifications completed, lost before delivery, or lost after it."
                .to_owned(),
            vec![row],
            legend,
        ),
        lines: OtpCategory::ALL
            .iter()
            .map(|k| {
                (
                    k.label().to_owned(),
                    thousands(all.of(*k)),
                    percent(crate::domain::dashboard::figures::rate(
                        all.of(*k),
                        all.requested(),
                    )),
                )
            })
            .collect(),
        tables: vec![
            ("Country", group(|r| &r.country)),
            ("Provider", group(|r| &r.provider)),
        ],
        otp_messages: link(&[("use_case", "otp")]),
    }
}

fn label(p: Option<Percentile>) -> String {
    p.map_or_else(|| "—".to_owned(), Percentile::label)
}

fn latency_line(label_text: String, callbacks: &Histogram, finals: &Histogram) -> LatencyLine {
    LatencyLine {
        label: label_text,
        callbacks: thousands(callbacks.count()),
        p50: label(callbacks.percentile(50)),
        p95: label(callbacks.percentile(95)),
        p99: label(callbacks.percentile(99)),
        finals: thousands(finals.count()),
        f50: label(finals.percentile(50)),
        f95: label(finals.percentile(95)),
        f99: label(finals.percentile(99)),
    }
}

fn percentile_legend() -> Vec<Legend> {
    [("p50", "median (p50)"), ("p95", "p95"), ("p99", "p99")]
        .into_iter()
        .map(|(class, label)| Legend {
            class: class.to_owned(),
            label: label.to_owned(),
        })
        .collect()
}

fn percentile_rows(by: &[(String, Histogram)], what: &str) -> Vec<Row> {
    by.iter()
        .filter(|(_, h)| h.count() > 0)
        .take(CHART_ROWS)
        .map(|(key, h)| Row {
            label: none_label(key),
            pieces: [50, 95, 99]
                .into_iter()
                .filter_map(|p| {
                    let at = h.percentile(p)?;
                    Some(Piece {
                        class: format!("p{p}"),
                        value: at.edge_us() as f64,
                        title: format!("{}: {what} p{p} {}", none_label(key), at.label()),
                        href: None,
                    })
                })
                .collect(),
            figure: label(h.percentile(50)),
        })
        .collect()
}

fn latency(data: &DashboardData) -> LatencySection {
    let of =
        |kind: LatencyKind| -> Vec<_> { data.latency.iter().filter(|r| r.kind == kind).collect() };
    let (callbacks, finals) = (of(LatencyKind::Callback), of(LatencyKind::ToFinal));
    let by = |rows: &[&crate::store::LatencyRow], key: fn(&crate::store::LatencyRow) -> &String| {
        histogram_breakdown(rows, |r| key(r).as_str(), |r| &r.histogram)
    };
    let lines = |key: fn(&crate::store::LatencyRow) -> &String| {
        let callback = by(&callbacks, key);
        let finished = by(&finals, key);
        let mut keys: Vec<&String> = callback.iter().chain(&finished).map(|(k, _)| k).collect();
        keys.sort_unstable();
        keys.dedup();
        let find = |list: &[(String, Histogram)], k: &String| {
            list.iter()
                .find(|(key, _)| key == k)
                .map(|(_, h)| *h)
                .unwrap_or_default()
        };
        let mut out: Vec<(i64, LatencyLine)> = keys
            .into_iter()
            .map(|k| {
                let (c, f) = (find(&callback, k), find(&finished, k));
                (c.count() + f.count(), latency_line(none_label(k), &c, &f))
            })
            .collect();
        out.sort_by_key(|line| std::cmp::Reverse(line.0));
        out.into_iter()
            .take(TABLE_ROWS)
            .map(|(_, line)| line)
            .collect()
    };
    LatencySection {
        callback_chart: charts::durations(
            "latency-callback",
            "Callback latency by provider",
            "From the provider's event time to our receipt of its callback: p50, p95 and p99 \
             per provider, on a logarithmic time axis."
                .to_owned(),
            percentile_rows(&by(&callbacks, |r| &r.provider), "callback latency"),
            percentile_legend(),
        ),
        final_chart: charts::durations(
            "latency-final",
            "Time to a final status by provider",
            "From sending a message to its final status: p50, p95 and p99 per provider, on a \
             logarithmic time axis."
                .to_owned(),
            percentile_rows(&by(&finals, |r| &r.provider), "time to final status"),
            percentile_legend(),
        ),
        tables: vec![
            ("Provider", lines(|r| &r.provider)),
            ("Country", lines(|r| &r.country)),
        ],
    }
}

fn limbo(
    data: &DashboardData,
    all: &Counts,
    link: &impl Fn(&[(&'static str, &str)]) -> Option<String>,
) -> LimboSection {
    let by = breakdown(&data.counts, |r| r.country.as_str(), |r| &r.counts);
    let mut judged: Vec<&(String, Counts)> = by.iter().filter(|(_, c)| c.settled() > 0).collect();
    judged.sort_by(|a, b| {
        let share = |c: &Counts| c.never_final_share().unwrap_or(0.0);
        share(&b.1)
            .total_cmp(&share(&a.1))
            .then_with(|| b.1.settled().cmp(&a.1.settled()))
    });
    let rows: Vec<Row> = judged
        .iter()
        .take(CHART_ROWS)
        .map(|(country, c)| Row {
            label: none_label(country),
            pieces: vec![Piece {
                class: if rarely_sends_receipts(c) {
                    "never-final rarely".to_owned()
                } else {
                    "never-final".to_owned()
                },
                value: c.never_final_share().unwrap_or(0.0),
                title: format!(
                    "{}: {} of {} settled messages never got a final status ({})",
                    none_label(country),
                    thousands(c.timed_out_now),
                    thousands(c.settled()),
                    percent(c.never_final_share())
                ),
                href: link(&[("country", country.as_str()), ("final", "timed_out")]),
            }],
            figure: percent(c.never_final_share()),
        })
        .collect();
    LimboSection {
        not_final: cell(all.not_final(), link(&[("final", "no")])),
        by_status: DeliveryStatus::ALL
            .iter()
            .filter(|s| !s.is_final())
            .map(|s| {
                (
                    s.as_str().to_owned(),
                    cell(all.of(*s), link(&[("status", s.as_str())])),
                )
            })
            .collect(),
        timed_out_now: cell(all.timed_out_now, link(&[("final", "timed_out")])),
        timeouts: thousands(all.timeouts),
        late_receipts: thousands((all.timeouts - all.timed_out_now).max(0)),
        chart: charts::bars(
            "never-final",
            "Countries by share of messages that never got a final status",
            "Of the messages whose window has passed or that got a final status, the share \
             smstrail timed out with no final receipt, per country, highest first."
                .to_owned(),
            rows,
            Some(1.0),
            |v| format!("{:.0} %", v * 100.0),
        ),
        countries: judged
            .iter()
            .take(TABLE_ROWS)
            .map(|(country, c)| LimboLine {
                country: none_label(country),
                messages: cell(c.messages(), link(&[("country", country.as_str())])),
                not_final: cell(
                    c.not_final(),
                    link(&[("country", country.as_str()), ("final", "no")]),
                ),
                settled: thousands(c.settled()),
                never_final: cell(
                    c.timed_out_now,
                    link(&[("country", country.as_str()), ("final", "timed_out")]),
                ),
                share: percent(c.never_final_share()),
                rarely: rarely_sends_receipts(c),
            })
            .collect(),
    }
}

fn retries(
    data: &DashboardData,
    all: &Counts,
    link: &impl Fn(&[(&'static str, &str)]) -> Option<String>,
) -> RetrySection {
    let rows: Vec<Row> = RetryKind::ALL
        .iter()
        .map(|k| Row {
            label: k.as_str().replace('_', " "),
            pieces: vec![Piece {
                class: "retry".to_owned(),
                value: all.retries_of(*k) as f64,
                title: format!(
                    "{}: {}",
                    k.as_str().replace('_', " "),
                    thousands(all.retries_of(*k))
                ),
                href: link(&[("retry", k.as_str())]),
            }],
            figure: thousands(all.retries_of(*k)),
        })
        .collect();
    let by = breakdown(&data.counts, |r| r.provider.as_str(), |r| &r.counts);
    RetrySection {
        total: thousands(all.all_retries()),
        rate: percent(crate::domain::dashboard::figures::rate(
            all.all_retries(),
            all.messages(),
        )),
        chart: charts::bars(
            "retries",
            "Retries and fallbacks by kind",
            "How many retries, resends, provider failovers and channel fallbacks were recorded \
             for the period's messages."
                .to_owned(),
            rows,
            None,
            |v| thousands(v.round() as i64),
        ),
        kinds: RetryKind::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str().replace('_', " "),
                    cell(all.retries_of(*k), link(&[("retry", k.as_str())])),
                    percent(crate::domain::dashboard::figures::rate(
                        all.retries_of(*k),
                        all.messages(),
                    )),
                )
            })
            .collect(),
        by_provider: by
            .iter()
            .take(TABLE_ROWS)
            .map(|(provider, c)| RetryLine {
                provider: none_label(provider),
                messages: thousands(c.messages()),
                kinds: RetryKind::ALL
                    .iter()
                    .map(|k| {
                        cell(
                            c.retries_of(*k),
                            link(&[("provider", provider.as_str()), ("retry", k.as_str())]),
                        )
                    })
                    .collect(),
                rate: percent(crate::domain::dashboard::figures::rate(
                    c.all_retries(),
                    c.messages(),
                )),
            })
            .collect(),
    }
}

fn scorecard(
    data: &DashboardData,
    link: &impl Fn(&[(&'static str, &str)]) -> Option<String>,
) -> Vec<ScoreLine> {
    let keyed: Vec<(String, &Counts)> = data
        .counts
        .iter()
        .map(|r| (format!("{}\u{1f}{}", r.provider, r.country), &r.counts))
        .collect();
    let by = breakdown(&keyed, |(k, _)| k.as_str(), |(_, c)| *c);
    let latency: Vec<(String, &Histogram)> = data
        .latency
        .iter()
        .filter(|r| r.kind == LatencyKind::Callback)
        .map(|r| (format!("{}\u{1f}{}", r.provider, r.country), &r.histogram))
        .collect();
    let latency = histogram_breakdown(&latency, |(k, _)| k.as_str(), |(_, h)| *h);
    by.iter()
        .take(TABLE_ROWS)
        .map(|(key, c)| {
            let (provider, country) = key.split_once('\u{1f}').unwrap_or((key, ""));
            let h = latency
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, h)| *h)
                .unwrap_or_default();
            ScoreLine {
                provider: none_label(provider),
                country: none_label(country),
                messages: cell(
                    c.messages(),
                    link(&[("provider", provider), ("country", country)]),
                ),
                coverage: percent(c.receipt_coverage()),
                callbacks: thousands(c.callbacks),
                p50: label(h.percentile(50)),
                p95: label(h.percentile(95)),
                duplicates: thousands(c.duplicates),
                duplicate_rate: percent(c.duplicate_rate()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(3_000_000), "3,000,000");
        assert_eq!(thousands(-1_500), "−1,500");
    }

    #[test]
    fn an_empty_period_has_no_figures_and_no_links() {
        let views = Views::build(&DashboardData::default(), None);
        assert!(views.empty);
        assert_eq!(views.totals.messages.text, "0");
        assert!(views.totals.messages.href.is_none());
        assert_eq!(views.totals.delivered_rate, "—");
        assert!(views.outcomes.iter().all(|o| o.lines.is_empty()));
        assert_eq!(views.otp.completion, "—");
    }
}
