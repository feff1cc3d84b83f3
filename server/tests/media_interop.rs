//! Audio and video through the SFU over real UDP, on both databases, with peers built on
//! webrtc-rs (an implementation independent of the server's str0m): a teacher publishes VP8
//! and Opus, a student receives exactly what was sent; an H.264 camera (iPad Safari's) reaches
//! a browser-like student as H.264; a student publishes once invited to speak; malformed
//! signalling is refused and the worker goes on.
//!
//! `RUST_LOG=server=debug,str0m=debug` shows the server's side of a failure.

mod common;
#[path = "common/media.rs"]
mod media;

use app::protocol::{ClientMsg, ErrorCode, MediaSource, MediaTrack, Publication, ServerMsg, VideoQuality, ViewSlot};
use common::room::*;
use lectern_core::config::DownlinkEstimate;
use lectern_core::on_both_databases;
use lectern_core::testing::TestDb;
use media::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The room on a real socket, with an SFU on a free loopback UDP port.
async fn serve_with_media(db: &TestDb) -> String {
    serve_with_downlink_estimate(db, db.state.config.media.downlink_estimate).await
}

async fn serve_with_downlink_estimate(db: &TestDb, downlink_estimate: DownlinkEstimate) -> String {
    init_logs();
    let media = lectern_core::config::MediaConfig { downlink_estimate, ..db.state.config.media.clone() };
    let sfu = Arc::new(server::sfu::Sfu::start(&media).expect("start the SFU"));
    let hub = server::room::RoomHub::local_with_media(db.state.clone(), Some(sfu));
    serve_router(server::http::router_with_rooms(db.state.clone(), hub)).await
}

/// Offer over the room socket; the SDP answer.
async fn offer(client: &mut Client, session: &str, sdp: String, publish: Vec<Publication>) -> String {
    client
        .request(ClientMsg::MediaOffer { session: session.into(), sdp, publish })
        .await
        .unwrap_or_else(|(code, message)| panic!("media offer refused: {code:?} {message}"));
    client
        .until(|m| match m {
            ServerMsg::MediaAnswer { sdp } => Some(sdp),
            _ => None,
        })
        .await
}

fn publication(mid: String, source: MediaSource) -> Publication {
    Publication { mid, source }
}

/// A publisher with a camera and a microphone, connected and ready to send.
struct Publisher {
    peer: Peer,
    video: Outgoing,
    audio: Outgoing,
}

async fn publish(client: &mut Client, name: &str, session: &str, codecs: Codecs) -> Publisher {
    let mut peer = Peer::new(name, codecs).await;
    let video = peer.send(Kind::Video).await;
    let audio = peer.send(Kind::Audio).await;
    let sdp = peer.offer().await;
    let publish = vec![
        publication(video.mid().await, MediaSource::Camera),
        publication(audio.mid().await, MediaSource::Microphone),
    ];
    let answer = offer(client, session, sdp, publish).await;
    connect_publisher(peer, video, audio, answer).await
}

async fn connect_publisher(mut peer: Peer, mut video: Outgoing, mut audio: Outgoing, answer: String) -> Publisher {
    peer.accept(answer).await;
    peer.connected().await;
    video.start().await;
    audio.start().await;
    Publisher { peer, video, audio }
}

/// A subscriber with one video and one audio slot, connected, showing `camera` in its slot.
struct Subscriber {
    peer: Peer,
    video_pt: u8,
    audio_pt: u8,
    answer: String,
    video_mid: String,
}

/// When a subscriber names what its video slot shows.
#[derive(Clone, Copy, PartialEq)]
enum ViewAt {
    /// Right after the answer, before ICE and DTLS are up, as the page does.
    Answer,
    /// Once the connection is up.
    Connected,
}

async fn subscribe(client: &mut Client, name: &str, session: &str, camera: &str, at: ViewAt) -> Subscriber {
    let mut peer = Peer::new(name, Codecs::BrowserLike).await;
    let video_slot = peer.receive(Kind::Video).await;
    let audio_slot = peer.receive(Kind::Audio).await;
    let sdp = peer.offer().await;
    let video_mid = video_slot.mid().await.unwrap().expect("a video mid");
    let audio_mid = audio_slot.mid().await.unwrap().expect("an audio mid");
    let answer = offer(client, session, sdp, Vec::new()).await;
    let video_pt = payload_type(&answer, &video_mid, "VP8/90000");
    let audio_pt = payload_type(&answer, &audio_mid, "opus/48000");
    let view = ClientMsg::MediaView {
        slots: vec![ViewSlot { mid: video_mid.clone(), track: Some(camera.into()), quality: VideoQuality::High }],
    };
    if at == ViewAt::Answer {
        client.request(view.clone()).await.expect("a view right after the answer is accepted");
    }
    peer.accept(answer.clone()).await;
    peer.connected().await;
    if at == ViewAt::Connected {
        client.request(view).await.expect("the view is accepted");
    }
    Subscriber { peer, video_pt, audio_pt, answer, video_mid }
}

/// Stream from `publisher` and check that `subscriber` receives it all, intact.
async fn stream_and_check(who: &str, publisher: &Publisher, subscriber: &mut Subscriber, seconds: u32) {
    let sending = stream(&publisher.video, &publisher.audio, seconds);
    let receiving = async {
        let video = subscriber.peer.track(Kind::Video).await;
        let audio = subscriber.peer.track(Kind::Audio).await;
        (video, audio)
    };
    let (sent, (mut video, mut audio)) = tokio::join!(sending, receiving);
    let got = check_reception(who, &mut video, &mut audio, subscriber.video_pt, subscriber.audio_pt, &sent).await;
    let requests = publisher.video.keyframe_requests.load(Ordering::Relaxed);
    eprintln!(
        "{who}: {} video frames from #{}, {} audio packets from #{}; {requests} keyframe requests, {} answered",
        got.video_frames, got.first_video_frame, got.audio_packets, got.first_audio_packet, sent.requested_keyframes
    );
    // The slot was set before the first frame. The SFU may hold a camera back until it has
    // measured its bitrate against the subscriber's downlink, then asks for a keyframe: the
    // last second at least must be there.
    let by = (seconds - 1) * VIDEO_FPS;
    assert!(
        got.first_video_frame <= by,
        "{who}: video began only at frame {} of {}",
        got.first_video_frame,
        seconds * VIDEO_FPS
    );
    assert_eq!(got.first_audio_packet, 0, "{who}: the microphone is forwarded from its first packet");
}

fn track_of(tracks: &[MediaTrack], user: i64, source: MediaSource) -> Option<String> {
    tracks.iter().find(|t| t.user == user && t.source == source).map(|t| t.id.clone())
}

async fn a_teacher_publishes_and_a_student_receives_the_media_intact(db: &TestDb) {
    let host = serve_with_media(db).await;
    let class = live_class_with_people(&db.state, 1).await;
    let (mut teacher, welcome) = join(&host, class.id, &class.teacher, None).await;
    assert!(welcome.media.is_some(), "the welcome carries the media setup");

    let publisher = publish(&mut teacher, "teacher", "teacher-page", Codecs::Vp8Opus).await;
    let (mut student, welcome) = join(&host, class.id, &class.students[0], None).await;
    let tracks = welcome.media.expect("media setup").tracks;
    let camera = track_of(&tracks, class.teacher.id, MediaSource::Camera).expect("the teacher's camera is listed");
    assert!(track_of(&tracks, class.teacher.id, MediaSource::Microphone).is_some(), "and the microphone");

    let mut subscriber = subscribe(&mut student, "student", "student-page", &camera, ViewAt::Connected).await;
    stream_and_check("student", &publisher, &mut subscriber, 3).await;
    subscriber.peer.close().await;
    publisher.peer.close().await;
}

/// With `downlink_estimate = "receiver-reports"` the answer to a student's page keeps no
/// transport-wide sequence numbers on its receiving m-lines (with `"loss"` it does), and the
/// media still arrives intact: the offer another implementation made is still one it accepts.
async fn judged_by_receiver_reports_a_student_gets_no_transport_wide_numbers_and_the_media_intact(db: &TestDb) {
    const TWCC: &str = "transport-wide-cc-extensions";
    let class = live_class_with_people(&db.state, 1).await;
    for (estimate, numbered) in [(DownlinkEstimate::Loss, true), (DownlinkEstimate::ReceiverReports, false)] {
        let host = serve_with_downlink_estimate(db, estimate).await;
        let (mut teacher, _) = join(&host, class.id, &class.teacher, None).await;
        let publisher = publish(&mut teacher, "teacher", "teacher-page", Codecs::Vp8Opus).await;
        let (mut student, welcome) = join(&host, class.id, &class.students[0], None).await;
        let tracks = welcome.media.expect("media setup").tracks;
        let camera = track_of(&tracks, class.teacher.id, MediaSource::Camera).expect("the teacher's camera is listed");
        let mut subscriber = subscribe(&mut student, "student", "student-page", &camera, ViewAt::Connected).await;
        assert_eq!(subscriber.answer.contains(TWCC), numbered, "{estimate:?}: {}", subscriber.answer);
        stream_and_check("student", &publisher, &mut subscriber, 2).await;
        subscriber.peer.close().await;
        publisher.peer.close().await;
    }
}

/// iPad Safari publishes H.264: a camera that can only send H.264 reaches a student whose
/// browser offers everything (VP8 first), as H.264, every NAL unit intact.
async fn an_h264_camera_reaches_a_browser_like_subscriber(db: &TestDb) {
    let host = serve_with_media(db).await;
    let class = live_class_with_people(&db.state, 1).await;
    let (mut teacher, _) = join(&host, class.id, &class.teacher, None).await;
    let publisher = publish(&mut teacher, "teacher", "teacher-page", Codecs::H264Opus).await;
    assert_eq!(publisher.video.video_codec, VideoCodec::H264);
    let (mut student, welcome) = join(&host, class.id, &class.students[0], None).await;
    let tracks = welcome.media.expect("media setup").tracks;
    let camera = track_of(&tracks, class.teacher.id, MediaSource::Camera).expect("the teacher's camera is listed");
    let mut subscriber = subscribe(&mut student, "student", "student-page", &camera, ViewAt::Connected).await;

    let seconds = 3;
    let sending = stream(&publisher.video, &publisher.audio, seconds);
    let receiving = async { (subscriber.peer.track(Kind::Video).await, subscriber.peer.track(Kind::Audio).await) };
    let (sent, (mut video, mut audio)) = tokio::join!(sending, receiving);
    let (video_packets, audio_packets) = drain_both(&mut video, &mut audio).await;

    // What the student negotiated for the stream it got: the payload type of its media packets.
    let mut media_pts: Vec<u8> = video_packets
        .iter()
        .filter(|p| !p.payload.is_empty())
        .map(|p| p.header.payload_type)
        .filter(|&pt| {
            rtpmap(&subscriber.answer, &subscriber.video_mid, pt).is_none_or(|(name, _)| !name.starts_with("rtx/"))
        })
        .collect();
    media_pts.sort_unstable();
    media_pts.dedup();
    let [video_pt] = media_pts[..] else {
        panic!("student: video should come on one payload type, got {media_pts:?} in:\n{}", subscriber.answer)
    };
    let (codec, fmtp) = rtpmap(&subscriber.answer, &subscriber.video_mid, video_pt)
        .unwrap_or_else(|| panic!("student: payload type {video_pt} is not in the answer:\n{}", subscriber.answer));
    assert_eq!(codec, "H264/90000", "student: video should be H.264 (fmtp {fmtp})");
    assert!(fmtp.contains("packetization-mode=1"), "student: H.264 should be non-interleaved: {fmtp}");

    let got = check_packets("student", &video_packets, &audio_packets, video_pt, subscriber.audio_pt, &sent);
    let keyframes = sent.video.iter().filter(|f| h264_is_keyframe(f)).count();
    eprintln!(
        "student: H.264 on payload type {video_pt} ({fmtp}): {} access units from #{} ({keyframes} keyframes sent), \
         {} audio packets from #{}",
        got.video_frames, got.first_video_frame, got.audio_packets, got.first_audio_packet
    );
    let by = (seconds - 1) * VIDEO_FPS;
    assert!(got.first_video_frame <= by, "student: video began only at frame {}", got.first_video_frame);
    assert_eq!(got.first_audio_packet, 0, "student: the microphone is forwarded from its first packet");
    subscriber.peer.close().await;
    publisher.peer.close().await;
}

async fn a_student_invited_to_speak_is_received_by_the_teacher(db: &TestDb) {
    let host = serve_with_media(db).await;
    let class = live_class_with_people(&db.state, 1).await;
    let pupil = &class.students[0];
    let (mut teacher, _) = join(&host, class.id, &class.teacher, None).await;
    let (mut student, _) = join(&host, class.id, pupil, None).await;

    let mut peer = Peer::new("student", Codecs::Vp8Opus).await;
    let video = peer.send(Kind::Video).await;
    let audio = peer.send(Kind::Audio).await;
    let sdp = peer.offer().await;
    let publish = vec![
        publication(video.mid().await, MediaSource::Camera),
        publication(audio.mid().await, MediaSource::Microphone),
    ];
    let refused = ClientMsg::MediaOffer { session: "student-page".into(), sdp: sdp.clone(), publish: publish.clone() };
    let (code, _) = student.request(refused).await.expect_err("a student may not publish uninvited");
    assert_eq!(code, ErrorCode::Forbidden);

    teacher.request(ClientMsg::InviteToSpeak { user: pupil.id }).await.expect("the teacher invites");
    student.until(|m| matches!(m, ServerMsg::MaySpeak { allowed: true }).then_some(())).await;
    // The same offer, now allowed.
    let answer = offer(&mut student, "student-page", sdp, publish).await;
    let publisher = connect_publisher(peer, video, audio, answer).await;

    let camera = teacher
        .until(|m| match m {
            ServerMsg::MediaTracks { tracks } => track_of(&tracks, pupil.id, MediaSource::Camera),
            _ => None,
        })
        .await;
    let mut subscriber = subscribe(&mut teacher, "teacher", "teacher-page", &camera, ViewAt::Answer).await;
    stream_and_check("teacher", &publisher, &mut subscriber, 3).await;
    subscriber.peer.close().await;
    publisher.peer.close().await;
}

async fn malformed_signalling_gets_an_error_and_the_worker_goes_on(db: &TestDb) {
    let host = serve_with_media(db).await;
    let class = live_class_with_people(&db.state, 1).await;
    let (mut teacher, _) = join(&host, class.id, &class.teacher, None).await;
    let refused = |sdp: &str, publish: Vec<Publication>| ClientMsg::MediaOffer {
        session: "teacher-page".into(),
        sdp: sdp.into(),
        publish,
    };

    // Choosing what to watch before any offer.
    let view =
        ClientMsg::MediaView { slots: vec![ViewSlot { mid: "0".into(), track: None, quality: VideoQuality::Low }] };
    assert_eq!(teacher.request(view).await.unwrap_err().0, ErrorCode::NotFound);
    for garbage in ["", "hello", "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"] {
        let (code, message) = teacher.request(refused(garbage, Vec::new())).await.unwrap_err();
        assert_eq!(code, ErrorCode::Invalid, "garbage SDP {garbage:?}: {message}");
    }

    // A real offer: camera sent on one m-line, audio only received on another.
    let mut peer = Peer::new("teacher", Codecs::Vp8Opus).await;
    let video = peer.send(Kind::Video).await;
    let audio_slot = peer.receive(Kind::Audio).await;
    let sdp = peer.offer().await;
    let video_mid = video.mid().await;
    let audio_mid = audio_slot.mid().await.unwrap().expect("an audio mid");
    let wrong: Vec<(&str, Vec<Publication>)> = vec![
        ("a mid that is not in the offer", vec![publication("zz".into(), MediaSource::Camera)]),
        ("a receive-only m-line", vec![publication(audio_mid.clone(), MediaSource::Microphone)]),
        ("video declared as a microphone", vec![publication(video_mid.clone(), MediaSource::Microphone)]),
        (
            "one m-line twice",
            vec![
                publication(video_mid.clone(), MediaSource::Camera),
                publication(video_mid.clone(), MediaSource::Screen),
            ],
        ),
        ("a mid too long", vec![publication("m".repeat(40), MediaSource::Camera)]),
    ];
    for (what, publish) in wrong {
        let (code, message) = teacher.request(refused(&sdp, publish)).await.unwrap_err();
        assert_eq!(code, ErrorCode::Invalid, "{what}: {message}");
    }
    // The offer without its ICE credentials and fingerprint.
    let stripped: String = sdp
        .split("\r\n")
        .filter(|l| !l.starts_with("a=ice-ufrag") && !l.starts_with("a=ice-pwd") && !l.starts_with("a=fingerprint"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let (code, message) = teacher.request(refused(&stripped, Vec::new())).await.unwrap_err();
    assert_eq!(code, ErrorCode::Invalid, "an offer without credentials: {message}");
    let (code, message) = teacher
        .request(ClientMsg::MediaOffer { session: "bad session!".into(), sdp: sdp.clone(), publish: Vec::new() })
        .await
        .unwrap_err();
    assert_eq!(code, ErrorCode::Invalid, "a bad session id: {message}");

    // The same offer, declared right: accepted on the same server and worker.
    let answer = offer(&mut teacher, "teacher-page", sdp, vec![publication(video_mid, MediaSource::Camera)]).await;
    peer.accept(answer).await;
    peer.connected().await;

    // Views that name no slot, or no track.
    let (mut student, welcome) = join(&host, class.id, &class.students[0], None).await;
    let camera = track_of(&welcome.media.expect("media setup").tracks, class.teacher.id, MediaSource::Camera)
        .expect("the camera is listed");
    let mut student_peer = Peer::new("student", Codecs::BrowserLike).await;
    let slot = student_peer.receive(Kind::Video).await;
    let audio_slot = student_peer.receive(Kind::Audio).await;
    let student_sdp = student_peer.offer().await;
    let slot_mid = slot.mid().await.unwrap().expect("a video mid");
    let audio_mid = audio_slot.mid().await.unwrap().expect("an audio mid");
    let answer = offer(&mut student, "student-page", student_sdp, Vec::new()).await;
    let video_pt = payload_type(&answer, &slot_mid, "VP8/90000");
    student_peer.accept(answer).await;
    student_peer.connected().await;
    let views: Vec<(&str, ViewSlot)> = vec![
        (
            "an unknown track",
            ViewSlot { mid: slot_mid.clone(), track: Some("999-0".into()), quality: VideoQuality::High },
        ),
        (
            "a track id that is not one",
            ViewSlot { mid: slot_mid.clone(), track: Some("camera".into()), quality: VideoQuality::High },
        ),
        ("an unknown mid", ViewSlot { mid: "nope".into(), track: Some(camera.clone()), quality: VideoQuality::High }),
        ("the audio mid", ViewSlot { mid: audio_mid, track: Some(camera.clone()), quality: VideoQuality::High }),
    ];
    for (what, slot) in views {
        let (code, message) = student.request(ClientMsg::MediaView { slots: vec![slot] }).await.unwrap_err();
        assert!(matches!(code, ErrorCode::Invalid | ErrorCode::NotFound), "{what}: {code:?} {message}");
    }

    // And media flows: one second of camera, received intact.
    let slot = ViewSlot { mid: slot_mid, track: Some(camera), quality: VideoQuality::High };
    student.request(ClientMsg::MediaView { slots: vec![slot] }).await.expect("a good view");
    let mut video = video;
    video.start().await;
    let (sent, mut track) = tokio::join!(send_video(&video, 2), student_peer.track(Kind::Video));
    let deadline = tokio::time::Instant::now() + MEDIA_WAIT;
    let packets = drain(&mut track, std::time::Duration::from_millis(600), deadline).await;
    let frames = vp8_frames("student video", &packets, video_pt);
    check_units("student video", &frames, &sent.0, vp8_counter, VIDEO_TICKS_PER_FRAME);
    student_peer.close().await;
    peer.close().await;
}

on_both_databases!(
    a_teacher_publishes_and_a_student_receives_the_media_intact,
    judged_by_receiver_reports_a_student_gets_no_transport_wide_numbers_and_the_media_intact,
    an_h264_camera_reaches_a_browser_like_subscriber,
    a_student_invited_to_speak_is_received_by_the_teacher,
    malformed_signalling_gets_an_error_and_the_worker_goes_on,
);
