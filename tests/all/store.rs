//! The storage contract, one suite for both backends: every check runs once on
//! SQLite (a file in a temporary data directory) and once on PostgreSQL (a fresh
//! database on the test cluster). "Another instance" is a second `Store` on the
//! same database with a copy of the same server key, as a second gateway would be.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use tokengate::audit::{
    ALLOW, AuditFilter, AuditLog, AuditRecord, COUNT_CAP, Completion, DENY, FilterBatch, Reason,
    Stored, Write,
};
use tokengate::metrics::Metrics;
use tokengate::store::{KEY_FILE, Location, NewToken, Store, StoreError};

use crate::postgres::{Database, fresh_database};

/// One backend to test: where its data lives.
struct Subject {
    dir: tempfile::TempDir,
    location: Location,
    _database: Option<Database>,
}

async fn sqlite() -> Option<Subject> {
    Some(Subject {
        dir: tempfile::tempdir().expect("temp dir"),
        location: Location::Sqlite,
        _database: None,
    })
}

async fn postgres() -> Option<Subject> {
    let database = fresh_database().await?;
    Some(Subject {
        dir: tempfile::tempdir().expect("temp dir"),
        location: database.location(),
        _database: Some(database),
    })
}

impl Subject {
    /// The first instance (creates the data directory and its key).
    async fn open(&self) -> Store {
        Store::open(&self.dir.path().join("a"), &self.location)
            .await
            .expect("store opens")
    }

    /// Another instance: its own data directory holding a copy of the key (SQLite
    /// keeps its file in the data directory, so there it is the same directory).
    async fn open_other(&self) -> Store {
        let first = self.dir.path().join("a");
        let dir = match self.location {
            Location::Sqlite => first,
            Location::Postgres(_) => {
                let other = self.dir.path().join("b");
                std::fs::create_dir_all(&other).expect("second data dir");
                std::fs::copy(first.join(KEY_FILE), other.join(KEY_FILE)).expect("key copied");
                other
            }
        };
        Store::open(&dir, &self.location)
            .await
            .expect("second store opens")
    }

    fn is_shared(&self) -> bool {
        matches!(self.location, Location::Postgres(_))
    }
}

fn new(label: &str) -> NewToken {
    NewToken {
        label: label.into(),
        user: Some("alice".into()),
        limit_to: "[get].*/rest/api/.*".into(),
        ..NewToken::default()
    }
}

fn use_of(token_id: &str, time: i64, ip: &str) -> AuditRecord {
    AuditRecord {
        time,
        token_id: Some(token_id.into()),
        user: Some("alice".into()),
        client_ip: ip.into(),
        method: "GET".into(),
        url: "https://wiki.example.com/rest/api/space".into(),
        decision: ALLOW,
        line: Some(1),
        line_text: Some("[get].*/rest/api/.*".into()),
        component: "c0ffee".into(),
        count_use: true,
        ..AuditRecord::default()
    }
}

async fn tokens_are_created_found_listed_and_revoked(subject: Subject) {
    let store = subject.open().await;
    let (first, first_value) = store.create(new("first")).await.expect("created");
    let (second, second_value) = store.create(new("second")).await.expect("created");
    assert!(first_value.starts_with("tgk_"));
    let found = store.find(&store.digest(&first_value)).expect("found");
    assert_eq!(found.id, first.id);
    assert_eq!(found.limit_to, "[get].*/rest/api/.*");
    assert_eq!(store.live_tokens(), 2);

    let (rows, total) = store.list(0, 10, false).await.expect("list");
    assert_eq!(total, 2);
    assert_eq!(rows.len(), 2);
    let (page, total) = store.list(1, 1, false).await.expect("page");
    assert_eq!((page.len(), total), (1, 2));

    let revoked = store.revoke_id(&first.id).await.expect("revoke");
    assert_eq!(revoked.map(|t| t.id.clone()), Some(first.id.clone()));
    assert!(store.find(&store.digest(&first_value)).is_none());
    assert_eq!(
        store.revoked_id(&store.digest(&first_value)),
        Some(first.id.clone())
    );
    assert!(store.revoke_id(&first.id).await.expect("again").is_none());
    let by_value = store.revoke_value(&second_value).await.expect("revoke");
    assert_eq!(by_value.map(|t| t.id.clone()), Some(second.id.clone()));

    let (live, total) = store.list(0, 10, false).await.expect("list");
    assert_eq!((live.len(), total), (0, 0));
    let (all, total) = store.list(0, 10, true).await.expect("list all");
    assert_eq!(total, 2);
    assert!(all.iter().all(|row| row.revoked.is_some()));
    let row = store.get(&first.id).await.expect("get").expect("row");
    assert_eq!(row.token.label, "first");
    assert!(store.get("no-such-id").await.expect("get").is_none());
    store.check_writable().await.expect("writable");
}

async fn duplicate_values_are_refused_even_after_revocation(subject: Subject) {
    let store = subject.open().await;
    let chosen = NewToken {
        value: Some("a-chosen-token-value-0001".into()),
        ..new("chosen")
    };
    let (token, _) = store.create(chosen.clone()).await.expect("created");
    assert!(matches!(
        store.create(chosen.clone()).await,
        Err(StoreError::Duplicate)
    ));
    store.revoke_id(&token.id).await.expect("revoked");
    assert!(matches!(
        store.create(chosen).await,
        Err(StoreError::Duplicate)
    ));
}

async fn audit_batches_keep_order_and_completions_fill_records_in(subject: Subject) {
    let store = subject.open().await;
    let (token, _) = store.create(new("audited")).await.expect("created");
    let log = AuditLog::start(store.backend(), Arc::new(Metrics::default()));
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            log.append(use_of(&token.id, 1_000 + n, "10.0.0.1"))
                .await
                .expect("append"),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    log.complete(Completion {
        id: ids[2],
        status: Some(201),
        latency_ms: 7,
        action: Some("done".into()),
        reason: None,
    });
    log.flush().await;
    let (rows, total) = store
        .query_audit(&AuditFilter {
            max_results: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("query");
    assert_eq!(total, 5);
    assert_eq!(rows[0].id, ids[4], "newest first");
    let completed = rows.iter().find(|r| r.id == ids[2]).expect("completed row");
    assert_eq!(completed.upstream_status, Some(201));
    assert_eq!(completed.latency_ms, Some(7));
    assert_eq!(completed.action.as_deref(), Some("done"));
    assert_eq!(completed.line, Some(1));
    assert_eq!(store.last_audit_id().await.expect("last"), ids[4]);
    log.shutdown().await;
}

async fn audit_queries_filter_and_page(subject: Subject) {
    let store = subject.open().await;
    let backend = store.backend();
    let mut batch = Vec::new();
    for n in 0..30_i64 {
        let mut record = use_of(if n % 3 == 0 { "t-a" } else { "t-b" }, 10_000 + n, "::1");
        record.count_use = false;
        if n % 2 == 0 {
            record.decision = DENY;
            record.reason = Some(Reason::Denied(tokengate_policy::DenyReason::NoMatchingRule));
            record.user = Some("bob".into());
        }
        batch.push(Write::Append(Box::new(record)));
    }
    let ids: Vec<i64> = (backend.commit_audit(batch).await.expect("commit"))
        .into_iter()
        .map(tokengate::audit::Answer::id)
        .collect();
    assert_eq!(ids.len(), 30);
    let query = |filter: AuditFilter| {
        let store = &store;
        async move { store.query_audit(&filter).await.expect("query") }
    };
    let page = |f: AuditFilter| AuditFilter {
        max_results: 100,
        ..f
    };
    let (_, total) = query(page(AuditFilter {
        token_id: Some("t-a".into()),
        ..AuditFilter::default()
    }))
    .await;
    assert_eq!(total, 10);
    let (rows, total) = query(page(AuditFilter {
        user: Some("bob".into()),
        decision: Some(DENY.as_str().into()),
        ..AuditFilter::default()
    }))
    .await;
    assert_eq!(total, 15);
    assert!(
        rows.iter()
            .all(|r| r.reason.as_deref() == Some("no-matching-rule"))
    );
    let (_, total) = query(page(AuditFilter {
        from: Some(10_010),
        to: Some(10_020),
        ..AuditFilter::default()
    }))
    .await;
    assert_eq!(total, 10);
    let (rows, _) = query(AuditFilter {
        after_id: Some(ids[24]),
        max_results: 3,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids[25..28].to_vec(),
        "following reads oldest first"
    );
    let (rows, total) = query(AuditFilter {
        start_at: 5,
        max_results: 5,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(total, 30);
    assert_eq!(rows.first().map(|r| r.id), Some(ids[24]));
    let filter = AuditFilter {
        token_id: Some("t-a".into()),
        ..AuditFilter::default()
    };
    assert_eq!(store.count_audit(&filter).await.expect("count"), 10);
}

async fn audit_totals_stop_counting_past_the_cap(subject: Subject) {
    let store = subject.open().await;
    let over = usize::try_from(COUNT_CAP).unwrap_or(0) + 50;
    let batch = (0..over)
        .map(|n| {
            let time = 5_000 + i64::try_from(n).unwrap_or(0);
            Write::Append(Box::new(use_of("t-many", time, "::1")))
        })
        .collect();
    store.backend().commit_audit(batch).await.expect("commit");
    let (rows, total) = store
        .query_audit(&AuditFilter {
            max_results: 5,
            ..AuditFilter::default()
        })
        .await
        .expect("query");
    assert_eq!(rows.len(), 5);
    assert_eq!(total, COUNT_CAP + 1, "counting stops past the cap");
    let exact = store
        .count_audit(&AuditFilter::default())
        .await
        .expect("count");
    assert_eq!(exact, u64::try_from(over).unwrap_or(0));
}

async fn concurrent_uses_on_two_instances_are_counted_exactly(subject: Subject) {
    let one = subject.open().await;
    let two = subject.open_other().await;
    let (token, _) = one.create(new("busy")).await.expect("created");
    let logs = [
        AuditLog::start(one.backend(), Arc::new(Metrics::default())),
        AuditLog::start(two.backend(), Arc::new(Metrics::default())),
    ];
    let mut tasks = Vec::new();
    for worker in 0..8_i64 {
        let log = logs[usize::try_from(worker % 2).unwrap_or(0)].clone();
        let id = token.id.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..50 {
                let time = 1_000_000 + worker * 1_000 + n;
                log.append(use_of(&id, time, &format!("10.0.0.{worker}")))
                    .await
                    .expect("append");
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker");
    }
    let row = two.get(&token.id).await.expect("get").expect("row");
    assert_eq!(row.counter, 400);
    assert_eq!(row.last_used, Some(1_007_049));
    assert_eq!(row.last_ip.as_deref(), Some("10.0.0.7"));
    for log in &logs {
        log.shutdown().await;
    }
}

async fn another_instance_catches_up_with_creations_and_revocations(subject: Subject) {
    let one = subject.open().await;
    let two = subject.open_other().await;
    let (token, value) = one.create(new("shared")).await.expect("created");
    assert!(
        two.find(&two.digest(&value)).is_none(),
        "not before a refresh"
    );
    assert_eq!(two.refresh().await.expect("refresh"), 1);
    assert_eq!(
        two.find(&two.digest(&value)).map(|t| t.id.clone()),
        Some(token.id.clone())
    );
    assert_eq!(two.refresh().await.expect("nothing new"), 0);
    two.revoke_id(&token.id).await.expect("revoked on two");
    one.refresh().await.expect("refresh");
    assert!(one.find(&one.digest(&value)).is_none());
    // A third instance started now loads the same live set.
    let three = subject.open_other().await;
    assert_eq!(three.live_tokens(), 0);
}

async fn a_database_digested_with_another_key_is_refused(subject: Subject) {
    let store = subject.open().await;
    store.create(new("keyed")).await.expect("created");
    drop(store);
    let elsewhere = tempfile::tempdir().expect("dir");
    let dir = match subject.location {
        Location::Sqlite => {
            // The same database file beside a different key.
            let dir = subject.dir.path().join("a");
            std::fs::remove_file(dir.join(KEY_FILE)).expect("key removed");
            std::fs::write(dir.join(KEY_FILE), [7_u8; 32]).expect("other key");
            dir
        }
        Location::Postgres(_) => elsewhere.path().to_owned(),
    };
    match Store::open(&dir, &subject.location).await {
        Err(StoreError::KeyMismatch { .. }) => {}
        other => panic!("expected a key mismatch, got {other:?}"),
    }
}

async fn rate_buckets_hold_a_minute_and_say_how_long_to_wait(subject: Subject) {
    let one = subject.open().await;
    let two = subject.open_other().await;
    for _ in 0..3 {
        assert_eq!(one.take_rate("t-rate", 3).await.expect("take"), Ok(()));
    }
    let wait = one.take_rate("t-rate", 3).await.expect("take");
    let wait = wait.expect_err("the fourth request waits");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(20),
        "{wait:?}"
    );
    assert_eq!(one.take_rate("t-other", 3).await.expect("take"), Ok(()));
    assert_eq!(one.take_rate("t-rate", 0).await.expect("no limit"), Ok(()));
    let on_two = two.take_rate("t-rate", 3).await.expect("take");
    if subject.is_shared() {
        assert!(on_two.is_err(), "instances share the bucket");
    }
}

async fn retention_deletes_only_records_past_it(subject: Subject) {
    let store = subject.open().await;
    let now = tokengate::now_ms();
    let batch = (0..25_i64)
        .map(|n| Write::Append(Box::new(use_of("t-old", 1_000 + n, "::1"))))
        .chain((0..5_i64).map(|n| Write::Append(Box::new(use_of("t-new", now + n, "::1")))))
        .collect();
    store.backend().commit_audit(batch).await.expect("commit");
    assert_eq!(store.prune_audit(now - 60_000).await.expect("prune"), 25);
    let (rows, total) = store
        .query_audit(&AuditFilter {
            max_results: 100,
            ..AuditFilter::default()
        })
        .await
        .expect("query");
    assert_eq!(total, 5);
    assert!(rows.iter().all(|r| r.token_id.as_deref() == Some("t-new")));
    assert_eq!(store.prune_audit(now - 60_000).await.expect("again"), 0);
}

async fn filter_batches_are_stored_once_whatever_the_retries(subject: Subject) {
    let one = subject.open().await;
    let two = subject.open_other().await;
    let (token, _) = one.create(new("filtered")).await.expect("created");
    let logs = [
        AuditLog::start(one.backend(), Arc::new(Metrics::default())),
        AuditLog::start(two.backend(), Arc::new(Metrics::default())),
    ];
    let via = "edge/i-1";
    let batch = |id: &str| {
        let mut records: Vec<AuditRecord> = (0..3)
            .map(|n| use_of(&token.id, 2_000 + n, "10.0.0.9"))
            .collect();
        records.push(AuditRecord {
            decision: DENY,
            reason: Some(Reason::UnknownToken),
            count_use: false,
            ..use_of(&token.id, 2_010, "10.0.0.9")
        });
        for record in &mut records {
            record.via = Some(via.into());
        }
        FilterBatch {
            via: via.into(),
            batch: id.into(),
            records,
        }
    };
    // The same batch sent eight times at once through both instances, each beside an
    // ordinary record: stored once, the ordinary records every time.
    let mut tasks = Vec::new();
    for worker in 0..8_usize {
        let log = logs[worker % 2].clone();
        let (batch, record) = (batch("7"), use_of(&token.id, 1_000, "10.0.0.1"));
        tasks.push(tokio::spawn(async move {
            let (appended, stored) = tokio::join!(log.append(record), log.append_filter(batch));
            appended.expect("append");
            stored.expect("filter batch")
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("worker"));
    }
    assert_eq!(
        outcomes.iter().filter(|o| **o == Stored::New).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        logs[1].append_filter(batch("8")).await.expect("next batch"),
        Stored::New
    );
    let (rows, _) = one
        .query_audit(&AuditFilter {
            max_results: 100,
            ..AuditFilter::default()
        })
        .await
        .expect("query");
    assert_eq!(rows.len(), 8 + 4 + 4);
    assert_eq!(
        rows.iter()
            .filter(|r| r.via.as_deref() == Some(via))
            .count(),
        8
    );
    assert!(
        rows.iter()
            .filter(|r| r.via.is_none())
            .all(|r| r.time == 1_000)
    );
    let row = two.get(&token.id).await.expect("get").expect("row");
    assert_eq!(
        row.counter,
        8 + 3 + 3,
        "ordinary uses and each stored batch's allowed ones"
    );
    assert_eq!(row.last_used, Some(2_002));
    for log in &logs {
        log.shutdown().await;
    }
}

async fn filter_credentials_are_found_by_value_and_revoked_everywhere(subject: Subject) {
    let one = subject.open().await;
    let two = subject.open_other().await;
    let (credential, value) = one
        .create_credential("edge", Some("cli".into()))
        .await
        .expect("created");
    assert!(value.starts_with("tgf_") && credential.hint.starts_with("tgf_…"));
    let found = two
        .credential(&value)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(
        (found.id.as_str(), found.name.as_str()),
        (credential.id.as_str(), "edge")
    );
    assert!(one.credential("tgf_guess").await.expect("lookup").is_none());
    assert!(matches!(
        one.create_credential("edge", None).await,
        Err(StoreError::NameTaken(_))
    ));
    assert_eq!(one.credentials().await.expect("list").len(), 1);
    let revoked = one.revoke_credential("edge").await.expect("revoke");
    assert!(revoked.is_some_and(|r| r.revoked.is_some()));
    // Looked up in the database: the other instance refuses it at once.
    assert!(two.credential(&value).await.expect("lookup").is_none());
    assert!(
        one.revoke_credential("edge")
            .await
            .expect("again")
            .is_none()
    );
    assert!(matches!(
        two.create_credential("edge", None).await,
        Err(StoreError::NameTaken(_))
    ));
}

async fn the_sink_cursor_is_kept_and_leased_to_one_instance(subject: Subject) {
    let store = subject.open().await;
    let lease = store
        .sink_lease("audit-sink")
        .await
        .expect("lease")
        .expect("free at first");
    assert!(lease.held());
    assert_eq!(lease.cursor().await.expect("cursor"), None);
    lease.save(41).await.expect("save");
    lease.save(42).await.expect("save");
    assert_eq!(lease.cursor().await.expect("cursor"), Some(42));
    let other = subject.open_other().await;
    if subject.is_shared() {
        // One gateway streams at a time; the lease is free again once given up.
        assert!(other.sink_lease("audit-sink").await.expect("try").is_none());
        drop(lease);
        let taken = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(lease) = other.sink_lease("audit-sink").await.expect("try") {
                    return lease;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("taken over once released");
        assert_eq!(taken.cursor().await.expect("cursor"), Some(42));
    } else {
        let again = other.sink_lease("audit-sink").await.expect("lease");
        let again = again.expect("SQLite: always");
        assert_eq!(again.cursor().await.expect("cursor"), Some(42));
    }
}

/// Runs each check on both backends.
macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some(subject) = super::sqlite().await {
                        super::$check(subject).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some(subject) = super::postgres().await {
                        super::$check(subject).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    tokens_are_created_found_listed_and_revoked,
    duplicate_values_are_refused_even_after_revocation,
    audit_batches_keep_order_and_completions_fill_records_in,
    audit_queries_filter_and_page,
    concurrent_uses_on_two_instances_are_counted_exactly,
    another_instance_catches_up_with_creations_and_revocations,
    a_database_digested_with_another_key_is_refused,
    rate_buckets_hold_a_minute_and_say_how_long_to_wait,
    retention_deletes_only_records_past_it,
    audit_totals_stop_counting_past_the_cap,
    filter_batches_are_stored_once_whatever_the_retries,
    filter_credentials_are_found_by_value_and_revoked_everywhere,
    the_sink_cursor_is_kept_and_leased_to_one_instance,
);

/// A plain connection to the subject's PostgreSQL database, to watch it from outside.
async fn observer(subject: &Subject) -> tokio_postgres::Client {
    let url = &subject
        ._database
        .as_ref()
        .expect("a PostgreSQL subject")
        .url;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("observer connects");
    tokio::spawn(connection);
    client
}

/// PostgreSQL only: uses appended by two instances' concurrent commits, while both fold
/// them into the token row again and again, add up exactly, before and after the last
/// fold.
#[tokio::test]
async fn postgres_uses_appended_by_two_instances_fold_exactly() {
    let Some(subject) = postgres().await else {
        return;
    };
    let one = Arc::new(subject.open().await);
    let two = Arc::new(subject.open_other().await);
    let (token, _) = one.create(new("folded")).await.expect("created");
    let logs = [
        AuditLog::with_limits(one.backend(), Arc::new(Metrics::default()), 4096, 4),
        AuditLog::with_limits(two.backend(), Arc::new(Metrics::default()), 4096, 4),
    ];
    let mut tasks = Vec::new();
    for worker in 0..16_i64 {
        let log = logs[usize::try_from(worker % 2).unwrap_or(0)].clone();
        let id = token.id.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..40 {
                let time = 2_000_000 + n * 100 + worker;
                log.append(use_of(&id, time, &format!("10.0.1.{worker}")))
                    .await
                    .expect("append");
            }
        }));
    }
    let folders: Vec<_> = [&one, &two]
        .into_iter()
        .map(|store| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let mut moved = 0;
                for _ in 0..40 {
                    moved += store.fold_uses().await.expect("fold");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                moved
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("worker");
    }
    let mut moved = 0;
    for folder in folders {
        moved += folder.await.expect("folder");
    }
    assert!(moved > 0, "no fold ran while the instances committed");
    let expect = |row: tokengate::store::TokenRow| {
        assert_eq!(row.counter, 640);
        assert_eq!(row.last_used, Some(2_003_915));
        assert_eq!(row.last_ip.as_deref(), Some("10.0.1.15"));
    };
    expect(two.get(&token.id).await.expect("get").expect("row"));
    while one.fold_uses().await.expect("fold") > 0 {}
    let db = observer(&subject).await;
    let left: i64 = db
        .query_one("SELECT COUNT(*) FROM token_uses", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(left, 0, "the last fold leaves no use behind");
    expect(one.get(&token.id).await.expect("get").expect("row"));
    let (rows, _) = two.list(0, 10, false).await.expect("list");
    expect(rows.into_iter().next().expect("listed"));
    for log in &logs {
        log.shutdown().await;
    }
}

/// PostgreSQL only: the audit writer keeps `commits` batches committing at once, and
/// no more: with inserts into `audit` held up by a lock, the database shows exactly that
/// many of the writer's statements waiting, and each record is answered only once its
/// own batch commits.
#[tokio::test]
async fn postgres_audit_commits_run_several_at_once() {
    let Some(subject) = postgres().await else {
        return;
    };
    let store = subject.open().await;
    let (token, _) = store.create(new("parallel")).await.expect("created");
    let log = AuditLog::with_limits(store.backend(), Arc::new(Metrics::default()), 4096, 3);
    let mut db = observer(&subject).await;
    let blocker = db.transaction().await.expect("begin");
    blocker
        .batch_execute("LOCK TABLE audit IN SHARE MODE")
        .await
        .expect("lock");
    let waiting = || async {
        let count: i64 = observer(&subject)
            .await
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()
                 AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO audit %'",
                &[],
            )
            .await
            .expect("activity")
            .get(0);
        count
    };
    let mut appends = Vec::new();
    for n in 1..=4_i64 {
        let log = log.clone();
        let id = token.id.clone();
        appends.push(tokio::spawn(async move {
            log.append(use_of(&id, 100 + n, "10.0.2.1")).await
        }));
        let expected = n.min(3);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let now = waiting().await;
            if now == expected {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{now} commits wait on the lock after {n} appends, not {expected}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        waiting().await,
        3,
        "a fourth batch started beyond the limit"
    );
    assert!(
        appends.iter().all(|append| !append.is_finished()),
        "a record was answered before its commit"
    );
    blocker.commit().await.expect("unlock");
    let mut ids = Vec::new();
    for append in appends {
        ids.push(append.await.expect("append task").expect("committed"));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "four records, four ids");
    let row = store.get(&token.id).await.expect("get").expect("row");
    assert_eq!(row.counter, 4);
    log.shutdown().await;
}

/// PostgreSQL only: an instance hears of another's change at once (LISTEN/NOTIFY),
/// not only at its next poll.
#[tokio::test]
async fn postgres_notifies_other_instances_of_token_changes() {
    let Some(subject) = postgres().await else {
        return;
    };
    let one = subject.open().await;
    let two = subject.open_other().await;
    let mut signals = two.watch().expect("PostgreSQL stores can be watched");
    // The first signal says the listener is connected.
    tokio::time::timeout(Duration::from_secs(5), signals.recv())
        .await
        .expect("listener connects");
    let (token, value) = one.create(new("announced")).await.expect("created");
    tokio::time::timeout(Duration::from_secs(1), signals.recv())
        .await
        .expect("notified within a second");
    two.refresh().await.expect("refresh");
    assert_eq!(
        two.find(&two.digest(&value)).map(|t| t.id.clone()),
        Some(token.id.clone())
    );
}

/// SQLite only: the WAL reaches the database file in the background (commits never
/// run a checkpoint themselves), so the main file holds the records soon after.
#[tokio::test]
async fn sqlite_copies_the_wal_into_the_database_file_in_the_background() {
    let subject = sqlite().await.expect("SQLite");
    let store = subject.open().await;
    for batch in 0..20 {
        let writes = (0..50)
            .map(|n| Write::Append(Box::new(use_of("t", batch * 50 + n, "10.0.0.1"))))
            .collect();
        store.backend().commit_audit(writes).await.expect("commit");
    }
    // `immutable=1` reads the database file alone, ignoring the WAL.
    let file = subject.dir.path().join("a").join(tokengate::store::DB_FILE);
    let uri = format!("file:{}?immutable=1", file.display());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let in_file: i64 = rusqlite::Connection::open_with_flags(
            &uri,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .and_then(|conn| conn.query_row("SELECT count(*) FROM audit", [], |row| row.get(0)))
        .unwrap_or(-1);
        if in_file == 1000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the database file holds {in_file} of 1000 records after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(store);
}

/// SQLite only: under writes that never pause, the WAL still starts afresh (a
/// passive checkpoint alone never catches up, and the WAL would grow for ever).
#[tokio::test]
async fn sqlite_restarts_the_wal_under_continuous_writes() {
    let subject = sqlite().await.expect("SQLite");
    let store = subject.open().await;
    let file = subject.dir.path().join("a").join(tokengate::store::DB_FILE);
    // Four writers queue on the one audit connection, as the audit log's batches
    // do under load, so a commit starts as soon as the one before ends.
    let until = std::time::Instant::now() + Duration::from_secs(3);
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let backend = store.backend();
            tokio::spawn(async move {
                let mut time = writer * 1_000_000;
                while std::time::Instant::now() < until {
                    let writes = (0..20)
                        .map(|_| {
                            time += 1;
                            Write::Append(Box::new(use_of("t", time, "10.0.0.1")))
                        })
                        .collect();
                    backend.commit_audit(writes).await.expect("commit");
                }
            })
        })
        .collect();
    // The frame count of the WAL, as a passive checkpoint (which never restarts
    // it) reports it.
    let probe = rusqlite::Connection::open(&file).expect("probe connection");
    let mut frames = Vec::new();
    while writers.iter().any(|writer| !writer.is_finished()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now: i64 = probe
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
            .expect("frames");
        frames.push(now);
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    // How far it grows between restarts depends on the machine's load; that it
    // restarts at all is what keeps it bounded.
    let restarts = frames.windows(2).filter(|pair| pair[1] < pair[0]).count();
    assert!(
        restarts > 0,
        "the WAL never started afresh in 3 s of writes: frames {frames:?}"
    );
}
