//! One error type for the whole registry. The domain never sees a driver's error:
//! backends translate theirs into an [`ErrorKind`] with a message that says what
//! failed and a hint that says what to do next.

use std::fmt;

/// Stable error categories; [`ErrorKind::code`] is the machine-readable code of SPEC §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad input: nothing was written.
    Validation,
    NotFound,
    /// The request contradicts what is registered (duplicate, in use, owned).
    Conflict,
    /// Refused because it would lose work.
    Unsafe,
    /// The registry cannot be reached, or its schema is not usable by this binary.
    Unavailable,
    Git,
    Internal,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Validation => "VALIDATION_ERROR",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::Conflict => "CONFLICT",
            ErrorKind::Unsafe => "UNSAFE",
            ErrorKind::Unavailable => "REGISTRY_UNAVAILABLE",
            ErrorKind::Git => "GIT_ERROR",
            ErrorKind::Internal => "INTERNAL_ERROR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Validation, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Conflict, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}
