//! One error type for the whole crate.
//!
//! Every message says what went wrong, where (file, row, column) and what to do about it, and
//! never quotes an input value: the values pseudolink reads are people's identifiers. Foreign
//! errors that may quote values (CSV, Arrow casts, serde) are wrapped here with their kind kept
//! and their text dropped.

use std::fmt;
use std::path::{Path, PathBuf};

/// A pseudolink error: a boxed [`ErrorKind`] so that `Result<T, Error>` stays one word wide.
pub struct Error(Box<ErrorKind>);

/// What went wrong. New kinds may be added in any release.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read, written, created or renamed.
    Io {
        /// What pseudolink was doing ("reading", "creating" …).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error (these never contain file contents).
        source: std::io::Error,
    },
    /// A configuration file has one or more problems; all of them are listed.
    Config {
        /// The config file.
        path: PathBuf,
        /// Every problem found, each a sentence naming the setting and the fix.
        problems: Vec<String>,
    },
    /// An input's columns do not match its config (a column the config names is missing or
    /// ambiguous): a configuration error, exit status 2 like the others.
    ConfigMismatch {
        /// The input.
        path: PathBuf,
        /// Every mismatch found, each a sentence.
        problems: Vec<String>,
    },
    /// The key file is missing, unreadable, malformed or not private enough.
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong and what to do; never any key byte.
        problem: String,
    },
    /// A structural problem in an input extract at a known place.
    Input {
        /// File, row and column.
        location: Location,
        /// What is wrong and what to do; never the value.
        problem: String,
    },
    /// A pseudonymised extract's manifest is missing, malformed or incompatible.
    Manifest {
        /// The extract.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The command line asked for something that cannot be done (for example an output that
    /// already exists).
    Usage(String),
    /// A check the run was asked to make did not pass (an audit limit exceeded).
    Check(String),
    /// Writing Parquet output failed.
    Output {
        /// The output file.
        path: PathBuf,
        /// The writer's message (it describes structure, never input values).
        problem: String,
    },
}

/// Where in an input a problem was found. Rows count data rows from 1, after any header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The input file.
    pub file: PathBuf,
    /// The 1-based data row, when known.
    pub row: Option<u64>,
    /// The column name, when known.
    pub column: Option<String>,
}

impl Location {
    /// A location naming only a file.
    pub fn file(path: &Path) -> Location {
        Location { file: path.to_path_buf(), row: None, column: None }
    }

    /// This location at a data row.
    pub fn at_row(mut self, row: u64) -> Location {
        self.row = Some(row);
        self
    }

    /// This location in a column.
    pub fn in_column(mut self, column: &str) -> Location {
        self.column = Some(column.to_string());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(row) = self.row {
            write!(f, ": row {}", group_digits(row))?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        Ok(())
    }
}

impl Error {
    /// What kind of error this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// The input location, for errors that have one.
    pub fn location(&self) -> Option<&Location> {
        match &*self.0 {
            ErrorKind::Input { location, .. } => Some(location),
            _ => None,
        }
    }

    /// Whether this is a usage or configuration error (exit status 2) rather than a failed run
    /// (exit status 1).
    pub fn is_usage(&self) -> bool {
        matches!(&*self.0, ErrorKind::Config { .. } | ErrorKind::ConfigMismatch { .. } | ErrorKind::Usage(_))
    }

    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::from(ErrorKind::Io { action, path: path.to_path_buf(), source })
    }

    pub(crate) fn config(path: &Path, problems: Vec<String>) -> Error {
        Error::from(ErrorKind::Config { path: path.to_path_buf(), problems })
    }

    pub(crate) fn key(path: &Path, problem: impl Into<String>) -> Error {
        Error::from(ErrorKind::Key { path: path.to_path_buf(), problem: problem.into() })
    }

    pub(crate) fn input(location: Location, problem: impl Into<String>) -> Error {
        Error::from(ErrorKind::Input { location, problem: problem.into() })
    }

    pub(crate) fn manifest(path: &Path, problem: impl Into<String>) -> Error {
        Error::from(ErrorKind::Manifest { path: path.to_path_buf(), problem: problem.into() })
    }

    pub(crate) fn usage(message: impl Into<String>) -> Error {
        Error::from(ErrorKind::Usage(message.into()))
    }

    pub(crate) fn check(message: impl Into<String>) -> Error {
        Error::from(ErrorKind::Check(message.into()))
    }

    pub(crate) fn output(path: &Path, problem: impl Into<String>) -> Error {
        Error::from(ErrorKind::Output { path: path.to_path_buf(), problem: problem.into() })
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            ErrorKind::Io { action, path, source } => {
                write!(f, "{}: {action} failed: {source}", path.display())
            }
            ErrorKind::Config { path, problems } => {
                let n = problems.len();
                write!(f, "{}: {n} problem{} in the config:", path.display(), if n == 1 { "" } else { "s" })?;
                for p in problems {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
            ErrorKind::ConfigMismatch { path, problems } => {
                write!(f, "{}: does not match the config:", path.display())?;
                for p in problems {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
            ErrorKind::Key { path, problem } => write!(f, "{}: key file: {problem}", path.display()),
            ErrorKind::Input { location, problem } => write!(f, "{location}: {problem}"),
            ErrorKind::Manifest { path, problem } => write!(f, "{}: {problem}", path.display()),
            ErrorKind::Usage(message) | ErrorKind::Check(message) => f.write_str(message),
            ErrorKind::Output { path, problem } => {
                write!(f, "{}: writing output failed: {problem}", path.display())
            }
        }
    }
}

/// The OS error of an I/O failure is already part of the message, so no error exposes a source
/// chain: printing one would repeat it.
impl std::error::Error for Error {}

/// A document's content is not as pseudolink writes it — a model, a manifest, a comparison in
/// a link config, a date format, a batch of pairs: one sentence naming the part and the fix,
/// never a value. The caller places it in an [`Error`] with the file or command concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(String);

impl Invalid {
    /// The sentence.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

impl From<String> for Invalid {
    fn from(s: String) -> Invalid {
        Invalid(s)
    }
}

impl From<&str> for Invalid {
    fn from(s: &str) -> Invalid {
        Invalid(s.to_string())
    }
}

impl From<Invalid> for String {
    fn from(i: Invalid) -> String {
        i.0
    }
}

impl std::ops::Deref for Invalid {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `1234567` → `"1,234,567"`: counts in messages are read by people.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1,000");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }

    #[test]
    fn input_errors_name_file_row_and_column() {
        let e = Error::input(Location::file(Path::new("extract.csv")).at_row(1_204).in_column("dob"), "not a date");
        assert_eq!(e.to_string(), "extract.csv: row 1,204, column `dob`: not a date");
        assert_eq!(e.location().and_then(|l| l.row), Some(1_204));
        assert!(!e.is_usage());
    }

    #[test]
    fn config_errors_list_every_problem() {
        let e = Error::config(Path::new("c.toml"), vec!["a".into(), "b".into()]);
        assert_eq!(e.to_string(), "c.toml: 2 problems in the config:\n  - a\n  - b");
        assert!(e.is_usage());
    }
}
