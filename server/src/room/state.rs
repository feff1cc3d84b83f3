//! The state of one live room, as plain data: who is here (on any node), raised hands, chat lock
//! and mutes, removals, and the polls with their votes. No I/O: the actor persists first, then
//! applies here, then broadcasts; tests drive this directly.

use app::protocol::{
    ErrorCode, OptionId, Participant, Poll, PollId, PollKind, PollOption, PollResults, RoomRole, UserId,
};
use lectern_core::config::RoomConfig;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Which node a connection is on; random per process.
pub type NodeId = u64;

/// One connection, unique across nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConnKey {
    pub node: NodeId,
    pub conn: u64,
}

/// Who is behind a connection, as admitted at the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user: UserId,
    pub name: String,
    pub role: RoomRole,
}

/// Why a message was refused: a code for programs, a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, message)
    }
}

struct Member {
    participant: Participant,
    connections: u32,
    /// Join order, for a stable roster.
    since: u64,
}

/// A poll and its votes, kept in memory so live counts cost nothing to compute.
#[derive(Clone, Debug)]
pub struct PollState {
    pub id: PollId,
    pub question: String,
    pub kind: PollKind,
    pub anonymous: bool,
    pub options: Vec<PollOption>,
    pub closed: bool,
    /// Each voter's current choice, and their name (for named polls).
    pub votes: HashMap<UserId, (Vec<OptionId>, String)>,
}

impl PollState {
    /// Counts per option, voters, and (when asked and the poll is named) who chose what.
    pub fn results(&self, with_names: bool) -> PollResults {
        let index: HashMap<OptionId, usize> = self.options.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
        let mut counts = vec![0u32; self.options.len()];
        let mut names = vec![Vec::new(); self.options.len()];
        for (choice, name) in self.votes.values() {
            for option in choice {
                if let Some(&i) = index.get(option) {
                    counts[i] += 1;
                    names[i].push(name.clone());
                }
            }
        }
        names.iter_mut().for_each(|n| n.sort());
        let show_names = with_names && !self.anonymous;
        PollResults { counts, voters: self.votes.len() as u32, names: show_names.then_some(names) }
    }

    /// The poll as `viewer` sees it: staff see live results, everyone sees them once closed.
    pub fn view(&self, viewer: UserId, staff: bool) -> Poll {
        Poll {
            id: self.id,
            question: self.question.clone(),
            kind: self.kind,
            anonymous: self.anonymous,
            options: self.options.clone(),
            closed: self.closed,
            results: (staff || self.closed).then(|| self.results(staff)),
            my_vote: self.votes.get(&viewer).map(|(v, _)| v.clone()).unwrap_or_default(),
        }
    }

    /// Check a choice against the poll's kind and options; returns it sorted and deduplicated.
    pub fn check_choice(&self, options: &[OptionId]) -> Result<Vec<OptionId>, Refusal> {
        if self.closed {
            return Err(Refusal::new(ErrorCode::PollClosed, "This poll has closed."));
        }
        let mut choice = options.to_vec();
        choice.sort_unstable();
        choice.dedup();
        if let Some(bad) = choice.iter().find(|o| !self.options.iter().any(|p| p.id == **o)) {
            return Err(Refusal::invalid(format!("Option {bad} is not part of this poll.")));
        }
        match (self.kind, choice.len()) {
            (_, 0) => Err(Refusal::invalid("Choose an option.")),
            (PollKind::Single | PollKind::YesNo, n) if n > 1 => Err(Refusal::invalid("This poll takes one answer.")),
            _ => Ok(choice),
        }
    }
}

/// Everything one room knows.
#[derive(Default)]
pub struct RoomState {
    members: HashMap<UserId, Member>,
    connections: HashMap<ConnKey, UserId>,
    next_since: u64,
    hands: Vec<UserId>,
    chat_locked: bool,
    muted: HashSet<UserId>,
    /// Students a teacher invited to speak.
    speakers: HashSet<UserId>,
    removed: HashSet<UserId>,
    polls: Vec<PollState>,
}

/// What a join changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Joined {
    /// The user's first connection: announce them.
    Arrived(Participant),
    /// Another tab of someone already here.
    AnotherConnection,
}

/// What a leave changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Departed {
    pub user: UserId,
    /// Their last connection closed: they left the room.
    pub gone: bool,
    /// Their hand was up and is now down.
    pub hand_lowered: bool,
}

impl RoomState {
    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }

    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    pub fn was_removed(&self, user: UserId) -> bool {
        self.removed.contains(&user)
    }

    pub fn join(&mut self, key: ConnKey, who: &Identity) -> Joined {
        if let Some(previous) = self.connections.insert(key, who.user)
            && let Some(member) = self.members.get_mut(&previous)
        {
            // A reused key (should not happen): undo the old count.
            member.connections = member.connections.saturating_sub(1);
        }
        if let Some(member) = self.members.get_mut(&who.user)
            && member.connections > 0
        {
            member.connections += 1;
            return Joined::AnotherConnection;
        }
        self.next_since += 1;
        let participant = Participant {
            user: who.user,
            name: who.name.clone(),
            role: who.role,
            chat_muted: self.muted.contains(&who.user),
            may_speak: self.speakers.contains(&who.user),
        };
        self.members
            .insert(who.user, Member { participant: participant.clone(), connections: 1, since: self.next_since });
        Joined::Arrived(participant)
    }

    pub fn leave(&mut self, key: ConnKey) -> Option<Departed> {
        let user = self.connections.remove(&key)?;
        let member = self.members.get_mut(&user)?;
        member.connections = member.connections.saturating_sub(1);
        if member.connections > 0 {
            return Some(Departed { user, gone: false, hand_lowered: false });
        }
        self.members.remove(&user);
        let hand_lowered = self.lower_hand(user);
        Some(Departed { user, gone: true, hand_lowered })
    }

    /// Who is on a connection.
    pub fn identity(&self, key: ConnKey) -> Option<Identity> {
        let user = self.connections.get(&key)?;
        let p = &self.members.get(user)?.participant;
        Some(Identity { user: p.user, name: p.name.clone(), role: p.role })
    }

    pub fn participant(&self, user: UserId) -> Option<&Participant> {
        self.members.get(&user).map(|m| &m.participant)
    }

    /// Everyone here, in the order they arrived.
    pub fn roster(&self) -> Vec<Participant> {
        let mut members: Vec<&Member> = self.members.values().collect();
        members.sort_by_key(|m| m.since);
        members.into_iter().map(|m| m.participant.clone()).collect()
    }

    pub fn connections_of(&self, user: UserId) -> Vec<ConnKey> {
        self.connections.iter().filter(|(_, u)| **u == user).map(|(k, _)| *k).collect()
    }

    pub fn hands(&self) -> &[UserId] {
        &self.hands
    }

    /// Raise a hand at the back of the queue; false if it was already up.
    pub fn raise_hand(&mut self, user: UserId) -> bool {
        if self.hands.contains(&user) {
            return false;
        }
        self.hands.push(user);
        true
    }

    /// Lower a hand, keeping the others' order; false if it was not up.
    pub fn lower_hand(&mut self, user: UserId) -> bool {
        let before = self.hands.len();
        self.hands.retain(|u| *u != user);
        self.hands.len() != before
    }

    pub fn chat_locked(&self) -> bool {
        self.chat_locked
    }

    /// Lock or unlock; false if nothing changed.
    pub fn set_chat_locked(&mut self, locked: bool) -> bool {
        std::mem::replace(&mut self.chat_locked, locked) != locked
    }

    pub fn is_muted(&self, user: UserId) -> bool {
        self.muted.contains(&user)
    }

    /// Mute or unmute someone's chat; returns their participant entry if they are here.
    pub fn set_muted(&mut self, user: UserId, muted: bool) -> Option<Participant> {
        if muted {
            self.muted.insert(user);
        } else {
            self.muted.remove(&user);
        }
        let member = self.members.get_mut(&user)?;
        member.participant.chat_muted = muted;
        Some(member.participant.clone())
    }

    /// Whether this person may publish audio and video: staff always, students when invited.
    pub fn may_publish(&self, who: &Identity) -> bool {
        who.role.is_staff() || self.speakers.contains(&who.user)
    }

    /// Invite a student to speak, or stop them; returns their participant entry if it changed
    /// and they are here.
    pub fn set_may_speak(&mut self, user: UserId, allowed: bool) -> Option<Participant> {
        let changed = if allowed { self.speakers.insert(user) } else { self.speakers.remove(&user) };
        if !changed {
            return None;
        }
        let member = self.members.get_mut(&user)?;
        member.participant.may_speak = allowed;
        Some(member.participant.clone())
    }

    /// Keep a user out for the rest of this room's life.
    pub fn mark_removed(&mut self, user: UserId) {
        self.removed.insert(user);
    }

    pub fn add_poll(&mut self, poll: PollState) {
        self.polls.push(poll);
    }

    pub fn poll(&self, id: PollId) -> Option<&PollState> {
        self.polls.iter().find(|p| p.id == id)
    }

    pub fn poll_mut(&mut self, id: PollId) -> Option<&mut PollState> {
        self.polls.iter_mut().find(|p| p.id == id)
    }

    pub fn polls(&self) -> &[PollState] {
        &self.polls
    }
}

/// A chat body as it will be stored: trimmed, non-empty, within the limit, and free of control
/// characters other than newlines and tabs.
pub fn check_text(text: &str, max_chars: usize, what: &str) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Refusal::invalid(format!("The {what} is empty.")));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(Refusal::invalid(format!("The {what} is {chars} characters long; the limit is {max_chars}.")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Refusal::invalid(format!("The {what} contains control characters.")));
    }
    Ok(text.to_owned())
}

/// A new poll's question and options, checked against the limits. Yes/no polls get their two
/// options here.
pub fn check_poll(
    question: &str,
    kind: PollKind,
    options: &[String],
    limits: &RoomConfig,
) -> Result<(String, Vec<String>), Refusal> {
    let question = check_text(question, limits.poll_question_max_chars, "question")?;
    let options = match kind {
        PollKind::YesNo => vec!["Yes".to_owned(), "No".to_owned()],
        PollKind::Single | PollKind::Multiple => {
            if options.len() > limits.poll_max_options {
                return Err(Refusal::invalid(format!(
                    "A poll can have at most {} options; this one has {}.",
                    limits.poll_max_options,
                    options.len()
                )));
            }
            let checked = options
                .iter()
                .enumerate()
                .map(|(i, o)| check_text(o, limits.poll_option_max_chars, &format!("option {}", i + 1)))
                .collect::<Result<Vec<_>, _>>()?;
            if checked.len() < 2 {
                return Err(Refusal::invalid("A poll needs at least two options."));
            }
            let distinct: HashSet<&str> = checked.iter().map(String::as_str).collect();
            if distinct.len() != checked.len() {
                return Err(Refusal::invalid("Two options have the same text."));
            }
            checked
        }
    };
    Ok((question, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(conn: u64) -> ConnKey {
        ConnKey { node: 1, conn }
    }

    fn who(user: UserId, role: RoomRole) -> Identity {
        Identity { user, name: format!("user {user}"), role }
    }

    #[test]
    fn presence_counts_connections_per_user() {
        let mut room = RoomState::default();
        assert!(matches!(room.join(key(1), &who(7, RoomRole::Student)), Joined::Arrived(_)));
        assert_eq!(room.join(key(2), &who(7, RoomRole::Student)), Joined::AnotherConnection);
        assert!(matches!(room.join(key(3), &who(1, RoomRole::Teacher)), Joined::Arrived(_)));
        assert_eq!(room.roster().iter().map(|p| p.user).collect::<Vec<_>>(), vec![7, 1], "arrival order");
        assert_eq!(room.leave(key(1)), Some(Departed { user: 7, gone: false, hand_lowered: false }));
        room.raise_hand(7);
        assert_eq!(room.leave(key(2)), Some(Departed { user: 7, gone: true, hand_lowered: true }));
        assert_eq!(room.leave(key(2)), None, "a second leave of one connection changes nothing");
        assert_eq!(room.roster().len(), 1);
        assert_eq!(room.connection_count(), 1);
    }

    #[test]
    fn hands_keep_their_order() {
        let mut room = RoomState::default();
        assert!(room.raise_hand(3));
        assert!(room.raise_hand(1));
        assert!(room.raise_hand(2));
        assert!(!room.raise_hand(1), "raising twice keeps the place");
        assert!(room.lower_hand(1));
        assert!(!room.lower_hand(1));
        assert!(room.raise_hand(1));
        assert_eq!(room.hands(), &[3, 2, 1]);
    }

    #[test]
    fn a_mute_outlives_a_reconnect() {
        let mut room = RoomState::default();
        room.join(key(1), &who(5, RoomRole::Student));
        assert!(room.set_muted(5, true).is_some_and(|p| p.chat_muted));
        room.leave(key(1));
        let Joined::Arrived(p) = room.join(key(2), &who(5, RoomRole::Student)) else { panic!("arrives") };
        assert!(p.chat_muted);
    }

    fn poll(kind: PollKind, anonymous: bool) -> PollState {
        PollState {
            id: 1,
            question: "q".into(),
            kind,
            anonymous,
            options: (1..=3).map(|id| PollOption { id, label: format!("o{id}") }).collect(),
            closed: false,
            votes: HashMap::new(),
        }
    }

    #[test]
    fn choices_follow_the_poll_kind() {
        let single = poll(PollKind::Single, false);
        assert_eq!(single.check_choice(&[2]).unwrap(), vec![2]);
        assert_eq!(single.check_choice(&[2, 2]).unwrap(), vec![2], "duplicates collapse");
        assert_eq!(single.check_choice(&[1, 2]).unwrap_err().code, ErrorCode::Invalid);
        assert_eq!(single.check_choice(&[]).unwrap_err().code, ErrorCode::Invalid);
        assert_eq!(single.check_choice(&[9]).unwrap_err().code, ErrorCode::Invalid);
        let multiple = poll(PollKind::Multiple, false);
        assert_eq!(multiple.check_choice(&[3, 1]).unwrap(), vec![1, 3]);
        let mut closed = poll(PollKind::Multiple, false);
        closed.closed = true;
        assert_eq!(closed.check_choice(&[1]).unwrap_err().code, ErrorCode::PollClosed);
    }

    #[test]
    fn results_count_votes_and_name_voters_only_when_named() {
        let mut named = poll(PollKind::Multiple, false);
        named.votes.insert(10, (vec![1, 2], "Bea".into()));
        named.votes.insert(11, (vec![2], "Al".into()));
        let results = named.results(true);
        assert_eq!(results.counts, vec![1, 2, 0]);
        assert_eq!(results.voters, 2);
        assert_eq!(results.names.unwrap()[1], vec!["Al".to_owned(), "Bea".to_owned()]);
        assert!(named.results(false).names.is_none());
        let mut anonymous = poll(PollKind::Single, true);
        anonymous.votes.insert(10, (vec![1], "Bea".into()));
        assert!(anonymous.results(true).names.is_none(), "anonymous polls never name voters");
        let student_view = anonymous.view(10, false);
        assert!(student_view.results.is_none(), "students see results only when it closes");
        assert_eq!(student_view.my_vote, vec![1]);
        assert!(anonymous.view(1, true).results.is_some(), "staff see live counts");
    }

    #[test]
    fn poll_and_text_limits() {
        let limits = RoomConfig::default();
        let (_, yes_no) = check_poll("Ready?", PollKind::YesNo, &[], &limits).unwrap();
        assert_eq!(yes_no, vec!["Yes", "No"]);
        let too_many: Vec<String> = (0..=limits.poll_max_options).map(|i| i.to_string()).collect();
        assert!(check_poll("q", PollKind::Single, &too_many, &limits).unwrap_err().message.contains("at most"));
        assert!(check_poll("q", PollKind::Single, &["a".into()], &limits).is_err());
        assert!(check_poll("q", PollKind::Single, &["a".into(), "a".into()], &limits).is_err());
        assert!(check_poll("  ", PollKind::Single, &["a".into(), "b".into()], &limits).is_err());
        let long = "x".repeat(limits.poll_option_max_chars + 1);
        assert!(
            check_poll("q", PollKind::Multiple, &["a".into(), long], &limits).unwrap_err().message.contains("option 2")
        );
        assert_eq!(check_text("  hi\n there ", 100, "message").unwrap(), "hi\n there");
        assert!(check_text("bell\u{7}", 100, "message").is_err());
        assert!(check_text("ééé", 2, "message").unwrap_err().message.contains("3 characters"));
    }
}
