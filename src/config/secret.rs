//! [`Secret`]: a string that never shows itself in `Debug`, `Display`, errors or logs.

use std::fmt;

/// A password, token, private key or JAAS configuration: printed as `[redacted]` by `Debug` and
/// `Display`, so it cannot leak through a config dump, an error message or a tracing field.
///
/// ```
/// use ferrokafka::config::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Only for the code that puts it on the wire; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

// Which keys are secret and what stands in for their values live in `error` (a leaf the config
// layer builds on): `Error::config` redacts them whoever builds the error.
pub(crate) use crate::error::{is_secret_key, REDACTED};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("p4ss");
        assert!(!format!("{s:?}{s}{:?}", Some(&s)).contains("p4ss"));
        assert_eq!(s.expose(), "p4ss");
        assert!(is_secret_key("sasl.jaas.config"));
        assert!(!is_secret_key("sasl.mechanism"));
    }
}
