//! Lectern's signalling, as its browser page does it: the room WebSocket, `media_offer` with
//! what the page publishes, `media_answer`, then `media_view` to put the teacher's camera in
//! a video slot.

use crate::media::{Media, Role};
use crate::support::room_socket::{self, Sink, Stream};
use app::protocol::{ClientFrame, ClientMsg, MediaSource, MediaTrack, Publication, ServerMsg, VideoQuality, ViewSlot};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

const READ_BUFFER: usize = 8 * 1024;
/// Longest wait for the welcome, the answer, or the teacher's track.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// A joined participant: its socket stays open (and is read) until dropped.
pub struct Participant {
    _sink: Sink,
    reader: JoinHandle<()>,
}

impl Drop for Participant {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn send(sink: &mut Sink, msg: ClientMsg) -> Result<(), String> {
    let text = ClientFrame::new(msg).encode();
    sink.send(Message::Text(text.into())).await.map_err(|e| format!("send: {e}"))
}

/// Read until `pick` finds what it wants; an `error` frame ends the wait.
async fn until<T>(stream: &mut Stream, what: &str, mut pick: impl FnMut(ServerMsg) -> Option<T>) -> Result<T, String> {
    let wait = async {
        while let Some(frame) = stream.next().await {
            let text = match frame {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(frame)) => return Err(format!("the room closed the socket: {frame:?}")),
                Ok(_) => continue,
                Err(e) => return Err(format!("read: {e}")),
            };
            match ServerMsg::decode(&text) {
                Ok(ServerMsg::Error { code, message, .. }) => {
                    return Err(format!("the room refused: {code:?}: {message}"));
                }
                Ok(msg) => {
                    if let Some(found) = pick(msg) {
                        return Ok(found);
                    }
                }
                Err(_) => continue,
            }
        }
        Err("the socket ended".into())
    };
    tokio::time::timeout(STEP_TIMEOUT, wait).await.map_err(|_| format!("no {what} within {STEP_TIMEOUT:?}"))?
}

fn drain(mut stream: Stream) -> JoinHandle<()> {
    tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} })
}

/// The teacher: joins, offers camera (three simulcast layers) and microphone.
pub async fn publish(media: &Media, addr: &str, class_id: i64, token: &str) -> Result<Participant, String> {
    let joined = Instant::now();
    let (mut sink, mut stream, _) = room_socket::open(addr, class_id, token, READ_BUFFER).await?;
    let offered = media.offer(Role::Publisher, joined).await?;
    let publish = vec![
        Publication { mid: offered.mids[0].clone(), source: MediaSource::Camera },
        Publication { mid: offered.mids[1].clone(), source: MediaSource::Microphone },
    ];
    send(&mut sink, ClientMsg::MediaOffer { session: "load-teacher".into(), sdp: offered.sdp, publish }).await?;
    let answer = until(&mut stream, "media answer", |m| match m {
        ServerMsg::MediaAnswer { sdp } => Some(sdp),
        _ => None,
    })
    .await?;
    media.answer(offered.peer, answer).await?;
    Ok(Participant { _sink: sink, reader: drain(stream) })
}

/// A student: joins, offers to receive one video and one audio, and shows the teacher's camera.
pub async fn subscribe(media: &Media, addr: &str, class_id: i64, token: &str, n: usize) -> Result<Participant, String> {
    let joined = Instant::now();
    let (mut sink, mut stream, welcome) = room_socket::open(addr, class_id, token, READ_BUFFER).await?;
    // The welcome lists what is published already (`media.tracks`); changes come as
    // `media_tracks`.
    let mut camera = camera_in(&welcome);
    if std::env::var_os("SFU_LOAD_DEBUG").is_some() {
        eprintln!("welcome: {}", &welcome[..welcome.len().min(3000)]);
    }
    let offered = media.offer(Role::Subscriber, joined).await?;
    let session = format!("load-student-{n}");
    send(&mut sink, ClientMsg::MediaOffer { session, sdp: offered.sdp, publish: Vec::new() }).await?;
    let answer = until(&mut stream, "media answer", |m| match m {
        ServerMsg::MediaAnswer { sdp } => Some(sdp),
        ServerMsg::MediaTracks { tracks } => {
            camera = camera_track(&tracks).or(camera.take());
            None
        }
        _ => None,
    })
    .await?;
    media.answer(offered.peer, answer).await?;
    let track = match camera {
        Some(track) => track,
        None => {
            until(&mut stream, "teacher's camera", |m| match m {
                ServerMsg::MediaTracks { tracks } => camera_track(&tracks),
                _ => None,
            })
            .await?
        }
    };
    let slot = ViewSlot { mid: offered.mids[0].clone(), track: Some(track), quality: VideoQuality::High };
    send(&mut sink, ClientMsg::MediaView { slots: vec![slot] }).await?;
    Ok(Participant { _sink: sink, reader: drain(stream) })
}

fn camera_track(tracks: &[MediaTrack]) -> Option<String> {
    tracks.iter().find(|t| t.source == MediaSource::Camera).map(|t| t.id.clone())
}

/// The camera track named in a welcome frame, if one is published.
fn camera_in(welcome: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(welcome).ok()?;
    let tracks: Vec<MediaTrack> = serde_json::from_value(value.get("media")?.get("tracks")?.clone()).ok()?;
    camera_track(&tracks)
}
