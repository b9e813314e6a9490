//! Lists on standard output: aligned columns, cut to the terminal's width when there
//! is one (never when piped, so nothing is lost to `grep`), one row per line.

use std::io::IsTerminal as _;

/// A table of text cells; no line ends in spaces.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<&'static str>,
    /// Columns aligned right (numbers).
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; a header starting with `>` is aligned right
    /// (the `>` is not shown).
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers
                .iter()
                .map(|h| h.strip_prefix('>').unwrap_or(h))
                .collect(),
            right: headers.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as headers).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The width of each column: its longest cell or header.
    pub fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        widths
    }

    /// The header line and the rows, each ending in a newline.
    pub fn render(&self, widths: &[usize], max_width: Option<usize>) -> String {
        let mut out = line(&self.headers, widths, &self.right, max_width);
        out.push_str(&self.render_rows(widths, max_width));
        out
    }

    /// The rows only (for rows that follow an earlier header).
    pub fn render_rows(&self, widths: &[usize], max_width: Option<usize>) -> String {
        self.rows
            .iter()
            .map(|row| line(row, widths, &self.right, max_width))
            .collect()
    }

    /// Prints it to standard output, fitted to the terminal when there is one.
    pub fn print(&self) {
        print!("{}", self.render(&self.widths(), terminal_width()));
    }
}

/// The terminal's width, when standard output is one.
pub fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    console::Term::stdout()
        .size_checked()
        .map(|(_, columns)| usize::from(columns))
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn line<S: AsRef<str>>(
    cells: &[S],
    widths: &[usize],
    right: &[bool],
    max_width: Option<usize>,
) -> String {
    let last = cells.len().saturating_sub(1);
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let cell = cell.as_ref();
        let w = widths.get(i).copied().unwrap_or(0);
        if i > 0 {
            out.push_str("  ");
        }
        let pad = w.saturating_sub(width(cell));
        if right.get(i).copied().unwrap_or(false) {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(cell);
        } else {
            out.push_str(cell);
            if i < last {
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
    }
    // An empty last cell would leave the padding before it.
    out.truncate(out.trim_end().len());
    if let Some(max) = max_width
        && width(&out) > max
    {
        out = out.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_end_clean() {
        let mut table = Table::new(&["id", ">n", "text"]);
        table.row(vec!["a".into(), "7".into(), "x".into()]);
        table.row(vec!["bbbb".into(), "1234".into(), "longer text".into()]);
        table.row(vec!["c".into(), "".into(), "".into()]);
        let text = table.render(&table.widths(), None);
        assert_eq!(
            text,
            "id       n  text\na        7  x\nbbbb  1234  longer text\nc\n"
        );
        let cut = table.render(&table.widths(), Some(15));
        assert!(cut.lines().all(|l| l.chars().count() <= 15), "{cut}");
        assert_eq!(cut, "id       n  te…\na        7  x\nbbbb  1234  lo…\nc\n");
    }
}
