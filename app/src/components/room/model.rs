//! What the live-room page shows, as plain data: the server's messages applied in order. No
//! browser APIs here, so the rules (resume without duplicates, deletions, poll results) are
//! tested natively.

use crate::protocol::{
    ChatMessage, MessageId, Participant, Poll, PollId, Reaction, RoomRole, ServerMsg, UserId, Welcome,
};

/// Chat messages kept on the page; older ones scroll away (they stay on the server).
pub const CHAT_KEPT: usize = 500;
/// Reports kept for the staff's list.
const REPORTS_KEPT: usize = 50;

/// A reaction on screen for a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownReaction {
    /// Unique on this page, so the view can remove exactly this one later.
    pub seq: u64,
    pub name: String,
    pub reaction: Reaction,
}

/// A message someone reported, for the staff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub message: MessageId,
    pub reporter: String,
    pub reason: String,
}

/// Why the page stopped talking to the room for good (no reconnecting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    Removed(String),
    /// The whole sentence, reason included.
    Blocked(String),
    /// Refused at the door (not enrolled, not live now, no such class...): the server's words.
    Refused(String),
    /// The server speaks another protocol version: a reload fetches the matching client.
    Outdated,
}

/// The sentence a blocked user reads (the door says the same; see `room::access` on the server).
pub fn blocked_sentence(reason: &str) -> String {
    format!("You are blocked from this class: {reason}")
}

impl Ended {
    pub fn message(&self) -> String {
        match self {
            Ended::Removed(reason) => reason.clone(),
            Ended::Blocked(sentence) => sentence.clone(),
            Ended::Refused(reason) => reason.clone(),
            Ended::Outdated => "Lectern was updated. Reload the page to join again.".to_owned(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoomModel {
    /// Set by the first welcome; nothing else is meaningful before it.
    pub joined: bool,
    pub title: String,
    pub you: Option<Participant>,
    /// In the server's order (join order).
    pub roster: Vec<Participant>,
    /// Raised hands, first raised first.
    pub hands: Vec<UserId>,
    pub chat_locked: bool,
    /// Oldest first, no id twice, at most [`CHAT_KEPT`].
    pub chat: Vec<ChatMessage>,
    /// Older messages exist that this page never received (a long absence, or a long history).
    pub chat_gap: bool,
    pub polls: Vec<Poll>,
    pub reactions: Vec<ShownReaction>,
    pub reports: Vec<Report>,
    /// The last refusal of something this page asked for, to show beside the controls.
    pub notice: Option<String>,
    pub ended: Option<Ended>,
    next_seq: u64,
}

impl RoomModel {
    /// The newest chat id seen: a reconnect resumes after it.
    pub fn last_chat_id(&self) -> Option<MessageId> {
        self.chat.last().map(|m| m.id)
    }

    pub fn is_staff(&self) -> bool {
        self.you.as_ref().is_some_and(|p| p.role.is_staff())
    }

    pub fn my_id(&self) -> Option<UserId> {
        self.you.as_ref().map(|p| p.user)
    }

    pub fn name_of(&self, user: UserId) -> String {
        self.roster.iter().find(|p| p.user == user).map_or_else(|| format!("User {user}"), |p| p.name.clone())
    }

    /// 1-based place of `user` in the hand queue.
    pub fn hand_position(&self, user: UserId) -> Option<usize> {
        self.hands.iter().position(|u| *u == user).map(|i| i + 1)
    }

    /// Am I muted in chat?
    pub fn chat_muted(&self) -> bool {
        self.you.as_ref().is_some_and(|p| p.chat_muted)
    }

    /// Apply one server message. Returns the sequence number of a reaction that was added, so the
    /// caller can take it off the screen after a moment.
    pub fn apply(&mut self, msg: ServerMsg) -> Option<u64> {
        match msg {
            ServerMsg::Welcome(welcome) => self.welcome(*welcome),
            ServerMsg::Joined { participant } | ServerMsg::Updated { participant } => self.upsert(participant),
            ServerMsg::Left { user } => {
                self.roster.retain(|p| p.user != user);
                self.hands.retain(|u| *u != user);
            }
            ServerMsg::Hands { queue } => self.hands = queue,
            ServerMsg::Reaction { user, reaction } => {
                self.next_seq += 1;
                let seq = self.next_seq;
                self.reactions.push(ShownReaction { seq, name: self.name_of(user), reaction });
                return Some(seq);
            }
            ServerMsg::Chat { message } => self.add_chat(message),
            ServerMsg::ChatDeleted { id } => self.chat.retain(|m| m.id != id),
            ServerMsg::ChatLocked { locked } => self.chat_locked = locked,
            ServerMsg::ChatReported { message, reporter, reason } => {
                self.reports.insert(0, Report { message, reporter: self.name_of(reporter), reason });
                self.reports.truncate(REPORTS_KEPT);
            }
            ServerMsg::PollOpened { poll } => match self.polls.iter_mut().find(|p| p.id == poll.id) {
                Some(existing) => *existing = poll,
                None => self.polls.push(poll),
            },
            ServerMsg::PollCounts { poll, results } => {
                if let Some(p) = self.poll_mut(poll) {
                    p.results = Some(results);
                }
            }
            ServerMsg::YourVote { poll, options } => {
                if let Some(p) = self.poll_mut(poll) {
                    p.my_vote = options;
                }
            }
            ServerMsg::PollClosed { poll, results } => {
                if let Some(p) = self.poll_mut(poll) {
                    p.closed = true;
                    p.results = Some(results);
                }
            }
            ServerMsg::Removed { reason } => self.ended = Some(Ended::Removed(reason)),
            ServerMsg::Blocked { reason } => self.ended = Some(Ended::Blocked(blocked_sentence(&reason))),
            ServerMsg::Ack { .. } => {}
            ServerMsg::Error { message, .. } => self.notice = Some(message),
        }
        None
    }

    /// Take a reaction off the screen.
    pub fn expire_reaction(&mut self, seq: u64) {
        self.reactions.retain(|r| r.seq != seq);
    }

    fn welcome(&mut self, welcome: Welcome) {
        let resumed = self.joined;
        self.joined = true;
        self.title = welcome.title;
        self.roster = welcome.roster;
        self.you = Some(welcome.you);
        self.hands = welcome.hands;
        self.chat_locked = welcome.chat_locked;
        self.polls = welcome.polls;
        if resumed {
            // Keep what we had, drop what was deleted meanwhile, add what we missed.
            self.chat.retain(|m| !welcome.deleted.contains(&m.id));
            if !welcome.chat_complete {
                self.chat_gap = true;
            }
        } else {
            self.chat_gap = !welcome.chat_complete;
        }
        for message in welcome.chat {
            self.add_chat(message);
        }
    }

    fn upsert(&mut self, participant: Participant) {
        if let Some(you) = &mut self.you
            && you.user == participant.user
        {
            *you = participant.clone();
        }
        match self.roster.iter_mut().find(|p| p.user == participant.user) {
            Some(existing) => *existing = participant,
            None => self.roster.push(participant),
        }
    }

    /// Add a message unless it is already here (a resume can overlap what a socket delivered).
    fn add_chat(&mut self, message: ChatMessage) {
        if self.chat.iter().rev().any(|m| m.id == message.id) {
            return;
        }
        // Ids grow with time; keep the list sorted even if a message arrives out of order.
        let at = self.chat.iter().rposition(|m| m.id < message.id).map_or(0, |i| i + 1);
        self.chat.insert(at, message);
        if self.chat.len() > CHAT_KEPT {
            let extra = self.chat.len() - CHAT_KEPT;
            self.chat.drain(..extra);
            self.chat_gap = true;
        }
    }

    fn poll_mut(&mut self, id: PollId) -> Option<&mut Poll> {
        self.polls.iter_mut().find(|p| p.id == id)
    }

    /// The roster as the page lists it: staff first, then raised hands in order, then everyone
    /// else by name.
    pub fn roster_sorted(&self) -> Vec<Participant> {
        let mut list = self.roster.clone();
        list.sort_by_key(|p| {
            let rank = match p.role {
                RoomRole::Teacher => 0,
                RoomRole::CoTeacher => 1,
                RoomRole::Moderator => 2,
                RoomRole::Student => 3,
            };
            let hand = self.hand_position(p.user).unwrap_or(usize::MAX);
            (rank, hand, p.name.to_lowercase())
        });
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{PollKind, PollOption, PollResults};

    fn person(user: UserId, role: RoomRole) -> Participant {
        Participant { user, name: format!("P{user}"), role, chat_muted: false }
    }

    fn message(id: MessageId) -> ChatMessage {
        ChatMessage { id, from: 2, from_name: "P2".into(), thread: None, body: format!("m{id}"), at: id }
    }

    fn welcome(chat: Vec<ChatMessage>, complete: bool, deleted: Vec<MessageId>) -> ServerMsg {
        ServerMsg::Welcome(Box::new(Welcome {
            protocol: 1,
            class_id: 7,
            title: "Algebra".into(),
            you: person(2, RoomRole::Student),
            roster: vec![person(1, RoomRole::Teacher), person(2, RoomRole::Student)],
            hands: vec![],
            chat_locked: false,
            chat,
            chat_complete: complete,
            deleted,
            polls: vec![],
        }))
    }

    fn ids(model: &RoomModel) -> Vec<MessageId> {
        model.chat.iter().map(|m| m.id).collect()
    }

    #[test]
    fn a_resume_keeps_what_was_seen_adds_what_was_missed_and_drops_deletions() {
        let mut model = RoomModel::default();
        model.apply(welcome(vec![message(1), message(2)], true, vec![]));
        model.apply(ServerMsg::Chat { message: message(3) });
        assert_eq!(model.last_chat_id(), Some(3));
        // Reconnected: the server sends 3 again (overlap), 4 and 5, and says 2 was deleted.
        model.apply(welcome(vec![message(3), message(4), message(5)], true, vec![2]));
        assert_eq!(ids(&model), vec![1, 3, 4, 5]);
        assert!(!model.chat_gap);
        // A live message that overlaps the welcome is not shown twice.
        model.apply(ServerMsg::Chat { message: message(5) });
        assert_eq!(ids(&model), vec![1, 3, 4, 5]);
    }

    #[test]
    fn an_incomplete_catch_up_marks_a_gap() {
        let mut model = RoomModel::default();
        model.apply(welcome(vec![message(1)], true, vec![]));
        model.apply(welcome(vec![message(900)], false, vec![]));
        assert!(model.chat_gap);
        assert_eq!(ids(&model), vec![1, 900]);
    }

    #[test]
    fn the_page_keeps_a_bounded_chat() {
        let mut model = RoomModel::default();
        model.apply(welcome(vec![], true, vec![]));
        for id in 1..=(CHAT_KEPT as i64 + 10) {
            model.apply(ServerMsg::Chat { message: message(id) });
        }
        assert_eq!(model.chat.len(), CHAT_KEPT);
        assert_eq!(model.chat.first().map(|m| m.id), Some(11));
        assert!(model.chat_gap);
    }

    #[test]
    fn roster_hands_and_my_own_state_follow_the_server() {
        let mut model = RoomModel::default();
        model.apply(welcome(vec![], true, vec![]));
        model.apply(ServerMsg::Joined { participant: person(3, RoomRole::Student) });
        model.apply(ServerMsg::Hands { queue: vec![3, 2] });
        assert_eq!(model.hand_position(2), Some(2));
        let order: Vec<_> = model.roster_sorted().iter().map(|p| p.user).collect();
        assert_eq!(order, vec![1, 3, 2], "teacher first, then hands in order");
        model.apply(ServerMsg::Updated {
            participant: Participant { chat_muted: true, ..person(2, RoomRole::Student) },
        });
        assert!(model.chat_muted());
        model.apply(ServerMsg::Left { user: 3 });
        assert_eq!(model.hands, vec![2]);
        assert_eq!(model.roster.len(), 2);
    }

    #[test]
    fn polls_take_counts_votes_and_results() {
        let mut model = RoomModel::default();
        model.apply(welcome(vec![], true, vec![]));
        let poll = Poll {
            id: 9,
            question: "Ready?".into(),
            kind: PollKind::YesNo,
            anonymous: true,
            options: vec![PollOption { id: 1, label: "Yes".into() }, PollOption { id: 2, label: "No".into() }],
            closed: false,
            results: None,
            my_vote: vec![],
        };
        model.apply(ServerMsg::PollOpened { poll });
        model.apply(ServerMsg::YourVote { poll: 9, options: vec![1] });
        assert_eq!(model.polls[0].my_vote, vec![1]);
        let results = PollResults { counts: vec![1, 0], voters: 1, names: None };
        model.apply(ServerMsg::PollClosed { poll: 9, results: results.clone() });
        assert!(model.polls[0].closed);
        assert_eq!(model.polls[0].results, Some(results));
    }

    #[test]
    fn reactions_come_and_go_and_errors_become_a_notice() {
        let mut model = RoomModel::default();
        model.apply(welcome(vec![], true, vec![]));
        let seq = model.apply(ServerMsg::Reaction { user: 1, reaction: Reaction::Clap }).unwrap();
        assert_eq!(model.reactions[0].name, "P1");
        model.expire_reaction(seq);
        assert!(model.reactions.is_empty());
        model.apply(ServerMsg::error(None, crate::protocol::ErrorCode::ChatLocked, "locked"));
        assert_eq!(model.notice.as_deref(), Some("locked"));
        model.apply(ServerMsg::Removed { reason: "bye".into() });
        assert_eq!(model.ended, Some(Ended::Removed("bye".into())));
    }
}
