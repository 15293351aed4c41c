//! `TestApp`: the real app on a random port over real HTTP, with a fresh
//! database per test. The backend is SQLite unless SMSTRAIL_TEST_POSTGRES_URL
//! names a PostgreSQL server, in which case each test gets its own database.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use smstrail::AppState;
use smstrail::config::{Config, DataKey};
use smstrail::providers::{standard, twilio};
use smstrail::store::{NewApiToken, NewAuditEntry};
use tokio::sync::oneshot;

pub const PUBLIC_URL: &str = "https://smstrail.example.com";
pub const TWILIO_TOKEN: &str = "twilio-test-auth-token";
pub const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const API_TOKEN: &str = "smst_test-api-token";
pub const DATA_KEY: [u8; 32] = [7; 32];

/// Runs `$body` with `$pool` bound to a short-lived pool on the test's backend.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        if $db.is_postgres() {
            let $pool = sqlx::PgPool::connect(&$db.url).await.expect("connect");
            let out = $body;
            $pool.close().await;
            out
        } else {
            let $pool = sqlx::SqlitePool::connect(&$db.url).await.expect("connect");
            let out = $body;
            $pool.close().await;
            out
        }
    };
}

/// A database made for one test, dropped with it.
pub struct TestDb {
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn fresh() -> Self {
        match std::env::var("SMSTRAIL_TEST_POSTGRES_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("smstrail_t_{}", uuid::Uuid::now_v7().simple());
                let admin = sqlx::PgPool::connect(&admin_url)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .expect("create test database");
                admin.close().await;
                let url = match admin_url.rfind('/') {
                    Some(i)
                        if admin_url[..i].contains("//")
                            && i > admin_url.find("//").unwrap_or(0) + 1 =>
                    {
                        format!("{}/{name}", &admin_url[..i])
                    }
                    _ => format!("{}/{name}", admin_url.trim_end_matches('/')),
                };
                Self {
                    url,
                    postgres: Some((admin_url, name)),
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/smstrail.db", dir.path().display());
                Self {
                    url,
                    postgres: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// Runs SQL behind the app's back, on whichever backend the test uses.
    pub async fn execute(&self, sql: &str) {
        with_pool!(self, |pool| {
            sqlx::raw_sql(sql).execute(&pool).await.expect("test SQL");
        })
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        with_pool!(self, |pool| sqlx::query_scalar(&sql)
            .fetch_one(&pool)
            .await
            .expect("count"))
    }

    pub async fn strings(&self, sql: &str) -> Vec<String> {
        with_pool!(self, |pool| sqlx::query_scalar(sql)
            .fetch_all(&pool)
            .await
            .expect("query"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop cannot be async: do it on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

pub fn test_env(db: &TestDb) -> Vec<(String, String)> {
    [
        ("SMSTRAIL_DATABASE_URL", db.url.clone()),
        ("SMSTRAIL_PUBLIC_URL", PUBLIC_URL.to_owned()),
        (
            "SMSTRAIL_DATA_KEY",
            DataKey::from_bytes(DATA_KEY).to_base64(),
        ),
        ("SMSTRAIL_TWILIO_AUTH_TOKEN", TWILIO_TOKEN.to_owned()),
        ("SMSTRAIL_STANDARD_SECRET", STANDARD_SECRET.to_owned()),
        ("SMSTRAIL_LOG", "warn".to_owned()),
    ]
    .into_iter()
    // On PostgreSQL, several writers: the advisory locks between them are under test too.
    .chain(
        db.is_postgres()
            .then(|| ("SMSTRAIL_INGEST_WRITERS", "3".to_owned())),
    )
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Spawns with extra `SMSTRAIL_*` settings over the test defaults.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let db = TestDb::fresh().await;
        let mut env = test_env(&db);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_sources(None, env).expect("test config");
        let state = AppState::build(config).await.expect("build app");
        state
            .store
            .create_api_token(
                &NewApiToken {
                    id: uuid::Uuid::now_v7().to_string(),
                    name: "tests".to_owned(),
                    digest: smstrail::crypto::token_digest(API_TOKEN),
                    created_at_us: 0,
                },
                &NewAuditEntry {
                    ..NewAuditEntry::new(smstrail::domain::account::AuditAction::TokenCreate)
                },
            )
            .await
            .expect("create API token");

        // Bind first, then spawn: the port is ready before any request.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(smstrail::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            state,
            db,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("request");
        response.text().await.expect("metrics text")
    }

    // ---- send-side API ----

    pub async fn register(&self, body: &Value) -> Response {
        self.client
            .post(self.url("/api/v1/messages"))
            .bearer_auth(API_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Registers a message for `provider_message_id` on Twilio and returns its id.
    pub async fn register_twilio(&self, provider_message_id: &str) -> String {
        self.register_on("twilio", provider_message_id).await
    }

    /// Registers a message to +14155550100 for `provider_message_id` on
    /// `provider` and returns its id.
    pub async fn register_on(&self, provider: &str, provider_message_id: &str) -> String {
        let response = self
            .register(&json!({
                "idempotency_key": format!("key-{provider_message_id}"),
                "to": "+14155550100",
                "provider": provider,
                "provider_message_id": provider_message_id,
            }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        body["id"].as_str().expect("id").to_owned()
    }

    /// An authenticated API GET, answered 200 with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    pub async fn message(&self, id: &str) -> Value {
        self.get_json(&format!("/api/v1/messages/{id}")).await
    }

    pub async fn status_of(&self, id: &str) -> String {
        self.message(id).await["current_status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A refused callback leaves no trace in any table a callback can write.
    pub async fn assert_nothing_stored(&self) {
        for table in [
            "message_events",
            "event_duplicates",
            "review_items",
            "unmatched_callbacks",
            "inbound_messages",
        ] {
            assert_eq!(self.db.count(table).await, 0, "{table}");
        }
    }

    /// `smstrail_callbacks_total` for `provider` and `outcome` reads `count`.
    pub async fn assert_callbacks(&self, provider: &str, outcome: &str, count: usize) {
        let metrics = self.metrics().await;
        let line = format!(
            r#"smstrail_callbacks_total{{provider="{provider}",outcome="{outcome}"}} {count}"#
        );
        assert!(metrics.contains(&line), "{line} is not in:\n{metrics}");
    }

    pub async fn event_count(&self, id: &str) -> usize {
        self.message(id).await["events"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    }

    // ---- provider callbacks ----

    /// Posts a Twilio form callback signed the way Twilio signs it.
    pub async fn twilio(&self, route: &str, params: &[(&str, &str)]) -> Response {
        let path = format!("/webhooks/twilio/{route}");
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let signature = twilio::sign(TWILIO_TOKEN, &format!("{PUBLIC_URL}{path}"), &params);
        self.twilio_signed(&path, &params, &signature).await
    }

    pub async fn twilio_signed(
        &self,
        path: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Response {
        self.client
            .post(self.url(path))
            .header("X-Twilio-Signature", signature)
            .form(params)
            .send()
            .await
            .expect("request")
    }

    pub async fn twilio_status(&self, sid: &str, status: &str) -> Response {
        self.twilio("status", &twilio_status_params(sid, status))
            .await
    }

    /// Posts a Standard Webhooks request signed at `timestamp`.
    pub async fn standard(&self, msg_id: &str, timestamp: i64, body: &Value) -> Response {
        let body = body.to_string();
        let key = standard::decode_secret(STANDARD_SECRET).expect("secret");
        let signature = standard::sign(&key, msg_id, timestamp, body.as_bytes());
        self.client
            .post(self.url("/webhooks/standard/status"))
            .header("content-type", "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .expect("request")
    }
}

pub fn twilio_status_params<'a>(sid: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", "AC8f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"),
        ("From", "+15017122661"),
        ("To", "+14155550100"),
        ("ApiVersion", "2010-04-01"),
        ("MessageStatus", status),
        ("SmsStatus", status),
    ]
}

pub fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A Twilio status callback for `sid`, signed for `PUBLIC_URL` as Twilio
/// would sign it, addressed to the server listening at `base`.
pub fn signed_status(
    client: &reqwest::Client,
    base: &str,
    sid: &str,
    status: &str,
) -> reqwest::RequestBuilder {
    let path = "/webhooks/twilio/status";
    let params = owned(&twilio_status_params(sid, status));
    let signature = twilio::sign(TWILIO_TOKEN, &format!("{PUBLIC_URL}{path}"), &params);
    client
        .post(format!("{base}{path}"))
        .header("X-Twilio-Signature", signature)
        .form(&params)
}

/// A 401 answered the way smstrail refuses a signature.
pub async fn assert_unauthorized(response: Response, case: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    let error: Value = response.json().await.expect("json error");
    assert_eq!(error["error"]["code"], "unauthorized", "{case}");
}

/// The raw statuses of a message's timeline, in its order.
pub fn raw_statuses(message: &Value) -> Vec<String> {
    message["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| e["raw_status"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

// ---- the binary as a child process ----

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn start_server(db: &TestDb, port: u16, extra: &[(&str, &str)], stderr: Stdio) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_smstrail"));
    command
        .arg("serve")
        .env_clear()
        .envs(test_env(db))
        .env("SMSTRAIL_BIND", format!("127.0.0.1:{port}"))
        .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .stdout(Stdio::null())
        .stderr(stderr);
    command.spawn().expect("start smstrail")
}

pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == StatusCode::OK
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become ready");
}
