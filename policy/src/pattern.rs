//! Java regular expressions (the original app's dialect) checked and translated for `regex`.
//! Refuses what the linear-time engine cannot do or reads differently, and anchors the rest.

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder, SetMatches};
use regex_automata::nfa::thompson::{self, State};

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

/// A compiled restriction regex with Java's `String.matches` semantics: it must match the
/// whole input.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    regex: Regex,
    /// Its size in NFA units: what matching one byte costs at most without a lazy DFA.
    pub(crate) units: usize,
}

impl Pattern {
    /// Checks and compiles a Java regex within its `share` of the token's budget; the error
    /// is a sentence without the `line N: ` prefix, which the caller adds.
    pub(crate) fn compile(java: &str, share: Share) -> Result<Pattern, String> {
        let translated = translate(java)?;
        // Parse the translation on its own first: wrapped in `(?:…)`, an unbalanced `)`
        // would otherwise close the wrapper and be accepted.
        let hir = regex_syntax::ParserBuilder::new()
            .nest_limit(REGEX_NEST_LIMIT)
            .build()
            .parse(&translated)
            .map_err(|e| syntax_sentence(&e))?;
        let units = units(&hir, share.bytes())
            .filter(|&units| units <= share.units())
            .ok_or_else(|| share.too_big())?;
        let anchored = format!("\\A(?:{translated})\\z");
        let regex = RegexBuilder::new(&anchored)
            .size_limit(share.bytes())
            .dfa_size_limit(share.dfa_bytes())
            .nest_limit(REGEX_NEST_LIMIT + 2)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => share.too_big(),
                other => format!("invalid regular expression: {other}"),
            })?;
        Ok(Pattern { regex, units })
    }

    /// Whether the whole of `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// Several patterns run in one pass: which of them match the whole text.
///
/// A token's URL regexes all run against the same URL, so one pass over it replaces a pass
/// per line; with 100 lines that is the difference between tens of microseconds and one.
#[derive(Debug, Clone)]
pub(crate) struct PatternSet {
    set: RegexSet,
}

impl PatternSet {
    /// The set of `patterns`, in order; `None` when it would exceed its size bound, in which
    /// case callers run the patterns one by one (same results, more time).
    pub(crate) fn build<'a>(patterns: impl IntoIterator<Item = &'a Pattern>) -> Option<Self> {
        RegexSetBuilder::new(patterns.into_iter().map(|p| p.regex.as_str()))
            .size_limit(SET_SIZE_LIMIT)
            .dfa_size_limit(SET_DFA_SIZE_LIMIT)
            .nest_limit(REGEX_NEST_LIMIT + 2)
            .build()
            .ok()
            .map(|set| PatternSet { set })
    }

    /// Which patterns match the whole of `text`, by index.
    pub(crate) fn matching(&self, text: &str) -> SetMatches {
        self.set.matches(text)
    }
}

/// Turns a `regex-syntax` error into a sentence; the kinds people hit get plain words.
fn syntax_sentence(error: &regex_syntax::Error) -> String {
    use regex_syntax::ast::ErrorKind as A;
    let ast_kind = match error {
        regex_syntax::Error::Parse(e) => Some(e.kind()),
        _ => None,
    };
    let plain = match ast_kind {
        Some(A::GroupUnclosed) => {
            Some("unclosed group: a \"(\" has no matching \")\" (unbalanced parentheses)")
        }
        Some(A::GroupUnopened) => {
            Some("unopened group: a \")\" has no matching \"(\" (unbalanced parentheses)")
        }
        Some(A::ClassUnclosed) => {
            Some("unclosed character class: a \"[\" has no matching \"]\" (unbalanced brackets)")
        }
        Some(A::RepetitionMissing) => {
            Some("a repetition operator (*, +, ? or {…}) has nothing to repeat")
        }
        Some(A::NestLimitExceeded(_)) => Some("the regular expression nests too deeply"),
        _ => None,
    };
    match (plain, error) {
        (Some(sentence), _) => format!("invalid regular expression: {sentence}"),
        (None, regex_syntax::Error::Parse(e)) => {
            format!("invalid regular expression: {}", e.kind())
        }
        (None, regex_syntax::Error::Translate(e)) => {
            format!("invalid regular expression: {}", e.kind())
        }
        (None, other) => format!("invalid regular expression: {other}"),
    }
}

/// `\d`, `\w`, `\s` and their negations as Java reads them by default: ASCII only.
const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = "\\t\\n\\x0B\\x0C\\r ";

/// POSIX class names that Java's `\p{…}` reads as ASCII-only sets but `regex` as Unicode
/// properties (or not at all).
const POSIX_NAMES: &[&str] = &[
    "Lower", "Upper", "ASCII", "Alpha", "Digit", "Alnum", "Punct", "Graph", "Print", "Blank",
    "Cntrl", "XDigit", "Space",
];

/// Keyed Unicode properties `regex` knows but Java does not (age, segmentation, script
/// extensions); refused so that no build of the policy accepts them.
const NON_JAVA_PROPERTIES: &[&str] = &[
    "age",
    "gcb",
    "graphemeclusterbreak",
    "wb",
    "wordbreak",
    "sb",
    "sentencebreak",
    "scx",
    "scriptextensions",
];

/// Escapes that exist only in Java or mean something else in `regex`.
const REFUSED_ESCAPES: &str = "hHvVRXGZec";

/// Translates a Java regex into `regex` syntax, or names the construct it refuses.
///
/// Kept: everything both engines read alike. Translated: `\d \w \s \b` (and negations, also
/// inside classes) to their ASCII forms, `\Q…\E` to escaped literals, `\<` `\>` to plain
/// characters, `~` inside classes to `\~` (a set operator in `regex`), and `#` comments in
/// `x` mode are dropped (a line has no newline, so a comment runs to its end). Refused:
/// look-around, back-references, possessive quantifiers, atomic groups, Java-only and POSIX
/// classes, Java-only escapes, octal escapes, inline flags other than `i m s x`.
pub(crate) fn translate(java: &str) -> Result<String, String> {
    Translator {
        chars: java.chars().collect(),
        at: 0,
        out: String::with_capacity(java.len() + 16),
        class_depth: 0,
        verbose: false,
        verbose_stack: Vec::new(),
    }
    .run()
}

struct Translator {
    chars: Vec<char>,
    at: usize,
    out: String,
    /// How many character classes are open (0 = outside any).
    class_depth: usize,
    /// Whether the `x` flag is on here, and its value outside each open group.
    verbose: bool,
    verbose_stack: Vec<bool>,
}

impl Translator {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        text.chars()
            .enumerate()
            .all(|(k, c)| self.peek(k) == Some(c))
    }

    fn run(mut self) -> Result<String, String> {
        while let Some(c) = self.peek(0) {
            if self.class_depth > 0 {
                self.class_item(c)?;
            } else {
                self.outside_item(c)?;
            }
        }
        Ok(self.out)
    }

    fn outside_item(&mut self, c: char) -> Result<(), String> {
        match c {
            '\\' => self.escape(),
            '[' => {
                self.open_class();
                Ok(())
            }
            '(' => self.group(),
            ')' => {
                self.verbose = self.verbose_stack.pop().unwrap_or(self.verbose);
                self.emit_char(')');
                Ok(())
            }
            '*' | '+' | '?' => {
                self.emit_char(c);
                self.after_quantifier(&c.to_string())
            }
            '{' => self.counted_repetition(),
            '#' if self.verbose => {
                // A comment runs to the end of the line, which is the end of the pattern.
                self.at = self.chars.len();
                Ok(())
            }
            _ => {
                self.emit_char(c);
                Ok(())
            }
        }
    }

    fn class_item(&mut self, c: char) -> Result<(), String> {
        match c {
            '\\' => self.escape(),
            '[' => {
                if let Some(name) = self.posix_bracket() {
                    return Err(format!(
                        "POSIX class \"[:{name}:]\" is not supported \
                         (Java reads it as a set of characters); write the set out, e.g. [a-z]"
                    ));
                }
                self.open_class();
                Ok(())
            }
            ']' => {
                self.class_depth -= 1;
                self.emit_char(']');
                Ok(())
            }
            '~' => {
                self.at += 1;
                self.out.push_str("\\~");
                Ok(())
            }
            '-' if self.peek(1) == Some('-') => Err(
                "\"--\" inside a character class is not supported (it reads differently \
                 in Java); escape the hyphen as \\-"
                    .to_string(),
            ),
            _ => {
                self.emit_char(c);
                Ok(())
            }
        }
    }

    fn emit_char(&mut self, c: char) {
        self.out.push(c);
        self.at += 1;
    }

    /// `[`, `[^`, and a `]` right after them, which both engines read as a literal.
    fn open_class(&mut self) {
        self.class_depth += 1;
        self.emit_char('[');
        if self.peek(0) == Some('^') {
            self.emit_char('^');
        }
        if self.peek(0) == Some(']') {
            self.at += 1;
            self.out.push_str("\\]");
        }
    }

    /// At `[`: the name of a `[:name:]` POSIX bracket, if one starts here.
    fn posix_bracket(&self) -> Option<String> {
        if self.peek(1) != Some(':') {
            return None;
        }
        let mut name = String::new();
        let mut k = 2;
        while let Some(c) = self.peek(k) {
            if c.is_ascii_alphabetic() {
                name.push(c);
                k += 1;
            } else {
                break;
            }
        }
        (!name.is_empty() && self.peek(k) == Some(':') && self.peek(k + 1) == Some(']'))
            .then_some(name)
    }

    /// After a quantifier: a lazy `?` is kept, a possessive `+` refused.
    fn after_quantifier(&mut self, quantifier: &str) -> Result<(), String> {
        match self.peek(0) {
            Some('+') => Err(format!(
                "possessive quantifier \"{quantifier}+\" is not supported \
                 (it needs backtracking control)"
            )),
            Some('?') => {
                self.emit_char('?');
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `{n}`, `{n,}`, `{n,m}`; anything else is passed on for `regex` to judge.
    fn counted_repetition(&mut self) -> Result<(), String> {
        let mut k = 1;
        let mut body = String::new();
        while let Some(c) = self.peek(k) {
            if c.is_ascii_digit() || c == ',' || c == ' ' {
                body.push(c);
                k += 1;
            } else {
                break;
            }
        }
        if self.peek(k) != Some('}') || !body.starts_with(|c: char| c.is_ascii_digit()) {
            self.emit_char('{');
            return Ok(());
        }
        let quantifier = format!("{{{body}}}");
        self.out.push_str(&quantifier);
        self.at += k + 1;
        self.after_quantifier(&quantifier)
    }

    /// At `(`: plain, non-capturing, named and flag groups pass; look-around and atomic
    /// groups are refused; flags are checked.
    fn group(&mut self) -> Result<(), String> {
        if self.peek(1) != Some('?') {
            self.verbose_stack.push(self.verbose);
            self.emit_char('(');
            return Ok(());
        }
        for look in ["(?=", "(?!", "(?<=", "(?<!"] {
            if self.starts_with(look) {
                return Err(format!(
                    "look-around \"{look}\" is not supported (the regex engine runs in linear \
                     time and cannot look ahead or behind)"
                ));
            }
        }
        if self.starts_with("(?>") {
            return Err(
                "atomic group \"(?>\" is not supported (it needs backtracking control)".to_string(),
            );
        }
        if self.starts_with("(?<") {
            // A named group; its name is copied as plain characters.
            self.verbose_stack.push(self.verbose);
            self.out.push_str("(?<");
            self.at += 3;
            return Ok(());
        }
        // Inline flags: `(?flags)` or `(?flags:…)`.
        let mut k = 2;
        let mut on = true;
        let mut verbose = self.verbose;
        loop {
            match self.peek(k) {
                Some('-') => on = false,
                Some('x') => verbose = on,
                Some('i' | 'm' | 's') => {}
                Some(':') | Some(')') => break,
                Some(other) => {
                    return Err(format!(
                        "inline flag \"{other}\" in \"(?{other}\" is not supported; \
                         only the flags i, m, s and x are"
                    ));
                }
                None => {
                    // Unterminated: `regex` reports it.
                    break;
                }
            }
            k += 1;
        }
        let scoped = self.peek(k) == Some(':');
        let end = (self.at + k + 1).min(self.chars.len());
        let text: String = self.chars[self.at..end].iter().collect();
        self.out.push_str(&text);
        self.at = end;
        if scoped {
            self.verbose_stack.push(self.verbose);
        }
        self.verbose = verbose;
        Ok(())
    }

    /// At `\`: translates or refuses one escape, inside or outside a class.
    fn escape(&mut self) -> Result<(), String> {
        let inside = self.class_depth > 0;
        let Some(c) = self.peek(1) else {
            // A trailing backslash: `regex` reports it.
            self.emit_char('\\');
            return Ok(());
        };
        let ascii_class = |set: &str, negated: bool| match (inside, negated) {
            (true, false) => set.to_string(),
            (_, true) => format!("[^{set}]"),
            (false, false) => format!("[{set}]"),
        };
        let replacement = match c {
            'd' => ascii_class(DIGIT, false),
            'D' => ascii_class(DIGIT, true),
            'w' => ascii_class(WORD, false),
            'W' => ascii_class(WORD, true),
            's' => ascii_class(SPACE, false),
            'S' => ascii_class(SPACE, true),
            'b' | 'B' if !inside => {
                if self.peek(2) == Some('{') {
                    return Err(format!("boundary \"\\{c}{{\" is not supported"));
                }
                format!("(?-u:\\{c})")
            }
            'Q' => {
                self.at += 2;
                return self.quoted();
            }
            '1'..='9' => {
                return Err(format!(
                    "back-reference \"\\{c}\" is not supported (the regex engine runs in \
                     linear time)"
                ));
            }
            'k' => {
                return Err(
                    "back-reference \"\\k<…>\" is not supported (the regex engine runs in \
                     linear time)"
                        .to_string(),
                );
            }
            '0' => {
                return Err(
                    "octal escape \"\\0\" is not supported; write \\x.. instead".to_string()
                );
            }
            'p' | 'P' => return self.property(c),
            '<' | '>' => c.to_string(),
            c if REFUSED_ESCAPES.contains(c) => {
                return Err(format!(
                    "escape \"\\{c}\" is not supported (Java reads it differently or it has \
                     no equivalent)"
                ));
            }
            c if c.is_ascii_alphanumeric() => format!("\\{c}"),
            c => regex_syntax::escape(&c.to_string()),
        };
        self.out.push_str(&replacement);
        self.at += 2;
        Ok(())
    }

    /// After `\Q`: literal text up to `\E` or the end of the pattern.
    fn quoted(&mut self) -> Result<(), String> {
        let mut literal = String::new();
        while let Some(c) = self.peek(0) {
            if self.starts_with("\\E") {
                self.at += 2;
                break;
            }
            literal.push(c);
            self.at += 1;
        }
        let escaped = regex_syntax::escape(&literal);
        if self.class_depth > 0 {
            // Inside a class every character must stand alone; `regex_syntax::escape`
            // leaves `~`, a class set operator, unescaped.
            self.out.push_str(&escaped.replace('~', "\\~"));
        } else {
            self.out.push_str(&escaped);
        }
        Ok(())
    }

    /// At `\p` or `\P`: refuses Java-only, POSIX and block names; passes the rest on.
    fn property(&mut self, c: char) -> Result<(), String> {
        let (name, len) = if self.peek(2) == Some('{') {
            let mut name = String::new();
            let mut k = 3;
            while let Some(ch) = self.peek(k) {
                if ch == '}' {
                    break;
                }
                name.push(ch);
                k += 1;
            }
            (name, k + 1)
        } else {
            (self.peek(2).map(String::from).unwrap_or_default(), 3)
        };
        let written = format!("\\{c}{{{name}}}");
        if name.starts_with("java") {
            return Err(format!("Java-only class \"{written}\" is not supported"));
        }
        if POSIX_NAMES.contains(&name.as_str())
            || name.starts_with("Is") && POSIX_NAMES.contains(&&name[2..])
        {
            return Err(format!(
                "POSIX class \"{written}\" is not supported (Java reads it as ASCII only); \
                 write the set out, e.g. [a-zA-Z]"
            ));
        }
        let loose: String = name
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let key = loose.split(['=', ':']).next().unwrap_or("");
        if name.starts_with("In") || matches!(key, "block" | "blk") {
            return Err(format!("Unicode block \"{written}\" is not supported"));
        }
        if loose.contains(['=', ':']) && NON_JAVA_PROPERTIES.contains(&key) {
            return Err(format!(
                "Unicode property \"{written}\" is not supported (Java has no such property)"
            ));
        }
        let end = (self.at + len).min(self.chars.len());
        let text: String = self.chars[self.at..end].iter().collect();
        self.out.push_str(&text);
        self.at = end;
        Ok(())
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
        // ASCII: `é` is not a word character, so there is a boundary after `a`.
        assert!(matches(".*a\\b.*", "aé"));
    }

    #[test]
    fn quoting_and_java_escapes() {
        assert!(matches("\\Q.*\\E", ".*"));
        assert!(!matches("\\Q.*\\E", "ab"));
        assert!(matches("\\Q(a\\E.*", "(abc"));
        assert!(matches("[\\Q~]\\E]+", "~]"));
        assert!(matches("\\/rest\\/", "/rest/"));
        assert!(matches("\\<a\\>", "<a>"));
        assert!(matches("[a~~b]+", "a~b"));
        assert!(matches("\\x41\\u0042", "AB"));
    }

    #[test]
    fn flags_and_comments() {
        assert!(matches("(?i)abc", "ABC"));
        assert!(matches("(?i:a)b", "Ab"));
        assert!(!matches("(?i:a)b", "AB"));
        assert!(matches("(?x) a b # comment", "ab"));
        assert!(matches("(?x: a )b#c", "ab#c"));
        assert!(refused("(?U)a").contains("inline flag \"U\""));
        assert!(refused("(?d)a").contains("inline flag"));
        assert!(refused("(?u:a)").contains("inline flag"));
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
        assert!(matches("a+?b*?", "ab"));
        assert!(matches("(?<n>a)b", "ab"));
    }

    #[test]
    fn java_only_classes_and_escapes_are_refused() {
        for java in [
            "\\p{Age=6.0}",
            "\\p{wb=Katakana}",
            "\\p{scx:Latin}",
            "\\p{javaLowerCase}",
            "\\p{Alpha}",
            "\\p{IsAlpha}",
            "\\P{Lower}",
            "\\p{InGreek}",
            "[[:alpha:]]",
        ] {
            let e = refused(java);
            assert!(e.contains("not supported"), "{java}: {e}");
        }
        for java in [
            "\\h", "\\H", "\\v", "\\V", "\\R", "\\X", "\\G", "\\Z", "\\e", "\\cA", "\\01",
        ] {
            let e = refused(java);
            assert!(e.contains("not supported"), "{java}: {e}");
        }
        assert!(matches("\\p{L}+\\pN", "éa1"));
        assert!(matches("\\p{IsLatin}", "é"));
        assert!(matches("\\p{Lu}", "É"));
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
        assert!(refused("[a-z]{1000}{1000}").contains("too large"));
    }

    #[test]
    fn sizes_are_counted_in_nfa_units() {
        let size = |java: &str| {
            let hir = regex_syntax::ParserBuilder::new().build().parse(java);
            hir.ok().and_then(|hir| units(&hir, usize::MAX))
        };
        assert_eq!(size(".*/rest/api/space/KEY/property.*"), Some(77));
        assert_eq!(size("[a-z]{1,100}"), Some(404));
        assert_eq!(size(".{1,100}.{1,100}"), Some(4201));
        assert_eq!(size("/a/.{1,60}.{1,60}"), Some(2524));
    }

    #[test]
    fn brackets_start_classes_literally() {
        assert!(matches("[]a]+", "]a"));
        assert!(matches("[^]a]", "b"));
        assert!(matches("[a-c[x-z]]+", "axz"));
        assert!(matches("[a-z&&[^aeiou]]+", "bcd"));
        assert!(!matches("[a-z&&[^aeiou]]+", "bad"));
    }
}
