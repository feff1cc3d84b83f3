//! What the live-room page shows, as plain data: the server's messages applied in order. No
//! browser APIs here, so the rules (resume without duplicates, deletions, poll results) are
//! tested natively.

use crate::board::{Actor, Board, BoardAction, BoardLimits, PageId};
use crate::protocol::{
    ChatMessage, MediaSetup, MediaSource, MediaTrack, MessageId, Participant, Poll, PollId, Reaction, RoomRole,
    ServerMsg, SharedFile, UserId, VideoQuality, ViewSlot, Welcome,
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
    /// Audio and video, when the server has them.
    pub media: Option<MediaSetup>,
    /// What is published in the room now.
    pub tracks: Vec<MediaTrack>,
    pub active_speaker: Option<UserId>,
    /// Who spoke, most recent first: the last-N tiles follow this order.
    pub recent_speakers: Vec<UserId>,
    /// The whiteboard, as the server last described it.
    pub board: Board,
    /// Counts the board's changes: the canvas repaints when this moves...
    pub board_version: u64,
    /// ...and counts those that were not a drawing added on top (erasing, moving, pages, a new
    /// welcome): only these make it redraw every drawing rather than add the new ones.
    pub board_epoch: u64,
    /// Laser pointers shown now: who, on which page, where.
    pub lasers: Vec<(UserId, PageId, [f32; 2])>,
    /// Files offered to the class as downloads, oldest first.
    pub files: Vec<SharedFile>,
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
            ServerMsg::MediaTracks { tracks } => self.tracks = tracks,
            ServerMsg::ActiveSpeaker { user } => self.speaker_changed(user),
            ServerMsg::MaySpeak { allowed } => {
                if let Some(you) = &mut self.you {
                    you.may_speak = allowed;
                }
            }
            // The media connection handles the answer; the model has nothing to show.
            ServerMsg::MediaAnswer { .. } => {}
            // The server applied it already, so it applies here (as trusted, by its author).
            ServerMsg::Board { by, op } => {
                if !matches!(op.action, BoardAction::Draw { .. }) {
                    self.board_epoch += 1;
                }
                let _ = self.board.apply(Actor { user: by, staff: true }, op, &BoardLimits::TRUSTED);
                self.board_version += 1;
            }
            ServerMsg::Laser { user, page, at } => {
                self.lasers.retain(|(u, _, _)| *u != user);
                if let Some(at) = at {
                    self.lasers.push((user, page, at));
                }
            }
            ServerMsg::FileShared { file } => {
                self.files.retain(|f| f.id != file.id);
                self.files.push(file);
            }
            ServerMsg::FileUnshared { file } => self.files.retain(|f| f.id != file),
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
        if let Some(media) = &welcome.media {
            self.tracks = media.tracks.clone();
            self.speaker_changed(media.active_speaker);
        }
        self.media = welcome.media;
        if let Some(board) = welcome.board {
            self.board = Board::from_snapshot(board);
            self.board_version += 1;
            self.board_epoch += 1;
        }
        self.lasers.clear();
        self.files = welcome.files;
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

    fn speaker_changed(&mut self, user: Option<UserId>) {
        self.active_speaker = user;
        if let Some(user) = user {
            self.recent_speakers.retain(|u| *u != user);
            self.recent_speakers.insert(0, user);
            self.recent_speakers.truncate(64);
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

/// One published video the page shows, and the most it needs of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownVideo {
    pub track: String,
    pub user: UserId,
    pub source: MediaSource,
    pub quality: VideoQuality,
}

/// What the page shows: the videos to receive (most important first) and which of them is on
/// the large stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VideoPlan {
    pub shown: Vec<ShownVideo>,
    pub stage: Option<String>,
}

impl VideoPlan {
    pub fn quality_of(&self, track: &str) -> Option<VideoQuality> {
        self.shown.iter().find(|v| v.track == track).map(|v| v.quality)
    }
}

/// How many receiving video m-lines a page makes: the teacher's camera, a screen share and
/// `last_n` others.
pub fn video_slot_count(last_n: usize) -> usize {
    last_n + 2
}

/// Choose what the page receives (last-N: the downlink carries only what is shown): a screen
/// share first (large, high quality), then the teachers' cameras (high, or low beside a screen
/// share), then other cameras, those who spoke most recently first (low; the active speaker
/// medium), at most `last_n` of them. Never one's own tracks: those are previewed locally.
pub fn choose_videos(
    tracks: &[MediaTrack],
    roster: &[Participant],
    me: Option<UserId>,
    recent_speakers: &[UserId],
    active_speaker: Option<UserId>,
    last_n: usize,
) -> VideoPlan {
    let is_teacher = |user: UserId| {
        roster.iter().any(|p| p.user == user && matches!(p.role, RoomRole::Teacher | RoomRole::CoTeacher))
    };
    let others: Vec<&MediaTrack> = tracks.iter().filter(|t| Some(t.user) != me).collect();
    let shown_of =
        |t: &MediaTrack, quality| ShownVideo { track: t.id.clone(), user: t.user, source: t.source, quality };
    let screen = others.iter().find(|t| t.source == MediaSource::Screen);
    let mut shown: Vec<ShownVideo> = screen.iter().map(|t| shown_of(t, VideoQuality::High)).collect();
    let teacher_quality = if screen.is_some() { VideoQuality::Low } else { VideoQuality::High };
    shown.extend(
        others
            .iter()
            .filter(|t| t.source == MediaSource::Camera && is_teacher(t.user))
            .map(|t| shown_of(t, teacher_quality)),
    );
    // Recent speakers in the order they spoke, then the cameras of people not heard yet.
    let mut rest: Vec<&MediaTrack> =
        others.iter().copied().filter(|t| t.source == MediaSource::Camera && !is_teacher(t.user)).collect();
    rest.sort_by_key(|t| recent_speakers.iter().position(|u| *u == t.user).unwrap_or(usize::MAX));
    shown.extend(rest.into_iter().take(last_n).map(|t| {
        let quality = if Some(t.user) == active_speaker { VideoQuality::Medium } else { VideoQuality::Low };
        shown_of(t, quality)
    }));
    shown.truncate(video_slot_count(last_n));
    let stage = shown
        .iter()
        .find(|v| v.source == MediaSource::Screen)
        .or_else(|| shown.iter().find(|v| Some(v.user) == active_speaker))
        .or_else(|| shown.iter().find(|v| is_teacher(v.user)))
        .or_else(|| shown.first())
        .map(|v| v.track.clone());
    VideoPlan { shown, stage }
}

/// Put the chosen videos into the page's receiving video m-lines (`mids`, in order). A video
/// that stays chosen keeps its m-line, so its picture does not blink; new ones take the free
/// m-lines in order; m-lines left over receive nothing.
pub fn assign_slots(mids: &[String], previous: &[ViewSlot], chosen: &[ShownVideo]) -> Vec<ViewSlot> {
    let mut slots: Vec<ViewSlot> =
        mids.iter().map(|mid| ViewSlot { mid: mid.clone(), track: None, quality: VideoQuality::Low }).collect();
    let mut placed = vec![false; chosen.len()];
    for slot in &mut slots {
        let kept = previous.iter().find(|p| p.mid == slot.mid).and_then(|p| p.track.as_ref());
        if let Some(i) = kept.and_then(|track| chosen.iter().position(|v| &v.track == track)) {
            slot.track = Some(chosen[i].track.clone());
            slot.quality = chosen[i].quality;
            placed[i] = true;
        }
    }
    let mut waiting = chosen.iter().zip(&placed).filter(|(_, placed)| !**placed).map(|(v, _)| v);
    for slot in slots.iter_mut().filter(|s| s.track.is_none()) {
        let Some(video) = waiting.next() else { break };
        slot.track = Some(video.track.clone());
        slot.quality = video.quality;
    }
    slots
}

/// How many receiving audio m-lines the page needs: one per other person's microphone.
pub fn audio_slots_needed(tracks: &[MediaTrack], me: Option<UserId>) -> usize {
    tracks.iter().filter(|t| t.source == MediaSource::Microphone && Some(t.user) != me).count()
}

impl RoomModel {
    /// What this page shows now; nothing in audio-only mode.
    pub fn video_plan(&self, audio_only: bool) -> VideoPlan {
        match &self.media {
            Some(media) if !audio_only => choose_videos(
                &self.tracks,
                &self.roster,
                self.my_id(),
                &self.recent_speakers,
                self.active_speaker,
                media.last_n,
            ),
            _ => VideoPlan::default(),
        }
    }

    /// Am I allowed to publish camera and microphone? (Staff always; students when invited.)
    pub fn may_publish(&self) -> bool {
        self.you.as_ref().is_some_and(|p| p.role.is_staff() || p.may_speak)
    }
}

/// The connection's health as the page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkQuality {
    Good,
    Fair,
    Poor,
}

impl LinkQuality {
    pub fn label(self) -> &'static str {
        match self {
            LinkQuality::Good => "Connection: good",
            LinkQuality::Fair => "Connection: fair",
            LinkQuality::Poor => "Connection: poor",
        }
    }
}

/// Judge the connection from the round trip (milliseconds) and the share of packets lost
/// (0 to 1) over the last interval; `None` when neither is known yet.
pub fn link_quality(rtt_ms: Option<f64>, loss: Option<f64>) -> Option<LinkQuality> {
    if rtt_ms.is_none() && loss.is_none() {
        return None;
    }
    let (rtt, loss) = (rtt_ms.unwrap_or(0.0), loss.unwrap_or(0.0));
    Some(if rtt > 500.0 || loss > 0.08 {
        LinkQuality::Poor
    } else if rtt > 250.0 || loss > 0.02 {
        LinkQuality::Fair
    } else {
        LinkQuality::Good
    })
}

/// The share of packets lost between two readings of cumulative counters `(lost, received)`;
/// `None` when nothing arrived meanwhile (or the counters went back, after a restart).
pub fn loss_between(before: (f64, f64), now: (f64, f64)) -> Option<f64> {
    let lost = now.0 - before.0;
    let received = now.1 - before.1;
    if received < 0.0 || lost < 0.0 || lost + received <= 0.0 {
        return None;
    }
    Some(lost / (lost + received))
}

#[cfg(test)]
mod media_tests {
    use super::*;

    fn person(user: UserId, role: RoomRole) -> Participant {
        Participant { user, name: format!("P{user}"), role, chat_muted: false, may_speak: false }
    }

    fn track(user: UserId, source: MediaSource) -> MediaTrack {
        let kind = match source {
            MediaSource::Camera => "c",
            MediaSource::Microphone => "m",
            MediaSource::Screen => "s",
        };
        MediaTrack { id: format!("{user}{kind}"), user, source }
    }

    fn roster() -> Vec<Participant> {
        let mut roster = vec![person(1, RoomRole::Teacher), person(2, RoomRole::CoTeacher)];
        roster.extend((10..20).map(|u| person(u, RoomRole::Student)));
        roster
    }

    fn picked(plan: &VideoPlan) -> Vec<(&str, VideoQuality)> {
        plan.shown.iter().map(|v| (v.track.as_str(), v.quality)).collect()
    }

    fn mids(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    use MediaSource::{Camera, Microphone, Screen};
    use VideoQuality::{High, Low, Medium};

    #[test]
    fn a_screen_share_comes_first_and_puts_the_teachers_in_small_tiles() {
        let tracks =
            vec![track(10, Camera), track(1, Camera), track(1, Screen), track(1, Microphone), track(2, Camera)];
        let plan = choose_videos(&tracks, &roster(), Some(11), &[], None, 4);
        assert_eq!(picked(&plan), vec![("1s", High), ("1c", Low), ("2c", Low), ("10c", Low)]);
        assert_eq!(plan.stage.as_deref(), Some("1s"));
    }

    #[test]
    fn without_a_screen_the_teacher_is_sharp_and_on_stage_until_someone_else_speaks() {
        let tracks = vec![track(1, Camera), track(10, Camera), track(11, Camera)];
        let plan = choose_videos(&tracks, &roster(), Some(12), &[], None, 4);
        assert_eq!(picked(&plan), vec![("1c", High), ("10c", Low), ("11c", Low)]);
        assert_eq!(plan.stage.as_deref(), Some("1c"));
        let plan = choose_videos(&tracks, &roster(), Some(12), &[11], Some(11), 4);
        assert_eq!(picked(&plan), vec![("1c", High), ("11c", Medium), ("10c", Low)]);
        assert_eq!(plan.stage.as_deref(), Some("11c"));
    }

    #[test]
    fn others_follow_the_recent_speakers_up_to_last_n_and_never_include_my_own() {
        let tracks: Vec<MediaTrack> = (10..16).map(|u| track(u, Camera)).chain([track(1, Camera)]).collect();
        // 14 spoke last, then 12; 11 is me.
        let plan = choose_videos(&tracks, &roster(), Some(11), &[14, 11, 12], Some(14), 3);
        assert_eq!(picked(&plan), vec![("1c", High), ("14c", Medium), ("12c", Low), ("10c", Low)]);
        // My own camera is never received, even as the only one.
        let plan = choose_videos(&[track(11, Camera)], &roster(), Some(11), &[11], Some(11), 3);
        assert!(plan.shown.is_empty());
        assert_eq!(plan.stage, None);
    }

    #[test]
    fn the_choice_never_exceeds_the_slots() {
        let mut tracks: Vec<MediaTrack> = (10..20).map(|u| track(u, Camera)).collect();
        tracks.extend([track(1, Camera), track(2, Camera), track(1, Screen)]);
        let plan = choose_videos(&tracks, &roster(), None, &[], None, 2);
        assert_eq!(plan.shown.len(), video_slot_count(2));
        assert_eq!(plan.shown[0].track, "1s");
    }

    #[test]
    fn audio_only_receives_no_video() {
        let mut model = RoomModel {
            media: Some(MediaSetup {
                ice_servers: vec![],
                camera_max_kbps: 1500,
                screen_max_kbps: 2500,
                audio_max_kbps: 40,
                last_n: 4,
                tracks: vec![],
                active_speaker: None,
            }),
            roster: roster(),
            ..RoomModel::default()
        };
        model.apply(ServerMsg::MediaTracks { tracks: vec![track(1, Camera), track(1, Microphone)] });
        assert_eq!(model.video_plan(false).shown.len(), 1);
        assert_eq!(model.video_plan(true), VideoPlan::default());
        assert_eq!(audio_slots_needed(&model.tracks, Some(10)), 1);
        assert_eq!(audio_slots_needed(&model.tracks, Some(1)), 0);
    }

    #[test]
    fn a_track_keeps_its_slot_while_it_stays_chosen() {
        let shown = |ids: &[&str]| -> Vec<ShownVideo> {
            ids.iter().map(|id| ShownVideo { track: (*id).to_owned(), user: 1, source: Camera, quality: Low }).collect()
        };
        let slots = assign_slots(&mids(3), &[], &shown(&["a", "b"]));
        let tracks = |slots: &[ViewSlot]| slots.iter().map(|s| s.track.clone()).collect::<Vec<_>>();
        assert_eq!(tracks(&slots), vec![Some("a".into()), Some("b".into()), None]);
        // "c" comes first in the new order, "a" goes: "b" stays where it was.
        let slots = assign_slots(&mids(3), &slots, &shown(&["c", "b"]));
        assert_eq!(tracks(&slots), vec![Some("c".into()), Some("b".into()), None]);
        // More chosen than slots: the first ones win.
        let slots = assign_slots(&mids(2), &slots, &shown(&["d", "e", "b"]));
        assert_eq!(tracks(&slots), vec![Some("d".into()), Some("b".into())]);
        // Quality follows the new choice.
        let mut choice = shown(&["b"]);
        choice[0].quality = High;
        let slots = assign_slots(&mids(2), &slots, &choice);
        assert_eq!(slots[1].quality, High);
        assert_eq!(slots[0].track, None);
    }

    #[test]
    fn link_quality_from_round_trip_and_loss() {
        assert_eq!(link_quality(None, None), None);
        assert_eq!(link_quality(Some(40.0), Some(0.0)), Some(LinkQuality::Good));
        assert_eq!(link_quality(Some(300.0), None), Some(LinkQuality::Fair));
        assert_eq!(link_quality(Some(40.0), Some(0.05)), Some(LinkQuality::Fair));
        assert_eq!(link_quality(Some(40.0), Some(0.2)), Some(LinkQuality::Poor));
        assert_eq!(link_quality(Some(900.0), Some(0.0)), Some(LinkQuality::Poor));
        assert_eq!(loss_between((0.0, 0.0), (5.0, 95.0)), Some(0.05));
        assert_eq!(loss_between((5.0, 95.0), (5.0, 95.0)), None);
        assert_eq!(loss_between((5.0, 95.0), (0.0, 10.0)), None);
    }

    #[test]
    fn speakers_are_remembered_most_recent_first() {
        let mut model = RoomModel::default();
        for user in [10, 11, 10] {
            model.apply(ServerMsg::ActiveSpeaker { user: Some(user) });
        }
        model.apply(ServerMsg::ActiveSpeaker { user: None });
        assert_eq!(model.recent_speakers, vec![10, 11]);
        assert_eq!(model.active_speaker, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{PollKind, PollOption, PollResults};

    fn person(user: UserId, role: RoomRole) -> Participant {
        Participant { user, name: format!("P{user}"), role, chat_muted: false, may_speak: false }
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
            media: None,
            board: None,
            files: vec![],
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
