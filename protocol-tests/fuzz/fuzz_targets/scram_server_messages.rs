//! Feeds arbitrary bytes to the SCRAM client as the server-first and server-final messages
//! (what a hostile or broken broker could send). Any panic, abort or unbounded work is a bug;
//! the parsers bound the iteration count and the salt size.
//!
//! `cargo +nightly fuzz run scram_server_messages -- -runs=1000000`
#![no_main]

use ferrokafka::__private::protocol::sasl::scram::{
    parse_server_final, parse_server_first, ScramClient, ScramHash,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_server_first(data);
    let _ = parse_server_final(data);
    let split = data.first().map_or(0, |b| *b as usize).min(data.len());
    let (first, last) = data.split_at(split);
    let mut c = ScramClient::with_nonce(ScramHash::Sha256, "u", "p", "n".into());
    if c.client_first().is_ok() && c.handle_server_first(first).is_ok() {
        let _ = c.handle_server_final(last);
    }
});
