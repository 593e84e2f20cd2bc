//! The group state machine without I/O: time is passed in, answers come through channels.

use super::group::{Group, JoinResult, Reply, State, SyncResult};
use super::join::{join, JoinParams};
use super::membership::{delete, heartbeat, leave, sync, SyncParams};
use crate::log::code;
use bytes::Bytes;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

pub(super) const G: &str = "g";
const SESSION_MS: i32 = 10_000;

pub(super) fn params(member: &str, fresh: &str) -> JoinParams {
    JoinParams {
        member_id: member.into(),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
        require_known_member_id: true,
        fresh_id: fresh.into(),
        ..JoinParams::default()
    }
}

/// The answer, sent already.
pub(super) fn now<T>(r: Reply<T>) -> T {
    match r {
        Reply::Now(t) => t,
        Reply::Wait(mut rx) => rx.try_recv().expect("answered"),
    }
}

/// Still waiting.
fn waiting<T>(r: Reply<T>) -> oneshot::Receiver<T> {
    match r {
        Reply::Wait(mut rx) => {
            assert!(rx.try_recv().is_err(), "answered too early");
            rx
        }
        Reply::Now(_) => panic!("answered at once"),
    }
}

/// A new member's two JoinGroups (MEMBER_ID_REQUIRED, then with the id).
fn join_new(groups: &mut HashMap<String, Group>, id: &str, t: Instant) -> Reply<JoinResult> {
    let first = now(join(groups, G, params("", id), t));
    assert_eq!(first.error, code::MEMBER_ID_REQUIRED);
    assert_eq!(first.member_id, id);
    join(groups, G, params(id, "unused"), t)
}

fn sync_p(member: &str, generation: i32, assignments: &[(&str, &'static [u8])]) -> SyncParams {
    SyncParams {
        member_id: member.into(),
        generation,
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::from_static(a)))
            .collect(),
        ..SyncParams::default()
    }
}

/// One member "a", Stable at generation 1.
pub(super) fn stable_one(t: Instant) -> HashMap<String, Group> {
    let mut groups = HashMap::new();
    let r = now(join_new(&mut groups, "a", t));
    assert_eq!((r.error, r.generation, r.leader.as_str()), (0, 1, "a"));
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(r.members.len(), 1);
    assert_eq!(groups[G].state, State::CompletingRebalance);
    let s = now(sync(&mut groups, G, sync_p("a", 1, &[("a", b"A")]), t));
    assert_eq!((s.error, &s.assignment[..]), (0, &b"A"[..]));
    assert_eq!(groups[G].state, State::Stable);
    groups
}

/// "a" (leader) and "b", Stable at generation 2 with assignments "A" and "B".
fn stable_two(t: Instant) -> HashMap<String, Group> {
    let mut groups = stable_one(t);
    let b = waiting(join_new(&mut groups, "b", t));
    assert_eq!(groups[G].state, State::PreparingRebalance);
    assert_eq!(
        heartbeat(&mut groups, G, None, "a", 1, t),
        code::REBALANCE_IN_PROGRESS
    );
    let a = now(join(&mut groups, G, params("a", ""), t));
    let b = now(Reply::Wait(b));
    assert_eq!((a.generation, b.generation), (2, 2));
    assert_eq!((a.leader.as_str(), b.leader.as_str()), ("a", "a"));
    assert_eq!(a.members.len(), 2, "the leader sees every member");
    assert!(b.members.is_empty(), "followers see none");
    let b_sync = waiting(sync(&mut groups, G, sync_p("b", 2, &[]), t));
    let a_sync = now(sync(
        &mut groups,
        G,
        sync_p("a", 2, &[("a", b"A"), ("b", b"B")]),
        t,
    ));
    let b_sync: SyncResult = now(Reply::Wait(b_sync));
    assert_eq!(&a_sync.assignment[..], b"A");
    assert_eq!(&b_sync.assignment[..], b"B");
    assert_eq!(groups[G].state, State::Stable);
    groups
}

#[test]
fn join_sync_stable() {
    let t = Instant::now();
    let mut groups = stable_one(t);
    assert_eq!(heartbeat(&mut groups, G, None, "a", 1, t), code::NONE);
    // SyncGroup again in Stable: the same assignment.
    let s = now(sync(&mut groups, G, sync_p("a", 1, &[]), t));
    assert_eq!(&s.assignment[..], b"A");
}

#[test]
fn second_member_rebalances_to_generation_two() {
    let groups = stable_two(Instant::now());
    assert_eq!(groups[G].generation, 2);
    assert_eq!(groups[G].members.len(), 2);
}

#[test]
fn session_timeout_evicts_and_rebalances() {
    let t = Instant::now();
    let mut groups = stable_two(t);
    let later = t + Duration::from_secs(8);
    assert_eq!(heartbeat(&mut groups, G, None, "b", 2, later), code::NONE);
    let g = groups.get_mut(G).unwrap();
    assert_eq!(g.tick(t + Duration::from_secs(9)), 0);
    assert_eq!(
        g.tick(t + Duration::from_secs(11)),
        1,
        "a was silent for 11 s"
    );
    assert!(g.member("a").is_none());
    assert_eq!(g.state, State::PreparingRebalance);
    let b = now(join(
        &mut groups,
        G,
        params("b", ""),
        t + Duration::from_secs(11),
    ));
    assert_eq!((b.generation, b.leader.as_str()), (3, "b"));
}

#[test]
fn leave_triggers_rebalance() {
    let t = Instant::now();
    let mut groups = stable_two(t);
    let codes = leave(
        &mut groups,
        G,
        &[("b".into(), None), ("zz".into(), None)],
        t,
    );
    assert_eq!(codes, vec![code::NONE, code::UNKNOWN_MEMBER_ID]);
    assert_eq!(
        heartbeat(&mut groups, G, None, "a", 2, t),
        code::REBALANCE_IN_PROGRESS
    );
    let a = now(join(&mut groups, G, params("a", ""), t));
    assert_eq!((a.generation, a.members.len()), (3, 1));
    // The last member leaving empties the group (a new generation with nobody).
    assert_eq!(leave(&mut groups, G, &[("a".into(), None)], t), vec![0]);
    assert_eq!(groups[G].state, State::Empty);
    assert_eq!(groups[G].generation, 4);
}

#[test]
fn illegal_generation_and_unknown_member() {
    let t = Instant::now();
    let mut groups = stable_one(t);
    assert_eq!(
        heartbeat(&mut groups, G, None, "a", 7, t),
        code::ILLEGAL_GENERATION
    );
    assert_eq!(
        heartbeat(&mut groups, G, None, "x", 1, t),
        code::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        heartbeat(&mut groups, "nope", None, "a", 1, t),
        code::UNKNOWN_MEMBER_ID
    );
    let s = now(sync(&mut groups, G, sync_p("a", 0, &[]), t));
    assert_eq!(s.error, code::ILLEGAL_GENERATION);
    let s = now(sync(&mut groups, G, sync_p("x", 1, &[]), t));
    assert_eq!(s.error, code::UNKNOWN_MEMBER_ID);
    let j = now(join(&mut groups, G, params("x", ""), t));
    assert_eq!(j.error, code::UNKNOWN_MEMBER_ID);
    let j = now(join(&mut groups, "fresh", params("x", ""), t));
    assert_eq!(j.error, code::UNKNOWN_MEMBER_ID);
    assert!(!groups.contains_key("fresh"));
    // While rebalancing, SyncGroup is refused.
    let _b = waiting(join_new(&mut groups, "b", t));
    let s = now(sync(&mut groups, G, sync_p("a", 1, &[]), t));
    assert_eq!(s.error, code::REBALANCE_IN_PROGRESS);
}

#[test]
fn inconsistent_protocols_and_bad_session_timeout() {
    let t = Instant::now();
    let mut groups = stable_one(t);
    let mut p = params("", "b");
    p.protocol_type = "connect".into();
    assert_eq!(
        now(join(&mut groups, G, p, t)).error,
        code::INCONSISTENT_GROUP_PROTOCOL
    );
    let mut p = params("", "b");
    p.protocols = vec![("roundrobin".into(), Bytes::new())];
    assert_eq!(
        now(join(&mut groups, G, p, t)).error,
        code::INCONSISTENT_GROUP_PROTOCOL
    );
    let mut p = params("", "b");
    p.session_timeout_ms = 1000;
    assert_eq!(
        now(join(&mut groups, G, p, t)).error,
        code::INVALID_SESSION_TIMEOUT
    );
    let mut p = params("", "b");
    p.protocols.clear();
    assert_eq!(
        now(join(&mut groups, "new", p, t)).error,
        code::INCONSISTENT_GROUP_PROTOCOL
    );
    assert!(!groups.contains_key("new"));
}

#[test]
fn protocol_chosen_by_votes_among_common_ones() {
    let t = Instant::now();
    let mut groups = HashMap::new();
    let both = vec![
        ("range".to_string(), Bytes::new()),
        ("roundrobin".to_string(), Bytes::new()),
    ];
    let mut p = params("", "a");
    p.require_known_member_id = false;
    p.protocols = both.clone();
    let a = now(join(&mut groups, G, p, t));
    assert_eq!(a.protocol_name.as_deref(), Some("range"));
    let mut p = params("", "b");
    p.require_known_member_id = false;
    p.protocols = vec![("roundrobin".to_string(), Bytes::new())];
    let b = waiting(join(&mut groups, G, p, t));
    let mut p = params("a", "");
    p.protocols = both;
    let a = now(join(&mut groups, G, p, t));
    assert_eq!(a.protocol_name.as_deref(), Some("roundrobin"));
    assert_eq!(
        now(Reply::Wait(b)).protocol_name.as_deref(),
        Some("roundrobin")
    );
}

#[test]
fn rebalance_timeout_evicts_members_that_did_not_rejoin() {
    let t = Instant::now();
    let mut groups = stable_two(t);
    let c = waiting(join_new(&mut groups, "c", t));
    let a = waiting(join(&mut groups, G, params("a", ""), t));
    // b keeps heartbeating but never rejoins.
    let hb = heartbeat(&mut groups, G, None, "b", 2, t + Duration::from_secs(25));
    assert_eq!(hb, code::REBALANCE_IN_PROGRESS);
    let g = groups.get_mut(G).unwrap();
    g.tick(t + Duration::from_secs(29));
    assert_eq!(g.state, State::PreparingRebalance);
    g.tick(t + Duration::from_secs(30));
    assert!(g.member("b").is_none());
    let (a, c) = (now(Reply::Wait(a)), now(Reply::Wait(c)));
    assert_eq!((a.generation, c.generation), (3, 3));
    assert_eq!(a.members.len(), 2);
}

#[test]
fn cancelled_join_does_not_block_the_group() {
    let t = Instant::now();
    let mut groups = stable_two(t);
    let c = waiting(join_new(&mut groups, "c", t));
    drop(c); // c's connection went away while it waited
    let a = waiting(join(&mut groups, G, params("a", ""), t));
    let b = waiting(join(&mut groups, G, params("b", ""), t));
    let g = groups.get_mut(G).unwrap();
    g.tick(t + Duration::from_secs(9));
    assert_eq!(g.state, State::PreparingRebalance);
    // c's session runs out (it never got an answer to heartbeat with); a and b go on.
    g.tick(t + Duration::from_secs(11));
    assert!(g.member("c").is_none());
    let (a, b) = (now(Reply::Wait(a)), now(Reply::Wait(b)));
    assert_eq!((a.error, a.generation, a.members.len()), (0, 3, 2));
    assert_eq!((b.error, b.generation), (0, 3));
}

#[test]
fn static_member_replaces_its_old_id_without_rebalance() {
    let t = Instant::now();
    let mut groups = HashMap::new();
    let mut p = params("", "old");
    p.instance_id = Some("i1".into());
    let j = now(join(&mut groups, G, p.clone(), t));
    assert_eq!((j.error, j.generation, j.member_id.as_str()), (0, 1, "old"));
    now(sync(&mut groups, G, sync_p("old", 1, &[("old", b"A")]), t));
    // Restarted: same instance id, no member id.
    p.fresh_id = "new".into();
    let j = now(join(&mut groups, G, p, t));
    assert_eq!((j.error, j.generation, j.member_id.as_str()), (0, 1, "new"));
    assert_eq!(groups[G].state, State::Stable);
    assert_eq!(groups[G].leader.as_deref(), Some("new"));
    let fenced = heartbeat(&mut groups, G, Some("i1"), "old", 1, t);
    assert_eq!(fenced, code::FENCED_INSTANCE_ID);
    assert_eq!(
        heartbeat(&mut groups, G, Some("i1"), "new", 1, t),
        code::NONE
    );
    let s = now(sync(&mut groups, G, sync_p("new", 1, &[]), t));
    assert_eq!(
        &s.assignment[..],
        b"A",
        "the assignment stays with the instance"
    );
    let codes = leave(&mut groups, G, &[(String::new(), Some("i1".into()))], t);
    assert_eq!(codes, vec![code::NONE]);
    assert_eq!(groups[G].state, State::Empty);
}

#[test]
fn delete_group_rules() {
    let t = Instant::now();
    let mut groups = stable_one(t);
    assert_eq!(delete(&mut groups, G), code::NON_EMPTY_GROUP);
    assert_eq!(delete(&mut groups, "nope"), code::GROUP_ID_NOT_FOUND);
    leave(&mut groups, G, &[("a".into(), None)], t);
    assert_eq!(delete(&mut groups, G), code::NONE);
    assert!(!groups.contains_key(G));
}
