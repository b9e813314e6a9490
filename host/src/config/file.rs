//! The configuration file (`--config FILE`, `tokengate config check FILE`): a flat TOML
//! table whose keys are the `TOKENGATE_*` variables without the prefix, in lower case.
//!
//! The keys are read from the clap definitions (every argument with an `env`), so a new
//! setting is a key as soon as it has a variable. The file's values become clap's
//! defaults for that run, which gives the precedence flag > environment > file > default.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};
use toml::de::{DeTable, DeValue};

use super::{ConfigError, env};

/// Prefix of every setting's variable; a file key is the rest, in lower case.
const ENV_PREFIX: &str = "TOKENGATE_";

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML (the parser's message names the line).
    #[error("{}: {source}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: Box<toml::de::Error>,
    },
    /// A key or its value is wrong.
    #[error("{}:{line}: {key}: {message}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// The key as written.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// One setting in the file.
#[derive(Debug, Clone)]
struct Entry {
    /// 1-based line of the key.
    line: usize,
    /// The values as clap reads them from the command line (several for a list).
    values: Vec<String>,
    /// Written as a TOML boolean.
    boolean: bool,
}

/// A parsed configuration file whose keys and values have been checked against the
/// `serve` settings.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
}

/// The file key of a variable: `TOKENGATE_BODY_LIMIT` → `body_limit`.
pub fn key_of(variable: &str) -> Option<String> {
    variable
        .strip_prefix(ENV_PREFIX)
        .filter(|_| variable != env::CONFIG)
        .map(str::to_ascii_lowercase)
}

/// The arguments of `command` that the file can set, by key.
pub fn settings(command: &Command) -> BTreeMap<String, &Arg> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let variable = arg.get_env()?.to_str()?;
            Some((key_of(variable)?, arg))
        })
        .collect()
}

impl ConfigFile {
    /// Reads `path` and checks every key and value against `serve`'s arguments.
    pub fn read(path: &Path, serve: &Command) -> Result<Self, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text, serve)
    }

    /// [`Self::read`] on text already read.
    pub fn parse(path: &Path, text: &str, serve: &Command) -> Result<Self, FileError> {
        let table = DeTable::parse(text).map_err(|source| FileError::Syntax {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let known = settings(serve);
        let mut entries = BTreeMap::new();
        for (key, value) in table.get_ref() {
            let line = line_of(text, key.span().start);
            let name = key.get_ref().to_string();
            let bad = |message: String| FileError::Key {
                path: path.to_owned(),
                line,
                key: name.clone(),
                message,
            };
            if let DeValue::Table(_) = value.get_ref() {
                return Err(bad(
                    "tables are not read: the file is one flat table of settings".into(),
                ));
            }
            let Some(arg) = known.get(name.as_str()) else {
                return Err(bad(unknown_key(&name, &known)));
            };
            let entry = Entry {
                line,
                boolean: matches!(value.get_ref(), DeValue::Boolean(_)),
                values: values(value.get_ref()).map_err(bad)?,
            };
            check_value(arg, &entry).map_err(bad)?;
            entries.insert(name, entry);
        }
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `command` with the file's values as the defaults of the arguments it has
    /// (other commands read only some of the settings: `token list` its `data_dir`).
    pub fn apply(&self, command: Command) -> Command {
        let ids: Vec<(String, clap::Id)> = settings(&command)
            .into_iter()
            .filter(|(key, _)| self.entries.contains_key(key))
            .map(|(key, arg)| (key, arg.get_id().clone()))
            .collect();
        ids.into_iter().fold(command, |command, (key, id)| {
            let Some(entry) = self.entries.get(&key) else {
                return command;
            };
            let values: Vec<clap::builder::OsStr> =
                entry.values.iter().map(|v| v.clone().into()).collect();
            // A default satisfies `required` only once `required` is off.
            command.mut_arg(id, |arg| arg.required(false).default_values(values))
        })
    }

    /// Which of the settings parsed into `matches` (by `command`) came from the file.
    pub fn origins(&self, command: &Command, matches: &clap::ArgMatches) -> Origins {
        let flags = settings(command)
            .into_iter()
            .filter_map(|(key, arg)| {
                let entry = self.entries.get(&key)?;
                let id = arg.get_id().as_str();
                let from_file = matches.try_get_raw(id).is_ok()
                    && matches.value_source(id) == Some(clap::parser::ValueSource::DefaultValue);
                let long = arg.get_long()?.to_owned();
                from_file.then_some((long, (key, entry.line)))
            })
            .collect();
        Origins {
            path: self.path.clone(),
            flags,
        }
    }

    /// The keys the file sets, with their lines.
    pub fn keys(&self) -> impl Iterator<Item = (&str, usize)> {
        self.entries
            .iter()
            .map(|(key, entry)| (key.as_str(), entry.line))
    }

    /// How many settings the file holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file holds no setting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The settings of one run that came from the configuration file, by flag, so that a
/// validation error can point at the line that set the value.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    path: PathBuf,
    flags: BTreeMap<String, (String, usize)>,
}

impl Origins {
    /// `error`, located at its line when the file set the value.
    pub fn locate(&self, error: ConfigError) -> anyhow::Error {
        match self.flags.get(error.flag) {
            Some((key, line)) => anyhow::anyhow!(
                "{}:{line}: {key}: {} ({}, --{})",
                self.path.display(),
                error.message,
                error.variable,
                error.flag
            ),
            None => error.into(),
        }
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

/// The message for a key that is not a setting, with the nearest one when it is close.
fn unknown_key(name: &str, known: &BTreeMap<String, &Arg>) -> String {
    let normalized = name.to_ascii_lowercase().replace('-', "_");
    let normalized = normalized
        .strip_prefix(&ENV_PREFIX.to_ascii_lowercase())
        .unwrap_or(&normalized);
    if known.contains_key(normalized) {
        return format!("unknown key; the setting is spelled `{normalized}`");
    }
    "unknown key (`tokengate config example` lists every key)".to_owned()
}

/// A TOML value as the strings clap reads from a command line.
fn values(value: &DeValue<'_>) -> Result<Vec<String>, String> {
    match value {
        DeValue::Array(items) => items
            .iter()
            .map(|item| scalar(item.get_ref()))
            .collect::<Result<_, _>>(),
        other => Ok(vec![scalar(other)?]),
    }
}

fn scalar(value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(text) => Ok(text.to_string()),
        DeValue::Integer(integer) => i128::from_str_radix(integer.as_str(), integer.radix())
            .map(|n| n.to_string())
            .map_err(|err| format!("integer out of range: {err}")),
        DeValue::Float(float) => Ok(float.as_str().to_owned()),
        DeValue::Boolean(flag) => Ok(flag.to_string()),
        DeValue::Datetime(_) => Err("a date is not a setting's value; quote it".into()),
        DeValue::Array(_) => Err("a list inside a list is not a setting's value".into()),
        DeValue::Table(_) => Err("a table inside a list is not a setting's value".into()),
    }
}

/// Checks a value with the argument's own parser, as clap would on the command line.
fn check_value(arg: &Arg, entry: &Entry) -> Result<(), String> {
    let flag = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
    if flag {
        return match (entry.boolean, entry.values.len()) {
            (true, 1) => Ok(()),
            _ => Err("expected true or false".into()),
        };
    }
    let many = arg
        .get_num_args()
        .is_some_and(|range| range.max_values() > 1)
        || arg.get_value_delimiter().is_some()
        || matches!(arg.get_action(), ArgAction::Append);
    if entry.values.len() != 1 && !many {
        return Err("expected one value, not a list".into());
    }
    let long = arg.get_long().unwrap_or_else(|| arg.get_id().as_str());
    let probe = Command::new("config").no_binary_name(true).arg(alone(arg));
    let mut argv: Vec<OsString> = Vec::new();
    for value in &entry.values {
        argv.push(format!("--{long}").into());
        argv.push(value.into());
    }
    probe
        .try_get_matches_from(argv)
        .map(drop)
        .map_err(|err| clap_message(&err))
}

/// `arg` without its variable and its relations to other arguments, so that its value
/// can be parsed on its own.
fn alone(arg: &Arg) -> Arg {
    use clap::builder::Resettable::Reset;
    arg.clone()
        .env(None)
        .required(false)
        .requires(Reset)
        .conflicts_with(Reset)
        .required_unless_present(Reset)
        .overrides_with(Reset)
        .group(Reset)
}

/// clap's message without its `error:` prefix and `--help` advice, on one line.
pub fn clap_message(err: &clap::Error) -> String {
    err.render()
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .map(|line| line.strip_prefix("error: ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServeArgs;
    use clap::Args as _;

    fn serve_with_env() -> Command {
        ServeArgs::augment_args(Command::new("serve"))
    }

    fn parse(text: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse(Path::new("t.toml"), text, &serve_with_env()).map_err(|e| e.to_string())
    }

    #[test]
    fn keys_are_the_variables_without_prefix() {
        assert_eq!(
            key_of("TOKENGATE_BODY_LIMIT").as_deref(),
            Some("body_limit")
        );
        assert_eq!(key_of(env::CONFIG), None);
        let serve = serve_with_env();
        let keys = settings(&serve);
        assert!(keys.contains_key("upstream_authorization"));
        assert!(keys.contains_key("listen"));
        assert!(!keys.contains_key("config"));
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let err = parse("listen = \"127.0.0.1:1\"\n\nbody-limit = 5\n").err();
        assert_eq!(
            err.as_deref(),
            Some("t.toml:3: body-limit: unknown key; the setting is spelled `body_limit`")
        );
        let err = parse("# c\nnope = 1\n").err().unwrap_or_default();
        assert!(err.starts_with("t.toml:2: nope: unknown key"), "{err}");
    }

    #[test]
    fn bad_values_name_the_line() {
        let err = parse("body_limit = \"lots\"\n").err().unwrap_or_default();
        assert!(
            err.starts_with("t.toml:1: body_limit: invalid value 'lots'"),
            "{err}"
        );
        let err = parse("passthrough = \"yes\"\n").err().unwrap_or_default();
        assert_eq!(err, "t.toml:1: passthrough: expected true or false");
        let err = parse("listen = [\"a\", \"b\"]\n").err().unwrap_or_default();
        assert_eq!(err, "t.toml:1: listen: expected one value, not a list");
        let err = parse("[serve]\nlisten = 1\n").err().unwrap_or_default();
        assert!(
            err.starts_with("t.toml:1: serve: tables are not read"),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse("listen = \n").err().unwrap_or_default();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn values_become_defaults_under_flags() {
        use clap::FromArgMatches as _;
        let file = parse(
            "upstream = \"http://up:1\"\nadmins = [\"a\", \"b\"]\npassthrough = true\n\
             upstream_timeout = 2\nlisten = \"127.0.0.1:9\"\n",
        );
        let Ok(file) = file else {
            panic!("{file:?}");
        };
        let matches =
            file.apply(serve_with_env())
                .try_get_matches_from(["serve", "--listen", "127.0.0.1:7"]);
        let args = matches
            .map_err(|e| e.to_string())
            .and_then(|m| ServeArgs::from_arg_matches(&m).map_err(|e| e.to_string()));
        let Ok(args) = args else {
            panic!("{args:?}");
        };
        assert_eq!(args.upstream, "http://up:1");
        assert_eq!(args.admins, ["a", "b"]);
        assert!(args.passthrough);
        assert_eq!(args.upstream_timeout, 2.0);
        assert_eq!(args.listen, "127.0.0.1:7", "a flag wins over the file");
    }
}
