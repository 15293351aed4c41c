//! A person at a browser, minus the browser: a cookie-keeping HTTP client
//! that reads CSRF tokens from pages and posts forms like the UI's own.

use reqwest::StatusCode;
use reqwest::header::LOCATION;

use crate::helpers::TestApp;
use smstrail::domain::account::AuditAction;
use smstrail::store::{NewAuditEntry, NewGrant, NewUser, UserRecord};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> String {
        let marker = "name=\"authenticity_token\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        self.body[start..end]
            .replace("&#43;", "+")
            .replace("&#x2B;", "+")
    }
}

pub struct UiClient {
    pub base: String,
    pub client: reqwest::Client,
}

impl UiClient {
    pub fn new(app: &TestApp) -> Self {
        Self::at(&app.base)
    }

    pub fn at(base: &str) -> Self {
        Self::with_headers(base, reqwest::header::HeaderMap::new())
    }

    /// A client that a trusted proxy (the app must trust 127.0.0.1) reports
    /// as coming from `address`.
    pub fn from_address(app: &TestApp, address: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            address.parse().expect("an address header"),
        );
        Self::with_headers(&app.base, headers)
    }

    fn with_headers(base: &str, headers: reqwest::header::HeaderMap) -> Self {
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            base: base.to_owned(),
            client,
        }
    }

    async fn page(response: reqwest::Response) -> Page {
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        Self::page(response).await
    }

    /// Posts `fields` with a CSRF token taken from the login page, which
    /// every client can load.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get("/login").await.csrf();
        self.post_with_token(path, fields, Some(&token)).await
    }

    pub async fn post_with_token(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        token: Option<&str>,
    ) -> Page {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if let Some(token) = token {
            form.push(("authenticity_token", token));
        }
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(&form)
            .send()
            .await
            .expect("POST");
        Self::page(response).await
    }

    /// Logs in and checks it worked.
    pub async fn login(&self, email: &str, password: &str) {
        let page = self
            .post("/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "login of {email}: {}",
            page.body
        );
    }
}

impl TestApp {
    /// A user created straight in the store (the UI's add-user form is
    /// tested on its own).
    pub async fn user(&self, email: &str, role: &str) -> UserRecord {
        let hash = smstrail::auth::password::hash(PASSWORD.to_owned())
            .await
            .expect("hash");
        self.state
            .store
            .create_user(
                &NewUser {
                    id: uuid::Uuid::now_v7().to_string(),
                    email: email.to_owned(),
                    role: role.parse().expect("a role"),
                    password_hash: hash,
                    created_at_us: chrono::Utc::now().timestamp_micros(),
                },
                &NewAuditEntry {
                    target: Some(email.to_owned()),
                    ..NewAuditEntry::new(AuditAction::UserAdd)
                },
            )
            .await
            .expect("create user")
    }

    /// A logged-in client for a new user of `role`.
    pub async fn logged_in(&self, email: &str, role: &str) -> (UiClient, UserRecord) {
        let user = self.user(email, role).await;
        let client = UiClient::new(self);
        client.login(email, PASSWORD).await;
        (client, user)
    }

    /// A reveal grant for `user`, given by `by`, ending `hours` from now
    /// (negative: already expired).
    pub async fn grant(&self, user: &UserRecord, by: &UserRecord, hours: i64) {
        let now = chrono::Utc::now().timestamp_micros();
        self.state
            .store
            .grant_reveal(
                &NewGrant {
                    user_id: user.id.clone(),
                    granted_by: by.id.clone(),
                    reason: "test".to_owned(),
                    created_at_us: now - 3_600_000_000 * 48,
                    expires_at_us: now + hours * 3_600_000_000,
                },
                &NewAuditEntry {
                    ..NewAuditEntry::new(AuditAction::Grant)
                },
            )
            .await
            .expect("grant");
    }
}

// ---- added for the ui_auth, ui_admin and ui_pages tests ----

impl Page {
    /// The first `Set-Cookie` line of this response for cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|line| line.starts_with(&prefix))
            .map(str::to_owned)
    }

    /// The value this response sets for cookie `name`.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        let line = self.set_cookie(name)?;
        let pair = line.split(';').next()?;
        pair.split_once('=').map(|(_, v)| v.to_owned())
    }

    /// The body with the HTML entities askama writes turned back into text.
    pub fn text(&self) -> String {
        unescape(&self.body)
    }

    /// Every `/messages/{id}` link on the page, in page order.
    pub fn message_links(&self) -> Vec<String> {
        let marker = "href=\"/messages/";
        let mut found = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(start) = rest.find(marker) {
            rest = &rest[start + marker.len()..];
            let end = rest.find('"').unwrap_or(rest.len());
            found.push(unescape(&rest[..end]));
        }
        found
    }

    /// The hidden fields of the form of class `class`, unescaped.
    pub fn hidden_fields(&self, class: &str) -> Vec<(String, String)> {
        let Some(start) = self.body.find(&format!("class=\"{class}\"")) else {
            return Vec::new();
        };
        let form = &self.body[start..];
        let form = &form[..form.find("</form>").unwrap_or(form.len())];
        let attribute = |input: &str, name: &str| {
            let marker = format!("{name}=\"");
            let start = input.find(&marker)? + marker.len();
            let end = input[start..].find('"')? + start;
            Some(unescape(&input[start..end]))
        };
        form.split("<input")
            .skip(1)
            .filter(|input| input.contains("type=\"hidden\""))
            .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value")?)))
            .collect()
    }

    /// The target of the first link with `rel="next"`, unescaped.
    pub fn next_link(&self) -> Option<String> {
        let end = self.body.find("\" rel=\"next\"")?;
        let start = self.body[..end].rfind("href=\"")? + "href=\"".len();
        Some(unescape(&self.body[start..end]))
    }
}

/// Decodes the character references askama writes (`&amp;`, `&#38;`,
/// `&#x2B;`, …) the way a browser would.
pub fn unescape(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => match name.strip_prefix('#') {
                    Some(hex) if hex.starts_with(['x', 'X']) => u32::from_str_radix(&hex[1..], 16)
                        .ok()
                        .and_then(char::from_u32),
                    Some(dec) => dec.parse().ok().and_then(char::from_u32),
                    None => None,
                },
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// An audit row as the database holds it, read behind the app's back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at_us: i64,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub message_id: Option<String>,
    pub reason: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

const AUDIT_SELECT: &str = "SELECT id, at_us, actor_id, actor_email, action, target, \
    message_id, reason, client_addr, detail FROM audit_log";

impl crate::helpers::TestDb {
    /// Runs one statement; the database's refusal comes back as `Err`.
    pub async fn try_execute(&self, sql: &str) -> Result<u64, String> {
        if self.is_postgres() {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
            let out = sqlx::query(sql).execute(&pool).await;
            pool.close().await;
            out.map(|r| r.rows_affected()).map_err(|e| e.to_string())
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url).await.expect("connect");
            let out = sqlx::query(sql).execute(&pool).await;
            pool.close().await;
            out.map(|r| r.rows_affected()).map_err(|e| e.to_string())
        }
    }

    /// Every audit row, oldest first.
    pub async fn audit_rows(&self) -> Vec<AuditRow> {
        let sql = format!("{AUDIT_SELECT} ORDER BY id");
        if self.is_postgres() {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
            let rows = sqlx::query_as::<_, AuditRow>(&sql)
                .fetch_all(&pool)
                .await
                .expect("audit rows");
            pool.close().await;
            rows
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url).await.expect("connect");
            let rows = sqlx::query_as::<_, AuditRow>(&sql)
                .fetch_all(&pool)
                .await
                .expect("audit rows");
            pool.close().await;
            rows
        }
    }

    /// The audit rows of one action, oldest first.
    pub async fn audit(&self, action: &str) -> Vec<AuditRow> {
        self.audit_rows()
            .await
            .into_iter()
            .filter(|r| r.action == action)
            .collect()
    }
}

impl UiClient {
    /// Posts `fields` with the CSRF token of the page at `from`, as a
    /// browser submitting a form of that page would.
    /// An admin action on one user (`role`, `disable`, `enable`, `password`)
    /// posted from the users page, as the page's own forms do.
    pub async fn user_action(&self, user_id: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let path = format!("/admin/users/{user_id}/{action}");
        self.post_from("/admin/users", &path, fields).await
    }

    pub async fn post_from(&self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(from).await;
        assert_eq!(page.status, StatusCode::OK, "GET {from}: {}", page.body);
        self.post_with_token(path, fields, Some(&page.csrf())).await
    }
}

impl TestApp {
    /// Registers `body` through the API and returns the message id.
    pub async fn register_id(&self, body: &serde_json::Value) -> String {
        let response = self.register(body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "register {body}");
        let body: serde_json::Value = response.json().await.expect("json");
        body["id"].as_str().expect("id").to_owned()
    }

    /// A setup link issued the way `smstrail serve` issues one at start,
    /// reduced to its path and query.
    pub async fn setup_path(&self) -> Option<String> {
        let link = smstrail::auth::setup::issue_link_if_needed(
            &self.state.store,
            crate::helpers::PUBLIC_URL,
            chrono::Utc::now().timestamp_micros(),
        )
        .await
        .expect("issue setup link")?;
        Some(
            link.strip_prefix(crate::helpers::PUBLIC_URL)
                .expect("link under the public URL")
                .to_owned(),
        )
    }
}

impl TestApp {
    /// A fresh client's login with these credentials is refused (401); the
    /// refusal page is returned for its wording.
    pub async fn assert_login_refused(&self, email: &str, password: &str) -> Page {
        let page = UiClient::new(self)
            .post("/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "login of {email}");
        page
    }
}
