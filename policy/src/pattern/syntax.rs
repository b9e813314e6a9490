//! Java 17's `java.util.regex.Pattern` syntax, read character by character as Java reads it,
//! quirks included (`\Q…\E` quoting first, comments mode inside classes, `&&` precedence).
//!
//! Builds the `Node` a pattern means, refuses what a linear-time engine cannot run, and
//! rejects what Java itself rejects. The cursor works like Java's parser (code points with
//! two trailing zeros, the same peek/read/next steps), so each construct takes the same
//! characters it takes in Java.

use super::case;
use super::chars::{self, CharSet};
use super::node::{Look, Node};
use super::property::{self, Context};
use crate::limits::REGEX_NEST_LIMIT;

/// Why a pattern is not compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Java accepts it but tokengate does not run it; the sentence names the construct.
    Unsupported(String),
    /// Java rejects it too (its `PatternSyntaxException`), in words.
    Invalid(String),
    /// Groups or classes nest deeper than `REGEX_NEST_LIMIT`.
    TooDeep,
}

type Parsed<T> = Result<T, Refusal>;

// Java's flag bits, as `Pattern` numbers them.
const UNIX_LINES: u32 = 0x01;
const CASE_INSENSITIVE: u32 = 0x02;
const COMMENTS: u32 = 0x04;
const MULTILINE: u32 = 0x08;
const DOTALL: u32 = 0x20;
const UNICODE_CASE: u32 = 0x40;
const UNICODE_CHARACTER_CLASS: u32 = 0x100;

/// Reads a Java regex into the `Node` it means.
pub(crate) fn parse(java: &str) -> Parsed<Node> {
    let code_points: Vec<u32> = java.chars().map(u32::from).collect();
    let (temp, len) = remove_quoting(&code_points);
    let mut parser = Parser {
        temp,
        len,
        cursor: 0,
        flags: 0,
        depth: 0,
        names: Vec::new(),
        line_endings: 0,
    };
    let node = parser.expr()?;
    if parser.cursor != parser.len {
        return Err(if parser.peek() == u32::from(')') {
            invalid("unopened group: a \")\" has no matching \"(\" (unbalanced parentheses)")
        } else {
            invalid("a trailing backslash escapes nothing")
        });
    }
    Ok(node)
}

fn invalid(sentence: &str) -> Refusal {
    Refusal::Invalid(sentence.to_string())
}

/// `\Q…\E` becomes escaped characters before anything else is read, as in Java: every
/// ASCII character but letters and digits gets a backslash, a leading digit becomes
/// `\x3N` (so it cannot extend an escape before it). Returns the code points with two
/// trailing zeros, and how many there are without them.
fn remove_quoting(pattern: &[u32]) -> (Vec<u32>, usize) {
    let at = |i: usize| pattern.get(i).copied().unwrap_or(0);
    let backslash = u32::from('\\');
    let mut i = 0;
    while i + 1 < pattern.len() {
        if at(i) != backslash {
            i += 1;
        } else if at(i + 1) != u32::from('Q') {
            i += 2;
        } else {
            break;
        }
    }
    if i + 1 >= pattern.len() {
        let mut temp = pattern.to_vec();
        temp.extend([0, 0]);
        return (temp, pattern.len());
    }
    let mut out: Vec<u32> = pattern[..i].to_vec();
    i += 2;
    let (mut in_quote, mut begin_quote) = (true, true);
    while i < pattern.len() {
        let c = at(i);
        i += 1;
        let ascii = c < 128;
        if !ascii || is_ascii_alpha(c) {
            out.push(c);
        } else if is_ascii_digit(c) {
            if begin_quote {
                out.extend([backslash, u32::from('x'), u32::from('3')]);
            }
            out.push(c);
        } else if c != backslash {
            if in_quote {
                out.push(backslash);
            }
            out.push(c);
        } else if in_quote {
            if at(i) == u32::from('E') {
                i += 1;
                in_quote = false;
            } else {
                out.extend([backslash, backslash]);
            }
        } else if at(i) == u32::from('Q') {
            i += 1;
            in_quote = true;
            begin_quote = true;
            continue;
        } else {
            out.push(c);
            if i != pattern.len() {
                out.push(at(i));
                i += 1;
            }
        }
        begin_quote = false;
    }
    let len = out.len();
    out.extend([0, 0]);
    (out, len)
}

fn is_ascii_alpha(c: u32) -> bool {
    u8::try_from(c).is_ok_and(|b| b.is_ascii_alphabetic())
}

fn is_ascii_digit(c: u32) -> bool {
    (0x30..=0x39).contains(&c)
}

fn is_ascii_alnum(c: u32) -> bool {
    is_ascii_alpha(c) || is_ascii_digit(c)
}

fn is_ascii_hex(c: u32) -> bool {
    u8::try_from(c).is_ok_and(|b| b.is_ascii_hexdigit())
}

/// Java's `ASCII.isSpace`: what comments mode skips.
fn is_space(c: u32) -> bool {
    matches!(c, 0x09..=0x0D | 0x20)
}

fn hex_value(c: u32) -> u32 {
    char::from_u32(c).and_then(|c| c.to_digit(16)).unwrap_or(0)
}

/// The text of code points (none is a surrogate: they come from a Rust string).
fn text(code_points: &[u32]) -> String {
    code_points
        .iter()
        .filter_map(|&c| char::from_u32(c))
        .collect()
}

/// What an escape stands for.
enum Escaped {
    /// One character.
    Char(u32),
    /// A class (`\d`, `\s`, …).
    Set(CharSet),
    /// An anchor or `\R`.
    Node(Node),
    /// A construct not built because the caller only wanted to know its kind (Java's
    /// `create == false`): a run of literal characters stops before it.
    Meta,
}

/// A class operand whose value depends on characters the class has yet to read: Java keeps
/// the class's single characters in one mutable set, which earlier `&&` operands refer to.
#[derive(Clone)]
enum Operand {
    /// The class's single characters, as they are when the class ends.
    Bits,
    Set(CharSet),
    And(Box<Operand>, Box<Operand>),
    Or(Box<Operand>, Box<Operand>),
}

impl Operand {
    fn or(self, other: Operand) -> Operand {
        Operand::Or(Box::new(self), Box::new(other))
    }

    fn resolve(&self, bits: &CharSet) -> CharSet {
        match self {
            Operand::Bits => bits.clone(),
            Operand::Set(set) => set.clone(),
            Operand::And(a, b) => chars::and(a.resolve(bits), &b.resolve(bits)),
            Operand::Or(a, b) => chars::or(a.resolve(bits), &b.resolve(bits)),
        }
    }
}

struct Parser {
    /// The pattern's code points after `\Q…\E` removal, then two zeros.
    temp: Vec<u32>,
    /// Code points before the zeros.
    len: usize,
    cursor: usize,
    /// Java's flag bits in force.
    flags: u32,
    /// Groups and classes open.
    depth: u32,
    /// Named groups so far, for `\k<name>` and duplicate names.
    names: Vec<String>,
    /// `\R`s read so far, to find one under a quantifier.
    line_endings: u32,
}

impl Parser {
    fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    fn at(&self, index: usize) -> u32 {
        self.temp.get(index).copied().unwrap_or(0)
    }

    // The cursor steps, as Java's `peek`, `read`, `next`, `skip`, `unread`: in comments
    // mode all but the `…_escaped` ones step over white space and `#` comments.

    fn peek(&mut self) -> u32 {
        let c = self.at(self.cursor);
        if self.has(COMMENTS) {
            self.peek_past_white_space(c)
        } else {
            c
        }
    }

    fn read(&mut self) -> u32 {
        let c = self.at(self.cursor);
        self.cursor += 1;
        if self.has(COMMENTS) {
            self.read_past_white_space(c)
        } else {
            c
        }
    }

    fn next(&mut self) -> u32 {
        self.cursor += 1;
        self.peek()
    }

    fn next_escaped(&mut self) -> u32 {
        self.cursor += 1;
        self.at(self.cursor)
    }

    fn skip(&mut self) -> u32 {
        let c = self.at(self.cursor + 1);
        self.cursor += 2;
        c
    }

    fn unread(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    fn accept(&mut self, expected: char, error: &str) -> Parsed<()> {
        let mut c = self.at(self.cursor);
        self.cursor += 1;
        if self.has(COMMENTS) {
            c = self.read_past_white_space(c);
        }
        if c == u32::from(expected) {
            Ok(())
        } else {
            Err(invalid(error))
        }
    }

    fn is_line_separator(&self, c: u32) -> bool {
        if self.has(UNIX_LINES) {
            c == 0x0A
        } else {
            matches!(c, 0x0A | 0x0D | 0x85 | 0x2028 | 0x2029)
        }
    }

    fn peek_past_white_space(&mut self, mut c: u32) -> u32 {
        while is_space(c) || c == u32::from('#') {
            while is_space(c) {
                self.cursor += 1;
                c = self.at(self.cursor);
            }
            if c == u32::from('#') {
                // A comment runs to the end of its line.
                self.cursor += 1;
                c = self.at(self.cursor);
                while c != 0 && !self.is_line_separator(c) {
                    self.cursor += 1;
                    c = self.at(self.cursor);
                }
                if c == 0 && self.cursor > self.len {
                    self.cursor = self.len;
                    c = self.at(self.cursor);
                }
            }
        }
        c
    }

    fn read_past_white_space(&mut self, mut c: u32) -> u32 {
        while is_space(c) || c == u32::from('#') {
            while is_space(c) {
                c = self.at(self.cursor);
                self.cursor += 1;
            }
            if c == u32::from('#') {
                c = self.at(self.cursor);
                self.cursor += 1;
                while c != 0 && !self.is_line_separator(c) {
                    c = self.at(self.cursor);
                    self.cursor += 1;
                }
                if c == 0 && self.cursor > self.len {
                    self.cursor = self.len;
                    c = self.at(self.cursor);
                    self.cursor += 1;
                }
            }
        }
        c
    }

    /// Java's `mark`: a sentinel in place of the first trailing zero.
    fn mark(&mut self, c: u32) {
        if let Some(slot) = self.temp.get_mut(self.len) {
            *slot = c;
        }
    }

    fn enter(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > REGEX_NEST_LIMIT {
            Err(Refusal::TooDeep)
        } else {
            Ok(())
        }
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Alternatives separated by `|`.
    fn expr(&mut self) -> Parsed<Node> {
        let mut branches = Vec::new();
        loop {
            branches.push(self.sequence()?);
            if self.peek() != u32::from('|') {
                return Ok(Node::alt(branches));
            }
            self.next();
        }
    }

    /// One alternative: atoms, each with its quantifier.
    fn sequence(&mut self) -> Parsed<Node> {
        let mut items = Vec::new();
        loop {
            let line_endings = self.line_endings;
            let c = self.peek();
            let node = match char::from_u32(c).unwrap_or('\0') {
                '(' => {
                    // Groups take their own quantifier; a flag group is nothing.
                    if let Some(group) = self.group()? {
                        items.push(group);
                    }
                    continue;
                }
                '[' => Node::Chars(self.class(true)?),
                '\\' => {
                    let escaped = self.next_escaped();
                    if escaped == u32::from('p') || escaped == u32::from('P') {
                        Node::Chars(self.property_after_p(escaped)?)
                    } else {
                        self.unread();
                        self.atom()?
                    }
                }
                '^' => {
                    self.next();
                    if self.has(MULTILINE) {
                        Node::Look(Look::Caret {
                            unix: self.has(UNIX_LINES),
                        })
                    } else {
                        Node::Look(Look::Start)
                    }
                }
                '$' => {
                    self.next();
                    Node::Look(Look::Dollar {
                        multiline: self.has(MULTILINE),
                        unix: self.has(UNIX_LINES),
                    })
                }
                '.' => {
                    self.next();
                    Node::Chars(self.dot())
                }
                '|' | ')' => break,
                ']' | '}' => self.atom()?,
                '?' | '*' | '+' => {
                    return Err(invalid(
                        "a repetition operator (*, +, ? or {…}) has nothing to repeat",
                    ));
                }
                '\0' if self.cursor >= self.len => break,
                _ => self.atom()?,
            };
            items.push(self.closure(node, line_endings)?);
        }
        Ok(Node::concat(items))
    }

    fn dot(&self) -> CharSet {
        if self.has(DOTALL) {
            chars::all()
        } else if self.has(UNIX_LINES) {
            chars::not(chars::one(0x0A))
        } else {
            chars::not(chars::of([0x0A, 0x0D, 0x85, 0x2028, 0x2029]))
        }
    }

    /// A run of literal characters (or one escape that is not a character). Two or more
    /// characters form a literal string, one stands alone: under `(?iu)` the two fold
    /// differently, as in Java.
    fn atom(&mut self) -> Parsed<Node> {
        let mut run: Vec<u32> = Vec::new();
        let mut previous = 0usize;
        let mut c = self.peek();
        loop {
            match char::from_u32(c).unwrap_or('\0') {
                '*' | '+' | '?' | '{' => {
                    // The quantifier takes the last character alone.
                    if run.len() > 1 {
                        self.cursor = previous;
                        run.pop();
                    }
                    break;
                }
                '$' | '.' | '^' | '(' | '[' | '|' | ')' => break,
                '\\' => {
                    let escaped = self.next_escaped();
                    if escaped == u32::from('p') || escaped == u32::from('P') {
                        if run.is_empty() {
                            return Ok(Node::Chars(self.property_after_p(escaped)?));
                        }
                        self.unread();
                        break;
                    }
                    self.unread();
                    previous = self.cursor;
                    match self.escape(false, run.is_empty(), false)? {
                        Escaped::Char(ch) => {
                            run.push(ch);
                            c = self.peek();
                            continue;
                        }
                        Escaped::Set(set) => return Ok(Node::Chars(set)),
                        Escaped::Node(node) => return Ok(node),
                        Escaped::Meta => {
                            self.cursor = previous;
                            break;
                        }
                    }
                }
                '\0' if self.cursor >= self.len => break,
                _ => {
                    previous = self.cursor;
                    run.push(c);
                    c = self.next();
                }
            }
        }
        Ok(match run.as_slice() {
            [single] => Node::Chars(self.single(*single)),
            _ => Node::concat(run.iter().map(|&ch| Node::Chars(self.in_run(ch))).collect()),
        })
    }

    /// One character standing alone (Java's `single`).
    fn single(&self, c: u32) -> CharSet {
        match (self.has(CASE_INSENSITIVE), self.has(UNICODE_CASE)) {
            (true, true) => case::unicode_single(c),
            (true, false) => case::ascii_single(c),
            _ => chars::one(c),
        }
    }

    /// One character of a literal run (Java's slices).
    fn in_run(&self, c: u32) -> CharSet {
        match (self.has(CASE_INSENSITIVE), self.has(UNICODE_CASE)) {
            (true, true) => case::unicode_in_run(c),
            (true, false) => case::ascii_single(c),
            _ => chars::one(c),
        }
    }

    /// A quantifier after `node`, if one follows. `line_endings` is the count of `\R`s
    /// before `node`: Java repeats `\R` (alone or in a group) without backtracking into
    /// it, so `\R{2}` does not match `\r\n`; that reading is refused.
    fn closure(&mut self, node: Node, line_endings: u32) -> Parsed<Node> {
        let quantified = matches!(
            char::from_u32(self.peek()).unwrap_or('\0'),
            '?' | '*' | '+' | '{'
        );
        if quantified && self.line_endings > line_endings {
            return Err(Refusal::Unsupported(
                "\"\\R\" under a quantifier is not supported (Java repeats it without \
                 backtracking into it); write (?:\\r\\n|[\\n\\x0B\\f\\r\\x85\\u2028\\u2029])"
                    .to_string(),
            ));
        }
        let (min, max) = match char::from_u32(self.peek()).unwrap_or('\0') {
            '?' => {
                self.quantifier_kind("?")?;
                (0, Some(1))
            }
            '*' => {
                self.quantifier_kind("*")?;
                (0, None)
            }
            '+' => {
                self.quantifier_kind("+")?;
                (1, None)
            }
            '{' => {
                let mut c = self.skip();
                if !is_ascii_digit(c) {
                    return Err(invalid(
                        "\"{\" must start a counted repetition such as {2} or {1,3} \
                         (write \\{ for the character)",
                    ));
                }
                let range_error = || invalid("illegal repetition range");
                let mut min: u32 = 0;
                loop {
                    min = min
                        .checked_mul(10)
                        .and_then(|m| m.checked_add(c - 0x30))
                        .filter(|&m| m <= 0x7FFF_FFFF)
                        .ok_or_else(range_error)?;
                    c = self.read();
                    if !is_ascii_digit(c) {
                        break;
                    }
                }
                let max = if c == u32::from(',') {
                    c = self.read();
                    if c == u32::from('}') {
                        self.unread();
                        self.quantifier_kind("{n,}")?;
                        return Ok(repeat(node, min, None));
                    }
                    let mut max: u32 = 0;
                    while is_ascii_digit(c) {
                        max = max
                            .checked_mul(10)
                            .and_then(|m| m.checked_add(c - 0x30))
                            .filter(|&m| m <= 0x7FFF_FFFF)
                            .ok_or_else(range_error)?;
                        c = self.read();
                    }
                    max
                } else {
                    min
                };
                if c != u32::from('}') {
                    return Err(invalid("unclosed counted repetition: a \"{\" has no \"}\""));
                }
                if max < min {
                    return Err(range_error());
                }
                self.unread();
                self.quantifier_kind("{n,m}")?;
                (min, Some(max))
            }
            _ => return Ok(node),
        };
        Ok(repeat(node, min, max))
    }

    /// After a quantifier: `?` makes it lazy (the same language), `+` possessive (refused).
    fn quantifier_kind(&mut self, written: &str) -> Parsed<()> {
        let c = self.next();
        if c == u32::from('?') {
            self.next();
        } else if c == u32::from('+') {
            return Err(Refusal::Unsupported(format!(
                "possessive quantifier \"{written}+\" is not supported (it needs backtracking \
                 control)"
            )));
        }
        Ok(())
    }

    /// At `(`: a group with its quantifier, `None` for a flag group such as `(?i)`.
    fn group(&mut self) -> Parsed<Option<Node>> {
        let saved = self.flags;
        let line_endings = self.line_endings;
        self.enter()?;
        let mut c = self.next();
        let inner = if c == u32::from('?') {
            c = self.skip();
            match char::from_u32(c).unwrap_or('\0') {
                ':' => self.expr()?,
                '=' | '!' => {
                    return Err(look_around(&format!("(?{}", text(&[c]))));
                }
                '>' => {
                    return Err(Refusal::Unsupported(
                        "atomic group \"(?>\" is not supported (it needs backtracking control)"
                            .to_string(),
                    ));
                }
                '<' => {
                    c = self.read();
                    if c == u32::from('=') || c == u32::from('!') {
                        return Err(look_around(&format!("(?<{}", text(&[c]))));
                    }
                    let name = self.group_name(c)?;
                    if self.names.contains(&name) {
                        return Err(Refusal::Invalid(format!(
                            "the group name <{name}> is used twice"
                        )));
                    }
                    self.names.push(name);
                    self.expr()?
                }
                '$' | '@' => return Err(invalid("unknown group type")),
                _ => {
                    self.unread();
                    self.flags_in_group()?;
                    c = self.read();
                    if c == u32::from(')') {
                        // The flags hold until the enclosing group ends.
                        self.leave();
                        return Ok(None);
                    }
                    if c != u32::from(':') {
                        return Err(invalid(
                            "unknown inline flag: only i, m, s, d, u, x and U are flags",
                        ));
                    }
                    self.expr()?
                }
            }
        } else {
            self.expr()?
        };
        self.accept(
            ')',
            "unclosed group: a \"(\" has no matching \")\" (unbalanced parentheses)",
        )?;
        self.flags = saved;
        self.leave();
        self.closure(inner, line_endings).map(Some)
    }

    /// `(?idmsuxU-idmsuxU…`: sets, then clears, Java's flags.
    fn flags_in_group(&mut self) -> Parsed<()> {
        let mut on = true;
        let mut c = self.peek();
        loop {
            let bits = match char::from_u32(c).unwrap_or('\0') {
                'i' => CASE_INSENSITIVE,
                'm' => MULTILINE,
                's' => DOTALL,
                'd' => UNIX_LINES,
                'u' => UNICODE_CASE,
                'x' => COMMENTS,
                'U' => UNICODE_CHARACTER_CLASS | UNICODE_CASE,
                'c' if on => {
                    return Err(Refusal::Unsupported(
                        "inline flag \"c\" (canonical equivalence) is not supported; write \
                         the characters in the form the input uses"
                            .to_string(),
                    ));
                }
                'c' => 0,
                '-' if on => {
                    on = false;
                    c = self.next();
                    continue;
                }
                _ => return Ok(()),
            };
            if on {
                self.flags |= bits;
            } else {
                self.flags &= !bits;
            }
            c = self.next();
        }
    }

    /// A group name after `(?<` or `\k<`, through its `>`.
    fn group_name(&mut self, first: u32) -> Parsed<String> {
        if !is_ascii_alpha(first) {
            return Err(invalid(
                "a group name must start with a Latin letter (A-Z, a-z)",
            ));
        }
        let mut name = vec![first];
        let mut c = self.read();
        while is_ascii_alnum(c) {
            name.push(c);
            c = self.read();
        }
        if c != u32::from('>') {
            return Err(invalid("a group name must end with \">\""));
        }
        Ok(text(&name))
    }

    /// At `\` (the escaped character is next): what the escape means. `in_class` escapes
    /// are characters or classes; `create` false asks only whether a character follows.
    fn escape(&mut self, in_class: bool, create: bool, is_range: bool) -> Parsed<Escaped> {
        let c = self.skip();
        let unicode = self.has(UNICODE_CHARACTER_CLASS);
        let illegal = || {
            Refusal::Invalid(format!(
                "illegal or unsupported escape sequence \"\\{}\"",
                text(&[c])
            ))
        };
        let class = |set: CharSet| {
            Ok(if create {
                Escaped::Set(set)
            } else {
                Escaped::Meta
            })
        };
        let anchor = |node: Node| {
            if in_class {
                Err(illegal())
            } else if create {
                Ok(Escaped::Node(node))
            } else {
                Ok(Escaped::Meta)
            }
        };
        match char::from_u32(c).unwrap_or('\0') {
            '0' => Ok(Escaped::Char(self.octal()?)),
            '1'..='9' if in_class => Err(illegal()),
            '1'..='9' if create => Err(Refusal::Unsupported(format!(
                "back-reference \"\\{}\" is not supported (the regex engine runs in linear \
                 time)",
                text(&[c])
            ))),
            '1'..='9' => Ok(Escaped::Meta),
            'A' => anchor(Node::Look(Look::Start)),
            // `\G` is where the previous match ended: for `String.matches`, the start.
            'G' => anchor(Node::Look(Look::Start)),
            'z' => anchor(Node::Look(Look::End)),
            'Z' => anchor(Node::Look(Look::Dollar {
                multiline: false,
                unix: self.has(UNIX_LINES),
            })),
            'B' => anchor(Node::Look(Look::Boundary {
                negated: true,
                unicode,
            })),
            'b' => {
                if in_class {
                    return Err(illegal());
                }
                if !create {
                    return Ok(Escaped::Meta);
                }
                if self.peek() == u32::from('{') {
                    if self.skip() == u32::from('g') {
                        if self.read() == u32::from('}') {
                            return Err(Refusal::Unsupported(
                                "grapheme cluster boundary \"\\b{g}\" is not supported".to_string(),
                            ));
                        }
                        return Err(illegal());
                    }
                    self.unread();
                    self.unread();
                }
                Ok(Escaped::Node(Node::Look(Look::Boundary {
                    negated: false,
                    unicode,
                })))
            }
            'R' => {
                if create && !in_class {
                    self.line_endings += 1;
                }
                anchor(line_ending())
            }
            'X' if in_class => Err(illegal()),
            'X' if create => Err(Refusal::Unsupported(
                "grapheme cluster \"\\X\" is not supported".to_string(),
            )),
            'X' => Ok(Escaped::Meta),
            'k' => {
                if in_class {
                    return Err(illegal());
                }
                if self.read() != u32::from('<') {
                    return Err(invalid("\\k must be followed by <name>"));
                }
                let first = self.read();
                let name = self.group_name(first)?;
                if !self.names.contains(&name) {
                    return Err(Refusal::Invalid(format!(
                        "there is no group named <{name}>"
                    )));
                }
                if create {
                    Err(Refusal::Unsupported(format!(
                        "back-reference \"\\k<{name}>\" is not supported (the regex engine \
                         runs in linear time)"
                    )))
                } else {
                    Ok(Escaped::Meta)
                }
            }
            'N' => {
                self.character_name()?;
                Err(Refusal::Unsupported(
                    "a character by its Unicode name (\"\\N{…}\") is not supported; write \
                     \\x{…} with its code point"
                        .to_string(),
                ))
            }
            'v' if is_range => Ok(Escaped::Char(0x0B)),
            'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'h' | 'H' | 'v' | 'V' => {
                class(shorthand(char::from_u32(c).unwrap_or('\0'), unicode))
            }
            'a' => Ok(Escaped::Char(0x07)),
            'c' => Ok(Escaped::Char(self.control()?)),
            'e' => Ok(Escaped::Char(0x1B)),
            'f' => Ok(Escaped::Char(0x0C)),
            'n' => Ok(Escaped::Char(0x0A)),
            'r' => Ok(Escaped::Char(0x0D)),
            't' => Ok(Escaped::Char(0x09)),
            'u' => Ok(Escaped::Char(self.unicode_escape()?)),
            'x' => Ok(Escaped::Char(self.hex()?)),
            'C' | 'E' | 'F' | 'I' | 'J' | 'K' | 'L' | 'M' | 'O' | 'P' | 'Q' | 'T' | 'U' | 'Y'
            | 'g' | 'i' | 'j' | 'l' | 'm' | 'o' | 'p' | 'q' | 'y' => Err(illegal()),
            _ => Ok(Escaped::Char(c)),
        }
    }

    /// `\0` then one to three octal digits (three only when the first is 0-3).
    fn octal(&mut self) -> Parsed<u32> {
        let is_octal = |c: u32| (0x30..=0x37).contains(&c);
        let n = self.read();
        if !is_octal(n) {
            return Err(invalid("\\0 must be followed by an octal digit"));
        }
        let m = self.read();
        if !is_octal(m) {
            self.unread();
            return Ok(n - 0x30);
        }
        let o = self.read();
        if is_octal(o) && n <= 0x33 {
            return Ok((n - 0x30) * 64 + (m - 0x30) * 8 + (o - 0x30));
        }
        self.unread();
        Ok((n - 0x30) * 8 + (m - 0x30))
    }

    /// `\cX`: the character `X` XOR 64.
    fn control(&mut self) -> Parsed<u32> {
        if self.cursor < self.len {
            Ok(self.read() ^ 64)
        } else {
            Err(invalid("\\c must be followed by a character"))
        }
    }

    /// `\xhh` or `\x{h…}`.
    fn hex(&mut self) -> Parsed<u32> {
        let n = self.read();
        if is_ascii_hex(n) {
            let m = self.read();
            if is_ascii_hex(m) {
                return Ok(hex_value(n) * 16 + hex_value(m));
            }
        } else if n == u32::from('{') && {
            let next = self.peek();
            is_ascii_hex(next)
        } {
            let mut value: u32 = 0;
            let mut c = self.read();
            while is_ascii_hex(c) {
                value = (value << 4) + hex_value(c);
                if value > 0x10_FFFF {
                    return Err(invalid("the code point of \\x{…} is above 10FFFF"));
                }
                c = self.read();
            }
            if c != u32::from('}') {
                return Err(invalid("\\x{ has no closing }"));
            }
            return Ok(value);
        }
        Err(invalid(
            "\\x must be followed by two hex digits or {hex digits}",
        ))
    }

    fn four_hex(&mut self) -> Parsed<u32> {
        let mut value = 0;
        for _ in 0..4 {
            let c = self.read();
            if !is_ascii_hex(c) {
                return Err(invalid("\\u must be followed by four hex digits"));
            }
            value = value * 16 + hex_value(c);
        }
        Ok(value)
    }

    /// `\uhhhh`, and a following `\uhhhh` low surrogate joined to a high one.
    fn unicode_escape(&mut self) -> Parsed<u32> {
        let high = self.four_hex()?;
        if (0xD800..=0xDBFF).contains(&high) {
            let saved = self.cursor;
            if self.read() == u32::from('\\') && self.read() == u32::from('u') {
                let low = self.four_hex()?;
                if (0xDC00..=0xDFFF).contains(&low) {
                    return Ok(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00));
                }
            }
            self.cursor = saved;
        }
        Ok(high)
    }

    /// The syntax of `\N{name}` (its meaning needs Unicode's name list, which is refused).
    fn character_name(&mut self) -> Parsed<()> {
        if self.read() != u32::from('{') {
            return Err(invalid("\\N must be followed by {name}"));
        }
        while self.read() != u32::from('}') {
            if self.cursor >= self.len {
                return Err(invalid("\\N{ has no closing }"));
            }
        }
        Ok(())
    }

    /// At the `p` or `P` of `\p`: the property, with its braces if it has them.
    fn property_after_p(&mut self, p: u32) -> Parsed<CharSet> {
        let complement = p == u32::from('P');
        let c = self.next();
        let one_letter = c != u32::from('{');
        if one_letter {
            self.unread();
        }
        self.property(one_letter, complement)
    }

    /// `\pL` or `\p{name}`, resolved as Java resolves the name.
    fn property(&mut self, one_letter: bool, complement: bool) -> Parsed<CharSet> {
        self.next();
        let name = if one_letter {
            let name = text(&[self.at(self.cursor)]);
            self.read();
            name
        } else {
            let start = self.cursor;
            self.mark(u32::from('}'));
            while self.read() != u32::from('}') {}
            self.mark(0);
            let end = self.cursor;
            if end > self.len {
                return Err(invalid(
                    "unclosed character property: \\p{ has no closing }",
                ));
            }
            if start + 1 >= end {
                return Err(invalid("empty character property \\p{}"));
            }
            text(self.temp.get(start..end - 1).unwrap_or_default())
        };
        let context = Context {
            case_insensitive: self.has(CASE_INSENSITIVE),
            unicode_classes: self.has(UNICODE_CHARACTER_CLASS),
        };
        let set = property::named(&name, context).ok_or_else(|| {
            Refusal::Invalid(format!(
                "unknown character property \"{name}\"{}",
                if name == "Latin" || name == "Greek" {
                    " (Java names scripts IsLatin, IsGreek, …)"
                } else {
                    ""
                }
            ))
        })?;
        Ok(if complement { chars::not(set) } else { set })
    }

    /// At `[` (or, with `consume` false, before the right operand of `&&`): a class, read
    /// as Java reads it. Single characters collect in one set (`bits`) that `&&` operands
    /// refer to; an operand after `&&` runs to the next `&&` or `]`; `[^` negates all.
    fn class(&mut self, consume: bool) -> Parsed<CharSet> {
        self.enter()?;
        let mut prev: Option<Operand> = None;
        let mut curr: Option<Operand> = None;
        let mut bits = CharSet::empty();
        let mut has_bits = false;
        let mut negated = false;
        let mut c = self.next();
        if c == u32::from('^') && self.at(self.cursor.saturating_sub(1)) == u32::from('[') {
            c = self.next();
            negated = true;
        }
        loop {
            match char::from_u32(c).unwrap_or('\0') {
                '[' => {
                    let nested = Operand::Set(self.class(true)?);
                    curr = Some(nested.clone());
                    prev = Some(match prev {
                        None => nested,
                        Some(p) => p.or(nested),
                    });
                    c = self.peek();
                    continue;
                }
                '&' => {
                    c = self.next();
                    if c == u32::from('&') {
                        c = self.next();
                        let mut right: Option<CharSet> = None;
                        while c != u32::from(']') && c != u32::from('&') {
                            let part = if c == u32::from('[') {
                                self.class(true)?
                            } else {
                                self.unread();
                                self.class(false)?
                            };
                            right = Some(match right {
                                None => part,
                                Some(r) => chars::or(r, &part),
                            });
                            c = self.peek();
                        }
                        if has_bits {
                            prev = Some(match prev {
                                None => {
                                    curr = Some(Operand::Bits);
                                    Operand::Bits
                                }
                                Some(p) => p.or(Operand::Bits),
                            });
                            has_bits = false;
                        }
                        if let Some(right) = &right {
                            curr = Some(Operand::Set(right.clone()));
                        }
                        prev = Some(match (prev, right, &curr) {
                            (None, None, _) => {
                                return Err(invalid("\"&&\" in a class has nothing on its left"));
                            }
                            (None, Some(right), _) => Operand::Set(right),
                            (Some(p), _, Some(curr)) => {
                                Operand::And(Box::new(p), Box::new(curr.clone()))
                            }
                            (Some(_), _, None) => {
                                return Err(invalid(
                                    "\"&&\" in a class has nothing to intersect with (Java 17 \
                                     fails at matching such a class, later versions refuse it)",
                                ));
                            }
                        });
                        continue;
                    }
                    // A single `&` is a character.
                    self.unread();
                }
                '\0' if self.cursor >= self.len => {
                    return Err(invalid(
                        "unclosed character class: a \"[\" has no matching \"]\" (unbalanced \
                         brackets)",
                    ));
                }
                ']' if prev.is_some() || has_bits => {
                    if consume {
                        self.next();
                    }
                    let operand = match prev {
                        None => Operand::Bits,
                        Some(p) if has_bits => p.or(Operand::Bits),
                        Some(p) => p,
                    };
                    let set = operand.resolve(&bits);
                    self.leave();
                    return Ok(if negated { chars::not(set) } else { set });
                }
                _ => {}
            }
            match self.range(&mut bits)? {
                // Java's last operand is then none: `[[a]b&&]` intersects with nothing,
                // which Java 17 compiles into a predicate that throws when it runs.
                None => {
                    has_bits = true;
                    curr = None;
                }
                Some(set) => {
                    let operand = Operand::Set(set);
                    curr = Some(operand.clone());
                    prev = Some(match prev {
                        None => operand,
                        Some(p) => p.or(operand),
                    });
                }
            }
            c = self.peek();
        }
    }

    /// One item of a class: a character (added to `bits`, `None` returned), a range, an
    /// escape class or a property.
    fn range(&mut self, bits: &mut CharSet) -> Parsed<Option<CharSet>> {
        let mut c = self.peek();
        if c == u32::from('\\') {
            c = self.next_escaped();
            if c == u32::from('p') || c == u32::from('P') {
                return self.property_after_p(c).map(Some);
            }
            let is_range = self.at(self.cursor + 1) == u32::from('-');
            self.unread();
            c = match self.escape(true, true, is_range)? {
                Escaped::Char(c) => c,
                Escaped::Set(set) => return Ok(Some(set)),
                Escaped::Node(_) | Escaped::Meta => {
                    return Err(invalid("a class may not hold an anchor"));
                }
            };
        } else {
            self.next();
        }
        if self.peek() == u32::from('-') {
            let end = self.at(self.cursor + 1);
            if end == u32::from('[') {
                return Ok(self.bit_or_single(bits, c));
            }
            if end != u32::from(']') {
                self.next();
                let m = self.peek();
                let m = if m == u32::from('\\') {
                    match self.escape(true, false, true)? {
                        Escaped::Char(m) => Some(m),
                        _ => None,
                    }
                } else {
                    self.next();
                    Some(m)
                };
                let Some(m) = m.filter(|&m| m >= c) else {
                    return Err(invalid(
                        "illegal character range: the end comes before the start, or is not \
                         a character",
                    ));
                };
                return Ok(Some(
                    match (self.has(CASE_INSENSITIVE), self.has(UNICODE_CASE)) {
                        (true, true) => case::unicode_range(c, m),
                        (true, false) => case::ascii_range(c, m),
                        _ => chars::span(c, m),
                    },
                ));
            }
        }
        Ok(self.bit_or_single(bits, c))
    }

    /// A single class character: Latin-1 ones join `bits` (with their other case under
    /// `(?i)`), others stand alone. Under `(?iu)` the Latin-1 letters whose other case lies
    /// outside Latin-1 (and `i`, `k`, `s`, `å`) stand alone too, as in Java.
    fn bit_or_single(&self, bits: &mut CharSet, c: u32) -> Option<CharSet> {
        let case_insensitive = self.has(CASE_INSENSITIVE);
        let unicode_case = self.has(UNICODE_CASE);
        let special = case_insensitive
            && unicode_case
            && matches!(
                c,
                0xFF | 0xB5 | 0x49 | 0x69 | 0x53 | 0x73 | 0x4B | 0x6B | 0xC5 | 0xE5
            );
        if c >= 256 || special {
            return Some(self.single(c));
        }
        let bit = if !case_insensitive {
            chars::one(c)
        } else if c < 128 {
            case::ascii_single(c)
        } else if unicode_case {
            case::latin1_bit(c)
        } else {
            chars::one(c)
        };
        bits.union(&bit);
        None
    }
}

/// A quantified node.
fn repeat(node: Node, min: u32, max: Option<u32>) -> Node {
    Node::Repeat {
        node: Box::new(node),
        min,
        max,
    }
}

fn look_around(written: &str) -> Refusal {
    Refusal::Unsupported(format!(
        "look-around \"{written}\" is not supported (the regex engine runs in linear time and \
         cannot look ahead or behind)"
    ))
}

/// `\R`: `\r\n`, or one line-ending character.
fn line_ending() -> Node {
    Node::Alt(vec![
        Node::Concat(vec![
            Node::Chars(chars::one(0x0D)),
            Node::Chars(chars::one(0x0A)),
        ]),
        Node::Chars(chars::of([0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029])),
    ])
}

/// `\d \s \w \h \v`, negated when written in upper case: ASCII unless `(?U)`.
fn shorthand(letter: char, unicode: bool) -> CharSet {
    let set = match (letter.to_ascii_lowercase(), unicode) {
        ('d', true) => chars::categories(&["Nd"]),
        ('d', false) => chars::span(0x30, 0x39),
        ('s', true) => property::white_space(),
        ('s', false) => ascii_space(),
        ('w', true) => property::word(),
        ('w', false) => ascii_word(),
        ('h', _) => horizontal_space(),
        _ => vertical_space(),
    };
    if letter.is_ascii_uppercase() {
        chars::not(set)
    } else {
        set
    }
}

fn ascii_space() -> CharSet {
    chars::or(chars::span(0x09, 0x0D), &chars::one(0x20))
}

fn ascii_word() -> CharSet {
    chars::or(
        chars::or(chars::span(0x30, 0x39), &chars::span(0x41, 0x5A)),
        &chars::or(chars::span(0x61, 0x7A), &chars::one(0x5F)),
    )
}

/// `\h`.
fn horizontal_space() -> CharSet {
    chars::or(
        chars::of([0x09, 0x20, 0xA0, 0x1680, 0x180E, 0x202F, 0x205F, 0x3000]),
        &chars::span(0x2000, 0x200A),
    )
}

/// `\v`.
fn vertical_space() -> CharSet {
    chars::or(chars::span(0x0A, 0x0D), &chars::of([0x85, 0x2028, 0x2029]))
}
