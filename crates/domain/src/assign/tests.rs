//! Unit tests for each rule of the assignment policy, and `proptest` properties for each of its
//! invariants, checked against a deliberately naive reference model (filter, then sort).

use proptest::prelude::*;

use super::*;
use AssignmentMethod::{HighestCapacity, LeastActive, RoundRobin};

/// A queue member the test owns, from which it lends a [`Candidate`] to [`assign`].
#[derive(Debug, Clone)]
struct Member {
    name: UserName,
    kind: MemberKind,
    presence: Presence,
    last_assigned_at: Option<Timestamp>,
    last_released_at: Option<Timestamp>,
    position: usize,
}

impl Member {
    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            name: &self.name,
            kind: self.kind,
            presence: self.presence,
            last_assigned_at: self.last_assigned_at,
            last_released_at: self.last_released_at,
            position: self.position,
        }
    }

    fn presence(mut self, presence: Presence) -> Self {
        self.presence = presence;
        self
    }

    fn assigned_at(mut self, millis: i64) -> Self {
        self.last_assigned_at = Some(Timestamp(millis));
        self
    }

    fn released_at(mut self, millis: i64) -> Self {
        self.last_released_at = Some(Timestamp(millis));
        self
    }

    fn at_position(mut self, position: usize) -> Self {
        self.position = position;
        self
    }
}

fn name(s: &str) -> UserName {
    UserName::new(s).unwrap()
}

fn agent(handle: &str, capacity: u32, used: u32) -> Member {
    Member {
        name: name(handle),
        kind: MemberKind::Human {
            capacity: Capacity(capacity),
            used: Capacity(used),
        },
        presence: Presence::Available,
        last_assigned_at: None,
        last_released_at: None,
        position: 0,
    }
}

fn bot(handle: &str) -> Member {
    Member {
        kind: MemberKind::Bot,
        ..agent(handle, 0, 0)
    }
}

/// Places members in the queue in the order given.
fn in_order(members: Vec<Member>) -> Vec<Member> {
    members.into_iter().enumerate().map(|(i, m)| m.at_position(i)).collect()
}

const ALLOWED: &[Presence] = &Presence::DEFAULT_ALLOWED;

fn one_unit() -> Request<'static> {
    Request::new(Capacity(1), ALLOWED)
}

/// Who `assign` picks from `members`, added to the queue in that order, by name, or why the
/// conversation waits.
fn pick(method: AssignmentMethod, members: Vec<Member>, request: &Request<'_>) -> Result<String, WaitReason> {
    pick_as_placed(method, in_order(members), request)
}

/// [`pick`] for members whose positions the test set itself.
fn pick_as_placed(method: AssignmentMethod, members: Vec<Member>, request: &Request<'_>) -> Result<String, WaitReason> {
    let candidates: Vec<Candidate<'_>> = members.iter().map(Member::candidate).collect();
    match assign(method, &candidates, request) {
        Assignment::Member(chosen) => Ok(chosen.name.as_str().to_owned()),
        Assignment::Wait(reason) => Err(reason),
    }
}

fn picked(handle: &str) -> Result<String, WaitReason> {
    Ok(handle.to_owned())
}

// --- highest capacity ---

#[test]
fn highest_capacity_picks_the_agent_with_the_most_free_capacity() {
    let members = vec![agent("alice", 5, 4), agent("bob", 3, 0), agent("carol", 10, 8)];
    assert_eq!(pick(HighestCapacity, members, &one_unit()), picked("bob"));
}

#[test]
fn highest_capacity_ties_go_to_the_earliest_last_assignment() {
    let members = vec![
        agent("alice", 4, 0).assigned_at(20),
        agent("bob", 4, 0).assigned_at(10),
        agent("carol", 5, 1).assigned_at(30),
    ];
    assert_eq!(pick(HighestCapacity, members, &one_unit()), picked("bob"));
}

#[test]
fn highest_capacity_ties_go_first_to_an_agent_never_assigned_anything() {
    let members = vec![agent("alice", 4, 0).assigned_at(1), agent("bob", 4, 0)];
    assert_eq!(pick(HighestCapacity, members, &one_unit()), picked("bob"));
}

#[test]
fn highest_capacity_ties_on_capacity_and_last_assignment_go_to_the_first_added_to_the_queue() {
    let members = vec![agent("zed", 4, 0).assigned_at(5), agent("amy", 4, 0).assigned_at(5)];
    assert_eq!(pick(HighestCapacity, members, &one_unit()), picked("zed"));
}

// --- round robin ---

#[test]
fn round_robin_picks_the_agent_assigned_longest_ago_whatever_their_free_capacity() {
    let members = vec![
        agent("alice", 10, 0).assigned_at(30),
        agent("bob", 2, 1).assigned_at(10),
        agent("carol", 5, 0).assigned_at(20),
    ];
    assert_eq!(pick(RoundRobin, members, &one_unit()), picked("bob"));
}

#[test]
fn round_robin_picks_an_agent_never_assigned_before_everyone_else() {
    let members = vec![agent("alice", 3, 0).assigned_at(0), agent("bob", 3, 0)];
    assert_eq!(pick(RoundRobin, members, &one_unit()), picked("bob"));
}

#[test]
fn round_robin_ties_go_to_the_member_added_to_the_queue_first() {
    let members = vec![agent("zed", 3, 0), agent("amy", 3, 0)];
    assert_eq!(pick(RoundRobin, members, &one_unit()), picked("zed"));
    let placed = vec![agent("zed", 3, 0).at_position(7), agent("amy", 3, 0).at_position(2)];
    assert_eq!(pick_as_placed(RoundRobin, placed, &one_unit()), picked("amy"));
}

#[test]
fn members_at_the_same_position_are_told_apart_by_name() {
    let members = vec![agent("zed", 3, 0).at_position(4), agent("amy", 3, 0).at_position(4)];
    assert_eq!(pick_as_placed(RoundRobin, members, &one_unit()), picked("amy"));
}

// --- least active ---

#[test]
fn least_active_picks_the_agent_who_released_capacity_longest_ago() {
    let members = vec![
        agent("alice", 3, 0).released_at(50).assigned_at(1),
        agent("bob", 3, 2).released_at(10).assigned_at(40),
        agent("carol", 9, 0).released_at(30),
    ];
    assert_eq!(pick(LeastActive, members, &one_unit()), picked("bob"));
}

#[test]
fn least_active_counts_an_agent_who_never_released_capacity_as_idle_the_longest() {
    let members = vec![agent("alice", 3, 0).released_at(0), agent("bob", 3, 0).assigned_at(99)];
    assert_eq!(pick(LeastActive, members, &one_unit()), picked("bob"));
}

#[test]
fn least_active_ties_go_to_the_earliest_last_assignment_then_queue_order() {
    let members = vec![
        agent("alice", 3, 0).released_at(10).assigned_at(8),
        agent("bob", 3, 0).released_at(10).assigned_at(5),
    ];
    assert_eq!(pick(LeastActive, members, &one_unit()), picked("bob"));
    let members = vec![agent("alice", 3, 0).released_at(10), agent("bob", 3, 0).released_at(10)];
    assert_eq!(pick(LeastActive, members, &one_unit()), picked("alice"));
}

// --- bots ---

#[test]
fn a_bot_in_the_queue_is_chosen_before_any_agent_whatever_the_method() {
    for method in AssignmentMethod::ALL {
        let members = vec![
            agent("alice", 100, 0),
            bot("helper").assigned_at(1_000),
            agent("bob", 100, 0),
        ];
        assert_eq!(pick(*method, members, &one_unit()), picked("helper"), "{method}");
    }
}

#[test]
fn a_bot_takes_any_conversation_whatever_it_costs_and_whatever_its_presence() {
    let request = Request::new(Capacity(u32::MAX), &[]);
    let members = vec![agent("alice", 100, 0), bot("helper").presence(Presence::Offline)];
    assert_eq!(pick(HighestCapacity, members, &request), picked("helper"));
}

#[test]
fn among_several_bots_the_earliest_last_assignment_wins_then_queue_order() {
    let members = vec![
        bot("first").assigned_at(9),
        bot("second").assigned_at(3),
        bot("third").assigned_at(3),
    ];
    assert_eq!(pick(HighestCapacity, members, &one_unit()), picked("second"));
    let members = vec![bot("first").assigned_at(9), bot("second")];
    assert_eq!(pick(RoundRobin, members, &one_unit()), picked("second"));
}

#[test]
fn a_bot_that_escalated_the_conversation_is_not_offered_it_again() {
    let escalated = [name("helper")];
    let request = Request {
        escalated_by: &escalated,
        ..one_unit()
    };
    let members = vec![bot("helper"), agent("alice", 3, 0)];
    assert_eq!(pick(HighestCapacity, members.clone(), &request), picked("alice"));
    let with_another_bot = [members, vec![bot("other")]].concat();
    assert_eq!(pick(HighestCapacity, with_another_bot, &request), picked("other"));
}

#[test]
fn an_agent_named_among_the_escalating_bots_is_still_offered_the_conversation() {
    let escalated = [name("alice")];
    let request = Request {
        escalated_by: &escalated,
        ..one_unit()
    };
    assert_eq!(pick(RoundRobin, vec![agent("alice", 3, 0)], &request), picked("alice"));
}

// --- agent eligibility ---

#[test]
fn an_agent_in_a_presence_the_workstream_does_not_allow_is_skipped() {
    let members = vec![
        agent("alice", 10, 0).presence(Presence::Away),
        agent("bob", 2, 1).presence(Presence::Busy),
    ];
    assert_eq!(pick(HighestCapacity, members, &one_unit()), picked("bob"));
    let members = vec![agent("alice", 10, 0).presence(Presence::Busy)];
    let available_only = Request::new(Capacity(1), &[Presence::Available]);
    assert_eq!(
        pick(HighestCapacity, members, &available_only),
        Err(WaitReason::NoneAvailable)
    );
}

#[test]
fn an_agent_is_never_taken_over_capacity() {
    let two_units = Request::new(Capacity(2), ALLOWED);
    let members = vec![agent("alice", 3, 2), agent("bob", 4, 2).assigned_at(50)];
    assert_eq!(
        pick(RoundRobin, members, &two_units),
        picked("bob"),
        "bob has exactly the two units it takes"
    );
    assert_eq!(
        pick(RoundRobin, vec![agent("alice", 3, 2)], &two_units),
        Err(WaitReason::NoFreeCapacity)
    );
}

#[test]
fn an_agent_already_over_capacity_is_not_offered_even_a_conversation_that_takes_nothing() {
    let free = Request::new(Capacity(0), ALLOWED);
    assert_eq!(
        pick(HighestCapacity, vec![agent("alice", 2, 3)], &free),
        Err(WaitReason::NoFreeCapacity)
    );
    assert_eq!(
        pick(HighestCapacity, vec![agent("alice", 2, 2)], &free),
        picked("alice")
    );
}

#[test]
fn a_huge_conversation_does_not_overflow_into_fitting() {
    let huge = Request::new(Capacity(u32::MAX), ALLOWED);
    assert_eq!(
        pick(HighestCapacity, vec![agent("alice", u32::MAX, 1)], &huge),
        Err(WaitReason::NoFreeCapacity)
    );
}

#[test]
fn an_agent_who_declined_the_maximum_number_of_times_is_not_offered_it_again() {
    let declines = [(name("alice"), 3), (name("bob"), 2)];
    let request = Request {
        declines: &declines,
        ..one_unit()
    };
    let members = vec![agent("alice", 10, 0), agent("bob", 2, 1)];
    assert_eq!(
        pick(HighestCapacity, members, &request),
        picked("bob"),
        "two declines out of three still get an offer"
    );
    let members = vec![agent("bob", 2, 1), agent("alice", 10, 0)];
    assert_eq!(
        pick(HighestCapacity, members, &request),
        picked("bob"),
        "whichever comes first in the queue"
    );
}

#[test]
fn the_decline_limit_is_the_requests_and_the_highest_count_for_an_agent_applies() {
    let declines = [(name("alice"), 1), (name("bob"), 0), (name("bob"), 1)];
    let request = Request {
        declines: &declines,
        max_declines: 1,
        ..one_unit()
    };
    let members = vec![
        agent("alice", 3, 0),
        agent("bob", 3, 0),
        agent("carol", 3, 0).assigned_at(9),
    ];
    assert_eq!(pick(RoundRobin, members, &request), picked("carol"));
    assert_eq!(request.declines_of(&name("bob")), 1);
    assert_eq!(request.declines_of(&name("carol")), 0);
}

#[test]
fn the_default_decline_limit_is_omnichannels_three() {
    assert_eq!(one_unit().max_declines, 3);
}

// --- why a conversation waits ---

#[test]
fn an_empty_queue_waits_for_want_of_members() {
    for method in AssignmentMethod::ALL {
        assert_eq!(pick(*method, vec![], &one_unit()), Err(WaitReason::NoMembers));
    }
}

#[test]
fn a_queue_of_bots_that_all_escalated_waits_because_only_escalated_bots_are_left() {
    let escalated = [name("one"), name("two")];
    let request = Request {
        escalated_by: &escalated,
        ..one_unit()
    };
    assert_eq!(
        pick(RoundRobin, vec![bot("one"), bot("two")], &request),
        Err(WaitReason::OnlyEscalatedBots)
    );
}

#[test]
fn agents_none_of_whom_is_in_an_allowed_presence_wait_as_none_available() {
    let escalated = [name("helper")];
    let request = Request {
        escalated_by: &escalated,
        ..one_unit()
    };
    let members = vec![
        bot("helper"),
        agent("alice", 3, 0).presence(Presence::Offline),
        agent("bob", 3, 0).presence(Presence::BusyDnd),
    ];
    assert_eq!(pick(HighestCapacity, members, &request), Err(WaitReason::NoneAvailable));
}

#[test]
fn an_empty_list_of_allowed_presences_allows_no_agent() {
    let request = Request::new(Capacity(1), &[]);
    assert_eq!(
        pick(HighestCapacity, vec![agent("alice", 3, 0)], &request),
        Err(WaitReason::NoneAvailable)
    );
}

#[test]
fn present_agents_without_free_capacity_wait_as_no_free_capacity_even_if_others_are_away() {
    let members = vec![agent("alice", 3, 0).presence(Presence::Away), agent("bob", 2, 2)];
    assert_eq!(pick(LeastActive, members, &one_unit()), Err(WaitReason::NoFreeCapacity));
}

#[test]
fn present_agents_with_capacity_who_all_declined_wait_as_all_declined() {
    let declines = [(name("bob"), 3)];
    let request = Request {
        declines: &declines,
        ..one_unit()
    };
    let members = vec![
        agent("alice", 3, 3),
        agent("bob", 3, 0),
        agent("carol", 3, 0).presence(Presence::Offline),
    ];
    assert_eq!(pick(RoundRobin, members, &request), Err(WaitReason::AllDeclined));
}

#[test]
fn a_decline_limit_of_zero_offers_the_conversation_to_no_agent() {
    let request = Request {
        max_declines: 0,
        ..one_unit()
    };
    assert_eq!(
        pick(RoundRobin, vec![agent("alice", 3, 0)], &request),
        Err(WaitReason::AllDeclined)
    );
    assert_eq!(
        pick(RoundRobin, vec![agent("alice", 3, 0), bot("helper")], &request),
        picked("helper")
    );
}

#[test]
fn wait_reasons_round_trip_through_their_spelling() {
    for reason in WaitReason::ALL {
        assert_eq!(reason.as_str().parse::<WaitReason>().unwrap(), *reason);
    }
    assert_eq!(
        serde_json::to_string(&WaitReason::NoFreeCapacity).unwrap(),
        "\"no_free_capacity\""
    );
}

#[test]
fn the_chosen_member_is_lent_back_with_everything_the_engine_needs() {
    let members = in_order(vec![agent("alice", 3, 1), bot("helper")]);
    let candidates: Vec<Candidate<'_>> = members.iter().map(Member::candidate).collect();
    let chosen = assign(RoundRobin, &candidates, &one_unit()).member().unwrap();
    assert!(chosen.is_bot());
    assert_eq!((chosen.position, chosen.free_capacity()), (1, None));
    assert_eq!(candidates[0].free_capacity(), Some(Capacity(2)));
    assert_eq!(assign(RoundRobin, &[], &one_unit()).member(), None);
}

// --- properties ---

/// A queue and a conversation, owned, with a naive model of the rules to check `assign` against.
#[derive(Debug, Clone)]
struct Scenario {
    members: Vec<Member>,
    units: Capacity,
    allowed: Vec<Presence>,
    escalated_by: Vec<UserName>,
    declines: Vec<(UserName, u32)>,
    max_declines: u32,
}

impl Scenario {
    fn candidates(&self) -> Vec<Candidate<'_>> {
        self.members.iter().map(Member::candidate).collect()
    }

    fn request(&self) -> Request<'_> {
        Request {
            units: self.units,
            allowed_presences: &self.allowed,
            escalated_by: &self.escalated_by,
            declines: &self.declines,
            max_declines: self.max_declines,
        }
    }

    fn declines_of(&self, member: &Member) -> u32 {
        self.declines
            .iter()
            .filter(|(n, _)| *n == member.name)
            .map(|(_, c)| *c)
            .max()
            .unwrap_or(0)
    }

    fn in_allowed_presence(&self, member: &Member) -> bool {
        self.allowed.contains(&member.presence)
    }

    fn fits(&self, member: &Member) -> bool {
        match member.kind {
            MemberKind::Human { capacity, used } => used.0 as u64 + self.units.0 as u64 <= capacity.0 as u64,
            MemberKind::Bot => true,
        }
    }

    fn eligible(&self, member: &Member) -> bool {
        match member.kind {
            MemberKind::Bot => !self.escalated_by.contains(&member.name),
            MemberKind::Human { .. } => {
                self.in_allowed_presence(member) && self.fits(member) && self.declines_of(member) < self.max_declines
            }
        }
    }

    fn eligible_members(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| self.eligible(m))
    }

    fn eligible_humans(&self) -> Vec<&Member> {
        self.eligible_members()
            .filter(|m| !matches!(m.kind, MemberKind::Bot))
            .collect()
    }

    fn eligible_bot_exists(&self) -> bool {
        self.eligible_members().any(|m| matches!(m.kind, MemberKind::Bot))
    }

    /// The rules written as "filter, sort, take the first", independently of `assign`.
    fn expected(&self, method: AssignmentMethod) -> Option<&Member> {
        let mut eligible: Vec<&Member> = self.eligible_members().collect();
        eligible.sort_by_key(|m| {
            let is_human = !matches!(m.kind, MemberKind::Bot);
            // Bots are ranked among themselves by last assignment only, whatever the method.
            let method_key = match method {
                _ if !is_human => (0, None),
                HighestCapacity => (u32::MAX - free(m), None),
                RoundRobin => (0, None),
                LeastActive => (0, m.last_released_at),
            };
            (is_human, method_key, m.last_assigned_at, m.position, m.name.clone())
        });
        eligible.first().copied()
    }

    /// Why nothing is eligible, written as a cascade of questions about the whole queue.
    fn expected_wait(&self) -> WaitReason {
        let humans: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| !matches!(m.kind, MemberKind::Bot))
            .collect();
        let present: Vec<&Member> = humans.iter().copied().filter(|m| self.in_allowed_presence(m)).collect();
        if self.members.is_empty() {
            WaitReason::NoMembers
        } else if humans.is_empty() {
            WaitReason::OnlyEscalatedBots
        } else if present.is_empty() {
            WaitReason::NoneAvailable
        } else if !present.iter().any(|m| self.fits(m)) {
            WaitReason::NoFreeCapacity
        } else {
            WaitReason::AllDeclined
        }
    }
}

fn free(member: &Member) -> u32 {
    match member.kind {
        MemberKind::Human { capacity, used } => capacity.0.saturating_sub(used.0),
        MemberKind::Bot => 0,
    }
}

fn chosen(scenario: &Scenario, method: AssignmentMethod) -> Option<&Member> {
    let candidates = scenario.candidates();
    let position = assign(method, &candidates, &scenario.request())
        .member()
        .map(|c| c.position)?;
    scenario.members.iter().find(|m| m.position == position)
}

fn method() -> impl Strategy<Value = AssignmentMethod> {
    prop::sample::select(AssignmentMethod::ALL)
}

fn timestamp() -> impl Strategy<Value = Option<Timestamp>> {
    // A narrow range, so that ties are common and the tie-breakers get exercised.
    prop::option::of((0i64..8).prop_map(Timestamp))
}

fn member_kind() -> impl Strategy<Value = MemberKind> {
    prop_oneof![
        4 => (0u32..7, 0u32..9).prop_map(|(capacity, used)| MemberKind::Human { capacity: Capacity(capacity), used: Capacity(used) }),
        1 => Just(MemberKind::Bot),
    ]
}

/// Members named `m0`, `m1`, … at positions 0, 1, …: names and positions are unique, as in a queue.
fn members(max: usize) -> impl Strategy<Value = Vec<Member>> {
    prop::collection::vec(
        (
            member_kind(),
            prop::sample::select(Presence::ALL),
            timestamp(),
            timestamp(),
        ),
        0..max,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (kind, presence, last_assigned_at, last_released_at))| Member {
                name: name(&format!("m{i}")),
                kind,
                presence,
                last_assigned_at,
                last_released_at,
                position: i,
            })
            .collect()
    })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    members(12).prop_flat_map(|members| {
        let n = members.len();
        (
            Just(members),
            0u32..4,
            prop::sample::subsequence(Presence::ALL, 0..=Presence::ALL.len()),
            prop::collection::vec(any::<bool>(), n),
            prop::collection::vec(prop::option::of(0u32..6), n),
            0u32..6,
        )
            .prop_map(
                |(members, units, allowed, escalated, declined, max_declines)| Scenario {
                    escalated_by: members
                        .iter()
                        .zip(&escalated)
                        .filter(|(_, e)| **e)
                        .map(|(m, _)| m.name.clone())
                        .collect(),
                    declines: members
                        .iter()
                        .zip(&declined)
                        .filter_map(|(m, d)| d.map(|count| (m.name.clone(), count)))
                        .collect(),
                    members,
                    units: Capacity(units),
                    allowed,
                    max_declines,
                },
            )
    })
}

/// Scenarios whose queues hold only agents, for the properties of the methods themselves.
fn agents_only() -> impl Strategy<Value = Scenario> {
    scenario().prop_map(|mut s| {
        s.members.retain(|m| m.kind != MemberKind::Bot);
        s
    })
}

proptest! {
    #[test]
    fn an_agent_is_never_assigned_past_their_capacity(s in scenario(), method in method()) {
        if let Some(MemberKind::Human { capacity, used }) = chosen(&s, method).map(|m| m.kind) {
            prop_assert!(used.0 as u64 + s.units.0 as u64 <= capacity.0 as u64);
        }
    }

    #[test]
    fn a_chosen_agent_is_in_an_allowed_presence_and_has_not_declined_too_often(s in scenario(), method in method()) {
        if let Some(m) = chosen(&s, method).filter(|m| !matches!(m.kind, MemberKind::Bot)) {
            prop_assert!(s.allowed.contains(&m.presence));
            prop_assert!(s.declines_of(m) < s.max_declines);
        }
    }

    #[test]
    fn a_bot_is_never_offered_a_conversation_it_escalated(s in scenario(), method in method()) {
        if let Some(m) = chosen(&s, method) {
            prop_assert!(!(matches!(m.kind, MemberKind::Bot) && s.escalated_by.contains(&m.name)));
        }
    }

    #[test]
    fn an_eligible_bot_is_chosen_before_any_agent_and_the_earliest_assigned_bot_first(s in scenario(), method in method()) {
        if s.eligible_bot_exists() {
            let m = chosen(&s, method).unwrap();
            prop_assert_eq!(m.kind, MemberKind::Bot);
            let earliest = s.eligible_members().filter(|b| b.kind == MemberKind::Bot).map(|b| b.last_assigned_at).min().unwrap();
            prop_assert_eq!(m.last_assigned_at, earliest);
        }
    }

    #[test]
    fn a_bot_is_chosen_however_much_the_conversation_takes_and_whatever_its_presence(
        mut s in scenario(),
        method in method(),
        units in any::<u32>(),
        presence in prop::sample::select(Presence::ALL),
    ) {
        s.units = Capacity(units);
        s.members.push(Member { position: s.members.len(), ..bot("the-bot").presence(presence) });
        prop_assert_eq!(chosen(&s, method).map(|m| m.kind), Some(MemberKind::Bot));
    }

    #[test]
    fn a_bot_keeps_taking_conversations_because_its_capacity_is_never_consumed(
        mut s in scenario(),
        method in method(),
        rounds in 1usize..20,
    ) {
        s.escalated_by.clear();
        s.members.push(Member { position: s.members.len(), ..bot("the-bot") });
        for round in 0..rounds {
            let m = chosen(&s, method).unwrap();
            prop_assert_eq!(m.kind, MemberKind::Bot, "round {}", round);
            let position = m.position;
            // What the engine records after an assignment: the time, and capacity for agents only.
            s.members[position].last_assigned_at = Some(Timestamp(1_000 + round as i64));
        }
    }

    #[test]
    fn a_conversation_waits_exactly_when_no_member_is_eligible_and_says_why(s in scenario(), method in method()) {
        let candidates = s.candidates();
        match assign(method, &candidates, &s.request()) {
            Assignment::Member(_) => prop_assert!(s.eligible_members().next().is_some()),
            Assignment::Wait(reason) => {
                prop_assert!(s.eligible_members().next().is_none());
                prop_assert_eq!(reason, s.expected_wait());
            }
        }
    }

    #[test]
    fn highest_capacity_picks_the_most_free_capacity_and_then_the_earliest_last_assignment(s in agents_only()) {
        let humans = s.eligible_humans();
        if let Some(m) = chosen(&s, HighestCapacity) {
            let most = humans.iter().map(|h| free(h)).max().unwrap();
            prop_assert_eq!(free(m), most);
            let earliest = humans.iter().filter(|h| free(h) == most).map(|h| h.last_assigned_at).min().unwrap();
            prop_assert_eq!(m.last_assigned_at, earliest);
        }
    }

    #[test]
    fn round_robin_picks_the_earliest_last_assignment(s in agents_only()) {
        if let Some(m) = chosen(&s, RoundRobin) {
            let earliest = s.eligible_humans().iter().map(|h| h.last_assigned_at).min().unwrap();
            prop_assert_eq!(m.last_assigned_at, earliest);
        }
    }

    #[test]
    fn least_active_picks_the_earliest_release_and_then_the_earliest_last_assignment(s in agents_only()) {
        let humans = s.eligible_humans();
        if let Some(m) = chosen(&s, LeastActive) {
            let earliest = humans.iter().map(|h| h.last_released_at).min().unwrap();
            prop_assert_eq!(m.last_released_at, earliest);
            let then = humans.iter().filter(|h| h.last_released_at == earliest).map(|h| h.last_assigned_at).min().unwrap();
            prop_assert_eq!(m.last_assigned_at, then);
        }
    }

    #[test]
    fn the_choice_is_the_one_a_filter_and_sort_would_make(s in scenario(), method in method()) {
        let expected = s.expected(method).map(|m| &m.name);
        prop_assert_eq!(chosen(&s, method).map(|m| &m.name), expected);
    }

    #[test]
    fn the_choice_does_not_depend_on_the_order_of_the_members(
        (s, order) in scenario().prop_flat_map(|s| {
            let order: Vec<usize> = (0..s.members.len()).collect();
            (Just(s), Just(order).prop_shuffle())
        }),
        method in method(),
    ) {
        let shuffled = Scenario { members: order.iter().map(|&i| s.members[i].clone()).collect(), ..s.clone() };
        let (original, reordered) = (s.candidates(), shuffled.candidates());
        let before = assign(method, &original, &s.request());
        let after = assign(method, &reordered, &shuffled.request());
        match (before, after) {
            (Assignment::Member(a), Assignment::Member(b)) => prop_assert_eq!(a.name, b.name),
            (a, b) => prop_assert_eq!(a, b),
        }
    }

    #[test]
    fn equal_agents_each_get_one_conversation_in_every_round_of_n(
        method in prop::sample::select(&[RoundRobin, HighestCapacity][..]),
        history in prop::collection::vec(timestamp(), 1..10),
        rounds in 1usize..5,
    ) {
        let n = history.len();
        let mut members: Vec<Member> = history
            .iter()
            .enumerate()
            .map(|(i, &last)| Member { last_assigned_at: last, position: i, ..agent(&format!("agent{i}"), 1_000, 0) })
            .collect();
        let request = one_unit();
        let mut clock = 100;
        for round in 0..rounds {
            let mut served = vec![0; n];
            for _ in 0..n {
                let candidates: Vec<Candidate<'_>> = members.iter().map(Member::candidate).collect();
                let position = assign(method, &candidates, &request).member().unwrap().position;
                served[position] += 1;
                // What the engine records after an assignment.
                let m = &mut members[position];
                m.last_assigned_at = Some(Timestamp(clock));
                if let MemberKind::Human { used, .. } = &mut m.kind {
                    used.0 += request.units.0;
                }
                clock += 1;
            }
            prop_assert!(served.iter().all(|&times| times == 1), "round {}: {:?}", round, served);
        }
    }
}
