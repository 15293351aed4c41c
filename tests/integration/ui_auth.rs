//! The support UI's front door over real HTTP: the first-run setup link,
//! login and logout, session rotation, CSRF, the login throttle, sessions
//! ending when credentials change, and the headers and cookie flags.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, RETRY_AFTER};
use serde_json::json;
use smstrail::crypto::token_digest;

use crate::helpers::*;
use crate::ui_helpers::*;

const SESSION: &str = "smstrail_session";
const CSRF: &str = "smstrail_csrf";
/// The CSRF cookie's name under an https public URL (the tests' default).
const HOST_CSRF: &str = "__Host-smstrail_csrf";
const REFUSED: &str = "That email and password do not match an active account.";
const NEW_PASSWORD: &str = "a brand new passphrase here";

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A GET with nothing but `Cookie: smstrail_session=<value>`: a stolen or
/// remembered cookie replayed from somewhere else.
async fn replay(app: &TestApp, path: &str, session: &str) -> StatusCode {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    client
        .get(app.url(path))
        .header(COOKIE, format!("{SESSION}={session}"))
        .send()
        .await
        .expect("GET")
        .status()
}

async fn user_count(app: &TestApp) -> i64 {
    app.db.count("users").await
}

/// Logs in on `client` and returns the session cookie the login set.
async fn login_cookie(client: &UiClient, email: &str) -> String {
    let page = client
        .post("/login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.cookie_value(SESSION)
        .expect("login sets the session cookie")
}

// ---- the setup link -------------------------------------------------------

#[tokio::test]
async fn setup_link_creates_the_first_admin_and_logs_them_in() {
    let app = TestApp::spawn().await;
    let path = app.setup_path().await.expect("no users yet: a link");
    let client = UiClient::new(&app);

    let form = client.get(&path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("Create the first admin"));

    let token = path.split_once("token=").expect("token in link").1;
    // Two different passwords: refused, and the link still works afterwards.
    let mismatch = client
        .post_from(
            &path,
            "/setup",
            &[
                ("token", token),
                ("email", "first@example.com"),
                ("password", PASSWORD),
                ("password_confirm", "not the same passphrase"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mismatch.text().contains("The two passwords differ."));
    assert_eq!(user_count(&app).await, 0);

    let done = client
        .post_from(
            &path,
            "/setup",
            &[
                ("token", token),
                ("email", " First@Example.com "),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/admin/users"));

    // Logged in as the new admin, on the admin page.
    let users = client.get("/admin/users").await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.body.contains("first@example.com"));
    let roles = app
        .db
        .strings("SELECT email || ' ' || role FROM users")
        .await;
    assert_eq!(roles, ["first@example.com admin"]);

    let setup = app.db.audit("setup").await;
    assert_eq!(setup.len(), 1);
    assert_eq!(setup[0].actor_email.as_deref(), Some("first@example.com"));
    assert_eq!(setup[0].client_addr.as_deref(), Some("127.0.0.1"));

    // The account logs in again later with the password it chose.
    UiClient::new(&app)
        .login("first@example.com", PASSWORD)
        .await;
}

#[tokio::test]
async fn setup_link_works_only_once() {
    let app = TestApp::spawn().await;
    let path = app.setup_path().await.expect("a link");
    let token = path.split_once("token=").expect("token").1.to_owned();
    let first = UiClient::new(&app);
    let form = first.get(&path).await;
    let done = first
        .post_with_token(
            "/setup",
            &[
                ("token", &token),
                ("email", "first@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
            Some(&form.csrf()),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    // The same link again, by someone else: gone.
    let second = UiClient::new(&app);
    assert_eq!(second.get(&path).await.status, StatusCode::NOT_FOUND);
    let again = second
        .post(
            "/setup",
            &[
                ("token", &token),
                ("email", "intruder@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    assert_eq!(user_count(&app).await, 1);
    assert!(second.get("/admin/users").await.status == StatusCode::SEE_OTHER);
    assert_eq!(app.db.audit("setup").await.len(), 1);
}

#[tokio::test]
async fn expired_setup_link_is_refused() {
    let app = TestApp::spawn().await;
    let token = "expired-setup-token-for-the-test";
    let now = now_us();
    app.state
        .store
        .issue_setup_token(
            &token_digest(token),
            now - 2 * 3_600_000_000,
            now - 3_600_000_000,
        )
        .await
        .expect("issue");
    let client = UiClient::new(&app);
    let page = client.get(&format!("/setup?token={token}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text().contains("unknown, used or expired"));
    let post = client
        .post(
            "/setup",
            &[
                ("token", token),
                ("email", "late@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(post.status, StatusCode::NOT_FOUND, "{}", post.body);
    assert_eq!(user_count(&app).await, 0);

    // A token nobody issued, and no token at all.
    assert_eq!(
        client.get("/setup?token=made-up").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(client.get("/setup").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn setup_is_refused_once_a_user_exists() {
    let app = TestApp::spawn().await;
    app.user("admin@example.com", "admin").await;
    assert_eq!(app.setup_path().await, None, "no link once a user exists");

    // Even a fresh, unexpired token (issued behind the app's back) is refused.
    let token = "fresh-token-after-the-first-user";
    let now = now_us();
    app.state
        .store
        .issue_setup_token(&token_digest(token), now, now + 3_600_000_000)
        .await
        .expect("issue");
    let client = UiClient::new(&app);
    assert_eq!(
        client.get(&format!("/setup?token={token}")).await.status,
        StatusCode::NOT_FOUND
    );
    let post = client
        .post(
            "/setup",
            &[
                ("token", token),
                ("email", "second-admin@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(post.status, StatusCode::NOT_FOUND, "{}", post.body);
    assert_eq!(user_count(&app).await, 1);
    assert!(app.db.audit("setup").await.is_empty());
}

// ---- login and logout -----------------------------------------------------

#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same_and_are_audited() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);

    let unknown = client
        .post(
            "/login",
            &[("email", "nobody@example.com"), ("password", PASSWORD)],
        )
        .await;
    let wrong = client
        .post(
            "/login",
            &[
                ("email", "agent@example.com"),
                ("password", "wrong password!!"),
            ],
        )
        .await;
    for (case, page) in [("unknown email", &unknown), ("wrong password", &wrong)] {
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{case}");
        assert!(page.text().contains(REFUSED), "{case}: {}", page.body);
        assert!(page.cookie_value(SESSION).is_none(), "{case}: no session");
    }
    // Apart from the email typed back into the form, the two pages are equal.
    let strip = |page: &Page, email: &str| {
        let mut body = page.body.replace(email, "EMAIL");
        let marker = "name=\"authenticity_token\" value=\"";
        let token = page.csrf();
        body = body.replace(&format!("{marker}{token}"), marker);
        body
    };
    assert_eq!(
        strip(&unknown, "nobody@example.com"),
        strip(&wrong, "agent@example.com")
    );

    let failed = app.db.audit("login_failed").await;
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].actor_email.as_deref(), Some("nobody@example.com"));
    assert_eq!(failed[0].detail.as_deref(), Some("unknown email"));
    assert_eq!(failed[0].actor_id, None);
    assert_eq!(failed[1].actor_email.as_deref(), Some("agent@example.com"));
    assert_eq!(failed[1].detail.as_deref(), Some("wrong password"));
    assert!(failed[1].actor_id.is_some());
    for row in &failed {
        assert_eq!(row.client_addr.as_deref(), Some("127.0.0.1"));
        assert!(row.at_us > 0);
    }
    assert!(app.db.audit("login").await.is_empty());
    assert_eq!(
        client.get("/").await.location.as_deref(),
        Some("/login"),
        "still logged out"
    );
}

#[tokio::test]
async fn login_goes_to_next_and_drops_foreign_targets() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let anonymous = UiClient::new(&app);
    let bounced = anonymous.get("/settings").await;
    assert_eq!(bounced.status, StatusCode::SEE_OTHER);
    assert_eq!(bounced.location.as_deref(), Some("/login?next=%2Fsettings"));

    let client = UiClient::new(&app);
    let page = client
        .post(
            "/login",
            &[
                ("email", "Agent@Example.com"),
                ("password", PASSWORD),
                ("next", "/settings"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/settings"));
    let login = app.db.audit("login").await;
    assert_eq!(login.len(), 1);
    assert_eq!(login[0].client_addr.as_deref(), Some("127.0.0.1"));

    for foreign in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let other = UiClient::new(&app);
        let page = other
            .post(
                "/login",
                &[
                    ("email", "agent@example.com"),
                    ("password", PASSWORD),
                    ("next", foreign),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{foreign}");
        assert_eq!(page.location.as_deref(), Some("/"), "{foreign}");
    }
}

#[tokio::test]
async fn a_next_with_a_line_break_still_logs_in() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);
    // A link anyone can send: the login page carries its `next` into the form.
    let form = client.get("/login?next=%2F%0D%0ASet-Cookie:%20x=1").await;
    assert_eq!(form.status, StatusCode::OK);
    let page = client
        .post_with_token(
            "/login",
            &[
                ("email", "agent@example.com"),
                ("password", PASSWORD),
                ("next", "/\r\nSet-Cookie: x=1"),
            ],
            Some(&form.csrf()),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/"));
    assert_eq!(client.get("/").await.status, StatusCode::OK, "logged in");
}

#[tokio::test]
async fn login_rotates_the_session_id_and_the_old_one_stops_working() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);
    let first = login_cookie(&client, "agent@example.com").await;
    assert_eq!(replay(&app, "/", &first).await, StatusCode::OK);

    let second = login_cookie(&client, "agent@example.com").await;
    assert_ne!(first, second, "a login gets a new session id");
    assert_eq!(replay(&app, "/", &second).await, StatusCode::OK);
    assert_eq!(
        replay(&app, "/", &first).await,
        StatusCode::SEE_OTHER,
        "the pre-login id no longer authenticates"
    );
    assert_eq!(client.get("/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_is_post_only_and_ends_the_session() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);
    let cookie = login_cookie(&client, "agent@example.com").await;

    let get = client.get("/logout").await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        client.get("/").await.status,
        StatusCode::OK,
        "GET did nothing"
    );
    assert!(app.db.audit("logout").await.is_empty());

    let out = client.post_from("/", "/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(out.location.as_deref(), Some("/login"));
    assert_eq!(client.get("/").await.location.as_deref(), Some("/login"));
    assert_eq!(replay(&app, "/", &cookie).await, StatusCode::SEE_OTHER);

    let logout = app.db.audit("logout").await;
    assert_eq!(logout.len(), 1);
    assert_eq!(logout[0].actor_email.as_deref(), Some("agent@example.com"));
    assert_eq!(logout[0].client_addr.as_deref(), Some("127.0.0.1"));
}

// ---- CSRF -----------------------------------------------------------------

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_403_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);
    client.login("agent@example.com", PASSWORD).await;
    // Someone else's perfectly valid token, for their own cookie.
    let other = UiClient::new(&app);
    let foreign = other.get("/login").await.csrf();
    let own = client.get("/settings").await.csrf();
    assert_ne!(own, foreign);

    let zone = [("timezone", "Asia/Kolkata")];
    for (case, token) in [
        ("no token", None),
        ("garbage", Some("not-a-token")),
        ("empty", Some("")),
        ("another client's", Some(foreign.as_str())),
    ] {
        let page = client
            .post_with_token("/settings/timezone", &zone, token)
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{case}");
        assert!(page.text().contains("CSRF check failed"), "{case}");
        // A plain client without any cookie at all.
        let page = UiClient::new(&app)
            .post_with_token(
                "/login",
                &[("email", "agent@example.com"), ("password", PASSWORD)],
                token,
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "login, {case}");
        assert!(page.cookie_value(SESSION).is_none(), "login, {case}");
    }
    let zones = app.db.strings("SELECT timezone FROM users").await;
    assert_eq!(zones, ["UTC"]);
    assert!(app.db.audit("timezone_change").await.is_empty());
    assert_eq!(app.db.audit("login").await.len(), 1, "only the real login");
    assert_eq!(app.db.audit("login_failed").await.len(), 0);
    // Logout without a token does not log out.
    let out = client.post_with_token("/logout", &[], None).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    assert_eq!(client.get("/").await.status, StatusCode::OK);

    // The same request with this client's own token goes through.
    let page = client
        .post_with_token("/settings/timezone", &zone, Some(&own))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let zones = app.db.strings("SELECT timezone FROM users").await;
    assert_eq!(zones, ["Asia/Kolkata"]);
}

/// Issue 8, item 9: a token is good for the login it was shown in. With the
/// same CSRF cookie, a token from before a logout (another session) used to
/// pass the double-submit check.
#[tokio::test]
async fn a_csrf_token_from_another_session_is_refused() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);
    client.login("agent@example.com", PASSWORD).await;
    let old = client.get("/settings").await.csrf();
    let logout = client.post_from("/settings", "/logout", &[]).await;
    assert_eq!(logout.status, StatusCode::SEE_OTHER);
    client.login("agent@example.com", PASSWORD).await;

    let zone = [("timezone", "Asia/Kolkata")];
    let page = client
        .post_with_token("/settings/timezone", &zone, Some(&old))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.text().contains("CSRF check failed"));
    // A token shown before login does not work after it either.
    let anonymous = UiClient::new(&app);
    let before_login = anonymous.get("/login").await.csrf();
    anonymous.login("agent@example.com", PASSWORD).await;
    let page = anonymous
        .post_with_token("/settings/timezone", &zone, Some(&before_login))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(app.db.audit("timezone_change").await.is_empty());

    let fresh = client.get("/settings").await.csrf();
    let page = client
        .post_with_token("/settings/timezone", &zone, Some(&fresh))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // The page after a password change (a new login binding) still works.
    let changed = client
        .post_with_token(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another long passphrase"),
                ("new_password_confirm", "another long passphrase"),
            ],
            Some(&fresh),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let page = client
        .post_with_token(
            "/settings/timezone",
            &[("timezone", "UTC")],
            Some(&changed.csrf()),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
}

// ---- throttling -----------------------------------------------------------

fn retry_after(page: &Page) -> u64 {
    page.headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds")
}

#[tokio::test]
async fn login_is_throttled_per_account_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);
    for attempt in 1..=5 {
        let page = client
            .post(
                "/login",
                &[
                    ("email", "agent@example.com"),
                    ("password", "guess guess guess"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // Sixth: refused before the password is even looked at, in any spelling.
    for email in ["agent@example.com", " AGENT@example.com"] {
        let page = client
            .post("/login", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{email:?}");
        let wait = retry_after(&page);
        assert!((1..=20).contains(&wait), "Retry-After {wait}");
        assert!(page.text().contains(&format!("Wait {wait} seconds")));
        assert!(page.cookie_value(SESSION).is_none());
    }
    assert_eq!(client.get("/").await.status, StatusCode::SEE_OTHER);
    assert!(app.db.audit("login").await.is_empty());
    assert!(app.db.audit("login_failed").await.len() >= 5);

    // Another account from the same address is not held back.
    app.user("other@example.com", "support").await;
    UiClient::new(&app)
        .login("other@example.com", PASSWORD)
        .await;
}

/// Issue 8, item 7: the per-account budget used to be shared by every
/// address, so a stranger's wrong guesses locked the owner out.
#[tokio::test]
async fn a_stranger_guessing_cannot_lock_the_owner_out() {
    let app = TestApp::spawn_with(&[("SMSTRAIL_TRUSTED_PROXIES", "127.0.0.1")]).await;
    app.user("admin@example.com", "admin").await;
    let attacker = UiClient::from_address(&app, "198.51.100.7");
    let guess = [
        ("email", "admin@example.com"),
        ("password", "guess guess guess"),
    ];
    for attempt in 1..=5 {
        let page = attacker.post("/login", &guess).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // The attack is held back where it comes from ...
    let page = attacker.post("/login", &guess).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    // ... and the owner, with the right password from elsewhere, gets in.
    UiClient::from_address(&app, "203.0.113.9")
        .login("admin@example.com", PASSWORD)
        .await;
    assert_eq!(app.db.audit("login").await.len(), 1);
}

/// Issue 8, item 13: every IPv6 address of one /64 is one client.
#[tokio::test]
async fn ipv6_clients_are_throttled_by_their_64() {
    let app = TestApp::spawn_with(&[("SMSTRAIL_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let started = std::time::Instant::now();
    for n in 1..=20 {
        let page = UiClient::from_address(&app, &format!("2001:db8:1:2::{n:x}"))
            .post(
                "/login",
                &[
                    ("email", &format!("spray{n}@example.com")),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{n}");
    }
    // One attempt comes back every 3 s: on a busy machine the 20 hashed
    // attempts earn a few back, so spray on for as many as that can be.
    let mut extra = 0;
    let same_net = loop {
        let page = UiClient::from_address(&app, "2001:db8:1:2:ffff::1")
            .post(
                "/login",
                &[("email", "spray21@example.com"), ("password", PASSWORD)],
            )
            .await;
        if page.status != StatusCode::UNAUTHORIZED {
            break page;
        }
        extra += 1;
        assert!(
            extra <= started.elapsed().as_secs() / 3 + 1,
            "never throttled"
        );
    };
    assert_eq!(same_net.status, StatusCode::TOO_MANY_REQUESTS);
    let next_net = UiClient::from_address(&app, "2001:db8:1:3::1")
        .post(
            "/login",
            &[("email", "spray21@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(next_net.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_is_throttled_per_address_across_accounts() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);
    let started = std::time::Instant::now();
    for n in 1..=20 {
        let email = format!("spray{n}@example.com");
        let page = client
            .post("/login", &[("email", &email), ("password", PASSWORD)])
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{email}");
    }
    let mut extra = 0;
    let page = loop {
        let page = client
            .post(
                "/login",
                &[("email", "spray21@example.com"), ("password", PASSWORD)],
            )
            .await;
        if page.status != StatusCode::UNAUTHORIZED {
            break page;
        }
        extra += 1;
        assert!(
            extra <= started.elapsed().as_secs() / 3 + 1,
            "never throttled"
        );
    };
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=3).contains(&retry_after(&page)));
    // A real account from this address waits too.
    let page = client
        .post(
            "/login",
            &[("email", "agent@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.cookie_value(SESSION).is_none());
    assert!(app.db.audit("login_failed").await.len() >= 20);
    assert!(app.db.audit("login").await.is_empty());
}

// ---- sessions end when credentials change ----------------------------------

#[tokio::test]
async fn a_password_change_ends_the_other_session_but_not_this_one() {
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let here = UiClient::new(&app);
    let elsewhere = UiClient::new(&app);
    let here_before = login_cookie(&here, "agent@example.com").await;
    login_cookie(&elsewhere, "agent@example.com").await;

    let wrong = here
        .post_from(
            "/settings",
            "/settings/password",
            &[
                ("current_password", "not my password"),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().contains("The current password is wrong."));
    assert_eq!(elsewhere.get("/").await.status, StatusCode::OK);

    let changed = here
        .post_from(
            "/settings",
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert!(changed.text().contains("Password changed."));
    assert_eq!(here.get("/").await.status, StatusCode::OK, "this one lives");
    assert_eq!(
        elsewhere.get("/").await.location.as_deref(),
        Some("/login"),
        "the other one ended"
    );
    assert_eq!(replay(&app, "/", &here_before).await, StatusCode::SEE_OTHER);

    let audit = app.db.audit("password_change").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor_email.as_deref(), Some("agent@example.com"));
    assert_eq!(audit[0].client_addr.as_deref(), Some("127.0.0.1"));

    app.assert_login_refused("agent@example.com", PASSWORD)
        .await;
    UiClient::new(&app)
        .login("agent@example.com", NEW_PASSWORD)
        .await;
}

#[tokio::test]
async fn disabling_a_user_ends_their_session_and_their_logins() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    let (agent, agent_user) = app.logged_in("agent@example.com", "support").await;
    assert_eq!(agent.get("/").await.status, StatusCode::OK);

    let page = admin.user_action(&agent_user.id, "disable", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        agent.get("/").await.location.as_deref(),
        Some("/login"),
        "the open session ended at once"
    );
    let again = app
        .assert_login_refused("agent@example.com", PASSWORD)
        .await;
    assert!(
        again.text().contains(REFUSED),
        "same words as a wrong password"
    );
    let failed = app.db.audit("login_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail.as_deref(), Some("account disabled"));
    let disable = app.db.audit("user_disable").await;
    assert_eq!(disable.len(), 1);
    assert_eq!(disable[0].actor_email.as_deref(), Some("admin@example.com"));
    assert_eq!(disable[0].target.as_deref(), Some("agent@example.com"));
    assert_eq!(disable[0].client_addr.as_deref(), Some("127.0.0.1"));

    // Enabled again: a new login works (the old session stays dead).
    let page = admin.user_action(&agent_user.id, "enable", &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(agent.get("/").await.status, StatusCode::SEE_OTHER);
    agent.login("agent@example.com", PASSWORD).await;
    assert_eq!(agent.get("/").await.status, StatusCode::OK);
}

// ---- headers and cookies --------------------------------------------------

fn assert_page_headers(page: &Page, what: &str) {
    let header = |name: &str| {
        page.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_owned()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{what}: CSP {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: CSP {csp}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
}

fn cookie_flags(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|part| part.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn pages_send_the_security_headers_and_cookies_are_strict() {
    // The test default public URL is https.
    let app = TestApp::spawn().await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);
    let login_page = client.get("/login").await;
    assert_page_headers(&login_page, "login page");
    let csrf = login_page.set_cookie(HOST_CSRF).expect("CSRF cookie");
    // `__Host-`: Secure, for the whole site, and no subdomain may set it.
    let flags = cookie_flags(&csrf);
    assert!(flags.contains(&"path=/".to_owned()), "{csrf}");
    assert!(!flags.iter().any(|f| f.starts_with("domain")), "{csrf}");
    let login = client
        .post(
            "/login",
            &[("email", "agent@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_page_headers(&login, "login redirect");
    let session = login.set_cookie(SESSION).expect("session cookie");
    for line in [&csrf, &session] {
        let flags = cookie_flags(line);
        assert!(flags.contains(&"httponly".to_owned()), "{line}");
        assert!(flags.contains(&"samesite=strict".to_owned()), "{line}");
        assert!(flags.contains(&"secure".to_owned()), "{line}");
    }
    for path in ["/", "/settings", "/messages/nope", "/nope/nothing-here"] {
        let page = client.get(path).await;
        if path != "/nope/nothing-here" {
            assert_page_headers(&page, path);
        }
    }
    let anonymous = UiClient::new(&app).get("/admin/users").await;
    assert_page_headers(&anonymous, "login redirect for anonymous");
}

#[tokio::test]
async fn cookies_are_not_secure_under_a_plain_http_public_url() {
    let app = TestApp::spawn_with(&[("SMSTRAIL_PUBLIC_URL", "http://smstrail.example")]).await;
    app.user("agent@example.com", "support").await;
    let client = UiClient::new(&app);
    let csrf = client.get("/login").await.set_cookie(CSRF).expect("CSRF");
    let login = client
        .post(
            "/login",
            &[("email", "agent@example.com"), ("password", PASSWORD)],
        )
        .await;
    let session = login.set_cookie(SESSION).expect("session cookie");
    for line in [&csrf, &session] {
        let flags = cookie_flags(line);
        assert!(!flags.contains(&"secure".to_owned()), "{line}");
        assert!(flags.contains(&"httponly".to_owned()), "{line}");
        assert!(flags.contains(&"samesite=strict".to_owned()), "{line}");
    }
}

#[tokio::test]
async fn no_phone_number_reaches_a_cookie_or_the_audit_log() {
    let app = TestApp::spawn().await;
    let id = app
        .register_id(&json!({
            "idempotency_key": "k-private",
            "to": "+14155550100",
            "provider": "twilio",
            "provider_message_id": "SM-private",
        }))
        .await;
    let (admin, admin_user) = app.logged_in("admin@example.com", "admin").await;
    let (agent, agent_user) = app.logged_in("agent@example.com", "support").await;
    let mut set_cookies: Vec<String> = Vec::new();
    let mut collect = |page: &Page| {
        set_cookies.extend(
            page.headers
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned)),
        );
    };
    collect(
        &agent
            .post_from("/", "/", &[("q", "+1 (415) 555-0100")])
            .await,
    );
    collect(&agent.get(&format!("/messages/{id}")).await);
    let denied = agent
        .post_from(
            &format!("/messages/{id}"),
            &format!("/messages/{id}/reveal"),
            &[("reason", "ticket 77")],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    collect(&denied);
    app.grant(&agent_user, &admin_user, 1).await;
    let revealed = agent
        .post_from(
            &format!("/messages/{id}"),
            &format!("/messages/{id}/reveal"),
            &[("reason", "ticket 77")],
        )
        .await;
    assert_eq!(revealed.status, StatusCode::OK);
    assert!(revealed.body.contains("4155550100"), "the reveal works");
    collect(&revealed);
    collect(&admin.get("/admin/audit").await);
    collect(&agent.post_from("/", "/logout", &[]).await);

    assert!(!set_cookies.is_empty());
    for line in &set_cookies {
        assert!(!line.contains("4155550100"), "{line}");
        assert!(!line.contains("%2B1415"), "{line}");
    }
    let rows = app.db.audit_rows().await;
    assert!(rows.iter().any(|r| r.action == "reveal"));
    for row in &rows {
        let text = format!("{row:?}");
        assert!(!text.contains("4155550100"), "{text}");
        assert!(!text.contains("415 555"), "{text}");
        assert!(!text.contains("(415)"), "{text}");
    }
}
