//! The support UI in a real browser: headless Debian Chromium driven over
//! WebDriver. Walks the README's path end to end — first-run setup link,
//! admin adds an agent and grants reveal, the agent logs in through the
//! form, searches by a formatted phone number, opens the timeline, copies
//! the message id, reveals with a reason — and the admin then finds the
//! reveal in the audit log, then the review queue. It also takes the
//! README's screenshot. Two shorter walks: a user's page opened from a
//! message and filtered, and the reveal of a number that only wrote to us.
//! The dashboards have their own walk ([`dashboards`]).
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (`apt-get install -y
//! chromium chromium-driver`; `.ci/run` installs them). Other paths:
//! SMSTRAIL_TEST_CHROMIUM and SMSTRAIL_TEST_CHROMEDRIVER.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;

use crate::helpers::{TestApp, free_port};

mod dashboards;

const ADMIN: &str = "admin@example.com";
const AGENT: &str = "agent@example.com";
const ADMIN_PASSWORD: &str = "admin passphrase 2026";
const AGENT_PASSWORD: &str = "agent passphrase 2026";

fn tool(variable: &str, default: &str) -> String {
    let path = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: install Debian's chromium and chromium-driver \
         (apt-get install -y chromium chromium-driver) or set {variable}"
    );
    path
}

/// chromedriver for one test, killed with it.
struct Driver {
    process: Child,
    url: String,
    _profile: tempfile::TempDir,
    profile_path: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let process = Command::new(tool("SMSTRAIL_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile folder");
        let driver = Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
            profile_path: profile.path().to_owned(),
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::Client::new();
        while client
            .get(format!("{}/status", driver.url))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    async fn browser(&self) -> WebDriver {
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&tool("SMSTRAIL_TEST_CHROMIUM", "/usr/bin/chromium"))
            .expect("binary");
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1700",
        ] {
            caps.add_arg(arg).expect("arg");
        }
        caps.add_arg(&format!("--user-data-dir={}", self.profile_path.display()))
            .expect("profile arg");
        WebDriver::new(&self.url, caps)
            .await
            .expect("start chromium")
    }
}

/// Polls until the element's text contains `expected` (pages load after a
/// click at their own pace).
async fn wait_for_text(browser: &WebDriver, css: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(element) = browser.find(By::Css(css)).await
            && let Ok(text) = element.text().await
            && text.contains(expected)
        {
            return text;
        }
        if Instant::now() > deadline {
            let url = browser
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = browser.source().await.unwrap_or_default();
            panic!("{css:?} never showed {expected:?} on {url}:\n{source}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Saves what the browser shows into target/screenshots/, for people
/// looking at a run (and at a failure).
async fn snapshot(browser: &WebDriver, name: &str) -> PathBuf {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&folder).expect("screenshot folder");
    let path = folder.join(format!("{name}.png"));
    browser.screenshot(&path).await.expect("screenshot");
    path
}

/// A snapshot that the README shows: also copied to tests/screenshots/
/// when SMSTRAIL_UPDATE_SCREENSHOTS is set.
async fn readme_snapshot(browser: &WebDriver, name: &str) {
    let shot = snapshot(browser, name).await;
    if std::env::var_os("SMSTRAIL_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/screenshots")
            .join(format!("{name}.png"));
        std::fs::create_dir_all(docs.parent().expect("docs")).expect("docs folder");
        std::fs::copy(&shot, docs).expect("copy screenshot");
    }
}

async fn fill(browser: &WebDriver, css: &str, text: &str) {
    let field = browser.find(By::Css(css)).await.expect(css);
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn submit(browser: &WebDriver, form: &str) {
    browser
        .find(By::Css(format!("{form} button[type=submit]")))
        .await
        .expect(form)
        .click()
        .await
        .expect("submit");
}

async fn log_in(browser: &WebDriver, base: &str, email: &str, password: &str) {
    browser
        .goto(format!("{base}/login"))
        .await
        .expect("login page");
    fill(browser, "input[name=email]", email).await;
    fill(browser, "input[name=password]", password).await;
    submit(browser, "form[action='/login']").await;
    wait_for_text(browser, "header .who", email).await;
}

async fn log_out(browser: &WebDriver) {
    submit(browser, "form[action='/logout']").await;
    wait_for_text(browser, "h1", "Log in").await;
}

/// A message with a realistic timeline: queued, sent, delivered (twice).
async fn seed_message(app: &TestApp) -> String {
    let response = app
        .register(&json!({
            "idempotency_key": "browser-1",
            "to": "+14155550100",
            "provider": "twilio",
            "provider_message_id": "SMbrowser0001",
            "sender_identity": "+14155550999",
            "sender_type": "long_code",
            "template_key": "otp_login",
            "use_case": "otp",
            "user_ref": "user-42",
            "recipient_timezone": "America/Los_Angeles",
            "product_action": {"kind": "login", "ref": "login-7781", "url": "https://admin.example.com/logins/7781"}
        }))
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let id = response.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The last one is a status Twilio never documented: it waits for review.
    for status in ["queued", "sent", "delivered", "delivered", "teleported"] {
        assert!(
            app.twilio_status("SMbrowser0001", status)
                .await
                .status()
                .is_success()
        );
    }
    id
}

#[tokio::test]
async fn an_agent_finds_a_message_copies_its_id_and_reveals_the_number() {
    let app = TestApp::spawn().await;
    let message_id = seed_message(&app).await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    let base = app.base.clone();
    let outcome = async {
        // First run: the setup link makes the first admin.
        let link = smstrail::auth::setup::issue_link_if_needed(
            &app.state.store,
            &base,
            chrono::Utc::now().timestamp_micros(),
        )
        .await
        .expect("store")
        .expect("a link while no user exists");
        browser.goto(&link).await.expect("setup page");
        fill(&browser, "input[name=email]", ADMIN).await;
        fill(&browser, "input[name=password]", ADMIN_PASSWORD).await;
        fill(&browser, "input[name=password_confirm]", ADMIN_PASSWORD).await;
        submit(&browser, "form[action='/setup']").await;
        wait_for_text(&browser, "h1", "Users").await;

        // The admin adds an agent and grants them reveal rights.
        let add = "form[action='/admin/users']";
        fill(&browser, &format!("{add} input[name=email]"), AGENT).await;
        fill(&browser, &format!("{add} input[name=password]"), AGENT_PASSWORD).await;
        submit(&browser, add).await;
        wait_for_text(&browser, ".notice", "Added agent@example.com as support").await;
        snapshot(&browser, "admin-users").await;

        browser.goto(format!("{base}/admin/grants")).await.expect("grants");
        let user = browser.find(By::Css("select[name=user_id]")).await.expect("user select");
        SelectElement::new(&user).await.expect("select").select_by_exact_text(AGENT).await.expect("pick agent");
        fill(&browser, "form[action='/admin/grants'] input[name=reason]", "SUP-1234 number check").await;
        submit(&browser, "form[action='/admin/grants']").await;
        wait_for_text(&browser, ".notice", "may reveal numbers until").await;
        log_out(&browser).await;

        // The agent logs in through the form and searches by a formatted number.
        log_in(&browser, &base, AGENT, AGENT_PASSWORD).await;
        fill(&browser, "input[name=q]", "+1 (415) 555-0100").await;
        submit(&browser, "form.search").await;
        wait_for_text(&browser, "#matched", "Searched by phone number +1 •••• ••0100").await;
        snapshot(&browser, "search").await;
        browser
            .find(By::Css(format!("a[href='/messages/{message_id}']")))
            .await
            .expect("result row")
            .click()
            .await
            .expect("open message");

        // The timeline, masked.
        wait_for_text(&browser, "#recipient", "+1 •••• ••0100").await;
        wait_for_text(&browser, "#current-status", "delivered").await;
        wait_for_text(&browser, "#timeline", "received 2 times").await;
        wait_for_text(&browser, "#grant-state", "You may reveal numbers until").await;
        let page = browser.source().await.expect("source");
        assert!(!page.contains("4155550100"), "the number leaked into the page");

        // Copy the message id: the button confirms, and the clipboard holds it.
        let copy = browser
            .find(By::Css(format!("button[data-copy='{message_id}']")))
            .await
            .expect("copy button");
        copy.click().await.expect("copy");
        let deadline = Instant::now() + Duration::from_secs(5);
        while copy.text().await.expect("label") != "Copied" {
            assert!(Instant::now() < deadline, "the copy button never confirmed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pasted = browser
            .execute(
                "const area = document.createElement('textarea'); document.body.appendChild(area); \
                 area.focus(); document.execCommand('paste'); const text = area.value; area.remove(); \
                 return text;",
                Vec::new(),
            )
            .await
            .expect("paste")
            .convert::<String>()
            .unwrap_or_default();
        if !pasted.is_empty() {
            assert_eq!(pasted, message_id, "the clipboard holds another text");
        }

        // The README's screenshot, taken before anything is revealed.
        readme_snapshot(&browser, "message-page").await;

        // Reveal with a reason: the full number, in this response only.
        fill(&browser, "form[action$='/reveal'] input[name=reason]", "SUP-1234 user asks which number").await;
        submit(&browser, "form[action$='/reveal']").await;
        wait_for_text(&browser, "#recipient", "+14155550100").await;
        browser.goto(format!("{base}/messages/{message_id}")).await.expect("reload");
        wait_for_text(&browser, "#recipient", "+1 •••• ••0100").await;
        log_out(&browser).await;

        // The admin sees the reveal in the audit log.
        log_in(&browser, &base, ADMIN, ADMIN_PASSWORD).await;
        browser.goto(format!("{base}/admin/audit?action=reveal")).await.expect("audit");
        let row = wait_for_text(&browser, "table.audit tbody tr.audit-reveal", AGENT).await;
        assert!(row.contains("SUP-1234 user asks which number"), "{row}");
        assert!(row.contains(&message_id), "{row}");
        snapshot(&browser, "audit-log").await;

        // The unknown status waits in the review queue, its payload masked.
        browser.goto(format!("{base}/review")).await.expect("review");
        let group = wait_for_text(&browser, "table.review tr.review-group", "teleported").await;
        assert!(!group.contains("4155550100"), "{group}");
        snapshot(&browser, "review-queue").await;
    }
    .await;
    browser.quit().await.expect("quit");
    outcome
}

/// A fresh browser logged in as a new support agent (made in the store; the
/// add-user form has its own walkthrough above).
async fn agent_browser(app: &TestApp, driver: &Driver) -> WebDriver {
    app.user(AGENT, "support").await;
    let browser = driver.browser().await;
    log_in(&browser, &app.base, AGENT, crate::ui_helpers::PASSWORD).await;
    browser
}

async fn twilio_inbound(app: &TestApp, sid: &str, from: &str, body: &str) {
    let response = app
        .twilio(
            "inbound",
            &[
                ("MessageSid", sid),
                ("AccountSid", "AC123"),
                ("From", from),
                ("To", "+15017122661"),
                ("Body", body),
            ],
        )
        .await;
    assert!(response.status().is_success());
}

#[tokio::test]
async fn an_agent_opens_a_users_page_from_a_message_and_filters_it() {
    let app = TestApp::spawn().await;
    let message_id = seed_message(&app).await;
    twilio_inbound(&app, "SMbrowser-in-1", "+14155550100", "STOP").await;
    let verification = app
        .client
        .post(app.url("/api/v1/verifications"))
        .bearer_auth(crate::helpers::API_TOKEN)
        .json(&json!({"user_ref": "user-42", "message_id": message_id}))
        .send()
        .await
        .expect("verification");
    assert_eq!(verification.status(), reqwest::StatusCode::CREATED);
    let driver = Driver::start().await;
    let browser = agent_browser(&app, &driver).await;
    let base = app.base.clone();
    let outcome = async {
        browser
            .goto(format!("{base}/messages/{message_id}"))
            .await
            .expect("message page");
        browser
            .find(By::Id("user-link"))
            .await
            .expect("user link")
            .click()
            .await
            .expect("open user");
        wait_for_text(&browser, "#user-ref", "user-42").await;
        let timeline = wait_for_text(&browser, "#user-timeline", "stop").await;
        assert!(timeline.contains(&message_id), "{timeline}");
        assert!(timeline.contains("requested"), "{timeline}");
        assert!(timeline.contains("+1 •••• ••0100"), "{timeline}");
        let page = browser.source().await.expect("source");
        assert!(
            !page.contains("4155550100"),
            "the number leaked into the page"
        );
        snapshot(&browser, "user-page").await;

        // Only the replies, through the link…
        browser
            .find(By::Css("a[data-stream=inbound]"))
            .await
            .expect("inbound link")
            .click()
            .await
            .expect("filter");
        // Filtered pages offer the way back to everything.
        wait_for_text(&browser, "#show-all", "everything").await;
        let rows = browser
            .find_all(By::Css("#user-timeline tbody tr"))
            .await
            .expect("rows");
        assert_eq!(rows.len(), 1, "only the STOP");
        // …and messages only, through the boxes.
        browser
            .find(By::Css("input[name=inbound]"))
            .await
            .expect("box")
            .click()
            .await
            .expect("untick");
        browser
            .find(By::Css("input[name=messages]"))
            .await
            .expect("box")
            .click()
            .await
            .expect("tick");
        submit(&browser, "form.user-filter").await;
        wait_for_text(&browser, "#user-timeline", "otp_login").await;
        let rows = browser
            .find_all(By::Css("#user-timeline tbody tr.stream-messages"))
            .await
            .expect("rows");
        let others = browser
            .find_all(By::Css("#user-timeline tbody tr:not(.stream-messages)"))
            .await
            .expect("rows");
        assert_eq!((rows.len(), others.len()), (1, 0));
    }
    .await;
    browser.quit().await.expect("quit");
    outcome
}

#[tokio::test]
async fn an_agent_reveals_a_number_that_only_wrote_to_us() {
    let app = TestApp::spawn().await;
    twilio_inbound(&app, "SMbrowser-in-2", "+14155550177", "STOP").await;
    let driver = Driver::start().await;
    let browser = agent_browser(&app, &driver).await;
    let admin = app.user(ADMIN, "admin").await;
    let agent = app
        .state
        .store
        .user_by_email(AGENT)
        .await
        .expect("store")
        .expect("agent");
    app.grant(&agent, &admin, 1).await;
    let base = app.base.clone();
    let outcome = async {
        fill(&browser, "input[name=q]", "+1 (415) 555-0177").await;
        submit(&browser, "form.search").await;
        wait_for_text(&browser, "#opt-out-state", "opted out").await;
        wait_for_text(&browser, "#number", "+1 •••• ••0177").await;
        let url = browser.current_url().await.expect("url").to_string();
        assert!(url.starts_with(&format!("{base}/numbers/")), "{url}");
        assert!(!url.contains("4155550177"), "{url}");
        assert!(
            !browser
                .source()
                .await
                .expect("source")
                .contains("4155550177")
        );
        snapshot(&browser, "number-page").await;

        fill(
            &browser,
            "form[action$='/reveal'] input[name=reason]",
            "SUP-77 why did texts stop",
        )
        .await;
        submit(&browser, "form[action$='/reveal']").await;
        wait_for_text(&browser, "#number", "+14155550177").await;
        browser.goto(&url).await.expect("reload");
        wait_for_text(&browser, "#number", "+1 •••• ••0177").await;

        let reveals = app.db.audit("reveal").await;
        assert_eq!(reveals.len(), 1);
        assert_eq!(
            reveals[0].reason.as_deref(),
            Some("SUP-77 why did texts stop")
        );
        assert!(
            reveals[0]
                .target
                .as_deref()
                .is_some_and(|t| t.starts_with("number "))
        );
    }
    .await;
    browser.quit().await.expect("quit");
    outcome
}
