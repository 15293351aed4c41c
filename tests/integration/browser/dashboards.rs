//! `/dashboards` in a real browser, over a month of demo traffic played
//! through the pipeline (several countries, providers, templates and use
//! cases, timeouts from a reconcile pass): the charts render as inline SVG
//! with their titles and axes, each table beside them holds the figures,
//! the filter form changes the page and its URL, and a figure's link lands
//! on the search that lists exactly that many messages. Takes the README's
//! dashboards screenshot.

use std::collections::BTreeMap;

use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;

use super::{Driver, agent_browser, readme_snapshot, snapshot, submit, wait_for_text};
use crate::helpers::{TestApp, test_env};

/// Demo messages: enough for every country, provider and template to show.
const DEMO_MESSAGES: u64 = 300;

/// The demo's month, then one reconcile pass so that messages that never
/// got a final receipt time out.
async fn seed_demo(app: &TestApp) -> i64 {
    let config = smstrail::config::Config::from_sources(None, test_env(&app.db)).expect("config");
    let options = smstrail::demo::DemoOptions {
        messages: DEMO_MESSAGES,
        force: false,
        seed: 11,
    };
    smstrail::demo::run(config, &options, |_| {})
        .await
        .expect("demo");
    let report = smstrail::reconcile::run_pass(
        &app.state.writes,
        &app.state.cipher,
        chrono::Utc::now().timestamp_micros(),
        smstrail::reconcile::CHUNK,
    )
    .await
    .expect("reconcile");
    assert!(report.timed_out > 0, "the demo leaves some messages silent");
    app.db.count("messages").await
}

/// "1,234" → 1234.
fn figure(text: &str) -> i64 {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{text:?} is no figure"))
}

async fn text_of(browser: &WebDriver, css: &str) -> String {
    browser
        .find(By::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} missing"))
        .text()
        .await
        .expect("text")
}

async fn url(browser: &WebDriver) -> String {
    browser.current_url().await.expect("url").to_string()
}

/// The page's query parameters.
async fn query(browser: &WebDriver) -> BTreeMap<String, String> {
    let url = browser.current_url().await.expect("url");
    url.query_pairs().into_owned().collect()
}

async fn select(browser: &WebDriver, name: &str, value: &str) {
    let element = browser
        .find(By::Css(format!("form.dash-filters select[name={name}]")))
        .await
        .expect(name);
    SelectElement::new(&element)
        .await
        .expect("select")
        .select_by_value(value)
        .await
        .expect("pick");
}

/// Sets a field's value as the form will send it (date inputs take typed
/// keys in the browser's locale; the value is what the form submits).
async fn set_value(browser: &WebDriver, name: &str, value: &str) {
    let element = browser
        .find(By::Css(format!("form.dash-filters input[name={name}]")))
        .await
        .expect(name);
    browser
        .execute(
            "arguments[0].value = arguments[1];",
            vec![element.to_json().expect("element"), value.into()],
        )
        .await
        .expect("set value");
}

/// Submits the filter form and waits for the page it loads.
async fn show(browser: &WebDriver) {
    let before = url(browser).await;
    submit(browser, "form.dash-filters").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while url(browser).await == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the form did not load a page"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    wait_for_text(browser, "h1", "Dashboards").await;
}

/// A table's rows as (row header, cells).
async fn table(browser: &WebDriver, css: &str) -> Vec<(String, Vec<String>)> {
    let mut rows = Vec::new();
    for row in browser
        .find_all(By::Css(format!("{css} tbody tr")))
        .await
        .expect("rows")
    {
        let Ok(header) = row.find(By::Css("th")).await else {
            continue; // "No messages."
        };
        let mut cells = Vec::new();
        for cell in row.find_all(By::Css("td")).await.expect("cells") {
            cells.push(cell.text().await.expect("cell"));
        }
        rows.push((header.text().await.expect("header"), cells));
    }
    rows
}

/// Every chart: an inline SVG named by its `<title>` and `<desc>`, with
/// tick labels on its axis, and bars that carry their own `<title>` (each
/// chart draws some when `full`).
async fn check_charts(browser: &WebDriver, full: bool) -> usize {
    let charts = browser
        .find_all(By::Css("svg.chart-svg"))
        .await
        .expect("charts");
    assert!(charts.len() >= 8, "{} charts", charts.len());
    for chart in &charts {
        let id = chart.id().await.expect("id").unwrap_or_default();
        let title = chart
            .find(By::Css(":scope > title"))
            .await
            .unwrap_or_else(|_| panic!("{id} has no <title>"));
        let title_text = title.prop("textContent").await.expect("title");
        assert!(
            title_text.as_deref().is_some_and(|t| t.len() > 10),
            "{id}: {title_text:?}"
        );
        let labelled = chart
            .attr("aria-labelledby")
            .await
            .expect("attr")
            .unwrap_or_default();
        for name in labelled.split_whitespace() {
            assert!(
                browser.find(By::Id(name)).await.is_ok(),
                "{id} is labelled by {name}, which is not on the page"
            );
        }
        assert_eq!(
            chart.attr("role").await.expect("role").as_deref(),
            Some("img")
        );
        let ticks = chart.find_all(By::Css("text.tick")).await.expect("ticks");
        assert!(ticks.len() >= 2, "{id} has an axis with labels");
        let bars = chart.find_all(By::Css("rect")).await.expect("bars");
        assert!(
            !full || !bars.is_empty(),
            "{id} draws bars over the demo's month"
        );
        for bar in bars.iter().take(3) {
            let tip = bar
                .find(By::Css("title"))
                .await
                .expect("bar title")
                .prop("textContent")
                .await
                .expect("tip");
            assert!(
                tip.is_some_and(|t| !t.is_empty()),
                "{id}: a bar without a title"
            );
        }
    }
    charts.len()
}

/// Follows search pages to the end and counts the messages listed.
async fn count_results(browser: &WebDriver) -> i64 {
    let mut count = 0;
    loop {
        wait_for_text(browser, "h1", "Find a message").await;
        if let Ok(error) = browser.find(By::Css(".notice.error")).await {
            panic!(
                "the search failed: {}",
                error.text().await.unwrap_or_default()
            );
        }
        count += browser
            .find_all(By::Css("table.results tbody tr"))
            .await
            .expect("rows")
            .len() as i64;
        let Ok(next) = browser.find(By::Css("a[rel=next]")).await else {
            return count;
        };
        let href = next.attr("href").await.expect("href").expect("next page");
        let base = browser.current_url().await.expect("url");
        browser
            .goto(base.join(&href).expect("next url").as_str())
            .await
            .expect("next page");
    }
}

/// Clicks the figure link at `css`, counts the search's messages, and
/// comes back.
async fn follow(browser: &WebDriver, css: &str) -> (i64, i64) {
    let dashboard = url(browser).await;
    let link = browser
        .find(By::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} is no link"));
    let shown = figure(&link.text().await.expect("figure"));
    link.click().await.expect("follow the figure");
    let listed = count_results(browser).await;
    browser.goto(&dashboard).await.expect("back");
    wait_for_text(browser, "h1", "Dashboards").await;
    (shown, listed)
}

#[tokio::test]
async fn an_agent_reads_the_dashboards_filters_them_and_follows_a_figure() {
    let app = TestApp::spawn().await;
    let stored = seed_demo(&app).await;
    let driver = Driver::start().await;
    let browser = agent_browser(&app, &driver).await;
    let outcome = async {
        // Wide enough for each chart to sit beside its table.
        browser
            .set_window_rect(0, 0, 1500, 1900)
            .await
            .expect("window");
        browser
            .find(By::Css("header a[href='/dashboards']"))
            .await
            .expect("nav link")
            .click()
            .await
            .expect("open dashboards");
        wait_for_text(&browser, "h1", "Dashboards").await;
        assert!(url(&browser).await.ends_with("/dashboards"));

        // The month, through the form.
        select(&browser, "period", "30d").await;
        show(&browser).await;
        assert_eq!(query(&browser).await["period"], "30d");
        let month = figure(&text_of(&browser, "#total-messages").await);
        assert!(
            month > stored / 2 && month <= stored,
            "{month} of {stored} messages in the last 30 days"
        );
        let charts = check_charts(&browser, true).await;

        // The tables beside the charts hold the same figures.
        let countries = table(&browser, "#by-country table").await;
        assert!(countries.len() >= 8, "{countries:?}");
        let by_country: i64 = countries.iter().map(|(_, c)| figure(&c[0])).sum();
        assert_eq!(by_country, month, "the countries add up to the total");
        for (name, cells) in &countries {
            let statuses: i64 = cells[2..].iter().map(|c| figure(c)).sum();
            assert_eq!(statuses, figure(&cells[0]), "{name}: statuses add up");
            assert!(cells[1].ends_with('%'), "{name}: {cells:?}");
        }
        let providers = table(&browser, "#by-provider table").await;
        assert_eq!(providers.len(), 5, "{providers:?}");
        let templates = table(&browser, "#by-template table").await;
        assert!(templates.len() >= 5, "{templates:?}");
        let completion = text_of(&browser, "#otp-completion").await;
        assert!(completion.ends_with('%'), "{completion}");
        assert!(figure(&text_of(&browser, "#otp-requested").await) > 0);
        let latency = table(&browser, ".latency-table").await;
        assert!(
            latency.iter().any(|(_, c)| c[1].starts_with('≤')),
            "a callback p50: {latency:?}"
        );
        assert!(!table(&browser, "#limbo-table").await.is_empty());
        assert!(figure(&text_of(&browser, "#retries-total").await) > 0);
        let scorecard = table(&browser, "#scorecard-table").await;
        assert!(scorecard.len() >= 10, "{scorecard:?}");
        assert!(
            scorecard
                .iter()
                .all(|(_, c)| c[2].ends_with('%') || c[2] == "—"),
            "receipt coverage per row: {scorecard:?}"
        );
        readme_snapshot(&browser, "dashboards").await;

        // A figure's link lists exactly the messages it counts: a country's
        // delivered messages, the messages with no final status, and the
        // ones that never got one.
        // Columns: the country, messages, delivered %, then accepted, sent,
        // delivered…
        let delivered_column = 6;
        let (shown, listed) = follow(
            &browser,
            &format!("#by-country tbody tr:nth-child(3) td:nth-child({delivered_column}) a"),
        )
        .await;
        assert_eq!(shown, listed, "a country's delivered messages");
        let (shown, listed) = follow(&browser, "#total-not-final a").await;
        assert_eq!(shown, listed, "messages without a final status");
        let (shown, listed) = follow(&browser, "#limbo-table tbody td:nth-child(5) a").await;
        assert_eq!(
            shown, listed,
            "the country that most often sends no receipt"
        );
        let (shown, listed) = follow(&browser, "#retry-kinds tbody a").await;
        assert_eq!(shown, listed, "a kind of retry");

        // Filters: a country, then a provider, then a use case.
        let (country, country_cells) = countries[1].clone();
        browser
            .find(By::Css("form.dash-filters input[name=country]"))
            .await
            .expect("country")
            .send_keys(country.to_lowercase())
            .await
            .expect("type");
        show(&browser).await;
        let params = query(&browser).await;
        assert_eq!(params["country"], country.to_lowercase());
        assert_eq!(params["period"], "30d", "the period stays");
        assert_eq!(
            figure(&text_of(&browser, "#total-messages").await),
            figure(&country_cells[0]),
            "{country} alone"
        );
        let only: Vec<String> = table(&browser, "#by-country table")
            .await
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(only, std::slice::from_ref(&country));
        assert_eq!(
            check_charts(&browser, false).await,
            charts,
            "every chart again"
        );

        select(&browser, "provider", "twilio").await;
        show(&browser).await;
        assert_eq!(query(&browser).await["provider"], "twilio");
        let providers: Vec<String> = table(&browser, "#by-provider table")
            .await
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert!(providers.iter().all(|p| p == "twilio"), "{providers:?}");

        browser
            .find(By::Css("form.dash-filters input[name=country]"))
            .await
            .expect("country")
            .clear()
            .await
            .expect("clear");
        select(&browser, "provider", "").await;
        select(&browser, "use_case", "otp").await;
        show(&browser).await;
        let params = query(&browser).await;
        assert_eq!(
            (params["use_case"].as_str(), params["country"].as_str()),
            ("otp", "")
        );
        for (template, _) in table(&browser, "#by-template table").await {
            assert!(
                template.starts_with("otp_"),
                "{template} is no OTP template"
            );
        }
        let (shown, listed) = follow(&browser, "#total-delivered a").await;
        assert_eq!(shown, listed, "delivered OTP messages");

        // Custom dates: the demo's whole month, every stored message.
        select(&browser, "use_case", "").await;
        select(&browser, "period", "custom").await;
        let today = chrono::Utc::now().date_naive();
        let from = (today - chrono::Days::new(31)).to_string();
        set_value(&browser, "from", &from).await;
        set_value(&browser, "to", &today.to_string()).await;
        show(&browser).await;
        let params = query(&browser).await;
        assert_eq!(
            (params["period"].as_str(), params["from"].as_str()),
            ("custom", from.as_str())
        );
        let period = text_of(&browser, "#period").await;
        assert!(period.starts_with(&format!("{from} 00:00")), "{period}");
        assert_eq!(
            figure(&text_of(&browser, "#total-messages").await),
            stored,
            "the whole demo"
        );
        let (shown, listed) = follow(&browser, "#total-messages a").await;
        assert_eq!((shown, listed), (stored, stored));

        // Dates the wrong way round: the page says what to fix.
        set_value(&browser, "from", &today.to_string()).await;
        set_value(&browser, "to", &from).await;
        show(&browser).await;
        wait_for_text(&browser, ".notice.error", "is after To").await;
        snapshot(&browser, "dashboards-error").await;
    }
    .await;
    browser.quit().await.expect("quit");
    outcome
}
