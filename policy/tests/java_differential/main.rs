//! Java 17 against the policy's reading of the same regexes: a generated corpus of
//! pattern/input pairs and of character classes goes to real Java once, and every verdict
//! must agree.
//!
//! `tests/java/RegexOracle.java` answers with `Pattern.compile(p).matcher(s).matches()`, a
//! `PatternSyntaxException`, or (for a class) the set of code points it matches. A pair
//! fails on a false allow, a false deny, a pattern Java rejects and the policy accepts, or a
//! refusal of something Java accepts outside the accepted refusals below. Characters whose
//! Unicode data differs between Java 17 (Unicode 13) and the policy's tables (Unicode 16)
//! are left out of inputs and listed; the README names them.
//!
//! Without `javac` the test is skipped, unless `CI` is set: then it fails.

// The corpus is data; rustfmt would give each entry of its tables a line of its own.
#[rustfmt::skip]
mod corpus;
mod oracle;

use std::collections::{BTreeMap, BTreeSet};

use tokengate_policy::JavaRegex;

use corpus::{class_patterns, corpus};
use oracle::{b64, compile_oracle, message, start_java};

/// What the policy may refuse although Java accepts it: constructs that need backtracking
/// or tables the policy does not carry, and its size bounds. A refusal must name one.
const ACCEPTED_REFUSALS: &[&str] = &[
    "look-around",
    "back-reference",
    "possessive quantifier",
    "atomic group",
    "grapheme cluster",
    "by its Unicode name",
    "inline flag \"c\"",
    "under a quantifier",
    "too large once compiled",
    "nests too deeply",
];

/// Characters whose case mapping differs between Java 17 and the policy although both
/// Unicode versions assign them (a case partner added later): `ɤ` (U+0264) gained `Ɤ`
/// (U+A7CB), `ƛ` (U+019B) gained U+A7DC, both in Unicode 16.
const CASE_DRIFT: &[char] = &['\u{264}', '\u{19B}'];

/// Characters assigned in both versions whose properties changed since Unicode 13:
/// U+10FC and U+AB69 became `Lowercase`, U+30FB and U+FF65 `ID_Continue`, U+226D
/// `Bidi_Mirrored`, U+16FE2 and U+16FE3 moved from Han to Common, and the combining letters
/// U+0363..U+036F, U+1DD3..U+1DE6 and five signs (U+0C04, U+0F82, U+0F83, U+11080, U+11081)
/// became `Alphabetic`.
const PROPERTY_DRIFT: &[(char, char)] = &[
    ('\u{10FC}', '\u{10FC}'),
    ('\u{AB69}', '\u{AB69}'),
    ('\u{30FB}', '\u{30FB}'),
    ('\u{FF65}', '\u{FF65}'),
    ('\u{226D}', '\u{226D}'),
    ('\u{16FE2}', '\u{16FE3}'),
    ('\u{363}', '\u{36F}'),
    ('\u{1DD3}', '\u{1DE6}'),
    ('\u{C04}', '\u{C04}'),
    ('\u{F82}', '\u{F83}'),
    ('\u{11080}', '\u{11081}'),
];

/// The code points set comparisons cover, as `RegexOracle.DOMAIN`.
const DOMAIN: &[(u32, u32)] = &[
    (0x0, 0x3FFFF),
    (0xE0000, 0xE0FFF),
    (0xF0000, 0xF00FF),
    (0x10FF00, 0x10FFFF),
];

#[test]
fn the_policy_reads_regexes_as_java_17_does() {
    let Some(classes) = compile_oracle() else {
        return;
    };
    let started = std::time::Instant::now();
    let pairs = corpus();
    let class_patterns = class_patterns();
    let mut requests = vec!["v".to_string(), "u".to_string()];
    requests.extend(class_patterns.iter().map(|p| format!("s {}", b64(p))));
    requests.extend(
        pairs
            .iter()
            .map(|(p, input)| format!("m {} {}", b64(p), b64(input))),
    );
    // Java works while the policy computes its own answers.
    let java = start_java(&classes, requests);

    let categories = our_categories();
    let our_classes: Vec<(Option<Ranges>, bool)> = class_patterns
        .iter()
        .map(|p| (JavaRegex::class_ranges(p), JavaRegex::compile(p).is_ok()))
        .collect();
    let mut compiled: BTreeMap<&str, Result<JavaRegex, String>> = BTreeMap::new();
    let ours: Vec<Result<bool, String>> = pairs
        .iter()
        .map(|(pattern, input)| {
            compiled
                .entry(pattern.as_str())
                .or_insert_with(|| JavaRegex::compile(pattern))
                .as_ref()
                .map(|regex| regex.matches(input))
                .map_err(String::clone)
        })
        .collect();

    let answers = match java.join() {
        Ok(answers) => answers,
        Err(_) => panic!("the oracle failed"),
    };
    let mut answers = answers.into_iter();
    let version = answers.next().unwrap_or_default();
    assert!(
        version.starts_with("version 17"),
        "the oracle must be Java 17 (Java 19 changed what \\b reads), found {version:?}"
    );
    let drift = unicode_drift(&mut answers, &categories);
    let drifted = |c: &char| {
        drift.contains(c)
            || CASE_DRIFT.contains(c)
            || PROPERTY_DRIFT.iter().any(|(lo, hi)| (lo..=hi).contains(&c))
    };
    let mut failures = Vec::new();

    let mut class_drift_seen = BTreeSet::new();
    for (pattern, (ours, compiles)) in class_patterns.iter().zip(&our_classes) {
        let answer = answers.next().unwrap_or_default();
        let class = Class {
            pattern,
            ours: ours.as_deref(),
            compiles: *compiles,
        };
        compare_class(
            &class,
            &answer,
            &drifted,
            &mut class_drift_seen,
            &mut failures,
        );
    }

    // Java 17 compiles a few classes into predicates that throw when they run (`[[a]b&&]`):
    // String.matches fails on such a pattern, and the policy must refuse it.
    let pair_answers: Vec<String> = answers.collect();
    let broken_in_java: BTreeSet<&str> = pairs
        .iter()
        .zip(&pair_answers)
        .filter(|(_, answer)| answer.starts_with("error "))
        .map(|((pattern, _), _)| pattern.as_str())
        .collect();
    let mut tally = Tally::default();
    for (((pattern, input), answer), ours) in pairs.iter().zip(&pair_answers).zip(&ours) {
        if input.chars().chain(pattern.chars()).any(|c| drifted(&c)) {
            tally.drift_skipped += 1;
            continue;
        }
        if broken_in_java.contains(pattern.as_str()) {
            match ours {
                Err(_) => tally.both_refused += 1,
                Ok(_) => failures.push(format!(
                    "accepted what Java fails on: {pattern:?}: Java says {}",
                    message(answer)
                )),
            }
            continue;
        }
        compare_pair(pattern, input, answer, ours, &mut tally, &mut failures);
    }

    eprintln!(
        "java differential: {} pairs ({} matches, {} non-matches, {} refused by both, {} \
         accepted refusals, {} skipped for Unicode drift), {} class sets, {} characters of \
         Unicode drift ({} met in class sets), in {:?}",
        pairs.len(),
        tally.matches,
        tally.non_matches,
        tally.both_refused,
        tally.accepted_refusals,
        tally.drift_skipped,
        class_patterns.len(),
        drift.len(),
        class_drift_seen.len(),
        started.elapsed(),
    );
    assert!(
        pairs.len() >= 3000,
        "the corpus has only {} pairs",
        pairs.len()
    );
    if !failures.is_empty() {
        let shown: Vec<&String> = failures.iter().take(60).collect();
        panic!(
            "{} disagreements with Java 17:\n{}",
            failures.len(),
            shown
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// A class's characters, as `JavaRegex::class_ranges` gives them.
type Ranges = Vec<(char, char)>;

#[derive(Default)]
struct Tally {
    matches: usize,
    non_matches: usize,
    both_refused: usize,
    accepted_refusals: usize,
    drift_skipped: usize,
}

fn compare_pair(
    pattern: &str,
    input: &str,
    answer: &str,
    ours: &Result<bool, String>,
    tally: &mut Tally,
    failures: &mut Vec<String>,
) {
    let shown = || format!("{pattern:?} on {input:?}");
    match (answer, ours) {
        ("match" | "nomatch", Ok(matched)) => {
            let java = answer == "match";
            if *matched == java {
                if java {
                    tally.matches += 1;
                } else {
                    tally.non_matches += 1;
                }
            } else if java {
                failures.push(format!("false deny: {}: Java matches", shown()));
            } else {
                failures.push(format!("false allow: {}: Java does not match", shown()));
            }
        }
        ("match" | "nomatch", Err(why)) => {
            if ACCEPTED_REFUSALS.iter().any(|r| why.contains(r)) {
                tally.accepted_refusals += 1;
            } else {
                failures.push(format!("refused what Java accepts: {}: {why}", shown()));
            }
        }
        (refused, Ok(_)) if refused.starts_with("refused ") => {
            failures.push(format!(
                "accepted what Java rejects: {pattern:?}: Java says {}",
                message(refused)
            ));
        }
        (refused, Err(_)) if refused.starts_with("refused ") => tally.both_refused += 1,
        (other, _) => failures.push(format!("no answer from Java for {}: {other:?}", shown())),
    }
}

/// One class pattern as the policy reads it.
struct Class<'a> {
    pattern: &'a str,
    /// Its characters, when the policy reads it as one class.
    ours: Option<&'a [(char, char)]>,
    /// Whether the policy compiles it.
    compiles: bool,
}

/// Compares one class's characters with Java's over `DOMAIN`; characters of Unicode drift
/// may differ.
fn compare_class(
    class: &Class<'_>,
    answer: &str,
    drifted: &dyn Fn(&char) -> bool,
    drift_seen: &mut BTreeSet<char>,
    failures: &mut Vec<String>,
) {
    let pattern = class.pattern;
    let Some(java) = answer.strip_prefix("set ") else {
        let java_refuses = answer.starts_with("refused ") || answer.starts_with("error ");
        if !(java_refuses && !class.compiles) {
            failures.push(format!("class {pattern:?}: Java says {}", message(answer)));
        }
        return;
    };
    let Some(ours) = class.ours else {
        failures.push(format!("class {pattern:?}: not read as one class"));
        return;
    };
    let java = in_domain(java.split(',').filter_map(|range| {
        let (lo, hi) = range.split_once('-')?;
        Some((
            u32::from_str_radix(lo, 16).ok()?,
            u32::from_str_radix(hi, 16).ok()?,
        ))
    }));
    let ours = in_domain(ours.iter().map(|(lo, hi)| (u32::from(*lo), u32::from(*hi))));
    let mut unexplained = Vec::new();
    for c in differing(&java, &ours) {
        if drifted(&c) {
            drift_seen.insert(c);
        } else {
            let side = if contains(&java, c) {
                "Java only"
            } else {
                "ours only"
            };
            unexplained.push(format!("U+{:04X} ({side})", u32::from(c)));
        }
    }
    if !unexplained.is_empty() {
        failures.push(format!(
            "class {pattern:?} differs on {} characters: {}",
            unexplained.len(),
            unexplained.join(", ")
        ));
    }
}

/// Sorted, merged code point ranges inside `DOMAIN`, surrogates removed.
fn in_domain(ranges: impl Iterator<Item = (u32, u32)>) -> Vec<(u32, u32)> {
    let mut clipped = Vec::new();
    for (lo, hi) in ranges {
        for &(from, to) in DOMAIN {
            let (lo, hi) = (lo.max(from), hi.min(to));
            // Around the surrogates.
            for (a, b) in [(lo, hi.min(0xD7FF)), (lo.max(0xE000), hi)] {
                if a <= b {
                    clipped.push((a, b));
                }
            }
        }
    }
    clipped.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for (lo, hi) in clipped {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

fn contains(ranges: &[(u32, u32)], c: char) -> bool {
    let c = u32::from(c);
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The characters in exactly one of two range lists (both from `in_domain`).
fn differing(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<char> {
    // Walk the boundaries of both: between consecutive boundaries, membership is constant.
    let mut bounds: Vec<u32> = a
        .iter()
        .chain(b)
        .flat_map(|&(lo, hi)| [lo, hi.saturating_add(1)])
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut out = Vec::new();
    for window in bounds.windows(2) {
        let (from, to) = (window[0], window[1]);
        let Some(probe) = char::from_u32(from) else {
            continue;
        };
        if contains(a, probe) != contains(b, probe) {
            out.extend((from..to).filter_map(char::from_u32));
        }
    }
    out
}

/// The policy's general category of every code point, numbered as Java's
/// `Character.getType` numbers them (0: unassigned).
fn our_categories() -> Vec<u8> {
    const CATEGORIES: &[(&str, u8)] = &[
        ("Lu", 1),
        ("Ll", 2),
        ("Lt", 3),
        ("Lm", 4),
        ("Lo", 5),
        ("Mn", 6),
        ("Me", 7),
        ("Mc", 8),
        ("Nd", 9),
        ("Nl", 10),
        ("No", 11),
        ("Zs", 12),
        ("Zl", 13),
        ("Zp", 14),
        ("Cc", 15),
        ("Cf", 16),
        ("Co", 18),
        ("Pd", 20),
        ("Ps", 21),
        ("Pe", 22),
        ("Pc", 23),
        ("Po", 24),
        ("Sm", 25),
        ("Sc", 26),
        ("Sk", 27),
        ("So", 28),
        ("Pi", 29),
        ("Pf", 30),
    ];
    let mut ours = vec![0u8; 0x11_0000];
    for (name, number) in CATEGORIES {
        for (lo, hi) in JavaRegex::class_ranges(&format!("\\p{{{name}}}")).unwrap_or_default() {
            for c in u32::from(lo)..=u32::from(hi) {
                if let Some(slot) = usize::try_from(c).ok().and_then(|c| ours.get_mut(c)) {
                    *slot = *number;
                }
            }
        }
    }
    ours
}

/// Reads Java's `u` answer and returns the characters whose general category differs from
/// the policy's (unassigned in Unicode 13 but assigned since, or recategorised).
fn unicode_drift(answers: &mut impl Iterator<Item = String>, ours: &[u8]) -> BTreeSet<char> {
    let mut drift = BTreeSet::new();
    for line in answers.by_ref() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["type", from, to, java] => {
                let (Ok(from), Ok(to), Ok(java)) = (
                    u32::from_str_radix(from, 16),
                    u32::from_str_radix(to, 16),
                    java.parse::<u8>(),
                ) else {
                    continue;
                };
                for c in from..=to {
                    let Some(ch) = char::from_u32(c) else {
                        continue;
                    };
                    let mine = usize::try_from(c).ok().and_then(|c| ours.get(c)).copied();
                    if mine != Some(java) {
                        drift.insert(ch);
                    }
                }
            }
            ["end"] => break,
            _ => {}
        }
    }
    drift
}
