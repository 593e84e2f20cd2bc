//! Decodes arbitrary bytes as the consumer protocol's subscription and assignment (the bytes
//! other group members put in JoinGroup / SyncGroup: untrusted), and re-encodes what decodes.
//! Any panic, abort or out-of-memory is a bug.
//!
//! `cargo +nightly fuzz run group_metadata_decode -- -runs=1000000`
#![no_main]

use ferrokafka::__private::consumer::group::metadata::{Assignment, Subscription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Subscription::decode(data) {
        for version in 0..=3 {
            let _ = s.encode(version);
        }
    }
    if let Ok(a) = Assignment::decode(data) {
        let _ = a.encode();
    }
});
