//! The policy component in wasmtime, as the gateway runs it: `admit` (canonicalise and
//! decide in one call, what every request costs) and `decide` for tokens of 1, 10 and 100
//! lines with the compiled rules reused, and the cost of a fresh instance from the
//! precompiled component.

use criterion::{BenchmarkId, Criterion, black_box, criterion_main};
use tokengate::policy::{
    AuthScheme, PolicyRuntime, RequestFacts, Scope, Settings, TokenFacts, TokenRules,
};
use tokengate_policy as native;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

const BASE: &str = "https://wiki.example.com";

fn limit_to(lines: usize) -> String {
    (0..lines)
        .map(|i| format!("[post].*/rest/api/space/KEY{i}/property.*"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn decide(c: &mut Criterion) {
    let Ok(runtime) = PolicyRuntime::new() else {
        panic!("the policy component does not load");
    };
    let Ok(mut session) = runtime.session() else {
        panic!("no policy instance");
    };
    let token = TokenFacts {
        user: Some("admin".into()),
        valid_until: None,
        valid_from: None,
    };
    let settings = Settings { scope: Scope::Rest };
    let facts = native::TokenFacts {
        user: Some("admin".into()),
        valid_until: None,
        valid_from: None,
    };
    let mut admit = c.benchmark_group("component-admit");
    for lines in [1usize, 10, 100] {
        let rules = TokenRules {
            id: format!("bench-{lines}"),
            limit_to: limit_to(lines),
            ip: "192.0.2.0/24".into(),
        };
        let request = native::RawRequest {
            scheme: native::AuthScheme::Basic,
            presented_user: Some("admin".into()),
            method: "POST".into(),
            target: format!("/rest/api/space/KEY{}/property?expand=x", lines - 1),
            body: None,
            client_ip: "192.0.2.10".into(),
            now_ms: 1_700_000_000_000,
        };
        let scope = native::Settings {
            scope: native::Scope::Rest,
        };
        admit.bench_with_input(
            BenchmarkId::new("last-line-matches", lines),
            &request,
            |b, request| b.iter(|| session.admit(&rules, &facts, black_box(request), scope, BASE)),
        );
    }
    admit.finish();
    let mut group = c.benchmark_group("component-decide");
    for lines in [1usize, 10, 100] {
        let rules = TokenRules {
            id: format!("bench-{lines}"),
            limit_to: limit_to(lines),
            ip: "192.0.2.0/24".into(),
        };
        for (name, target) in [
            (
                "last-line-matches",
                format!("/rest/api/space/KEY{}/property?expand=x", lines - 1),
            ),
            (
                "no-line-matches",
                "/rest/api/space/OTHER/property?expand=x".to_owned(),
            ),
        ] {
            let Ok(Ok(target)) = session.canonicalize(&target, BASE) else {
                panic!("the benchmark target is refused");
            };
            let request = RequestFacts {
                scheme: AuthScheme::Basic,
                presented_user: Some("admin".into()),
                method: "POST".into(),
                target,
                body: None,
                client_ip: "192.0.2.10".into(),
                now_ms: 1_700_000_000_000,
            };
            group.bench_with_input(BenchmarkId::new(name, lines), &request, |b, request| {
                b.iter(|| session.decide(&rules, &token, black_box(request), settings))
            });
        }
    }
    group.finish();
    c.bench_function("component-canonicalize", |b| {
        b.iter(|| {
            session.canonicalize(
                black_box("/rest/api/space/KEY9/./property?expand=a%2cb"),
                BASE,
            )
        })
    });
}

fn instantiate(c: &mut Criterion) {
    let engine = Engine::default();
    let Ok(component) = Component::new(&engine, tokengate_policy_artifact::COMPONENT) else {
        panic!("the policy component does not compile");
    };
    let Ok(pre) = Linker::<()>::new(&engine).instantiate_pre(&component) else {
        panic!("the policy component needs imports");
    };
    c.bench_function("component-instantiate", |b| {
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            pre.instantiate(&mut store).map(|_| store)
        })
    });
}

/// Keeps the generated group function private (it has no doc comment to give).
mod group {
    criterion::criterion_group!(benches, super::decide, super::instantiate);
}

criterion_main!(group::benches);
