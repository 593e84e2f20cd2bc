//! The SCRAM client (RFC 5802, RFC 7677; SCRAM-SHA-256 and SCRAM-SHA-512 as Kafka uses them):
//! an I/O-free state machine, and the parsers of the server's two messages.
//!
//! ```text
//!  ScramClient::new ──client_first()──► WaitServerFirst ──handle_server_first()──► WaitServerFinal
//!                                                                 │ client-final message     │
//!                                                                 ▼                          ▼
//!                                                       (sent by the caller)   handle_server_final()
//!                                                                                 ──► Done (server verified)
//! ```
//! The nonce comes from the operating system's CSPRNG; the server's signature is checked in
//! constant time; every parse error is an error value, never a panic.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use std::fmt;

/// Smallest iteration count accepted (Kafka's minimum for SCRAM credentials).
pub const MIN_ITERATIONS: u32 = 4096;
/// Largest iteration count accepted, so a hostile server cannot make the client spin.
pub const MAX_ITERATIONS: u32 = 1_000_000;
/// Largest salt accepted (decoded bytes).
const MAX_SALT: usize = 1024;

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

/// What went wrong in a SCRAM exchange. The text never includes the password or keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// The server's message is not valid SCRAM.
    Malformed(String),
    /// The server answered `e=<value>`.
    Server(String),
    /// The server's signature does not match: it does not know the password (or a man in the
    /// middle answered).
    ServerSignatureMismatch,
    /// A method was called in the wrong state.
    State(&'static str),
    /// The operating system's random number generator failed.
    Random,
}

impl fmt::Display for ScramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScramError::Malformed(m) => write!(f, "malformed SCRAM server message: {m}"),
            ScramError::Server(e) => write!(f, "the server ended SCRAM with error {e:?}"),
            ScramError::ServerSignatureMismatch => {
                f.write_str("the server's SCRAM signature does not verify")
            }
            ScramError::State(s) => write!(f, "SCRAM state error: {s}"),
            ScramError::Random => f.write_str("the system random number generator failed"),
        }
    }
}

impl std::error::Error for ScramError {}

/// `r=`, `s=`, `i=` of the server-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFirst {
    /// The combined nonce (client nonce + server nonce).
    pub nonce: String,
    /// The decoded salt.
    pub salt: Vec<u8>,
    /// The iteration count.
    pub iterations: u32,
}

fn malformed(m: impl Into<String>) -> ScramError {
    ScramError::Malformed(m.into())
}

/// Parses `r=<nonce>,s=<salt>,i=<iterations>[,extensions]`. Bounded: iterations within
/// [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`], salt at most 1 KiB.
pub fn parse_server_first(msg: &[u8]) -> Result<ServerFirst, ScramError> {
    let s = std::str::from_utf8(msg).map_err(|_| malformed("server-first is not UTF-8"))?;
    if s.starts_with("m=") {
        return Err(malformed("server-first asks for a mandatory extension"));
    }
    if let Some(e) = s.strip_prefix("e=") {
        return Err(ScramError::Server(e.chars().take(200).collect()));
    }
    let mut parts = s.split(',');
    let nonce = parts
        .next()
        .and_then(|p| p.strip_prefix("r="))
        .ok_or_else(|| malformed("server-first does not start with r="))?;
    if nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(malformed("server-first nonce is empty or not printable"));
    }
    let salt = parts
        .next()
        .and_then(|p| p.strip_prefix("s="))
        .ok_or_else(|| malformed("server-first lacks s= after r="))?;
    if salt.len() > MAX_SALT * 4 / 3 + 4 {
        return Err(malformed("server-first salt is too long"));
    }
    let salt = B64
        .decode(salt)
        .map_err(|_| malformed("server-first salt is not base64"))?;
    if salt.is_empty() {
        return Err(malformed("server-first salt is empty"));
    }
    let iterations = parts
        .next()
        .and_then(|p| p.strip_prefix("i="))
        .ok_or_else(|| malformed("server-first lacks i= after s="))?;
    let iterations: u32 = iterations
        .parse()
        .map_err(|_| malformed("server-first iteration count is not a number"))?;
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(malformed(format!(
            "server-first iteration count {iterations} is outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"
        )));
    }
    Ok(ServerFirst {
        nonce: nonce.to_owned(),
        salt,
        iterations,
    })
}

/// The server-final message: `v=<signature>` or `e=<error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFinal {
    /// The decoded server signature.
    Verifier(Vec<u8>),
    /// The server's error value.
    Error(String),
}

/// Parses `v=<base64>[,extensions]` or `e=<value>`.
pub fn parse_server_final(msg: &[u8]) -> Result<ServerFinal, ScramError> {
    let s = std::str::from_utf8(msg).map_err(|_| malformed("server-final is not UTF-8"))?;
    let first = s.split(',').next().unwrap_or("");
    if let Some(e) = first.strip_prefix("e=") {
        return Ok(ServerFinal::Error(e.chars().take(200).collect()));
    }
    let v = first
        .strip_prefix("v=")
        .ok_or_else(|| malformed("server-final is neither v= nor e="))?;
    if v.len() > 256 {
        return Err(malformed("server-final signature is too long"));
    }
    let v = B64
        .decode(v)
        .map_err(|_| malformed("server-final signature is not base64"))?;
    Ok(ServerFinal::Verifier(v))
}

/// `saslname` escaping of a user name: `=` → `=3D`, `,` → `=2C`.
fn sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

enum State {
    Initial,
    WaitServerFirst,
    WaitServerFinal { server_signature: Vec<u8> },
    Done,
    Failed,
}

/// A SCRAM client exchange. Holds the password only until the salted password is derived.
pub struct ScramClient {
    hash: ScramHash,
    password: Vec<u8>,
    client_first_bare: String,
    client_nonce: String,
    state: State,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client for `user`/`password` with a fresh 32-byte nonce from the OS CSPRNG.
    pub fn new(hash: ScramHash, user: &str, password: &str) -> Result<ScramClient, ScramError> {
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw).map_err(|_| ScramError::Random)?;
        // Base64 is printable and has no ',', as RFC 5802 requires of a nonce.
        Ok(ScramClient::with_nonce(
            hash,
            user,
            password,
            B64.encode(raw),
        ))
    }

    /// A client with a given nonce (for tests with RFC vectors).
    pub fn with_nonce(hash: ScramHash, user: &str, password: &str, nonce: String) -> ScramClient {
        ScramClient {
            hash,
            password: password.as_bytes().to_vec(),
            client_first_bare: format!("n={},r={nonce}", sasl_name(user)),
            client_nonce: nonce,
            state: State::Initial,
        }
    }

    /// The client-first message (`n,,n=<user>,r=<nonce>`).
    pub fn client_first(&mut self) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, State::Initial) {
            return Err(ScramError::State("client_first called twice"));
        }
        self.state = State::WaitServerFirst;
        Ok(format!("n,,{}", self.client_first_bare).into_bytes())
    }

    /// Takes the server-first message and returns the client-final message (with the proof).
    pub fn handle_server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, State::WaitServerFirst) {
            return Err(ScramError::State("server-first not expected now"));
        }
        self.state = State::Failed;
        let sf = parse_server_first(msg)?;
        if !sf.nonce.starts_with(&self.client_nonce) || sf.nonce.len() <= self.client_nonce.len() {
            return Err(malformed("server nonce does not extend the client nonce"));
        }
        // The bytes were checked to be UTF-8 by the parser.
        let server_first = String::from_utf8_lossy(msg);
        let without_proof = format!("c=biws,r={}", sf.nonce);
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, server_first, without_proof
        );
        let salted = self.salted_password(&sf.salt, sf.iterations)?;
        std::mem::take(&mut self.password);
        let client_key = self.hmac(&salted, b"Client Key")?;
        let stored_key = self.digest(&client_key);
        let client_signature = self.hmac(&stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = self.hmac(&salted, b"Server Key")?;
        let server_signature = self.hmac(&server_key, auth_message.as_bytes())?;
        self.state = State::WaitServerFinal { server_signature };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Takes the server-final message and verifies the server's signature (constant time).
    pub fn handle_server_final(&mut self, msg: &[u8]) -> Result<(), ScramError> {
        let State::WaitServerFinal { server_signature } =
            std::mem::replace(&mut self.state, State::Failed)
        else {
            return Err(ScramError::State("server-final not expected now"));
        };
        match parse_server_final(msg)? {
            ServerFinal::Error(e) => Err(ScramError::Server(e)),
            ServerFinal::Verifier(v) => {
                let same = v.len() == server_signature.len()
                    && v.iter()
                        .zip(&server_signature)
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0;
                if same {
                    self.state = State::Done;
                    Ok(())
                } else {
                    Err(ScramError::ServerSignatureMismatch)
                }
            }
        }
    }

    /// Whether the exchange finished with a verified server.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn salted_password(&self, salt: &[u8], iterations: u32) -> Result<Vec<u8>, ScramError> {
        Ok(match self.hash {
            ScramHash::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(&self.password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramHash::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(&self.password, salt, iterations, &mut out);
                out.to_vec()
            }
        })
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, ScramError> {
        // HMAC accepts keys of any length; the error arm is unreachable but not unwrapped.
        let bad_key = |_| ScramError::State("HMAC key rejected");
        Ok(match self.hash {
            ScramHash::Sha256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(key).map_err(bad_key)?;
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha512 => {
                let mut m = Hmac::<Sha512>::new_from_slice(key).map_err(bad_key)?;
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        })
    }

    fn digest(&self, data: &[u8]) -> Vec<u8> {
        match self.hash {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3's SCRAM-SHA-256 example.
    #[test]
    fn rfc7677_vector() {
        let mut c = ScramClient::with_nonce(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(
            c.client_first().unwrap(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let cf = c
            .handle_server_first(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(cf).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.handle_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(c.is_done());
    }

    #[test]
    fn wrong_server_signature_and_errors() {
        let mut c = ScramClient::with_nonce(ScramHash::Sha512, "u,=", "pw", "abc".into());
        assert_eq!(c.client_first().unwrap(), b"n,,n=u=2C=3D,r=abc");
        c.handle_server_first(b"r=abcdef,s=c2FsdA==,i=4096")
            .unwrap();
        assert_eq!(
            c.handle_server_final(b"v=AAAA"),
            Err(ScramError::ServerSignatureMismatch)
        );
        assert!(c.handle_server_final(b"v=AAAA").is_err());
        let mut c = ScramClient::with_nonce(ScramHash::Sha256, "u", "pw", "abc".into());
        c.client_first().unwrap();
        // The server must extend our nonce.
        assert!(c
            .handle_server_first(b"r=xyzdef,s=c2FsdA==,i=4096")
            .is_err());
        let mut c = ScramClient::with_nonce(ScramHash::Sha256, "u", "pw", "abc".into());
        c.client_first().unwrap();
        c.handle_server_first(b"r=abcd,s=c2FsdA==,i=4096").unwrap();
        assert_eq!(
            c.handle_server_final(b"e=invalid-proof"),
            Err(ScramError::Server("invalid-proof".into()))
        );
    }

    #[test]
    fn malformed_server_first_is_an_error() {
        for bad in [
            &b""[..],
            b"r=",
            b"r=abc",
            b"r=abc,s=",
            b"r=abc,s=!!!,i=4096",
            b"r=abc,s=c2FsdA==,i=10",
            b"r=abc,s=c2FsdA==,i=99999999999",
            b"r=abc,s=c2FsdA==,i=",
            b"s=c2FsdA==,r=abc,i=4096",
            b"m=x,r=abc,s=c2FsdA==,i=4096",
            b"\xff\xfe",
            b"e=other-error",
        ] {
            assert!(parse_server_first(bad).is_err(), "{bad:?}");
        }
        for bad in [&b""[..], b"x=1", b"v=!!", b"\xff"] {
            assert!(parse_server_final(bad).is_err(), "{bad:?}");
        }
        assert!(ScramClient::new(ScramHash::Sha256, "u", "p").is_ok());
    }
}
