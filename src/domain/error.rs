//! Validation errors for domain values.

/// A value could not be turned into a domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// A value was outside its allowed range or form; `field` names what was being parsed.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field or type being parsed, e.g. `bbox` or `date`.
        field: &'static str,
        /// Why the value was refused, written for the person who supplied it.
        reason: String,
    },
}

impl DomainError {
    /// Builds an [`DomainError::Invalid`] for `field`.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Invalid { field, .. } => field,
        }
    }
}

/// Result alias for domain parsing.
pub type DomainResult<T> = Result<T, DomainError>;
