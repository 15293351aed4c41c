//! `/metrics`: every family is listed from the first scrape, HTTP requests
//! are counted by route template (never by raw path), and the writers and
//! pools are observable.

use reqwest::StatusCode;

use crate::helpers::TestApp;

/// Every family smstrail exposes, with its OpenMetrics type.
const FAMILIES: [(&str, &str); 9] = [
    ("smstrail_callbacks", "counter"),
    ("smstrail_ingest_duration_seconds", "histogram"),
    ("smstrail_http_requests", "counter"),
    ("smstrail_http_request_duration_seconds", "histogram"),
    ("smstrail_writer_queue_depth", "gauge"),
    ("smstrail_writer_batch_size", "histogram"),
    ("smstrail_writer_commit_duration_seconds", "histogram"),
    ("smstrail_db_pool_connections", "gauge"),
    ("smstrail_db_pool_max_connections", "gauge"),
];

/// The value of the sample line that starts with `series ` exactly.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a numeric sample"))
}

#[tokio::test]
async fn the_first_scrape_lists_every_family() {
    let app = TestApp::spawn().await;
    let metrics = app.metrics().await;
    for (name, kind) in FAMILIES {
        assert!(
            metrics.contains(&format!("\n# HELP {name} "))
                || metrics.starts_with(&format!("# HELP {name} ")),
            "no HELP for {name}:\n{metrics}"
        );
        assert!(
            metrics.contains(&format!("# TYPE {name} {kind}\n")),
            "no TYPE for {name}:\n{metrics}"
        );
    }
    // Known label sets start at zero, so rates and alerts work before the
    // first callback.
    for provider in ["twilio", "standard"] {
        for outcome in [
            "stored",
            "duplicate",
            "review",
            "rejected_signature",
            "rejected_size",
            "storage_error",
        ] {
            let series =
                format!(r#"smstrail_callbacks_total{{provider="{provider}",outcome="{outcome}"}}"#);
            assert_eq!(sample(&metrics, &series), Some(0.0), "{series}:\n{metrics}");
        }
        let series = format!(r#"smstrail_ingest_duration_seconds_count{{provider="{provider}"}}"#);
        assert_eq!(sample(&metrics, &series), Some(0.0), "{series}:\n{metrics}");
    }
    assert_eq!(
        sample(&metrics, r#"smstrail_writer_queue_depth{writer="0"}"#),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "smstrail_writer_batch_size_count"),
        Some(0.0)
    );
    assert_eq!(
        sample(&metrics, "smstrail_writer_commit_duration_seconds_count"),
        Some(0.0)
    );
    for pool in ["main", "sessions"] {
        let max = sample(
            &metrics,
            &format!(r#"smstrail_db_pool_max_connections{{pool="{pool}"}}"#),
        );
        assert!(max.is_some_and(|max| max >= 1.0), "{pool}:\n{metrics}");
        for state in ["idle", "in_use"] {
            let series =
                format!(r#"smstrail_db_pool_connections{{pool="{pool}",state="{state}"}}"#);
            assert!(sample(&metrics, &series).is_some(), "{series}:\n{metrics}");
        }
    }
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_status() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-metrics-1").await;
    assert_eq!(app.message(&id).await["id"], id.as_str());
    let missing = app
        .client
        .get(app.url("/api/v1/messages/0190-no-such-message"))
        .bearer_auth(crate::helpers::API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.twilio_status("SM-metrics-1", "delivered")
            .await
            .status(),
        StatusCode::OK
    );
    let unmatched = app
        .client
        .get(app.url("/no/such/page/12345"))
        .send()
        .await
        .unwrap();
    assert_eq!(unmatched.status(), StatusCode::NOT_FOUND);

    let metrics = app.metrics().await;
    for (series, count) in [
        (
            r#"smstrail_http_requests_total{method="POST",route="/api/v1/messages",status="201"}"#,
            1.0,
        ),
        (
            r#"smstrail_http_requests_total{method="GET",route="/api/v1/messages/{id}",status="200"}"#,
            1.0,
        ),
        (
            r#"smstrail_http_requests_total{method="GET",route="/api/v1/messages/{id}",status="404"}"#,
            1.0,
        ),
        (
            r#"smstrail_http_requests_total{method="POST",route="/webhooks/{provider}/{route}",status="200"}"#,
            1.0,
        ),
        (
            r#"smstrail_http_requests_total{method="GET",route="unmatched",status="404"}"#,
            1.0,
        ),
        (
            r#"smstrail_http_request_duration_seconds_count{method="POST",route="/api/v1/messages",status="201"}"#,
            1.0,
        ),
        (
            r#"smstrail_callbacks_total{provider="twilio",outcome="stored"}"#,
            1.0,
        ),
    ] {
        assert_eq!(
            sample(&metrics, series),
            Some(count),
            "{series}:\n{metrics}"
        );
    }
    // Raw paths carry ids: not one of them may become a label value.
    for raw in [id.as_str(), "0190-no-such-message", "12345", "twilio\""] {
        assert!(
            !metrics
                .lines()
                .filter(|line| line.starts_with("smstrail_http_"))
                .any(|line| line.contains(raw)),
            "{raw} leaked into a label:\n{metrics}"
        );
    }

    // Two writes (the registration and the callback) were committed; the
    // requests waited for each other, so however they were batched, the
    // sizes add up to two and every batch was timed.
    assert_eq!(
        sample(&metrics, "smstrail_writer_batch_size_sum"),
        Some(2.0)
    );
    let batches = sample(&metrics, "smstrail_writer_batch_size_count").unwrap();
    assert!((1.0..=2.0).contains(&batches), "{metrics}");
    assert_eq!(
        sample(&metrics, "smstrail_writer_commit_duration_seconds_count"),
        Some(batches),
        "{metrics}"
    );
    // Nothing is waiting once every request has been answered.
    let depths: Vec<f64> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("smstrail_writer_queue_depth{"))
        .map(|rest| rest.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(!depths.is_empty(), "{metrics}");
    assert!(depths.iter().all(|depth| *depth == 0.0), "{metrics}");
    let open = sample(
        &metrics,
        r#"smstrail_db_pool_connections{pool="main",state="idle"}"#,
    )
    .unwrap()
        + sample(
            &metrics,
            r#"smstrail_db_pool_connections{pool="main",state="in_use"}"#,
        )
        .unwrap();
    // The API token lookups ran on the main pool.
    assert!(open >= 1.0, "{metrics}");
}
