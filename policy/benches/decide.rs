//! Native decision cost for tokens of 1, 10 and 100 restriction lines, compiled once.
//! Each size is measured with a request that the last line admits and one that no line does.

use criterion::{BenchmarkId, Criterion, black_box, criterion_main};
use tokengate_policy::{AuthScheme, RequestFacts, Rules, Settings, TokenFacts, canonicalize};

const BASE: &str = "https://wiki.example.com";

fn limit_to(lines: usize) -> String {
    (0..lines)
        .map(|i| format!("[post].*/rest/api/space/KEY{i}/property.*"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn request(target: &str) -> RequestFacts {
    RequestFacts {
        scheme: AuthScheme::Basic,
        presented_user: Some("admin".to_string()),
        method: "POST".to_string(),
        target: canonicalize(target, BASE).unwrap_or_default(),
        body: None,
        client_ip: "192.0.2.10".to_string(),
        now_ms: 1_700_000_000_000,
    }
}

fn decide(c: &mut Criterion) {
    let token = TokenFacts {
        user: Some("admin".to_string()),
        valid_until: None,
    };
    let settings = Settings::default();
    let mut group = c.benchmark_group("decide");
    for lines in [1usize, 10, 100] {
        let Ok(rules) = Rules::compile(&limit_to(lines), "192.0.2.0/24") else {
            panic!("the benchmark token of {lines} lines does not compile");
        };
        let last = request(&format!(
            "/rest/api/space/KEY{}/property?expand=x",
            lines - 1
        ));
        let none = request("/rest/api/space/OTHER/property?expand=x");
        group.bench_with_input(
            BenchmarkId::new("last-line-matches", lines),
            &last,
            |b, r| b.iter(|| rules.decide(black_box(&token), black_box(r), &settings)),
        );
        group.bench_with_input(BenchmarkId::new("no-line-matches", lines), &none, |b, r| {
            b.iter(|| rules.decide(black_box(&token), black_box(r), &settings))
        });
    }
    group.finish();
    c.bench_function("canonicalize", |b| {
        b.iter(|| {
            canonicalize(
                black_box("/rest/api/space/KEY9/./property?expand=a%2cb&x=1"),
                BASE,
            )
        })
    });
    c.bench_function("compile-100-lines", |b| {
        let text = limit_to(100);
        b.iter(|| Rules::compile(black_box(&text), ""))
    });
}

/// Keeps the generated group function private (it has no doc comment to give).
mod group {
    criterion::criterion_group!(benches, super::decide);
}

criterion_main!(group::benches);
