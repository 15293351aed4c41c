//! Building the application from its configuration: the data key, the store,
//! the ingest writers and the providers, bundled into the state every route
//! shares.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::FromRef;
use axum_csrf::{CsrfConfig, Key, SameSite};

use crate::auth::{LoginLimiter, SearchLimiter};
use crate::config::{Config, DataKey};
use crate::crypto::{DataCipher, FINGERPRINT_PREFIX, derive_key};
use crate::ingest::Ingest;
use crate::metrics::{self, Metrics, WriterMetrics};
use crate::providers;
use crate::store::{self, Store, StoreError, Writes};

const DATA_KEY_FILE: &str = "data.key";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("SMSTRAIL_DATA_KEY must be set when the database is PostgreSQL")]
    DataKeyRequired,
    #[error("data key file {path}: {reason}")]
    DataKeyFile { path: String, reason: String },
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// What every route shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// Every write of the product's traffic goes through the group-commit writers.
    pub writes: Writes,
    pub ingest: Arc<Ingest>,
    pub cipher: DataCipher,
    pub metrics: Metrics,
    pub csrf: CsrfConfig,
    pub login_limiter: Arc<LoginLimiter>,
    pub search_limiter: Arc<SearchLimiter>,
    /// The message page's "this country often sends no receipt", per country.
    pub receipt_notes: Arc<crate::http::ReceiptNotes>,
}

impl FromRef<AppState> for CsrfConfig {
    fn from_ref(state: &AppState) -> Self {
        state.csrf.clone()
    }
}

impl AppState {
    /// Opens the store (running migrations) and starts the ingest writers.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let data_key = resolve_data_key(&config)?;
        let options = store::OpenOptions {
            timeout: config.db_timeout,
            ..store::OpenOptions::MAIN
        };
        let store = store::open_with(&config.database_url, options).await?;
        upgrade_fingerprints(&store, &data_key).await?;
        // Before the writers start: they count from where the rebuild ends.
        let started = std::time::Instant::now();
        if store.rebuild_rollups_if_needed().await? {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "dashboard rollups counted from the stored data"
            );
        }
        let writer_metrics = WriterMetrics::default();
        store.refresh_mappings().await?;
        let writes = Writes::start(
            &config.database_url,
            config.ingest_writers,
            config.ingest_batch_max,
            config.db_timeout,
            writer_metrics.clone(),
            config.notify_url.is_some(),
        )
        .await?;
        Ok(Self::assemble(
            config,
            &data_key,
            store,
            writes,
            writer_metrics,
        ))
    }

    /// The housekeeping a serving process runs: expired sessions are deleted,
    /// idle login and search throttles forgotten, and a reconcile pass runs
    /// every `SMSTRAIL_RECONCILE_EVERY`.
    pub fn start_background_jobs(&self) {
        use tower_sessions::session_store::ExpiredDeletion;
        let sessions = self.store.session_store();
        let limiter = Arc::clone(&self.login_limiter);
        let searches = Arc::clone(&self.search_limiter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
            loop {
                tick.tick().await;
                if let Err(error) = sessions.delete_expired().await {
                    tracing::warn!(%error, "could not delete expired sessions");
                }
                limiter.forget_idle();
                searches.forget_idle();
            }
        });
        tokio::spawn(crate::auth::password::warm_up());
        if let Some(notifier) =
            crate::notify::Notifier::from_config(self.store.clone(), &self.config)
        {
            notifier.spawn();
        }
        crate::reconcile::spawn(
            self.writes.clone(),
            self.cipher.clone(),
            self.config.reconcile_every,
        );
        let store = self.store.clone();
        let unmatched_after = self.config.unmatched_after;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                review_pass(&store, unmatched_after, chrono::Utc::now()).await;
            }
        });
        let (payloads, numbers) = (self.config.retain_raw_payloads, self.config.retain_numbers);
        if payloads.is_some() || numbers.is_some() {
            let store = self.store.clone();
            tokio::spawn(async move {
                // The first tick is at once: a restart does not postpone the pass.
                let mut tick = tokio::time::interval(RETENTION_EVERY);
                loop {
                    tick.tick().await;
                    retention_pass(&store, payloads, numbers, chrono::Utc::now()).await;
                }
            });
        }
    }

    fn assemble(
        config: Config,
        data_key: &DataKey,
        store: Store,
        writes: Writes,
        writer_metrics: WriterMetrics,
    ) -> Self {
        let cipher = DataCipher::new(data_key);
        let enabled = providers::configured(&config);
        let names: Vec<&'static str> = enabled.iter().map(|p| p.name()).collect();
        let metrics = Metrics::new(metrics::Sources {
            providers: &names,
            writer: writer_metrics,
            queues: writes.queue_watch(),
            store: store.clone(),
        });
        for name in providers::KNOWN {
            if enabled.iter().any(|p| p.name() == name) {
                tracing::info!(provider = name, "provider enabled");
            } else {
                tracing::info!(
                    provider = name,
                    "provider disabled (no credentials): its routes answer 404"
                );
            }
        }
        let ingest = Ingest::new(
            enabled,
            writes.clone(),
            cipher.clone(),
            metrics.clone(),
            store.mapping_cache(),
        );
        let csrf = csrf_config(data_key, config.uses_https());
        Self {
            config: Arc::new(config),
            store,
            writes,
            ingest: Arc::new(ingest),
            cipher,
            metrics,
            csrf,
            login_limiter: Arc::new(LoginLimiter::default()),
            search_limiter: Arc::new(SearchLimiter::default()),
            receipt_notes: Arc::default(),
        }
    }
}

/// The review queue's minute: callbacks waiting longer than `after` for
/// their message become review items, and the mapping cache is reloaded
/// (another instance may have changed a mapping). Failures are logged and
/// retried on the next tick.
pub async fn review_pass(
    store: &Store,
    after: std::time::Duration,
    now: chrono::DateTime<chrono::Utc>,
) {
    let now_us = now.timestamp_micros();
    let cutoff_us = now_us.saturating_sub(i64::try_from(after.as_micros()).unwrap_or(i64::MAX));
    match store.sweep_unmatched(cutoff_us, now_us).await {
        Ok((0, 0)) => {}
        Ok((opened, resolved)) => {
            tracing::info!(opened, resolved, "unmatched callbacks reviewed");
        }
        Err(error) => tracing::warn!(%error, "could not review unmatched callbacks"),
    }
    if let Err(error) = store.refresh_mappings().await {
        tracing::warn!(%error, "could not reload the status mappings");
    }
}

/// How often `serve` applies the retention settings.
pub const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// The daily retention pass: raw payloads older than `payloads` and number
/// ciphertexts older than `numbers` are removed (`None`: kept forever).
/// Failures are logged and retried on the next day's pass; what a pass did
/// not reach, the next one does.
pub async fn retention_pass(
    store: &Store,
    payloads: Option<std::time::Duration>,
    numbers: Option<std::time::Duration>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<crate::store::RetentionReport> {
    use crate::domain::retention::cutoff_us;
    let now_us = now.timestamp_micros();
    let result = store
        .apply_retention(
            payloads.map(|p| cutoff_us(p, now_us)),
            numbers.map(|n| cutoff_us(n, now_us)),
            now_us,
        )
        .await;
    match result {
        Ok(report) => {
            if !report.is_empty() {
                tracing::info!(
                    event_payloads = report.event_payloads,
                    inbound_payloads = report.inbound_payloads,
                    review_payloads = report.review_payloads,
                    recipients = report.recipients,
                    senders = report.senders,
                    "retention policy applied"
                );
            }
            Some(report)
        }
        Err(error) => {
            tracing::warn!(%error, "could not apply the retention policy");
            None
        }
    }
}

/// Keys the request fingerprints that earlier versions stored unkeyed (a
/// SHA-256 of a document holding the number in clear), before any request
/// can compare against them. Rows already keyed are left alone, so this
/// costs one scan once everything is upgraded.
async fn upgrade_fingerprints(store: &Store, data_key: &DataKey) -> Result<(), StoreError> {
    let cipher = DataCipher::new(data_key);
    let upgraded = store
        .upgrade_fingerprints(FINGERPRINT_PREFIX, |old| cipher.upgrade_fingerprint(old))
        .await?;
    if upgraded > 0 {
        tracing::info!(
            upgraded,
            "keyed the request fingerprints of earlier versions"
        );
    }
    Ok(())
}

/// CSRF cookies keyed from the data key: tokens survive restarts and are
/// valid on every instance sharing the database.
fn csrf_config(data_key: &DataKey, https: bool) -> CsrfConfig {
    let key = derive_key::<64>(data_key, b"smstrail/v1/csrf-cookie");
    let salt = hex::encode(derive_key::<32>(data_key, b"smstrail/v1/csrf-salt"));
    CsrfConfig::default()
        .with_key(Some(Key::from(&key)))
        .with_salt(salt)
        .with_cookie_name("smstrail_csrf")
        .with_cookie_same_site(SameSite::Strict)
        .with_http_only(true)
        .with_secure(https)
        // `__Host-`: a cookie no subdomain can set or overwrite (it needs
        // Secure, so only under https).
        .with_prefix_with_host(https)
        .with_cookie_path("/")
        // As long as a session can idle, so an open page's forms keep working.
        .with_lifetime(crate::http::SESSION_IDLE)
}

/// The configured key; on the embedded SQLite default without one, a key
/// generated once into the data folder (mode 0600) and reused after.
pub fn resolve_data_key(config: &Config) -> Result<DataKey, StartError> {
    data_key(config, true)
}

/// The key [`resolve_data_key`] would give, but never a new one: for reading
/// what an existing smstrail wrote (`verify-evidence`).
pub fn existing_data_key(config: &Config) -> Result<DataKey, StartError> {
    data_key(config, false)
}

fn data_key(config: &Config, create: bool) -> Result<DataKey, StartError> {
    if let Some(key) = &config.data_key {
        return Ok(key.clone());
    }
    if !config.is_sqlite() {
        return Err(StartError::DataKeyRequired);
    }
    let path = data_folder(&config.database_url).join(DATA_KEY_FILE);
    if create {
        load_or_create_key_file(&path)
    } else {
        read_key_file(&path)?.ok_or_else(|| StartError::DataKeyFile {
            path: path.display().to_string(),
            reason: "not found, and SMSTRAIL_DATA_KEY is not set".to_owned(),
        })
    }
}

/// The key in `path`; `None` when there is no such file.
fn read_key_file(path: &Path) -> Result<Option<DataKey>, StartError> {
    let failed = |reason: String| StartError::DataKeyFile {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => DataKey::from_base64(&text).map(Some).map_err(failed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failed(e.to_string())),
    }
}

/// The folder holding the SQLite file (`sqlite://data/smstrail.db` → `data`).
fn data_folder(database_url: &str) -> PathBuf {
    let path = database_url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn load_or_create_key_file(path: &Path) -> Result<DataKey, StartError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let failed = |reason: String| StartError::DataKeyFile {
        path: path.display().to_string(),
        reason,
    };
    if let Some(key) = read_key_file(path)? {
        return Ok(key);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| failed(e.to_string()))?;
    }
    let bytes = crate::crypto::random_bytes::<32>().map_err(|e| failed(e.to_string()))?;
    let key = DataKey::from_bytes(bytes);
    // create_new: two processes starting at once must not overwrite each other's key.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| failed(e.to_string()))?;
    file.write_all(key.to_base64().as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| failed(e.to_string()))?;
    tracing::info!(path = %path.display(), "generated a new data key; back it up with the database");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_folder_follows_the_sqlite_path() {
        assert_eq!(
            data_folder("sqlite://data/smstrail.db"),
            PathBuf::from("data")
        );
        assert_eq!(
            data_folder("sqlite:///var/lib/x/s.db?mode=rwc"),
            PathBuf::from("/var/lib/x")
        );
        assert_eq!(data_folder("sqlite://s.db"), PathBuf::from("."));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(DATA_KEY_FILE);
        let first = load_or_create_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create_key_file(&path).unwrap(), first);
        std::fs::write(&path, "garbage").unwrap();
        assert!(load_or_create_key_file(&path).is_err());
    }
}
