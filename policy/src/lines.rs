//! Splitting a `limitTo` text into numbered restriction lines.
//! Administrators separate lines with a newline, the two characters `\n`, or `<br>`.

/// One piece of a `limitTo` text between separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece<'a> {
    /// 1-based position among all pieces, blank ones counted.
    pub(crate) number: u32,
    /// The piece with surrounding whitespace trimmed; empty for a blank piece.
    pub(crate) text: &'a str,
}

/// Splits `text` on every separator and numbers the pieces, blank ones included.
///
/// Separators: `\r\n`, `\n` or a lone `\r` (a real line break), the two characters `\` `n`
/// (what the seed's JSON examples type), and `<br>` in any case, also written `<br/>` or
/// `<br />`. URLs never contain a backslash or `<`, so no regex loses meaning by this.
pub(crate) fn split<'a>(text: &'a str) -> Vec<Piece<'a>> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |from: usize, to: usize, pieces: &mut Vec<Piece<'a>>| {
        let number = u32::try_from(pieces.len() + 1).unwrap_or(u32::MAX);
        // `from..to` always lies on char boundaries: separators are ASCII.
        let text = text.get(from..to).unwrap_or("").trim();
        pieces.push(Piece { number, text });
    };
    while i < bytes.len() {
        match separator_len(&bytes[i..]) {
            Some(len) => {
                push(start, i, &mut pieces);
                i += len;
                start = i;
            }
            None => i += 1,
        }
    }
    push(start, bytes.len(), &mut pieces);
    pieces
}

/// The length of the separator at the start of `rest`, if one starts there.
fn separator_len(rest: &[u8]) -> Option<usize> {
    match rest {
        [b'\r', b'\n', ..] => Some(2),
        [b'\n', ..] | [b'\r', ..] => Some(1),
        [b'\\', b'n', ..] => Some(2),
        [b'<', b, r, ..] if b.eq_ignore_ascii_case(&b'b') && r.eq_ignore_ascii_case(&b'r') => {
            let mut j = 3;
            while rest.get(j) == Some(&b' ') {
                j += 1;
            }
            if rest.get(j) == Some(&b'/') {
                j += 1;
            }
            (rest.get(j) == Some(&b'>')).then_some(j + 1)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<(u32, &str)> {
        split(text)
            .into_iter()
            .map(|p| (p.number, p.text))
            .collect()
    }

    #[test]
    fn every_separator_splits() {
        assert_eq!(
            texts("a\\nb<br>c<BR/>d<Br />e\nf\r\ng"),
            vec![
                (1, "a"),
                (2, "b"),
                (3, "c"),
                (4, "d"),
                (5, "e"),
                (6, "f"),
                (7, "g")
            ]
        );
    }

    #[test]
    fn blank_pieces_are_counted() {
        assert_eq!(
            texts("\n  a \n\n b"),
            vec![(1, ""), (2, "a"), (3, ""), (4, "b")]
        );
        assert_eq!(texts(""), vec![(1, "")]);
    }

    #[test]
    fn near_separators_do_not_split() {
        assert_eq!(texts("a<bra>b\\tc<b>"), vec![(1, "a<bra>b\\tc<b>")]);
        assert_eq!(texts("é<br>ü"), vec![(1, "é"), (2, "ü")]);
    }
}
