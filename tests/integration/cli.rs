//! The binary's command line and start-up checks (CONTRACT §1).

use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;

use crate::helpers::*;

fn smstrail(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smstrail"))
        .args(args)
        .env_clear()
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .output()
        .expect("run smstrail")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn unknown_keys_and_bad_values_stop_start_up_naming_the_key() {
    let db = TestDb::fresh().await;
    let mut env = test_env(&db);
    env.push(("SMSTRAIL_TWILIO_AUTH_TOKN".into(), "x".into()));
    let output = smstrail(&env, &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("SMSTRAIL_TWILIO_AUTH_TOKN"),
        "{}",
        stderr(&output)
    );

    let mut env = test_env(&db);
    env.push(("SMSTRAIL_BIND".into(), "not-an-address".into()));
    let output = smstrail(&env, &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("bind"), "{}", stderr(&output));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smstrail.toml");
    std::fs::write(&file, "databse_url = \"sqlite://x.db\"\n").unwrap();
    let output = smstrail(
        &test_env(&db),
        &["--config", file.to_str().unwrap(), "migrate"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("databse_url"),
        "{}",
        stderr(&output)
    );
}

/// The binary serving `db` at debug level, its log in a file; ready.
async fn start_logging_server(
    db: &TestDb,
) -> (std::process::Child, String, tempfile::NamedTempFile) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = start_server(
        db,
        port,
        &[("SMSTRAIL_LOG", "debug")],
        Stdio::from(log.reopen().unwrap()),
    );
    wait_ready(&reqwest::Client::new(), &base).await;
    (server, base, log)
}

#[tokio::test]
async fn logs_hold_no_secrets_or_numbers_and_sigterm_drains_then_exits() {
    let db = TestDb::fresh().await;
    let (mut server, base, log) = start_logging_server(&db).await;
    let client = reqwest::Client::new();

    let params = owned(&twilio_status_params("SM-log", "delivered"));
    let refused = client
        .post(format!("{base}/webhooks/twilio/status"))
        .header("X-Twilio-Signature", "bogus")
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // Requests in flight when SIGTERM arrives are answered, then the process exits 0.
    let in_flight: Vec<_> = (0..50)
        .map(|_| tokio::spawn(signed_status(&client, &base, "SM-log", "delivered").send()))
        .collect();
    let pid = nix::unistd::Pid::from_raw(server.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    for answer in in_flight {
        // Either answered in full before the listener closed, or never accepted.
        if let Ok(response) = answer.await.unwrap() {
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");

    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(text.contains("shutting down"), "{text}");
    for secret in [
        TWILIO_TOKEN,
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "4155550100",
        "5017122661",
    ] {
        assert!(!text.contains(secret), "{secret} in log:\n{text}");
    }
}

#[tokio::test]
async fn postgres_requires_an_explicit_data_key() {
    let env = vec![(
        "SMSTRAIL_DATABASE_URL".to_owned(),
        "postgres://nobody@127.0.0.1:1/none".to_owned(),
    )];
    let output = smstrail(&env, &["token", "create", "--name", "x"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("SMSTRAIL_DATA_KEY"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn unknown_subcommands_and_flags_are_usage_errors() {
    let output = smstrail(&[], &["fly"]);
    assert_eq!(output.status.code(), Some(2));
    let output = smstrail(&[], &["token", "create"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--name"), "{}", stderr(&output));
}

#[tokio::test]
async fn migrate_then_token_create_gives_a_working_api_token() {
    let app = TestApp::spawn().await;
    let env = test_env(&app.db);
    let migrated = smstrail(&env, &["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));

    let blank = smstrail(&env, &["token", "create", "--name", "  "]);
    assert!(!blank.status.success());
    assert!(stderr(&blank).contains("--name"));

    let created = smstrail(&env, &["token", "create", "--name", "checkout"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("smst_") && token.len() > 40, "{token}");

    let response = app
        .client
        .get(app.url("/api/v1/messages/none"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "the token authenticates"
    );
}

#[tokio::test]
async fn the_embedded_default_generates_its_data_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![(
        "SMSTRAIL_DATABASE_URL".to_owned(),
        format!("sqlite://{}/data/smstrail.db", dir.path().display()),
    )];
    assert!(
        smstrail(&env, &["token", "create", "--name", "a"])
            .status
            .success()
    );
    let key_file = dir.path().join("data").join("data.key");
    let first = std::fs::read_to_string(&key_file).unwrap();
    assert!(
        smstrail(&env, &["token", "create", "--name", "b"])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        first,
        "reused, not regenerated"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

fn smstrail_with_input(env: &[(String, String)], args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_smstrail"))
        .args(args)
        .env_clear()
        .envs(env.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run smstrail");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

#[tokio::test]
async fn first_start_prints_a_setup_link_until_user_add_makes_an_account() {
    let db = TestDb::fresh().await;
    let (mut server, base, log) = start_logging_server(&db).await;
    let client = reqwest::Client::new();

    let text = std::fs::read_to_string(log.path()).unwrap();
    let start = text.find("/setup?token=").expect("a setup link in the log");
    let path: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let setup = client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(setup.status(), StatusCode::OK);

    // Bad input: a clear error each time, and no account made.
    let env = test_env(&db);
    let add = |args: &[&str], input: &str| {
        let mut all = vec!["user", "add"];
        all.extend_from_slice(args);
        smstrail_with_input(&env, &all, input)
    };
    for (args, input, expected) in [
        (
            &["--email", "a@example.com", "--role", "root"][..],
            "long enough password\n",
            "--role",
        ),
        (
            &["--email", "not-an-email", "--role", "admin"][..],
            "long enough password\n",
            "--email",
        ),
        (
            &["--email", "a@example.com", "--role", "admin"][..],
            "short\n",
            "12 characters",
        ),
        (
            &["--email", "a@example.com", "--role", "admin"][..],
            "",
            "standard input",
        ),
    ] {
        let output = add(args, input);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let missing = smstrail(&env, &["user", "add", "--email", "a@example.com"]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));

    let added = add(
        &["--email", "Ops@Example.com", "--role", "admin"],
        "a long enough password\n",
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let again = add(
        &["--email", "ops@example.com", "--role", "support"],
        "a long enough password\n",
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("exists already"),
        "{}",
        stderr(&again)
    );

    // An account exists: the link is dead, and the new admin logs in.
    let setup = client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(setup.status(), StatusCode::NOT_FOUND);
    let ui = crate::ui_helpers::UiClient::at(&base);
    ui.login("ops@example.com", "a long enough password").await;

    // A search by number and a refused reveal leave no number in the log.
    let token = smstrail(&env, &["token", "create", "--name", "log-check"]);
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let registered = client
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"idempotency_key": "log-1", "to": "+14155550100", "provider": "twilio"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let id = registered.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let found = ui.post_from("/", "/", &[("q", "+1 415 555 0100")]).await;
    assert!(found.body.contains(&id), "{}", found.body);
    let refused = ui
        .post_from(
            &format!("/messages/{id}"),
            &format!("/messages/{id}/reveal"),
            &[("reason", "check")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    server.kill().unwrap();
    server.wait().unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    for secret in [
        "4155550100",
        "555+0100",
        "555 0100",
        "a long enough password",
    ] {
        assert!(!text.contains(secret), "{secret} in log:\n{text}");
    }
}
