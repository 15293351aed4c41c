//! Configuration (CONTRACT §1): defaults, then an optional TOML file, then
//! `SMSTRAIL_*` environment variables, into one typed struct. Unknown keys and
//! bad values stop start-up with the key's name.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The send API's use cases (CONTRACT §4), each with its own window.
use crate::domain::outbound::USE_CASES;

const ENV_PREFIX: &str = "SMSTRAIL_";
/// Environment names that belong to the tooling around the app, not to it.
const ENV_IGNORED_PREFIXES: [&str; 2] = ["SMSTRAIL_TEST_", "SMSTRAIL_BENCH_"];
const ENV_CONFIG_FILE: &str = "SMSTRAIL_CONFIG";

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/smstrail.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_INGEST_BATCH_MAX: usize = 512;
/// One writer with large batches beat four with small ones on a 2-core
/// machine (see the README's benchmark); raise it on bigger PostgreSQL hosts.
pub const DEFAULT_INGEST_WRITERS: usize = 1;
/// Well under the 15 s after which Twilio gives up on a callback, so a
/// callback that cannot be stored is answered 503 while the sender still listens.
pub const DEFAULT_DB_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a callback may wait for its message to be registered before it
/// becomes a review item.
pub const DEFAULT_UNMATCHED_AFTER: Duration = Duration::from_secs(3600);
/// Generous for a real client on a slow link, short for one that dribbles.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// A value that must never reach a log line or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The 32-byte key behind the phone-number hash and the encryption at rest.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| format!("not valid base64 ({e})"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("must decode to 32 bytes, got {}", b.len()))?;
        Ok(Self(bytes))
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VonageSignatureMethod {
    Md5Hash,
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

/// How log lines are written: for people, or one JSON object per line for
/// log shippers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    /// Without a trailing slash.
    pub public_url: String,
    pub data_key: Option<DataKey>,
    pub twilio_auth_token: Option<Secret>,
    pub vonage_signature_secret: Option<Secret>,
    pub vonage_signature_method: VonageSignatureMethod,
    pub telnyx_public_key: Option<Secret>,
    pub plivo_auth_token: Option<Secret>,
    pub standard_secret: Option<Secret>,
    /// How many callbacks one ingest transaction may carry; 1 commits per request.
    pub ingest_batch_max: usize,
    /// How many ingest writers run side by side (always 1 on SQLite, which
    /// has one write lock).
    pub ingest_writers: usize,
    /// `tracing` filter directive, e.g. `info` or `smstrail=debug`.
    pub log: String,
    pub log_format: LogFormat,
    /// Reverse proxies whose `X-Forwarded-For` names the real client (for
    /// the audit log and the login throttle). Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The longest a request waits for the database: pool acquire, statement
    /// and the writers' answer. Past it, the request is answered 503.
    pub db_timeout: Duration,
    /// A client must send a request's headers within this.
    pub header_read_timeout: Duration,
    /// A client must send a request's body within this after its headers.
    pub body_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long each use case waits for a final status before smstrail
    /// writes its own timeout event (`SMSTRAIL_FINAL_WINDOWS`).
    pub final_windows: FinalWindows,
    /// How often `serve` runs a reconcile pass (`SMSTRAIL_RECONCILE_EVERY`).
    pub reconcile_every: Duration,
    /// Callbacks whose provider message id no registered message has after
    /// this long become review items.
    pub unmatched_after: Duration,
    /// Raw payloads (and inbound bodies) older than this are removed
    /// (`SMSTRAIL_RETAIN_RAW_PAYLOADS`); `None` keeps them forever.
    pub retain_raw_payloads: Option<Duration>,
    /// Number ciphertexts older than this are removed
    /// (`SMSTRAIL_RETAIN_NUMBERS`); `None` keeps them forever.
    pub retain_numbers: Option<Duration>,
    /// Where `message.final` / `message.timeout` events are POSTed
    /// (`SMSTRAIL_NOTIFY_URL`); `None`: the product is not told and no
    /// outbox rows are written.
    pub notify_url: Option<String>,
    /// The Standard Webhooks `whsec_…` secret those events are signed with.
    pub notify_secret: Option<Secret>,
}

pub const DEFAULT_RECONCILE_EVERY: Duration = Duration::from_secs(60);
/// The window of every use case the defaults do not name.
pub const DEFAULT_FINAL_WINDOW: Duration = Duration::from_secs(72 * 3600);

/// Final-status windows per use case. A message without a use case (or with
/// one registered before a rename) gets `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalWindows {
    by_use_case: BTreeMap<&'static str, Duration>,
    default: Duration,
}

impl Default for FinalWindows {
    /// `otp=10m,account_alert=1h,transactional=72h,marketing=72h,other=72h`:
    /// a code is useless after minutes, an alert after an hour, the rest is
    /// worth waiting for carriers that batch their receipts.
    fn default() -> Self {
        let mut by_use_case = BTreeMap::new();
        for use_case in USE_CASES {
            let window = match use_case {
                "otp" => Duration::from_secs(600),
                "account_alert" => Duration::from_secs(3600),
                _ => DEFAULT_FINAL_WINDOW,
            };
            by_use_case.insert(use_case, window);
        }
        Self {
            by_use_case,
            default: DEFAULT_FINAL_WINDOW,
        }
    }
}

impl FinalWindows {
    /// The window of a message's use case.
    pub fn window(&self, use_case: Option<&str>) -> Duration {
        use_case
            .and_then(|u| self.by_use_case.get(u))
            .copied()
            .unwrap_or(self.default)
    }

    /// `otp=10m,account_alert=1h,default=72h`: named use cases take their
    /// value; `default=` sets every use case not named (and messages without
    /// one); without it, unnamed use cases keep their built-in window.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut named: BTreeMap<&'static str, Duration> = BTreeMap::new();
        let mut default = None;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not use_case=duration (e.g. otp=10m)"))?;
            let (name, value) = (name.trim(), value.trim());
            let window = match parse_duration(value) {
                Some(window) if window >= Duration::from_secs(1) => window,
                _ => {
                    return Err(format!(
                        "{value:?} (for {name}) is not a duration like 30s, 10m, 1h or 3d \
                         (at least 1s)"
                    ));
                }
            };
            let slot = if name == "default" {
                &mut default
            } else {
                let known = USE_CASES
                    .iter()
                    .copied()
                    .find(|u| *u == name)
                    .ok_or_else(|| {
                        format!(
                            "{name:?} is not a use case (one of {}, or default)",
                            USE_CASES.join(", ")
                        )
                    })?;
                if named.insert(known, window).is_some() {
                    return Err(format!("{name} is given twice"));
                }
                continue;
            };
            if slot.replace(window).is_some() {
                return Err("default is given twice".to_owned());
            }
        }
        let mut windows = Self::default();
        if let Some(default) = default {
            windows.default = default;
            for window in windows.by_use_case.values_mut() {
                *window = default;
            }
        }
        windows.by_use_case.extend(named);
        Ok(windows)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration key {key} (from {origin})")]
    UnknownKey { key: String, origin: String },
    #[error("bad value for {key}: {reason}")]
    BadValue { key: String, reason: String },
    #[error("cannot read configuration file {path}: {reason}")]
    File { path: String, reason: String },
}

/// Every key, as written in the TOML file; the environment name is
/// `SMSTRAIL_` + the key in upper case.
const KEYS: [&str; 26] = [
    "database_url",
    "bind",
    "public_url",
    "data_key",
    "twilio_auth_token",
    "vonage_signature_secret",
    "vonage_signature_method",
    "telnyx_public_key",
    "plivo_auth_token",
    "standard_secret",
    "ingest_batch_max",
    "ingest_writers",
    "log",
    "trusted_proxies",
    "db_timeout",
    "header_read_timeout",
    "body_read_timeout",
    "max_connections",
    "log_format",
    "final_windows",
    "reconcile_every",
    "unmatched_after",
    "retain_raw_payloads",
    "retain_numbers",
    "notify_url",
    "notify_secret",
];

/// An `http(s)://host/…` URL the product's events are POSTed to.
fn parse_notify_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let url = reqwest::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{text:?} is not an http:// or https:// URL"));
    }
    Ok(url.to_string())
}

/// Raw values by key, with where each came from for error messages.
#[derive(Default)]
struct Layers(BTreeMap<&'static str, String>);

impl Config {
    /// Loads from the process environment and the file named by `--config`
    /// (`file`) or `SMSTRAIL_CONFIG`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_sources(file, std::env::vars())
    }

    /// Loads from explicit sources; `env` is the environment as name/value pairs.
    pub fn from_sources(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        let file = file.map(Path::to_path_buf).or_else(|| {
            env.iter()
                .find(|(name, _)| name == ENV_CONFIG_FILE)
                .map(|(_, value)| PathBuf::from(value))
        });

        let mut layers = Layers::default();
        if let Some(path) = file {
            layers.read_file(&path)?;
        }
        layers.read_env(&env)?;
        layers.into_config()
    }

    /// Whether the database is the embedded SQLite one.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Cookies get the `Secure` flag when people reach us over https.
    pub fn uses_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

impl Layers {
    fn known(key: &str) -> Option<&'static str> {
        KEYS.iter().copied().find(|k| *k == key)
    }

    fn read_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::File {
                path: shown.clone(),
                reason: e.message().to_owned(),
            })?;
        for (key, value) in table {
            let known = Self::known(&key).ok_or_else(|| ConfigError::UnknownKey {
                key: key.clone(),
                origin: shown.clone(),
            })?;
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                other => {
                    return Err(ConfigError::BadValue {
                        key: key.clone(),
                        reason: format!(
                            "expected a string or an integer, got {}",
                            other.type_str()
                        ),
                    });
                }
            };
            self.0.insert(known, value);
        }
        Ok(())
    }

    fn read_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        for (name, value) in env {
            if name == ENV_CONFIG_FILE || ENV_IGNORED_PREFIXES.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            let key = name[ENV_PREFIX.len()..].to_ascii_lowercase();
            let known = Self::known(&key).ok_or_else(|| ConfigError::UnknownKey {
                key: name.clone(),
                origin: "the environment".to_owned(),
            })?;
            self.0.insert(known, value.clone());
        }
        Ok(())
    }

    /// A present, non-empty value (an empty variable counts as unset).
    fn take(&mut self, key: &'static str) -> Option<String> {
        self.0.remove(key).filter(|v| !v.trim().is_empty())
    }

    fn secret(&mut self, key: &'static str) -> Option<Secret> {
        self.take(key).map(Secret::new)
    }

    fn into_config(mut self) -> Result<Config, ConfigError> {
        let bad = |key: &str, reason: String| ConfigError::BadValue {
            key: key.to_owned(),
            reason,
        };

        let database_url = self
            .take("database_url")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "database_url",
                "must start with sqlite:// or postgres://".to_owned(),
            ));
        }

        let bind_text = self.take("bind").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind: SocketAddr = bind_text.parse().map_err(|_| {
            bad(
                "bind",
                format!("{bind_text:?} is not an address like 127.0.0.1:8080"),
            )
        })?;

        let public_url = match self.take("public_url") {
            Some(text) => parse_public_url(&text).map_err(|reason| bad("public_url", reason))?,
            None => format!("http://{bind}"),
        };

        let data_key = self
            .take("data_key")
            .map(|text| DataKey::from_base64(&text).map_err(|reason| bad("data_key", reason)))
            .transpose()?;

        let vonage_signature_method = match self.take("vonage_signature_method").as_deref() {
            None | Some("md5hash") => VonageSignatureMethod::Md5Hash,
            Some("md5") => VonageSignatureMethod::Md5,
            Some("sha1") => VonageSignatureMethod::Sha1,
            Some("sha256") => VonageSignatureMethod::Sha256,
            Some("sha512") => VonageSignatureMethod::Sha512,
            Some(other) => {
                return Err(bad(
                    "vonage_signature_method",
                    format!("{other:?} is not one of md5hash, md5, sha1, sha256, sha512"),
                ));
            }
        };

        let ingest_batch_max = match self.take("ingest_batch_max") {
            None => DEFAULT_INGEST_BATCH_MAX,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "ingest_batch_max",
                        format!("{text:?} is not a whole number from 1 to 10000"),
                    ));
                }
            },
        };

        let ingest_writers = match self.take("ingest_writers") {
            None => DEFAULT_INGEST_WRITERS,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(1) => 1,
                Ok(n) if (2..=64).contains(&n) && !database_url.starts_with("sqlite:") => n,
                Ok(n) if (2..=64).contains(&n) => {
                    return Err(bad(
                        "ingest_writers",
                        "SQLite has a single write lock: leave it at 1".to_owned(),
                    ));
                }
                _ => {
                    return Err(bad(
                        "ingest_writers",
                        format!("{text:?} is not a whole number from 1 to 64"),
                    ));
                }
            },
        };

        let trusted_proxies = match self.take("trusted_proxies") {
            None => Vec::new(),
            Some(text) => {
                parse_addresses(&text).map_err(|reason| bad("trusted_proxies", reason))?
            }
        };

        let db_timeout = self
            .duration("db_timeout", DEFAULT_DB_TIMEOUT, Duration::from_millis(100))?
            .min(Duration::from_secs(300));

        let header_read_timeout = self.duration(
            "header_read_timeout",
            DEFAULT_HEADER_READ_TIMEOUT,
            Duration::from_millis(100),
        )?;
        let body_read_timeout = self.duration(
            "body_read_timeout",
            DEFAULT_BODY_READ_TIMEOUT,
            Duration::from_millis(100),
        )?;
        let max_connections = match self.take("max_connections") {
            None => DEFAULT_MAX_CONNECTIONS,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if (1..=1_000_000).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "max_connections",
                        format!("{text:?} is not a whole number from 1 to 1000000"),
                    ));
                }
            },
        };

        // At least a second: anything shorter would flag callbacks that are
        // merely racing their own registration.
        let unmatched_after = self.duration(
            "unmatched_after",
            DEFAULT_UNMATCHED_AFTER,
            Duration::from_secs(1),
        )?;

        let retain_raw_payloads = self.retention("retain_raw_payloads")?;
        let retain_numbers = self.retention("retain_numbers")?;

        let log_format = match self.take("log_format").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad(
                    "log_format",
                    format!("{other:?} is not one of text, json"),
                ));
            }
        };

        let final_windows = match self.take("final_windows") {
            None => FinalWindows::default(),
            Some(text) => {
                FinalWindows::parse(&text).map_err(|reason| bad("final_windows", reason))?
            }
        };
        let reconcile_every = self.duration(
            "reconcile_every",
            DEFAULT_RECONCILE_EVERY,
            Duration::from_secs(1),
        )?;

        let standard_secret = self.secret("standard_secret");
        if let Some(secret) = &standard_secret {
            crate::providers::standard::decode_secret(secret.expose())
                .map_err(|reason| bad("standard_secret", reason))?;
        }

        let telnyx_public_key = self.secret("telnyx_public_key");
        if let Some(key) = &telnyx_public_key {
            crate::providers::telnyx::decode_public_key(key.expose())
                .map_err(|reason| bad("telnyx_public_key", reason))?;
        }

        let notify_url = match self.take("notify_url") {
            None => None,
            Some(text) => {
                Some(parse_notify_url(&text).map_err(|reason| bad("notify_url", reason))?)
            }
        };
        let notify_secret = self.secret("notify_secret");
        match (&notify_url, &notify_secret) {
            (Some(_), Some(secret)) => {
                if !secret.expose().trim().starts_with("whsec_") {
                    return Err(bad(
                        "notify_secret",
                        "must be a Standard Webhooks secret: whsec_ followed by base64".to_owned(),
                    ));
                }
                crate::providers::standard::decode_secret(secret.expose())
                    .map_err(|reason| bad("notify_secret", reason))?;
            }
            (Some(_), None) => {
                return Err(bad(
                    "notify_secret",
                    "is required when SMSTRAIL_NOTIFY_URL is set".to_owned(),
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "notify_url",
                    "is required when SMSTRAIL_NOTIFY_SECRET is set".to_owned(),
                ));
            }
            (None, None) => {}
        }

        Ok(Config {
            database_url,
            bind,
            public_url,
            data_key,
            twilio_auth_token: self.secret("twilio_auth_token"),
            vonage_signature_secret: self.secret("vonage_signature_secret"),
            vonage_signature_method,
            telnyx_public_key,
            plivo_auth_token: self.secret("plivo_auth_token"),
            standard_secret,
            ingest_batch_max,
            ingest_writers,
            log: self.take("log").unwrap_or_else(|| "info".to_owned()),
            log_format,
            trusted_proxies,
            db_timeout,
            header_read_timeout,
            body_read_timeout,
            max_connections,
            final_windows,
            reconcile_every,
            unmatched_after,
            retain_raw_payloads,
            retain_numbers,
            notify_url,
            notify_secret,
        })
    }

    /// A retention period: unset keeps forever; else a duration of at least 1s.
    fn retention(&mut self, key: &'static str) -> Result<Option<Duration>, ConfigError> {
        if self.0.get(key).is_none_or(|v| v.trim().is_empty()) {
            return Ok(None);
        }
        self.duration(key, Duration::ZERO, Duration::from_secs(1))
            .map(Some)
    }

    /// A duration setting (`500ms`, `5s`, `2m`) of at least `min`.
    fn duration(
        &mut self,
        key: &'static str,
        default: Duration,
        min: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(text) = self.take(key) else {
            return Ok(default);
        };
        match parse_duration(&text) {
            Some(value) if value >= min => Ok(value),
            _ => Err(ConfigError::BadValue {
                key: key.to_owned(),
                reason: format!(
                    "{text:?} is not a duration like 500ms, 30s, 10m, 1h or 3d (at least {}ms)",
                    min.as_millis()
                ),
            }),
        }
    }
}

/// `500ms`, `5s`, `2m`, `1h`, `3d`: a whole number and a unit.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let millis = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(millis).map(Duration::from_millis)
}

/// A comma-separated list of IP addresses.
fn parse_addresses(text: &str) -> Result<Vec<std::net::IpAddr>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse().map_err(|_| {
                format!("{part:?} is not an IP address (give addresses, comma-separated)")
            })
        })
        .collect()
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?} must be an http:// or https:// URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text:?} must not carry a query or a fragment"));
    }
    Ok(text.trim().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_apply_without_any_setting() {
        let config = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert_eq!(config.ingest_batch_max, DEFAULT_INGEST_BATCH_MAX);
        assert!(config.twilio_auth_token.is_none());
    }

    #[test]
    fn unknown_environment_key_is_named() {
        let err = Config::from_sources(None, env(&[("SMSTRAIL_DATABSE_URL", "x")])).unwrap_err();
        assert!(err.to_string().contains("SMSTRAIL_DATABSE_URL"), "{err}");
    }

    #[test]
    fn tooling_variables_are_not_configuration() {
        let config = Config::from_sources(
            None,
            env(&[
                ("SMSTRAIL_TEST_POSTGRES_URL", "postgres://x"),
                ("PATH", "/bin"),
            ]),
        );
        assert!(config.is_ok());
    }

    #[test]
    fn telnyx_public_key_must_be_a_raw_ed25519_key() {
        for (value, reason) in [
            ("not base64!", "base64"),
            ("c2hvcnQ=", "5 bytes"),
            (
                "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                "44 bytes",
            ),
        ] {
            let err = Config::from_sources(None, env(&[("SMSTRAIL_TELNYX_PUBLIC_KEY", value)]))
                .unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("telnyx_public_key") && text.contains(reason),
                "{value}: {text}"
            );
        }
        let config = Config::from_sources(
            None,
            env(&[(
                "SMSTRAIL_TELNYX_PUBLIC_KEY",
                "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            )]),
        )
        .unwrap();
        assert!(crate::providers::telnyx::Telnyx::from_config(&config).is_some());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            ("SMSTRAIL_BIND", "localhost"),
            ("SMSTRAIL_DATABASE_URL", "mysql://x"),
            ("SMSTRAIL_PUBLIC_URL", "ftp://example.com"),
            ("SMSTRAIL_PUBLIC_URL", "https://example.com/?a=1"),
            ("SMSTRAIL_DATA_KEY", "c2hvcnQ="),
            ("SMSTRAIL_DATA_KEY", "%%%"),
            ("SMSTRAIL_INGEST_BATCH_MAX", "0"),
            ("SMSTRAIL_INGEST_BATCH_MAX", "many"),
            ("SMSTRAIL_INGEST_WRITERS", "0"),
            ("SMSTRAIL_INGEST_WRITERS", "2"),
            ("SMSTRAIL_VONAGE_SIGNATURE_METHOD", "sha3"),
            ("SMSTRAIL_STANDARD_SECRET", "whsec_"),
            ("SMSTRAIL_NOTIFY_URL", "not a url"),
            ("SMSTRAIL_NOTIFY_URL", "ftp://example.com/hook"),
            ("SMSTRAIL_TRUSTED_PROXIES", "10.0.0.0/8"),
            ("SMSTRAIL_TRUSTED_PROXIES", "127.0.0.1, proxy.local"),
            ("SMSTRAIL_DB_TIMEOUT", "5"),
            ("SMSTRAIL_DB_TIMEOUT", "10ms"),
            ("SMSTRAIL_DB_TIMEOUT", "fast"),
            ("SMSTRAIL_HEADER_READ_TIMEOUT", "1 minute"),
            ("SMSTRAIL_BODY_READ_TIMEOUT", "0s"),
            ("SMSTRAIL_MAX_CONNECTIONS", "0"),
            ("SMSTRAIL_LOG_FORMAT", "xml"),
            ("SMSTRAIL_FINAL_WINDOWS", "otp=10"),
            ("SMSTRAIL_FINAL_WINDOWS", "otp"),
            ("SMSTRAIL_FINAL_WINDOWS", "sms=10m"),
            ("SMSTRAIL_FINAL_WINDOWS", "otp=0s"),
            ("SMSTRAIL_FINAL_WINDOWS", "otp=1m,otp=2m"),
            ("SMSTRAIL_RECONCILE_EVERY", "60"),
            ("SMSTRAIL_RECONCILE_EVERY", "500ms"),
            ("SMSTRAIL_RECONCILE_EVERY", "often"),
            ("SMSTRAIL_RETAIN_RAW_PAYLOADS", "90"),
            ("SMSTRAIL_RETAIN_RAW_PAYLOADS", "forever"),
            ("SMSTRAIL_RETAIN_RAW_PAYLOADS", "0d"),
            ("SMSTRAIL_RETAIN_NUMBERS", "-1d"),
            ("SMSTRAIL_RETAIN_NUMBERS", "3 days"),
            ("SMSTRAIL_RETAIN_NUMBERS", "500ms"),
        ] {
            let err = Config::from_sources(None, env(&[(key, value)])).unwrap_err();
            let expected = key.trim_start_matches(ENV_PREFIX).to_ascii_lowercase();
            assert!(err.to_string().contains(&expected), "{key}={value}: {err}");
        }
    }

    #[test]
    fn final_windows_default_per_use_case_and_default_sets_the_rest() {
        let config = Config::from_sources(None, env(&[])).unwrap();
        let w = &config.final_windows;
        assert_eq!(w.window(Some("otp")), Duration::from_secs(600));
        assert_eq!(w.window(Some("account_alert")), Duration::from_secs(3600));
        for use_case in ["transactional", "marketing", "other"] {
            assert_eq!(w.window(Some(use_case)), Duration::from_secs(72 * 3600));
        }
        assert_eq!(w.window(None), Duration::from_secs(72 * 3600));
        assert_eq!(config.reconcile_every, Duration::from_secs(60));

        let w = FinalWindows::parse("otp=30s, default=3d").unwrap();
        assert_eq!(w.window(Some("otp")), Duration::from_secs(30));
        assert_eq!(
            w.window(Some("account_alert")),
            Duration::from_secs(3 * 86_400)
        );
        assert_eq!(w.window(None), Duration::from_secs(3 * 86_400));

        let w = FinalWindows::parse("marketing=1h").unwrap();
        assert_eq!(w.window(Some("marketing")), Duration::from_secs(3600));
        assert_eq!(
            w.window(Some("otp")),
            Duration::from_secs(600),
            "built-in kept"
        );

        let config = Config::from_sources(
            None,
            env(&[
                ("SMSTRAIL_RECONCILE_EVERY", "10s"),
                ("SMSTRAIL_FINAL_WINDOWS", "otp=5m"),
            ]),
        )
        .unwrap();
        assert_eq!(config.reconcile_every, Duration::from_secs(10));
        assert_eq!(
            config.final_windows.window(Some("otp")),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn trusted_proxies_are_a_list_of_addresses() {
        let config = Config::from_sources(
            None,
            env(&[("SMSTRAIL_TRUSTED_PROXIES", " 127.0.0.1, ::1 ,")]),
        )
        .unwrap();
        assert_eq!(
            config.trusted_proxies,
            vec![
                std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
            ]
        );
        let config = Config::from_sources(None, env(&[])).unwrap();
        assert!(config.trusted_proxies.is_empty());
    }

    #[test]
    fn unmatched_after_defaults_to_an_hour_and_refuses_bad_values() {
        let config = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!(config.unmatched_after, Duration::from_secs(3600));
        let config =
            Config::from_sources(None, env(&[("SMSTRAIL_UNMATCHED_AFTER", "15m")])).unwrap();
        assert_eq!(config.unmatched_after, Duration::from_secs(900));
        for bad in ["soon", "10", "500ms", "-1h"] {
            let error = Config::from_sources(None, env(&[("SMSTRAIL_UNMATCHED_AFTER", bad)]))
                .unwrap_err()
                .to_string();
            assert!(error.contains("unmatched_after"), "{bad}: {error}");
        }
    }

    #[test]
    fn retention_keeps_forever_unless_set() {
        let config = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!(config.retain_raw_payloads, None);
        assert_eq!(config.retain_numbers, None);
        let config = Config::from_sources(
            None,
            env(&[
                ("SMSTRAIL_RETAIN_RAW_PAYLOADS", "90d"),
                ("SMSTRAIL_RETAIN_NUMBERS", "12h"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.retain_raw_payloads,
            Some(Duration::from_secs(90 * 86_400))
        );
        assert_eq!(config.retain_numbers, Some(Duration::from_secs(12 * 3600)));
        let config = Config::from_sources(None, env(&[("SMSTRAIL_RETAIN_NUMBERS", " ")])).unwrap();
        assert_eq!(config.retain_numbers, None, "empty counts as unset");
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 5s "), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
        let config = Config::from_sources(None, env(&[("SMSTRAIL_DB_TIMEOUT", "2s")])).unwrap();
        assert_eq!(config.db_timeout, Duration::from_secs(2));
    }

    #[test]
    fn several_ingest_writers_are_for_postgres() {
        let config = Config::from_sources(
            None,
            env(&[
                ("SMSTRAIL_DATABASE_URL", "postgres://u@h/db"),
                ("SMSTRAIL_INGEST_WRITERS", "4"),
            ]),
        )
        .unwrap();
        assert_eq!(config.ingest_writers, 4);
    }

    #[test]
    fn environment_wins_over_file_and_file_keys_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smstrail.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:9000\"\ningest_batch_max = 7\n").unwrap();
        let config =
            Config::from_sources(Some(&path), env(&[("SMSTRAIL_BIND", "127.0.0.1:9001")])).unwrap();
        assert_eq!(config.bind.port(), 9001);
        assert_eq!(config.ingest_batch_max, 7);

        std::fs::write(&path, "bindd = \"127.0.0.1:9000\"\n").unwrap();
        let err = Config::from_sources(Some(&path), env(&[])).unwrap_err();
        assert!(err.to_string().contains("bindd"), "{err}");

        let missing = dir.path().join("absent.toml");
        let err = Config::from_sources(Some(&missing), env(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::File { .. }), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let key = DataKey::from_bytes([7; 32]).to_base64();
        let config = Config::from_sources(
            None,
            env(&[
                ("SMSTRAIL_TWILIO_AUTH_TOKEN", "tok-very-secret"),
                ("SMSTRAIL_DATA_KEY", &key),
            ]),
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("tok-very-secret"));
        assert!(!shown.contains(&key));
    }
}
