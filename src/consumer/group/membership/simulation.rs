//! A small model coordinator driving several [`GroupMembership`]s through real rounds
//! (JoinGroup → leader assignment → SyncGroup → cooperative follow-up), checking that no
//! partition ever has two owners according to the listener events, and that the group converges
//! to a complete, balanced assignment.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::consumer::group::assignor::AssignmentStrategy;

struct Member {
    m: GroupMembership,
    /// Partitions owned according to the listener events.
    owned: BTreeSet<TopicPartition>,
    /// The JoinGroup it sent and that awaits a response.
    join: Option<JoinGroupRequest>,
    closed: bool,
}

struct Sim {
    now: Instant,
    members: Vec<Member>,
    generation: i32,
    counts: PartitionCounts,
    next_id: u32,
    rounds: usize,
    strategy: AssignmentStrategy,
}

impl Sim {
    fn new(strategy: AssignmentStrategy, counts: &[(&str, i32)]) -> Sim {
        Sim {
            now: Instant::now(),
            members: Vec::new(),
            generation: 0,
            counts: counts.iter().map(|(t, n)| (t.to_string(), *n)).collect(),
            next_id: 0,
            rounds: 0,
            strategy,
        }
    }

    fn add_member(&mut self) {
        let c = GroupConfig {
            partition_assignment_strategy: vec![self.strategy],
            ..GroupConfig::default()
        };
        let mut m = GroupMembership::new("g", c, Duration::from_millis(100), self.now).unwrap();
        m.subscribe(self.now, self.counts.keys().cloned());
        self.members.push(Member {
            m,
            owned: BTreeSet::new(),
            join: None,
            closed: false,
        });
    }

    /// Drains member `i`'s actions: applies listener events (checking single ownership) and
    /// returns the requests.
    fn drain(&mut self, i: usize) -> Vec<GroupAction> {
        let mut requests = Vec::new();
        while let Some(a) = self.members[i].m.poll_action() {
            match a {
                GroupAction::FindCoordinator { .. } => {
                    self.members[i].m.on_coordinator_found(self.now, 1)
                }
                GroupAction::Assigned(ps) => {
                    for p in ps {
                        for (j, other) in self.members.iter().enumerate() {
                            assert!(
                                j == i || !other.owned.contains(&p),
                                "{p} assigned to {i} while {j} owns it"
                            );
                        }
                        self.members[i].owned.insert(p);
                    }
                }
                GroupAction::Revoked(ps) | GroupAction::Lost(ps) => {
                    for p in ps {
                        assert!(self.members[i].owned.remove(&p));
                    }
                    // The listener "ran": let the member's next actions out.
                    self.members[i].m.revocation_done();
                }
                GroupAction::SendJoinGroup(j) => self.members[i].join = Some(j),
                GroupAction::SendLeaveGroup(_) => {
                    self.members[i].m.on_leave_group_response(self.now, 0);
                    self.members[i].closed = true;
                }
                GroupAction::Error(e) => panic!("member {i}: {e}"),
                other => requests.push(other),
            }
        }
        requests
    }

    fn live(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| !self.members[i].closed)
            .collect()
    }

    /// One rebalance round. Returns whether anyone wanted a round.
    fn round(&mut self) -> bool {
        for i in self.live() {
            self.drain(i);
        }
        if self.live().iter().all(|&i| self.members[i].join.is_none()) {
            return false;
        }
        self.rounds += 1;
        // Members still stable learn about the rebalance from their heartbeat.
        self.now += Duration::from_secs(3);
        for i in self.live() {
            self.members[i].m.handle_timeout(self.now);
            let reqs = self.drain(i);
            if reqs
                .iter()
                .any(|r| matches!(r, GroupAction::SendHeartbeat(_)))
            {
                self.members[i].m.on_heartbeat_response(self.now, 27);
                self.drain(i);
            }
        }
        // Everyone has joined: complete the join phase.
        self.generation += 1;
        let live = self.live();
        let mut ids = Vec::new();
        let mut joined = Vec::new();
        for &i in &live {
            let j = self.members[i]
                .join
                .take()
                .expect("every live member rejoins");
            let id = if j.member_id.is_empty() {
                self.next_id += 1;
                format!("member-{:03}", self.next_id)
            } else {
                j.member_id.clone()
            };
            let meta = j
                .protocols
                .iter()
                .find(|p| p.name == self.strategy.name())
                .unwrap()
                .metadata
                .clone();
            joined.push(JoinedMember {
                member_id: id.clone(),
                group_instance_id: None,
                metadata: meta,
            });
            ids.push(id);
        }
        let leader = ids[0].clone();
        let mut syncs: BTreeMap<String, Bytes> = BTreeMap::new();
        for (k, &i) in live.iter().enumerate() {
            let resp = JoinGroupResult {
                error_code: 0,
                generation_id: self.generation,
                protocol_type: Some("consumer".into()),
                protocol_name: Some(self.strategy.name().into()),
                leader: leader.clone(),
                member_id: ids[k].clone(),
                members: if k == 0 { joined.clone() } else { vec![] },
                skip_assignment: false,
            };
            self.members[i].m.on_join_group_response(self.now, resp);
            let mut reqs = self.drain(i);
            if let Some(GroupAction::DescribeTopics { .. }) = reqs.first() {
                let counts = self.counts.clone();
                self.members[i].m.on_partition_counts(self.now, &counts);
                reqs = self.drain(i);
            }
            match &reqs[..] {
                [GroupAction::SendSyncGroup(s)] => syncs.extend(s.assignments.iter().cloned()),
                other => panic!("expected SyncGroup, got {other:?}"),
            }
        }
        for (k, &i) in live.iter().enumerate() {
            let resp = SyncGroupResult {
                error_code: 0,
                protocol_type: Some("consumer".into()),
                protocol_name: Some(self.strategy.name().into()),
                assignment: syncs.get(&ids[k]).cloned().unwrap_or_default(),
            };
            self.members[i].m.on_sync_group_response(self.now, resp);
            self.drain(i);
        }
        true
    }

    fn settle(&mut self) {
        for _ in 0..10 {
            if !self.round() {
                return;
            }
        }
        panic!("no convergence in 10 rounds");
    }

    fn check_converged(&self) {
        let total: i32 = self.counts.values().sum();
        let live = self.live();
        let sizes: Vec<usize> = live.iter().map(|&i| self.members[i].owned.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), total as usize, "{sizes:?}");
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
        for &i in &live {
            assert_eq!(&self.members[i].owned, self.members[i].m.assignment());
            assert!(matches!(
                self.members[i].m.state(),
                MemberState::Stable { .. }
            ));
        }
    }
}

#[test]
fn cooperative_group_converges_through_joins_and_leaves() {
    let mut sim = Sim::new(AssignmentStrategy::CooperativeSticky, &[("a", 5), ("b", 4)]);
    sim.add_member();
    sim.add_member();
    sim.settle();
    sim.check_converged();
    assert_eq!(sim.rounds, 1);

    // A third member joins: one round revokes the moving partitions, a second hands them over.
    let before: Vec<BTreeSet<TopicPartition>> =
        sim.members.iter().map(|m| m.owned.clone()).collect();
    sim.add_member();
    sim.settle();
    sim.check_converged();
    assert_eq!(sim.rounds, 3);
    for (i, old) in before.iter().take(2).enumerate() {
        assert!(
            sim.members[i].owned.is_subset(old),
            "member {i} gained partitions"
        );
    }
    assert_eq!(sim.members[2].owned.len(), 3);

    // The first member leaves: its partitions go to the others in one round, nobody else moves.
    let before: Vec<BTreeSet<TopicPartition>> =
        sim.members.iter().map(|m| m.owned.clone()).collect();
    let now = sim.now;
    sim.members[0].m.close(now);
    sim.drain(0);
    for i in [1, 2] {
        sim.members[i].m.request_rejoin(now, "member left");
    }
    sim.settle();
    sim.check_converged();
    assert_eq!(sim.rounds, 4);
    for i in [1, 2] {
        assert!(before[i].is_subset(&sim.members[i].owned));
    }
}

#[test]
fn eager_group_revokes_everything_each_round() {
    for strategy in [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin] {
        let mut sim = Sim::new(strategy, &[("a", 6)]);
        sim.add_member();
        sim.add_member();
        sim.settle();
        sim.check_converged();
        sim.add_member();
        sim.settle();
        sim.check_converged();
        // Eager: one round per membership change (everything was revoked before rejoining).
        assert_eq!(sim.rounds, 2, "{strategy:?}");
        assert!(sim.members.iter().all(|m| m.owned.len() == 2));
    }
}
