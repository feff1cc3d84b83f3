//! The live room as people use it: who is here and whose hand is up, the chat (public and
//! private with the teachers), polls, reactions, and the teachers' moderation controls.
//!
//! - [`model`]: the room's state as the page knows it, built from the server's messages.
//! - [`connection`]: the WebSocket, with reconnection and resume.
//! - [`media`]: live audio and video (stage, tiles, camera and microphone, screen share).
//!
//! - [`board`]: the whiteboard, with PDF slides.
//! - [`files`]: files the teachers offer as downloads.

pub mod board;
pub mod connection;
mod files;
pub mod media;
pub mod model;
#[cfg(feature = "hydrate")]
mod upload;

use crate::protocol::text::{Segment, segments};
use crate::protocol::{ChatMessage, ClientMsg, OptionId, PollKind, PollResults, Reaction, RoomRole, UserId};
use connection::{RoomClient, Status};
use leptos::prelude::*;

fn client() -> RoomClient {
    expect_context::<RoomClient>()
}

/// A class's live room, connected from the browser.
#[component]
pub fn LiveRoom(class_id: i64) -> impl IntoView {
    let client = RoomClient::open(class_id);
    let model = client.model;
    provide_context(media::MediaClient::new(&client));
    provide_context(client);
    let ended = Memo::new(move |_| model.with(|m| m.ended.clone()));
    view! {
        <div class="room" data-testid="live-room">
            <RoomHeader class_id/>
            {move || ended.get().map(|why| view! {
                <section class="card narrow message-page room-ended" role="alert">
                    <h2>"You have left the live room"</h2>
                    <p>{why.message()}</p>
                    <p><a class="button" href=format!("/classes/{class_id}")>"Back to the class"</a></p>
                </section>
            })}
            <Show when=move || ended.with(Option::is_none)>
                <Notice/>
                <media::view::MediaArea/>
                <board::Whiteboard class_id/>
                <div class="room-grid">
                    <Participants/>
                    <Chat/>
                    <Polls/>
                    <files::SharedFiles class_id/>
                </div>
            </Show>
        </div>
    }
}

#[component]
fn RoomHeader(class_id: i64) -> impl IntoView {
    let client = client();
    let (model, status) = (client.model, client.status);
    let title = Memo::new(move |_| model.with(|m| m.title.clone()));
    let me = Memo::new(move |_| model.with(|m| m.you.clone()));
    let my_hand = Memo::new(move |_| model.with(|m| m.my_id().and_then(|id| m.hand_position(id))));
    let is_student = move || me.with(|p| p.as_ref().is_some_and(|p| p.role == RoomRole::Student));
    let shown = Memo::new(move |_| model.with(|m| m.reactions.clone()));
    let hand_client = client.clone();
    let toggle_hand = move |_| {
        let msg =
            if my_hand.get_untracked().is_some() { ClientMsg::LowerHand { user: None } } else { ClientMsg::RaiseHand };
        hand_client.send(msg);
    };
    view! {
        <header class="room-head">
            <div class="room-title">
                <h1>{move || { let t = title.get(); if t.is_empty() { "Live room".to_owned() } else { t } }}</h1>
                <StatusPill status/>
            </div>
            <div class="room-tools">
                <Show when=is_student>
                    <button type="button" class="button" class:secondary=move || my_hand.get().is_some()
                        aria-pressed=move || my_hand.get().is_some().to_string() on:click=toggle_hand.clone()>
                        {move || match my_hand.get() {
                            Some(n) => format!("Lower hand (#{n})"),
                            None => "Raise hand".to_owned(),
                        }}
                    </button>
                </Show>
                <div class="reaction-bar" role="group" aria-label="Reactions">
                    {Reaction::ALL.into_iter().map(|reaction| {
                        let client = client.clone();
                        view! {
                            <button type="button" class="reaction-button" title=reaction.label() aria-label=reaction.label()
                                on:click=move |_| { client.send(ClientMsg::React { reaction }); }>
                                {reaction.emoji()}
                            </button>
                        }
                    }).collect_view()}
                </div>
                <a class="button secondary" href=format!("/classes/{class_id}")>"Leave"</a>
            </div>
            <ul class="reactions-shown" aria-live="polite">
                <For each=move || shown.get() key=|r| r.seq let:r>
                    <li class="reaction-bubble">{r.reaction.emoji()} " " {r.name}</li>
                </For>
            </ul>
        </header>
    }
}

#[component]
fn StatusPill(status: RwSignal<Status>) -> impl IntoView {
    let text = move || match status.get() {
        Status::Connecting => "Connecting…".to_owned(),
        Status::Live => "Live".to_owned(),
        Status::Reconnecting { attempt: 1, .. } => "Reconnecting…".to_owned(),
        Status::Reconnecting { attempt, .. } => format!("Reconnecting… (attempt {attempt})"),
        Status::Ended => "Ended".to_owned(),
    };
    let class = move || match status.get() {
        Status::Live => "status-pill live",
        Status::Ended => "status-pill ended",
        _ => "status-pill waiting",
    };
    view! { <span class=class role="status" data-testid="room-status">{text}</span> }
}

/// The last refusal of something this page asked for.
#[component]
fn Notice() -> impl IntoView {
    let model = client().model;
    let notice = Memo::new(move |_| model.with(|m| m.notice.clone()));
    view! {
        {move || notice.get().map(|text| view! {
            <div class="form-error room-notice" role="alert">
                <span>{text}</span>
                <button type="button" class="link-button" on:click=move |_| model.update(|m| m.notice = None)>"Dismiss"</button>
            </div>
        })}
    }
}

#[component]
fn Participants() -> impl IntoView {
    let model = client().model;
    let order = Memo::new(move |_| model.with(|m| m.roster_sorted().into_iter().map(|p| p.user).collect::<Vec<_>>()));
    let staff = Memo::new(move |_| model.with(|m| m.is_staff()));
    view! {
        <section class="room-panel participants" aria-labelledby="participants-title">
            <h2 id="participants-title">"Participants " <span class="count">{move || order.with(Vec::len)}</span></h2>
            <ul class="participant-list" data-testid="participants">
                <For each=move || order.get() key=|user| *user let:user>
                    <ParticipantRow user staff/>
                </For>
            </ul>
        </section>
    }
}

#[component]
fn ParticipantRow(user: UserId, staff: Memo<bool>) -> impl IntoView {
    let client = client();
    let model = client.model;
    let person = Memo::new(move |_| model.with(|m| m.roster.iter().find(|p| p.user == user).cloned()));
    let hand = Memo::new(move |_| model.with(|m| m.hand_position(user)));
    let is_me = Memo::new(move |_| model.with(|m| m.my_id() == Some(user)));
    let media_on = Memo::new(move |_| model.with(|m| m.media.is_some()));
    let blocking = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let send = move |msg: ClientMsg| {
        client.send(msg);
    };
    view! {
        {move || person.get().map(|p| {
            let badge = match p.role {
                RoomRole::Teacher => Some("Teacher"),
                RoomRole::CoTeacher => Some("Co-teacher"),
                RoomRole::Moderator => Some("Moderator"),
                RoomRole::Student => None,
            };
            let student = p.role == RoomRole::Student;
            let muted = p.chat_muted;
            let may_speak = p.may_speak;
            let send = send.clone();
            view! {
                <li class="participant" data-user=user.to_string()>
                    <div class="participant-line">
                        <span class="participant-name">{p.name.clone()} {move || is_me.get().then_some(" (you)")}</span>
                        {badge.map(|b| view! { <span class="role-badge role-teacher">{b}</span> })}
                        {move || hand.get().map(|n| view! {
                            <span class="hand" title="Hand raised" aria-label=format!("Hand raised, number {n}")>{format!("✋ {n}")}</span>
                        })}
                        {muted.then(|| view! { <span class="muted-badge">"chat muted"</span> })}
                        {(student && may_speak).then(|| view! { <span class="role-badge role-speaker">"may speak"</span> })}
                    </div>
                    {(student && staff.get_untracked()).then(|| {
                        let (s1, s2, s3, s4, s5) = (send.clone(), send.clone(), send.clone(), send.clone(), send.clone());
                        view! {
                            <div class="participant-actions">
                                {move || media_on.get().then(|| {
                                    let s = s5.clone();
                                    if may_speak {
                                        view! { <button type="button" class="link-button" on:click=move |_| s(ClientMsg::StopSpeaking { user: Some(user) })>"Stop speaking"</button> }.into_any()
                                    } else {
                                        view! { <button type="button" class="link-button" on:click=move |_| s(ClientMsg::InviteToSpeak { user })>"Invite to speak"</button> }.into_any()
                                    }
                                })}
                                {move || hand.get().is_some().then(|| {
                                    let s = s1.clone();
                                    view! { <button type="button" class="link-button" on:click=move |_| s(ClientMsg::LowerHand { user: Some(user) })>"Lower hand"</button> }
                                })}
                                <button type="button" class="link-button" on:click=move |_| s2(ClientMsg::MuteChat { user, muted: !muted })>
                                    {if muted { "Unmute chat" } else { "Mute chat" }}
                                </button>
                                <button type="button" class="link-button" on:click=move |_| s3(ClientMsg::Remove { user })>"Remove"</button>
                                <button type="button" class="link-button danger" on:click=move |_| blocking.update(|b| *b = !*b)>"Block…"</button>
                                <Show when=move || blocking.get()>
                                    {
                                        let s4 = s4.clone();
                                        view! {
                                            <form class="inline-form" on:submit=move |ev| {
                                                ev.prevent_default();
                                                s4(ClientMsg::Block { user, reason: reason.get_untracked() });
                                                blocking.set(false);
                                            }>
                                                <label class="visually-hidden" for=format!("block-reason-{user}")>"Reason for blocking"</label>
                                                <input id=format!("block-reason-{user}") placeholder="Reason (required)" required maxlength="500"
                                                    prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/>
                                                <button type="submit" class="button danger">"Block"</button>
                                            </form>
                                        }
                                    }
                                </Show>
                            </div>
                        }
                    })}
                </li>
            }
        })}
    }
}

/// Whom a message goes to: the public chat, or a private thread with the teachers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Everyone,
    /// A student writing to the teachers.
    Teachers,
    /// Staff answering one student privately.
    Student(UserId, String),
}

#[component]
fn Chat() -> impl IntoView {
    let client = client();
    let model = client.model;
    let messages = Memo::new(move |_| model.with(|m| m.chat.clone()));
    let gap = Memo::new(move |_| model.with(|m| m.chat_gap));
    let locked = Memo::new(move |_| model.with(|m| m.chat_locked));
    let staff = Memo::new(move |_| model.with(|m| m.is_staff()));
    let muted = Memo::new(move |_| model.with(|m| m.chat_muted()));
    let my_id = Memo::new(move |_| model.with(|m| m.my_id()));
    let target = RwSignal::new(Target::Everyone);
    let draft = RwSignal::new(String::new());
    provide_context(target);

    let send_client = client.clone();
    let send = move || {
        let body = draft.get_untracked();
        if body.trim().is_empty() {
            return;
        }
        let thread = match target.get_untracked() {
            Target::Everyone => None,
            Target::Teachers => my_id.get_untracked(),
            Target::Student(id, _) => Some(id),
        };
        if send_client.send(ClientMsg::SendChat { body, thread }) {
            draft.set(String::new());
        }
    };
    let send_on_enter = send.clone();
    let lock_client = client.clone();
    let list_ref = NodeRef::<leptos::html::Ol>::new();
    // Keep the newest message in view while the reader is at the bottom.
    Effect::new(move |_| {
        messages.track();
        if let Some(list) = list_ref.get() {
            let near_bottom = list.scroll_height() - list.scroll_top() - list.client_height() < 120;
            if near_bottom {
                request_animation_frame(move || list.set_scroll_top(list.scroll_height()));
            }
        }
    });

    view! {
        <section class="room-panel chat" aria-labelledby="chat-title">
            <div class="panel-head">
                <h2 id="chat-title">"Chat"</h2>
                <Show when=move || staff.get()>
                    {
                        let lock_client = lock_client.clone();
                        view! {
                            <button type="button" class="link-button" on:click=move |_| {
                                lock_client.send(ClientMsg::LockChat { locked: !locked.get_untracked() });
                            }>{move || if locked.get() { "Unlock chat" } else { "Lock chat" }}</button>
                        }
                    }
                </Show>
            </div>
            {move || (locked.get()).then(|| view! {
                <p class="chat-banner">{move || if staff.get() {
                    "The public chat is locked for students."
                } else {
                    "The teacher has locked the public chat. You can still write to the teachers privately."
                }}</p>
            })}
            <Show when=move || staff.get()>
                <Reports/>
            </Show>
            <ol class="chat-list" role="log" aria-label="Chat messages" node_ref=list_ref data-testid="chat">
                {move || gap.get().then(|| view! { <li class="chat-gap">"Earlier messages are not shown."</li> })}
                <For each=move || messages.get() key=|m| m.id let:message>
                    <ChatLine message staff my_id/>
                </For>
            </ol>
            <form class="chat-compose" on:submit=move |ev| { ev.prevent_default(); send(); }>
                <div class="chat-to">
                    {move || match target.get() {
                        Target::Student(_, name) => view! {
                            <span class="chip-private">{format!("Private reply to {name}")}
                                <button type="button" class="link-button" aria-label="Write to everyone instead"
                                    on:click=move |_| target.set(Target::Everyone)>"×"</button>
                            </span>
                        }.into_any(),
                        _ if staff.get() => ().into_any(),
                        current => view! {
                            <label class="chat-to-label">"To "
                                <select on:change=move |ev| target.set(if event_target_value(&ev) == "teachers" { Target::Teachers } else { Target::Everyone })
                                    prop:value=if current == Target::Teachers { "teachers" } else { "everyone" }>
                                    <option value="everyone">"Everyone"</option>
                                    <option value="teachers">"Teachers only (private)"</option>
                                </select>
                            </label>
                        }.into_any(),
                    }}
                </div>
                <label class="visually-hidden" for="chat-input">"Message"</label>
                <textarea id="chat-input" rows="2" placeholder=move || if muted.get() { "A teacher has muted your chat." } else { "Write a message… (Enter sends, Shift+Enter for a new line)" }
                    prop:disabled=move || muted.get() maxlength="2000"
                    prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))
                    on:keydown=move |ev: web_sys::KeyboardEvent| {
                        if ev.key() == "Enter" && !ev.shift_key() {
                            ev.prevent_default();
                            send_on_enter();
                        }
                    }></textarea>
                <button type="submit" class="button" prop:disabled=move || muted.get()>"Send"</button>
            </form>
        </section>
    }
}

#[component]
fn ChatLine(message: ChatMessage, staff: Memo<bool>, my_id: Memo<Option<UserId>>) -> impl IntoView {
    let client = client();
    let target = expect_context::<RwSignal<Target>>();
    let reporting = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let id = message.id;
    let mine = my_id.get_untracked() == Some(message.from);
    let private = message.thread.map(|student| {
        if my_id.get_untracked() == Some(student) && !staff.get_untracked() {
            "Private · with the teachers".to_owned()
        } else {
            let name = client.model.with_untracked(|m| m.name_of(student));
            format!("Private · with {name}")
        }
    });
    let reply_to = message
        .thread
        .filter(|_| staff.get_untracked())
        .map(|student| (student, client.model.with_untracked(|m| m.name_of(student))));
    let body = segments(&message.body)
        .into_iter()
        .map(|segment| match segment {
            Segment::Text(t) => t.to_owned().into_any(),
            Segment::Link(href) => {
                view! { <a href=href.to_owned() rel="noopener noreferrer nofollow" target="_blank">{href.to_owned()}</a> }
                    .into_any()
            }
        })
        .collect_view();
    let (delete_client, report_client) = (client.clone(), client.clone());
    let is_private = private.is_some();
    view! {
        <li class="chat-message" class:private=is_private data-id=id.to_string()>
            <div class="chat-meta">
                <span class="chat-from">{message.from_name.clone()}</span>
                <time class="chat-time">{clock(message.at)}</time>
                {private.map(|p| view! { <span class="chip-private">{p}</span> })}
            </div>
            <p class="chat-body">{body}</p>
            <div class="chat-actions">
                {reply_to.map(|(student, name)| view! {
                    <button type="button" class="link-button" on:click=move |_| target.set(Target::Student(student, name.clone()))>"Reply privately"</button>
                })}
                {(!mine).then(|| view! {
                    <button type="button" class="link-button" on:click=move |_| reporting.update(|r| *r = !*r)>"Report"</button>
                })}
                {staff.get_untracked().then(|| view! {
                    <button type="button" class="link-button danger" on:click=move |_| { delete_client.send(ClientMsg::DeleteChat { id }); }>"Delete"</button>
                })}
            </div>
            <Show when=move || reporting.get()>
                {
                    let report_client = report_client.clone();
                    view! {
                        <form class="inline-form" on:submit=move |ev| {
                            ev.prevent_default();
                            if report_client.send(ClientMsg::ReportChat { id, reason: reason.get_untracked() }) {
                                reporting.set(false);
                                report_client.model.update(|m| m.notice = Some("Thank you: the moderators will look at it.".into()));
                            }
                        }>
                            <label class="visually-hidden" for=format!("report-{id}")>"Why are you reporting this message?"</label>
                            <input id=format!("report-{id}") placeholder="What is wrong with it?" required maxlength="500"
                                prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/>
                            <button type="submit" class="button secondary">"Send report"</button>
                        </form>
                    }
                }
            </Show>
        </li>
    }
}

/// Messages people reported, for the staff: what was said, who reported it and why.
#[component]
fn Reports() -> impl IntoView {
    let client = client();
    let model = client.model;
    let reports = Memo::new(move |_| {
        model.with(|m| {
            m.reports
                .iter()
                .map(|r| {
                    let message = m.chat.iter().find(|c| c.id == r.message);
                    let said = message.map(|c| (c.from_name.clone(), c.body.chars().take(140).collect::<String>()));
                    (r.clone(), said)
                })
                .collect::<Vec<_>>()
        })
    });
    view! {
        <Show when=move || reports.with(|r| !r.is_empty())>
            <details class="reports" open>
                <summary>{move || format!("Reported messages ({})", reports.with(Vec::len))}</summary>
                <ul class="report-list" data-testid="reports">
                    {
                        let client = client.clone();
                        move || reports.get().into_iter().map(|(report, said)| {
                        let delete_client = client.clone();
                        let id = report.message;
                        view! {
                            <li class="report">
                                {match said {
                                    Some((from, body)) => view! { <p class="report-said"><strong>{from}</strong> ": " {body}</p> }.into_any(),
                                    None => view! { <p class="report-said muted">"(the message is no longer shown)"</p> }.into_any(),
                                }}
                                <p class="report-why muted">{format!("Reported by {}: {}", report.reporter, report.reason)}</p>
                                <button type="button" class="link-button danger" on:click=move |_| {
                                    delete_client.send(ClientMsg::DeleteChat { id });
                                    delete_client.model.update(|m| m.reports.retain(|r| r.message != id));
                                }>"Delete message"</button>
                                <button type="button" class="link-button" on:click=move |_| {
                                    model.update(|m| m.reports.retain(|r| r.message != id));
                                }>"Dismiss"</button>
                            </li>
                        }
                    }).collect_view()
                    }
                </ul>
            </details>
        </Show>
    }
}

/// `HH:MM` in the browser's time zone (messages only exist in the browser).
fn clock(at_ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let minutes = at_ms.div_euclid(60_000);
        format!("{:02}:{:02} UTC", minutes.div_euclid(60).rem_euclid(24), minutes.rem_euclid(60))
    }
}

#[component]
fn Polls() -> impl IntoView {
    let model = client().model;
    let staff = Memo::new(move |_| model.with(|m| m.is_staff()));
    // Newest first.
    let ids = Memo::new(move |_| model.with(|m| m.polls.iter().rev().map(|p| p.id).collect::<Vec<_>>()));
    view! {
        <section class="room-panel polls" aria-labelledby="polls-title">
            <h2 id="polls-title">"Polls"</h2>
            <Show when=move || staff.get()>
                <NewPoll/>
            </Show>
            <Show when=move || ids.with(Vec::is_empty)>
                <p class="muted">{move || if staff.get() { "No polls yet. Ask the class something." } else { "No polls yet." }}</p>
            </Show>
            <ul class="poll-list" data-testid="polls">
                <For each=move || ids.get() key=|id| *id let:id>
                    <PollCard id staff/>
                </For>
            </ul>
        </section>
    }
}

#[component]
fn NewPoll() -> impl IntoView {
    let client = client();
    let question = RwSignal::new(String::new());
    let kind = RwSignal::new(PollKind::Single);
    let anonymous = RwSignal::new(true);
    let options = RwSignal::new(String::new());
    let open = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let choices: Vec<String> = match kind.get_untracked() {
            PollKind::YesNo => Vec::new(),
            _ => options.get_untracked().lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        };
        let msg = ClientMsg::CreatePoll {
            question: question.get_untracked(),
            kind: kind.get_untracked(),
            anonymous: anonymous.get_untracked(),
            options: choices,
        };
        if client.send(msg) {
            question.set(String::new());
            options.set(String::new());
            open.set(false);
        }
    };
    view! {
        <Show when=move || !open.get() fallback=move || view! {
            <form class="stack poll-form" on:submit=submit.clone()>
                <div class="field">
                    <label for="poll-question">"Question"</label>
                    <input id="poll-question" required maxlength="300" prop:value=move || question.get()
                        on:input=move |ev| question.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="poll-kind">"Answers"</label>
                    <select id="poll-kind" on:change=move |ev| kind.set(PollKind::parse(&event_target_value(&ev)).unwrap_or(PollKind::Single))>
                        <option value="single" selected=move || kind.get() == PollKind::Single>"One choice"</option>
                        <option value="multiple" selected=move || kind.get() == PollKind::Multiple>"Several choices"</option>
                        <option value="yes_no" selected=move || kind.get() == PollKind::YesNo>"Yes or no"</option>
                    </select>
                </div>
                <Show when=move || kind.get() != PollKind::YesNo>
                    <div class="field">
                        <label for="poll-options">"Options, one per line"</label>
                        <textarea id="poll-options" rows="4" prop:value=move || options.get()
                            on:input=move |ev| options.set(event_target_value(&ev))></textarea>
                    </div>
                </Show>
                <label class="checkbox">
                    <input type="checkbox" prop:checked=move || anonymous.get() on:change=move |ev| anonymous.set(event_target_checked(&ev))/>
                    " Anonymous (nobody sees who chose what)"
                </label>
                <div class="dialog-actions">
                    <button type="button" class="button secondary" on:click=move |_| open.set(false)>"Cancel"</button>
                    <button type="submit" class="button">"Start poll"</button>
                </div>
            </form>
        }>
            <button type="button" class="button" on:click=move |_| open.set(true)>"New poll"</button>
        </Show>
    }
}

#[component]
fn PollCard(id: i64, staff: Memo<bool>) -> impl IntoView {
    let client = client();
    let model = client.model;
    let poll = Memo::new(move |_| model.with(|m| m.polls.iter().find(|p| p.id == id).cloned()));
    let chosen = RwSignal::new(Vec::<OptionId>::new());
    // Start from the vote the server holds (after a reload, too).
    Effect::new(move |_| {
        if let Some(p) = poll.get() {
            chosen.set(p.my_vote.clone());
        }
    });
    let vote_client = client.clone();
    let close_client = client.clone();
    view! {
        {move || poll.get().map(|p| {
            let vote_client = vote_client.clone();
            let close_client = close_client.clone();
            let multiple = p.kind == PollKind::Multiple;
            let can_vote = !p.closed && !staff.get_untracked();
            let voted = !p.my_vote.is_empty();
            let kind_label = match p.kind {
                PollKind::Single => "One choice",
                PollKind::Multiple => "Several choices",
                PollKind::YesNo => "Yes or no",
            };
            let options = p.options.clone();
            let labels: Vec<String> = p.options.iter().map(|o| o.label.clone()).collect();
            let my_vote_text = p
                .options
                .iter()
                .filter(|o| p.my_vote.contains(&o.id))
                .map(|o| o.label.clone())
                .collect::<Vec<_>>()
                .join(", ");
            view! {
                <li class="poll" class:closed=p.closed data-poll=id.to_string()>
                    <h3 class="poll-question">{p.question.clone()}</h3>
                    <p class="poll-meta muted">
                        {kind_label} " · " {if p.anonymous { "anonymous" } else { "named" }} " · "
                        <strong>{if p.closed { "closed" } else { "open" }}</strong>
                    </p>
                    {can_vote.then(|| view! {
                        <form class="poll-vote" on:submit=move |ev| {
                            ev.prevent_default();
                            vote_client.send(ClientMsg::Vote { poll: id, options: chosen.get_untracked() });
                        }>
                            <fieldset>
                                <legend class="visually-hidden">{p.question.clone()}</legend>
                                {options.into_iter().map(|o| {
                                    let option = o.id;
                                    view! {
                                        <label class="poll-option">
                                            <input type=if multiple { "checkbox" } else { "radio" } name=format!("poll-{id}")
                                                prop:checked=move || chosen.with(|c| c.contains(&option))
                                                on:change=move |ev| {
                                                    let on = event_target_checked(&ev);
                                                    chosen.update(|c| {
                                                        if !multiple { c.clear(); }
                                                        c.retain(|x| *x != option);
                                                        if on { c.push(option); }
                                                    });
                                                }/>
                                            " " {o.label}
                                        </label>
                                    }
                                }).collect_view()}
                            </fieldset>
                            <button type="submit" class="button">{if voted { "Change vote" } else { "Vote" }}</button>
                        </form>
                    })}
                    {voted.then(|| view! { <p class="poll-your-vote">"Your vote: " {my_vote_text.clone()}</p> })}
                    {p.results.clone().map(|results| view! { <PollBars labels=labels.clone() results/> })}
                    {(staff.get_untracked() && !p.closed).then(|| view! {
                        <button type="button" class="button secondary" on:click=move |_| { close_client.send(ClientMsg::ClosePoll { poll: id }); }>
                            "Close poll and show results"
                        </button>
                    })}
                </li>
            }
        })}
    }
}

#[component]
fn PollBars(labels: Vec<String>, results: PollResults) -> impl IntoView {
    let voters = results.voters;
    let names = results.names.clone();
    view! {
        <div class="poll-results" data-testid="poll-results">
            <p class="muted">{format!("{voters} {}", if voters == 1 { "vote" } else { "votes" })}</p>
            <ul class="poll-bars">
                {labels.into_iter().enumerate().map(|(i, label)| {
                    let count = results.counts.get(i).copied().unwrap_or(0);
                    let share = (count * 100 + voters / 2).checked_div(voters).unwrap_or(0);
                    let who = names.as_ref().and_then(|n| n.get(i)).filter(|n| !n.is_empty()).map(|n| n.join(", "));
                    view! {
                        <li class="poll-bar">
                            <div class="poll-bar-label"><span>{label}</span><span class="poll-count">{format!("{count} ({share}%)")}</span></div>
                            <div class="poll-bar-track" aria-hidden="true"><div class="poll-bar-fill" style=format!("width: {share}%")></div></div>
                            {who.map(|w| view! { <p class="poll-names muted">{w}</p> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}
