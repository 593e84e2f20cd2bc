//! SCRAM server-first / server-final parsers and the client state machine on arbitrary and
//! mutated input: an error, never a panic; valid messages round-trip.

use ferrokafka::__private::protocol::sasl::scram::{
    parse_server_final, parse_server_first, ScramClient, ScramError, ScramHash, ServerFinal,
    MAX_ITERATIONS, MIN_ITERATIONS,
};
use proptest::prelude::*;

fn b64(bytes: &[u8]) -> String {
    // A tiny standard base64 encoder, so the test does not depend on the crate's own.
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let v = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= n {
                out.push(A[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_server_first(&data);
        let _ = parse_server_final(&data);
        let mut c = ScramClient::with_nonce(ScramHash::Sha512, "u", "p", "abc".into());
        c.client_first().expect("first");
        if c.handle_server_first(&data).is_ok() {
            prop_assert!(c.handle_server_final(&data).is_err());
        }
    }

    #[test]
    fn valid_server_first_parses(
        nonce in "[!-+--~]{1,40}",
        salt in proptest::collection::vec(any::<u8>(), 1..64),
        iterations in MIN_ITERATIONS..=20_000u32,
    ) {
        let msg = format!("r={nonce},s={},i={iterations}", b64(&salt));
        let sf = parse_server_first(msg.as_bytes()).expect("valid");
        prop_assert_eq!(sf.nonce, nonce);
        prop_assert_eq!(sf.salt, salt);
        prop_assert_eq!(sf.iterations, iterations);
    }

    #[test]
    fn truncated_or_mutated_server_first_is_an_error_or_valid(
        salt in proptest::collection::vec(any::<u8>(), 1..32),
        cut in 0usize..60,
        flip in 0usize..60,
        byte in any::<u8>(),
    ) {
        let msg = format!("r=abcdef,s={},i=4096", b64(&salt)).into_bytes();
        let cut_msg = &msg[..cut.min(msg.len())];
        let _ = parse_server_first(cut_msg);
        let mut m = msg.clone();
        if let Some(b) = m.get_mut(flip) { *b = byte; }
        if let Ok(sf) = parse_server_first(&m) {
            prop_assert!((MIN_ITERATIONS..=MAX_ITERATIONS).contains(&sf.iterations));
        }
    }

    #[test]
    fn server_final_signature_round_trips(sig in proptest::collection::vec(any::<u8>(), 0..64)) {
        let msg = format!("v={}", b64(&sig));
        prop_assert_eq!(parse_server_final(msg.as_bytes()).expect("valid"), ServerFinal::Verifier(sig));
    }
}

#[test]
fn hostile_iteration_counts_are_refused_before_any_work() {
    for i in [
        "0",
        "4095",
        "1000001",
        "4294967295",
        "99999999999999999999",
        "-1",
    ] {
        let msg = format!("r=abcdef,s=c2FsdA==,i={i}");
        assert!(
            matches!(
                parse_server_first(msg.as_bytes()),
                Err(ScramError::Malformed(_))
            ),
            "{i}"
        );
    }
    let huge_salt = format!("r=abcdef,s={},i=4096", "A".repeat(1 << 20));
    assert!(parse_server_first(huge_salt.as_bytes()).is_err());
}
