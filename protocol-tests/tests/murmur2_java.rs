//! Checks ferrokafka's murmur2 partitioner against the Java client, line by line of
//! `golden/murmur2.txt` (written by `java-murmur2/regenerate.sh` from kafka-clients 4.1.1).

use ferrokafka::__private::producer::{murmur2, partition_for_key, to_positive};

const PARTITION_COUNTS: [i32; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 100];

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

#[test]
fn murmur2_and_keyed_partition_match_the_java_client() {
    let text = include_str!("../golden/murmur2.txt");
    let mut checked = 0;
    let mut tail_lengths = [false; 4];
    let mut high_bytes = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 3 + PARTITION_COUNTS.len(), "line {}", n + 1);
        let key = unhex(fields[0]);
        let want_hash: i32 = fields[1].parse().expect("murmur2 field");
        let want_positive: i32 = fields[2].parse().expect("toPositive field");
        assert_eq!(murmur2(&key), want_hash, "murmur2, line {}", n + 1);
        assert_eq!(to_positive(want_hash), want_positive, "line {}", n + 1);
        for (count, want) in PARTITION_COUNTS.iter().zip(&fields[3..]) {
            let want: i32 = want.parse().expect("partition field");
            assert_eq!(
                partition_for_key(&key, *count),
                want,
                "partition for {count} partitions, line {}",
                n + 1
            );
        }
        tail_lengths[key.len() % 4] = true;
        high_bytes |= key.iter().any(|b| *b >= 0x80);
        checked += 1;
    }
    // The file covers every tail length and bytes >= 0x80, and has not been truncated.
    assert!(tail_lengths.iter().all(|t| *t));
    assert!(high_bytes);
    assert_eq!(checked, 91);
}
