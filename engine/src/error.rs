//! The one error type of the crate: bad input is rejected at the boundary with a message
//! that says what was expected, never by a panic deep inside a kernel.

use thiserror::Error;

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// Two buffers that must have the same length do not.
    #[error("length mismatch: {what} has {found} elements, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// A buffer that holds whole columns of a matrix is not a multiple of the column length.
    #[error("{what} has {found} elements, not a whole number of columns of length {column}")]
    NotWholeColumns {
        what: &'static str,
        column: usize,
        found: usize,
    },
    /// A scalar parameter lies outside the range where the mathematics is defined.
    #[error("parameter {name} = {value} is outside {range}")]
    ParameterOutOfRange {
        name: &'static str,
        value: f64,
        range: &'static str,
    },
    /// An environment variable holds a value that cannot be used.
    #[error("environment variable {name}={value:?} is not {expected}")]
    InvalidEnv {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// The catalogue's text cannot be read as a catalogue.
    #[error("catalogue line {line}: {problem}")]
    Catalogue { line: usize, problem: String },
    /// A claim ID that the registry does not know.
    #[error("unknown claim ID {0:?}; `dnn-proofs --list` prints the known ones")]
    UnknownClaim(String),
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Ok(())` when `found == expected`, else the typed length error naming `what`.
pub fn check_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what,
            expected,
            found,
        })
    }
}
