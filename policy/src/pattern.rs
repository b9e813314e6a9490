//! Java regular expressions (the original app's dialect) with Java 17's meaning, run in
//! linear time: by `regex` where it can express them, by `context` where Java's anchors need more.

mod case;
mod chars;
mod context;
mod java_names;
mod node;
mod property;
mod syntax;

use std::sync::Arc;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use regex_automata::nfa::thompson::{self, State};

use context::ContextRegex;
use syntax::Refusal;

use crate::limits::{
    BYTES_PER_UNIT_BOUND, REGEX_DFA_MIN_SIZE, REGEX_DFA_SIZE_LIMIT, REGEX_NEST_LIMIT,
    REGEX_SIZE_LIMIT, SET_DFA_SIZE_LIMIT, SET_SIZE_LIMIT, TOKEN_DFA_BUDGET, TOKEN_REGEX_BUDGET,
};

/// How large one regex of a token may be: an equal share of the token's budgets, in NFA
/// units (see `REGEX_SIZE_LIMIT`) and in lazy DFA cache bytes (see `TOKEN_DFA_BUDGET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Share {
    /// How many regexes the token has (an upper bound).
    regexes: usize,
}

impl Share {
    /// The share of each of `regexes` regexes.
    pub(crate) fn of(regexes: usize) -> Self {
        Share {
            regexes: regexes.max(1),
        }
    }

    /// The NFA units one regex may have.
    fn units(self) -> usize {
        (TOKEN_REGEX_BUDGET / self.regexes).min(REGEX_SIZE_LIMIT)
    }

    /// The lazy DFA cache one regex may fill: its share of what the set's cache leaves, or
    /// none below `REGEX_DFA_MIN_SIZE` (the regex then runs without a lazy DFA).
    fn dfa_bytes(self) -> usize {
        let share = (TOKEN_DFA_BUDGET.saturating_sub(SET_DFA_SIZE_LIMIT) / self.regexes)
            .min(REGEX_DFA_SIZE_LIMIT);
        if share < REGEX_DFA_MIN_SIZE { 0 } else { share }
    }

    /// The bound the compilers' own byte limits get: never reached by a regex within its
    /// units, it stops a huge one before it is built whole.
    fn bytes(self) -> usize {
        self.units() * BYTES_PER_UNIT_BOUND
    }

    /// The sentence for a regex over its share.
    fn too_big(self) -> String {
        let units = self.units();
        if units == REGEX_SIZE_LIMIT {
            format!(
                "the regular expression is too large once compiled (over {units} units); \
                 use fewer or smaller counted repetitions"
            )
        } else {
            format!(
                "the regular expression is too large once compiled (over {units} units, its \
                 share of the {TOKEN_REGEX_BUDGET} units this token's {} regular expressions \
                 may have together); use fewer or smaller counted repetitions, or fewer lines",
                self.regexes
            )
        }
    }
}

/// The size of a parsed regex in NFA units, or `None` past `bytes` while compiling.
fn units(hir: &regex_syntax::hir::Hir, bytes: usize) -> Option<usize> {
    let nfa = thompson::Compiler::new()
        .configure(thompson::Config::new().nfa_size_limit(Some(bytes)))
        .build_from_hir(hir)
        .ok()?;
    let units = nfa
        .states()
        .iter()
        .map(|state| match state {
            State::Sparse(sparse) => 1 + sparse.transitions.len(),
            State::Dense(_) => 257,
            State::Union { alternates } => 1 + alternates.len(),
            State::BinaryUnion { .. } => 3,
            _ => 1,
        })
        .sum();
    Some(units)
}

/// How deeply the translation may nest for `regex`'s parser: each Java group or class
/// becomes at most a few levels (a non-capturing group, a repetition, a class), and Java's
/// own nesting is bounded by `REGEX_NEST_LIMIT` before anything is translated.
const TRANSLATED_NEST_LIMIT: u32 = 8 * REGEX_NEST_LIMIT;

/// A compiled restriction regex with Java's `String.matches` semantics: it must match the
/// whole input.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    engine: Engine,
    /// Its size in NFA units (for the context matcher, its program steps): what matching
    /// one byte costs at most without a lazy DFA.
    pub(crate) units: usize,
}

/// Which matcher runs a pattern.
#[derive(Debug, Clone)]
enum Engine {
    /// `regex`, for every pattern whose anchors it expresses (nearly all).
    Regex(Regex),
    /// The context matcher, for `\b`, `$` before a final line terminator and `(?m)` anchors.
    Context(Arc<ContextRegex>),
}

impl Pattern {
    /// Checks and compiles a Java regex within its `share` of the token's budget; the error
    /// is a sentence without the `line N: ` prefix, which the caller adds.
    pub(crate) fn compile(java: &str, share: Share) -> Result<Pattern, String> {
        let node = syntax::parse(java)
            .map_err(|refusal| match refusal {
                Refusal::Unsupported(sentence) => sentence,
                Refusal::Invalid(sentence) => format!("invalid regular expression: {sentence}"),
                Refusal::TooDeep => {
                    "invalid regular expression: the regular expression nests too deeply"
                        .to_string()
                }
            })?
            .settle_anchors();
        if node.needs_context() {
            let units = usize::try_from(context::size(&node))
                .ok()
                .filter(|&units| units <= share.units())
                .ok_or_else(|| share.too_big())?;
            let engine = Engine::Context(Arc::new(ContextRegex::new(&node)));
            return Ok(Pattern { engine, units });
        }
        let hir = node.to_hir();
        let units = units(&hir, share.bytes())
            .filter(|&units| units <= share.units())
            .ok_or_else(|| share.too_big())?;
        let anchored = format!("\\A(?:{hir})\\z");
        let regex = RegexBuilder::new(&anchored)
            .size_limit(share.bytes())
            .dfa_size_limit(share.dfa_bytes())
            .nest_limit(TRANSLATED_NEST_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => share.too_big(),
                other => format!("invalid regular expression: {other}"),
            })?;
        Ok(Pattern {
            engine: Engine::Regex(regex),
            units,
        })
    }

    /// Whether the whole of `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match &self.engine {
            Engine::Regex(regex) => regex.is_match(text),
            Engine::Context(context) => context.matches(text),
        }
    }
}

/// One regular expression on its own, read as a restriction line reads it: Java 17's
/// `Pattern.compile(regex).matcher(text).matches()`, or a refusal naming what is not
/// supported. For tools that check a regex alone, and the differential test against Java.
#[derive(Debug, Clone)]
pub struct JavaRegex {
    pattern: Pattern,
}

impl JavaRegex {
    /// Compiles `regex` with the size a token of one regex may have; the error is the
    /// sentence a restriction line would get.
    pub fn compile(regex: &str) -> Result<JavaRegex, String> {
        Pattern::compile(regex, Share::of(1)).map(|pattern| JavaRegex { pattern })
    }

    /// Whether `text` matches as a whole.
    pub fn matches(&self, text: &str) -> bool {
        self.pattern.matches(text)
    }

    /// When `regex` is one character class (a single character, `\p{…}`, `[…]`, `.`), its
    /// characters as ranges. The differential test compares these with Java's over the
    /// whole code space, which matching each character one by one would make slow.
    #[doc(hidden)]
    pub fn class_ranges(regex: &str) -> Option<Vec<(char, char)>> {
        match syntax::parse(regex).ok()?.settle_anchors() {
            node::Node::Chars(set) => Some(set.iter().map(|r| (r.start(), r.end())).collect()),
            _ => None,
        }
    }
}

/// Several patterns run in one pass: which of them match the whole text.
///
/// A token's URL regexes all run against the same URL, so one pass over it replaces a pass
/// per line; with 100 lines that is the difference between tens of microseconds and one.
/// Patterns for the context matcher run on their own.
#[derive(Debug, Clone)]
pub(crate) struct PatternSet {
    set: RegexSet,
    members: Vec<Member>,
}

/// Where a pattern of a set runs.
#[derive(Debug, Clone)]
enum Member {
    /// In the `RegexSet`, at this index.
    InSet(usize),
    Alone(Arc<ContextRegex>),
}

/// Which patterns of a set matched.
#[derive(Debug, Clone)]
pub(crate) struct SetMatched {
    matched: Vec<bool>,
}

impl SetMatched {
    /// Whether the pattern at `index` matched.
    pub(crate) fn matched(&self, index: usize) -> bool {
        self.matched.get(index).copied().unwrap_or(false)
    }
}

impl PatternSet {
    /// The set of `patterns`, in order; `None` when it would exceed its size bound, in which
    /// case callers run the patterns one by one (same results, more time).
    pub(crate) fn build<'a>(patterns: impl IntoIterator<Item = &'a Pattern>) -> Option<Self> {
        let mut regexes = Vec::new();
        let mut members = Vec::new();
        for pattern in patterns {
            members.push(match &pattern.engine {
                Engine::Regex(regex) => {
                    regexes.push(regex.as_str().to_string());
                    Member::InSet(regexes.len() - 1)
                }
                Engine::Context(context) => Member::Alone(Arc::clone(context)),
            });
        }
        RegexSetBuilder::new(regexes)
            .size_limit(SET_SIZE_LIMIT)
            .dfa_size_limit(SET_DFA_SIZE_LIMIT)
            .nest_limit(TRANSLATED_NEST_LIMIT)
            .build()
            .ok()
            .map(|set| PatternSet { set, members })
    }

    /// Which patterns match the whole of `text`, by index.
    pub(crate) fn matching(&self, text: &str) -> SetMatched {
        let in_set = self.set.matches(text);
        let matched = self
            .members
            .iter()
            .map(|member| match member {
                Member::InSet(index) => in_set.matched(*index),
                Member::Alone(context) => context.matches(text),
            })
            .collect();
        SetMatched { matched }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(java: &str, text: &str) -> bool {
        match Pattern::compile(java, Share::of(1)) {
            Ok(p) => p.matches(text),
            Err(e) => panic!("{java}: {e}"),
        }
    }

    fn refused(java: &str) -> String {
        match Pattern::compile(java, Share::of(1)) {
            Ok(_) => panic!("{java} compiled"),
            Err(e) => e,
        }
    }

    fn uses_context(java: &str) -> bool {
        Pattern::compile(java, Share::of(1)).is_ok_and(|p| matches!(p.engine, Engine::Context(_)))
    }

    #[test]
    fn the_whole_text_must_match() {
        assert!(matches(
            ".*/rest/api/space.*",
            "https://w.example.com/rest/api/space/X"
        ));
        assert!(!matches("/rest/api", "/rest/api/space"));
        assert!(!matches("a|b", "ab"));
        assert!(matches("a|b", "b"));
        assert!(!matches("a$", "a\n"));
        // `$` may stand before a final line terminator, which the rest must then consume.
        assert!(matches("a$\n", "a\n"));
        assert!(matches("(?s)a$.*", "a\r\n"));
        assert!(!matches("(?s)a$.*", "a\nb"));
        assert!(!matches("\r$\n", "\r\n"));
    }

    #[test]
    fn shorthand_classes_are_ascii() {
        assert!(matches("\\d+", "123"));
        assert!(!matches("\\d", "٣"));
        assert!(!matches("\\w", "é"));
        assert!(matches("[\\w-]+", "a-b_c"));
        assert!(matches("[^\\W]+", "abc"));
        assert!(!matches("[\\D]", "1"));
        assert!(matches("\\s\\S", " x"));
        assert!(!matches("\\s", "\u{a0}"));
        assert!(matches("a\\b.*", "a b"));
        // Java 17's `\b` takes letters and digits of every script as word characters.
        assert!(!matches(".*a\\b.*", "aé"));
        assert!(matches(".*a\\b.*", "a-"));
        // Under `(?U)` the classes are Unicode's.
        assert!(matches("(?U)\\w\\d", "é٣"));
    }

    #[test]
    fn dot_excludes_javas_line_terminators() {
        for terminator in ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"] {
            assert!(!matches(".", terminator), "{terminator:?}");
            assert!(matches("(?s).", terminator), "{terminator:?}");
        }
        assert!(matches("(?d).", "\r"));
        assert!(!matches("(?d).", "\n"));
    }

    #[test]
    fn case_insensitivity_is_ascii_unless_u() {
        assert!(matches("(?i)abc", "ABC"));
        assert!(matches("(?i:a)b", "Ab"));
        assert!(!matches("(?i:a)b", "AB"));
        assert!(!matches("(?i)é", "É"));
        assert!(matches("(?iu)é", "É"));
        assert!(!matches("(?i)k", "\u{212A}"));
        assert!(matches("(?iu)k", "\u{212A}"));
        assert!(matches("(?iu)s", "ſ"));
        // Alone, `ß` folds to nothing; in a run of characters it matches `ẞ`, as in Java.
        assert!(!matches("(?iu)ß", "ẞ"));
        assert!(matches("(?iu)ßx", "ẞx"));
    }

    #[test]
    fn flags_and_comments() {
        assert!(matches("(?x) a b # comment", "ab"));
        assert!(matches("(?x: a )b#c", "ab#c"));
        // An escaped space and a quoted one stay spaces in comments mode.
        assert!(matches("(?x)AB\\ C", "AB C"));
        assert!(!matches("(?x)AB\\ C", "ABC"));
        assert!(matches("(?x)\\QA B\\E", "A B"));
        assert!(!matches("(?x)\\QA B\\E", "AB"));
        assert!(matches("(?x)[a b]+", "ab"));
        assert!(refused("(?c)a").contains("inline flag \"c\""));
        assert!(matches("(?m)a$\nb", "a\nb"));
    }

    #[test]
    fn backtracking_constructs_are_refused() {
        assert!(refused(".*(?=x).*").contains("look-around \"(?=\""));
        assert!(refused("(?!x)").contains("look-around \"(?!\""));
        assert!(refused("(?<=x)").contains("look-around \"(?<=\""));
        assert!(refused("(?<!x)").contains("look-around \"(?<!\""));
        assert!(refused("(a)\\1").contains("back-reference"));
        assert!(refused("(?<n>a)\\k<n>").contains("back-reference"));
        assert!(refused("a*+").contains("possessive"));
        assert!(refused("a++").contains("possessive"));
        assert!(refused("a?+").contains("possessive"));
        assert!(refused("a{2}+").contains("possessive"));
        assert!(refused("a{2,}+").contains("possessive"));
        assert!(refused("(?>a)").contains("atomic"));
        assert!(refused("\\X").contains("\\X"));
        assert!(refused("\\b{g}").contains("\\b{g}"));
        assert!(refused("\\N{LATIN SMALL LETTER A}").contains("\\N{"));
        assert!(matches("a+?b*?", "ab"));
        assert!(matches("(?<n>a)b", "ab"));
    }

    #[test]
    fn java_classes_and_escapes_are_translated() {
        assert!(matches("\\p{L}+\\pN", "éa1"));
        assert!(matches("\\p{IsLatin}", "é"));
        assert!(matches("\\p{Lu}", "É"));
        assert!(matches("\\p{Alpha}", "a"));
        assert!(!matches("\\p{Alpha}", "é"));
        assert!(matches("\\p{javaLowerCase}", "é"));
        assert!(matches("\\p{InGreek}", "λ"));
        assert!(matches("\\p{IsL}\\p{L1}", "éÿ"));
        assert!(matches(
            "\\h\\v\\R\\e\\a\\cA\\0101",
            " \n\r\n\u{1b}\u{7}\u{1}A"
        ));
        assert!(matches("[\\w-#]+", "a-#"));
        assert!(matches("[a-z&&]", "b"));
        assert!(matches("[&&a]", "a"));
        assert!(matches("\\x41\\u0042\\x{1F600}", "AB😀"));
        assert!(matches("\\Ga", "a"));
        assert!(!matches(".*\\Z", "a\n"));
        assert!(matches(".*\\Z\n", "a\n"));
        assert!(refused("\\p{Latin}").contains("IsLatin"));
        assert!(refused("\\p{Age=6.0}").contains("invalid regular expression"));
    }

    #[test]
    fn only_javas_own_anchors_use_the_context_matcher() {
        assert!(!uses_context("^.*/rest/api/space$"));
        assert!(!uses_context("\\A.*\\z"));
        assert!(!uses_context("(?m)^a$"));
        assert!(uses_context(".*\\bspace\\b.*"));
        assert!(uses_context("a$\n"));
        assert!(matches(
            ".*\\bspace\\b.*",
            "https://w.example.com/rest/api/space/x"
        ));
        assert!(!matches(
            ".*\\bspace\\b.*",
            "https://w.example.com/rest/api/myspace"
        ));
    }

    #[test]
    fn syntax_errors_are_sentences() {
        assert!(refused("(a").contains("unclosed group"));
        assert!(refused("a)").contains("unopened group"));
        assert!(refused("a)(b").contains("unopened group"));
        assert!(refused("[a").contains("unclosed character class"));
        assert!(refused("*a").contains("nothing to repeat"));
        assert!(refused("\\p{Nope}").contains("invalid regular expression"));
        assert!(
            refused("(((((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))))")
                .contains("nests too deeply")
        );
        assert!(refused("[a-z]{3000}[a-z]{3000}").contains("too large"));
        assert!(refused(".*\\b(?:ab){100000}").contains("too large"));
        // Java reads a second quantifier as repeating the empty string, so this compiles.
        assert!(matches("a{2}{1000}", "aa"));
    }

    #[test]
    fn sizes_are_counted_in_nfa_units() {
        let size = |java: &str| {
            let node = syntax::parse(java).ok()?.settle_anchors();
            units(&node.to_hir(), usize::MAX)
        };
        // Java's `.` leaves out five line terminators, which costs a few units each.
        assert_eq!(size(".*/rest/api/space/KEY/property.*"), Some(103));
        assert_eq!(size("[a-z]{1,100}"), Some(404));
        assert_eq!(size(".{1,60}.{1,60}"), Some(4081));
        assert_eq!(size("/a/.{1,60}.{1,60}"), Some(4084));
        assert_eq!(size(".{1,100}"), Some(3404));
    }

    #[test]
    fn brackets_start_classes_literally() {
        assert!(matches("[]a]+", "]a"));
        assert!(matches("[^]a]", "b"));
        assert!(matches("[a-c[x-z]]+", "axz"));
        assert!(matches("[a-z&&[^aeiou]]+", "bcd"));
        assert!(!matches("[a-z&&[^aeiou]]+", "bad"));
        // Java's intersections: an empty side changes nothing, and single characters read
        // after `&&` join the left side's set.
        assert!(matches("[a&&&b]+", "a&b"));
        assert!(!matches("[ab[cd]&&]", "a"));
        assert!(matches("[ab[cd]&&]", "c"));
    }
}
