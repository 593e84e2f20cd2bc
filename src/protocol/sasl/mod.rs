//! SASL mechanisms as pure functions and I/O-free state machines: the bytes each mechanism puts
//! into SaslAuthenticate requests. The connection layer drives them over the socket.

pub mod scram;

/// The PLAIN message (RFC 4616) with an empty authorization id: `\0user\0password`.
pub fn plain_message(username: &str, password: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(username.len() + password.len() + 2);
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    out
}

/// The OAUTHBEARER client-first message (RFC 7628, KIP-255, KIP-342 extensions):
/// `n,,\x01auth=Bearer <token>\x01[key=value\x01]*\x01`.
pub fn oauthbearer_message(token: &str, extensions: &[(String, String)]) -> Vec<u8> {
    let mut s = format!("n,,\u{1}auth=Bearer {token}\u{1}");
    for (k, v) in extensions {
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('\u{1}');
    }
    s.push('\u{1}');
    s.into_bytes()
}

/// The OAUTHBEARER client's answer to a server error challenge (RFC 7628 §3.2.3): a single
/// `\x01`, after which the server fails the authentication.
pub const OAUTHBEARER_ERROR_ACK: &[u8] = b"\x01";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(plain_message("alice", "pw"), b"\0alice\0pw");
        assert_eq!(
            oauthbearer_message("t.k.", &[("traceId".into(), "1".into())]),
            b"n,,\x01auth=Bearer t.k.\x01traceId=1\x01\x01"
        );
    }
}
