//! The admin pages over real HTTP: who may reach them, users and roles, the
//! last-admin rule, password resets, reveal grants, API tokens and the
//! audit log, which the database itself keeps append-only.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::ui_helpers::*;

const OTHER_PASSWORD: &str = "another long passphrase";

/// Every admin POST route with fields an admin would get a 200 for.
fn admin_posts(
    user_id: &str,
    grant_id: i64,
    token_id: &str,
) -> Vec<(String, Vec<(&'static str, String)>)> {
    vec![
        (
            "/admin/users".to_owned(),
            vec![
                ("email", "sneaky@example.com".to_owned()),
                ("role", "admin".to_owned()),
                ("password", OTHER_PASSWORD.to_owned()),
            ],
        ),
        (
            format!("/admin/users/{user_id}/role"),
            vec![("role", "admin".to_owned())],
        ),
        (format!("/admin/users/{user_id}/disable"), vec![]),
        (format!("/admin/users/{user_id}/enable"), vec![]),
        (
            format!("/admin/users/{user_id}/password"),
            vec![("password", OTHER_PASSWORD.to_owned())],
        ),
        (
            "/admin/grants".to_owned(),
            vec![
                ("user_id", user_id.to_owned()),
                ("hours", "8".to_owned()),
                ("reason", "let me see".to_owned()),
            ],
        ),
        (format!("/admin/grants/{grant_id}/revoke"), vec![]),
        (
            "/admin/tokens".to_owned(),
            vec![("name", "sneaky".to_owned())],
        ),
        (format!("/admin/tokens/{token_id}/revoke"), vec![]),
    ]
}

const ADMIN_GETS: [&str; 5] = [
    "/admin/users",
    "/admin/grants",
    "/admin/tokens",
    "/admin/audit",
    "/admin/audit?actor=admin%40example.com&action=login",
];

async fn grant_ids(app: &TestApp) -> Vec<i64> {
    app.db
        .strings("SELECT CAST(id AS TEXT) FROM reveal_grants ORDER BY id")
        .await
        .iter()
        .map(|id| id.parse().expect("grant id"))
        .collect()
}

async fn state_snapshot(app: &TestApp) -> Vec<String> {
    let mut all = app
        .db
        .strings(
            "SELECT email || ' ' || role || ' ' || password_hash || ' ' || \
             CAST(session_generation AS TEXT) || ' ' || COALESCE(CAST(disabled_at_us AS TEXT), '-') \
             FROM users ORDER BY email",
        )
        .await;
    all.extend(
        app.db
            .strings(
                "SELECT CAST(id AS TEXT) || ' ' || COALESCE(CAST(revoked_at_us AS TEXT), '-') \
                 FROM reveal_grants ORDER BY id",
            )
            .await,
    );
    all.extend(
        app.db
            .strings(
                "SELECT id || ' ' || COALESCE(CAST(revoked_at_us AS TEXT), '-') \
                 FROM api_tokens ORDER BY id",
            )
            .await,
    );
    all
}

#[tokio::test]
async fn every_admin_route_is_403_for_support_and_a_login_redirect_for_anonymous() {
    let app = TestApp::spawn().await;
    let (admin, admin_user) = app.logged_in("admin@example.com", "admin").await;
    let (support, support_user) = app.logged_in("agent@example.com", "support").await;
    app.grant(&support_user, &admin_user, 8).await;
    let grant_id = grant_ids(&app).await[0];
    let token_id = app.db.strings("SELECT id FROM api_tokens").await[0].clone();
    let before = state_snapshot(&app).await;
    let audit_before = app.db.audit_rows().await.len();
    let anonymous = UiClient::new(&app);

    for path in ADMIN_GETS {
        let page = support.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "support GET {path}");
        assert!(page.text().contains("This page is for admins."), "{path}");
        let page = anonymous.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "anonymous GET {path}");
        let expected: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(
            page.location,
            Some(format!("/login?next={expected}")),
            "anonymous GET {path}"
        );
    }
    // `/admin` itself is an admin route too.
    assert_eq!(support.get("/admin").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        anonymous.get("/admin").await.location.as_deref(),
        Some("/login?next=%2Fadmin")
    );
    assert_eq!(
        admin.get("/admin").await.location.as_deref(),
        Some("/admin/users")
    );

    // POSTs with valid CSRF tokens and fields that would work for an admin:
    // the role check, not the CSRF check, is what refuses them.
    let support_token = support.get("/").await.csrf();
    let anonymous_token = anonymous.get("/login").await.csrf();
    for (path, fields) in admin_posts(&support_user.id, grant_id, &token_id) {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = support
            .post_with_token(&path, &fields, Some(&support_token))
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "support POST {path}");
        assert!(page.text().contains("This page is for admins."), "{path}");
        let page = anonymous
            .post_with_token(&path, &fields, Some(&anonymous_token))
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "anonymous POST {path}");
        assert!(
            page.location
                .as_deref()
                .is_some_and(|l| l.starts_with("/login?next=")),
            "anonymous POST {path}: {:?}",
            page.location
        );
    }
    assert_eq!(state_snapshot(&app).await, before, "nothing changed");
    assert_eq!(app.db.audit_rows().await.len(), audit_before);
    assert_eq!(app.db.count("api_tokens").await, 1);
    // Still a support user, still logged in.
    assert_eq!(support.get("/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_adds_users_and_duplicates_or_bad_input_are_refused() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;

    let added = admin
        .post_from(
            "/admin/users",
            "/admin/users",
            &[
                ("email", " New.Agent@Example.com "),
                ("role", "support"),
                ("password", OTHER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(
        added
            .text()
            .contains("Added new.agent@example.com as support.")
    );
    let roles = app
        .db
        .strings("SELECT role FROM users WHERE email = 'new.agent@example.com'")
        .await;
    assert_eq!(roles, ["support"]);
    let audit = app.db.audit("user_add").await;
    let row = audit.last().expect("a user_add row");
    assert_eq!(row.actor_email.as_deref(), Some("admin@example.com"));
    assert_eq!(row.target.as_deref(), Some("new.agent@example.com"));
    assert_eq!(row.detail.as_deref(), Some("role support"));
    assert_eq!(row.client_addr.as_deref(), Some("127.0.0.1"));
    let new_agent = UiClient::new(&app);
    new_agent
        .login("new.agent@example.com", OTHER_PASSWORD)
        .await;
    assert_eq!(
        new_agent.get("/admin/users").await.status,
        StatusCode::FORBIDDEN,
        "added as support, not admin"
    );

    let users_before = app.db.count("users").await;
    let adds_before = app.db.audit("user_add").await.len();
    let duplicate = admin
        .post_from(
            "/admin/users",
            "/admin/users",
            &[
                ("email", "NEW.AGENT@example.com"),
                ("role", "admin"),
                ("password", OTHER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert!(duplicate.text().contains("exists already"));
    for (case, email, role, password, says) in [
        (
            "bad email",
            "not-an-email",
            "support",
            OTHER_PASSWORD,
            "is not an email address",
        ),
        (
            "empty email",
            "",
            "support",
            OTHER_PASSWORD,
            "Email is required.",
        ),
        (
            "short password",
            "short@example.com",
            "support",
            "too short",
            "at least 12 characters",
        ),
        (
            "bad role",
            "role@example.com",
            "root",
            OTHER_PASSWORD,
            "Unknown role \"root\"",
        ),
    ] {
        let page = admin
            .post_from(
                "/admin/users",
                "/admin/users",
                &[("email", email), ("role", role), ("password", password)],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}");
        assert!(page.text().contains(says), "{case}: {}", page.body);
    }
    assert_eq!(app.db.count("users").await, users_before);
    assert_eq!(app.db.audit("user_add").await.len(), adds_before);
    let roles = app
        .db
        .strings("SELECT role FROM users WHERE email = 'new.agent@example.com'")
        .await;
    assert_eq!(roles, ["support"], "the duplicate did not change the role");
}

#[tokio::test]
async fn an_admin_changes_roles_and_they_apply_to_open_sessions() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    let (agent, agent_user) = app.logged_in("agent@example.com", "support").await;
    assert_eq!(
        agent.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );

    let path = format!("/admin/users/{}/role", agent_user.id);
    let page = admin
        .post_from("/admin/users", &path, &[("role", "admin")])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.text().contains("agent@example.com is now admin."));
    assert_eq!(agent.get("/admin/users").await.status, StatusCode::OK);
    let audit = app.db.audit("user_role").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].target.as_deref(), Some("agent@example.com"));
    assert_eq!(audit[0].detail.as_deref(), Some("support → admin"));
    assert_eq!(audit[0].actor_email.as_deref(), Some("admin@example.com"));

    let page = admin
        .post_from("/admin/users", &path, &[("role", "superuser")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);

    let page = admin
        .post_from("/admin/users", &path, &[("role", "support")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        agent.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.db.audit("user_role").await.len(), 2);

    let unknown = admin
        .post_from(
            "/admin/users",
            "/admin/users/no-such-user/role",
            &[("role", "admin")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_or_disabled() {
    let app = TestApp::spawn().await;
    let (admin, admin_user) = app.logged_in("admin@example.com", "admin").await;
    let me = admin_user.id.clone();

    let demote = admin.user_action(&me, "role", &[("role", "support")]).await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
    assert!(demote.text().contains("is the last active admin"));
    let disable = admin
        .post_from("/admin/users", &format!("/admin/users/{me}/disable"), &[])
        .await;
    assert_eq!(disable.status, StatusCode::CONFLICT);
    let rows = app
        .db
        .strings(
            "SELECT role || ' ' || COALESCE(CAST(disabled_at_us AS TEXT), 'active') FROM users",
        )
        .await;
    assert_eq!(rows, ["admin active"]);
    assert!(app.db.audit("user_role").await.is_empty());
    assert!(app.db.audit("user_disable").await.is_empty());

    // A disabled second admin does not count as a second admin.
    let second = app.user("second@example.com", "admin").await;
    let page = admin.user_action(&second.id, "disable", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let demote = admin.user_action(&me, "role", &[("role", "support")]).await;
    assert_eq!(demote.status, StatusCode::CONFLICT);

    // With another active admin, stepping down is fine.
    let page = admin.user_action(&second.id, "enable", &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let demote = admin.user_action(&me, "role", &[("role", "support")]).await;
    assert_eq!(demote.status, StatusCode::OK, "{}", demote.body);
    assert_eq!(
        admin.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    // And now the second admin is the last one.
    let other = UiClient::new(&app);
    other.login("second@example.com", PASSWORD).await;
    let page = other.user_action(&second.id, "disable", &[]).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn an_admin_resets_a_password_and_the_old_one_stops_working() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    let (agent, agent_user) = app.logged_in("agent@example.com", "support").await;
    let path = format!("/admin/users/{}/password", agent_user.id);

    let short = admin
        .post_from("/admin/users", &path, &[("password", "short")])
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(agent.get("/").await.status, StatusCode::OK);

    let page = admin
        .post_from("/admin/users", &path, &[("password", OTHER_PASSWORD)])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.text().contains("Password of agent@example.com reset"));
    assert_eq!(
        agent.get("/").await.location.as_deref(),
        Some("/login"),
        "their session ended"
    );
    app.assert_login_refused("agent@example.com", PASSWORD)
        .await;
    UiClient::new(&app)
        .login("agent@example.com", OTHER_PASSWORD)
        .await;
    let audit = app.db.audit("user_password_reset").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].target.as_deref(), Some("agent@example.com"));
    assert_eq!(audit[0].actor_email.as_deref(), Some("admin@example.com"));
    assert_eq!(admin.get("/admin/users").await.status, StatusCode::OK);
}

/// The message page's reveal, by `client`, for message `id`.
async fn reveal(client: &UiClient, id: &str) -> Page {
    client
        .post_from(
            &format!("/messages/{id}"),
            &format!("/messages/{id}/reveal"),
            &[("reason", "ticket 4242")],
        )
        .await
}

#[tokio::test]
async fn reveal_grants_are_given_and_revoked_with_audit_rows() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-grant").await;
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    let (agent, agent_user) = app.logged_in("agent@example.com", "support").await;
    assert_eq!(reveal(&agent, &id).await.status, StatusCode::FORBIDDEN);

    for (case, hours, reason) in [
        ("zero hours", "0", "ticket 1"),
        ("too long", "2161", "ticket 1"),
        ("not a number", "eight", "ticket 1"),
        ("no reason", "8", "   "),
    ] {
        let page = admin
            .post_from(
                "/admin/grants",
                "/admin/grants",
                &[
                    ("user_id", &agent_user.id),
                    ("hours", hours),
                    ("reason", reason),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}");
    }
    assert_eq!(app.db.count("reveal_grants").await, 0);

    let before = chrono::Utc::now().timestamp_micros();
    let page = admin
        .post_from(
            "/admin/grants",
            "/admin/grants",
            &[
                ("user_id", &agent_user.id),
                ("hours", "8"),
                ("reason", "ticket 4242, customer asks"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.text()
            .contains("agent@example.com may reveal numbers until")
    );
    assert!(page.body.contains(">live<"));
    let expires: Vec<String> = app
        .db
        .strings("SELECT CAST(expires_at_us AS TEXT) FROM reveal_grants")
        .await;
    let expires: i64 = expires[0].parse().expect("number");
    let eight_hours = 8 * 3_600_000_000;
    assert!(expires >= before + eight_hours && expires < before + eight_hours + 60_000_000);
    let grant = app.db.audit("grant").await;
    assert_eq!(grant.len(), 1);
    assert_eq!(grant[0].actor_email.as_deref(), Some("admin@example.com"));
    assert_eq!(grant[0].target.as_deref(), Some("agent@example.com"));
    assert_eq!(
        grant[0].reason.as_deref(),
        Some("ticket 4242, customer asks")
    );
    assert_eq!(grant[0].client_addr.as_deref(), Some("127.0.0.1"));

    let revealed = reveal(&agent, &id).await;
    assert_eq!(revealed.status, StatusCode::OK);
    assert!(revealed.text().contains("+14155550100"));

    let grant_id = grant_ids(&app).await[0];
    let revoke = format!("/admin/grants/{grant_id}/revoke");
    assert!(admin.get("/admin/grants").await.body.contains(&revoke));
    let page = admin.post_from("/admin/grants", &revoke, &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.text()
            .contains("Revoked the reveal grant of agent@example.com.")
    );
    assert!(!page.body.contains(&revoke), "no revoke button any more");
    let revoked = app.db.audit("grant_revoke").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].target, Some(format!("grant {grant_id}")));
    assert_eq!(revoked[0].actor_email.as_deref(), Some("admin@example.com"));

    let denied = reveal(&agent, &id).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(!denied.body.contains("4155550100"));
    let again = admin.post_from("/admin/grants", &revoke, &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(app.db.audit("grant_revoke").await.len(), 1);

    // Disabled users get no grant.
    let page = admin.user_action(&agent_user.id, "disable", &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let page = admin
        .post_from(
            "/admin/grants",
            "/admin/grants",
            &[("user_id", &agent_user.id), ("hours", "8"), ("reason", "x")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert_eq!(app.db.count("reveal_grants").await, 1);
}

fn shown_token(page: &Page) -> String {
    let marker = "<code id=\"new-token\" class=\"secret\">";
    let start = page.body.find(marker).expect("the new token is shown") + marker.len();
    let end = page.body[start..].find('<').expect("end of code") + start;
    unescape(&page.body[start..end])
}

#[tokio::test]
async fn an_api_token_works_until_it_is_revoked() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    let empty = admin
        .post_from("/admin/tokens", "/admin/tokens", &[("name", "  ")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    let page = admin
        .post_from(
            "/admin/tokens",
            "/admin/tokens",
            &[("name", "checkout-service")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let secret = shown_token(&page);
    assert!(secret.starts_with("smst_") && secret.len() > 40, "{secret}");
    // Shown once: neither the list page nor the database has it.
    assert!(!admin.get("/admin/tokens").await.body.contains(&secret));
    let stored = app
        .db
        .strings("SELECT id || ' ' || name || ' ' || digest FROM api_tokens")
        .await;
    assert!(stored.iter().all(|row| !row.contains(&secret)));

    let api = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/messages"))
                .bearer_auth(token)
                .json(
                    &json!({"idempotency_key": format!("k-{}", uuid::Uuid::now_v7()),
                    "to": "+14155550100", "provider": "twilio"}),
                )
                .send()
                .await
                .expect("request")
                .status()
        }
    };
    assert_eq!(api(secret.clone()).await, StatusCode::CREATED);
    let lookup = app
        .client
        .get(app.url("/api/v1/messages?provider_message_id=none"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("request");
    assert_eq!(
        lookup.status(),
        StatusCode::NOT_FOUND,
        "authenticated, not found"
    );

    let created = app.db.audit("token_create").await;
    let row = created.last().expect("token_create row");
    assert_eq!(row.actor_email.as_deref(), Some("admin@example.com"));
    let token_id = row.target.clone().expect("token id as target");
    assert_eq!(row.detail.as_deref(), Some("\"checkout-service\""));

    let revoke = format!("/admin/tokens/{token_id}/revoke");
    let page = admin.post_from("/admin/tokens", &revoke, &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.text().contains("Revoked token \"checkout-service\""));
    assert_eq!(api(secret.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        api(API_TOKEN.to_owned()).await,
        StatusCode::CREATED,
        "others still work"
    );
    let revoked = app.db.audit("token_revoke").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].target.as_deref(), Some(token_id.as_str()));
    let again = admin.post_from("/admin/tokens", &revoke, &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

/// The audit page's rows as (actor, action).
fn audit_entries(page: &Page) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for chunk in page.body.split("<tr class=\"audit-").skip(1) {
        let cells: Vec<String> = chunk
            .split("<td>")
            .skip(1)
            .map(|cell| unescape(cell.split("</td>").next().unwrap_or_default()))
            .collect();
        rows.push((cells[1].clone(), cells[2].clone()));
    }
    rows
}

#[tokio::test]
async fn the_audit_log_filters_by_actor_action_and_dates() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.logged_in("admin@example.com", "admin").await;
    let (agent, _) = app.logged_in("agent@example.com", "support").await;
    let failed = UiClient::new(&app)
        .post(
            "/login",
            &[
                ("email", "agent@example.com"),
                ("password", "wrong wrong wrong"),
            ],
        )
        .await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let zone = agent
        .post_from(
            "/settings",
            "/settings/timezone",
            &[("timezone", "Europe/Berlin")],
        )
        .await;
    assert_eq!(zone.status, StatusCode::OK);

    let all = audit_entries(&admin.get("/admin/audit").await);
    assert_eq!(all.len(), app.db.audit_rows().await.len());

    let by_agent = admin.get("/admin/audit?actor=Agent%40Example.com").await;
    assert_eq!(by_agent.status, StatusCode::OK);
    let rows = audit_entries(&by_agent);
    let mut actions: Vec<&str> = rows.iter().map(|(_, a)| a.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(actions, ["login", "login_failed", "timezone_change"]);
    assert!(rows.iter().all(|(actor, _)| actor == "agent@example.com"));

    let logins = audit_entries(&admin.get("/admin/audit?action=login").await);
    let mut actors: Vec<&str> = logins.iter().map(|(a, _)| a.as_str()).collect();
    actors.sort_unstable();
    assert_eq!(actors, ["admin@example.com", "agent@example.com"]);
    assert!(logins.iter().all(|(_, action)| action == "login"));

    let both = audit_entries(
        &admin
            .get("/admin/audit?actor=agent%40example.com&action=login_failed")
            .await,
    );
    assert_eq!(
        both,
        [("agent@example.com".to_owned(), "login_failed".to_owned())]
    );

    // Today (the admin's zone is UTC) holds everything the UI did; the rows
    // the test set-up wrote at instant 0 are outside it.
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let today_rows = audit_entries(
        &admin
            .get(&format!("/admin/audit?from={today}&to={today}"))
            .await,
    );
    let since_today = app
        .db
        .strings("SELECT action FROM audit_log WHERE at_us > 0")
        .await;
    assert_eq!(today_rows.len(), since_today.len());
    assert!(
        today_rows
            .iter()
            .any(|(_, action)| action == "timezone_change")
    );
    assert!(today_rows.len() < all.len(), "set-up rows at 1970 excluded");

    let past = admin
        .get("/admin/audit?from=2020-01-01&to=2020-01-31")
        .await;
    assert_eq!(past.status, StatusCode::OK);
    assert!(audit_entries(&past).is_empty());
    assert!(past.text().contains("No entries match."));
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    let future = admin.get(&format!("/admin/audit?from={tomorrow}")).await;
    assert!(audit_entries(&future).is_empty());

    for bad in [
        "action=delete_everything",
        "from=yesterday",
        "to=2026-13-01",
    ] {
        let page = admin.get(&format!("/admin/audit?{bad}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(audit_entries(&page).is_empty(), "{bad}");
    }
}

#[tokio::test]
async fn the_audit_log_is_append_only_at_the_database() {
    let app = TestApp::spawn().await;
    app.logged_in("admin@example.com", "admin").await;
    let before = app.db.audit_rows().await;
    assert!(before.len() >= 2);

    for sql in [
        "UPDATE audit_log SET action = 'nothing'",
        "UPDATE audit_log SET client_addr = NULL WHERE action = 'login'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE action = 'login'",
    ] {
        let outcome = app.db.try_execute(sql).await;
        let error = outcome.expect_err(sql);
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    if app.db.is_postgres() {
        let error = app
            .db
            .try_execute("TRUNCATE audit_log")
            .await
            .expect_err("TRUNCATE");
        assert!(error.contains("append-only"), "{error}");
    }
    let after = app.db.audit_rows().await;
    assert_eq!(
        format!("{after:?}"),
        format!("{before:?}"),
        "every row as it was"
    );
    assert!(after.windows(2).all(|w| w[0].id < w[1].id), "ids only grow");
    // Appending still works.
    assert_eq!(
        app.db
            .try_execute(
                "INSERT INTO audit_log (at_us, action, detail) VALUES (1, 'login', 'by hand')"
            )
            .await,
        Ok(1)
    );
}

/// Sets every user back to an active admin, behind the app's back.
async fn all_admins_again(app: &TestApp) {
    app.db
        .execute("UPDATE users SET role = 'admin', disabled_at_us = NULL")
        .await;
}

async fn active_admins(app: &TestApp) -> Vec<String> {
    app.db
        .strings("SELECT email FROM users WHERE role = 'admin' AND disabled_at_us IS NULL")
        .await
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = TestApp::spawn().await;
    let (a, a_user) = app.logged_in("a@example.com", "admin").await;
    let (b, b_user) = app.logged_in("b@example.com", "admin").await;
    for round in 0..10 {
        all_admins_again(&app).await;
        let a_token = a.get("/admin/users").await.csrf();
        let b_token = b.get("/admin/users").await.csrf();
        let a_path = format!("/admin/users/{}/role", b_user.id);
        let b_path = format!("/admin/users/{}/role", a_user.id);
        let (by_a, by_b) = tokio::join!(
            a.post_with_token(&a_path, &[("role", "support")], Some(&a_token)),
            b.post_with_token(&b_path, &[("role", "support")], Some(&b_token)),
        );
        assert_eq!(
            active_admins(&app).await.len(),
            1,
            "round {round}: answers {} and {}",
            by_a.status,
            by_b.status
        );
    }
}

#[tokio::test]
async fn two_admins_disabling_each_other_at_once_leave_one_admin() {
    let app = TestApp::spawn().await;
    let a_user = app.user("a@example.com", "admin").await;
    let b_user = app.user("b@example.com", "admin").await;
    for round in 0..5 {
        all_admins_again(&app).await;
        // Disabling ends sessions: log in afresh each round.
        let (a, b) = (UiClient::new(&app), UiClient::new(&app));
        a.login("a@example.com", PASSWORD).await;
        b.login("b@example.com", PASSWORD).await;
        let a_token = a.get("/admin/users").await.csrf();
        let b_token = b.get("/admin/users").await.csrf();
        let a_path = format!("/admin/users/{}/disable", b_user.id);
        let b_path = format!("/admin/users/{}/disable", a_user.id);
        let (by_a, by_b) = tokio::join!(
            a.post_with_token(&a_path, &[], Some(&a_token)),
            b.post_with_token(&b_path, &[], Some(&b_token)),
        );
        assert_eq!(
            active_admins(&app).await.len(),
            1,
            "round {round}: answers {} and {}",
            by_a.status,
            by_b.status
        );
    }
}

#[tokio::test]
async fn disabling_a_user_ends_their_reveal_grants_for_good() {
    let app = TestApp::spawn().await;
    let id = app.register_twilio("SM-disable-grant").await;
    let (admin, admin_user) = app.logged_in("admin@example.com", "admin").await;
    let (agent, agent_user) = app.logged_in("agent@example.com", "support").await;
    app.grant(&agent_user, &admin_user, 8).await;
    assert_eq!(reveal(&agent, &id).await.status, StatusCode::OK);

    let page = admin.user_action(&agent_user.id, "disable", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let open: Vec<String> = app
        .db
        .strings("SELECT CAST(id AS TEXT) FROM reveal_grants WHERE revoked_at_us IS NULL")
        .await;
    assert!(open.is_empty(), "the disable revoked the live grant");
    let grant_id = grant_ids(&app).await[0];
    let revoked = app.db.audit("grant_revoke").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].target, Some(format!("grant {grant_id}")));
    assert_eq!(revoked[0].actor_email.as_deref(), Some("admin@example.com"));

    // Enabling again does not bring the grant back.
    let page = admin.user_action(&agent_user.id, "enable", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let agent = UiClient::new(&app);
    agent.login("agent@example.com", PASSWORD).await;
    let denied = reveal(&agent, &id).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.body);
}
