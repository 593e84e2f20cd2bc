//! A parser for the Java client's `sasl.jaas.config` value, e.g.
//! `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="…";`
//!
//! Errors never quote the value: it holds the password.

use std::collections::BTreeMap;

/// The login module a `sasl.jaas.config` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginModule {
    Plain,
    Scram,
    OAuthBearer,
}

/// One parsed `sasl.jaas.config`: its login module and options.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct JaasConfig {
    pub module: LoginModule,
    pub options: BTreeMap<String, String>,
}

/// Parses a JAAS configuration with exactly one login module entry. The error text is safe to
/// show: it names positions and option names, never values.
pub(crate) fn parse_jaas(value: &str) -> Result<JaasConfig, String> {
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    p.skip_ws();
    let class = p.token().ok_or("expected a login module class name")?;
    let module = match class.rsplit('.').next().unwrap_or(class.as_str()) {
        "PlainLoginModule" => LoginModule::Plain,
        "ScramLoginModule" => LoginModule::Scram,
        "OAuthBearerLoginModule" => LoginModule::OAuthBearer,
        _ => {
            return Err(format!(
                "unsupported login module {class} (supported: PlainLoginModule, ScramLoginModule, \
                 OAuthBearerLoginModule)"
            ))
        }
    };
    p.skip_ws();
    let flag = p
        .token()
        .ok_or("expected a control flag (required) after the login module")?;
    if !matches!(
        flag.as_str(),
        "required" | "requisite" | "sufficient" | "optional"
    ) {
        return Err(format!(
            "expected a control flag (required, requisite, sufficient, optional), found {flag}"
        ));
    }
    let mut options = BTreeMap::new();
    loop {
        p.skip_ws();
        match p.peek() {
            None => return Err("missing ';' at the end".into()),
            Some(b';') => {
                p.i += 1;
                break;
            }
            Some(_) => {}
        }
        let key = p.token().ok_or("expected an option name")?;
        p.skip_ws();
        if p.peek() != Some(b'=') {
            return Err(format!("expected '=' after option {key}"));
        }
        p.i += 1;
        p.skip_ws();
        let val = if p.peek() == Some(b'"') {
            p.i += 1;
            p.quoted()
                .ok_or_else(|| format!("unterminated quoted value of option {key}"))?
        } else {
            p.token()
                .ok_or_else(|| format!("expected a value for option {key}"))?
        };
        options.insert(key, val);
    }
    p.skip_ws();
    if p.peek().is_some() {
        return Err("only one login module entry is supported".into());
    }
    Ok(JaasConfig { module, options })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    /// A run of characters other than whitespace, `=`, `;` and `"`.
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| !c.is_ascii_whitespace() && !matches!(c, b'=' | b';' | b'"'))
        {
            self.i += 1;
        }
        let t = self.s.get(start..self.i)?;
        (!t.is_empty()).then(|| String::from_utf8_lossy(t).into_owned())
    }
    /// The rest of a quoted value (after the opening quote), with `\"` and `\\` unescaped.
    fn quoted(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let n = self.peek()?;
                    self.i += 1;
                    out.push(n);
                }
                _ => out.push(c),
            }
        }
    }
}

impl std::fmt::Debug for JaasConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaasConfig")
            .field("module", &self.module)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_syntax() {
        let j = parse_jaas(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required
               username="alice" password="a \"b\" ;c";"#,
        )
        .unwrap();
        assert_eq!(j.module, LoginModule::Scram);
        assert_eq!(j.options["username"], "alice");
        assert_eq!(j.options["password"], "a \"b\" ;c");
        let j = parse_jaas(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             unsecuredLoginStringClaim_sub=admin;",
        )
        .unwrap();
        assert_eq!(j.module, LoginModule::OAuthBearer);
        assert_eq!(j.options["unsecuredLoginStringClaim_sub"], "admin");
        assert!(!format!("{j:?}").contains("admin"));
    }

    #[test]
    fn errors_do_not_quote_values() {
        for bad in [
            "",
            "com.example.Krb5LoginModule required;",
            "x.PlainLoginModule",
            "x.PlainLoginModule required username=\"a\" password=\"s3cret",
            "x.PlainLoginModule required username=\"a\" password=\"s3cret\"",
            "x.PlainLoginModule maybe;",
            "x.PlainLoginModule required password \"s3cret\";",
            "x.PlainLoginModule required; x.PlainLoginModule required;",
        ] {
            let e = parse_jaas(bad).unwrap_err();
            assert!(!e.contains("s3cret"), "{bad}: {e}");
        }
    }
}
