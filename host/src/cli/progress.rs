//! Progress of long operations (migrate, audit prune) on standard error: a bar on a
//! terminal, nothing at all otherwise, so logs and pipes stay clean.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting to `total` things named `what`; hidden when standard error is not
/// a terminal.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    // The template is fixed: it parses, but fall back to the default style anyway.
    let style = ProgressStyle::with_template(
        "{msg:>14} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta} left)",
    )
    .map(|style| style.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}
