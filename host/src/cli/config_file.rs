//! `tokengate config check FILE` and `tokengate config example`: the configuration
//! file checked as `serve --config FILE` would read it, and a file with every setting.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::{ArgAction, FromArgMatches as _, Subcommand};

use super::serve_command;
use crate::config::ServeArgs;
use crate::config::file::{self, ConfigFile, clap_message};

/// `tokengate config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a file as `serve --config FILE` would read it, environment included,
    /// without starting: keys, values and every check made at start.
    Check {
        /// The file.
        file: PathBuf,
    },
    /// Print a configuration file with every setting, commented out at its default.
    Example,
}

/// Runs a `config` subcommand.
pub(super) fn run(command: ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Check { file } => check(&file),
        ConfigCommand::Example => {
            print!("{}", example());
            Ok(())
        }
    }
}

fn check(path: &std::path::Path) -> Result<()> {
    let serve = serve_command();
    let file = ConfigFile::read(path, &serve)?;
    let serve = file.apply(serve);
    let matches = serve
        .clone()
        .try_get_matches_from([OsString::from("tokengate serve")])
        .map_err(|err| anyhow!("{}: {}", path.display(), clap_message(&err)))?;
    let args = ServeArgs::from_arg_matches(&matches)
        .map_err(|err| anyhow!("{}: {}", path.display(), clap_message(&err)))?;
    let origins = file.origins(&serve, &matches);
    args.into_config().map_err(|err| origins.locate(err))?;
    for (key, line) in file.keys() {
        let overridden = file::settings(&serve).get(key).is_some_and(|arg| {
            matches.value_source(arg.get_id().as_str())
                == Some(clap::parser::ValueSource::EnvVariable)
        });
        if overridden {
            eprintln!(
                "note: {}:{line}: {key} is overridden by TOKENGATE_{} in the environment",
                path.display(),
                key.to_ascii_uppercase()
            );
        }
    }
    println!("{}: ok ({} settings)", path.display(), file.len());
    Ok(())
}

/// Width of the help comments in the example.
const WRAP: usize = 88;

/// Every `serve` setting in definition order: its help as a comment, then the key at
/// its default, commented out.
pub fn example() -> String {
    let serve = serve_command();
    let mut out = String::from(
        "# tokengate configuration: `tokengate serve --config FILE`.\n\
         # Each key is a TOKENGATE_* variable without the prefix, in lower case; flags and\n\
         # environment variables override the file. Relative paths are relative to the\n\
         # working directory. Every setting is shown at its default, commented out.\n",
    );
    for arg in serve.get_arguments() {
        let Some(key) = arg
            .get_env()
            .and_then(|variable| variable.to_str())
            .and_then(file::key_of)
        else {
            continue;
        };
        out.push('\n');
        let help = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(ToString::to_string)
            .unwrap_or_default();
        for line in wrap(&help, WRAP - 2) {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "#{key} = {}", default_value(arg));
    }
    out
}

/// The default as TOML: a bare number or boolean, a list, or a quoted string.
fn default_value(arg: &clap::Arg) -> String {
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    let list = arg.get_value_delimiter().is_some() || matches!(arg.get_action(), ArgAction::Append);
    let flag = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
    let scalar = |text: &str| -> String {
        let number = text.parse::<i64>().is_ok()
            || (text.parse::<f64>().is_ok_and(f64::is_finite) && !text.contains(['e', 'E']));
        if number || (flag && matches!(text, "true" | "false")) {
            text.to_owned()
        } else {
            quote(text)
        }
    };
    match (list, defaults.as_slice()) {
        (false, []) if flag => "false".to_owned(),
        (true, values) => format!(
            "[{}]",
            values
                .iter()
                .map(|v| quote(v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (false, [value]) => scalar(value),
        (false, _) => {
            let name = arg
                .get_value_names()
                .and_then(|names| names.first())
                .map(ToString::to_string)
                .unwrap_or_else(|| key_name(arg));
            quote(&format!("<{name}>"))
        }
    }
}

fn key_name(arg: &clap::Arg) -> String {
    arg.get_id().as_str().to_ascii_uppercase()
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Words of `text` in lines of at most `width` characters, paragraphs kept.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            lines.push(String::new());
        }
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The example is itself a valid file: uncommented, every default parses.
    #[test]
    fn the_example_names_every_setting_and_parses() {
        let text = example();
        let uncommented: String = text
            .lines()
            .filter(|line| {
                line.strip_prefix('#')
                    .and_then(|rest| rest.split_once(" = "))
                    .is_some_and(|(key, _)| {
                        key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    })
            })
            .map(|line| format!("{}\n", line.trim_start_matches('#')))
            .filter(|line| !line.contains("\"<"))
            .collect();
        let parsed = ConfigFile::parse(Path::new("example"), &uncommented, &serve_command());
        assert!(parsed.is_ok(), "{parsed:?}\n{uncommented}");
        let serve = serve_command();
        for key in file::settings(&serve).keys() {
            assert!(
                text.contains(&format!("\n#{key} = ")),
                "{key} missing:\n{text}"
            );
        }
    }
}
