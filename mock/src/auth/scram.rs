//! SCRAM-SHA-256 and SCRAM-SHA-512, server side (RFC 5802, RFC 7677), as Kafka's
//! `ScramSaslServer` runs them: client-first → server-first (nonce, salt, 4096 iterations) →
//! client-final (proof checked against the stored key) → server-final (the server signature).
//!
//! Only the derived keys are kept per user (salt, iterations, StoredKey, ServerKey), as a broker
//! keeps SCRAM credentials: the password is not needed to verify a proof.

use super::Failure;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// Kafka's minimum (and the harness's) iteration count for both hashes.
pub(crate) const ITERATIONS: u32 = 4096;

/// The longest client message accepted: a user name and a nonce, or a proof, never come near.
const MAX_MESSAGE: usize = 8 * 1024;

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        match self {
            Hash::Sha256 => Hmac::<Sha256>::new_from_slice(key)
                .map(|m| m.chain_update(data).finalize().into_bytes().to_vec())
                .unwrap_or_default(),
            Hash::Sha512 => Hmac::<Sha512>::new_from_slice(key)
                .map(|m| m.chain_update(data).finalize().into_bytes().to_vec())
                .unwrap_or_default(),
        }
    }

    fn h(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password.as_bytes(), salt, iterations)
                    .to_vec()
            }
            Hash::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password.as_bytes(), salt, iterations)
                    .to_vec()
            }
        }
    }
}

/// What a broker stores for one user and one SCRAM mechanism.
#[derive(Clone)]
pub(crate) struct Credential {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Derives the credential from a password with a fresh random salt.
    pub fn derive(hash: Hash, password: &str) -> Credential {
        let salt: Vec<u8> = (0..16).map(|_| fastrand::u8(..)).collect();
        let salted = hash.salted_password(password, &salt, ITERATIONS);
        let client_key = hash.hmac(&salted, b"Client Key");
        Credential {
            stored_key: hash.h(&client_key),
            server_key: hash.hmac(&salted, b"Server Key"),
            salt,
            iterations: ITERATIONS,
        }
    }
}

/// One SCRAM exchange on one connection.
#[derive(Debug)]
pub(crate) enum Exchange {
    /// Waiting for client-first.
    First,
    /// Server-first sent; waiting for client-final.
    Final {
        credential: Credential,
        /// `c=` the client must echo: base64 of its GS2 header.
        channel_binding: String,
        nonce: String,
        /// client-first-bare "," server-first: the first part of the AuthMessage.
        auth_prefix: String,
    },
}

/// The answer to one client message: the next server message, and whether the exchange is done.
pub(crate) struct Step {
    pub token: Vec<u8>,
    pub complete: bool,
}

impl Exchange {
    /// Evaluates the client's message. `lookup` finds a user's credential for this mechanism.
    pub fn evaluate(
        &mut self,
        hash: Hash,
        message: &[u8],
        lookup: impl Fn(&str) -> Option<Credential>,
    ) -> Result<Step, Failure> {
        if message.len() > MAX_MESSAGE {
            return Err(Failure::Generic("message too long"));
        }
        let text = std::str::from_utf8(message).map_err(|_| Failure::Generic("not UTF-8"))?;
        match std::mem::replace(self, Exchange::First) {
            Exchange::First => {
                let (next, token) = client_first(text, lookup)?;
                *self = next;
                Ok(Step {
                    token,
                    complete: false,
                })
            }
            Exchange::Final {
                credential,
                channel_binding,
                nonce,
                auth_prefix,
            } => {
                let token = client_final(
                    hash,
                    text,
                    &credential,
                    &channel_binding,
                    &nonce,
                    &auth_prefix,
                )?;
                Ok(Step {
                    token,
                    complete: true,
                })
            }
        }
    }
}

/// `gs2-header client-first-bare`: `n,,n=user,r=nonce[,ext…]` (or `y,,` / `n,a=authzid,`).
fn client_first(
    text: &str,
    lookup: impl Fn(&str) -> Option<Credential>,
) -> Result<(Exchange, Vec<u8>), Failure> {
    let (cbind, rest) = text
        .split_once(',')
        .ok_or(Failure::Generic("no GS2 header"))?;
    // `p=…` asks for channel binding, which Kafka does not offer either.
    if cbind != "n" && cbind != "y" {
        return Err(Failure::Generic("channel binding requested"));
    }
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or(Failure::Generic("no GS2 header"))?;
    let gs2_header = &text[..text.len() - bare.len()];
    let mut attrs = bare.split(',');
    let user = attrs
        .next()
        .and_then(|a| a.strip_prefix("n="))
        .and_then(sasl_name)
        .ok_or(Failure::Generic("no user name"))?;
    let client_nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b','))
        .ok_or(Failure::Generic("no client nonce"))?;
    // Extensions (Kafka's `tokenauth=…`) are ignored; a mandatory `m=` one cannot be honoured.
    if bare.split(',').any(|a| a.starts_with("m=")) {
        return Err(Failure::Generic("mandatory extension"));
    }
    // An unknown user fails like a wrong password: the client is not told which it was.
    let credential = lookup(&user).ok_or(Failure::Generic("unknown user"))?;
    if let Some(authzid) = authzid.strip_prefix("a=") {
        if sasl_name(authzid).as_deref() != Some(user.as_str()) {
            return Err(Failure::Message(
                "Authentication failed: Client requested an authorization id that is different from username".into(),
            ));
        }
    } else if !authzid.is_empty() {
        return Err(Failure::Generic("malformed authorization id"));
    }
    let server_nonce: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
    let nonce = format!("{client_nonce}{server_nonce}");
    let server_first = format!(
        "r={nonce},s={},i={}",
        B64.encode(&credential.salt),
        credential.iterations
    );
    let auth_prefix = format!("{bare},{server_first}");
    Ok((
        Exchange::Final {
            credential,
            channel_binding: B64.encode(gs2_header),
            nonce,
            auth_prefix,
        },
        server_first.into_bytes(),
    ))
}

/// `c=biws,r=nonce[,ext…],p=proof` → `v=signature`.
fn client_final(
    hash: Hash,
    text: &str,
    credential: &Credential,
    channel_binding: &str,
    nonce: &str,
    auth_prefix: &str,
) -> Result<Vec<u8>, Failure> {
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or(Failure::Generic("no proof"))?;
    let mut attrs = without_proof.split(',');
    if attrs.next().and_then(|a| a.strip_prefix("c=")) != Some(channel_binding) {
        return Err(Failure::Generic("channel binding does not match"));
    }
    // Kafka checks that the nonce *ends with* server-first's nonce, not equality: librdkafka
    // (2.0 at least) sends its client nonce once more in front of it, and Kafka accepts that.
    if !attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .is_some_and(|r| r.ends_with(nonce))
    {
        return Err(Failure::Generic("nonce does not match"));
    }
    let proof = B64
        .decode(proof)
        .map_err(|_| Failure::Generic("proof not base64"))?;
    let auth_message = format!("{auth_prefix},{without_proof}");
    let client_signature = hash.hmac(&credential.stored_key, auth_message.as_bytes());
    if proof.len() != client_signature.len() {
        return Err(Failure::Generic("proof of the wrong length"));
    }
    let client_key: Vec<u8> = proof
        .iter()
        .zip(&client_signature)
        .map(|(p, s)| p ^ s)
        .collect();
    if !super::same_bytes(&hash.h(&client_key), &credential.stored_key) {
        return Err(Failure::Generic("proof does not verify"));
    }
    let signature = hash.hmac(&credential.server_key, auth_message.as_bytes());
    Ok(format!("v={}", B64.encode(signature)).into_bytes())
}

/// A `saslname` (RFC 5802): `=2C` is `,` and `=3D` is `=`; any other `=` is malformed.
fn sasl_name(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3)?;
        out.push(match esc {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example, with the server nonce and salt it uses.
    #[test]
    fn rfc_7677_example_proof_and_signature() {
        let hash = Hash::Sha256;
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let salted = hash.salted_password("pencil", &salt, 4096);
        let client_key = hash.hmac(&salted, b"Client Key");
        let credential = Credential {
            stored_key: hash.h(&client_key),
            server_key: hash.hmac(&salted, b"Server Key"),
            salt,
            iterations: 4096,
        };
        let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first = format!("r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
        let out = client_final(
            hash,
            &format!("c=biws,r={nonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            &credential,
            "biws",
            nonce,
            &format!("{bare},{server_first}"),
        )
        .expect("the RFC's proof verifies");
        assert_eq!(
            out,
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec()
        );
        let bad = client_final(
            hash,
            &format!("c=biws,r={nonce},p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            &credential,
            "biws",
            nonce,
            &format!("{bare},{server_first}"),
        );
        assert!(matches!(bad, Err(Failure::Generic(_))));
        // librdkafka's form: its client nonce once more in front of the full nonce.
        let doubled = client_final(
            hash,
            &format!("c=biws,r=rOprNGfwEbeRWgbNEkqO{nonce},p=AAAA"),
            &credential,
            "biws",
            nonce,
            &format!("{bare},{server_first}"),
        );
        assert!(matches!(
            doubled,
            Err(Failure::Generic("proof of the wrong length"))
        ));
    }

    #[test]
    fn sasl_names_unescape_and_reject_stray_equals() {
        assert_eq!(sasl_name("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(sasl_name("a=4"), None);
        assert_eq!(sasl_name(""), None);
    }

    #[test]
    fn malformed_client_first_messages_fail_without_panicking() {
        let lookup = |_: &str| Some(Credential::derive(Hash::Sha256, "pw"));
        for m in [
            "",
            "n",
            "n,,",
            "p=tls-unique,,n=u,r=x",
            "n,,n=u",
            "n,,r=x,n=u",
            "n,,n=u,r=",
            "n,,n=u,r=x,m=ext",
            "n,b=x,n=u,r=x",
        ] {
            let mut ex = Exchange::First;
            assert!(
                ex.evaluate(Hash::Sha256, m.as_bytes(), lookup).is_err(),
                "{m}"
            );
        }
        let mut ex = Exchange::First;
        assert!(matches!(
            ex.evaluate(Hash::Sha256, b"n,a=other,n=u,r=abc", lookup),
            Err(Failure::Message(_))
        ));
    }
}
