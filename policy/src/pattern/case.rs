//! Java's case-insensitive matching (`(?i)`, and `(?iu)` with Unicode case) as sets of characters.
//! Java compares through `Character.toUpperCase`/`toLowerCase`, one character each, not Unicode case folding.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::chars::{self, CharSet};

/// `Character.toUpperCase`: the simple (one character) upper-case mapping.
///
/// Rust's `char::to_uppercase` gives the full mapping; where that has several characters the
/// simple mapping is the character itself, except for the Greek letters with a subscript
/// iota, whose simple upper case is the title-case letter (U+1F80 → U+1F88, U+1FB3 → U+1FBC).
pub(crate) fn upper(c: u32) -> u32 {
    let Some(ch) = char::from_u32(c) else {
        return c;
    };
    let mut full = ch.to_uppercase();
    match (full.next(), full.next()) {
        (Some(single), None) => u32::from(single),
        _ => match c {
            0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => c + 8,
            0x1FB3 | 0x1FC3 | 0x1FF3 => c + 9,
            _ => c,
        },
    }
}

/// `Character.toLowerCase`: the simple lower-case mapping (U+0130 `İ` → `i`, where the full
/// mapping adds a combining dot).
pub(crate) fn lower(c: u32) -> u32 {
    let Some(ch) = char::from_u32(c) else {
        return c;
    };
    let mut full = ch.to_lowercase();
    match (full.next(), full.next()) {
        (Some(single), None) => u32::from(single),
        _ if c == 0x130 => u32::from('i'),
        _ => c,
    }
}

/// What Java's Unicode-case comparisons reduce a character to: lower case of upper case.
pub(crate) fn key(c: u32) -> u32 {
    lower(upper(c))
}

/// Every character that changes under upper or lower case, with both mappings, and the
/// characters sharing each `key`. Built once, on the first `(?iu)` pattern.
struct CaseTable {
    /// `(c, upper(c), lower(c))` for every character with a mapping, in order.
    mapped: Vec<(u32, u32, u32)>,
    /// `key` → the other characters with that key.
    by_key: BTreeMap<u32, Vec<u32>>,
}

fn table() -> &'static CaseTable {
    static TABLE: OnceLock<CaseTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut mapped = Vec::new();
        let mut by_key: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for range in chars::ucd("Changes_When_Casemapped").ranges() {
            for c in u32::from(range.start())..=u32::from(range.end()) {
                let (up, low) = (upper(c), lower(c));
                if up != c || low != c {
                    mapped.push((c, up, low));
                }
                let k = key(c);
                if k != c {
                    by_key.entry(k).or_default().push(c);
                }
            }
        }
        CaseTable { mapped, by_key }
    })
}

/// `(?i)` without `u` on one character: an ASCII letter matches either case, nothing else
/// folds (Java's `SingleI`; its slices and bit sets do the same).
pub(crate) fn ascii_single(c: u32) -> CharSet {
    match char::from_u32(c) {
        Some(ch) if ch.is_ascii_alphabetic() => chars::of([
            u32::from(ch.to_ascii_lowercase()),
            u32::from(ch.to_ascii_uppercase()),
        ]),
        _ => chars::one(c),
    }
}

/// The characters whose `key` is `k`, and `k` itself (Java's `SingleU(k)`).
pub(crate) fn with_key(k: u32) -> CharSet {
    let mut set = chars::one(k);
    if let Some(others) = table().by_key.get(&k) {
        set.union(&chars::of(others.iter().copied()));
    }
    set
}

/// `(?iu)` on one character standing alone (Java's `single`): when its upper case has a
/// distinct lower case, every character with the same key; otherwise only itself. So `ß`
/// alone matches only `ß`, though `ẞ` lower-cases to it.
pub(crate) fn unicode_single(c: u32) -> CharSet {
    let up = upper(c);
    if up != lower(up) {
        with_key(lower(up))
    } else {
        chars::one(c)
    }
}

/// `(?iu)` on one character of a literal run of two or more (Java's `SliceU`): everything
/// with the same key, so `ßx` matches `ẞx`.
pub(crate) fn unicode_in_run(c: u32) -> CharSet {
    with_key(key(c))
}

/// `(?i)` without `u` on a range (Java's `CIRange`): an ASCII character also matches when
/// its other case is in the range.
pub(crate) fn ascii_range(lo: u32, hi: u32) -> CharSet {
    let mut set = chars::span(lo, hi);
    for c in 0u8..=127 {
        let in_range = |x: u8| (lo..=hi).contains(&u32::from(x));
        if in_range(c.to_ascii_uppercase()) || in_range(c.to_ascii_lowercase()) {
            set.union(&chars::one(u32::from(c)));
        }
    }
    set
}

/// `(?iu)` on a range (Java's `CIRangeU`): a character also matches when its upper case,
/// or the lower case of that, is in the range.
pub(crate) fn unicode_range(lo: u32, hi: u32) -> CharSet {
    let mut set = chars::span(lo, hi);
    let in_range = |x: u32| (lo..=hi).contains(&x);
    let extra = table()
        .mapped
        .iter()
        .filter(|(_, up, _)| in_range(*up) || in_range(lower(*up)))
        .map(|(c, _, _)| *c);
    set.union(&chars::of(extra));
    set
}

/// `(?iu)` on a Latin-1 character kept in Java's bit set: itself and its two mappings.
pub(crate) fn latin1_bit(c: u32) -> CharSet {
    chars::of([c, lower(c), upper(c)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_mappings_are_javas() {
        assert_eq!(upper(u32::from('ß')), u32::from('ß'));
        assert_eq!(lower(0x1E9E), u32::from('ß'));
        assert_eq!(upper(0x17F), u32::from('S'));
        assert_eq!(lower(0x212A), u32::from('k'));
        assert_eq!(lower(0x130), u32::from('i'));
        assert_eq!(upper(0x131), u32::from('I'));
        assert_eq!(upper(0x1F80), 0x1F88);
        assert_eq!(upper(0x1F88), 0x1F88);
        assert_eq!(upper(0x1FB3), 0x1FBC);
        assert_eq!(upper(0xFB00), 0xFB00);
    }

    #[test]
    fn alone_and_in_a_run_differ_as_in_java() {
        let ss = u32::from('ß');
        assert!(!chars::contains(&unicode_single(ss), 'ẞ'));
        assert!(chars::contains(&unicode_in_run(ss), 'ẞ'));
        let k = unicode_single(u32::from('k'));
        for c in ['k', 'K', 'K'] {
            assert!(chars::contains(&k, c), "{c}");
        }
        let i = unicode_single(u32::from('i'));
        for c in ['i', 'I', 'İ', 'ı'] {
            assert!(chars::contains(&i, c), "{c}");
        }
        assert!(chars::contains(&unicode_range(0x61, 0x7A), 'ſ'));
        assert!(!chars::contains(&ascii_range(0x61, 0x7A), 'ſ'));
        assert!(chars::contains(&ascii_range(0x61, 0x7A), 'Q'));
    }
}
