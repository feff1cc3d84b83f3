//! The live-room wire protocol: what a browser (or any client) and the server say to each other
//! over a class's WebSocket. One JSON object per text frame, tagged by `type`.
//!
//! The same types are compiled into the wasm client and the server, so the two cannot drift.
//! docs/protocol.md describes the protocol for people writing other clients; a test there checks
//! that every example in it decodes.
//!
//! Versioning: the client's first message is [`ClientMsg::Hello`] with [`PROTOCOL_VERSION`]; the
//! server answers [`ServerMsg::Welcome`] or refuses a version it does not speak. Within a version,
//! new message types and new optional fields may appear: clients ignore server types they do not
//! know (see [`ServerFrame::decode_lenient`]).

use crate::board::{BoardOp, BoardSnapshot, PageId};
use serde::{Deserialize, Serialize};

pub mod text;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;

pub type UserId = i64;
pub type MessageId = i64;
pub type PollId = i64;
pub type OptionId = i64;

/// WebSocket close codes the server uses, beyond the standard ones (1000 normal, 1001 going away,
/// 1009 frame too big, 1011 server error).
pub mod close {
    /// The client's protocol version is not one the server speaks.
    pub const UNSUPPORTED_VERSION: u16 = 4000;
    /// A teacher removed the participant from this session.
    pub const REMOVED: u16 = 4001;
    /// The user is blocked from this class.
    pub const BLOCKED: u16 = 4003;
    /// The client read too slowly and its outbound queue filled up; reconnecting resumes.
    pub const TOO_SLOW: u16 = 4008;
    /// The room moved to another node (or restarted); reconnect and resume.
    pub const RECONNECT: u16 = 4010;
    /// The first message was not a valid `hello`.
    pub const NO_HELLO: u16 = 4011;
}

/// A client message and an optional reference the server echoes in its `ack` or `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientFrame {
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<u32>,
    #[serde(flatten)]
    pub msg: ClientMsg,
}

impl ClientFrame {
    pub fn new(msg: ClientMsg) -> Self {
        Self { reference: None, msg }
    }

    pub fn with_ref(reference: u32, msg: ClientMsg) -> Self {
        Self { reference: Some(reference), msg }
    }

    pub fn encode(&self) -> String {
        // Serialising these types cannot fail: no maps with non-string keys, no foreign types.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Decode one text frame, with an error that names what is wrong.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        serde_json::from_str(text).map_err(|e| DecodeError(e.to_string()))
    }

    /// The reference of a frame that failed to decode, if it had one, so the error can carry it.
    pub fn reference_of(text: &str) -> Option<u32> {
        #[derive(Deserialize)]
        struct OnlyRef {
            #[serde(rename = "ref")]
            reference: Option<u32>,
        }
        serde_json::from_str::<OnlyRef>(text).ok()?.reference
    }
}

/// Why a frame could not be decoded (serde's message: it names the field or the unknown type).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// What a participant asks of the room.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// The first message on every connection. `resume_after` is the last chat message id the
    /// client has seen; the welcome then carries exactly the messages after it.
    Hello {
        protocol: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_after: Option<MessageId>,
    },
    /// Post to the public chat (`thread` absent) or to a private thread between one student and the
    /// class's teachers (`thread` is that student's user id; a student may only name themselves).
    SendChat {
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<UserId>,
    },
    /// Staff: hide a message from everyone.
    DeleteChat {
        id: MessageId,
    },
    /// Staff: stop (or allow again) students posting to the public chat.
    LockChat {
        locked: bool,
    },
    /// Anyone: flag a message for the moderators.
    ReportChat {
        id: MessageId,
        reason: String,
    },
    RaiseHand,
    /// Lower one's own hand, or (staff) someone else's.
    LowerHand {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserId>,
    },
    React {
        reaction: Reaction,
    },
    /// Staff: open a poll. For `yes_no`, `options` is ignored (the server makes "Yes" and "No").
    CreatePoll {
        question: String,
        kind: PollKind,
        anonymous: bool,
        #[serde(default)]
        options: Vec<String>,
    },
    /// Students: vote, or change one's vote while the poll is open.
    Vote {
        poll: PollId,
        options: Vec<OptionId>,
    },
    /// Staff: close a poll and publish its results to everyone.
    ClosePoll {
        poll: PollId,
    },
    /// Staff: stop (or allow again) a participant posting to chat.
    MuteChat {
        user: UserId,
        muted: bool,
    },
    /// Staff: send a participant out of this session (they may not rejoin until it ends).
    Remove {
        user: UserId,
    },
    /// Staff: block a user from this class, with a reason; they are disconnected at once.
    Block {
        user: UserId,
        reason: String,
    },
    /// Start or change this browser's audio and video: an SDP offer for its one peer connection.
    /// `session` is a random id the page keeps across reconnects, so that a participant who
    /// comes back within the grace period keeps their connection and tracks. `publish` names
    /// what each sending m-line carries; the server answers `media_answer`.
    MediaOffer {
        session: String,
        sdp: String,
        #[serde(default)]
        publish: Vec<Publication>,
    },
    /// Which published video goes into which of this browser's receiving video m-lines, and at
    /// what quality. Slots not named receive nothing.
    MediaView {
        slots: Vec<ViewSlot>,
    },
    /// Turn this browser's audio and video off (its tracks end).
    MediaLeave,
    /// Staff: let a student publish camera and microphone (their hand is lowered).
    InviteToSpeak {
        user: UserId,
    },
    /// Staff: stop a student publishing; a student: stop publishing oneself.
    StopSpeaking {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserId>,
    },
    /// A change to the whiteboard (see [`crate::board`]): drawing needs the teacher's leave,
    /// pages and access are staff's. Resending an op with the same id changes nothing.
    Board {
        op: BoardOp,
    },
    /// Where the sender's laser pointer is on a page (`at` absent: put away). Shown, not kept.
    Laser {
        page: PageId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<[f32; 2]>,
    },
    /// Staff: offer a file uploaded to this class (`POST /classes/{id}/files`) to everyone.
    ShareFile {
        file: i64,
    },
    /// Staff: stop offering a file.
    UnshareFile {
        file: i64,
    },
}

impl ClientMsg {
    /// The message's `type` as it appears on the wire, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMsg::Hello { .. } => "hello",
            ClientMsg::SendChat { .. } => "send_chat",
            ClientMsg::DeleteChat { .. } => "delete_chat",
            ClientMsg::LockChat { .. } => "lock_chat",
            ClientMsg::ReportChat { .. } => "report_chat",
            ClientMsg::RaiseHand => "raise_hand",
            ClientMsg::LowerHand { .. } => "lower_hand",
            ClientMsg::React { .. } => "react",
            ClientMsg::CreatePoll { .. } => "create_poll",
            ClientMsg::Vote { .. } => "vote",
            ClientMsg::ClosePoll { .. } => "close_poll",
            ClientMsg::MuteChat { .. } => "mute_chat",
            ClientMsg::Remove { .. } => "remove",
            ClientMsg::Block { .. } => "block",
            ClientMsg::MediaOffer { .. } => "media_offer",
            ClientMsg::MediaView { .. } => "media_view",
            ClientMsg::MediaLeave => "media_leave",
            ClientMsg::InviteToSpeak { .. } => "invite_to_speak",
            ClientMsg::StopSpeaking { .. } => "stop_speaking",
            ClientMsg::Board { .. } => "board",
            ClientMsg::Laser { .. } => "laser",
            ClientMsg::ShareFile { .. } => "share_file",
            ClientMsg::UnshareFile { .. } => "unshare_file",
        }
    }
}

/// What the server tells a participant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The answer to `hello`: everything needed to draw the room.
    Welcome(Box<Welcome>),
    Joined {
        participant: Participant,
    },
    Left {
        user: UserId,
    },
    /// A participant's state changed (for now: chat muted or not).
    Updated {
        participant: Participant,
    },
    /// The raised hands, first raised first.
    Hands {
        queue: Vec<UserId>,
    },
    Reaction {
        user: UserId,
        reaction: Reaction,
    },
    Chat {
        message: ChatMessage,
    },
    ChatDeleted {
        id: MessageId,
    },
    ChatLocked {
        locked: bool,
    },
    /// Staff only: someone reported a message.
    ChatReported {
        message: MessageId,
        reporter: UserId,
        reason: String,
    },
    PollOpened {
        poll: Poll,
    },
    /// Staff only: live counts while a poll is open (and who chose what, unless anonymous).
    PollCounts {
        poll: PollId,
        results: PollResults,
    },
    /// To the voter: the vote the server holds for them now.
    YourVote {
        poll: PollId,
        options: Vec<OptionId>,
    },
    /// To everyone: the poll closed; its results.
    PollClosed {
        poll: PollId,
        results: PollResults,
    },
    /// A teacher removed you; the server closes the socket next (code 4001).
    Removed {
        reason: String,
    },
    /// You are blocked from this class; the server closes the socket next (code 4003).
    Blocked {
        reason: String,
    },
    /// The answer to this browser's `media_offer`.
    MediaAnswer {
        sdp: String,
    },
    /// Everything published in the room now (sent whenever it changes).
    MediaTracks {
        tracks: Vec<MediaTrack>,
    },
    /// Who is speaking loudest now (absent: nobody).
    ActiveSpeaker {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserId>,
    },
    /// To a student: a teacher invited you to speak (`allowed`), or stopped you. When stopped,
    /// the server has already ended your tracks; drop them and offer again without them.
    MaySpeak {
        allowed: bool,
    },
    /// A change the board accepted, as applied (authors and new page ids filled in), from `by`.
    Board {
        by: UserId,
        op: BoardOp,
    },
    /// Someone's laser pointer moved (`at` absent: put away).
    Laser {
        user: UserId,
        page: PageId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<[f32; 2]>,
    },
    /// A file is offered to the class as a download.
    FileShared {
        file: SharedFile,
    },
    /// A file is no longer offered.
    FileUnshared {
        file: i64,
    },
    /// The message with this `ref` was applied.
    Ack {
        #[serde(rename = "ref")]
        reference: u32,
    },
    /// A message could not be applied. The connection and the room go on.
    Error {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<u32>,
        code: ErrorCode,
        message: String,
    },
}

/// The room as the joining participant sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol: u16,
    pub class_id: i64,
    pub title: String,
    pub you: Participant,
    pub roster: Vec<Participant>,
    pub hands: Vec<UserId>,
    pub chat_locked: bool,
    /// Chat the client has not seen, oldest first: after `resume_after`, or the latest messages.
    pub chat: Vec<ChatMessage>,
    /// False when there was more to catch up than one welcome carries; the client should then
    /// show a "older messages not shown" marker rather than pretend the history is whole.
    pub chat_complete: bool,
    /// Recently deleted messages: a client that kept messages from before a reconnect removes
    /// these.
    #[serde(default)]
    pub deleted: Vec<MessageId>,
    /// Polls of this session: open ones, and closed ones with their results.
    pub polls: Vec<Poll>,
    /// Audio and video; absent when the server runs without media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaSetup>,
    /// The whiteboard as it is now (absent from servers older than the board).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<BoardSnapshot>,
    /// Files offered to the class as downloads, oldest first.
    #[serde(default)]
    pub files: Vec<SharedFile>,
}

/// A file offered to a class: downloaded from `url` as an attachment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFile {
    pub id: i64,
    /// The uploader's name for it, cleaned (no path) and ending in its real type's extension.
    pub name: String,
    pub size: i64,
    /// `pdf`, `image` or `other`.
    pub kind: String,
    pub url: String,
}

/// A PDF becoming slides, as `GET /classes/{id}/slides/{deck}` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlideDeck {
    pub id: i64,
    pub title: String,
    pub status: DeckStatus,
    /// Pages in the PDF (0 until it has been opened), and pages rendered so far.
    pub pages: i64,
    pub done: i64,
    /// Why it was refused, for the teacher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeckStatus {
    Rendering,
    Ready,
    Failed,
}

/// What a browser needs to set up audio and video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaSetup {
    /// For `RTCPeerConnection`'s `iceServers` (TURN for networks that block UDP).
    pub ice_servers: Vec<IceServer>,
    /// Encoder caps, in kbit/s: a camera's top layer, a screen share, a microphone.
    pub camera_max_kbps: u32,
    pub screen_max_kbps: u32,
    pub audio_max_kbps: u32,
    /// Video tiles to receive besides the teacher and the screen share.
    pub last_n: usize,
    /// What is published now.
    pub tracks: Vec<MediaTrack>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_speaker: Option<UserId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// What a browser publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaSource {
    Camera,
    Microphone,
    Screen,
}

impl MediaSource {
    pub fn is_video(self) -> bool {
        !matches!(self, MediaSource::Microphone)
    }
}

/// One sending m-line of an offer and what it carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub mid: String,
    pub source: MediaSource,
}

/// One published track of the room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaTrack {
    /// Opaque; names the track in `media_view`.
    pub id: String,
    pub user: UserId,
    pub source: MediaSource,
}

/// One receiving video m-line of a browser and what it should show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewSlot {
    pub mid: String,
    /// A `MediaTrack` id; absent: nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
    /// The most this slot needs: a small tile needs `low`.
    #[serde(default = "VideoQuality::high")]
    pub quality: VideoQuality,
}

/// The simulcast layers of a camera, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoQuality {
    Low,
    Medium,
    High,
}

impl VideoQuality {
    fn high() -> Self {
        VideoQuality::High
    }
}

impl ServerMsg {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        serde_json::from_str(text).map_err(|e| DecodeError(e.to_string()))
    }

    pub fn error(reference: Option<u32>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Error { reference, code, message: message.into() }
    }
}

/// Server frames as a client reads them: a newer server may send types this client does not know.
pub enum ServerFrame {
    Known(ServerMsg),
    /// A well-formed frame of an unknown type: ignore it.
    Unknown(String),
}

impl ServerFrame {
    pub fn decode_lenient(text: &str) -> Result<Self, DecodeError> {
        match ServerMsg::decode(text) {
            Ok(msg) => Ok(ServerFrame::Known(msg)),
            Err(err) => {
                #[derive(Deserialize)]
                struct Tagged {
                    #[serde(rename = "type")]
                    kind: String,
                }
                match serde_json::from_str::<Tagged>(text) {
                    Ok(t) if !KNOWN_SERVER_TYPES.contains(&t.kind.as_str()) => Ok(ServerFrame::Unknown(t.kind)),
                    _ => Err(err),
                }
            }
        }
    }
}

const KNOWN_SERVER_TYPES: &[&str] = &[
    "welcome",
    "joined",
    "left",
    "updated",
    "hands",
    "reaction",
    "chat",
    "chat_deleted",
    "chat_locked",
    "chat_reported",
    "poll_opened",
    "poll_counts",
    "your_vote",
    "poll_closed",
    "removed",
    "blocked",
    "media_answer",
    "media_tracks",
    "active_speaker",
    "may_speak",
    "board",
    "laser",
    "file_shared",
    "file_unshared",
    "ack",
    "error",
];

/// A participant's role in this class's room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomRole {
    /// The class's teacher.
    Teacher,
    /// Enrolled as a co-teacher: the same powers in the room as the teacher.
    CoTeacher,
    /// A site admin who came in to moderate: staff powers, never shown as a teacher.
    Moderator,
    Student,
}

impl RoomRole {
    /// Teachers, co-teachers and moderators run the room.
    pub fn is_staff(self) -> bool {
        !matches!(self, RoomRole::Student)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub user: UserId,
    pub name: String,
    pub role: RoomRole,
    pub chat_muted: bool,
    /// A student a teacher invited to speak (publish camera and microphone).
    #[serde(default)]
    pub may_speak: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: MessageId,
    pub from: UserId,
    pub from_name: String,
    /// Absent for the public chat; the student's id for a private thread with the teachers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<UserId>,
    /// Plain text. Clients must show it as text (links may be made clickable, never HTML).
    pub body: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// Quick feedback that is shown for a moment and not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    ThumbsUp,
    Clap,
    Heart,
    Laugh,
    Surprised,
    Confused,
    /// "Please slow down."
    Slower,
}

impl Reaction {
    pub const ALL: [Reaction; 7] = [
        Reaction::ThumbsUp,
        Reaction::Clap,
        Reaction::Heart,
        Reaction::Laugh,
        Reaction::Surprised,
        Reaction::Confused,
        Reaction::Slower,
    ];

    pub fn emoji(self) -> &'static str {
        match self {
            Reaction::ThumbsUp => "\u{1f44d}",
            Reaction::Clap => "\u{1f44f}",
            Reaction::Heart => "\u{2764}\u{fe0f}",
            Reaction::Laugh => "\u{1f602}",
            Reaction::Surprised => "\u{1f62e}",
            Reaction::Confused => "\u{1f615}",
            Reaction::Slower => "\u{1f422}",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Reaction::ThumbsUp => "Thumbs up",
            Reaction::Clap => "Applause",
            Reaction::Heart => "Love it",
            Reaction::Laugh => "Funny",
            Reaction::Surprised => "Surprised",
            Reaction::Confused => "Confused",
            Reaction::Slower => "Slower, please",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollKind {
    /// Exactly one option.
    Single,
    /// One or more options.
    Multiple,
    /// "Yes" or "No".
    YesNo,
}

impl PollKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PollKind::Single => "single",
            PollKind::Multiple => "multiple",
            PollKind::YesNo => "yes_no",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "single" => Some(PollKind::Single),
            "multiple" => Some(PollKind::Multiple),
            "yes_no" => Some(PollKind::YesNo),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollOption {
    pub id: OptionId,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    pub id: PollId,
    pub question: String,
    pub kind: PollKind,
    pub anonymous: bool,
    pub options: Vec<PollOption>,
    pub closed: bool,
    /// Present once closed (for everyone) and, for staff, while open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<PollResults>,
    /// The viewer's own vote.
    #[serde(default)]
    pub my_vote: Vec<OptionId>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResults {
    /// Votes per option, in the order of the poll's options.
    pub counts: Vec<u32>,
    /// How many people voted.
    pub voters: u32,
    /// Who chose what (named polls, staff only): per option, the voters' names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<Vec<String>>>,
}

/// What went wrong with a message, for the client to act on; `message` says it for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not valid JSON, an unknown `type`, or a missing or ill-typed field.
    Malformed,
    /// The first message was not `hello`, or `hello` came twice.
    Hello,
    UnsupportedVersion,
    /// The sender's role may not do this.
    Forbidden,
    /// A field's value is out of bounds (too long, empty, too many options...).
    Invalid,
    /// The message, poll or participant named does not exist here.
    NotFound,
    ChatLocked,
    ChatMuted,
    PollClosed,
    /// Too many messages too fast: slow down (the message was dropped).
    RateLimited,
    /// A limit of the class was reached (media connections, publishers).
    Full,
    /// This server runs without audio and video.
    MediaDisabled,
    /// The server failed; nothing was changed.
    Internal,
}

#[cfg(test)]
mod tests;
