//! Committed offsets on the state machine: simple and member commits, fetch, delete.

use super::group::{Committed, State};
use super::membership::{delete, leave};
use super::offsets::{commit, fetch, CommitParams};
use super::tests::{stable_one, G};
use crate::log::code;
use std::collections::HashMap;
use tokio::time::Instant;

fn at(offset: i64) -> Committed {
    Committed {
        offset,
        leader_epoch: 3,
        metadata: Some("m".into()),
    }
}

fn simple() -> CommitParams {
    CommitParams {
        version: 8,
        generation: -1,
        ..CommitParams::default()
    }
}

fn member(id: &str, generation: i32) -> CommitParams {
    CommitParams {
        version: 8,
        member_id: id.into(),
        generation,
        ..CommitParams::default()
    }
}

#[test]
fn simple_commit_creates_an_empty_group_and_fetch_reads_it() {
    let t = Instant::now();
    let mut groups = HashMap::new();
    let offsets = vec![(("t".to_string(), 0), at(5)), (("t".to_string(), 2), at(9))];
    assert_eq!(commit(&mut groups, G, &simple(), offsets, t), code::NONE);
    assert_eq!(groups[G].state, State::Empty);
    let all = fetch(&groups, G, None);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, "t");
    assert_eq!(all[0].1, vec![(0, Some(at(5))), (2, Some(at(9)))]);
    let some = fetch(&groups, G, Some(vec![("t".into(), vec![1, 2])]));
    assert_eq!(some[0].1, vec![(1, None), (2, Some(at(9)))]);
    // An unknown group answers "no offset" for what was asked, and nothing for "all".
    let none = fetch(&groups, "nope", Some(vec![("t".into(), vec![0])]));
    assert_eq!(none[0].1, vec![(0, None)]);
    assert!(fetch(&groups, "nope", None).is_empty());
    // A generation without a group to go with it.
    let err = commit(&mut groups, "nope", &member("a", 1), vec![], t);
    assert_eq!(err, code::ILLEGAL_GENERATION);
}

#[test]
fn member_commits_are_checked_against_the_generation() {
    let t = Instant::now();
    let mut groups = stable_one(t);
    let one = || vec![(("t".to_string(), 0), at(1))];
    assert_eq!(
        commit(&mut groups, G, &member("a", 1), one(), t),
        code::NONE
    );
    assert_eq!(
        commit(&mut groups, G, &member("a", 0), one(), t),
        code::ILLEGAL_GENERATION
    );
    assert_eq!(
        commit(&mut groups, G, &member("x", 1), one(), t),
        code::UNKNOWN_MEMBER_ID
    );
    // A simple commit is only for groups without members.
    assert_eq!(
        commit(&mut groups, G, &simple(), one(), t),
        code::UNKNOWN_MEMBER_ID
    );
    let fenced = CommitParams {
        version: 8,
        instance_id: Some("i".into()),
        ..member("a", 1)
    };
    assert_eq!(commit(&mut groups, G, &fenced, one(), t), code::NONE);
    // After the member leaves, the offsets stay and simple commits work.
    leave(&mut groups, G, &[("a".into(), None)], t);
    let two = vec![(("t".to_string(), 0), at(2))];
    assert_eq!(commit(&mut groups, G, &simple(), two, t), code::NONE);
    assert_eq!(fetch(&groups, G, None)[0].1, vec![(0, Some(at(2)))]);
    // Deleting the group deletes its offsets.
    assert_eq!(delete(&mut groups, G), code::NONE);
    assert!(fetch(&groups, G, None).is_empty());
}
