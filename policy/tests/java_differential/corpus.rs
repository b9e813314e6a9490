//! The corpus: class patterns compared over the whole code space, and pattern/input pairs
//! by construct of the `Pattern` documentation, by block and script name, and at random.
//! Data tables are kept compact, one line holding several entries.

/// The class patterns whose whole character set is compared with Java's.
pub(crate) fn class_patterns() -> Vec<String> {
    let mut patterns: Vec<String> = Vec::new();
    let categories = [
        "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Me", "Mc", "Nd", "Nl", "No", "Zs", "Zl", "Zp",
        "Cc", "Cf", "Co", "Cs", "Pd", "Ps", "Pe", "Pc", "Po", "Sm", "Sc", "Sk", "So", "Pi", "Pf",
        "L", "M", "N", "Z", "C", "P", "S", "LC", "LD", "L1", "all",
    ];
    each(&mut patterns, &categories, "\\p{NAME}");
    for template in ["(?i)\\p{NAME}", "(?i)\\p{gc=NAME}"] {
        each(&mut patterns, &["Lu", "Ll", "Lt"], template);
    }
    let posix = [
        "Lower", "Upper", "ASCII", "Alpha", "Digit", "Alnum", "Punct", "Graph", "Print", "Blank",
        "Cntrl", "XDigit", "Space",
    ];
    for template in ["\\p{NAME}", "(?U)\\p{NAME}", "\\p{IsNAME}"] {
        each(&mut patterns, &posix, template);
    }
    for template in ["(?i)\\p{NAME}", "(?iU)\\p{NAME}"] {
        each(&mut patterns, &["Lower", "Upper"], template);
    }
    let unicode = [
        "Alphabetic", "Assigned", "Control", "HexDigit", "Hex_Digit", "Ideographic", "JoinControl",
        "Letter", "Lowercase", "NoncharacterCodePoint", "Titlecase", "Punctuation", "Uppercase",
        "WhiteSpace", "White_Space", "Word",
    ];
    each(&mut patterns, &unicode, "\\p{IsNAME}");
    each(
        &mut patterns,
        &["Lowercase", "Uppercase", "Titlecase"],
        "(?i)\\p{IsNAME}",
    );
    let java = [
        "javaLowerCase", "javaUpperCase", "javaTitleCase", "javaAlphabetic", "javaIdeographic",
        "javaDigit", "javaDefined", "javaLetter", "javaLetterOrDigit", "javaJavaIdentifierStart",
        "javaJavaIdentifierPart", "javaUnicodeIdentifierStart", "javaUnicodeIdentifierPart",
        "javaIdentifierIgnorable", "javaSpaceChar", "javaWhitespace", "javaISOControl",
        "javaMirrored",
    ];
    each(&mut patterns, &java, "\\p{NAME}");
    each(
        &mut patterns,
        &["javaLowerCase", "javaUpperCase", "javaTitleCase"],
        "(?i)\\p{NAME}",
    );
    let scripts = [
        "Latin", "Greek", "Cyrillic", "Arabic", "Han", "Common", "Inherited", "Unknown",
        "Devanagari", "Hebrew", "Thai", "Hangul", "Zzzz",
    ];
    each(&mut patterns, &scripts, "\\p{IsNAME}");
    let blocks = [
        "BasicLatin", "Greek", "CJKUnifiedIdeographs", "HighSurrogates", "Specials",
    ];
    each(&mut patterns, &blocks, "\\p{InNAME}");
    let shorthands = ["w", "d", "s", "h", "v", "W", "D", "S", "H", "V"];
    for template in ["\\NAME", "(?U)\\NAME", "[\\NAME]"] {
        each(&mut patterns, &shorthands, template);
    }
    for dot in [".", "(?s).", "(?d).", "(?sd)."] {
        patterns.push(dot.to_string());
    }
    // Case-insensitive ranges over every cased script: each checks Java's upper and lower
    // case of every character against the policy's.
    let cased = [
        (0x41, 0x5A),
        (0x61, 0x7A),
        (0xC0, 0xFF),
        (0x100, 0x24F),
        (0x250, 0x2AF),
        (0x370, 0x3FF),
        (0x400, 0x52F),
        (0x530, 0x58F),
        (0x10A0, 0x10FF),
        (0x13A0, 0x13FF),
        (0x1C80, 0x1CBF),
        (0x1D00, 0x1DBF),
        (0x1E00, 0x1FFF),
        (0x2100, 0x218F),
        (0x24B0, 0x24FF),
        (0x2C00, 0x2D2F),
        (0xA640, 0xA69F),
        (0xA720, 0xA7FF),
        (0xAB30, 0xABBF),
        (0xFB00, 0xFB4F),
        (0xFF20, 0xFF5A),
        (0x10400, 0x104FF),
        (0x10C80, 0x10CFF),
        (0x118A0, 0x118FF),
        (0x16E40, 0x16E9F),
        (0x1E900, 0x1E95F),
    ];
    for (lo, hi) in cased {
        patterns.push(format!("(?iu)[\\x{{{lo:X}}}-\\x{{{hi:X}}}]"));
    }
    // Single characters, alone and in classes, under each kind of case folding.
    for c in [
        'k', 's', 'i', 'I', 'ß', 'ẞ', 'ſ', '\u{212A}', '\u{212B}', 'å', 'µ', 'ÿ', 'İ', 'ı', 'ǅ',
        'ς', 'ϑ', 'ᾳ', '\u{2126}', 'é', '\u{10400}', '\u{345}',
    ] {
        for flags in ["(?i)", "(?iu)"] {
            patterns.push(format!("{flags}{c}"));
            patterns.push(format!("{flags}[{c}]"));
        }
    }
    for class in [
        "[a-z&&[^aeiou]]", "[\\w-#]", "[a-z&&]", "[&&a]", "[a&&&b]", "[ab[cd]&&]", "[^a-c[x-z]]",
        "[\\p{L}&&\\p{IsGreek}]", "[\\p{L}&&[^\\p{Lu}]]", "[a-z&&b-y&&c-x]", "[[a-c]&&[b-d]x]",
        "[ab&&[b]c]", "[\\d\\s]", "[^\\w\\s]", "(?x)[ a - c ]", "(?x)[a#comment\n]", "[\\Q]-[\\E]",
        "[\\x{1F600}-\\x{1F64F}]", "(?i)[^k]", "(?iu)[^k]", "(?iu)[\\x{212A}]", "(?iu)[ſ]",
    ] {
        patterns.push(class.to_string());
    }
    patterns
}

/// Adds `template` with `NAME` replaced by each of `names`.
fn each(patterns: &mut Vec<String>, names: &[&str], template: &str) {
    patterns.extend(names.iter().map(|name| template.replace("NAME", name)));
}

/// Text the policy meets: URLs and decoded query or JSON values.
const COMMON_INPUTS: &[&str] = &[
    "", "a", "A", "ab", "aB", "AB", " ", "_", "-", "a b", "abc",
    "https://wiki.example.com/rest/api/space",
    "https://wiki.example.com/rest/api/space/EXTENDER/property",
    "https://wiki.example.com/rest/api/content/12345",
    "http://WIKI.example.com:8443/REST/api/space/", "/rest/api/space", "space", "SPACE", "a\n",
    "a\r\n", "a\r", "a\u{85}", "a\u{2028}", "a\u{2029}", "\n", "\r\n", "a\nb", "é", "É", "ß", "ẞ",
    "ſ", "s", "S", "\u{212A}", "k", "K", "İ", "ı", "i", "I", "٣", "३", "１", "λ", "Ω", "\u{2126}",
    "e\u{301}", "_\u{301}", "😀", "\u{a0}", "\t",
];

/// Patterns by construct, each with inputs that reach its edges; every pattern also meets
/// `COMMON_INPUTS`.
fn groups() -> Vec<(Vec<&'static str>, Vec<&'static str>)> {
    vec![
        // Literals, escapes of characters, quoting.
        (
            vec![
                "a", "ab", "abc", "a.c", "a\\.c", "\\x61", "\\x{61}b", "\\u0061", "\\0141",
                "\\0101\\0102", "\\01", "\\07", "\\0377", "\\0400", "\\t", "\\n", "\\r", "\\f",
                "\\a", "\\e", "\\cA", "\\cj", "\\c?", "\\\\", "\\/", "\\<a\\>", "\\-", "\\#",
                "\\Q.*\\E", "\\Qa b\\E", "\\Q\\E", "\\Qab", "a\\Q\\Eb", "\\Q1\\E", "x\\Q1\\E",
                "\\Q\\\\E", "\\Qa\\Eb*", "\\x{1F600}", "\\uD83D\\uDE00", "\\uD83D", "é", "ß", "\\é",
                "\\ ", "]", "}", "a]", "a}", "\\]", "\\}", "\\x{10FFFF}",
            ],
            vec![
                "abc", "a.c", "axc", "\t", "\n", "\r", "\u{c}", "\u{7}", "\u{1b}", "\u{1}", "\n",
                "\u{1f}", "\\", "/", "<a>", ".*", "a b", "\u{7}", "\u{1}", "\u{ff}", "ab", "abbb",
                "😀", "1", "x1", "]", "}", "a]", "a}", "\u{8}\u{1}", "AB", "\u{20}0",
            ],
        ),
        // Quantifiers.
        (
            vec![
                "a?", "a*", "a+", "a{2}", "a{2,}", "a{2,3}", "a{0}", "a{0,1}", "a??", "a*?", "a+?",
                "a{2}?", "a{2,}?", "(ab)*", "(ab){2}", "(a|b)+", "(a?){3}", "(a*)*", "(a|)*b",
                "a{2}{3}", "{2}", "x{,3}", "a{", "a{1", "a{2,1}", "a**", "a{1}{2}", "(?:a{2})*",
                "a{2147483647}", "a{2147483648}", "ab{0}c", "(a{1,2}){2}",
            ],
            vec![
                "", "a", "aa", "aaa", "aaaa", "ab", "abab", "ababab", "b", "ba", "ac", "abc",
                "x{,3}", "a{", "a{1",
            ],
        ),
        // Alternation and groups.
        (
            vec![
                "a|b", "a|", "|a", "|", "(a|b)c", "(?:a|b)c", "(?<n>a)b", "(?<n1>a)(?<n2>b)",
                "(?<n>a)(?<n>b)", "(?<1n>a)", "(?<n-x>a)", "((a))", "(a)(b)(c)", "(a", "a)", "()",
                "(?:)", "(|a)+", "(?", "(?$a)", "(?@a)", "(?#c)",
            ],
            vec!["", "a", "b", "ab", "ac", "bc", "abc", "c"],
        ),
        // Anchors at their usual places and elsewhere.
        (
            vec![
                "^a", "a$", "^a$", "\\Aa\\z", "a\\Z", "a\\z", "a$\n", "a$\r\n", "a$\\n?",
                "a$[\\n\\r]*", "(?s)a$.*", "(?s)a$.+", "a$$", "$a", "a^", "^", "$", "^$", "(?m)^a$",
                "(?m)a$\nb", "(?m)a$\r\nb", "(?m)a$.b", "(?ms)a$.b", "(?m)^", "(?m)^$", "(?m)(^a)*",
                "(?m)a\n^b", "(?m)a\r^\nb", "(?m)a\r\n^b", "(?m).*^b", "(?d)a$\n", "(?d)a$\r\n",
                "(?dm)a$\r\nb", "(?dm)a\r^b", "(?dm)a\n^b", "(?m)a\\Z\n", "\\Ga", "a\\G",
                "(?:\\Ga)+", "^*a", "$?a", "a\\b+", "(?m)^*a", "a\\Z", "a\\Z\n", "a\\z\n", "(a$)+",
                "(a$|b)\n", "\r$\n", "(?s)\r$.", "a(?m)$", "\\Z", "\\z", "\\A", "(?m)\\A^a",
            ],
            vec![
                "", "a", "a\n", "a\r\n", "a\r", "a\u{85}", "a\u{2028}", "a\u{2029}", "a\n\n",
                "a\nb", "a\r\nb", "a\rb", "a\u{85}b", "\n", "\r\n", "\r", "aa", "a\na", "b",
                "a\n\r", "\na", "a\n\nb", "\r\r\n",
            ],
        ),
        // Word boundaries with Java 17's word characters.
        (
            vec![
                ".*\\bspace\\b.*", ".*\\Bpace.*", "a\\b", "\\ba", "\\b", "\\B", "a\\Bb", "a\\b b",
                ".\\bx", "x\\b.", ".*\\b.*", "(?U).\\bx", "(?U)x\\b.", ".\\B.", "(?U).\\B.",
                "..\\b.", ".\\b..", "\\b.*\\b", "_\\b.", ".\\b_", "\\b\\w+\\b", "(?U)\\b\\w+\\b",
                "\\b{g}", "a\\b{", "\\b(?:a|é)\\b",
            ],
            vec![
                "a", "ab", "a b", "a-b", "aé", "éx", "ax", "x", "xé", "e\u{301}x", "e\u{301} ",
                "x\u{301}", "_\u{301}", "_\u{301}x", " \u{301}x", "\u{301}x", "a\u{301}\u{301}b",
                "٣x", "x٣", "Ⅻx", "x_", "_x", "é", "a_", "_",
                "https://wiki.example.com/rest/api/space/x",
                "https://wiki.example.com/rest/api/myspace", "space", "a\u{200c}b", "x\u{2019}",
                "λx", "xλ", "1x", "x1",
            ],
        ),
        // Line terminators, `.`, `\R`, flags for lines.
        (
            vec![
                ".", "(?s).", "(?d).", "(?sd).", "..", "(?s)..", ".*", "(?s).*", "(?d).*", "\\R",
                "\\R\\n", "\\R+", "\\R{2}", "a\\Rb", "[\\R]", "(?-s).", "(?s-s).", "(?s:.)\\.",
                "a.b", "(?s)a.b", "(?d)a.b",
            ],
            vec![
                "\n", "\r", "\r\n", "\u{85}", "\u{2028}", "\u{2029}", "\u{b}", "\u{c}", "x", "\n\n",
                "\r\r", "a\nb", "a\rb", "a\r\nb", "a\u{85}b", "a\u{2028}b", "axb", "..", "\n\r",
            ],
        ),
        // Case-insensitivity, ASCII and Unicode, literals alone and in runs.
        (
            vec![
                "(?i)a", "(?i)ab", "(?i)é", "(?i)éa", "(?iu)é", "(?iu)éa", "(?i)k", "(?iu)k",
                "(?iu)ka", "(?i)s", "(?iu)s", "(?iu)sa", "(?iu)ß", "(?iu)ßa", "(?iu)ẞ", "(?iu)ẞa",
                "(?iu)i", "(?iu)ia", "(?iu)İ", "(?iu)İa", "(?iu)ı", "(?iu)ıa", "(?i)[a-z]",
                "(?iu)[a-z]", "(?iu)[k]", "(?i)[k]", "(?iu)[ſ]", "(?iu)[ß]", "(?iu)[ẞ]", "(?iu)[é]",
                "(?i)[é]", "(?iu)[ÿ]", "(?iu)[µ]", "(?iu)[å]", "(?U)k", "(?iU)k", "(?i)(?u)k",
                "(?i)(?-i)a", "(?i:a)A", "(?iu:ß)x", "(?iu)ǅ", "(?iu)ǆa", "(?iu)σ", "(?iu)ςa",
                "(?iu)θ", "(?iu)ϑa", "(?iu)Ω", "(?iu)\\x{2126}a", "(?i)[^a]", "(?iu)[^k]",
                "(?iu)\\x{10400}", "(?iu)\\x{10428}a", "(?iu)[\\x{10400}-\\x{10410}]",
                "(?i)\\u0041", "(?iu)\\QßA\\E", "(?i)[Z-a]", "(?iu)[Z-a]",
                "(?iu)[\\x{100}-\\x{17F}]",
            ],
            vec![
                "a", "A", "ab", "AB", "Ab", "é", "É", "éa", "ÉA", "k", "K", "\u{212A}", "ka", "KA",
                "\u{212A}a", "s", "S", "ſ", "sa", "ſa", "SA", "ß", "ẞ", "ßa", "ẞa", "ẞA", "ss", "i",
                "I", "İ", "ı", "ia", "Ia", "İa", "ıa", "ÿ", "Ÿ", "µ", "Μ", "μ", "å", "Å",
                "\u{212B}", "ǅ", "ǆ", "Ǆ", "ǅa", "Ǆa", "σ", "ς", "Σ", "ςa", "Σa", "θ", "ϑ", "Θ",
                "ϴ", "ϑa", "θa", "Ω", "ω", "\u{2126}", "ωa", "\u{2126}a", "\u{10400}", "\u{10428}",
                "\u{10428}a", "\u{10400}a", "[", "_", "`", "^", "\\", "z", "Z", "\u{17F}",
                "\u{100}", "\u{101}",
            ],
        ),
        // Classes: ranges, negation, nesting, intersections, escapes inside.
        (
            vec![
                "[abc]", "[^abc]", "[a-c]", "[^a-c]", "[]a]", "[^]a]", "[]", "[^]", "[a-]", "[-a]",
                "[a-c-e]", "[a\\-c]", "[\\w-#]", "[#-\\w]", "[a-\\d]", "[\\d-z]", "[a-c[x-z]]",
                "[a-c[^b]]", "[^a-c[b]]", "[[a][b]]", "[a&&b]", "[a-z&&[^aeiou]]",
                "[a-z&&[^aeiou]&&[a-f]]", "[a-z&&]", "[&&a]", "[a&&&b]", "[a&&&&b]", "[ab[cd]&&]",
                "[a&]", "[&]", "[&&]", "[a&&b&&c]", "[abc&&b]", "[ab&&[b]c]", "[\\t\\n]",
                "[\\x41-\\x43]", "[\\u0041-\\u0043]", "[\\0101-\\0103]", "[\\cA-\\cC]", "[\\v]",
                "[\\v-\\x0D]", "[\\h\\v]", "[\\H]", "[\\V]", "[\\p{L}]", "[\\P{L}]", "[^\\p{L}]",
                "[\\pL\\pN]", "[\\p{Lu}a]", "[.]", "[$^]", "[\\b]", "[\\A]", "[\\R]", "[\\Z]",
                "[\\1]", "[\\Q]\\E]", "[\\Qa-c\\E]", "[[:alpha:]]", "[a-z&&\\d]", "[z-a]", "[a",
                "[a-c]+", "[^\\n]", "[\\^]", "[ ^a]", "[\\x{1F600}]", "[😀]", "[^😀]", "[a[]]",
                "[a]]", "[[a]", "[a-z&&[b-y]&&c-x]",
            ],
            vec![
                "a", "b", "c", "d", "x", "y", "z", "e", "f", "]", "[", "-", "#", "&", "^", "$",
                ".", "A", "B", "C", "\t", "\n", "\u{b}", "\u{d}", "\u{1}", "\u{3}", "é", "É", "1",
                "٣", " ", "_", "😀", "\u{a0}", "a]", ":", "l", "p", "h", "\u{85}",
            ],
        ),
        // Properties: categories, scripts, blocks, POSIX, java classes, names Java refuses.
        (
            vec![
                "\\p{L}", "\\pL", "\\PL", "\\p{Lu}", "\\p{IsLu}", "\\p{gc=Lu}",
                "\\p{general_category=Lu}", "\\p{IsL}", "\\p{L1}", "\\p{IsL1}", "\\p{LC}",
                "\\p{LD}", "\\p{all}", "\\p{Latin}", "\\p{IsLatin}", "\\p{IsLatn}", "\\p{Islatin}",
                "\\p{IsLATIN}", "\\p{sc=Latin}", "\\p{script=Latin}", "\\p{SC=Latin}",
                "\\p{sc=Latn}", "\\p{scx=Latin}", "\\p{InGreek}", "\\p{InGreek and Coptic}",
                "\\p{InGreekandCoptic}", "\\p{InGREEK_AND_COPTIC}", "\\p{blk=Greek}",
                "\\p{block=BasicLatin}", "\\p{InBasic Latin}", "\\p{InBasic_Latin}", "\\p{IsGreek}",
                "\\p{Greek}", "\\p{Alpha}", "\\p{IsAlpha}", "\\p{IsAlphabetic}", "\\p{Alphabetic}",
                "\\p{javaLowerCase}", "\\p{javalowercase}", "\\p{IsjavaLowerCase}", "\\p{Lower}",
                "\\p{IsLower}", "\\p{lower}", "\\p{ASCII}", "\\p{IsASCII}", "\\p{Punct}",
                "\\p{XDigit}", "\\p{IsHexDigit}", "\\p{IsHex_Digit}", "\\p{IsWhite Space}",
                "\\p{IsEmoji}", "\\p{Age=6.0}", "\\p{IsAssigned}", "\\p{Cn}", "\\p{IsCn}",
                "\\p{Cs}", "\\p{IsUnknown}", "\\p{IsZyyy}", "\\p{IsCommon}", "\\p{IsInherited}",
                "\\p{IsQaai}", "\\p{InSurrogates_Area}", "\\p{In}", "\\p{Is}", "\\p{}", "\\p",
                "\\p{L", "\\pZ", "\\p{Z}", "\\p{Zs}", "\\p{IsWord}", "\\p{IsPunctuation}",
                "\\P{IsLatin}", "\\P{InGreek}", "(?i)\\p{Lu}", "(?i)\\p{Ll}", "(?i)\\p{Upper}",
                "(?i)\\p{javaUpperCase}", "(?i)\\p{IsUppercase}", "(?U)\\p{Alpha}",
                "(?U)\\p{Lower}", "(?iU)\\p{Lower}", "(?U)\\p{Digit}", "(?U)\\p{IsDigit}",
                "\\p{IsDigit}", "\\p{javaDigit}", "\\p{Nd}", "\\p{Nl}", "\\p{No}", "\\p{IsHan}",
                "\\p{IsHani}", "\\p{InCJK_Unified_Ideographs}", "\\p{IsOld_Italic}",
                "\\p{IsOldItalic}", "\\p{IsItal}", "\\p{IsKawi}", "\\p{IsVithkuqi}", "\\p{InKawi}",
            ],
            vec![
                "a", "A", "é", "É", "λ", "Λ", "ω", "а", "Ж", "1", "٣", "३", "１", "Ⅻ", "½", " ",
                "\u{a0}", "\u{2028}", "_", "-", "!", "$", "€", "+", "\u{301}", "\u{200d}", "\u{ad}",
                "ǅ", "ß", "中", "😀", "\u{e000}", "\u{fffe}", "\u{10ffff}", "\u{378}", "ª", "ʰ", "ǀ",
                "\u{7f}", "\u{85}", "\u{1e9e}", "\u{10300}", "\u{11f00}",
            ],
        ),
        // Shorthands, ASCII by default and Unicode under (?U).
        (
            vec![
                "\\d", "\\D", "\\w", "\\W", "\\s", "\\S", "\\h", "\\H", "\\v", "\\V", "(?U)\\d",
                "(?U)\\w", "(?U)\\s", "(?U)\\W", "(?U)\\D", "(?U)\\S", "(?U)(?-U)\\w",
                "(?U:\\w)\\w", "\\d+", "\\w+", "[\\d]", "[^\\d]", "[\\D]",
            ],
            vec![
                "1", "٣", "३", "１", "a", "é", "_", "\u{200c}", "\u{301}", "Ⅻ", " ", "\u{a0}",
                "\u{85}", "\u{2028}", "\u{3000}", "\u{180e}", "\u{1680}", "\u{b}", "\u{c}",
                "\u{1c}", "\t", "12", "ab", "a_1", "‿",
            ],
        ),
        // Comments mode: white space, comments, escaped and quoted spaces.
        (
            vec![
                "(?x)a b", "(?x)a\\ b", "(?x)\\Qa b\\E", "(?x)a # comment", "(?x)a#c\nb",
                "(?x)a#c\rb", "(?x)a#c\u{85}b", "(?x)a#c\u{2028}b", "(?dx)a#c\rb", "(?x)[a b]",
                "(?x)[a\\ b]", "(?x)[a#c\n]", "(?x)[ ^a]", "(?x)[^ a]", "(?x) a * ", "(?x)a{ 2 }",
                "(?x)a{2 }", "(?x)a{2, 3}", "(?x)( a | b )", "(?x:a b)c d", "(?x)\\p{ L}",
                "(?x)\\p {L}", "(?x)\\x 41", "(?x)\\c A", "(?x)\\u 0041", "(?x)a\\\tb",
                "(?x)(?i) A", "(?x i)a", "(?x)(? i)a", "(?x)\\Q\\E b", "(?x)a\\#", "(?x)[#]",
                "(?x)[\\#]", "(?x)a\tb", "(?x)a\u{b}b", "(?x)\\ ", "(?x)a  +", "(?x)[a-c ]+",
                "(?x)a(?-x) b", "(?x)#",
            ],
            vec![
                "ab", "a b", "a", "b", "A", " ", "a\tb", "#", "a#", "\\", "aa", "ab c", "abcd",
                "a c", "cd", "a\u{b}b", "abc", "c", "c d", "bc d",
            ],
        ),
        // Flags, and what Java refuses or the policy refuses by name.
        (
            vec![
                "(?i)", "(?-i)a", "(?i-i)a", "(?im-s)a", "(?z)a", "(?i", "(?i:", "(?-)a", "(?--i)a",
                "(?c)a", "(?-c)a", "(?u)a", "(?d)a", "(?U)a", "(?idmsuxU)a", "(?=a)a", "(?!b)a",
                "(?<=a)b", "(?<!a)b", "(?>a)", "a*+", "a++", "a?+", "a{2}+", "(a)\\1", "\\1",
                "(?<n>a)\\k<n>", "\\k<n>", "\\k", "\\X", "\\b{g}", "\\N{LATIN SMALL LETTER A}",
                "\\N{NOPE}", "\\N", "\\y", "\\i", "\\C", "\\E", "\\L", "\\x", "\\xg", "\\x{",
                "\\x{110000}", "\\u12", "\\c", "\\0", "\\08", "a\\", "\\", "*a", "+", "?", "a)",
                ")", "a(?", "\\p{IsLatin", "\\pX", "\\p{IsFoo}", "[a-\\p{L}]", "[\\w-\\d]",
            ],
            vec!["a", "A", "", "b", "ab", "aa", "\n", "aA"],
        ),
    ]
}

/// Every block and script name of the table generated from Java, in several spellings,
/// each with characters inside and outside.
fn names() -> Vec<(String, Vec<String>)> {
    let table = include_str!("../../src/pattern/java_names.rs");
    let mut out = Vec::new();
    let (blocks, scripts) = table.split_once("const SCRIPTS").unwrap_or((table, ""));
    for line in blocks.lines().filter(|l| l.trim_start().starts_with("(0x")) {
        let parts: Vec<&str> = line.split(['(', ',', '[', ']', ')']).collect();
        let bound = |i: usize| {
            parts
                .get(i)
                .and_then(|p| u32::from_str_radix(p.trim().trim_start_matches("0x"), 16).ok())
        };
        let (Some(lo), Some(hi)) = (bound(1), bound(2)) else {
            continue;
        };
        let inputs: Vec<String> = [lo, hi, hi + 1, 0x61]
            .iter()
            .filter_map(|&c| char::from_u32(c))
            .map(String::from)
            .collect();
        let names = quoted(line);
        if let (Some(first), Some(last)) = (names.first(), names.last()) {
            out.push((format!("\\p{{In{first}}}"), inputs.clone()));
            out.push((format!("\\p{{blk={}}}", last.to_lowercase()), inputs));
        }
    }
    for line in scripts
        .lines()
        .filter(|l| l.trim_start().starts_with("(\""))
    {
        let inputs = vec!["a".to_string(), "λ".to_string(), "中".to_string()];
        for (i, name) in quoted(line).into_iter().enumerate() {
            out.push((format!("\\p{{Is{name}}}"), inputs.clone()));
            if i == 0 {
                let lower = name.to_lowercase();
                out.push((format!("\\p{{sc={lower}}}"), inputs.clone()));
                out.push((
                    format!("\\p{{Is{}}}", lower.replace('_', "")),
                    inputs.clone(),
                ));
            }
        }
    }
    out
}

/// The `"…"` strings of a line.
fn quoted(line: &str) -> Vec<String> {
    line.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The whole corpus of pattern/input pairs.
pub(crate) fn corpus() -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (patterns, inputs) in groups() {
        for pattern in &patterns {
            for input in inputs.iter().chain(COMMON_INPUTS) {
                pairs.push((pattern.to_string(), input.to_string()));
            }
        }
    }
    for (pattern, inputs) in names() {
        for input in inputs {
            pairs.push((pattern.clone(), input));
        }
    }
    let mut random = Random(0x5EED_1234_ABCD_0001);
    for _ in 0..700 {
        let pattern = random.pattern(3);
        let mut alphabet: Vec<char> = pattern
            .chars()
            .filter(|c| !c.is_ascii_punctuation())
            .collect();
        alphabet.extend(ALPHABET);
        for _ in 0..8 {
            let len = random.below(5);
            let input: String = (0..len).map(|_| random.pick(&alphabet)).collect();
            pairs.push((pattern.clone(), input));
        }
    }
    pairs
}

/// Characters random inputs draw from.
const ALPHABET: &[char] = &[
    'a', 'b', 'A', 'B', 'k', 'K', '\u{212A}', 's', 'S', 'ſ', 'ß', 'ẞ', 'é', 'É', 'i', 'İ', 'ı',
    '1', '٣', '_', ' ', '-', '#', '&', '\n', '\r', '\u{85}', '\u{2028}', '\u{301}', 'λ', '😀',
];

/// A deterministic xorshift generator, so a failing case repeats.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A random Java regex built from the constructs above, mostly valid.
    fn pattern(&mut self, depth: u32) -> String {
        let mut out = String::new();
        if depth == 3 && self.below(3) == 0 {
            out.push_str(self.pick(&[
                "(?i)", "(?iu)", "(?x)", "(?s)", "(?m)", "(?d)", "(?U)", "(?iU)", "(?xi)", "(?ms)",
                "(?dm)",
            ]));
        }
        let branches = 1 + usize::from(self.below(4) == 0);
        for branch in 0..branches {
            if branch > 0 {
                out.push('|');
            }
            for _ in 0..1 + self.below(4) {
                out.push_str(&self.item(depth));
            }
        }
        out
    }

    fn item(&mut self, depth: u32) -> String {
        let atom = match self.below(10) {
            0..=3 => self
                .pick(&[
                    "a", "b", "A", "k", "s", "ß", "ẞ", "é", "ſ", "K", "i", "İ", "_", "-", " ",
                    "\\n", "\\r", "\\x{85}", "\\u2028", "1", "λ", "\\Q a\\E", "\\ ", "#x\n", "\\.",
                    "ab", "sa",
                ])
                .to_string(),
            4 => self
                .pick(&[
                    ".", "\\d", "\\w", "\\s", "\\W", "\\S", "\\h", "\\v", "\\R", "\\p{L}",
                    "\\p{Lu}", "\\p{IsLatin}", "\\p{Alpha}", "\\p{javaLowerCase}", "\\P{L}",
                    "\\p{InGreek}", "\\p{Punct}",
                ])
                .to_string(),
            5 => self
                .pick(&["^", "$", "\\b", "\\B", "\\A", "\\z", "\\Z", "\\G"])
                .to_string(),
            6 | 7 => self.class(),
            _ if depth > 0 => {
                let open = self.pick(&["(", "(?:", "(?i:", "(?-i:", "(?<g>", "(?iu:", "(?x:"]);
                let inner = self.pattern(depth - 1);
                if open == "(?<g>" {
                    format!("(?:{inner})")
                } else {
                    format!("{open}{inner})")
                }
            }
            _ => "a".to_string(),
        };
        let quantifier = match self.below(8) {
            0 => "?",
            1 => "*",
            2 => "+",
            3 => self.pick(&["{2}", "{0,2}", "{1,}", "*?", "??", "{0}"]),
            _ => "",
        };
        format!("{atom}{quantifier}")
    }

    fn class(&mut self) -> String {
        let mut out = String::from("[");
        if self.below(3) == 0 {
            out.push('^');
        }
        for _ in 0..1 + self.below(3) {
            out.push_str(self.pick(&[
                "a", "b-d", "A-Z", "k", "s", "ß", "é", "\\w", "\\d", "\\s", "-", "&&[a-z]", "&&",
                "[x-z]", "\\p{L}", "\\p{Lu}", "_", "\\x41", "\\n", "ſ", "K", "#", " ", "&",
                "\\Q-\\E", "i-k", "r-t",
            ]));
        }
        out.push(']');
        out
    }
}
