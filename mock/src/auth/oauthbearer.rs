//! SASL/OAUTHBEARER (RFC 7628) with Kafka's *unsecured* token validator
//! (`OAuthBearerUnsecuredValidatorCallbackHandler`): the token is an unsigned JWS
//! (`{"alg":"none"}`, empty signature) whose `sub` claim is the principal and whose `exp` (seconds)
//! must be in the future. No signature is checked: it is what Kafka's test listeners run, and what
//! `ferrokafka::config::UnsecuredJwsProvider` makes.
//!
//! A rejected token is answered, as by Kafka's `OAuthBearerSaslServer`, with a JSON error
//! challenge (`{"status":"invalid_token"}`); the client acknowledges it with `%x01` and the
//! exchange then fails with that JSON as the message.

use super::Failure;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Longest client message or token accepted (Kafka bounds the whole frame at 512 KiB).
const MAX_MESSAGE: usize = 64 * 1024;

/// One OAUTHBEARER exchange.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    /// The error challenge sent, awaiting the client's `%x01`.
    error: Option<String>,
}

impl Exchange {
    /// `Ok((answer, complete))`.
    pub fn evaluate(&mut self, message: &[u8]) -> Result<(Vec<u8>, bool), Failure> {
        if let Some(error) = self.error.take() {
            return Err(if message == [1] {
                Failure::Message(error)
            } else {
                Failure::Generic("no %x01 after the error challenge")
            });
        }
        if message.len() > MAX_MESSAGE {
            return Err(Failure::Generic("message too long"));
        }
        let text = std::str::from_utf8(message).map_err(|_| Failure::Generic("not UTF-8"))?;
        // gs2-header: `n,,` or `n,a=authzid,`, then kvpairs separated by %x01, ending %x01%x01.
        let (gs2, rest) = text
            .split_once('\u{1}')
            .ok_or(Failure::Generic("no GS2 header"))?;
        let authzid = match gs2.strip_prefix("n,").and_then(|g| g.strip_suffix(',')) {
            Some("") => None,
            Some(a) => Some(
                a.strip_prefix("a=")
                    .ok_or(Failure::Generic("bad GS2 header"))?,
            ),
            None => return Err(Failure::Generic("bad GS2 header")),
        };
        let pairs = rest
            .strip_suffix("\u{1}\u{1}")
            .ok_or(Failure::Generic("no terminating %x01%x01"))?;
        let token = pairs
            .split('\u{1}')
            .find_map(|kv| kv.strip_prefix("auth="))
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Failure::Generic("no auth=Bearer"))?;
        match principal(token) {
            Some(sub) => {
                if authzid.is_some_and(|a| a != sub) {
                    return Err(Failure::Message(
                        "Authentication failed: Client requested an authorization id that is different from the principal name".into(),
                    ));
                }
                Ok((Vec::new(), true))
            }
            None => {
                let error = r#"{"status":"invalid_token"}"#.to_owned();
                self.error = Some(error.clone());
                Ok((error.into_bytes(), false))
            }
        }
    }
}

/// The `sub` of an unsecured JWS whose `exp` is in the future; `None` if it is not one.
fn principal(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !signature.is_empty() {
        return None;
    }
    let header = object(&URL_SAFE_NO_PAD.decode(header).ok()?)?;
    if !header
        .iter()
        .any(|(k, v)| k == "alg" && *v == Json::Str("none".into()))
    {
        return None;
    }
    let claims = object(&URL_SAFE_NO_PAD.decode(claims).ok()?)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    let exp = claims.iter().find_map(|(k, v)| match v {
        Json::Num(n) if k == "exp" => Some(*n),
        _ => None,
    })?;
    if exp <= now {
        return None;
    }
    claims.into_iter().find_map(|(k, v)| match v {
        Json::Str(s) if k == "sub" && !s.is_empty() => Some(s),
        _ => None,
    })
}

/// A top-level JSON value, as far as the claims need.
#[derive(Debug, PartialEq)]
enum Json {
    Str(String),
    Num(f64),
    Other,
}

/// The members of a JSON object (nesting at most 16 deep), `None` if it is not one.
fn object(bytes: &[u8]) -> Option<Vec<(String, Json)>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    p.eat(b'{')?;
    let mut out = Vec::new();
    p.ws();
    if p.eat(b'}').is_none() {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.eat(b':')?;
            p.ws();
            out.push((key, p.value(0)?));
            p.ws();
            if p.eat(b',').is_none() {
                p.eat(b'}')?;
                break;
            }
        }
    }
    p.ws();
    (p.i == p.s.len()).then_some(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: u32) -> Option<Json> {
        match self.peek()? {
            b'"' => self.string().map(Json::Str),
            b'{' | b'[' if depth < 16 => {
                let close = if self.peek()? == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.eat(close).is_some() {
                    return Some(Json::Other);
                }
                loop {
                    self.ws();
                    if close == b'}' {
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.value(depth + 1)?;
                    self.ws();
                    if self.eat(b',').is_none() {
                        self.eat(close)?;
                        return Some(Json::Other);
                    }
                }
            }
            b't' | b'f' | b'n' => {
                for word in ["true", "false", "null"] {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Some(Json::Other);
                    }
                }
                None
            }
            _ => {
                let start = self.i;
                while matches!(
                    self.peek(),
                    Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                ) {
                    self.i += 1;
                }
                let n = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                n.parse::<f64>().ok().map(Json::Num)
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let rest = std::str::from_utf8(&self.s[self.i..]).ok()?;
            let c = rest.chars().next()?;
            self.i += c.len_utf8();
            match c {
                '"' => return Some(out),
                '\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    out.push(match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                            self.i += 4;
                            // Surrogate pairs are not needed in claims the mock reads.
                            char::from_u32(u32::from_str_radix(hex, 16).ok()?).unwrap_or('\u{fffd}')
                        }
                        _ => return None,
                    });
                }
                c if (c as u32) < 0x20 => return None,
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: &str) -> String {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    fn message(token: &str) -> Vec<u8> {
        format!("n,,\u{1}auth=Bearer {token}\u{1}\u{1}").into_bytes()
    }

    #[test]
    fn unsecured_tokens_as_kafkas_validator_judges_them() {
        let good =
            token(r#"{"iat":1.5,"exp":99999999999.0,"sub":"al\"ice","scope":["a",{"b":[]}]}"#);
        assert_eq!(principal(&good).as_deref(), Some("al\"ice"));
        assert_eq!(
            principal(&token(r#"{"exp":1,"sub":"alice"}"#)),
            None,
            "expired"
        );
        assert_eq!(principal(&token(r#"{"exp":99999999999}"#)), None, "no sub");
        assert_eq!(principal(&format!("{good}sig")), None, "signed");
        assert_eq!(principal("x.y"), None);
        let nested = format!(
            "{{\"exp\":99999999999,\"sub\":\"a\",\"x\":{}1{}}}",
            "[".repeat(40),
            "]".repeat(40)
        );
        assert_eq!(principal(&token(&nested)), None, "nested too deep");

        let mut ex = Exchange::default();
        assert!(matches!(ex.evaluate(&message(&good)), Ok((ref t, true)) if t.is_empty()));
        let mut ex = Exchange::default();
        let (challenge, done) = ex.evaluate(&message("x.y.")).expect("a challenge");
        assert!(!done && challenge.starts_with(br#"{"status""#));
        assert!(
            matches!(ex.evaluate(&[1]), Err(Failure::Message(m)) if m.contains("invalid_token"))
        );
        for bad in [
            &b""[..],
            b"n,,",
            b"n,,\x01auth=Bearer x\x01",
            b"y,,\x01\x01",
            b"\xff",
        ] {
            assert!(Exchange::default().evaluate(bad).is_err(), "{bad:?}");
        }
    }
}
