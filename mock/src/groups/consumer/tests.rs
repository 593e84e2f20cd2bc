//! The KIP-848 state machine without sockets: joins, incremental reconciliation (no partition
//! owned by two members at any time), fencing, static members, assignors, validation.

use super::heartbeat::HeartbeatResult;
use super::validate::{FENCED_MEMBER_EPOCH, UNRELEASED_INSTANCE_ID};
use super::*;
use crate::groups::group::Group;
use crate::log::code;
use std::collections::HashMap;

const SESSION: Duration = Duration::from_secs(10);

fn settings() -> Settings {
    Settings {
        session_timeout: SESSION,
        heartbeat_interval: Duration::from_secs(1),
    }
}

fn topic(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn topics(list: &[(&str, u128, i32)]) -> Topics {
    list.iter()
        .map(|(n, id, p)| (n.to_string(), (topic(*id), *p)))
        .collect()
}

/// A well-behaved member: reports what it owns, takes what it is given.
struct Client {
    id: String,
    epoch: i32,
    owned: Assignment,
    assignor: Option<String>,
    instance: Option<String>,
    names: Vec<String>,
    regex: Option<String>,
}

impl Client {
    fn new(id: &str) -> Client {
        Client {
            id: id.into(),
            epoch: 0,
            owned: Assignment::new(),
            assignor: None,
            instance: None,
            names: vec!["t".into()],
            regex: None,
        }
    }

    fn params(&self) -> HeartbeatParams {
        HeartbeatParams {
            version: 1,
            member_id: self.id.clone(),
            epoch: self.epoch,
            instance_id: self.instance.clone(),
            rebalance_timeout_ms: 30_000,
            topic_names: Some(self.names.clone()),
            topic_regex: self.regex.clone(),
            assignor: self.assignor.clone(),
            owned: Some(
                self.owned
                    .iter()
                    .map(|(t, ps)| (*t, ps.iter().copied().collect()))
                    .collect(),
            ),
            ..HeartbeatParams::default()
        }
    }

    fn beat(
        &mut self,
        g: &mut HashMap<String, Group>,
        t: &Topics,
        now: Instant,
    ) -> HeartbeatResult {
        let r = heartbeat(g, "g", self.params(), t, settings(), now);
        if r.error == code::NONE {
            self.epoch = r.epoch;
            if let Some(a) = &r.assignment {
                self.owned = a.clone();
            }
        } else {
            self.epoch = 0;
            self.owned.clear();
        }
        r
    }

    fn count(&self) -> usize {
        self.owned.values().map(BTreeSet::len).sum()
    }
}

fn cg(g: &HashMap<String, Group>) -> &ConsumerGroup {
    g.get("g")
        .and_then(|g| g.consumer.as_deref())
        .expect("a consumer group")
}

/// No partition is owned by two clients at once.
fn assert_disjoint<'c>(clients: impl IntoIterator<Item = &'c Client>) {
    let mut seen = BTreeSet::new();
    for c in clients {
        for (t, ps) in &c.owned {
            for p in ps {
                assert!(seen.insert((*t, *p)), "{t}:{p} owned twice");
            }
        }
    }
}

#[test]
fn one_member_gets_every_partition_at_epoch_one() {
    let (mut g, t, now) = (HashMap::new(), topics(&[("t", 1, 6)]), Instant::now());
    let mut a = Client::new("a");
    let r = a.beat(&mut g, &t, now);
    assert_eq!((r.error, r.epoch, r.heartbeat_interval_ms), (0, 1, 1000));
    assert_eq!(a.count(), 6);
    assert_eq!(cg(&g).state_name(), "Stable");
    assert_eq!((cg(&g).group_epoch, cg(&g).assignment_epoch), (1, 1));
}

#[test]
fn a_partition_moves_only_after_its_owner_stops_reporting_it() {
    let (mut g, t, now) = (HashMap::new(), topics(&[("t", 1, 6)]), Instant::now());
    let mut a = Client::new("a");
    a.beat(&mut g, &t, now);
    let mut b = Client::new("b");
    let r = b.beat(&mut g, &t, now);
    // b is at the new epoch but a still owns everything: nothing yet.
    assert_eq!((r.epoch, b.count()), (2, 0));
    assert_eq!(cg(&g).state_name(), "Reconciling");
    // A heartbeat of a without having revoked (owned not reported) does not move anything.
    let mut partial = a.params();
    partial.owned = None;
    let r = heartbeat(&mut g, "g", partial, &t, settings(), now);
    assert_eq!(r.epoch, 1, "a stays at its epoch until it revokes");
    assert_eq!(cg(&g).members["a"].state, MemberState::UnrevokedPartitions);
    assert_eq!(b.beat(&mut g, &t, now).epoch, 2);
    assert_eq!(b.count(), 0, "still unreleased");
    // a revokes (its assignment shrank to 3 in the answer), then reports it.
    let r = a.beat(&mut g, &t, now);
    assert_eq!((r.epoch, a.count()), (1, 3));
    assert_disjoint([&a, &b]);
    assert_eq!(a.beat(&mut g, &t, now).epoch, 2);
    b.beat(&mut g, &t, now);
    assert_eq!((a.count(), b.count()), (3, 3));
    assert_disjoint([&a, &b]);
    assert_eq!(cg(&g).state_name(), "Stable");
}

/// Members join, leave and heartbeat in a random order; at every step no partition is owned
/// twice, and once everyone heartbeats the assignment covers every partition, balanced.
#[test]
fn random_joins_and_leaves_never_hand_a_partition_to_two_members() {
    for seed in 0..30 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (mut g, t, now) = (
            HashMap::new(),
            topics(&[("t", 1, 6), ("u", 2, 5)]),
            Instant::now(),
        );
        let mut clients: Vec<Client> = Vec::new();
        let mut next = 0;
        for _ in 0..200 {
            match rng.u8(..10) {
                0 if clients.len() < 5 => {
                    let mut c = Client::new(&format!("m{next}"));
                    c.names = vec!["t".into(), "u".into()];
                    if seed % 2 == 1 {
                        c.assignor = Some("range".into());
                    }
                    next += 1;
                    clients.push(c);
                }
                1 if !clients.is_empty() => {
                    let c = clients.remove(rng.usize(..clients.len()));
                    let mut leave = c.params();
                    leave.epoch = LEAVE_EPOCH;
                    heartbeat(&mut g, "g", leave, &t, settings(), now);
                }
                _ if !clients.is_empty() => {
                    let i = rng.usize(..clients.len());
                    let r = clients[i].beat(&mut g, &t, now);
                    assert_eq!(r.error, code::NONE, "seed {seed}: {r:?}");
                }
                _ => {}
            }
            assert_disjoint(&clients);
        }
        for _ in 0..4 {
            for c in &mut clients {
                c.beat(&mut g, &t, now);
            }
            assert_disjoint(&clients);
        }
        if clients.is_empty() {
            continue;
        }
        let total: usize = clients.iter().map(Client::count).sum();
        assert_eq!(total, 11, "seed {seed}: every partition owned");
        assert_eq!(cg(&g).state_name(), "Stable", "seed {seed}");
        if seed % 2 == 0 {
            let (lo, hi) = clients
                .iter()
                .map(Client::count)
                .fold((usize::MAX, 0), |(l, h), n| (l.min(n), h.max(n)));
            assert!(
                hi - lo <= 1,
                "seed {seed}: uniform is balanced ({lo}..{hi})"
            );
        }
    }
}

#[test]
fn a_silent_member_is_fenced_after_the_session_timeout_and_its_partitions_move() {
    let (mut g, t, now) = (HashMap::new(), topics(&[("t", 1, 6)]), Instant::now());
    let (mut a, mut b) = (Client::new("a"), Client::new("b"));
    for _ in 0..3 {
        a.beat(&mut g, &t, now);
        b.beat(&mut g, &t, now);
    }
    assert_eq!((a.count(), b.count()), (3, 3));
    let later = now + SESSION / 2;
    b.beat(&mut g, &t, later);
    let groups = g
        .get_mut("g")
        .and_then(|g| g.consumer.as_deref_mut())
        .expect("group");
    assert_eq!(groups.tick(now + SESSION - Duration::from_millis(1)), 0);
    assert_eq!(groups.tick(now + SESSION), 1, "a expired");
    let after = now + SESSION;
    b.beat(&mut g, &t, after);
    assert_eq!(b.count(), 6, "a's partitions moved to b");
    let r = a.beat(&mut g, &t, after);
    assert_eq!(r.error, code::UNKNOWN_MEMBER_ID);
    // It rejoins under its own id at epoch 0.
    assert_eq!(a.beat(&mut g, &t, after).error, code::NONE);
}

#[test]
fn an_unexpected_epoch_is_fenced_and_the_previous_one_is_accepted_with_a_subset() {
    let (mut g, t, now) = (HashMap::new(), topics(&[("t", 1, 4)]), Instant::now());
    let mut a = Client::new("a");
    a.beat(&mut g, &t, now);
    let mut ahead = a.params();
    ahead.epoch = 7;
    let r = heartbeat(&mut g, "g", ahead, &t, settings(), now);
    assert_eq!(r.error, FENCED_MEMBER_EPOCH);
    // A new topic bumps the epoch; the answer is "lost": the previous epoch is still fine.
    let t2 = topics(&[("t", 1, 6)]);
    let before = a.params();
    assert_eq!(a.beat(&mut g, &t2, now).epoch, 2);
    assert_eq!(
        heartbeat(&mut g, "g", before, &t2, settings(), now).error,
        code::NONE
    );
    assert_eq!(a.count(), 6, "added partitions are picked up");
}

#[test]
fn the_range_assignor_gives_contiguous_ranges_in_member_order() {
    let (mut g, t, now) = (HashMap::new(), topics(&[("t", 1, 7)]), Instant::now());
    let mut cs: Vec<Client> = ["a", "b"].iter().map(|id| Client::new(id)).collect();
    for c in &mut cs {
        c.assignor = Some("range".into());
    }
    for _ in 0..3 {
        for c in &mut cs {
            c.beat(&mut g, &t, now);
        }
    }
    let parts = |c: &Client| c.owned.get(&topic(1)).cloned().unwrap_or_default();
    assert_eq!(parts(&cs[0]), (0..4).collect());
    assert_eq!(parts(&cs[1]), (4..7).collect());
    assert_eq!(cg(&g).assignor(), "range");
}

#[test]
fn a_static_member_that_left_with_minus_two_comes_back_to_its_partitions() {
    let (mut g, t, now) = (HashMap::new(), topics(&[("t", 1, 4)]), Instant::now());
    let (mut a, mut b) = (Client::new("a"), Client::new("b"));
    b.instance = Some("i-b".into());
    for _ in 0..3 {
        a.beat(&mut g, &t, now);
        b.beat(&mut g, &t, now);
    }
    let kept = b.owned.clone();
    let epoch = cg(&g).group_epoch;
    // A second instance with the id while b is in the group: refused.
    let mut twin = Client::new("b2");
    twin.instance = Some("i-b".into());
    assert_eq!(twin.beat(&mut g, &t, now).error, UNRELEASED_INSTANCE_ID);
    let mut leave = b.params();
    leave.epoch = STATIC_LEAVE_EPOCH;
    assert_eq!(
        heartbeat(&mut g, "g", leave, &t, settings(), now).epoch,
        STATIC_LEAVE_EPOCH
    );
    twin.beat(&mut g, &t, now);
    assert_eq!(twin.owned, kept, "the same partitions back");
    assert_eq!(cg(&g).group_epoch, epoch, "no rebalance");
    assert_eq!(b.beat(&mut g, &t, now).error, code::FENCED_INSTANCE_ID);
}

#[test]
fn requests_kafka_refuses_are_refused_with_its_errors() {
    let (mut g, t, now) = (HashMap::new(), topics(&[("t", 1, 1)]), Instant::now());
    let mut p = Client::new("").params();
    assert_eq!(
        heartbeat(&mut g, "g", p.clone(), &t, settings(), now).error,
        code::INVALID_REQUEST
    );
    p.member_id = "m".into();
    p.assignor = Some("sticky".into());
    assert_eq!(
        heartbeat(&mut g, "g", p.clone(), &t, settings(), now).error,
        112
    );
    p.assignor = None;
    p.topic_regex = Some("(".into());
    assert_eq!(
        heartbeat(&mut g, "g", p.clone(), &t, settings(), now).error,
        128
    );
    p.topic_regex = None;
    p.owned = Some(vec![(topic(1), vec![0])]);
    assert_eq!(
        heartbeat(&mut g, "g", p, &t, settings(), now).error,
        code::INVALID_REQUEST
    );
    assert!(g.is_empty(), "no group made by refused requests");
}

#[test]
fn a_regex_subscription_picks_up_a_topic_created_later() {
    let now = Instant::now();
    let mut g = HashMap::new();
    let mut a = Client::new("a");
    a.names.clear();
    a.regex = Some("orders-.*".into());
    a.beat(&mut g, &topics(&[("orders-1", 1, 2), ("other", 2, 2)]), now);
    assert_eq!(a.owned.keys().collect::<Vec<_>>(), vec![&topic(1)]);
    let later = topics(&[("orders-1", 1, 2), ("other", 2, 2), ("orders-2", 3, 1)]);
    a.beat(&mut g, &later, now);
    assert_eq!(a.count(), 3);
}

#[test]
fn a_member_keeping_revoked_partitions_past_its_rebalance_timeout_is_fenced() {
    let (mut g, t, now) = (HashMap::new(), topics(&[("t", 1, 2)]), Instant::now());
    let mut a = Client::new("a");
    a.beat(&mut g, &t, now);
    let mut b = Client::new("b");
    b.beat(&mut g, &t, now);
    let mut stubborn = a.params();
    stubborn.owned = None;
    stubborn.rebalance_timeout_ms = 5_000;
    heartbeat(&mut g, "g", stubborn, &t, settings(), now);
    let groups = g
        .get_mut("g")
        .and_then(|g| g.consumer.as_deref_mut())
        .expect("group");
    assert_eq!(groups.tick(now + Duration::from_millis(4_999)), 0);
    assert_eq!(
        groups.tick(now + Duration::from_secs(5)),
        1,
        "fenced before its session ends"
    );
    assert!(!groups.members.contains_key("a"));
}
