//! Runs the Java regexes with an anchor `regex` cannot express: `\b` with Java's word
//! characters, `$` before a final line terminator, `(?m)` anchors with Java's terminators.
//! A Thompson NFA walked one character at a time, so time stays linear in the input.

use super::chars::{self, CharSet, categories};
use super::node::{Look, Node};
use super::property;

/// One step of the program.
#[derive(Debug, Clone, Copy)]
enum Inst {
    /// Consume one character of `sets[set]`, then go on at `next`.
    Char { set: usize, next: usize },
    /// Go on at both.
    Fork(usize, usize),
    /// Go on at `next` if the input is at a position the anchor accepts.
    Look { look: Look, next: usize },
    /// The whole input must be consumed here.
    Match,
}

/// The character classes Java's `\b` reads.
#[derive(Debug, Clone)]
struct Words {
    /// `Character.isLetterOrDigit`: what a non-spacing mark counts as a word character after.
    letter_or_digit: CharSet,
    /// Unicode's word characters, for `(?U)`.
    unicode: CharSet,
    /// Non-spacing marks (`Mn`), which take the word-ness of the letter they follow.
    marks: CharSet,
}

/// A compiled regex for the context matcher.
#[derive(Debug, Clone)]
pub(crate) struct ContextRegex {
    insts: Vec<Inst>,
    sets: Vec<CharSet>,
    start: usize,
    /// Only when there is a `\b` or `\B` to read them.
    words: Option<Words>,
}

/// The number of program steps `node` compiles to, counted before anything is built so
/// that a huge counted repetition is refused without being expanded.
pub(crate) fn size(node: &Node) -> u64 {
    match node {
        Node::Empty => 0,
        Node::Chars(_) | Node::Look(_) => 1,
        Node::Concat(items) => items.iter().map(size).fold(0, u64::saturating_add),
        Node::Alt(branches) => branches
            .iter()
            .map(size)
            .fold(0, |sum, n| sum.saturating_add(n).saturating_add(1)),
        Node::Repeat { node, min, max } => {
            let body = size(node).saturating_add(1);
            let copies = u64::from(max.unwrap_or(*min).max(*min)).saturating_add(1);
            body.saturating_mul(copies)
        }
    }
}

impl ContextRegex {
    /// Compiles `node`; the caller has checked `size(node)` against its budget.
    pub(crate) fn new(node: &Node) -> ContextRegex {
        let mut builder = Builder {
            insts: vec![Inst::Match],
            sets: Vec::new(),
        };
        let start = builder.compile(node, 0);
        let boundary = builder.insts.iter().any(|inst| {
            matches!(
                inst,
                Inst::Look {
                    look: Look::Boundary { .. },
                    ..
                }
            )
        });
        ContextRegex {
            insts: builder.insts,
            sets: builder.sets,
            start,
            words: boundary.then(|| Words {
                letter_or_digit: categories(&["L", "Nd"]),
                unicode: property::word(),
                marks: categories(&["Mn"]),
            }),
        }
    }

    /// Whether the whole of `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let mut current = States::new(self.insts.len());
        let mut next = States::new(self.insts.len());
        let mut stack = Vec::new();
        let mut here = Here {
            prev: None,
            after_base: false,
            rest: text,
        };
        self.follow(&mut current, &mut stack, self.start, &here);
        for c in text.chars() {
            if current.is_empty() {
                return false;
            }
            let after = Here {
                prev: Some(c),
                after_base: self.words.as_ref().is_some_and(|words| {
                    if chars::contains(&words.marks, c) {
                        here.after_base
                    } else {
                        chars::contains(&words.letter_or_digit, c)
                    }
                }),
                rest: &here.rest[c.len_utf8()..],
            };
            next.clear();
            for &pc in &current.members {
                if let Some(&Inst::Char { set, next: to }) = self.insts.get(pc)
                    && self.sets.get(set).is_some_and(|s| chars::contains(s, c))
                {
                    self.follow(&mut next, &mut stack, to, &after);
                }
            }
            std::mem::swap(&mut current, &mut next);
            here = after;
        }
        current
            .members
            .iter()
            .any(|&pc| matches!(self.insts.get(pc), Some(Inst::Match)))
    }

    /// Adds `pc` and everything reachable from it without consuming a character (`stack`
    /// is scratch space, kept between calls).
    fn follow(&self, states: &mut States, stack: &mut Vec<usize>, pc: usize, here: &Here<'_>) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if !states.insert(pc) {
                continue;
            }
            match self.insts.get(pc) {
                Some(Inst::Fork(a, b)) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Some(Inst::Look { look, next }) if self.holds(*look, here) => stack.push(*next),
                _ => {}
            }
        }
    }

    /// Whether `look` accepts the position `here`, as Java's nodes decide it.
    fn holds(&self, look: Look, here: &Here<'_>) -> bool {
        let next = here.rest.chars().next();
        let terminator = |c: char| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
        match look {
            Look::Start => here.prev.is_none(),
            Look::End => here.rest.is_empty(),
            // Only the end, or a last line terminator, may follow (never between `\r\n`).
            Look::Dollar {
                multiline: false,
                unix: false,
            } => match here.rest {
                "" | "\r\n" | "\r" | "\u{85}" | "\u{2028}" | "\u{2029}" => true,
                "\n" => here.prev != Some('\r'),
                _ => false,
            },
            Look::Dollar {
                multiline: true,
                unix: false,
            } => match next {
                None => true,
                Some('\n') => here.prev != Some('\r'),
                Some(c) => terminator(c),
            },
            Look::Dollar {
                multiline: false,
                unix: true,
            } => matches!(here.rest, "" | "\n"),
            Look::Dollar {
                multiline: true,
                unix: true,
            } => matches!(next, None | Some('\n')),
            Look::Caret { unix } => match (next, here.prev) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(_), Some(prev)) if unix => prev == '\n',
                (Some(next), Some(prev)) => terminator(prev) && !(prev == '\r' && next == '\n'),
            },
            Look::Boundary { negated, unicode } => {
                let Some(words) = &self.words else {
                    return false;
                };
                let word = |c: char| {
                    if unicode {
                        chars::contains(&words.unicode, c)
                    } else {
                        c == '_' || chars::contains(&words.letter_or_digit, c)
                    }
                };
                // A non-spacing mark is part of a word when a letter or digit precedes it.
                let wordish =
                    |c: char| word(c) || (here.after_base && chars::contains(&words.marks, c));
                let left = here.prev.is_some_and(wordish);
                let right = next.is_some_and(wordish);
                (left != right) != negated
            }
        }
    }
}

/// A position in the input.
struct Here<'t> {
    /// The character before it, `None` at the start.
    prev: Option<char>,
    /// Whether the last character before it that is not a non-spacing mark is a letter or
    /// digit (Java's `hasBaseCharacter`).
    after_base: bool,
    /// The input from here on.
    rest: &'t str,
}

/// A set of program positions, in insertion order.
struct States {
    members: Vec<usize>,
    present: Vec<bool>,
}

impl States {
    fn new(len: usize) -> States {
        States {
            members: Vec::with_capacity(len),
            present: vec![false; len],
        }
    }

    fn insert(&mut self, pc: usize) -> bool {
        match self.present.get_mut(pc) {
            Some(seen) if !*seen => {
                *seen = true;
                self.members.push(pc);
                true
            }
            _ => false,
        }
    }

    fn clear(&mut self) {
        for &pc in &self.members {
            if let Some(seen) = self.present.get_mut(pc) {
                *seen = false;
            }
        }
        self.members.clear();
    }

    fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Builds a program back to front: each node is compiled knowing where it continues.
struct Builder {
    insts: Vec<Inst>,
    sets: Vec<CharSet>,
}

impl Builder {
    fn push(&mut self, inst: Inst) -> usize {
        self.insts.push(inst);
        self.insts.len() - 1
    }

    fn set(&mut self, set: &CharSet) -> usize {
        match self.sets.iter().position(|s| s == set) {
            Some(index) => index,
            None => {
                self.sets.push(set.clone());
                self.sets.len() - 1
            }
        }
    }

    /// The start of `node`, continuing at `next`.
    fn compile(&mut self, node: &Node, next: usize) -> usize {
        match node {
            Node::Empty => next,
            Node::Chars(set) => {
                let set = self.set(set);
                self.push(Inst::Char { set, next })
            }
            Node::Look(look) => self.push(Inst::Look { look: *look, next }),
            Node::Concat(items) => items
                .iter()
                .rev()
                .fold(next, |next, item| self.compile(item, next)),
            Node::Alt(branches) => {
                let starts: Vec<usize> = branches.iter().map(|b| self.compile(b, next)).collect();
                let Some((&last, others)) = starts.split_last() else {
                    return next;
                };
                others
                    .iter()
                    .rev()
                    .fold(last, |rest, &start| self.push(Inst::Fork(start, rest)))
            }
            Node::Repeat { node, min, max } => {
                let mut start = match max {
                    None => {
                        // A loop: fork into the body, which comes back to the fork.
                        let fork = self.push(Inst::Fork(next, next));
                        let body = self.compile(node, fork);
                        if let Some(inst) = self.insts.get_mut(fork) {
                            *inst = Inst::Fork(body, next);
                        }
                        fork
                    }
                    Some(max) => {
                        let mut start = next;
                        for _ in *min..*max {
                            let body = self.compile(node, start);
                            start = self.push(Inst::Fork(body, next));
                        }
                        start
                    }
                };
                for _ in 0..*min {
                    start = self.compile(node, start);
                }
                start
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str) -> Node {
        Node::concat(
            text.chars()
                .map(|c| Node::Chars(chars::one(u32::from(c))))
                .collect(),
        )
    }

    fn any() -> Node {
        Node::Repeat {
            node: Box::new(Node::Chars(chars::all())),
            min: 0,
            max: None,
        }
    }

    fn boundary() -> Node {
        Node::Look(Look::Boundary {
            negated: false,
            unicode: false,
        })
    }

    #[test]
    fn java_word_boundaries() {
        let re = ContextRegex::new(&Node::concat(vec![any(), boundary(), lit("x"), any()]));
        assert!(re.matches("a x"));
        assert!(re.matches("x"));
        assert!(!re.matches("ax"));
        // Java 17: letters of any script are word characters.
        assert!(!re.matches("éx"));
        // A mark after a letter belongs to its word; after `_` it does not.
        let mark = ContextRegex::new(&Node::concat(vec![lit("e\u{301}"), boundary(), any()]));
        assert!(!mark.matches("e\u{301}x"));
        assert!(mark.matches("e\u{301} "));
    }

    #[test]
    fn dollar_before_a_final_terminator() {
        let dollar = Node::Look(Look::Dollar {
            multiline: false,
            unix: false,
        });
        let any_newline = Node::Repeat {
            node: Box::new(Node::Chars(chars::of([10, 13]))),
            min: 0,
            max: None,
        };
        let re = ContextRegex::new(&Node::concat(vec![lit("a"), dollar, any_newline]));
        assert!(re.matches("a"));
        assert!(re.matches("a\n"));
        assert!(re.matches("a\r\n"));
        assert!(!re.matches("a\n\n"));
        let between = ContextRegex::new(&Node::concat(vec![
            lit("\r"),
            Node::Look(Look::Dollar {
                multiline: false,
                unix: false,
            }),
            lit("\n"),
        ]));
        assert!(!between.matches("\r\n"));
    }

    #[test]
    fn sizes_bound_expansion() {
        let huge = Node::Repeat {
            node: Box::new(lit("ab")),
            min: 1_000_000,
            max: None,
        };
        assert!(size(&huge) > 1_000_000);
        let small = Node::concat(vec![any(), boundary(), lit("x")]);
        let re = ContextRegex::new(&small);
        assert!(re.insts.len() as u64 <= size(&small) + 1);
    }
}
