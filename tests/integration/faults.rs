//! Hardening against the world going wrong: file permissions, a database
//! that goes away, a full disk, slow clients.

use std::os::unix::fs::PermissionsExt;

use crate::helpers::*;

#[tokio::test]
async fn the_sqlite_database_and_its_wal_are_private() {
    let app = TestApp::spawn().await;
    if app.db.is_postgres() {
        return;
    }
    // Write something so the WAL certainly exists.
    app.register_twilio("SM-private").await;
    let path = app.db.url.trim_start_matches("sqlite://").to_owned();
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file} is {mode:o}");
    }
}

/// Stops the machine's PostgreSQL cluster (`main`, or the one named by
/// SMSTRAIL_TEST_PG_CLUSTER, e.g. a private one on another port); starts it
/// again when dropped, so a failing test never leaves the server down.
struct StoppedPostgres {
    version: String,
    cluster: String,
    running: bool,
}

impl StoppedPostgres {
    fn stop() -> Self {
        let version = std::fs::read_dir("/etc/postgresql")
            .ok()
            .and_then(|mut dir| dir.next())
            .and_then(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .expect("a PostgreSQL cluster under /etc/postgresql");
        let cluster = std::env::var("SMSTRAIL_TEST_PG_CLUSTER")
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "main".to_owned());
        let mut cluster = Self {
            version,
            cluster,
            running: true,
        };
        cluster.pg_ctl("stop");
        cluster.running = false;
        cluster
    }

    fn start(&mut self) {
        if !self.running {
            self.pg_ctl("start");
            self.running = true;
        }
    }

    fn pg_ctl(&self, action: &str) {
        let mut command = std::process::Command::new("pg_ctlcluster");
        command.args([
            "--skip-systemctl-redirect",
            &self.version,
            &self.cluster,
            action,
        ]);
        if action == "stop" {
            command.args(["-m", "fast"]);
        }
        let status = command.status().expect("run pg_ctlcluster");
        assert!(status.success(), "pg_ctlcluster {action} failed");
    }
}

impl Drop for StoppedPostgres {
    fn drop(&mut self) {
        self.start();
    }
}

fn postgres_restart_allowed(app: &TestApp) -> bool {
    if std::env::var("SMSTRAIL_TEST_PG_RESTART").as_deref() != Ok("1") || !app.db.is_postgres() {
        eprintln!(
            "skipped: stopping PostgreSQL disturbs every other test; \
             run with SMSTRAIL_TEST_PG_RESTART=1 and SMSTRAIL_TEST_POSTGRES_URL"
        );
        return false;
    }
    true
}

#[tokio::test]
async fn postgresql_going_away_answers_503_fast_and_writes_resume_when_it_returns() {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let app = TestApp::spawn_with(&[("SMSTRAIL_DB_TIMEOUT", "2s")]).await;
    if !postgres_restart_allowed(&app) {
        return;
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    assert_eq!(
        app.twilio_status("SM-before", "delivered").await.status(),
        reqwest::StatusCode::OK
    );

    // Callback load through the whole outage: every answer is recorded.
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let slowest = Arc::new(Mutex::new(Duration::ZERO));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (client, base) = (client.clone(), app.base.clone());
        let (acknowledged, slowest, stop) = (acknowledged.clone(), slowest.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let sid = format!("SM-outage-{worker}-{n}");
                let started = Instant::now();
                let response = signed_status(&client, &base, &sid, "delivered")
                    .send()
                    .await
                    .expect("the server answers");
                let took = started.elapsed();
                let status = response.status();
                assert!(
                    status.is_success() || status == reqwest::StatusCode::SERVICE_UNAVAILABLE,
                    "{sid}: {status}"
                );
                if status.is_success() {
                    acknowledged.lock().unwrap().insert(sid);
                } else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let mut slowest = slowest.lock().unwrap();
                *slowest = (*slowest).max(took);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut postgres = StoppedPostgres::stop();
    let stopped_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let ready = client.get(app.url("/readyz")).send().await.expect("readyz");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/readyz took {:?}",
        started.elapsed()
    );
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let during = acknowledged.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        acknowledged.lock().unwrap().len(),
        during,
        "nothing is acknowledged while the database is away"
    );
    let slowest_down = *slowest.lock().unwrap();
    assert!(
        slowest_down < Duration::from_secs(6),
        "a callback waited {slowest_down:?} while PostgreSQL was down {:?}",
        stopped_at.elapsed()
    );

    postgres.start();
    // Writes resume by themselves: fresh callbacks are acknowledged again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < during + 50 {
        assert!(Instant::now() < deadline, "writes did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("worker");
    }
    let ready = client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), reqwest::StatusCode::OK);

    let stored: BTreeSet<String> = app
        .db
        .strings("SELECT provider_message_id FROM message_events")
        .await
        .into_iter()
        .collect();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}

/// Opens a connection that sends `prefix` and then nothing more.
async fn stalled(base: &str, prefix: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream
        .write_all(prefix.as_bytes())
        .await
        .expect("send the prefix");
    stream
}

/// Whether the server closed the connection (after answering or not)
/// within `limit`.
async fn closed_within(mut stream: tokio::net::TcpStream, limit: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut sink = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut sink))
        .await
        .is_ok()
}

#[tokio::test]
async fn slow_clients_are_cut_off_while_normal_requests_get_through() {
    use std::time::{Duration, Instant};
    let app = TestApp::spawn_with(&[
        ("SMSTRAIL_HEADER_READ_TIMEOUT", "1s"),
        ("SMSTRAIL_BODY_READ_TIMEOUT", "1s"),
    ])
    .await;
    let mut sockets = Vec::new();
    for n in 0..300 {
        let prefix = if n % 2 == 0 {
            // Headers that never end.
            "POST /webhooks/twilio/status HTTP/1.1\r\nHost: x\r\nX-Twilio-Sig".to_owned()
        } else {
            // Headers, then a body that never comes.
            "POST /webhooks/twilio/status HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 60000\r\n\r\nMessageSid=SM"
                .to_owned()
        };
        sockets.push(stalled(&app.base, &prefix).await);
    }
    // A body sent one byte at a time, each byte well inside any per-read
    // timeout: only a deadline on the whole body ends it.
    let dribbler = tokio::spawn({
        let base = app.base.clone();
        async move {
            use tokio::io::AsyncWriteExt;
            let mut stream = stalled(
                &base,
                "POST /webhooks/twilio/status HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n",
            )
            .await;
            let started = Instant::now();
            while stream.write_all(b"a").await.is_ok()
                && started.elapsed() < Duration::from_secs(10)
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            started.elapsed()
        }
    });

    // Meanwhile the service answers everyone else at once.
    for _ in 0..20 {
        let started = Instant::now();
        let response = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    app.register_twilio("SM-slow-neighbours").await;
    assert_eq!(
        app.twilio_status("SM-slow-neighbours", "delivered")
            .await
            .status(),
        reqwest::StatusCode::OK
    );

    // And the stalled ones are cut off after their deadline.
    let closed = futures_all(
        sockets
            .into_iter()
            .map(|s| closed_within(s, Duration::from_secs(5))),
    )
    .await;
    let open = closed.iter().filter(|closed| !**closed).count();
    assert_eq!(open, 0, "{open} of 300 stalled connections still open");
    let dribbled = dribbler.await.expect("dribbler");
    assert!(
        dribbled < Duration::from_secs(5),
        "a body dribbled for {dribbled:?}"
    );
}

async fn futures_all<F: std::future::Future<Output = bool> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<bool> {
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap_or(false));
    }
    out
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    use std::time::{Duration, Instant};
    let app = TestApp::spawn_with(&[
        ("SMSTRAIL_HEADER_READ_TIMEOUT", "1s"),
        ("SMSTRAIL_MAX_CONNECTIONS", "5"),
    ])
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(stalled(&app.base, "GET /healthz HTTP/1.1\r\nHo").await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The sixth is served only once the header deadline freed a slot.
    let started = Instant::now();
    let response = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
        "waited {waited:?}"
    );
    drop(held);
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("mount -t tmpfs failed (needs root)".to_owned());
        }
        Ok(Self { dir })
    }

    /// Writes a file until the file system is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.flush();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_answers_503_and_writing_resumes_when_space_returns() {
    use std::time::{Duration, Instant};
    if std::env::var("SMSTRAIL_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        return; // a SQLite matter
    }
    let disk = match SmallDisk::mount("8m") {
        Ok(disk) => disk,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let url = format!("sqlite://{}/smstrail.db", disk.dir.path().display());
    let app = TestApp::spawn_with(&[
        ("SMSTRAIL_DATABASE_URL", &url),
        ("SMSTRAIL_DB_TIMEOUT", "2s"),
    ])
    .await;
    let id = app.register_twilio("SM-full").await;
    let filler = disk.fill();

    let mut refused = 0;
    for n in 0..20 {
        let started = Instant::now();
        let response = app.twilio_status(&format!("SM-full-{n}"), "sent").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a callback hung"
        );
        let status = response.status();
        assert!(
            status == reqwest::StatusCode::SERVICE_UNAVAILABLE,
            "a callback on a full disk was answered {status}"
        );
        refused += 1;
    }
    assert_eq!(refused, 20);

    std::fs::remove_file(filler).expect("free the space");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = app.twilio_status("SM-full", "delivered").await;
        if response.status() == reqwest::StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "writing did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.status_of(&id).await, "delivered");
}

/// Runs the binary with `format`, sends `refusals` forged callbacks and
/// returns its log.
async fn log_of_forged_callbacks(format: &str, refusals: usize) -> String {
    let db = TestDb::fresh().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut server = start_server(
        &db,
        port,
        &[("SMSTRAIL_LOG", "info"), ("SMSTRAIL_LOG_FORMAT", format)],
        std::process::Stdio::from(log.reopen().expect("reopen")),
    );
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    let params = owned(&twilio_status_params("SM-forged", "delivered"));
    for _ in 0..refusals {
        let refused = client
            .post(format!("{base}/webhooks/twilio/status"))
            .header("X-Twilio-Signature", "forged")
            .form(&params)
            .send()
            .await
            .expect("request");
        assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
    let _ = server.kill();
    let _ = server.wait();
    std::fs::read_to_string(log.path()).expect("read log")
}

#[tokio::test]
async fn logs_have_no_colour_codes_json_on_request_and_refusals_do_not_flood() {
    let text = log_of_forged_callbacks("text", 1).await;
    assert!(!text.contains('\u{1b}'), "colour codes in a file:\n{text}");

    let json = log_of_forged_callbacks("json", 200).await;
    assert!(!json.contains('\u{1b}'), "colour codes in a file:\n{json}");
    for line in json.lines().filter(|line| !line.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
    }
    let refusal_lines = json
        .lines()
        .filter(|l| l.contains("callback refused"))
        .count();
    assert_eq!(refusal_lines, 1, "200 refusals logged as:\n{json}");
}
