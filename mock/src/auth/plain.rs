//! SASL/PLAIN (RFC 4616), server side: one message `authzid NUL authcid NUL passwd`, checked
//! against the user table, with the messages of Kafka's `PlainSaslServer`.
//!
//! The user table keeps a salted SHA-256 of each password, not the password.

use super::Failure;
use sha2::{Digest, Sha256};

/// What the mock stores for a PLAIN user.
#[derive(Clone)]
pub(crate) struct Credential {
    salt: [u8; 16],
    digest: [u8; 32],
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("plain::Credential")
    }
}

impl Credential {
    pub fn derive(password: &str) -> Credential {
        let salt: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
        Credential {
            digest: digest(&salt, password.as_bytes()),
            salt,
        }
    }

    fn matches(&self, password: &[u8]) -> bool {
        super::same_bytes(&digest(&self.salt, password), &self.digest)
    }
}

fn digest(salt: &[u8], password: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(salt)
        .chain_update(password)
        .finalize()
        .into()
}

/// Verifies a client's PLAIN message; `Ok(user)` on success.
pub(crate) fn authenticate(
    message: &[u8],
    lookup: impl Fn(&str) -> Option<Credential>,
) -> Result<String, Failure> {
    let tokens: Vec<&[u8]> = message.split(|b| *b == 0).collect();
    if tokens.len() != 3 {
        return Err(Failure::Message(format!(
            "Invalid SASL/PLAIN response: expected 3 tokens, got {}",
            tokens.len()
        )));
    }
    let (authzid, user, password) = (tokens[0], tokens[1], tokens[2]);
    if user.is_empty() {
        return Err(Failure::Message(
            "Authentication failed: username not specified".into(),
        ));
    }
    if password.is_empty() {
        return Err(Failure::Message(
            "Authentication failed: password not specified".into(),
        ));
    }
    let invalid = || Failure::Message("Authentication failed: Invalid username or password".into());
    let user = std::str::from_utf8(user).map_err(|_| invalid())?;
    let credential = lookup(user).ok_or_else(invalid)?;
    if !credential.matches(password) {
        return Err(invalid());
    }
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err(Failure::Message(
            "Authentication failed: Client requested an authorization id that is different from username".into(),
        ));
    }
    Ok(user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(message: &[u8]) -> Result<String, Failure> {
        let alice = Credential::derive("alice-secret");
        authenticate(message, |u| (u == "alice").then(|| alice.clone()))
    }

    #[test]
    fn plain_messages_as_kafka_judges_them() {
        assert_eq!(
            check(b"\0alice\0alice-secret").ok().as_deref(),
            Some("alice")
        );
        assert_eq!(
            check(b"alice\0alice\0alice-secret").ok().as_deref(),
            Some("alice")
        );
        let message = |r: Result<String, Failure>| match r {
            Err(Failure::Message(m)) => m,
            other => panic!("expected a failure with a message, got {:?}", other.ok()),
        };
        assert!(message(check(b"\0alice\0wrong")).contains("Invalid username or password"));
        assert!(message(check(b"\0bob\0alice-secret")).contains("Invalid username or password"));
        assert!(message(check(b"alice-secret")).contains("expected 3 tokens, got 1"));
        assert!(message(check(b"\0\0pw")).contains("username not specified"));
        assert!(message(check(b"\0alice\0")).contains("password not specified"));
        assert!(message(check(b"bob\0alice\0alice-secret")).contains("authorization id"));
    }
}
