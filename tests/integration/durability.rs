//! What a 2xx promises: committed, whole, and surviving a crash.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;

const SQLITE_REFUSE: &str = "CREATE TRIGGER refuse_updates BEFORE UPDATE ON messages \
    BEGIN SELECT RAISE(ABORT, 'refused by test'); END;";
const POSTGRES_REFUSE: &str = "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
    $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$; \
    CREATE TRIGGER refuse_updates BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION refuse();";
const DROP_REFUSE: &str = "DROP TRIGGER refuse_updates";
const POSTGRES_DROP_REFUSE: &str = "DROP TRIGGER refuse_updates ON messages";

#[tokio::test]
async fn storage_failure_answers_503_and_writes_nothing_half() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-refused").await;
    // The database itself refuses the summary update, after the event insert
    // in the same transaction succeeded: the event must not survive alone.
    let (refuse, allow) = if app.db.is_postgres() {
        (POSTGRES_REFUSE, POSTGRES_DROP_REFUSE)
    } else {
        (SQLITE_REFUSE, DROP_REFUSE)
    };
    app.db.execute(refuse).await;

    let response = app.twilio_status("SM-refused", "delivered").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "storage_unavailable");
    assert!(
        !body.to_string().contains("refused by test"),
        "no internal detail leaks"
    );
    assert_eq!(app.db.count("message_events").await, 0);

    // The provider retries once the database is healthy again: stored once.
    app.db.execute(allow).await;
    assert_eq!(
        app.twilio_status("SM-refused", "delivered").await.status(),
        StatusCode::OK
    );
    assert_eq!(app.status_of(&id).await, "delivered");
    assert_eq!(app.event_count(&id).await, 1);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"outcome="storage_error"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_failing_item_does_not_fail_its_batch_neighbours() {
    let app = TestApp::spawn().await;
    app.register_twilio("SM-poisoned").await;
    let healthy = app.register_twilio("SM-healthy").await;
    // Refuse updates of one message only.
    let refuse = if app.db.is_postgres() {
        "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF OLD.provider_message_id = 'SM-poisoned' THEN RAISE EXCEPTION 'refused'; END IF; \
         RETURN NEW; END $$; CREATE TRIGGER refuse_one BEFORE UPDATE ON messages \
         FOR EACH ROW EXECUTE FUNCTION refuse_one();"
    } else {
        "CREATE TRIGGER refuse_one BEFORE UPDATE ON messages WHEN OLD.provider_message_id = 'SM-poisoned' \
         BEGIN SELECT RAISE(ABORT, 'refused'); END;"
    };
    app.db.execute(refuse).await;
    let (bad, good) = tokio::join!(
        app.twilio_status("SM-poisoned", "delivered"),
        app.twilio_status("SM-healthy", "delivered"),
    );
    assert_eq!(bad.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(good.status(), StatusCode::OK);
    assert_eq!(app.status_of(&healthy).await, "delivered");
}

async fn stored_message_ids(db: &TestDb) -> BTreeSet<String> {
    db.strings("SELECT provider_message_id FROM message_events")
        .await
        .into_iter()
        .collect()
}

#[tokio::test]
async fn every_acknowledged_callback_survives_kill_dash_nine() {
    let db = TestDb::fresh().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start_server(&db, port, &[], std::process::Stdio::null());
    wait_ready(&client, &base).await;

    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let mut workers = Vec::new();
    for worker in 0..16 {
        let (client, base, acknowledged) = (client.clone(), base.clone(), acknowledged.clone());
        workers.push(tokio::spawn(async move {
            for n in 0..10_000 {
                let sid = format!("SM-crash-{worker}-{n}");
                let sent = signed_status(&client, &base, &sid, "delivered")
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        acknowledged.lock().unwrap().insert(sid);
                    }
                    _ => break, // the server is gone
                }
            }
        }));
    }
    // Kill while the load is running, once a good number were acknowledged.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 500 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9");
    let _ = server.wait();
    for worker in workers {
        let _ = worker.await;
    }

    let mut restarted = start_server(&db, port, &[], std::process::Stdio::null());
    wait_ready(&client, &base).await;
    let stored = stored_message_ids(&db).await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 500,
        "the load ran ({} acknowledged)",
        acknowledged.len()
    );
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged callbacks lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    let _ = restarted.kill();
    let _ = restarted.wait();
}
