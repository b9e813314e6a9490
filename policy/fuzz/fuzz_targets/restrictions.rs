//! A token's `limitTo` and `ip` texts as an administrator might type them, compiled and
//! validated, then a decision on a request built from the same input.
//!
//! Input: `limitTo`, `ip`, target, method, body and client address, separated by NUL
//! bytes (missing fields take defaults). Besides "no panic", it checks what the admin API
//! and the gateway rely on: validation and compilation agree, problems name a line that
//! exists, the lines a token is stored with compile to the same lines and the same
//! decisions, the one-pass URL set agrees with the lines checked one by one, and an
//! IPv4-mapped client address is treated as the IPv4 address it maps.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tokengate_policy::limits::{MAX_LINE_CHARS, MAX_LINES};
use tokengate_policy::{
    AuthScheme, Decision, DenyReason, Problem, RequestFacts, Rules, Settings, TokenFacts,
    canonicalize, validate_ip, validate_limit_to,
};

const PUBLIC_BASE: &str = "https://wiki.example.com";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\0');
    let mut field = |default: &'static str| fields.next().unwrap_or(default).to_owned();
    let limit_to = field("");
    let ip = field("");
    let target = field("/rest/api/space");
    let method = field("GET");
    let body = field("");
    let client_ip = field("192.0.2.10");

    let limit_to_problems = validate_limit_to(&limit_to);
    let ip_problems = validate_ip(&ip);
    check_problems(&limit_to_problems, limit_to_line_bound(&limit_to), true);
    check_problems(&ip_problems, ip.split('\n').count(), false);

    let rules = match Rules::compile(&limit_to, &ip) {
        Ok(rules) => rules,
        Err(error) => {
            // Compiling reports exactly what validating each field reports.
            assert_eq!(error.limit_to, limit_to_problems);
            assert_eq!(error.ip, ip_problems);
            assert!(!error.limit_to.is_empty() || !error.ip.is_empty());
            return;
        }
    };
    assert!(limit_to_problems.is_empty() && ip_problems.is_empty());

    let lines = rules.lines();
    assert!(lines.len() <= MAX_LINES);
    for line in &lines {
        assert!(!line.is_empty() && line.trim() == *line, "{line:?}");
        assert!(line.chars().count() <= MAX_LINE_CHARS);
    }
    // The admin API stores the lines joined by `\n`, and the gateway compiles what it
    // stored for every request: that must give the same lines back.
    let stored = match Rules::compile(&lines.join("\n"), &ip) {
        Ok(stored) => stored,
        Err(error) => panic!("the stored form of {lines:?} does not compile: {error}"),
    };
    assert_eq!(stored.lines(), lines);
    assert_eq!(stored.needs_body(), rules.needs_body());

    let Ok(target) = canonicalize(&target, PUBLIC_BASE) else {
        return;
    };
    let request = RequestFacts {
        scheme: AuthScheme::Basic,
        presented_user: Some("fuzz".into()),
        method,
        target,
        body: (!body.is_empty()).then_some(body),
        client_ip,
        now_ms: 1_700_000_000_000,
    };
    let token = TokenFacts::default();
    let settings = Settings::default();
    let decision = rules.decide(&token, &request, &settings);
    check_against_explain(&rules, &request, &decision);
    assert_eq!(
        outcome(&stored.decide(&token, &request, &settings)),
        outcome(&decision),
        "the stored lines decide differently"
    );

    // `::ffff:a.b.c.d` is the IPv4 client `a.b.c.d` for every ip rule.
    if let Ok(v4) = request.client_ip.trim().parse::<std::net::Ipv4Addr>() {
        let mapped = RequestFacts {
            client_ip: format!("::ffff:{v4}"),
            ..request.clone()
        };
        assert_eq!(
            outcome(&rules.decide(&token, &mapped, &settings)),
            outcome(&decision)
        );
    }
});

/// Problems come in line order, each naming a line that exists in its text, with the
/// `line N: ` prefix; a restriction line has at most one problem.
fn check_problems(problems: &[Problem], line_count: usize, one_per_line: bool) {
    let mut previous = 0;
    for problem in problems {
        let line = problem.line as usize;
        assert!(
            (1..=line_count).contains(&line),
            "{problem:?} of {line_count} lines"
        );
        assert!(
            problem.message.starts_with(&format!("line {line}: ")),
            "{problem:?}"
        );
        if one_per_line {
            assert!(line > previous, "{problems:?}");
        } else {
            assert!(line >= previous, "{problems:?}");
        }
        previous = line;
    }
}

/// At least the number of lines the policy splits `text` into: every separator (a line
/// break, `\n` typed as two characters, `<br>`) holds one of these characters.
fn limit_to_line_bound(text: &str) -> usize {
    1 + text
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\\' | '<'))
        .count()
}

/// `decide` runs the lines as one regex set and stops at the first match; `explain`
/// checks every line alone. They must agree on which line admits the request.
fn check_against_explain(rules: &Rules, request: &RequestFacts, decision: &Decision) {
    let checks = rules.explain(request);
    assert_eq!(checks.len(), rules.lines().len());
    for check in &checks {
        let parts_hold =
            check.method.unwrap_or(true) && check.url && check.conditions.iter().all(|c| c.matched);
        assert_eq!(check.matched, parts_hold, "{check:?}");
    }
    let first_match = checks.iter().find(|c| c.matched).map(|c| c.line);
    match decision {
        Decision::Allow(allowed) => {
            assert_eq!(allowed.user, "fuzz");
            if checks.is_empty() {
                assert_eq!(allowed.line, None);
            } else {
                assert!(allowed.line.is_some());
                assert_eq!(allowed.line, first_match, "{checks:?}");
            }
        }
        Decision::Deny(denied) if denied.reason == DenyReason::NoMatchingRule => {
            assert!(!checks.is_empty());
            assert_eq!(first_match, None, "{checks:?}");
        }
        Decision::Deny(denied) => assert!(
            matches!(
                denied.reason,
                DenyReason::MethodNotAllowed | DenyReason::IpNotAllowed | DenyReason::OutOfScope
            ),
            "{denied:?}"
        ),
    }
}

/// A decision without the line number (the stored form renumbers lines).
fn outcome(decision: &Decision) -> Result<String, DenyReason> {
    match decision {
        Decision::Allow(allowed) => Ok(allowed.user.clone()),
        Decision::Deny(denied) => Err(denied.reason),
    }
}
