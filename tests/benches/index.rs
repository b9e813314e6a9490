//! The token lookup a request does, by the number of live tokens: the keyed digest
//! of the presented value and the in-memory index lookup (no database is touched).

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use tokengate::index::{Token, TokenIndex};
use tokengate::token::ServerKey;

fn token(key: &ServerKey, n: usize) -> Token {
    let value = format!("scale-token-value-{n:012}");
    Token {
        id: format!("scale{n:015}"),
        digest: key.digest(&value),
        hint: "tgk_…".into(),
        label: format!("scale token {n}"),
        user: Some(format!("user{}", n % 1000)),
        limit_to: format!("[get].*/rest/api/space/S{n}/.*"),
        ip: String::new(),
        valid_until: None,
        date_created: 1_700_000_000_000,
        created_by: None,
        life: Default::default(),
    }
}

fn lookup(c: &mut Criterion) {
    let key = ServerKey::new([7; 32]);
    let mut group = c.benchmark_group("token lookup");
    for size in [1_usize, 10_000, 1_000_000] {
        let index = TokenIndex::new((0..size).map(|n| token(&key, n)), Vec::new());
        let present = format!("scale-token-value-{:012}", size / 2);
        group.bench_with_input(BenchmarkId::new("digest+find", size), &size, |b, _| {
            b.iter(|| index.find(&key.digest(black_box(&present))).expect("found"))
        });
        group.bench_with_input(BenchmarkId::new("find (unknown)", size), &size, |b, _| {
            let digest = key.digest("not a token value at all");
            b.iter(|| index.find(black_box(&digest)))
        });
    }
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
