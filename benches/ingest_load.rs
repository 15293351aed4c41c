//! Load generator for the callback ingest path.
//!
//! Runs the real `smstrail` binary as a child process against a fresh
//! database, registers messages through the API, then fires signed Twilio
//! status callbacks (queued → sent → delivered, with duplicates and some out
//! of order) at a given concurrency, and measures callbacks/s, latency
//! percentiles and the server's memory. Afterwards it checks every message's
//! timeline: nothing lost, nothing doubled.
//!
//! Registration is a timed phase of its own, at the same concurrency. With
//! `--preload N` the database first gets N messages of history (3 N events),
//! so the rates on an empty and on a full database can be compared: the
//! write path's cost must not grow with the data. `--plans` prints the query
//! plans of the write path's statements on that database and flags full scans.
//!
//! ```text
//! cargo bench --bench ingest_load -- [--backend sqlite|postgres] [--postgres URL]
//!     [--batch N] [--writers N] [--messages N] [--concurrency C[,C…]] [--seed S]
//!     [--preload N[,N…]] [--rounds N] [--plans] [--reconcile SILENT]
//! ```
//!
//! `--reconcile SILENT` measures a reconcile pass over the preloaded
//! database and ingest beside it (see `ingest_load/reconcile.rs`).

#[path = "ingest_load/plans.rs"]
mod plans;
#[path = "ingest_load/preload.rs"]
mod preload;
#[path = "ingest_load/reconcile.rs"]
mod reconcile;

use std::future::Future;
use std::net::TcpListener;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sqlx::{Connection as _, PgConnection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use smstrail::config::DEFAULT_INGEST_BATCH_MAX;
use smstrail::providers::twilio;

const USAGE: &str = "\
usage: cargo bench --bench ingest_load -- [options]
  --backend sqlite|postgres  database to run against (default: sqlite, or postgres
                             when --postgres is given)
  --postgres URL             admin URL of a PostgreSQL server (or SMSTRAIL_BENCH_POSTGRES_URL);
                             a fresh database is created on it per run and dropped after
  --batch N                  SMSTRAIL_INGEST_BATCH_MAX for the server (default: the server's)
  --writers N                SMSTRAIL_INGEST_WRITERS for the server (PostgreSQL only)
  --messages N               messages per run (default: 2000)
  --concurrency C[,C...]     concurrency of registrations and callbacks, repeatable
                             (default: 16,64,256)
  --seed S                   seed of the callback plan (default: 1)
  --preload N[,N...]         messages (3 events each) written into the database before
                             the server starts, repeatable; 0 is an empty database
                             (default: 0). Each preload is run at every concurrency.
  --rounds N                 rounds per concurrency (default: 1); each round runs once on
                             every --preload database in turn, and the summary compares
                             medians
  --plans                    after the runs, print the query plans of the write path's
                             statements on each database and flag full scans
  --reconcile SILENT         leave SILENT preloaded messages without a final receipt, let
                             the server's reconcile job time them out, and compare ingest
                             rounds before, during and after that pass (needs --preload)";

const DEFAULT_MESSAGES: usize = 2000;
const DEFAULT_CONCURRENCIES: [usize; 3] = [16, 64, 256];
const POSTGRES_URL_ENV: &str = "SMSTRAIL_BENCH_POSTGRES_URL";

/// The client shares the machine's two cores with the server: one worker
/// thread sustains ~15,000 requests/s at ~75% of a core and leaves the rest
/// to the server (and the database).
const CLIENT_THREADS: usize = 1;
const SETUP_CONCURRENCY: usize = 32;
const RSS_POLL_INTERVAL: Duration = Duration::from_millis(50);
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

const OUT_OF_ORDER_RATE: f64 = 0.05;
const DUPLICATE_RATE: f64 = 0.10;

const TWILIO_AUTH_TOKEN: &str = "bench-twilio-auth-token";
const STATUS_PATH: &str = "/webhooks/twilio/status";
const ACCOUNT_SID: &str = "ACbench0000000000000000000000000000";
const FROM_NUMBER: &str = "+14155550100";

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("ingest_load: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(CLIENT_THREADS)
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime");
    runtime.block_on(run_matrix(&options))
}

// ---------------------------------------------------------------- options

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Debug)]
struct Options {
    backend: Backend,
    /// Admin URL of the PostgreSQL server; only used for `Backend::Postgres`.
    postgres_url: Option<String>,
    batch: Option<usize>,
    writers: Option<usize>,
    messages: usize,
    concurrencies: Vec<usize>,
    seed: u64,
    preloads: Vec<usize>,
    rounds: usize,
    plans: bool,
    /// `--reconcile`: how many preloaded messages the measured pass times out.
    reconcile: Option<usize>,
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut backend = None;
        let mut postgres_flag = None;
        let mut batch = None;
        let mut writers = None;
        let mut messages = DEFAULT_MESSAGES;
        let mut concurrencies = Vec::new();
        let mut seed = 1;
        let mut preloads = Vec::new();
        let mut plans = false;
        let mut rounds = 1;
        let mut reconcile = None;

        let mut args = args;
        while let Some(arg) = args.next() {
            // Both `--name value` and `--name=value`.
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match name.as_str() {
                // cargo passes --bench to every bench target.
                "--bench" => {}
                "--backend" => {
                    backend = Some(match value()?.as_str() {
                        "sqlite" => Backend::Sqlite,
                        "postgres" => Backend::Postgres,
                        other => return Err(format!("unknown backend {other:?}")),
                    })
                }
                "--postgres" => postgres_flag = Some(value()?),
                "--batch" => batch = Some(positive(&name, &value()?)?),
                "--writers" => writers = Some(positive(&name, &value()?)?),
                "--messages" => messages = positive(&name, &value()?)?,
                "--concurrency" => {
                    for part in value()?.split(',').filter(|p| !p.trim().is_empty()) {
                        concurrencies.push(positive(&name, part.trim())?);
                    }
                }
                "--seed" => {
                    seed = value()?
                        .parse()
                        .map_err(|_| "--seed must be a whole number".to_owned())?
                }
                "--preload" => {
                    for part in value()?.split(',').filter(|p| !p.trim().is_empty()) {
                        preloads.push(part.trim().parse().map_err(|_| {
                            format!("--preload must be whole numbers, got {part:?}")
                        })?);
                    }
                }
                "--plans" => plans = true,
                "--rounds" => rounds = positive(&name, &value()?)?,
                "--reconcile" => reconcile = Some(positive(&name, &value()?)?),
                "-h" | "--help" => return Err("help requested".to_owned()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }

        // An explicit --postgres picks PostgreSQL; the environment variable
        // only supplies the URL, so a leftover export cannot silently switch
        // a plain run away from SQLite.
        let backend = backend.unwrap_or(if postgres_flag.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        });
        let postgres_url = postgres_flag.or_else(|| std::env::var(POSTGRES_URL_ENV).ok());
        if backend == Backend::Postgres && postgres_url.is_none() {
            return Err(format!(
                "--backend postgres needs --postgres URL or {POSTGRES_URL_ENV}"
            ));
        }
        if concurrencies.is_empty() {
            concurrencies = DEFAULT_CONCURRENCIES.to_vec();
        }
        if preloads.is_empty() {
            preloads.push(0);
        }
        if let Some(silent) = reconcile
            && preloads.iter().any(|&p| p < silent)
        {
            return Err(format!(
                "--reconcile {silent} needs --preload of at least {silent} messages"
            ));
        }
        Ok(Self {
            backend,
            postgres_url,
            batch,
            writers,
            messages,
            concurrencies,
            seed,
            preloads,
            rounds,
            plans,
            reconcile,
        })
    }

    fn batch_label(&self) -> String {
        let batch = match self.batch {
            Some(n) => n.to_string(),
            None => format!("{DEFAULT_INGEST_BATCH_MAX} (default)"),
        };
        match self.writers {
            Some(n) => format!("{batch}, {n} writers"),
            None => batch,
        }
    }
}

fn positive(name: &str, text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{name} must be a positive whole number, got {text:?}"
        )),
    }
}

// ---------------------------------------------------------------- the matrix

async fn run_matrix(options: &Options) -> ExitCode {
    let mut reports = Vec::new();
    let mut failed = false;
    for &concurrency in &options.concurrencies {
        match run_interleaved(options, concurrency).await {
            Ok(mut runs) => {
                failed |= runs.iter().any(|r| r.wrong_messages > 0);
                reports.append(&mut runs);
            }
            Err(message) => {
                eprintln!(
                    "ingest_load: {} runs at concurrency {concurrency} failed: {message}",
                    options.backend.name()
                );
                failed = true;
            }
        }
    }
    println!();
    print_table(&reports);
    print_growth(&reports);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One database per `--preload` (fresh, filled if asked), then `--rounds`
/// rounds that each run the whole scenario once on every database in turn,
/// each time on a fresh server, then the plans if asked, cleanup.
///
/// Alternating the databases round by round spreads whatever else the
/// machine is doing over all of them alike; runs one after the other on a
/// busy machine differed by up to 2x on the same database.
async fn run_interleaved(options: &Options, concurrency: usize) -> Result<Vec<RunReport>, String> {
    let mut databases = Vec::new();
    let result = async {
        for &preload in &options.preloads {
            databases.push((preload, Database::create(options).await?));
            let database = &databases.last().expect("just pushed").1;
            if preload > 0 {
                migrate(database.url(), options).await?;
                let took = preload::fill(options.backend, database.url(), preload).await?;
                eprintln!(
                    "ingest_load: preloaded {preload} messages and {} events in {:.1}s",
                    preload * 3,
                    took.as_secs_f64()
                );
            }
        }
        let mut reports = Vec::new();
        if let Some(silent) = options.reconcile {
            for (preload, database) in &databases {
                reconcile::make_silent(database.url(), silent).await?;
                let server = Server::start(database.url(), options).await?;
                let result =
                    reconcile::measure(&server, database.url(), options, concurrency, silent).await;
                server.stop().await;
                let mut rounds = result?;
                for report in &mut rounds {
                    report.preloaded = *preload;
                }
                reports.append(&mut rounds);
            }
            return Ok(reports);
        }
        for round in 0..options.rounds {
            for (preload, database) in &databases {
                let server = Server::start(database.url(), options).await?;
                // Each round registers messages of its own.
                let first = round * options.messages;
                let result = run_scenario(&server, options, concurrency, first).await;
                server.stop().await;
                let mut report = result?;
                report.preloaded = *preload;
                report.round = round + 1;
                println!("{}", report.line());
                reports.push(report);
            }
        }
        if options.plans {
            for (preload, database) in &databases {
                // A failure here must not throw away the measured runs.
                match plans_of(options.backend, database.url()).await {
                    Ok(with_scans) => reports
                        .iter_mut()
                        .filter(|r| r.preloaded == *preload)
                        .for_each(|r| r.plans_with_scans = Some(with_scans)),
                    Err(error) => eprintln!("ingest_load: --plans failed: {error}"),
                }
            }
        }
        Ok(reports)
    }
    .await;
    // Dropped whatever happened, so failed runs leave no databases behind.
    for (_, database) in databases {
        database.remove().await;
    }
    result
}

/// Prints the plans; returns how many statements scan.
async fn plans_of(backend: Backend, url: &str) -> Result<usize, String> {
    let sizes = plans::table_sizes(backend, url).await?;
    let plans = plans::explain_all(backend, url).await?;
    plans::print(backend, &sizes, &plans);
    Ok(plans.iter().filter(|p| !p.scans.is_empty()).count())
}

/// `first` is the number of the first message to register, so that rounds
/// on one database register distinct messages.
async fn run_scenario(
    server: &Server,
    options: &Options,
    concurrency: usize,
    first: usize,
) -> Result<RunReport, String> {
    let rss = RssSampler::start(server.pid);
    let mut rng = Rng::new(options.seed);

    let cpu_before = CpuSnapshot::take(server.pid);
    let (messages, registration) =
        register_messages(server, options.messages, concurrency, first).await?;
    let registration_cpu = CpuUse::between(
        &cpu_before,
        &CpuSnapshot::take(server.pid),
        registration.elapsed,
    );
    let messages = Arc::new(messages);

    // Plan and sign everything up front so the timed phase measures the
    // server, not the client's HMACs.
    let plan = plan_callbacks(messages.len(), &mut rng);
    let callbacks = sign_callbacks(&plan, &messages, &server.base_url);
    let cpu_before = CpuSnapshot::take(server.pid);
    let load = fire_callbacks(server, callbacks, concurrency).await?;
    let cpu = CpuUse::between(&cpu_before, &CpuSnapshot::take(server.pid), load.elapsed);
    let counted = server_callback_counts(server).await;

    let verification = verify_messages(server, &messages).await;
    let (peak_rss_kb, hwm_kb) = rss.stop().await;

    Ok(RunReport {
        backend: options.backend,
        batch: options.batch_label(),
        concurrency,
        preloaded: 0,
        round: 1,
        registration,
        registration_cpu,
        plans_with_scans: None,
        duplicates_sent: plan.iter().filter(|c| c.repeat).count(),
        load,
        cpu,
        counted,
        peak_rss_kb,
        hwm_kb,
        wrong_messages: verification.wrong,
        wrong_examples: verification.examples,
    })
}

// ---------------------------------------------------------------- database

/// A database that exists only for one run.
enum Database {
    Sqlite {
        url: String,
        /// Deleted with its contents when dropped.
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl Database {
    async fn create(options: &Options) -> Result<Self, String> {
        match options.backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("smstrail-bench-")
                    .tempdir()
                    .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Ok(Self::Sqlite { url, _dir: dir })
            }
            Backend::Postgres => {
                let admin_url = options
                    .postgres_url
                    .clone()
                    .ok_or("no PostgreSQL URL given")?;
                let name = format!("smstrail_bench_{}", uuid::Uuid::now_v7().simple());
                admin_execute(&admin_url, &format!("CREATE DATABASE {name}")).await?;
                let mut url = url::Url::parse(&admin_url)
                    .map_err(|e| format!("--postgres is not a URL: {e}"))?;
                url.set_path(&format!("/{name}"));
                Ok(Self::Postgres {
                    admin_url,
                    name,
                    url: url.into(),
                })
            }
        }
    }

    fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }

    async fn remove(self) {
        if let Self::Postgres {
            admin_url, name, ..
        } = self
        {
            // FORCE: a server that did not stop cleanly may still hold connections.
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(error) = admin_execute(&admin_url, &drop).await {
                eprintln!("ingest_load: warning: could not drop database {name}: {error}");
            }
        }
    }
}

/// Runs one statement on the admin database (CREATE/DROP DATABASE cannot run
/// inside the database they affect).
async fn admin_execute(admin_url: &str, statement: &str) -> Result<(), String> {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL at the --postgres URL: {e}"))?;
    sqlx::query(statement)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("{statement}: {e}"))?;
    let _ = conn.close().await;
    Ok(())
}

// ---------------------------------------------------------------- server

/// The `smstrail serve` child process, killed when dropped.
struct Server {
    child: Child,
    pid: u32,
    base_url: String,
    token: String,
    client: reqwest::Client,
}

impl Server {
    async fn start(database_url: &str, options: &Options) -> Result<Self, String> {
        let port = free_port()?;
        let base_url = format!("http://127.0.0.1:{port}");
        let env = server_env(database_url, port, &base_url, options);

        let child = smstrail_command(&env)
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the smstrail binary: {e}"))?;
        let mut server = Self {
            pid: child.id(),
            child,
            base_url,
            token: String::new(),
            client: http_client(SETUP_CONCURRENCY)?,
        };
        server.wait_ready().await?;
        server.token = create_token(env).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let url = format!("{}/readyz", self.base_url);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the server exited during start-up ({status})"));
            }
            if let Ok(response) = self.client.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the server was not ready within {READY_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM first so the server shuts down as in production (and SQLite
    /// checkpoints its WAL); SIGKILL if it does not finish in time.
    async fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!("ingest_load: warning: the server ignored SIGTERM; killing it");
        // Drop does the killing.
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The server's configuration, all through the environment.
fn server_env(
    database_url: &str,
    port: u16,
    base_url: &str,
    options: &Options,
) -> Vec<(String, String)> {
    // Any key works; one derived from the seed keeps runs reproducible.
    let mut key = [0u8; 32];
    let mut rng = Rng::new(options.seed ^ 0x5eed_da7a);
    key.iter_mut().for_each(|b| *b = rng.next() as u8);
    let mut env = vec![
        ("SMSTRAIL_DATABASE_URL", database_url.to_owned()),
        ("SMSTRAIL_BIND", format!("127.0.0.1:{port}")),
        ("SMSTRAIL_PUBLIC_URL", base_url.to_owned()),
        ("SMSTRAIL_DATA_KEY", BASE64.encode(key)),
        ("SMSTRAIL_TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN.to_owned()),
        // SMSTRAIL_BENCH_SERVER_LOG=smstrail::ingest=debug shows each committed batch.
        (
            "SMSTRAIL_LOG",
            std::env::var("SMSTRAIL_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".to_owned()),
        ),
    ];
    if let Some(batch) = options.batch {
        env.push(("SMSTRAIL_INGEST_BATCH_MAX", batch.to_string()));
    }
    if let Some(writers) = options.writers {
        env.push(("SMSTRAIL_INGEST_WRITERS", writers.to_string()));
    }
    if options.reconcile.is_some() {
        env.push(("SMSTRAIL_RECONCILE_EVERY", reconcile::PASS_EVERY.to_owned()));
    }
    // SMSTRAIL_BENCH_NOTIFY_URL: measure with the product notifications on
    // (outbox rows written with every final summary, the sender running).
    if let Ok(url) = std::env::var("SMSTRAIL_BENCH_NOTIFY_URL") {
        env.push(("SMSTRAIL_NOTIFY_URL", url));
        env.push((
            "SMSTRAIL_NOTIFY_SECRET",
            "whsec_c21zdHJhaWwtYmVuY2gtbm90aWZ5LXNlY3JldA==".to_owned(),
        ));
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The binary with exactly the bench's configuration: any `SMSTRAIL_*` of the
/// caller's shell (a config file, another database) would change what is measured.
/// `SMSTRAIL_BENCH_SERVER=PATH` measures another build of smstrail (an
/// earlier commit's, say) with the same workload.
fn smstrail_command(env: &[(String, String)]) -> Command {
    let binary = std::env::var_os("SMSTRAIL_BENCH_SERVER")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_smstrail").into());
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars() {
        if name.starts_with("SMSTRAIL_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// `smstrail token create`, which prints the token alone on stdout.
async fn create_token(env: Vec<(String, String)>) -> Result<String, String> {
    let output = tokio::task::spawn_blocking(move || {
        smstrail_command(&env)
            .args(["token", "create", "--name", "bench"])
            .output()
    })
    .await
    .map_err(|e| format!("token task failed: {e}"))?
    .map_err(|e| format!("cannot run smstrail token create: {e}"))?;
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || token.is_empty() {
        return Err(format!(
            "smstrail token create failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(token)
}

/// `smstrail migrate`: the real schema, so that the preload fills the tables
/// the server will use.
async fn migrate(database_url: &str, options: &Options) -> Result<(), String> {
    let env = server_env(database_url, 0, "http://127.0.0.1", options);
    let output =
        tokio::task::spawn_blocking(move || smstrail_command(&env).arg("migrate").output())
            .await
            .map_err(|e| format!("migrate task failed: {e}"))?
            .map_err(|e| format!("cannot run smstrail migrate: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "smstrail migrate failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

/// A port nobody listens on: bind port 0, read what the kernel gave, release it.
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// A keep-alive client whose pool holds one connection per concurrent task.
fn http_client(connections: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

// ---------------------------------------------------------------- memory

/// Polls the server's resident set size while the run goes on.
struct RssSampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<u64>,
    pid: u32,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut peak = 0;
            let mut tick = tokio::time::interval(RSS_POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                peak = peak.max(proc_status_kb(pid, "VmRSS").unwrap_or(0));
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => return peak,
                }
            }
        });
        Self { stop, task, pid }
    }

    /// The sampled peak and the kernel's high-water mark, both in kB; call it
    /// before the server exits.
    async fn stop(self) -> (u64, u64) {
        let hwm = proc_status_kb(self.pid, "VmHWM").unwrap_or(0);
        let _ = self.stop.send(());
        let peak = self.task.await.unwrap_or(0);
        (peak, hwm)
    }
}

/// A `kB` field of `/proc/<pid>/status`, such as `VmRSS:   12345 kB`.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// CPU seconds used so far by the bench, the server and the whole machine.
struct CpuSnapshot {
    client: Option<f64>,
    server: Option<f64>,
    machine: Option<f64>,
}

impl CpuSnapshot {
    fn take(server_pid: u32) -> Self {
        Self {
            client: process_cpu_seconds("self"),
            server: process_cpu_seconds(&server_pid.to_string()),
            machine: machine_busy_seconds(),
        }
    }
}

/// User + system CPU time of `/proc/<pid>` ("self" for the bench).
fn process_cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: count fields after its closing ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Non-idle CPU time of all cores (the first line of `/proc/stat`), which
/// includes the PostgreSQL backends and anything else running on the box.
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
    let idle = ticks.get(3)? + ticks.get(4)?;
    let total: f64 = ticks.iter().take(8).sum();
    Some((total - idle) / USER_HZ)
}

/// /proc reports clock ticks of USER_HZ, which Linux fixes at 100.
const USER_HZ: f64 = 100.0;

/// How busy the CPUs were during the timed phase, in percent of one core.
/// The machine's figure shows whether the cores ran out (the server waiting
/// on the database or on fsync leaves them idle).
struct CpuUse {
    client: Option<f64>,
    server: Option<f64>,
    machine: Option<f64>,
}

impl CpuUse {
    fn between(before: &CpuSnapshot, after: &CpuSnapshot, elapsed: Duration) -> Self {
        let percent = |before: Option<f64>, after: Option<f64>| {
            Some((after? - before?) / elapsed.as_secs_f64() * 100.0)
        };
        Self {
            client: percent(before.client, after.client),
            server: percent(before.server, after.server),
            machine: percent(before.machine, after.machine),
        }
    }

    /// Server CPU milliseconds per request of a phase.
    fn server_ms_per(&self, phase: &LoadResult) -> Option<f64> {
        let seconds = self.server? / 100.0 * phase.elapsed.as_secs_f64();
        Some(seconds * 1000.0 / phase.sent.max(1) as f64)
    }

    fn describe(&self) -> Option<String> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Some(format!(
            "CPU server {:.0}% client {:.0}% machine {:.0}% of {}%",
            self.server?,
            self.client?,
            self.machine?,
            cores * 100
        ))
    }
}

// ---------------------------------------------------------------- work pool

/// Runs `job(0..count)` on `concurrency` tasks that pull the next index from
/// a shared counter, and returns the results in index order.
async fn for_each_concurrently<T, F, Fut>(count: usize, concurrency: usize, job: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<JoinHandle<Vec<(usize, T)>>> = (0..concurrency.clamp(1, count.max(1)))
        .map(|_| {
            let (job, next) = (job.clone(), next.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        return done;
                    }
                    done.push((index, job(index).await));
                }
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for worker in workers {
        results.extend(worker.await.expect("a load worker panicked"));
    }
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

// ---------------------------------------------------------------- registration

struct Message {
    id: String,
    sid: String,
    to: String,
}

/// The registration phase, timed like the callbacks: `POST /api/v1/messages`
/// at the run's concurrency, each with its own idempotency key.
async fn register_messages(
    server: &Server,
    count: usize,
    concurrency: usize,
    first: usize,
) -> Result<(Vec<Message>, LoadResult), String> {
    // Its own client, so the pool is sized to this run's concurrency.
    let client = http_client(concurrency)?;
    let url = Arc::new(server.url("/api/v1/messages"));
    let token = Arc::new(server.token.clone());
    let started = Instant::now();
    let results = for_each_concurrently(count, concurrency, move |index| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let began = Instant::now();
            let outcome = register_one(&client, &url, &token, first + index).await;
            (began.elapsed(), outcome)
        }
    })
    .await;
    let elapsed = started.elapsed();
    let mut latencies = Vec::with_capacity(count);
    let mut messages = Vec::with_capacity(count);
    for (latency, outcome) in results {
        latencies.push(latency);
        // Every message is needed for the callback phase.
        messages.push(outcome?);
    }
    latencies.sort_unstable();
    let load = LoadResult {
        sent: count,
        elapsed,
        latencies,
        errors: 0,
        first_error: None,
    };
    Ok((messages, load))
}

async fn register_one(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    index: usize,
) -> Result<Message, String> {
    let sid = format!("SMbench{index:026}");
    // 415-555-xxxx: every one of these parses as a valid US number.
    let to = format!("+1415555{:04}", index % 10_000);
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&json!({
            "idempotency_key": format!("bench-{index}"),
            "to": to,
            "provider": "twilio",
            "provider_message_id": sid,
        }))
        .send()
        .await
        .map_err(|e| format!("registering message {index}: {e}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("registering message {index}: unreadable answer: {e}"))?;
    if status != reqwest::StatusCode::CREATED {
        return Err(format!("registering message {index}: {status} {body}"));
    }
    let id = body["id"]
        .as_str()
        .ok_or_else(|| format!("registering message {index}: no id in {body}"))?
        .to_owned();
    Ok(Message { id, sid, to })
}

// ---------------------------------------------------------------- the callback plan

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Queued,
    Sent,
    Delivered,
}

impl Status {
    const NATURAL_ORDER: [Self; 3] = [Self::Queued, Self::Sent, Self::Delivered];

    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct PlannedCallback {
    message: usize,
    status: Status,
    /// A second delivery of a callback already in the plan.
    repeat: bool,
}

/// Every message's callbacks, interleaved across messages in a random order.
///
/// A plain global shuffle would put every message's statuses out of order;
/// instead the positions are shuffled and each message's own sequence is then
/// dealt into its positions in turn, so only the planned ~5% arrive out of order.
fn plan_callbacks(messages: usize, rng: &mut Rng) -> Vec<PlannedCallback> {
    let sequences: Vec<Vec<(Status, bool)>> =
        (0..messages).map(|_| message_sequence(rng)).collect();
    let mut slots: Vec<usize> = sequences
        .iter()
        .enumerate()
        .flat_map(|(message, sequence)| std::iter::repeat_n(message, sequence.len()))
        .collect();
    rng.shuffle(&mut slots);
    let mut dealt = vec![0; messages];
    slots
        .into_iter()
        .map(|message| {
            let (status, repeat) = sequences[message][dealt[message]];
            dealt[message] += 1;
            PlannedCallback {
                message,
                status,
                repeat,
            }
        })
        .collect()
}

/// One message's callbacks in arrival order, each marked whether it repeats
/// an earlier one.
fn message_sequence(rng: &mut Rng) -> Vec<(Status, bool)> {
    let mut order = Status::NATURAL_ORDER;
    if rng.chance(OUT_OF_ORDER_RATE) {
        while order == Status::NATURAL_ORDER {
            rng.shuffle(&mut order);
        }
    }
    let mut sequence: Vec<(Status, bool)> = order.iter().map(|&s| (s, false)).collect();
    for status in order {
        if rng.chance(DUPLICATE_RATE) {
            // A provider retry comes after the original, anywhere later.
            let original = sequence
                .iter()
                .position(|&entry| entry == (status, false))
                .expect("every status of the order is in the sequence");
            let at = original + 1 + rng.below(sequence.len() - original);
            sequence.insert(at, (status, true));
        }
    }
    sequence
}

/// A ready-to-send callback: form body and its `X-Twilio-Signature`.
struct Callback {
    body: String,
    signature: String,
}

fn sign_callbacks(plan: &[PlannedCallback], messages: &[Message], base_url: &str) -> Vec<Callback> {
    let url = format!("{base_url}{STATUS_PATH}");
    plan.iter()
        .map(|planned| {
            let params = callback_params(&messages[planned.message], planned.status);
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish();
            Callback {
                signature: twilio::sign(TWILIO_AUTH_TOKEN, &url, &params),
                body,
            }
        })
        .collect()
}

/// The fields of a real Twilio status callback.
fn callback_params(message: &Message, status: Status) -> Vec<(String, String)> {
    let mut params = vec![
        ("MessageSid", message.sid.as_str()),
        ("SmsSid", message.sid.as_str()),
        ("AccountSid", ACCOUNT_SID),
        ("From", FROM_NUMBER),
        ("To", message.to.as_str()),
        ("MessageStatus", status.as_str()),
        ("SmsStatus", status.as_str()),
        ("ApiVersion", "2010-04-01"),
    ];
    if status == Status::Delivered {
        // The carrier's delivery receipt time, which Twilio adds to final statuses.
        params.push(("RawDlrDoneDate", "2406131102"));
    }
    params
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

// ---------------------------------------------------------------- the timed phase

struct LoadResult {
    sent: usize,
    elapsed: Duration,
    /// Every request's duration, sorted.
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

impl LoadResult {
    fn per_second(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }

    /// Nearest-rank percentile in milliseconds.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[index].as_secs_f64() * 1000.0
    }
}

async fn fire_callbacks(
    server: &Server,
    callbacks: Vec<Callback>,
    concurrency: usize,
) -> Result<LoadResult, String> {
    // Its own client, so the pool is sized to this run's concurrency.
    let client = http_client(concurrency)?;
    let url = Arc::new(server.url(STATUS_PATH));
    let callbacks = Arc::new(callbacks);
    let sent = callbacks.len();

    let started = Instant::now();
    let results = for_each_concurrently(sent, concurrency, move |index| {
        let (client, url, callbacks) = (client.clone(), url.clone(), callbacks.clone());
        async move {
            let began = Instant::now();
            let outcome = send_callback(&client, &url, &callbacks[index]).await;
            (began.elapsed(), outcome)
        }
    })
    .await;
    let elapsed = started.elapsed();

    let mut latencies = Vec::with_capacity(sent);
    let mut errors = 0;
    let mut first_error = None;
    for (latency, outcome) in results {
        latencies.push(latency);
        if let Err(error) = outcome {
            errors += 1;
            first_error.get_or_insert(error);
        }
    }
    latencies.sort_unstable();
    Ok(LoadResult {
        sent,
        elapsed,
        latencies,
        errors,
        first_error,
    })
}

/// Sends one callback and reads the whole answer (the time a provider waits).
async fn send_callback(
    client: &reqwest::Client,
    url: &str,
    callback: &Callback,
) -> Result<(), String> {
    let response = client
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header("X-Twilio-Signature", &callback.signature)
        .body(callback.body.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{status} {}", String::from_utf8_lossy(&body)))
    }
}

/// What the server itself counted, from `/metrics`: (stored, duplicate).
async fn server_callback_counts(server: &Server) -> Option<(u64, u64)> {
    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let count = |outcome: &str| -> u64 {
        text.lines()
            .filter(|line| {
                line.starts_with("smstrail_callbacks_total")
                    && line.contains(&format!("outcome=\"{outcome}\""))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    Some((count("stored"), count("duplicate")))
}

// ---------------------------------------------------------------- verification

struct Verification {
    wrong: usize,
    examples: Vec<String>,
}

async fn verify_messages(server: &Server, messages: &Arc<Vec<Message>>) -> Verification {
    let client = server.client.clone();
    let base = Arc::new(server.url("/api/v1/messages/"));
    let token = Arc::new(server.token.clone());
    let all = messages.clone();
    let results = for_each_concurrently(messages.len(), SETUP_CONCURRENCY, move |index| {
        let (client, base, token, all) = (client.clone(), base.clone(), token.clone(), all.clone());
        async move {
            let id = &all[index].id;
            let view: Value = client
                .get(format!("{base}{id}"))
                .bearer_auth(token.as_str())
                .send()
                .await
                .map_err(|e| format!("{id}: {e}"))?
                .json()
                .await
                .map_err(|e| format!("{id}: unreadable answer: {e}"))?;
            check_timeline(&view).map_err(|problem| format!("{id}: {problem}"))
        }
    })
    .await;
    let problems: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    Verification {
        wrong: problems.len(),
        examples: problems.into_iter().take(3).collect(),
    }
}

/// Delivered, with exactly one event per distinct callback: no event lost,
/// no duplicate stored twice.
fn check_timeline(view: &Value) -> Result<(), String> {
    let current = view["current_status"].as_str().unwrap_or("<missing>");
    if current != "delivered" {
        return Err(format!("current_status is {current:?}"));
    }
    let events = view["events"].as_array().ok_or("no events array")?;
    let mut raw: Vec<&str> = events
        .iter()
        .map(|event| event["raw_status"].as_str().unwrap_or("<missing>"))
        .collect();
    raw.sort_unstable();
    if raw != ["delivered", "queued", "sent"] {
        return Err(format!("events are {raw:?}"));
    }
    Ok(())
}

// ---------------------------------------------------------------- reporting

struct RunReport {
    backend: Backend,
    batch: String,
    concurrency: usize,
    /// Messages written into the database before the server started.
    preloaded: usize,
    /// Which of the `--rounds`, from 1.
    round: usize,
    registration: LoadResult,
    registration_cpu: CpuUse,
    /// Statements whose plan has a full scan (with `--plans`, when it worked).
    plans_with_scans: Option<usize>,
    duplicates_sent: usize,
    load: LoadResult,
    cpu: CpuUse,
    counted: Option<(u64, u64)>,
    peak_rss_kb: u64,
    hwm_kb: u64,
    wrong_messages: usize,
    wrong_examples: Vec<String>,
}

impl RunReport {
    fn verified(&self) -> String {
        if self.wrong_messages == 0 {
            "OK".to_owned()
        } else {
            format!("{} wrong", self.wrong_messages)
        }
    }

    fn line(&self) -> String {
        let load = &self.load;
        let registration = &self.registration;
        let mut line = format!(
            "{} preload={} round {} batch={} c={}: {} registrations in {:.2}s = {:.0}/s, \
             p50 {:.2} ms p99 {:.2} ms; {} callbacks ({} repeats) in {:.2}s = {:.0}/s, \
             p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms max {:.2} ms, errors {}, \
             peak RSS {:.1} MB (VmHWM {:.1} MB)",
            self.backend.name(),
            self.preloaded,
            self.round,
            self.batch,
            self.concurrency,
            registration.sent,
            registration.elapsed.as_secs_f64(),
            registration.per_second(),
            registration.percentile_ms(50.0),
            registration.percentile_ms(99.0),
            load.sent,
            self.duplicates_sent,
            load.elapsed.as_secs_f64(),
            load.per_second(),
            load.percentile_ms(50.0),
            load.percentile_ms(95.0),
            load.percentile_ms(99.0),
            load.percentile_ms(100.0),
            load.errors,
            mb(self.peak_rss_kb),
            mb(self.hwm_kb),
        );
        if let Some(cpu) = self.cpu.describe() {
            line += &format!(", {cpu}");
        }
        if let (Some(registration), Some(callback)) = (
            self.registration_cpu.server_ms_per(&self.registration),
            self.cpu.server_ms_per(load),
        ) {
            line += &format!(
                ", server CPU {registration:.2} ms/registration {callback:.2} ms/callback"
            );
        }
        if let Some((stored, duplicate)) = self.counted {
            line += &format!(", server counted {stored} stored / {duplicate} duplicate");
        }
        if let Some(error) = &load.first_error {
            line += &format!("\n  first error: {error}");
        }
        line += &format!(", verification {}", self.verified());
        for example in &self.wrong_examples {
            line += &format!("\n  wrong: {example}");
        }
        line
    }
}

/// A compared figure: its name, whether it is a rate (higher is better,
/// and held to the allowed loss), and how to read it from a run.
type Metric<'a> = (&'a str, bool, &'a dyn Fn(&RunReport) -> Option<f64>);

/// How much slower the preloaded runs were than the empty runs at the same
/// concurrency, median against median: the issue allows at most 20 %.
fn print_growth(reports: &[RunReport]) {
    const ALLOWED_LOSS: f64 = 0.20;
    let median_of =
        |preloaded: usize, concurrency: usize, metric: &dyn Fn(&RunReport) -> Option<f64>| {
            let mut values: Vec<f64> = reports
                .iter()
                .filter(|r| r.preloaded == preloaded && r.concurrency == concurrency)
                .filter_map(metric)
                .collect();
            median(&mut values)
        };
    let metrics: [Metric; 6] = [
        ("registrations/s", true, &|r| {
            Some(r.registration.per_second())
        }),
        ("callbacks/s", true, &|r| Some(r.load.per_second())),
        ("registration p99", false, &|r| {
            Some(r.registration.percentile_ms(99.0))
        }),
        ("callback p99", false, &|r| Some(r.load.percentile_ms(99.0))),
        // The server's CPU per request hardly depends on what else runs on
        // the machine, unlike the rates: it tells work that grows with the
        // data from time spent waiting for a core or the disk.
        ("server CPU/registration", false, &|r| {
            r.registration_cpu.server_ms_per(&r.registration)
        }),
        ("server CPU/callback", false, &|r| {
            r.cpu.server_ms_per(&r.load)
        }),
    ];
    let mut groups: Vec<(usize, usize)> = reports
        .iter()
        .filter(|r| r.preloaded > 0)
        .map(|r| (r.preloaded, r.concurrency))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let mut lines = Vec::new();
    for (preloaded, concurrency) in groups {
        let mut parts = Vec::new();
        for (name, is_rate, metric) in &metrics {
            let (Some(full), Some(empty)) = (
                median_of(preloaded, concurrency, metric),
                median_of(0, concurrency, metric),
            ) else {
                continue;
            };
            if empty <= 0.0 {
                continue;
            }
            let ratio = full / empty;
            let verdict = match (is_rate, ratio >= 1.0 - ALLOWED_LOSS) {
                (false, _) => "",
                (true, true) => " (ok)",
                (true, false) => " (SLOWER than allowed)",
            };
            parts.push(format!("{name} x{ratio:.2}{verdict}"));
        }
        if !parts.is_empty() {
            lines.push(format!(
                "c={concurrency}: preloaded {preloaded} / empty: {}",
                parts.join(", ")
            ));
        }
    }
    if !lines.is_empty() {
        let rounds = reports.iter().map(|r| r.round).max().unwrap_or(1);
        println!(
            "\nGrowth with the data, medians of {rounds} round(s) (at most {:.0} % slower allowed):",
            ALLOWED_LOSS * 100.0
        );
        for line in lines {
            println!("  {line}");
        }
    }
    let mut scanning: Vec<String> = reports
        .iter()
        .filter(|r| r.plans_with_scans.is_some_and(|n| n > 0))
        .map(|r| {
            format!(
                "preload {}: {}",
                r.preloaded,
                r.plans_with_scans.unwrap_or_default()
            )
        })
        .collect();
    scanning.sort();
    scanning.dedup();
    if !scanning.is_empty() {
        println!("\nStatements with full scans: {}", scanning.join(", "));
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn print_table(reports: &[RunReport]) {
    println!(
        "| backend | preloaded | batch max | concurrency | round | registrations/s | reg. p99 ms \
         | callbacks/s | p50 ms | p95 ms | p99 ms | peak RSS MB | verified |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in reports {
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} |",
            r.backend.name(),
            r.preloaded,
            r.batch,
            r.concurrency,
            r.round,
            r.registration.per_second(),
            r.registration.percentile_ms(99.0),
            r.load.per_second(),
            r.load.percentile_ms(50.0),
            r.load.percentile_ms(95.0),
            r.load.percentile_ms(99.0),
            mb(r.peak_rss_kb.max(r.hwm_kb)),
            r.verified(),
        );
    }
}

// ---------------------------------------------------------------- PRNG

/// SplitMix64: deterministic per seed, good enough for shuffling, no crate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant at these sizes.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, probability: f64) -> bool {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        unit < probability
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}
