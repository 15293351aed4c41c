//! Everything that differs between SQLite and PostgreSQL, in one place:
//! how a database is created and migrated, per-connection settings, how a
//! write transaction begins, and how writers to one provider message are
//! serialized. The queries themselves run through sqlx's `Any` driver and are
//! written once for both.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyTypeInfo, AnyValueRef};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{
    Any, AnyConnection, AnyPool, Connection, Decode, PgPool, SqlitePool, Transaction, Type,
};

use super::{OpenOptions, SessionBackend, Store, StoreError};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Self::Sqlite
        } else {
            Self::Postgres
        }
    }
}

/// The pools one open store needs: the `Any` pool for every query, and a
/// lazily connected concrete pool for tower-sessions, which is not generic
/// over the database.
pub(super) struct Pools {
    pub backend: Backend,
    pub any: AnyPool,
    pub sessions: SessionBackend,
    pub sessions_pool: SessionPool,
}

/// The concrete pool under [`SessionBackend`], whose stores do not hand
/// their pool back.
pub(super) enum SessionPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub(super) async fn connect(url: &str, open: OpenOptions) -> Result<Pools, StoreError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of(url);
    let sessions_pool = match backend {
        Backend::Sqlite => SessionPool::Sqlite(prepare_sqlite(url, open).await?),
        Backend::Postgres => SessionPool::Postgres(prepare_postgres(url, open).await?),
    };
    let sessions = match &sessions_pool {
        SessionPool::Sqlite(pool) => SessionBackend::from(pool.clone()),
        SessionPool::Postgres(pool) => SessionBackend::from(pool.clone()),
    };
    let timeout = open.timeout;
    let options = AnyPoolOptions::new()
        .max_connections(open.max_connections)
        .test_before_acquire(open.test_before_acquire)
        .acquire_timeout(timeout);
    let options = match backend {
        Backend::Postgres => {
            options.after_connect(move |conn, _| Box::pin(postgres_settings(conn, timeout)))
        }
        Backend::Sqlite => {
            options.after_connect(move |conn, _| Box::pin(sqlite_pragmas(conn, timeout)))
        }
    };
    let any = options.connect(url).await?;
    Ok(Pools {
        backend,
        any,
        sessions,
        sessions_pool,
    })
}

/// The settings SQLite keeps per connection, which a URL cannot carry to the
/// `Any` driver.
async fn sqlite_pragmas(conn: &mut AnyConnection, busy: Duration) -> Result<(), sqlx::Error> {
    // FULL: a 2xx promises the callback survives a power cut, not only a crash.
    sqlx::query("PRAGMA synchronous = FULL")
        .execute(&mut *conn)
        .await?;
    let busy = format!("PRAGMA busy_timeout = {}", busy.as_millis());
    sqlx::query(&busy).execute(&mut *conn).await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A statement that runs longer than the timeout is cancelled by the server,
/// so no request holds a connection (or waits) past it.
async fn postgres_settings(conn: &mut AnyConnection, timeout: Duration) -> Result<(), sqlx::Error> {
    let set = format!("SET statement_timeout = {}", timeout.as_millis());
    sqlx::query(&set).execute(&mut *conn).await?;
    Ok(())
}

/// Creates the file (and its folder) and migrates when asked; WAL mode is
/// stored in the file, so later connections inherit it.
async fn prepare_sqlite(url: &str, open: OpenOptions) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(open.migrate)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(open.timeout)
        .foreign_keys(true);
    if open.migrate {
        if let Some(parent) = Path::new(options.get_filename()).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(e.into()))?;
        }
        create_private(options.get_filename()).map_err(|e| StoreError::Database(e.into()))?;
        let mut conn = SqliteConnection::connect_with(&options).await?;
        SQLITE_MIGRATIONS.run(&mut conn).await?;
        conn.close().await?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(open.max_connections)
        .acquire_timeout(open.timeout)
        .connect_lazy_with(options.synchronous(SESSIONS_SYNCHRONOUS));
    Ok(pool)
}

/// Session rows are re-saved on every page an agent opens (to push their
/// idle expiry back): waiting for the disk each time was most of a page's
/// cost. Their commits stay atomic and ordered, and the next commit of any
/// other write (an audit row, a callback) syncs them too; a power cut in
/// between can only lose an expiry push-back, a login (log in again) or a
/// logout of the last moment (the session still ends at its expiry, and a
/// disabled user's sessions end through the users table, which keeps FULL).
const SESSIONS_SYNCHRONOUS: SqliteSynchronous = SqliteSynchronous::Normal;

/// Creates the database file empty with mode 0600 before SQLite opens it:
/// it holds the same secrets as the 0600 key beside it, and SQLite gives its
/// `-wal` and `-shm` files the database file's permissions.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

async fn prepare_postgres(url: &str, open: OpenOptions) -> Result<PgPool, StoreError> {
    if open.migrate {
        let mut conn = PgConnection::connect(url).await?;
        POSTGRES_MIGRATIONS.run(&mut conn).await?;
        conn.close().await?;
    }
    // The same trade as SESSIONS_SYNCHRONOUS on SQLite: PostgreSQL's
    // asynchronous commit keeps every commit atomic and in order, and loses
    // at most the last moment's session writes if the server crashes.
    let options = PgConnectOptions::from_str(url)?.options([("synchronous_commit", "off")]);
    let pool = PgPoolOptions::new()
        .max_connections(open.max_connections)
        .acquire_timeout(open.timeout)
        .connect_lazy_with(options);
    Ok(pool)
}

impl Store {
    /// A transaction that will write. On SQLite `BEGIN IMMEDIATE` takes the
    /// write lock up front, so a transaction that reads before it writes
    /// cannot fail half-way on a lock upgrade.
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend() {
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool().begin().await?,
        })
    }

    /// Serializes changes that may remove the last active admin until the
    /// transaction ends. SQLite runs one writer at a time already; on
    /// PostgreSQL an advisory lock does it across instances.
    pub(super) async fn lock_admin_changes(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<(), StoreError> {
        if self.backend() == Backend::Sqlite {
            return Ok(());
        }
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(advisory_key("smstrail", "last-admin"))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// A stable 64-bit PostgreSQL advisory lock key for one name in a namespace.
pub(super) fn advisory_key(namespace: &str, name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(namespace.as_bytes())
        .chain_update([0u8])
        .chain_update(name.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Maps a unique-constraint violation to `Conflict`, by error kind rather than
/// constraint name (SQLite reports none).
pub(super) fn conflict_or(error: sqlx::Error, what: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(what.to_owned())
        }
        _ => StoreError::Database(error),
    }
}

/// A BOOLEAN column as read through `Any`, which maps no SQLite column
/// declared BOOLEAN: selects read it as `CAST(col AS INTEGER) AS col` (valid
/// on both backends) and the field takes `#[sqlx(try_from = "DbBool")]`.
pub(super) struct DbBool(bool);

impl From<DbBool> for bool {
    fn from(value: DbBool) -> Self {
        value.0
    }
}

impl Type<Any> for DbBool {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for DbBool {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self(<i64 as Decode<Any>>::decode(value)? != 0))
    }
}

/// A nullable text column holding one of our enums, read with
/// `#[sqlx(try_from = "OptionalText<T>")]` (a plain `T` field takes
/// `try_from = "String"`). Unknown text is an error, never a guess.
pub(super) struct OptionalText<T>(Option<T>);

impl<T> From<OptionalText<T>> for Option<T> {
    fn from(value: OptionalText<T>) -> Self {
        value.0
    }
}

impl<T> Type<Any> for OptionalText<T> {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as Type<Any>>::compatible(ty)
    }
}

impl<'r, T> Decode<'r, Any> for OptionalText<T>
where
    T: TryFrom<String>,
    T::Error: std::error::Error + Send + Sync + 'static,
{
    fn decode(value: AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <Option<String> as Decode<Any>>::decode(value)?;
        Ok(Self(text.map(T::try_from).transpose()?))
    }
}

// The PostgreSQL writer reads the same rows through the concrete driver
// (`Any` cannot bind the arrays its set-based statements need), so the two
// column adapters decode there too: `CAST(… AS INTEGER)` is an `int4`.

impl Type<sqlx::Postgres> for DbBool {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <i32 as Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r> Decode<'r, sqlx::Postgres> for DbBool {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self(<i32 as Decode<sqlx::Postgres>>::decode(value)? != 0))
    }
}

impl<T> Type<sqlx::Postgres> for OptionalText<T> {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r, T> Decode<'r, sqlx::Postgres> for OptionalText<T>
where
    T: TryFrom<String>,
    T::Error: std::error::Error + Send + Sync + 'static,
{
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <Option<String> as Decode<sqlx::Postgres>>::decode(value)?;
        Ok(Self(text.map(T::try_from).transpose()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_session_writes_skip_waiting_for_the_disk() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}/smstrail.db", dir.path().display());
        let pools = connect(&url, OpenOptions::MAIN).await.expect("open");
        let main: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&pools.any)
            .await
            .expect("main pool");
        let SessionPool::Sqlite(sessions) = &pools.sessions_pool else {
            panic!("an SQLite URL opens an SQLite sessions pool");
        };
        let session: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(sessions)
            .await
            .expect("sessions pool");
        // 2 is FULL, 1 is NORMAL.
        assert_eq!((main, session), (2, 1));
    }

    #[tokio::test]
    async fn only_session_commits_are_asynchronous_on_postgres() {
        let Ok(url) = std::env::var("SMSTRAIL_TEST_POSTGRES_URL") else {
            return; // the SQLite run; the PostgreSQL run sets it
        };
        let open = OpenOptions {
            migrate: false,
            ..OpenOptions::MAIN
        };
        let pools = connect(&url, open).await.expect("open");
        let main: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(&pools.any)
            .await
            .expect("main pool");
        let SessionPool::Postgres(sessions) = &pools.sessions_pool else {
            panic!("a PostgreSQL URL opens a PostgreSQL sessions pool");
        };
        let session: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(sessions)
            .await
            .expect("sessions pool");
        assert_eq!((main.as_str(), session.as_str()), ("on", "off"));
    }
}
