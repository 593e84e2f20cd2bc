//! Our zero-copy Produce request writer produces frames `kafka-protocol`'s own decoder (the
//! broker side) reads back exactly, for every Produce version the client speaks (v3–v12).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferrokafka::__private::protocol::produce::ProduceRequestWriter;
use kafka_protocol::messages::{ProduceRequest, RequestHeader};
use kafka_protocol::protocol::Decodable;

#[test]
fn every_version_round_trips_through_kafka_protocol() {
    let batches: Vec<Vec<u8>> = vec![vec![1; 10], vec![2; 200], vec![3; 70_000], vec![]];
    for version in 3..=12i16 {
        let mut buf = BytesMut::new();
        let txn = if version % 2 == 0 {
            Some("txn-id")
        } else {
            None
        };
        let mut w =
            ProduceRequestWriter::begin(&mut buf, version, 42, "client-x", txn, -1, 1234, 2)
                .unwrap();
        w.topic("alpha", 3).unwrap();
        for (i, b) in batches.iter().take(3).enumerate() {
            w.partition(i as i32, |out| {
                out.put_slice(b);
                Ok(())
            })
            .unwrap();
        }
        w.topic("beta", 1).unwrap();
        w.partition(7, |out| {
            out.put_slice(&batches[3]);
            Ok(())
        })
        .unwrap();
        w.finish().unwrap();

        let mut frame: Bytes = buf.freeze();
        let size = frame.get_i32() as usize;
        assert_eq!(size, frame.len(), "v{version} size prefix");
        let header_version = if version >= 9 { 2 } else { 1 };
        let header = RequestHeader::decode(&mut frame, header_version).unwrap();
        assert_eq!(header.request_api_key, 0);
        assert_eq!(header.request_api_version, version);
        assert_eq!(header.correlation_id, 42);
        assert_eq!(header.client_id.as_deref(), Some("client-x"));
        let req = ProduceRequest::decode(&mut frame, version).unwrap();
        assert_eq!(frame.remaining(), 0, "v{version}: trailing bytes");
        assert_eq!(req.acks, -1);
        assert_eq!(req.timeout_ms, 1234);
        assert_eq!(req.transactional_id.as_ref().map(|s| s.as_str()), txn);
        assert_eq!(req.topic_data.len(), 2);
        let a = &req.topic_data[0];
        assert_eq!(a.name.0.as_str(), "alpha");
        assert_eq!(a.partition_data.len(), 3);
        for (i, p) in a.partition_data.iter().enumerate() {
            assert_eq!(p.index, i as i32);
            assert_eq!(
                p.records.as_deref(),
                Some(&batches[i][..]),
                "v{version} p{i}"
            );
        }
        let b = &req.topic_data[1];
        assert_eq!(b.name.0.as_str(), "beta");
        assert_eq!(b.partition_data[0].index, 7);
        assert_eq!(b.partition_data[0].records.as_deref(), Some(&[][..]));
    }
}
