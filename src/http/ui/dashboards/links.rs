//! Links from a figure to the search that lists the messages it counts:
//! the dashboard's period as exact instants and its filters, plus what the
//! figure adds (a status, a sender, …).

use chrono::{DateTime, SecondsFormat};

use crate::domain::dashboard::Period;
use crate::store::DashboardFilter;

pub struct Links {
    base: Vec<(&'static str, String)>,
}

impl Links {
    pub fn new(period: &Period, filter: &DashboardFilter) -> Self {
        let instant = |us: i64| {
            DateTime::from_timestamp_micros(us)
                .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_default()
        };
        let mut base = vec![
            ("from", instant(period.from_us)),
            ("to", instant(period.to_us)),
        ];
        for (name, value) in [
            ("country", &filter.country),
            ("provider", &filter.provider),
            ("use_case", &filter.use_case),
        ] {
            if let Some(value) = value {
                base.push((name, value.clone()));
            }
        }
        Self { base }
    }

    /// `/?…`: the base parameters, with `extra` added or replacing them.
    /// An empty value (a dimension that was not given) cannot be searched
    /// for: no link then.
    pub fn search(&self, extra: &[(&'static str, &str)]) -> Option<String> {
        if extra.iter().any(|(_, v)| v.is_empty()) {
            return None;
        }
        let mut pairs: Vec<(&str, &str)> = self
            .base
            .iter()
            .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name))
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        pairs.extend(extra.iter().copied());
        serde_urlencoded::to_string(&pairs)
            .ok()
            .map(|q| format!("/?{q}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_carries_the_period_the_filters_and_the_figure() {
        let period = Period {
            from_us: 1_773_147_600_000_000,
            to_us: 1_773_151_200_000_000,
        };
        let filter = DashboardFilter {
            country: Some("US".into()),
            ..DashboardFilter::default()
        };
        let links = Links::new(&period, &filter);
        assert_eq!(
            links
                .search(&[("status", "delivered"), ("country", "FR")])
                .as_deref(),
            Some(
                "/?from=2026-03-10T13%3A00%3A00Z&to=2026-03-10T14%3A00%3A00Z&status=delivered&country=FR"
            )
        );
        assert_eq!(
            links.search(&[("sender", "")]),
            None,
            "no sender cannot be searched"
        );
    }
}
