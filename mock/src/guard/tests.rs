//! The guard against kafka-protocol's own encoder and decoder: every served request type and
//! version passes, truncations are refused (or decode within the body).

use super::gen::{self, for_request, guard_then_decode, reencode, Outcome};
use super::{built, check_request, tables};
use kafka_protocol::messages::*;

#[test]
fn tables_are_exactly_the_served_apis_and_versions() {
    for key in 0..i16::from(u8::MAX) {
        let Ok(api) = ApiKey::try_from(key) else {
            continue;
        };
        let table = tables::REQUESTS
            .iter()
            .find(|r| r.api_key == key)
            .map(|r| (r.min_version, r.max_version));
        assert_eq!(
            table,
            crate::api::versions::range(api),
            "{api:?}: re-run mock/tools/gen_request_guard.py"
        );
    }
}

#[test]
fn every_served_request_and_version_encoded_by_kafka_protocol_passes() {
    let mut rng = fastrand::Rng::with_seed(0x6b61_666b);
    let mut checked = 0;
    for req in tables::REQUESTS {
        for version in req.min_version..=req.max_version {
            for _ in 0..12 {
                let body = gen::body(&mut rng, req.body, version);
                // The generated body is what the table says the decoder reads: it must decode
                // completely; kafka-protocol's encoding of the decoded value must pass too.
                assert_eq!(check_request(req.api_key, version, &body.bytes), Ok(()));
                let encoded = for_request!(req.api_key, reencode(version, &body.bytes));
                if let Err(e) = check_request(req.api_key, version, &encoded) {
                    panic!("{} v{version}: {e}\n{encoded:02x?}", req.name);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}

/// The hand-built requests, at every served version of their API.
fn built_requests() -> Vec<(i16, i16, Vec<u8>)> {
    let mut out = Vec::new();
    for v in 3..=11 {
        out.push((0, v, built::produce(v, 300)));
    }
    for v in 4..=12 {
        out.push((1, v, built::fetch(v, 2, 3)));
    }
    for v in 0..=12 {
        out.push((3, v, built::metadata(v)));
    }
    for v in 2..=8 {
        out.push((8, v, built::offset_commit(v)));
    }
    for v in 0..=9 {
        out.push((11, v, built::join_group(v)));
    }
    for v in 2..=7 {
        out.push((19, v, built::create_topics(v)));
    }
    out
}

#[test]
fn hand_built_requests_pass_and_decode() {
    for (key, version, body) in built_requests() {
        assert_eq!(
            check_request(key, version, &body),
            Ok(()),
            "key {key} v{version}"
        );
        let outcome = for_request!(key, guard_then_decode(key, version, &body));
        assert_eq!(
            outcome,
            Outcome::Decoded(body.len()),
            "key {key} v{version}"
        );
    }
}

#[test]
fn metadata_with_null_topics_passes() {
    for v in 1..=12 {
        let body = gen::encode(&MetadataRequest::default().with_topics(None), v);
        assert_eq!(check_request(3, v, &body), Ok(()), "v{v}");
    }
}

/// Every prefix of every hand-built request: refused, or accepted and then decoded into a
/// value whose encoding fits in the prefix (every element the decoder reserved was there).
#[test]
fn truncations_at_every_offset_are_refused_or_decode_within_the_body() {
    let (mut refused, mut accepted) = (0, 0);
    for (key, version, body) in built_requests() {
        for cut in 0..body.len() {
            let prefix = &body[..cut];
            match for_request!(key, guard_then_decode(key, version, prefix)) {
                Outcome::Refused => refused += 1,
                Outcome::Decoded(len) if len <= cut => accepted += 1,
                other => panic!("key {key} v{version} cut at {cut}: {other:?}"),
            }
        }
    }
    assert!(refused > 10_000, "{refused} refused, {accepted} accepted");
}

#[test]
fn versions_and_keys_outside_the_served_ones_are_refused() {
    assert!(check_request(0, 2, &built::produce(3, 10)).is_err());
    assert!(check_request(1, 13, &[0; 64]).is_err());
    assert!(check_request(17, 2, &[0; 64]).is_err()); // SaslHandshake: v0-1 only
    assert!(check_request(38, 0, &[0; 64]).is_err()); // CreateDelegationToken: not served
    assert!(check_request(-1, 0, &[]).is_err());
}
