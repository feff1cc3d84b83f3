//! The media area of the room: a large stage (the screen share, else the active speaker or the
//! teacher), tiles for the others and one's own camera, the device chooser and the controls.

use super::{Device, Feed, MediaClient, Phase};
use crate::protocol::{MediaSource, UserId};
use leptos::prelude::*;

fn media() -> MediaClient {
    expect_context::<MediaClient>()
}

fn source_name(source: MediaSource) -> &'static str {
    match source {
        MediaSource::Camera => "camera",
        MediaSource::Microphone => "microphone",
        MediaSource::Screen => "screen",
    }
}

/// A video on the page: (track id, user, source).
type Shown = (String, UserId, MediaSource);

#[component]
pub fn MediaArea() -> impl IntoView {
    let media = media();
    let model = media.room.model;
    let on = Memo::new(move |_| model.with(|m| m.media.is_some()));
    view! {
        <Show when=move || on.get()>
            <section class="media" aria-labelledby="media-title" data-testid="media">
                <MediaHead/>
                <MediaError/>
                <MediaView/>
                <Publisher/>
            </section>
        </Show>
    }
}

#[component]
fn MediaHead() -> impl IntoView {
    let media = media();
    let s = media.s;
    let status = move || match s.phase.get() {
        Phase::Off => "Audio and video are off.".to_owned(),
        Phase::Connecting => "Connecting audio and video…".to_owned(),
        Phase::Reconnecting => "Reconnecting audio and video…".to_owned(),
        Phase::Failed => "Audio and video are not available.".to_owned(),
        Phase::Live => s.quality.get().map_or("Audio and video connected".to_owned(), |q| q.label().to_owned()),
    };
    let quality_class = move || {
        let level = match (s.phase.get(), s.quality.get()) {
            (Phase::Live, Some(crate::components::room::model::LinkQuality::Good)) => "good",
            (Phase::Live, Some(crate::components::room::model::LinkQuality::Fair)) => "fair",
            (Phase::Live, Some(crate::components::room::model::LinkQuality::Poor)) => "poor",
            (Phase::Live, None) => "good",
            (Phase::Failed, _) => "poor",
            _ => "waiting",
        };
        format!("link-quality {level}")
    };
    let (sound, only, leave, join) = (media.clone(), media.clone(), media.clone(), media.clone());
    view! {
        <div class="media-head">
            <h2 id="media-title">"Audio and video"</h2>
            <span class=quality_class role="status" data-testid="media-status">
                <span class="dot" aria-hidden="true"></span>
                {status}
            </span>
            <div class="media-tools">
                <Show when=move || s.sound_blocked.get()>
                    {
                        let sound = sound.clone();
                        view! {
                            <button type="button" class="button" on:click=move |_| sound.enable_sound()>"Click to turn sound on"</button>
                        }
                    }
                </Show>
                <Show when=move || s.phase.get() != Phase::Off && s.phase.get() != Phase::Failed>
                    {
                        let (only, leave) = (only.clone(), leave.clone());
                        view! {
                            <button type="button" class="button secondary" aria-pressed=move || s.audio_only.get().to_string()
                                title="Receive no video and send no camera: for slow connections"
                                on:click=move |_| only.set_audio_only(!s.audio_only.get_untracked())>
                                "Audio only"
                            </button>
                            <button type="button" class="button secondary" on:click=move |_| leave.leave()>"Leave audio and video"</button>
                        }
                    }
                </Show>
                <Show when=move || s.phase.get() == Phase::Off || s.phase.get() == Phase::Failed>
                    {
                        let join = join.clone();
                        view! { <button type="button" class="button" on:click=move |_| join.join()>"Join audio and video"</button> }
                    }
                </Show>
            </div>
        </div>
    }
}

#[component]
fn MediaError() -> impl IntoView {
    let s = media().s;
    view! {
        {move || s.error.get().map(|text| view! {
            <div class="form-error media-error" role="alert">
                <span>{text}</span>
                <button type="button" class="link-button" on:click=move |_| s.error.set(None)>"Dismiss"</button>
            </div>
        })}
    }
}

/// The stage and the tiles.
#[component]
fn MediaView() -> impl IntoView {
    let media = media();
    let (model, s) = (media.room.model, media.s);
    let plan = Memo::new(move |_| model.with(|m| m.video_plan(s.audio_only.get())));
    // Only what decides which element shows what: a quality change re-renders nothing.
    let stage = Memo::new(move |_| {
        plan.with(|p| {
            let id = p.stage.as_ref()?;
            p.shown.iter().find(|v| &v.track == id).map(|v| (v.track.clone(), v.user, v.source))
        })
    });
    let tiles = Memo::new(move |_| {
        plan.with(|p| {
            p.shown
                .iter()
                .filter(|v| p.stage.as_ref() != Some(&v.track))
                .map(|v| (v.track.clone(), v.user, v.source))
                .collect::<Vec<Shown>>()
        })
    });
    let speaker = Memo::new(move |_| model.with(|m| m.active_speaker.map(|u| m.name_of(u))));
    let own = Memo::new(move |_| s.local.with(|l| l.camera));
    // With no one else's video to show (a teacher alone, say), one's own camera takes the stage
    // rather than an empty box.
    let own_on_stage = Memo::new(move |_| own.get() && stage.with(Option::is_none));
    let placeholder = move || {
        let text = if s.audio_only.get() {
            "Audio only: video is off.".to_owned()
        } else if let Some(name) = speaker.get() {
            format!("{name} is speaking.")
        } else if s.phase.get() == Phase::Connecting {
            "Connecting audio and video…".to_owned()
        } else {
            "Nobody is sharing video yet.".to_owned()
        };
        view! { <p class="stage-empty">{text}</p> }
    };
    view! {
        <div class="media-view">
            <div class="media-stage">
                {move || match stage.get() {
                    Some((track, user, source)) => view! { <VideoTile track user source big=true/> }.into_any(),
                    None if own_on_stage.get() => view! { <OwnTile big=true/> }.into_any(),
                    None => placeholder().into_any(),
                }}
            </div>
            <ul class="media-tiles" aria-label="Video tiles">
                <For each=move || tiles.get() key=|v| v.0.clone() let:v>
                    <li><VideoTile track=v.0 user=v.1 source=v.2 big=false/></li>
                </For>
                <Show when=move || own.get() && !own_on_stage.get()>
                    <li><OwnTile big=false/></li>
                </Show>
            </ul>
        </div>
    }
}

#[component]
fn VideoTile(track: String, user: UserId, source: MediaSource, big: bool) -> impl IntoView {
    let media = media();
    let model = media.room.model;
    let name = Memo::new(move |_| model.with(|m| m.name_of(user)));
    let speaking = Memo::new(move |_| model.with(|m| m.active_speaker == Some(user)));
    let video = NodeRef::<leptos::html::Video>::new();
    #[cfg(feature = "hydrate")]
    {
        let (s, feed) = (media.s, Feed::Remote(track.clone()));
        Effect::new(move |_| {
            s.slots.track();
            s.streams.track();
            if let Some(element) = video.get() {
                media.attach(&element, &feed);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&media, Feed::Remote(String::new()));
    let label = move || match source {
        MediaSource::Screen => format!("{}'s screen", name.get()),
        _ => name.get(),
    };
    view! {
        <figure class="tile" class:tile-big=big class:tile-screen=source == MediaSource::Screen class:speaking=move || speaking.get()>
            <video node_ref=video autoplay playsinline prop:muted=true
                data-user-name=move || name.get() data-source=source_name(source) data-track=track.clone()
                aria-label=label></video>
            <figcaption>
                <span class="tile-name">{label}</span>
                {move || speaking.get().then(|| view! { <span class="speaking-badge">"speaking"</span> })}
            </figcaption>
        </figure>
    }
}

/// One's own camera, as sent (mirrored, like a mirror; muted).
#[component]
fn OwnTile(big: bool) -> impl IntoView {
    let media = media();
    let s = media.s;
    let video = NodeRef::<leptos::html::Video>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        s.streams.track();
        if let Some(element) = video.get() {
            media.attach(&element, &Feed::OwnCamera);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = &media;
    view! {
        <figure class="tile own" class:tile-big=big>
            <video class="mirrored" node_ref=video autoplay playsinline prop:muted=true data-local="camera"
                aria-label="Your camera"></video>
            <figcaption>
                <span class="tile-name">"You"</span>
                {move || s.local.get().mic_muted.then(|| view! { <span class="muted-badge">"microphone off"</span> })}
            </figcaption>
        </figure>
    }
}

/// For those who may publish: the invitation, the device chooser and the controls.
#[component]
fn Publisher() -> impl IntoView {
    let media = media();
    let (model, s) = (media.room.model, media.s);
    let may = Memo::new(move |_| model.with(|m| m.may_publish()));
    let staff = Memo::new(move |_| model.with(|m| m.is_staff()));
    let publishing = Memo::new(move |_| s.local.with(|l| l.camera || l.microphone));
    view! {
        <Show when=move || may.get()>
            <div class="publisher">
                <Show when=move || !publishing.get()>
                    <Invite staff/>
                </Show>
                <Show when=move || publishing.get() || staff.get()>
                    <div class="media-controls" role="group" aria-label="Your camera, microphone and screen">
                        <Show when=move || publishing.get()>
                            <SpeakerControls staff/>
                        </Show>
                        <Show when=move || staff.get()>
                            <ScreenButton/>
                        </Show>
                    </div>
                </Show>
            </div>
        </Show>
    }
}

/// Before publishing: (for a student) the invitation, then the device chooser.
#[component]
fn Invite(staff: Memo<bool>) -> impl IntoView {
    let media = media();
    let s = media.s;
    let choosing = Memo::new(move |_| s.setup.with(Option::is_some));
    let busy = Memo::new(move |_| s.local.with(|l| l.busy));
    let (open, decline) = (media.clone(), media.clone());
    view! {
        <div class="media-invite">
            {move || (!staff.get()).then(|| view! { <p class="invite-text" role="status">"A teacher invited you to speak."</p> })}
            <Show when=move || !choosing.get() fallback=|| view! { <DeviceSetup/> }>
                <div class="invite-actions">
                    {
                        let open = open.clone();
                        view! {
                            <button type="button" class="button" prop:disabled=move || busy.get()
                                on:click=move |_| open.open_setup()>"Set up camera and microphone"</button>
                        }
                    }
                    {
                        let decline = decline.clone();
                        move || (!staff.get()).then(|| {
                            let decline = decline.clone();
                            view! {
                                <button type="button" class="button secondary" on:click=move |_| decline.stop_speaking()>"Not now"</button>
                            }
                        })
                    }
                </div>
            </Show>
        </div>
    }
}

/// One device chooser: a labelled list, or a line saying there is none.
#[component]
fn DeviceSelect(
    id: &'static str,
    label: &'static str,
    none: &'static str,
    devices: Signal<Vec<Device>>,
    current: Signal<Option<String>>,
    choose: Callback<String>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {move || {
                let devices = devices.get();
                if devices.is_empty() {
                    return view! { <p id=id class="muted">{none}</p> }.into_any();
                }
                let current = current.get().unwrap_or_default();
                view! {
                    <select id=id on:change=move |ev| choose.run(event_target_value(&ev))>
                        {devices.into_iter().map(|d| {
                            let selected = d.id == current;
                            view! { <option value=d.id selected=selected>{d.label}</option> }
                        }).collect_view()}
                    </select>
                }.into_any()
            }}
        </div>
    }
}

#[component]
fn DeviceSetup() -> impl IntoView {
    let media = media();
    let s = media.s;
    let video = NodeRef::<leptos::html::Video>::new();
    #[cfg(feature = "hydrate")]
    {
        let media = media.clone();
        Effect::new(move |_| {
            s.streams.track();
            if let Some(element) = video.get() {
                media.attach(&element, &Feed::Preview);
            }
        });
    }
    let setup = Memo::new(move |_| s.setup.get().unwrap_or_default());
    let busy = Memo::new(move |_| s.local.with(|l| l.busy));
    let (camera, microphone, cancel, start) = (media.clone(), media.clone(), media.clone(), media.clone());
    view! {
        <div class="device-setup">
            <video class="preview mirrored" node_ref=video autoplay playsinline prop:muted=true data-local="preview"
                aria-label="Preview of your camera"></video>
            <div class="device-fields">
                <DeviceSelect id="camera-select" label="Camera" none="No camera found: you will be heard, not seen."
                    devices=Signal::derive(move || setup.with(|s| s.cameras.clone()))
                    current=Signal::derive(move || setup.with(|s| s.camera.clone()))
                    choose=Callback::new(move |id: String| camera.choose_camera(id))/>
                <DeviceSelect id="microphone-select" label="Microphone" none="No microphone found."
                    devices=Signal::derive(move || setup.with(|s| s.microphones.clone()))
                    current=Signal::derive(move || setup.with(|s| s.microphone.clone()))
                    choose=Callback::new(move |id: String| microphone.choose_microphone(id))/>
                <div class="dialog-actions">
                    <button type="button" class="button secondary" on:click=move |_| cancel.close_setup()>"Cancel"</button>
                    <button type="button" class="button" prop:disabled=move || busy.get()
                        on:click=move |_| start.start_publishing()>"Start camera and microphone"</button>
                </div>
            </div>
        </div>
    }
}

/// While publishing: microphone, camera and (students) stop speaking.
#[component]
fn SpeakerControls(staff: Memo<bool>) -> impl IntoView {
    let media = media();
    let s = media.s;
    let busy = Memo::new(move |_| s.local.with(|l| l.busy));
    let has_mic = Memo::new(move |_| s.local.with(|l| l.microphone));
    let (mic, cam, stop) = (media.clone(), media.clone(), media.clone());
    view! {
        {move || has_mic.get().then(|| {
            let mic = mic.clone();
            view! {
                <button type="button" class="button secondary" on:click=move |_| mic.set_mic_muted(!s.local.get_untracked().mic_muted)>
                    {move || if s.local.get().mic_muted { "Unmute microphone" } else { "Mute microphone" }}
                </button>
            }
        })}
        <button type="button" class="button secondary" prop:disabled=move || busy.get() || s.audio_only.get()
            title=move || if s.audio_only.get() { "Audio only is on" } else { "" }
            on:click=move |_| cam.set_camera(!s.local.get_untracked().camera)>
            {move || if s.local.get().camera { "Turn camera off" } else { "Turn camera on" }}
        </button>
        {move || (!staff.get()).then(|| {
            let stop = stop.clone();
            view! { <button type="button" class="button danger" on:click=move |_| stop.stop_speaking()>"Stop speaking"</button> }
        })}
    }
}

#[component]
fn ScreenButton() -> impl IntoView {
    let media = media();
    let s = media.s;
    view! {
        <button type="button" class="button secondary"
            on:click=move |_| if s.local.get_untracked().screen { media.stop_screen() } else { media.share_screen() }>
            {move || if s.local.get().screen { "Stop sharing" } else { "Share screen" }}
        </button>
    }
}
