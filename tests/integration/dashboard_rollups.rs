//! The rollups the writers keep equal a recount from the base tables,
//! whatever arrives: a property test over random sequences of
//! registrations (some before their callbacks, some without a provider
//! message id until a PATCH), callbacks of two providers in any order with
//! repeats and unknown statuses, retries, OTP verifications, remapped
//! statuses and reconcile passes. Each case runs against a fresh server
//! on the run's backend; `PROPTEST_CASES` sets how many (default 12).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use smstrail::domain::DeliveryStatus;
use smstrail::domain::dashboard::{Period, PeriodChoice};
use smstrail::reconcile::{CHUNK, run_pass};
use smstrail::store::{DashboardData, DashboardFilter, LatencyKind};

use smstrail::providers::standard;

use crate::helpers::*;

const SLOTS: u8 = 6;
const TWILIO_STATUSES: [&str; 6] = [
    "queued",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "teleported",
];
const STANDARD_STATUSES: [&str; 9] = [
    "accepted",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "expired",
    "rejected",
    "unknown",
    "bogus",
];
const RETRY_KINDS: [&str; 4] = ["retry", "resend", "provider_failover", "channel_fallback"];
const VERIFICATION_KINDS: [&str; 7] = [
    "requested",
    "resent",
    "checked",
    "completed",
    "failed",
    "expired",
    "abandoned",
];

#[derive(Debug, Clone)]
enum Op {
    Register {
        m: u8,
        with_pmid: bool,
    },
    SetPmid {
        m: u8,
    },
    Twilio {
        m: u8,
        status: usize,
    },
    Standard {
        m: u8,
        status: usize,
        event: u8,
        back_s: u32,
    },
    Repeat {
        k: usize,
    },
    Retry {
        m: u8,
        kind: usize,
        new: Option<u8>,
    },
    Verify {
        v: u8,
        m: Option<u8>,
        kind: usize,
        back_s: u32,
    },
    Remap {
        twilio: bool,
        status: usize,
    },
    Reconcile {
        hours: u32,
    },
    /// The dashboards read (and cache) every bucket of the last 7 days.
    ReadDashboards,
    /// Requests sent all at once, so that the writers batch them together
    /// (registrations, callbacks and verification events of the same
    /// messages in one transaction).
    Burst(Vec<(u8, usize, Option<usize>)>),
}

fn op() -> impl Strategy<Value = Op> {
    let m = 0..SLOTS;
    prop_oneof![
        4 => (m.clone(), any::<bool>()).prop_map(|(m, with_pmid)| Op::Register { m, with_pmid }),
        1 => m.clone().prop_map(|m| Op::SetPmid { m }),
        4 => (m.clone(), 0..TWILIO_STATUSES.len()).prop_map(|(m, status)| Op::Twilio { m, status }),
        4 => (m.clone(), 0..STANDARD_STATUSES.len(), 0..4u8, 0..7_200u32)
            .prop_map(|(m, status, event, back_s)| Op::Standard { m, status, event, back_s }),
        3 => (0..64usize).prop_map(|k| Op::Repeat { k }),
        1 => (m.clone(), 0..RETRY_KINDS.len(), proptest::option::of(m.clone()))
            .prop_map(|(m, kind, new)| Op::Retry { m, kind, new }),
        3 => (0..3u8, proptest::option::of(m), 0..VERIFICATION_KINDS.len(), 0..600u32)
            .prop_map(|(v, m, kind, back_s)| Op::Verify { v, m, kind, back_s }),
        1 => (any::<bool>(), 0..DeliveryStatus::ALL.len()).prop_map(|(twilio, status)| Op::Remap { twilio, status }),
        1 => (1..200u32).prop_map(|hours| Op::Reconcile { hours }),
        2 => Just(Op::ReadDashboards),
        3 => proptest::collection::vec(
            (0..SLOTS, 0..STANDARD_STATUSES.len(), proptest::option::of(0..VERIFICATION_KINDS.len())),
            2..10,
        )
        .prop_map(Op::Burst),
    ]
}

/// Even slots send through Twilio, odd ones through Standard Webhooks;
/// three countries, two templates and use cases.
fn slot(m: u8) -> (&'static str, String, Value) {
    let provider = if m.is_multiple_of(2) {
        "twilio"
    } else {
        "standard"
    };
    let to = match m % 3 {
        0 => format!("+1415555010{m}"),
        1 => format!("+44207946095{m}"),
        _ => format!("+3361234560{m}"),
    };
    let extra = if m.is_multiple_of(2) {
        json!({"template_key": "login", "use_case": "otp", "sender_identity": "+15017122661"})
    } else {
        json!({"template_key": "news", "use_case": "marketing"})
    };
    (provider, to, extra)
}

enum Sent {
    Twilio(String, &'static str),
    Standard(String, Value),
}

struct Case {
    app: TestApp,
    ids: [Option<String>; SLOTS as usize],
    verifications: [Option<String>; 3],
    sent: Vec<Sent>,
    base_us: i64,
}

impl Case {
    async fn post(&self, path: &str, body: Value) {
        let _ = self
            .app
            .client
            .post(self.app.url(path))
            .bearer_auth(API_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request");
    }

    async fn send(&self, sent: &Sent) {
        let response = match sent {
            Sent::Twilio(pmid, status) => self.app.twilio_status(pmid, status).await,
            Sent::Standard(id, body) => self.app.standard(id, now_unix(), body).await,
        };
        assert!(response.status().is_success(), "{}", response.status());
    }

    async fn apply(&mut self, op: &Op) {
        let rfc3339 = |us: i64| {
            chrono::DateTime::from_timestamp_micros(us)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        };
        match op {
            Op::Register { m, with_pmid } => {
                if self.ids[*m as usize].is_some() {
                    return;
                }
                let (provider, to, extra) = slot(*m);
                let mut body = json!({"idempotency_key": format!("k-{m}"), "to": to,
                    "provider": provider, "sent_at": rfc3339(self.base_us - 30_000_000)});
                for (k, v) in extra.as_object().into_iter().flatten() {
                    body[k] = v.clone();
                }
                if *with_pmid {
                    body["provider_message_id"] = json!(format!("pm-{m}"));
                }
                self.ids[*m as usize] = Some(self.app.register_id(&body).await);
            }
            Op::SetPmid { m } => {
                if let Some(id) = &self.ids[*m as usize] {
                    let _ = self
                        .app
                        .client
                        .patch(self.app.url(&format!("/api/v1/messages/{id}")))
                        .bearer_auth(API_TOKEN)
                        .json(&json!({"provider_message_id": format!("pm-{m}")}))
                        .send()
                        .await
                        .expect("PATCH");
                }
            }
            Op::Twilio { m, status } => {
                let m = m - m % 2;
                let sent = Sent::Twilio(format!("pm-{m}"), TWILIO_STATUSES[*status]);
                self.send(&sent).await;
                self.sent.push(sent);
            }
            Op::Standard {
                m,
                status,
                event,
                back_s,
            } => {
                let m = m - m % 2 + 1;
                let at = rfc3339(self.base_us - i64::from(*back_s) * 1_000_000);
                let body = json!({"type": "message.status", "timestamp": at,
                    "data": {"provider_message_id": format!("pm-{m}"),
                             "status": STANDARD_STATUSES[*status], "occurred_at": at}});
                let sent = Sent::Standard(format!("wh-{m}-{event}"), body);
                self.send(&sent).await;
                self.sent.push(sent);
            }
            Op::Repeat { k } => {
                if !self.sent.is_empty() {
                    let sent = &self.sent[k % self.sent.len()];
                    self.send(sent).await;
                }
            }
            Op::Retry { m, kind, new } => {
                if let Some(id) = &self.ids[*m as usize] {
                    let mut body = json!({"kind": RETRY_KINDS[*kind]});
                    if let Some(new_id) = new.and_then(|n| self.ids[n as usize].clone()) {
                        body["new_message_id"] = json!(new_id);
                    }
                    self.post(&format!("/api/v1/messages/{id}/retries"), body)
                        .await;
                }
            }
            Op::Verify { v, m, kind, back_s } => {
                let message = m.and_then(|m| self.ids[m as usize].clone());
                let at = rfc3339(self.base_us - i64::from(*back_s) * 1_000_000);
                match &self.verifications[*v as usize] {
                    None => {
                        let mut body = json!({"occurred_at": at});
                        if let Some(message) = message {
                            body["message_id"] = json!(message);
                        }
                        let response = self
                            .app
                            .client
                            .post(self.app.url("/api/v1/verifications"))
                            .bearer_auth(API_TOKEN)
                            .json(&body)
                            .send()
                            .await
                            .expect("request");
                        let created: Value = response.json().await.expect("json");
                        self.verifications[*v as usize] = created["id"].as_str().map(str::to_owned);
                    }
                    Some(id) => {
                        let mut body =
                            json!({"kind": VERIFICATION_KINDS[*kind], "occurred_at": at});
                        if let Some(message) = message {
                            body["message_id"] = json!(message);
                        }
                        self.post(&format!("/api/v1/verifications/{id}/events"), body)
                            .await;
                    }
                }
            }
            Op::Remap { twilio, status } => {
                let (provider, raw) = if *twilio {
                    ("twilio", "teleported")
                } else {
                    ("standard", "bogus")
                };
                smstrail::store::renormalize(
                    &self.app.state.store,
                    &self.app.state.writes,
                    provider,
                    raw,
                    Some(DeliveryStatus::ALL[*status]),
                    chrono::Utc::now().timestamp_micros(),
                )
                .await
                .expect("renormalize");
            }
            Op::Burst(items) => self.burst(items).await,
            Op::ReadDashboards => {
                self.app
                    .state
                    .store
                    .dashboard(&week(), &DashboardFilter::default())
                    .await
                    .expect("dashboard");
            }
            Op::Reconcile { hours } => {
                let now = chrono::Utc::now().timestamp_micros() + i64::from(*hours) * 3_600_000_000;
                run_pass(&self.app.state.writes, &self.app.state.cipher, now, CHUNK)
                    .await
                    .expect("reconcile");
            }
        }
    }
}

impl Case {
    /// Every item's registration (if the slot has none yet), callback and
    /// verification event (if its message was registered before), at once.
    async fn burst(&mut self, items: &[(u8, usize, Option<usize>)]) {
        let mut requests = tokio::task::JoinSet::new();
        let key = standard::decode_secret(STANDARD_SECRET).expect("secret");
        let at = chrono::DateTime::from_timestamp_micros(self.base_us)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        for (n, (m, status, verify)) in items.iter().enumerate() {
            let (client, base) = (self.app.client.clone(), self.app.base.clone());
            if self.ids[*m as usize].is_none() {
                let (provider, to, extra) = slot(*m);
                let mut body = json!({"idempotency_key": format!("k-{m}"), "to": to,
                    "provider": provider, "provider_message_id": format!("pm-{m}")});
                for (k, v) in extra.as_object().into_iter().flatten() {
                    body[k] = v.clone();
                }
                let request = client
                    .post(format!("{base}/api/v1/messages"))
                    .bearer_auth(API_TOKEN)
                    .json(&body);
                requests.spawn(async move { request.send().await.map(|r| r.status()) });
            }
            let callback = if m.is_multiple_of(2) {
                let twilio_status = TWILIO_STATUSES[status % TWILIO_STATUSES.len()];
                signed_status(&client, &base, &format!("pm-{m}"), twilio_status)
            } else {
                let body = json!({"type": "message.status", "timestamp": at,
                    "data": {"provider_message_id": format!("pm-{m}"),
                             "status": STANDARD_STATUSES[*status], "occurred_at": at}})
                .to_string();
                let id = format!("wh-burst-{m}-{status}-{n}");
                let timestamp = now_unix();
                client
                    .post(format!("{base}/webhooks/standard/status"))
                    .header("content-type", "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header(
                        "webhook-signature",
                        standard::sign(&key, &id, timestamp, body.as_bytes()),
                    )
                    .body(body)
            };
            requests.spawn(async move { callback.send().await.map(|r| r.status()) });
            if let (Some(kind), Some(message)) = (verify, &self.ids[*m as usize]) {
                let path = match &self.verifications[*m as usize % 3] {
                    Some(id) => format!("{base}/api/v1/verifications/{id}/events"),
                    None => format!("{base}/api/v1/verifications"),
                };
                let request = client
                    .post(path)
                    .bearer_auth(API_TOKEN)
                    .json(&json!({"kind": VERIFICATION_KINDS[*kind], "message_id": message}));
                requests.spawn(async move { request.send().await.map(|r| r.status()) });
            }
        }
        while let Some(done) = requests.join_next().await {
            let status = done.expect("task").expect("request");
            assert!(status.is_success() || status.is_client_error(), "{status}");
        }
        for m in 0..SLOTS {
            if self.ids[m as usize].is_none()
                && let Ok(Some(message)) = self
                    .app
                    .state
                    .store
                    .message_by_provider_id(&format!("pm-{m}"))
                    .await
            {
                self.ids[m as usize] = Some(message.id);
            }
        }
    }
}

async fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut case = Case {
        app: TestApp::spawn().await,
        ids: Default::default(),
        verifications: Default::default(),
        sent: Vec::new(),
        base_us: chrono::Utc::now().timestamp_micros(),
    };
    for op in &ops {
        case.apply(op).await;
    }
    let drift = case.app.state.store.rollup_drift().await.expect("recount");
    prop_assert!(
        drift.is_empty(),
        "rollups drifted from the recount:\n{}",
        drift.join("\n")
    );
    // What the server's cache serves equals what a store that never read
    // anything before reads, for the whole and for one country.
    let fresh = smstrail::store::open(&case.app.db.url).await.expect("open");
    for filter in [
        DashboardFilter::default(),
        DashboardFilter {
            country: Some("US".to_owned()),
            ..DashboardFilter::default()
        },
    ] {
        let cached = case.app.state.store.dashboard(&week(), &filter).await;
        let read = fresh.dashboard(&week(), &filter).await;
        prop_assert_eq!(
            sorted(cached.expect("cached")),
            sorted(read.expect("fresh"))
        );
    }
    Ok(())
}

/// The last 7 days up to the next quarter hour: every bucket the ops write.
fn week() -> Period {
    PeriodChoice::Last7Days
        .resolve(chrono::Utc::now().timestamp_micros(), chrono_tz::UTC)
        .expect("period")
}

/// Rows in a stable order (the sums come in hash order).
fn sorted(mut data: DashboardData) -> DashboardData {
    data.counts.sort_by(|a, b| {
        (&a.country, &a.provider, &a.use_case, &a.sender, &a.template).cmp(&(
            &b.country,
            &b.provider,
            &b.use_case,
            &b.sender,
            &b.template,
        ))
    });
    data.latency.sort_by_key(|r| {
        (
            r.country.clone(),
            r.provider.clone(),
            r.kind == LatencyKind::ToFinal,
        )
    });
    data.otp
        .sort_by_key(|r| (r.country.clone(), r.provider.clone()));
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_equal_a_recount_after_randomized_ingest() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&proptest::collection::vec(op(), 8..48), |ops| {
            handle.block_on(run_case(ops))
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[tokio::test]
async fn the_rebuild_counts_what_was_stored_before_the_rollups() {
    // The state before the migration that made the rollups: data, no rollups.
    let app = TestApp::spawn().await;
    let mut case = Case {
        app,
        ids: Default::default(),
        verifications: Default::default(),
        sent: Vec::new(),
        base_us: chrono::Utc::now().timestamp_micros(),
    };
    for op in [
        Op::Twilio { m: 0, status: 1 },
        Op::Register {
            m: 0,
            with_pmid: true,
        },
        Op::Register {
            m: 1,
            with_pmid: true,
        },
        Op::Standard {
            m: 1,
            status: 2,
            event: 0,
            back_s: 5,
        },
        Op::Repeat { k: 1 },
        Op::Verify {
            v: 0,
            m: Some(1),
            kind: 0,
            back_s: 0,
        },
        Op::Verify {
            v: 0,
            m: None,
            kind: 6,
            back_s: 0,
        },
        Op::Retry {
            m: 0,
            kind: 0,
            new: None,
        },
    ] {
        case.apply(&op).await;
    }
    let db = &case.app.db;
    db.execute(
        "DELETE FROM dash_counts; DELETE FROM dash_latency; DELETE FROM dash_otp; \
         UPDATE verifications SET rollup_country = NULL, rollup_provider = NULL, \
         rollup_use_case = NULL, rollup_category = NULL; DELETE FROM dash_rollup_state;",
    )
    .await;
    let store = &case.app.state.store;
    assert!(
        !store.rollup_drift().await.unwrap().is_empty(),
        "the emptied rollups drift"
    );
    assert!(store.rebuild_rollups_if_needed().await.unwrap(), "rebuilt");
    assert!(!store.rebuild_rollups_if_needed().await.unwrap(), "once");
    let drift = store.rollup_drift().await.unwrap();
    assert!(drift.is_empty(), "{drift:#?}");
    assert_eq!(
        db.count("dash_counts").await,
        6,
        "two messages × three bucket sizes"
    );
}
