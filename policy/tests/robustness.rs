//! Arbitrary texts never panic the policy: compile, validate, canonicalise and decide.
//! Deterministic pseudo-random inputs built from the syntax's own tokens, so a failure repeats.

use tokengate_policy::{
    AuthScheme, RequestFacts, Rules, Settings, TokenFacts, canonicalize, validate_ip,
    validate_limit_to,
};

/// Fragments that reach the parsers' interesting branches.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "(",
    ")",
    "?",
    "*",
    "+",
    "{",
    "}",
    "{2,}",
    "\\",
    "\\Q",
    "\\E",
    "\\p",
    "{L}",
    "\\b",
    "\\d",
    "[QueryParam::",
    "[JsonData::",
    "==",
    "<br>",
    "<BR />",
    "\\n",
    "\n",
    "\r",
    ".",
    "..",
    "a",
    "é",
    "%",
    "%2e",
    "%2F",
    "%5c",
    "%0",
    "%25",
    "/",
    "//",
    ";",
    "#",
    "!",
    "10.0.0.0/8",
    "::ffff:",
    "1.2.3.4",
    ":",
    ",",
    " ",
    "(?",
    "(?<",
    "(?x)",
    "<",
    ">",
    "=",
    "-",
    "--",
    "&",
    "~",
    "x",
    "0",
    "9",
    "^",
    "$",
    "|",
    "get",
    "[post]",
    "[:alpha:]",
    "/33",
    "/129",
    "+",
    // Java's own syntax: flags, intersections, escapes of classes and anchors.
    "&&",
    "(?iu)",
    "(?m)",
    "(?sdU)",
    "\\R",
    "\\b{",
    "\\x{",
    "\\0",
    "\\c",
    "\\N{",
    "\\k<",
    "[^",
    "\\p{Is",
    "\\P{In",
    "\\Z",
    "\\ ",
    "{,",
    "\u{85}",
    "ß",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn text(&mut self) -> String {
        let len = self.next() % 14;
        (0..len)
            .map(|_| TOKENS[usize::try_from(self.next()).unwrap_or(0) % TOKENS.len()])
            .collect()
    }
}

#[test]
fn arbitrary_texts_do_not_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let token = TokenFacts {
        user: None,
        valid_until: Some(10),
        valid_from: Some(1),
    };
    for _ in 0..3_000 {
        let (limit_to, ip, target, body) = (rng.text(), rng.text(), rng.text(), rng.text());
        let problems = validate_limit_to(&limit_to);
        for p in problems.iter().chain(validate_ip(&ip).iter()) {
            assert!(
                p.message.starts_with(&format!("line {}: ", p.line)),
                "{p:?}"
            );
        }
        let canonical = canonicalize(&format!("/{target}"), "https://w.example.com");
        let Ok(rules) = Rules::compile(&limit_to, "") else {
            assert!(!problems.is_empty(), "{limit_to:?} failed only in compile");
            continue;
        };
        assert!(
            problems.is_empty(),
            "{limit_to:?} failed only in validation"
        );
        let Ok(target) = canonical else { continue };
        let request = RequestFacts {
            scheme: AuthScheme::Basic,
            presented_user: Some(ip.clone()),
            method: "GET".to_string(),
            target,
            body: Some(body),
            client_ip: ip,
            now_ms: 0,
        };
        let _ = rules.decide(&token, &request, &Settings::default());
        assert_eq!(rules.explain(&request).len(), rules.lines().len());
    }
}
