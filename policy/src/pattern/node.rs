//! What a parsed Java regex means: sets of characters, sequences, choices, repetitions and
//! anchors, with each anchor in Java's sense. Becomes `regex`'s syntax tree when it can.

use regex_syntax::hir::{self, Class, Hir};

use super::chars::CharSet;

/// A Java regex, as the language of strings `String.matches` accepts. Greedy, lazy and
/// capturing make no difference to that, so they are gone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// Matches the empty string.
    Empty,
    /// One character of the set (an empty set never matches).
    Chars(CharSet),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    /// `min` to `max` (unbounded: `None`) repetitions.
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
    /// A position the input must be at.
    Look(Look),
}

/// Java's zero-width anchors. Only `Start` and `End` mean the same in `regex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    /// `^` without `(?m)`, `\A`: the start of the input.
    Start,
    /// `\z`: the end of the input.
    End,
    /// `$` (and `\Z` with `multiline` off): the end of the input or before its final line
    /// terminator (`\r\n` counting as one); with `(?m)`, before any line terminator.
    /// `unix` (`(?d)`): only `\n` terminates lines.
    Dollar { multiline: bool, unix: bool },
    /// `^` with `(?m)`: the start or after a line terminator, but never at the end.
    Caret { unix: bool },
    /// `\b` (`\B` when negated), between a word character and another. `unicode` (`(?U)`)
    /// takes Unicode's word characters instead of Java's letters, digits and `_`.
    Boundary { negated: bool, unicode: bool },
}

impl Node {
    /// A sequence, flattened when it has one part or none.
    pub(crate) fn concat(mut items: Vec<Node>) -> Node {
        match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        }
    }

    /// A choice, flattened when it has one branch.
    pub(crate) fn alt(mut branches: Vec<Node>) -> Node {
        match branches.len() {
            1 => branches.pop().unwrap_or(Node::Empty),
            _ => Node::Alt(branches),
        }
    }

    /// Whether it can match the empty string.
    fn nullable(&self) -> bool {
        match self {
            Node::Empty | Node::Look(_) => true,
            Node::Chars(_) => false,
            Node::Concat(items) => items.iter().all(Node::nullable),
            Node::Alt(branches) => branches.iter().any(Node::nullable),
            Node::Repeat { node, min, .. } => *min == 0 || node.nullable(),
        }
    }

    /// Whether every match is empty (it never consumes a character).
    fn consumes_nothing(&self) -> bool {
        match self {
            Node::Empty | Node::Look(_) => true,
            Node::Chars(_) => false,
            Node::Concat(items) => items.iter().all(Node::consumes_nothing),
            Node::Alt(branches) => branches.iter().all(Node::consumes_nothing),
            Node::Repeat { node, max, .. } => *max == Some(0) || node.consumes_nothing(),
        }
    }

    /// Whether an anchor other than the start or end of the input remains: then only the
    /// context matcher runs it.
    pub(crate) fn needs_context(&self) -> bool {
        match self {
            Node::Empty | Node::Chars(_) => false,
            Node::Look(look) => !matches!(look, Look::Start | Look::End),
            Node::Concat(items) | Node::Alt(items) => items.iter().any(Node::needs_context),
            Node::Repeat { node, .. } => node.needs_context(),
        }
    }

    /// Rewrites the anchors whose place settles what they mean: a `$` after which nothing
    /// more can be consumed is the end of the input (`matches` ends there), a `(?m)^` with
    /// nothing before it and something after it is the start. So `^…$`, the usual way of
    /// writing them, needs no context matcher.
    pub(crate) fn settle_anchors(self) -> Node {
        self.settle(Around {
            nothing_before: true,
            nothing_after: true,
            after_may_be_empty: true,
        })
    }

    fn settle(self, around: Around) -> Node {
        match self {
            Node::Look(Look::Dollar { .. }) if around.nothing_after => Node::Look(Look::End),
            // At the end of the input, where `(?m)^` never matches.
            Node::Look(Look::Caret { .. }) if around.nothing_after => Node::Chars(CharSet::empty()),
            // At the start, with at least one character to come.
            Node::Look(Look::Caret { .. })
                if around.nothing_before && !around.after_may_be_empty =>
            {
                Node::Look(Look::Start)
            }
            Node::Concat(items) => {
                let count = items.len();
                let consumes: Vec<bool> = items.iter().map(|n| !n.consumes_nothing()).collect();
                let nullable: Vec<bool> = items.iter().map(Node::nullable).collect();
                let settled = items
                    .into_iter()
                    .enumerate()
                    .map(|(j, item)| {
                        item.settle(Around {
                            nothing_before: around.nothing_before && !consumes[..j].contains(&true),
                            nothing_after: around.nothing_after
                                && !consumes[j + 1..count].contains(&true),
                            after_may_be_empty: around.after_may_be_empty
                                && !nullable[j + 1..count].contains(&false),
                        })
                    })
                    .collect();
                Node::Concat(settled)
            }
            Node::Alt(branches) => {
                Node::Alt(branches.into_iter().map(|b| b.settle(around)).collect())
            }
            Node::Repeat { node, min, max } => {
                // Another repetition may come before or after this one.
                let alone = max.is_some_and(|max| max <= 1) || node.consumes_nothing();
                let inner = Around {
                    nothing_before: around.nothing_before && alone,
                    nothing_after: around.nothing_after && alone,
                    after_may_be_empty: around.after_may_be_empty,
                };
                Node::Repeat {
                    node: Box::new(node.settle(inner)),
                    min,
                    max,
                }
            }
            other => other,
        }
    }

    /// The same language in `regex`'s syntax tree; call only when `!needs_context()`.
    pub(crate) fn to_hir(&self) -> Hir {
        match self {
            Node::Empty => Hir::empty(),
            Node::Chars(set) => Hir::class(Class::Unicode(set.clone())),
            Node::Concat(items) => Hir::concat(items.iter().map(Node::to_hir).collect()),
            Node::Alt(branches) => Hir::alternation(branches.iter().map(Node::to_hir).collect()),
            Node::Repeat { node, min, max } => Hir::repetition(hir::Repetition {
                min: *min,
                max: *max,
                greedy: true,
                sub: Box::new(node.to_hir()),
            }),
            Node::Look(Look::Start) => Hir::look(hir::Look::Start),
            Node::Look(Look::End) => Hir::look(hir::Look::End),
            // Unreachable by the contract above; never matching is the safe reading.
            Node::Look(_) => Hir::fail(),
        }
    }
}

/// What surrounds a node: whether anything before it or after it can consume a character,
/// and whether what follows can match the empty string.
#[derive(Debug, Clone, Copy)]
struct Around {
    nothing_before: bool,
    nothing_after: bool,
    after_may_be_empty: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::chars;

    fn dollar() -> Node {
        Node::Look(Look::Dollar {
            multiline: false,
            unix: false,
        })
    }

    #[test]
    fn anchors_at_the_ends_settle() {
        let a = Node::Chars(chars::one(u32::from('a')));
        let pattern = Node::Concat(vec![
            Node::Look(Look::Caret { unix: false }),
            a.clone(),
            dollar(),
        ])
        .settle_anchors();
        assert!(!pattern.needs_context());
        assert_eq!(
            pattern,
            Node::Concat(vec![
                Node::Look(Look::Start),
                a.clone(),
                Node::Look(Look::End)
            ])
        );
        // A `$` that more characters may follow keeps its meaning.
        let repeated = Node::Repeat {
            node: Box::new(Node::Concat(vec![a.clone(), dollar()])),
            min: 0,
            max: None,
        }
        .settle_anchors();
        assert!(repeated.needs_context());
        let then_newline = Node::Concat(vec![a, dollar(), Node::Chars(chars::one(10))]);
        assert!(then_newline.settle_anchors().needs_context());
    }
}
