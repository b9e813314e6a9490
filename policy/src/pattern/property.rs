//! The classes Java names in `\p{…}`: categories, scripts, blocks, POSIX and `java…` classes.
//! Each name resolves as Java 17's `Pattern` resolves it, to a set of characters or to nothing.

use super::chars::{self, CharSet, categories, ucd};
use super::java_names::{BLOCKS, SCRIPTS};

/// What a class name may depend on besides the name itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// `(?i)`: the case classes widen to all cased letters.
    pub(crate) case_insensitive: bool,
    /// `(?U)`: `\p{Alpha}` and the other POSIX names mean their Unicode classes.
    pub(crate) unicode_classes: bool,
}

/// The characters of `\p{name}` (`name` as written between the braces, or the one letter
/// of `\pL`), or `None` where Java reports an unknown property.
pub(crate) fn named(name: &str, context: Context) -> Option<CharSet> {
    let case_insensitive = context.case_insensitive;
    if let Some((key, value)) = name.split_once('=') {
        return match key.to_lowercase().as_str() {
            "sc" | "script" => script(value),
            "blk" | "block" => block(value),
            "gc" | "general_category" => java_property(value, case_insensitive),
            _ => None,
        };
    }
    if let Some(block_name) = name.strip_prefix("In") {
        block(block_name)
    } else if let Some(short) = name.strip_prefix("Is") {
        unicode_property(short, case_insensitive)
            .or_else(|| java_property(short, case_insensitive))
            .or_else(|| script(short))
    } else {
        context
            .unicode_classes
            .then(|| posix_unicode(&name.to_uppercase(), case_insensitive))
            .flatten()
            .or_else(|| java_property(name, case_insensitive))
    }
}

/// `Character.UnicodeScript.forName`: the enum name or an ISO 15924 alias, any case.
fn script(name: &str) -> Option<CharSet> {
    let upper = name.to_uppercase();
    let (java, _) = SCRIPTS
        .iter()
        .find(|(java, aliases)| *java == upper || aliases.contains(&upper.as_str()))?;
    Some(if *java == "UNKNOWN" {
        // Not a script of `regex`'s tables: what no script claims.
        categories(&["Cn", "Co"])
    } else {
        ucd(&format!("sc={java}"))
    })
}

/// `Character.UnicodeBlock.forName`: any of a block's names, any case.
fn block(name: &str) -> Option<CharSet> {
    let upper = name.to_uppercase();
    BLOCKS
        .iter()
        .find(|(_, _, names)| names.contains(&upper.as_str()))
        .map(|(lo, hi, _)| chars::span(*lo, *hi))
}

/// Java's `Character.isLowerCase`, `isUpperCase`, `isTitleCase`, widened under `(?i)`
/// to all three as Java widens them.
fn cased(own: CharSet, case_insensitive: bool) -> CharSet {
    if case_insensitive {
        chars::or(
            chars::or(ucd("Lowercase"), &ucd("Uppercase")),
            &categories(&["Lt"]),
        )
    } else {
        own
    }
}

/// The Unicode binary properties and POSIX names of `\p{IsName}` (Java's
/// `forUnicodeProperty`), compared upper-cased.
fn unicode_property(name: &str, case_insensitive: bool) -> Option<CharSet> {
    let upper = name.to_uppercase();
    let set = match upper.as_str() {
        "ALPHABETIC" => ucd("Alphabetic"),
        "ASSIGNED" => chars::not(categories(&["Cn"])),
        "CONTROL" => categories(&["Cc"]),
        "HEXDIGIT" | "HEX_DIGIT" => hex_digit(),
        "IDEOGRAPHIC" => ucd("Ideographic"),
        "JOINCONTROL" | "JOIN_CONTROL" => chars::span(0x200C, 0x200D),
        "LETTER" => categories(&["L"]),
        "LOWERCASE" => cased(ucd("Lowercase"), case_insensitive),
        "NONCHARACTERCODEPOINT" | "NONCHARACTER_CODE_POINT" => ucd("Noncharacter_Code_Point"),
        "TITLECASE" => cased(categories(&["Lt"]), case_insensitive),
        "PUNCTUATION" => categories(&["P"]),
        "UPPERCASE" => cased(ucd("Uppercase"), case_insensitive),
        "WHITESPACE" | "WHITE_SPACE" => white_space(),
        "WORD" => word(),
        _ => return posix_unicode(&upper, case_insensitive),
    };
    Some(set)
}

/// The POSIX names in their Unicode meaning (`\p{IsAlpha}`, or `\p{Alpha}` under `(?U)`).
fn posix_unicode(upper: &str, case_insensitive: bool) -> Option<CharSet> {
    let set = match upper {
        "ALPHA" => ucd("Alphabetic"),
        "LOWER" => cased(ucd("Lowercase"), case_insensitive),
        "UPPER" => cased(ucd("Uppercase"), case_insensitive),
        "SPACE" => white_space(),
        "PUNCT" => categories(&["P"]),
        "XDIGIT" => hex_digit(),
        "ALNUM" => chars::or(ucd("Alphabetic"), &categories(&["Nd"])),
        "CNTRL" => categories(&["Cc"]),
        "DIGIT" => categories(&["Nd"]),
        "BLANK" => blank(),
        "GRAPH" => graph(),
        "PRINT" => chars::and(
            chars::or(graph(), &blank()),
            &chars::not(categories(&["Cc"])),
        ),
        _ => return None,
    };
    Some(set)
}

/// Unicode white space as Java lists it (`\s` under `(?U)`): separators, `\t`..`\r`, NEL.
pub(crate) fn white_space() -> CharSet {
    chars::or(
        categories(&["Zs", "Zl", "Zp"]),
        &chars::or(chars::span(0x09, 0x0D), &chars::one(0x85)),
    )
}

/// Decimal digits and the Latin and full-width hex letters.
fn hex_digit() -> CharSet {
    [
        (0x30, 0x39),
        (0x41, 0x46),
        (0x61, 0x66),
        (0xFF10, 0xFF19),
        (0xFF21, 0xFF26),
        (0xFF41, 0xFF46),
    ]
    .iter()
    .fold(categories(&["Nd"]), |set, (lo, hi)| {
        chars::or(set, &chars::span(*lo, *hi))
    })
}

/// Space separators and tab.
fn blank() -> CharSet {
    chars::or(categories(&["Zs"]), &chars::one(0x09))
}

/// Everything but separators, controls, surrogates and unassigned code points.
fn graph() -> CharSet {
    chars::not(categories(&["Zs", "Zl", "Zp", "Cc", "Cs", "Cn"]))
}

/// Java's Unicode word characters (`\w` under `(?U)`): alphabetic, marks, decimal digits,
/// connector punctuation and the joiners.
pub(crate) fn word() -> CharSet {
    chars::or(
        chars::or(
            ucd("Alphabetic"),
            &categories(&["Mn", "Me", "Mc", "Nd", "Pc"]),
        ),
        &chars::span(0x200C, 0x200D),
    )
}

/// The ASCII characters of one of Java's `ASCII` types.
fn ascii(test: fn(&u8) -> bool) -> CharSet {
    chars::of((0u8..=127).filter(test).map(u32::from))
}

/// Java's `ASCII.PUNCT`: the printable ASCII that is neither letter, digit nor space.
fn ascii_punct(c: &u8) -> bool {
    c.is_ascii_punctuation()
}

/// Java's `Character.isIdentifierIgnorable`.
fn identifier_ignorable() -> CharSet {
    chars::or(
        chars::or(chars::span(0x00, 0x08), &chars::span(0x0E, 0x1B)),
        &chars::or(chars::span(0x7F, 0x9F), &categories(&["Cf"])),
    )
}

/// The names `Pattern` matches exactly (its `forProperty`): categories, Java's own
/// groupings, the ASCII POSIX classes and the `java…` methods of `Character`.
fn java_property(name: &str, case_insensitive: bool) -> Option<CharSet> {
    let set = match name {
        "Cn" | "Lm" | "Lo" | "Mn" | "Me" | "Mc" | "Nd" | "Nl" | "No" | "Zs" | "Zl" | "Zp"
        | "Cc" | "Cf" | "Co" | "Cs" | "Pd" | "Ps" | "Pe" | "Pc" | "Po" | "Sm" | "Sc" | "Sk"
        | "So" | "Pi" | "Pf" | "L" | "M" | "N" | "Z" | "P" | "S" => categories(&[name]),
        "Lu" | "Ll" | "Lt" if case_insensitive => categories(&["Lu", "Ll", "Lt"]),
        "Lu" | "Ll" | "Lt" => categories(&[name]),
        "C" => categories(&["Cc", "Cf", "Co", "Cs", "Cn"]),
        "LC" => categories(&["Lu", "Ll", "Lt"]),
        "LD" => categories(&["L", "Nd"]),
        "L1" => chars::span(0x00, 0xFF),
        "all" => chars::all(),
        "ASCII" => chars::span(0x00, 0x7F),
        "Alnum" => ascii(u8::is_ascii_alphanumeric),
        "Alpha" => ascii(u8::is_ascii_alphabetic),
        "Blank" => chars::of([0x09, 0x20]),
        "Cntrl" => ascii(u8::is_ascii_control),
        "Digit" => chars::span(0x30, 0x39),
        "Graph" => ascii(u8::is_ascii_graphic),
        "Lower" if case_insensitive => ascii(u8::is_ascii_alphabetic),
        "Lower" => chars::span(0x61, 0x7A),
        "Print" => chars::span(0x20, 0x7E),
        "Punct" => ascii(ascii_punct),
        "Space" => chars::or(chars::span(0x09, 0x0D), &chars::one(0x20)),
        "Upper" if case_insensitive => ascii(u8::is_ascii_alphabetic),
        "Upper" => chars::span(0x41, 0x5A),
        "XDigit" => ascii(u8::is_ascii_hexdigit),
        "javaLowerCase" => cased(ucd("Lowercase"), case_insensitive),
        "javaUpperCase" => cased(ucd("Uppercase"), case_insensitive),
        "javaTitleCase" => cased(categories(&["Lt"]), case_insensitive),
        "javaAlphabetic" => ucd("Alphabetic"),
        "javaIdeographic" => ucd("Ideographic"),
        "javaDigit" => categories(&["Nd"]),
        "javaDefined" => chars::not(categories(&["Cn"])),
        "javaLetter" => categories(&["L"]),
        "javaLetterOrDigit" => categories(&["L", "Nd"]),
        "javaJavaIdentifierStart" => categories(&["L", "Nl", "Sc", "Pc"]),
        "javaJavaIdentifierPart" => chars::or(
            categories(&["L", "Sc", "Pc", "Nd", "Nl", "Mc", "Mn"]),
            &identifier_ignorable(),
        ),
        "javaUnicodeIdentifierStart" => chars::or(ucd("ID_Start"), &chars::one(0x2E2F)),
        "javaUnicodeIdentifierPart" => chars::or(
            chars::or(ucd("ID_Continue"), &chars::one(0x2E2F)),
            &identifier_ignorable(),
        ),
        "javaIdentifierIgnorable" => identifier_ignorable(),
        "javaSpaceChar" => categories(&["Zs", "Zl", "Zp"]),
        "javaWhitespace" => chars::or(
            chars::and(
                categories(&["Zs", "Zl", "Zp"]),
                &chars::not(chars::of([0xA0, 0x2007, 0x202F])),
            ),
            &chars::or(chars::span(0x09, 0x0D), &chars::span(0x1C, 0x1F)),
        ),
        "javaISOControl" => chars::or(chars::span(0x00, 0x1F), &chars::span(0x7F, 0x9F)),
        "javaMirrored" => ucd("Bidi_Mirrored"),
        _ => return None,
    };
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context {
            case_insensitive: false,
            unicode_classes: false,
        }
    }

    #[test]
    fn every_table_name_resolves() {
        for gc in [
            "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Me", "Mc", "Nd", "Nl", "No", "Zs", "Zl",
            "Zp", "Cc", "Cf", "Co", "Pd", "Ps", "Pe", "Pc", "Po", "Sm", "Sc", "Sk", "So", "Pi",
            "Pf", "L", "M", "N", "Z", "P", "S",
        ] {
            assert!(!categories(&[gc]).ranges().is_empty(), "{gc}");
        }
        for property in [
            "Alphabetic",
            "Lowercase",
            "Uppercase",
            "Ideographic",
            "Noncharacter_Code_Point",
            "ID_Start",
            "ID_Continue",
            "Bidi_Mirrored",
            "Changes_When_Casemapped",
        ] {
            assert!(!ucd(property).ranges().is_empty(), "{property}");
        }
        for (java, _) in SCRIPTS {
            let set = script(java);
            assert!(set.is_some_and(|s| !s.ranges().is_empty()), "{java}");
        }
    }

    #[test]
    fn names_resolve_as_in_java() {
        let has =
            |name: &str, c: char| named(name, context()).is_some_and(|s| chars::contains(&s, c));
        assert!(named("Latin", context()).is_none());
        assert!(has("IsLatin", 'é'));
        assert!(has("IsLatn", 'é'));
        assert!(has("sc=Latin", 'é'));
        assert!(has("InGreek", 'λ'));
        assert!(has("InGreek and Coptic", 'λ'));
        assert!(has("blk=basic_latin", 'a'));
        assert!(has("Alpha", 'a'));
        assert!(!has("Alpha", 'é'));
        assert!(has("IsAlpha", 'é'));
        assert!(has("javaLowerCase", 'é'));
        assert!(has("L1", 'ÿ'));
        assert!(has("IsL", 'é'));
        assert!(named("IsEmoji", context()).is_none());
        let unicode = Context {
            case_insensitive: false,
            unicode_classes: true,
        };
        assert!(named("Alpha", unicode).is_some_and(|s| chars::contains(&s, 'é')));
    }
}
