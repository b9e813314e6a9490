//! Sets of characters, as Java's character predicates define them, kept as sorted ranges.
//! Built from Java's code points (plain `u32`s, surrogates included) and from Unicode tables.

use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, HirKind};

/// A set of characters. Surrogate code points are left out: no Rust string holds one, so a
/// Java class that names them matches the same strings without them.
pub(crate) type CharSet = ClassUnicode;

/// The code points `lo..=hi`, clipped to characters.
pub(crate) fn span(lo: u32, hi: u32) -> CharSet {
    let mut set = CharSet::empty();
    let mut push = |lo: u32, hi: u32| {
        if let (Some(lo), Some(hi)) = (char::from_u32(lo), char::from_u32(hi))
            && lo <= hi
        {
            set.push(ClassUnicodeRange::new(lo, hi));
        }
    };
    let hi = hi.min(0x10_FFFF);
    if lo > hi {
        return set;
    }
    // Around the surrogates, which are not characters.
    if lo < 0xD800 {
        push(lo, hi.min(0xD7FF));
    }
    if hi > 0xDFFF {
        push(lo.max(0xE000), hi);
    }
    set
}

/// The one code point `c` (empty for a surrogate).
pub(crate) fn one(c: u32) -> CharSet {
    span(c, c)
}

/// Every character.
pub(crate) fn all() -> CharSet {
    span(0, 0x10_FFFF)
}

/// The code points of `list`.
pub(crate) fn of(list: impl IntoIterator<Item = u32>) -> CharSet {
    let mut set = CharSet::empty();
    for c in list {
        set.union(&one(c));
    }
    set
}

/// `a` or `b`.
pub(crate) fn or(mut a: CharSet, b: &CharSet) -> CharSet {
    a.union(b);
    a
}

/// `a` and `b`.
pub(crate) fn and(mut a: CharSet, b: &CharSet) -> CharSet {
    a.intersect(b);
    a
}

/// Not in `a`.
pub(crate) fn not(mut a: CharSet) -> CharSet {
    a.negate();
    a
}

/// Whether `c` is in `set`.
pub(crate) fn contains(set: &CharSet, c: char) -> bool {
    set.ranges()
        .binary_search_by(|range| {
            if range.end() < c {
                std::cmp::Ordering::Less
            } else if range.start() > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// A Unicode property from the tables `regex` carries (Unicode 16), written as in `\p{…}`
/// there: a general category (`gc=Lu`), a script (`sc=Greek`) or a binary property
/// (`Alphabetic`). Only names this module's callers spell out are asked for, and a test
/// checks each resolves; an unknown one would be empty.
pub(crate) fn ucd(property: &str) -> CharSet {
    let parsed = regex_syntax::ParserBuilder::new()
        .build()
        .parse(&format!("\\p{{{property}}}"));
    match parsed.as_ref().map(|hir| hir.kind()) {
        Ok(HirKind::Class(Class::Unicode(class))) => class.clone(),
        // A property of one character (`Zl`, `Zp`) comes back as that character.
        Ok(HirKind::Literal(literal)) => std::str::from_utf8(&literal.0)
            .map(|text| of(text.chars().map(u32::from)))
            .unwrap_or_else(|_| CharSet::empty()),
        _ => CharSet::empty(),
    }
}

/// The characters of the Unicode general categories `categories` (`["Lu", "Ll"]`).
pub(crate) fn categories(categories: &[&str]) -> CharSet {
    categories.iter().fold(CharSet::empty(), |set, gc| {
        or(set, &ucd(&format!("gc={gc}")))
    })
}
