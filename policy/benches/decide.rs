//! Native decision cost for tokens of 1, 10 and 100 restriction lines, compiled once, and
//! for issue 17's hostile token, whose conditions defeat the regex engine's lazy DFA.

use criterion::{BatchSize, BenchmarkId, Criterion, black_box, criterion_main};
use tokengate_policy::{
    AuthScheme, RawRequest, RequestFacts, Rules, Settings, TokenFacts, canonicalize,
};

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
        valid_from: None,
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
    // What a host runs per request: canonicalise and decide (the component's `admit`).
    let mut admit = c.benchmark_group("admit");
    for lines in [1usize, 10, 100] {
        let Ok(rules) = Rules::compile(&limit_to(lines), "192.0.2.0/24") else {
            panic!("the benchmark token of {lines} lines does not compile");
        };
        let raw = RawRequest {
            scheme: AuthScheme::Basic,
            presented_user: Some("admin".to_string()),
            method: "POST".to_string(),
            target: format!("/rest/api/space/KEY{}/property?expand=x", lines - 1),
            body: None,
            client_ip: "192.0.2.10".to_string(),
            now_ms: 1_700_000_000_000,
        };
        admit.bench_with_input(
            BenchmarkId::new("last-line-matches", lines),
            &raw,
            |b, r| b.iter(|| rules.admit(black_box(&token), r.clone(), &settings, BASE)),
        );
    }
    admit.finish();
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

/// Issue 17's token: 256 lines, each with a condition whose DFA has 2^10 states, so
/// random `a`/`b` text builds new states at almost every byte.
fn hostile_limit_to() -> String {
    (1..=256)
        .map(|n| format!(".*/rest/api/q(/{n})?[QueryParam::a==[\\x00-\\x7f]*a[\\x00-\\x7f]{{9}}]"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `count` values of `a`, `len` random `a`/`b` characters each; every value matches (an
/// `a` ten from its end) except the last, so every line reads every value.
fn hostile_request(count: usize, len: usize) -> RequestFacts {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if state & 1 == 0 { 'a' } else { 'b' }
    };
    let values: Vec<String> = (0..count)
        .map(|i| {
            let mut value: Vec<char> = (0..len).map(|_| next()).collect();
            value[len - 10] = if i + 1 < count { 'a' } else { 'b' };
            format!("a={}", value.into_iter().collect::<String>())
        })
        .collect();
    let mut request = request(&format!("/rest/api/q?{}", values.join("&")));
    request.method = "GET".to_string();
    request
}

/// The hostile token against the request (180 values of 40 characters) and the
/// costliest requests within what its conditions read (their bound is 186 bytes:
/// 1,000,000 / the 5,376 units of its 256 conditions). `cold` compiles the token before each
/// decision, as a host that lost its instance does; `warm` reuses it.
fn hostile(c: &mut Criterion) {
    let token = TokenFacts {
        user: Some("admin".to_string()),
        valid_until: None,
        valid_from: None,
    };
    let settings = Settings::default();
    let limit_to = hostile_limit_to();
    let compile = || match Rules::compile(&limit_to, "") {
        Ok(rules) => rules,
        Err(e) => panic!("issue 17's token is refused: {e}"),
    };
    let rules = compile();
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    for (name, count, len) in [("180x40", 180, 40), ("16x11", 16, 11), ("1x180", 1, 180)] {
        let request = hostile_request(count, len);
        if name != "180x40" {
            // Within the bound, so the regexes run: the decision is a plain mismatch.
            match rules.decide(&token, &request, &settings) {
                tokengate_policy::Decision::Deny(d) if !d.detail.contains("not checked") => {}
                other => panic!("{name} is not decided by matching: {other:?}"),
            }
        }
        group.bench_with_input(BenchmarkId::new("warm", name), &request, |b, r| {
            b.iter(|| rules.decide(black_box(&token), black_box(r), &settings))
        });
        group.bench_with_input(BenchmarkId::new("cold", name), &request, |b, r| {
            // `_ref`: the compiled token is dropped outside the measurement.
            b.iter_batched_ref(
                compile,
                |fresh| fresh.decide(black_box(&token), black_box(r), &settings),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Keeps the generated group function private (it has no doc comment to give).
mod group {
    criterion::criterion_group!(benches, super::decide, super::hostile);
}

criterion_main!(group::benches);
