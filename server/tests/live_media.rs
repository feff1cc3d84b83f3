//! Media signalling through the room, on both databases: who may publish, inviting and
//! stopping a speaker, the tracks everyone is told about, the grace a participant has to come
//! back, and limits. The offers are real SDP made by str0m; no media flows here (see
//! media_interop.rs for media between independent WebRTC peers).

mod common;

use app::protocol::{ClientMsg, ErrorCode, MediaSource, MediaTrack, Publication, ServerMsg, VideoQuality, ViewSlot};
use common::room::*;
use common::sdp::*;
use lectern_core::AppState;
use lectern_core::config::Config;
use lectern_core::on_both_databases;
use lectern_core::testing::TestDb;
use std::time::{Duration, Instant};
use str0m::media::{Direction, MediaKind, Mid};

async fn students_publish_only_when_invited_and_stop_when_told(db: &TestDb) {
    let app = &db.state;
    let class = live_class_with_people(app, 2).await;
    let host = serve(app.clone()).await;
    let (mut teacher, welcome) = join(&host, class.id, &class.teacher, None).await;
    let media = welcome.media.expect("the welcome carries the media setup");
    assert!(media.tracks.is_empty() && media.last_n == 4 && media.camera_max_kbps == 1500);
    let (mut student, _) = join(&host, class.id, &class.students[0], None).await;

    // A teacher publishes at once; everyone hears of the tracks.
    let mut teacher_page = Page::new("teacher-page-1");
    let (offer, _) = teacher_page.offer(&CAMERA_AND_MIC, &PUBLISH_BOTH);
    negotiate(&mut teacher, &mut teacher_page, offer).await.unwrap();
    let tracks = next_tracks(&mut student).await;
    let mut sources: Vec<_> = tracks.iter().map(|t| (t.user, t.source)).collect();
    sources.sort_by_key(|(_, s)| *s == MediaSource::Microphone);
    assert_eq!(sources, vec![(class.teacher.id, MediaSource::Camera), (class.teacher.id, MediaSource::Microphone)]);

    // A student who was not invited may watch but not publish, and never share a screen.
    let mut student_page = Page::new("student-page-1");
    let (offer, _) = student_page.offer(&CAMERA_AND_MIC, &PUBLISH_BOTH);
    let refused = student.request(offer).await.unwrap_err();
    assert_eq!(refused.0, ErrorCode::Forbidden, "{refused:?}");
    assert!(refused.1.contains("Raise your hand"), "{}", refused.1);
    let mut watcher = Page::new("student-page-2");
    let (offer, slots) =
        watcher.offer(&[(MediaKind::Video, Direction::RecvOnly), (MediaKind::Audio, Direction::RecvOnly)], &[]);
    negotiate(&mut student, &mut watcher, offer).await.unwrap();
    let camera = tracks.iter().find(|t| t.source == MediaSource::Camera).unwrap();
    let view = ClientMsg::MediaView {
        slots: vec![ViewSlot { mid: slots[0].to_string(), track: Some(camera.id.clone()), quality: VideoQuality::Low }],
    };
    student.request(view).await.unwrap();
    // Students cannot invite anyone.
    let err = student.request(ClientMsg::InviteToSpeak { user: class.students[1].id }).await.unwrap_err();
    assert_eq!(err.0, ErrorCode::Forbidden);

    // The student raises a hand; the teacher invites them: the hand goes down, they may speak.
    student.request(ClientMsg::RaiseHand).await.unwrap();
    teacher.request(ClientMsg::InviteToSpeak { user: class.students[0].id }).await.unwrap();
    let allowed = student
        .until(|m| match m {
            ServerMsg::MaySpeak { allowed } => Some(allowed),
            _ => None,
        })
        .await;
    assert!(allowed);
    let updated = teacher
        .until(|m| match m {
            ServerMsg::Updated { participant } if participant.user == class.students[0].id => Some(participant),
            _ => None,
        })
        .await;
    assert!(updated.may_speak);
    let hands = teacher
        .until(|m| match m {
            ServerMsg::Hands { queue } => Some(queue),
            _ => None,
        })
        .await;
    assert!(hands.is_empty(), "inviting lowers the hand");
    // The refused offer is still pending in that page; a fresh one asks again.
    let mut speaker_page = Page::new("student-page-3");
    let (offer, _) = speaker_page.offer(&CAMERA_AND_MIC, &PUBLISH_BOTH);
    negotiate(&mut student, &mut speaker_page, offer).await.unwrap();
    let tracks = next_tracks(&mut teacher).await;
    assert_eq!(tracks.iter().filter(|t| t.user == class.students[0].id).count(), 2);
    // A screen share stays with teachers even for an invited student.
    let mut screen_page = Page::new("student-page-4");
    let (offer, _) = screen_page.offer(&[(MediaKind::Video, Direction::SendOnly)], &[(0, MediaSource::Screen)]);
    assert_eq!(student.request(offer).await.unwrap_err().0, ErrorCode::Forbidden);

    // The teacher stops them: told, and their tracks end for everyone.
    teacher.request(ClientMsg::StopSpeaking { user: Some(class.students[0].id) }).await.unwrap();
    let allowed = student
        .until(|m| match m {
            ServerMsg::MaySpeak { allowed } => Some(allowed),
            _ => None,
        })
        .await;
    assert!(!allowed);
    let tracks = next_tracks(&mut teacher).await;
    assert!(tracks.iter().all(|t| t.user == class.teacher.id), "{tracks:?}");
    // Re-offering what was published is refused now.
    let restart = speaker_page.restart(vec![Publication { mid: "0".into(), source: MediaSource::Camera }]);
    assert_eq!(student.request(restart).await.unwrap_err().0, ErrorCode::Forbidden);
}

/// A live class with one student, served with media: the student is in, and the teacher
/// publishes camera and microphone from `page`.
struct Publishing {
    host: String,
    class: LiveClass,
    student: Client,
    teacher: Client,
    page: Page,
    mids: Vec<Mid>,
    tracks: Vec<MediaTrack>,
}

async fn teacher_publishing(app: &AppState) -> Publishing {
    let class = live_class_with_people(app, 1).await;
    let host = serve(app.clone()).await;
    let (mut student, _) = join(&host, class.id, &class.students[0], None).await;
    let (mut teacher, _) = join(&host, class.id, &class.teacher, None).await;
    let mut page = Page::new("teacher-tab");
    let (offer, mids) = page.offer(&CAMERA_AND_MIC, &PUBLISH_BOTH);
    negotiate(&mut teacher, &mut page, offer).await.unwrap();
    let tracks = next_tracks(&mut student).await;
    assert_eq!(tracks.len(), 2);
    Publishing { host, class, student, teacher, page, mids, tracks }
}

async fn a_participant_who_comes_back_within_the_grace_keeps_their_tracks(db: &TestDb) {
    let Publishing { host, class, mut student, teacher, mut page, mids, tracks: published } =
        teacher_publishing(&db.state).await;

    // The teacher's socket drops (a network change); they are back in a few seconds on a new
    // socket, restart ICE on the same session, and keep the same tracks.
    drop(teacher);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut teacher, welcome) = join(&host, class.id, &class.teacher, None).await;
    assert_eq!(welcome.media.unwrap().tracks, published, "the tracks waited for the teacher");
    let publish = vec![
        Publication { mid: mids[0].to_string(), source: MediaSource::Camera },
        Publication { mid: mids[1].to_string(), source: MediaSource::Microphone },
    ];
    let restart = page.restart(publish.clone());
    negotiate(&mut teacher, &mut page, restart).await.unwrap();
    // Someone else cannot take the session over.
    let mut thief = Page::new("teacher-tab");
    let (offer, _) = thief.offer(&[(MediaKind::Video, Direction::RecvOnly)], &[]);
    assert_eq!(student.request(offer).await.unwrap_err().0, ErrorCode::Forbidden);
    // Nobody was told the tracks ended.
    student.request(chat("still here?")).await.unwrap();
    let mut seen = Vec::new();
    loop {
        match student.next().await {
            ServerMsg::Chat { .. } => break,
            other => seen.push(other),
        }
    }
    assert!(!seen.iter().any(|m| matches!(m, ServerMsg::MediaTracks { .. })), "{seen:?}");

    // Renegotiation: the teacher turns the microphone's m-line off; its track ends.
    let camera_only = page.stop_sending(mids[1], publish[..1].to_vec());
    negotiate(&mut teacher, &mut page, camera_only).await.unwrap();
    let tracks = next_tracks(&mut student).await;
    assert_eq!(tracks.iter().map(|t| t.source).collect::<Vec<_>>(), vec![MediaSource::Camera]);
    assert_eq!(tracks[0].id, published.iter().find(|t| t.source == MediaSource::Camera).unwrap().id);
}

async fn a_participant_who_stays_away_loses_their_tracks_after_the_grace(db: &TestDb) {
    let mut config = Config::default();
    config.media.rejoin_grace_seconds = 1;
    let db = TestDb::with_config(common::room::backend_of(db), config).await;
    let Publishing { mut student, teacher, .. } = teacher_publishing(&db.state).await;
    let left_at = Instant::now();
    drop(teacher);
    let tracks = next_tracks(&mut student).await;
    assert!(tracks.is_empty());
    assert!(left_at.elapsed() >= Duration::from_millis(900), "not before the grace: {:?}", left_at.elapsed());
    db.finish().await;
}

async fn bad_media_messages_get_clear_errors(db: &TestDb) {
    let app = &db.state;
    let class = live_class_with_people(app, 0).await;
    let host = serve(app.clone()).await;
    let (mut teacher, _) = join(&host, class.id, &class.teacher, None).await;
    let garbage = ClientMsg::MediaOffer { session: "s1".into(), sdp: "v=0\r\nnonsense".into(), publish: vec![] };
    let err = teacher.request(garbage).await.unwrap_err();
    assert_eq!(err.0, ErrorCode::Invalid);
    assert!(err.1.starts_with("The SDP offer is not valid"), "{}", err.1);
    let bad_session = ClientMsg::MediaOffer { session: "a b".into(), sdp: String::new(), publish: vec![] };
    assert_eq!(teacher.request(bad_session).await.unwrap_err().0, ErrorCode::Invalid);
    // A view before any offer, and a view naming a track that does not exist.
    let view = |track: &str| ClientMsg::MediaView {
        slots: vec![ViewSlot { mid: "0".into(), track: Some(track.into()), quality: VideoQuality::High }],
    };
    assert_eq!(teacher.request(view("1-0")).await.unwrap_err().0, ErrorCode::NotFound);
    let mut page = Page::new("teacher-tab");
    let (offer, mids) = page.offer(&[(MediaKind::Video, Direction::RecvOnly)], &[]);
    negotiate(&mut teacher, &mut page, offer).await.unwrap();
    let view = ClientMsg::MediaView {
        slots: vec![ViewSlot { mid: mids[0].to_string(), track: Some("999-x".into()), quality: VideoQuality::High }],
    };
    assert_eq!(teacher.request(view).await.unwrap_err().0, ErrorCode::Invalid);
    // Publishing a receiving m-line.
    let mut page = Page::new("teacher-tab-2");
    let (offer, _) = page.offer(&[(MediaKind::Video, Direction::RecvOnly)], &[(0, MediaSource::Camera)]);
    let err = teacher.request(offer).await.unwrap_err();
    assert_eq!(err.0, ErrorCode::Invalid, "{err:?}");
    // And the room goes on.
    teacher.request(chat("all fine")).await.unwrap();
}

async fn a_server_without_media_says_so(db: &TestDb) {
    let mut config = Config::default();
    config.media.enabled = false;
    let db = TestDb::with_config(common::room::backend_of(db), config).await;
    let app = &db.state;
    let class = live_class_with_people(app, 1).await;
    let host = serve(app.clone()).await;
    let (mut teacher, welcome) = join(&host, class.id, &class.teacher, None).await;
    assert!(welcome.media.is_none());
    let mut page = Page::new("tab");
    let (offer, _) = page.offer(&CAMERA_AND_MIC, &PUBLISH_BOTH);
    assert_eq!(teacher.request(offer).await.unwrap_err().0, ErrorCode::MediaDisabled);
    let invite = ClientMsg::InviteToSpeak { user: class.students[0].id };
    assert_eq!(teacher.request(invite).await.unwrap_err().0, ErrorCode::MediaDisabled);
    db.finish().await;
}

on_both_databases!(
    students_publish_only_when_invited_and_stop_when_told,
    a_participant_who_comes_back_within_the_grace_keeps_their_tracks,
    a_participant_who_stays_away_loses_their_tracks_after_the_grace,
    bad_media_messages_get_clear_errors,
    a_server_without_media_says_so,
);
