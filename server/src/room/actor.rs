//! The room actor: one task per live class owns the room's state. Connections send it inputs over
//! a channel; it checks each message against the sender's role, writes what must survive to the
//! store, applies it to [`RoomState`], and fans the result out. Nothing else touches the state,
//! so there are no locks and every participant sees events in the same order.

use super::board::RoomBoard;
use super::clients::{Audience, ClientSink, LocalClients, Outgoing};
use super::media::{Announce, RoomMedia};
use super::state::{ConnKey, Identity, PollState, Refusal, RoomState, check_poll, check_text};
use crate::sfu::{Sfu, SfuEvent};
use app::board::{BoardAction, SlideRef};
use app::protocol::{
    ChatMessage, ClientFrame, ClientMsg, ErrorCode, PROTOCOL_VERSION, PollOption, RoomRole, ServerMsg, SharedFile,
    UserId, Welcome, close,
};
use lectern_core::store::room::{ChatRecord, Moderation, NewPoll, VoteOutcome};
use lectern_core::{AppState, now_ms};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What a room is told.
pub enum RoomInput {
    /// A connection said hello. `sink` is present when the connection is on this node.
    Join {
        key: ConnKey,
        who: Identity,
        resume_after: Option<i64>,
        sink: Option<ClientSink>,
    },
    Leave {
        key: ConnKey,
    },
    Command {
        key: ConnKey,
        frame: ClientFrame,
    },
}

/// Where a room's output goes besides its local connections: other nodes, in a cluster.
pub trait RemoteFanout: Send + Sync {
    fn publish(&self, class_id: i64, audience: Audience, item: &Outgoing);
}

/// The fixed facts of a room.
#[derive(Clone, Debug)]
pub struct RoomSetup {
    pub class_id: i64,
    pub title: String,
    /// The session the room was opened for (polls are filed under it).
    pub occurrence_id: Option<i64>,
}

/// Called when an empty room wants to stop: returns true if it may (no input is waiting and the
/// registry no longer hands out its sender).
pub type Retire = Box<dyn Fn(&mut mpsc::Receiver<RoomInput>) -> bool + Send>;

pub struct RoomActor {
    setup: RoomSetup,
    app: AppState,
    state: RoomState,
    local: LocalClients,
    remote: Option<Arc<dyn RemoteFanout>>,
    /// Connections found too slow during a delivery, to be treated as gone.
    cut_off: Vec<ConnKey>,
    /// Audio and video, when this server runs an SFU.
    media: Option<RoomMedia>,
    media_events: Option<mpsc::UnboundedReceiver<SfuEvent>>,
    board: RoomBoard,
    /// Files offered to the class as downloads.
    files: Vec<SharedFile>,
}

/// How often the room closes media sessions whose participant did not come back.
const MEDIA_SWEEP: Duration = Duration::from_secs(1);

impl RoomActor {
    pub fn new(setup: RoomSetup, app: AppState, remote: Option<Arc<dyn RemoteFanout>>, sfu: Option<Arc<Sfu>>) -> Self {
        let (media, media_events) = match sfu {
            Some(sfu) => {
                let (media, events) = RoomMedia::new(sfu, app.config.media.clone(), setup.class_id);
                (Some(media), Some(events))
            }
            None => (None, None),
        };
        let board = RoomBoard::empty(&app.config.room);
        Self {
            setup,
            app,
            state: RoomState::default(),
            local: LocalClients::default(),
            remote,
            cut_off: Vec::new(),
            board,
            files: Vec::new(),
            media,
            media_events,
        }
    }

    /// Load what the room needs from the store (the session's polls), then serve inputs until the
    /// room has been empty for the configured time and `retire` agrees.
    pub async fn run(mut self, mut inputs: mpsc::Receiver<RoomInput>, retire: Retire) {
        if let Err(err) = self.load_polls().await {
            tracing::error!(class = self.setup.class_id, %err, "cannot load the room's polls");
        }
        match RoomBoard::load(&self.app.store, self.setup.class_id, &self.app.config.room).await {
            Ok(board) => self.board = board,
            Err(err) => tracing::error!(class = self.setup.class_id, %err, "cannot load the room's whiteboard"),
        }
        match self.app.store.shared_media(self.setup.class_id).await {
            Ok(files) => self.files = files.iter().map(crate::http::files::shared_file).collect(),
            Err(err) => tracing::error!(class = self.setup.class_id, %err, "cannot load the class's shared files"),
        }
        let idle = Duration::from_secs(self.app.config.room.idle_close_seconds);
        let mut empty_since = Some(Instant::now());
        let mut media_events = self.media_events.take();
        let mut sweep = tokio::time::interval(MEDIA_SWEEP);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let idle_until = empty_since.map(|since| since + idle);
            let input = tokio::select! {
                input = inputs.recv() => input,
                Some(event) = next_media_event(&mut media_events) => {
                    self.media_event(event);
                    continue;
                }
                _ = sweep.tick(), if self.media.is_some() => {
                    let announce = self.media.as_mut().map(|m| m.sweep(std::time::Instant::now())).unwrap_or_default();
                    self.announce(announce);
                    continue;
                }
                _ = sleep_until_some(idle_until) => {
                    if retire(&mut inputs) {
                        break;
                    }
                    empty_since = Some(Instant::now());
                    continue;
                }
            };
            let Some(input) = input else { break };
            self.handle(input).await;
            while let Some(key) = self.cut_off.pop() {
                self.depart(key);
            }
            empty_since = match (self.state.is_empty(), empty_since) {
                (true, None) => Some(Instant::now()),
                (true, since) => since,
                (false, _) => None,
            };
        }
        // Joins that raced with retiring: send them to a fresh room by way of a reconnect.
        while let Some(input) = inputs.recv().await {
            if let RoomInput::Join { key, who, sink: Some(sink), .. } = input {
                self.local.add(key, who, sink);
            }
        }
        self.local.kick_all(close::RECONNECT);
        if let Some(media) = &mut self.media {
            media.close_all();
        }
        tracing::debug!(class = self.setup.class_id, "room closed");
    }

    async fn load_polls(&mut self) -> Result<(), lectern_core::store::StoreError> {
        let (polls, options, votes) = self.app.store.room_polls(self.setup.class_id, self.setup.occurrence_id).await?;
        for poll in polls {
            let Some(kind) = app::protocol::PollKind::parse(&poll.kind) else { continue };
            let mut state = PollState {
                id: poll.id,
                question: poll.question,
                kind,
                anonymous: poll.anonymous,
                options: options
                    .iter()
                    .filter(|o| o.poll_id == poll.id)
                    .map(|o| PollOption { id: o.id, label: o.label.clone() })
                    .collect(),
                closed: poll.closed_at.is_some(),
                votes: HashMap::new(),
            };
            for vote in votes.iter().filter(|v| v.poll_id == poll.id) {
                state
                    .votes
                    .entry(vote.user_id)
                    .or_insert_with(|| (Vec::new(), vote.voter_name.clone()))
                    .0
                    .push(vote.option_id);
            }
            self.state.add_poll(state);
        }
        Ok(())
    }

    async fn handle(&mut self, input: RoomInput) {
        match input {
            RoomInput::Join { key, who, resume_after, sink } => self.join(key, who, resume_after, sink).await,
            RoomInput::Leave { key } => self.depart(key),
            RoomInput::Command { key, frame } => {
                // A command from a connection that has not joined (or was cut off) is dropped.
                let Some(who) = self.state.identity(key) else { return };
                let reference = frame.reference;
                let result = match frame.msg {
                    msg @ (ClientMsg::MediaOffer { .. } | ClientMsg::MediaView { .. } | ClientMsg::MediaLeave) => {
                        self.apply_media(key, &who, msg).await
                    }
                    msg => self.apply(&who, msg).await,
                };
                match result {
                    Ok(()) => {
                        if let Some(reference) = reference {
                            self.send(Audience::Conn(key), &ServerMsg::Ack { reference });
                        }
                    }
                    Err(refusal) => {
                        self.send(Audience::Conn(key), &ServerMsg::error(reference, refusal.code, refusal.message))
                    }
                }
            }
        }
    }

    /// Encode once, then queue for every recipient here and on other nodes.
    fn send(&mut self, audience: Audience, msg: &ServerMsg) {
        self.deliver(audience, Outgoing::Frame(msg.encode().into()));
    }

    fn deliver(&mut self, audience: Audience, item: Outgoing) {
        let cut = self.local.deliver(audience, &item);
        self.cut_off.extend(cut);
        if let Some(remote) = &self.remote {
            remote.publish(self.setup.class_id, audience, &item);
        }
    }

    fn close(&mut self, audience: Audience, code: u16, reason: &str) {
        self.deliver(audience, Outgoing::Close { code, reason: reason.to_owned() });
    }

    async fn join(&mut self, key: ConnKey, who: Identity, resume_after: Option<i64>, sink: Option<ClientSink>) {
        if let Some(sink) = sink {
            self.local.add(key, who.clone(), sink);
        }
        if self.state.was_removed(who.user) {
            self.send(
                Audience::Conn(key),
                &ServerMsg::Removed { reason: "A teacher removed you from this session.".into() },
            );
            self.close(Audience::Conn(key), close::REMOVED, "removed from this session");
            self.local.remove(key);
            return;
        }
        let staff = who.role.is_staff();
        let limit = self.app.config.room.history_messages;
        let store = &self.app.store;
        let history = store.chat_history(self.setup.class_id, who.user, staff, resume_after.unwrap_or(0), limit).await;
        let deleted = match resume_after {
            Some(_) => store.recent_deleted_chat(self.setup.class_id, who.user, staff, limit).await,
            None => Ok(Vec::new()),
        };
        let (history, deleted) = match (history, deleted) {
            (Ok(h), Ok(d)) => (h, d),
            (Err(err), _) | (_, Err(err)) => {
                tracing::error!(class = self.setup.class_id, %err, "cannot read chat history for a join");
                self.send(
                    Audience::Conn(key),
                    &ServerMsg::error(None, ErrorCode::Internal, "The room could not load; reconnecting."),
                );
                self.close(Audience::Conn(key), close::RECONNECT, "server error");
                self.local.remove(key);
                return;
            }
        };
        let arrived = self.state.join(key, &who);
        let Some(you) = self.state.participant(who.user).cloned() else { return };
        let welcome = Welcome {
            protocol: PROTOCOL_VERSION,
            class_id: self.setup.class_id,
            title: self.setup.title.clone(),
            you,
            roster: self.state.roster(),
            hands: self.state.hands().to_vec(),
            chat_locked: self.state.chat_locked(),
            chat: history.messages.into_iter().map(chat_message).collect(),
            chat_complete: history.complete,
            deleted,
            polls: self.state.polls().iter().map(|p| p.view(who.user, staff)).collect(),
            media: self.media.as_ref().map(|m| m.setup()),
            board: Some(self.board.board().snapshot()),
            files: self.files.clone(),
        };
        self.send(Audience::Conn(key), &ServerMsg::Welcome(Box::new(welcome)));
        if let super::state::Joined::Arrived(participant) = arrived {
            self.send(Audience::Everyone, &ServerMsg::Joined { participant });
        }
    }

    fn depart(&mut self, key: ConnKey) {
        self.local.remove(key);
        if let Some(media) = &mut self.media {
            media.connection_lost(key, std::time::Instant::now());
        }
        if let Some(departed) = self.state.leave(key) {
            if departed.gone {
                self.send(Audience::Everyone, &ServerMsg::Left { user: departed.user });
            }
            if departed.hand_lowered {
                self.send(Audience::Everyone, &ServerMsg::Hands { queue: self.state.hands().to_vec() });
            }
        }
    }

    /// Check a message against the sender's role and the room's rules, persist it, apply it and
    /// announce it.
    async fn apply(&mut self, who: &Identity, msg: ClientMsg) -> Result<(), Refusal> {
        let limits = &self.app.config.room;
        let staff = who.role.is_staff();
        let class_id = self.setup.class_id;
        let now = now_ms();
        match msg {
            ClientMsg::Hello { .. } => {
                Err(Refusal::new(ErrorCode::Hello, "You have already joined; hello is sent once."))
            }
            ClientMsg::SendChat { body, thread } => {
                if self.state.is_muted(who.user) {
                    return Err(Refusal::new(ErrorCode::ChatMuted, "A teacher has muted your chat."));
                }
                let body = check_text(&body, limits.chat_max_chars, "message")?;
                let audience = match thread {
                    None if self.state.chat_locked() && !staff => {
                        return Err(Refusal::new(
                            ErrorCode::ChatLocked,
                            "The teacher has locked the public chat; you can still write to the teachers privately.",
                        ));
                    }
                    None => Audience::Everyone,
                    Some(student) if !staff && student != who.user => {
                        return Err(Refusal::forbidden(
                            "Students write privately only to the teachers: use your own id as the thread.",
                        ));
                    }
                    Some(student) => {
                        if staff {
                            self.require_student(student).await?;
                        }
                        Audience::Thread(student)
                    }
                };
                let id = self.app.store.insert_chat(class_id, who.user, thread, &body, now).await.map_err(internal)?;
                let message = ChatMessage { id, from: who.user, from_name: who.name.clone(), thread, body, at: now };
                self.send(audience, &ServerMsg::Chat { message });
                Ok(())
            }
            ClientMsg::DeleteChat { id } => {
                require_staff(who, "delete messages")?;
                let message = self.visible_message(id, who).await?;
                let m = moderation(
                    who,
                    "delete_chat",
                    Some(message.sender_id),
                    class_id,
                    serde_json::json!({ "message": id, "body": message.body }),
                );
                if !self.app.store.delete_chat(&m, id, now).await.map_err(internal)? {
                    return Err(Refusal::new(ErrorCode::NotFound, "That message was already deleted."));
                }
                let audience = message.recipient_id.map_or(Audience::Everyone, Audience::Thread);
                self.send(audience, &ServerMsg::ChatDeleted { id });
                Ok(())
            }
            ClientMsg::LockChat { locked } => {
                require_staff(who, "lock the chat")?;
                if self.state.chat_locked() != locked {
                    let action = if locked { "lock_chat" } else { "unlock_chat" };
                    let m = moderation(who, action, None, class_id, serde_json::json!({}));
                    self.app.store.record_moderation(&m, now).await.map_err(internal)?;
                    self.state.set_chat_locked(locked);
                    self.send(Audience::Everyone, &ServerMsg::ChatLocked { locked });
                }
                Ok(())
            }
            ClientMsg::ReportChat { id, reason } => {
                let reason = check_text(&reason, limits.reason_max_chars, "reason")?;
                let message = self.visible_message(id, who).await?;
                if message.sender_id == who.user {
                    return Err(Refusal::invalid("You cannot report your own message."));
                }
                let new = self.app.store.report_chat(class_id, id, who.user, &reason, now).await.map_err(internal)?;
                if new {
                    self.send(Audience::Staff, &ServerMsg::ChatReported { message: id, reporter: who.user, reason });
                }
                Ok(())
            }
            ClientMsg::RaiseHand => {
                if staff {
                    return Err(Refusal::forbidden("Teachers do not raise hands; students do."));
                }
                if self.state.raise_hand(who.user) {
                    self.send(Audience::Everyone, &ServerMsg::Hands { queue: self.state.hands().to_vec() });
                }
                Ok(())
            }
            ClientMsg::LowerHand { user } => {
                let target = user.unwrap_or(who.user);
                if target != who.user {
                    require_staff(who, "lower someone else's hand")?;
                }
                if self.state.lower_hand(target) {
                    self.send(Audience::Everyone, &ServerMsg::Hands { queue: self.state.hands().to_vec() });
                }
                Ok(())
            }
            ClientMsg::React { reaction } => {
                self.send(Audience::Everyone, &ServerMsg::Reaction { user: who.user, reaction });
                Ok(())
            }
            ClientMsg::CreatePoll { question, kind, anonymous, options } => {
                require_staff(who, "create polls")?;
                let (question, options) = check_poll(&question, kind, &options, limits)?;
                let new = NewPoll {
                    class_id,
                    occurrence_id: self.setup.occurrence_id,
                    created_by: who.user,
                    question: &question,
                    kind: kind.as_str(),
                    anonymous,
                    options: &options,
                };
                let (record, options) = self.app.store.create_poll(&new, now).await.map_err(internal)?;
                let poll = PollState {
                    id: record.id,
                    question,
                    kind,
                    anonymous,
                    options: options.into_iter().map(|o| PollOption { id: o.id, label: o.label }).collect(),
                    closed: false,
                    votes: HashMap::new(),
                };
                self.send(Audience::Students, &ServerMsg::PollOpened { poll: poll.view(0, false) });
                self.send(Audience::Staff, &ServerMsg::PollOpened { poll: poll.view(0, true) });
                self.state.add_poll(poll);
                Ok(())
            }
            ClientMsg::Vote { poll, options } => {
                if staff {
                    return Err(Refusal::forbidden("Only students vote in polls."));
                }
                let choice = self.state.poll(poll).ok_or_else(no_poll)?.check_choice(&options)?;
                match self.app.store.cast_vote(poll, who.user, &choice, now).await.map_err(internal)? {
                    VoteOutcome::Recorded => {}
                    VoteOutcome::PollClosed => {
                        return Err(Refusal::new(ErrorCode::PollClosed, "This poll has closed."));
                    }
                    VoteOutcome::NoSuchPoll => return Err(no_poll()),
                }
                let state = self.state.poll_mut(poll).ok_or_else(no_poll)?;
                state.votes.insert(who.user, (choice.clone(), who.name.clone()));
                let results = state.results(true);
                self.send(Audience::User(who.user), &ServerMsg::YourVote { poll, options: choice });
                self.send(Audience::Staff, &ServerMsg::PollCounts { poll, results });
                Ok(())
            }
            ClientMsg::ClosePoll { poll } => {
                require_staff(who, "close polls")?;
                let state = self.state.poll(poll).ok_or_else(no_poll)?;
                if state.closed {
                    return Err(Refusal::new(ErrorCode::PollClosed, "This poll is already closed."));
                }
                self.app.store.close_poll(poll, now).await.map_err(internal)?;
                let state = self.state.poll_mut(poll).ok_or_else(no_poll)?;
                state.closed = true;
                let (named, counted) = (state.results(true), state.results(false));
                self.send(Audience::Staff, &ServerMsg::PollClosed { poll, results: named });
                self.send(Audience::Students, &ServerMsg::PollClosed { poll, results: counted });
                Ok(())
            }
            ClientMsg::MuteChat { user, muted } => {
                require_staff(who, "mute chat")?;
                self.require_present_student(user)?;
                let action = if muted { "mute_chat" } else { "unmute_chat" };
                let m = moderation(who, action, Some(user), class_id, serde_json::json!({}));
                self.app.store.record_moderation(&m, now).await.map_err(internal)?;
                if let Some(participant) = self.state.set_muted(user, muted) {
                    self.send(Audience::Everyone, &ServerMsg::Updated { participant });
                }
                Ok(())
            }
            ClientMsg::Remove { user } => {
                require_staff(who, "remove participants")?;
                self.require_present_student(user)?;
                let m = moderation(who, "remove", Some(user), class_id, serde_json::json!({}));
                self.app.store.record_moderation(&m, now).await.map_err(internal)?;
                self.state.mark_removed(user);
                let reason = format!("{} removed you from this session.", who.name);
                self.send(Audience::User(user), &ServerMsg::Removed { reason });
                self.close(Audience::User(user), close::REMOVED, "removed from this session");
                self.drop_user(user);
                self.end_media_of(user);
                Ok(())
            }
            ClientMsg::InviteToSpeak { user } => {
                require_staff(who, "invite students to speak")?;
                self.require_media()?;
                self.require_present_student(user)?;
                if let Some(participant) = self.state.set_may_speak(user, true) {
                    self.send(Audience::Everyone, &ServerMsg::Updated { participant });
                    self.send(Audience::User(user), &ServerMsg::MaySpeak { allowed: true });
                }
                if self.state.lower_hand(user) {
                    self.send(Audience::Everyone, &ServerMsg::Hands { queue: self.state.hands().to_vec() });
                }
                Ok(())
            }
            ClientMsg::StopSpeaking { user } => {
                let target = user.unwrap_or(who.user);
                if target != who.user {
                    require_staff(who, "stop someone else speaking")?;
                    if self.state.participant(target).is_none() {
                        return Err(Refusal::new(ErrorCode::NotFound, format!("User {target} is not in the room.")));
                    }
                }
                self.require_media()?;
                if let Some(participant) = self.state.set_may_speak(target, false) {
                    self.send(Audience::Everyone, &ServerMsg::Updated { participant });
                }
                self.send(Audience::User(target), &ServerMsg::MaySpeak { allowed: false });
                let announce = self.media.as_mut().map(|m| m.stop_publishing(target)).unwrap_or_default();
                self.announce(announce);
                Ok(())
            }
            ClientMsg::MediaOffer { .. } | ClientMsg::MediaView { .. } | ClientMsg::MediaLeave => {
                Err(Refusal::invalid("Media messages are handled per connection."))
            }
            ClientMsg::Board { mut op } => {
                if let BoardAction::InsertSlides { deck, slides, .. } = &mut op.action {
                    *slides = self.ready_slides(*deck).await?;
                }
                if let Some(op) = self.board.apply(&self.app.store, class_id, who, op, now).await? {
                    self.send(Audience::Everyone, &ServerMsg::Board { by: who.user, op });
                }
                Ok(())
            }
            ClientMsg::Laser { page, at } => {
                if !self.board.may_draw(who) {
                    return Err(Refusal::forbidden("The teacher has not let you draw."));
                }
                if !self.board.board().has_page(page) {
                    return Err(Refusal::new(ErrorCode::NotFound, format!("There is no page {page}.")));
                }
                if at.is_some_and(|p| !p.iter().all(|v| v.is_finite() && v.abs() < 100_000.0)) {
                    return Err(Refusal::invalid("A pointer position is two finite numbers."));
                }
                self.send(Audience::Everyone, &ServerMsg::Laser { user: who.user, page, at });
                Ok(())
            }
            ClientMsg::ShareFile { file } => {
                require_staff(who, "share files")?;
                let store = &self.app.store;
                if !store.set_media_shared(class_id, file, true).await.map_err(internal)? {
                    return Err(Refusal::new(ErrorCode::NotFound, "There is no such file in this class."));
                }
                let record = store.media_in_class(class_id, file).await.map_err(internal)?;
                let Some(record) = record else {
                    return Err(Refusal::new(ErrorCode::NotFound, "There is no such file in this class."));
                };
                let shared = crate::http::files::shared_file(&record);
                self.files.retain(|f| f.id != file);
                self.files.push(shared.clone());
                self.send(Audience::Everyone, &ServerMsg::FileShared { file: shared });
                Ok(())
            }
            ClientMsg::UnshareFile { file } => {
                require_staff(who, "stop sharing files")?;
                if !self.app.store.set_media_shared(class_id, file, false).await.map_err(internal)? {
                    return Err(Refusal::new(ErrorCode::NotFound, "There is no such file in this class."));
                }
                self.files.retain(|f| f.id != file);
                self.send(Audience::Everyone, &ServerMsg::FileUnshared { file });
                Ok(())
            }
            ClientMsg::Block { user, reason } => {
                require_staff(who, "block users")?;
                let reason = check_text(&reason, limits.reason_max_chars, "reason")?;
                self.require_student(user).await?;
                let m = moderation(who, "block", Some(user), class_id, serde_json::json!({ "reason": reason }));
                self.app.store.block_user(&m, &reason, now).await.map_err(internal)?;
                self.state.mark_removed(user);
                self.send(Audience::User(user), &ServerMsg::Blocked { reason });
                self.close(Audience::User(user), close::BLOCKED, "blocked from this class");
                self.drop_user(user);
                self.end_media_of(user);
                Ok(())
            }
        }
    }

    /// Audio and video messages, which concern the sender's connection.
    async fn apply_media(&mut self, key: ConnKey, who: &Identity, msg: ClientMsg) -> Result<(), Refusal> {
        self.require_media()?;
        let may_publish = self.state.may_publish(who);
        let Some(media) = self.media.as_mut() else { return Err(media_disabled()) };
        match msg {
            ClientMsg::MediaOffer { session, sdp, publish } => {
                let (answer, announce) = media.offer(key, who, may_publish, session, sdp, publish).await?;
                self.send(Audience::Conn(key), &ServerMsg::MediaAnswer { sdp: answer });
                self.announce(announce);
                Ok(())
            }
            ClientMsg::MediaView { slots } => media.view(key, who, slots).await,
            ClientMsg::MediaLeave => {
                let announce = media.leave(key);
                self.announce(announce);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn require_media(&self) -> Result<(), Refusal> {
        if self.media.is_some() { Ok(()) } else { Err(media_disabled()) }
    }

    fn media_event(&mut self, event: SfuEvent) {
        let Some(media) = self.media.as_mut() else { return };
        let (announce, speaker) = media.event(event);
        self.announce(announce);
        if let Some(user) = speaker {
            self.send(Audience::Everyone, &ServerMsg::ActiveSpeaker { user });
        }
    }

    /// Tell everyone what changed in the room's media.
    fn announce(&mut self, announce: Announce) {
        if announce.tracks
            && let Some(media) = &self.media
        {
            let tracks = media.tracks();
            self.send(Audience::Everyone, &ServerMsg::MediaTracks { tracks });
        }
    }

    /// A removed or blocked user's media ends at once, with no grace.
    fn end_media_of(&mut self, user: UserId) {
        let announce = self.media.as_mut().map(|m| m.close_user(user)).unwrap_or_default();
        self.announce(announce);
    }

    /// Take every connection of `user` out of the room now (their sockets are closing).
    fn drop_user(&mut self, user: UserId) {
        for key in self.state.connections_of(user) {
            self.depart(key);
        }
    }

    /// A message of this room that `who` can see.
    async fn visible_message(&self, id: i64, who: &Identity) -> Result<ChatRecord, Refusal> {
        let message = self.app.store.chat_message(self.setup.class_id, id).await.map_err(internal)?;
        match message {
            Some(m) if m.recipient_id.is_none() || m.recipient_id == Some(who.user) || who.role.is_staff() => Ok(m),
            _ => Err(Refusal::new(ErrorCode::NotFound, format!("There is no message {id} in this room."))),
        }
    }

    fn require_present_student(&self, user: UserId) -> Result<(), Refusal> {
        match self.state.participant(user) {
            Some(p) if p.role == RoomRole::Student => Ok(()),
            Some(_) => Err(Refusal::forbidden("Only students can be muted, removed or blocked.")),
            None => Err(Refusal::new(ErrorCode::NotFound, format!("User {user} is not in the room."))),
        }
    }

    /// A student of this class: present in the room, or enrolled.
    async fn require_student(&self, user: UserId) -> Result<(), Refusal> {
        if let Some(p) = self.state.participant(user) {
            return if p.role == RoomRole::Student {
                Ok(())
            } else {
                Err(Refusal::forbidden("That user teaches or moderates this class."))
            };
        }
        match self.app.store.enrolment_role(self.setup.class_id, user).await.map_err(internal)? {
            Some(role) if role == "student" => Ok(()),
            Some(_) => Err(Refusal::forbidden("That user teaches this class.")),
            None => Err(Refusal::new(ErrorCode::NotFound, format!("User {user} is not a student of this class."))),
        }
    }
}

fn chat_message(r: ChatRecord) -> ChatMessage {
    ChatMessage {
        id: r.id,
        from: r.sender_id,
        from_name: r.sender_name,
        thread: r.recipient_id,
        body: r.body,
        at: r.created_at,
    }
}

impl RoomActor {
    /// A deck of this class that finished rendering, as the board's slides.
    async fn ready_slides(&self, deck: i64) -> Result<Vec<SlideRef>, Refusal> {
        let class_id = self.setup.class_id;
        let store = &self.app.store;
        let record = store.deck_in_class(class_id, deck).await.map_err(internal)?;
        match record {
            Some(record) if record.status == "ready" => {}
            Some(_) => return Err(Refusal::new(ErrorCode::Invalid, "Those slides are not ready.")),
            None => return Err(Refusal::new(ErrorCode::NotFound, "There are no such slides in this class.")),
        }
        let slides = store.deck_slides(deck).await.map_err(internal)?;
        Ok(crate::slides::slide_refs(class_id, &slides))
    }
}

fn require_staff(who: &Identity, what: &str) -> Result<(), Refusal> {
    if who.role.is_staff() { Ok(()) } else { Err(Refusal::forbidden(format!("Only teachers can {what}."))) }
}

fn media_disabled() -> Refusal {
    Refusal::new(ErrorCode::MediaDisabled, "This server runs without audio and video.")
}

async fn next_media_event(events: &mut Option<mpsc::UnboundedReceiver<SfuEvent>>) -> Option<SfuEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn no_poll() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "There is no such poll in this room.")
}

fn moderation<'a>(
    who: &Identity,
    action: &'a str,
    target: Option<UserId>,
    class_id: i64,
    detail: serde_json::Value,
) -> Moderation<'a> {
    Moderation { actor_id: who.user, action, target_user_id: target, class_id, detail }
}

/// A store failure: logged here once; the client hears only that nothing changed.
pub(super) fn internal(err: lectern_core::store::StoreError) -> Refusal {
    tracing::error!(%err, "room store error");
    Refusal::new(ErrorCode::Internal, "The server could not save that; nothing was changed. Try again.")
}
