//! A browser's side of media signalling, with str0m making real SDP (no media flows).

use super::room::Client;
use app::protocol::{ClientMsg, ErrorCode, MediaSource, MediaTrack, Publication, ServerMsg};
use std::time::Instant;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::{Rtc, RtcConfig};

/// A browser's peer connection, played by str0m (only its SDP is used).
pub struct Page {
    rtc: Rtc,
    session: String,
    pending: Option<SdpPendingOffer>,
}

impl Page {
    pub fn new(session: &str) -> Self {
        Self { rtc: RtcConfig::new().build(Instant::now()), session: session.into(), pending: None }
    }

    /// An offer adding `add` (kind, direction) m-lines; returns the message and the new mids.
    pub fn offer(&mut self, add: &[(MediaKind, Direction)], publish: &[(usize, MediaSource)]) -> (ClientMsg, Vec<Mid>) {
        let mut change = self.rtc.sdp_api();
        let mids: Vec<Mid> = add.iter().map(|(k, d)| change.add_media(*k, *d, None, None, None)).collect();
        let (offer, pending) = change.apply().expect("a change");
        self.pending = Some(pending);
        let publish = publish.iter().map(|(i, s)| Publication { mid: mids[*i].to_string(), source: *s }).collect();
        (ClientMsg::MediaOffer { session: self.session.clone(), sdp: offer.to_sdp_string(), publish }, mids)
    }

    /// An ICE restart offer that keeps what is published.
    pub fn restart(&mut self, publish: Vec<Publication>) -> ClientMsg {
        let mut change = self.rtc.sdp_api();
        change.ice_restart(false);
        let (offer, pending) = change.apply().expect("an ICE restart");
        self.pending = Some(pending);
        ClientMsg::MediaOffer { session: self.session.clone(), sdp: offer.to_sdp_string(), publish }
    }

    /// An offer that stops sending on `mid` (a track removed), publishing `publish`.
    pub fn stop_sending(&mut self, mid: Mid, publish: Vec<Publication>) -> ClientMsg {
        let mut change = self.rtc.sdp_api();
        change.set_direction(mid, Direction::Inactive);
        let (offer, pending) = change.apply().expect("a direction change");
        self.pending = Some(pending);
        ClientMsg::MediaOffer { session: self.session.clone(), sdp: offer.to_sdp_string(), publish }
    }

    pub fn accept(&mut self, sdp: &str) {
        let answer = SdpAnswer::from_sdp_string(sdp).expect("the server's answer parses");
        let pending = self.pending.take().expect("an offer in flight");
        self.rtc.sdp_api().accept_answer(pending, answer).expect("the answer fits the offer");
    }
}

pub const CAMERA_AND_MIC: [(MediaKind, Direction); 2] =
    [(MediaKind::Video, Direction::SendOnly), (MediaKind::Audio, Direction::SendOnly)];
pub const PUBLISH_BOTH: [(usize, MediaSource); 2] = [(0, MediaSource::Camera), (1, MediaSource::Microphone)];

/// Send an offer and wait for its answer (or the error).
pub async fn negotiate(client: &mut Client, page: &mut Page, msg: ClientMsg) -> Result<String, (ErrorCode, String)> {
    let reference = client.send_ref(msg).await;
    client.answer(reference).await?;
    let sdp = client
        .until(|m| match m {
            ServerMsg::MediaAnswer { sdp } => Some(sdp),
            _ => None,
        })
        .await;
    page.accept(&sdp);
    Ok(sdp)
}

pub async fn next_tracks(client: &mut Client) -> Vec<MediaTrack> {
    client
        .until(|m| match m {
            ServerMsg::MediaTracks { tracks } => Some(tracks),
            _ => None,
        })
        .await
}
