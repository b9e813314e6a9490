//! PostgreSQL for the tests. `.ci/run` starts a private cluster (`tests/postgres.sh`)
//! and exports its admin URL in `TOKENGATE_TEST_POSTGRES`; each test gets a database
//! of its own. `TOKENGATE_TEST_STORE=postgres` runs the whole gateway suite on it;
//! without the variable these tests are skipped locally and fail under `CI=true`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokengate::store::Location;

/// The admin URL of the test cluster.
pub const ADMIN_URL: &str = "TOKENGATE_TEST_POSTGRES";
/// `postgres` to run the gateway harness on PostgreSQL instead of SQLite.
pub const STORE: &str = "TOKENGATE_TEST_STORE";

/// A fresh, empty database on the test cluster.
pub struct Database {
    /// Its URL, for a gateway process (`--store`).
    pub url: String,
}

impl Database {
    /// The location to open a store at.
    pub fn location(&self) -> Location {
        Location::parse(&self.url).expect("test database URL")
    }
}

/// The cluster's admin URL; `None` (the test returns early) when unset outside CI.
pub fn admin_url() -> Option<String> {
    match std::env::var(ADMIN_URL) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("{ADMIN_URL} must name a PostgreSQL cluster (`.ci/run` starts one)")
        }
        _ => {
            eprintln!("skipped: set {ADMIN_URL} (see tests/postgres.sh) to run this test");
            None
        }
    }
}

/// Creates an empty database on the test cluster.
pub async fn fresh_database() -> Option<Database> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let admin = admin_url()?;
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("the test cluster answers");
    let driver = tokio::spawn(connection);
    let name = format!(
        "tokengate_{}_{}_{}",
        std::process::id(),
        tokengate::now_ms(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    drop(client);
    let _ = driver.await;
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base)
        .expect("the admin URL names a database");
    Some(Database {
        url: format!("{base}/{name}"),
    })
}

/// Where the gateway harness in `dir` keeps its data, as a `--store` argument:
/// `sqlite`, or with `TOKENGATE_TEST_STORE=postgres` a PostgreSQL database made
/// for `dir` (remembered in it, so a restart on the same directory finds its data).
pub async fn store_under_test(dir: &Path) -> String {
    if !std::env::var(STORE).is_ok_and(|store| store == "postgres") {
        return "sqlite".into();
    }
    let remembered = dir.join("store-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return url;
    }
    let database = fresh_database()
        .await
        .unwrap_or_else(|| panic!("{STORE}=postgres needs {ADMIN_URL}"));
    std::fs::write(&remembered, &database.url).expect("remember the test database");
    database.url
}
