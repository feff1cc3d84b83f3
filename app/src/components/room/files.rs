//! Files the teachers offer to the class: everyone downloads them; teachers upload, offer and
//! withdraw them. The server decides what a file is from its bytes and sends it as a download.

use super::client;
use crate::protocol::ClientMsg;
use leptos::prelude::*;

/// Sizes as people read them.
fn readable_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

#[component]
pub fn SharedFiles(class_id: i64) -> impl IntoView {
    let client = client();
    let model = client.model;
    let staff = Memo::new(move |_| model.with(|m| m.is_staff()));
    let files = Memo::new(move |_| model.with(|m| m.files.clone()));
    // What the last upload is doing, or why it failed.
    let status = RwSignal::new(None::<String>);

    let share_client = client.clone();
    let on_choose = move |e: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            let Some(file) = super::upload::take_file(&e) else { return };
            let client = share_client.clone();
            status.set(Some(format!("Uploading {}…", file.name())));
            leptos::task::spawn_local(async move {
                let path = format!("/classes/{class_id}/files");
                match super::upload::post_file(&path, &file).await {
                    Ok(reply) => match reply["file"]["id"].as_i64() {
                        Some(id) => {
                            client.send(ClientMsg::ShareFile { file: id });
                            status.set(None);
                        }
                        None => status.set(Some("The server's answer was not understood.".into())),
                    },
                    Err(why) => status.set(Some(why)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (e, &share_client, class_id);
    };

    view! {
        <section class="room-panel files" aria-labelledby="files-title">
            <h2 id="files-title">"Files"</h2>
            <Show when=move || staff.get()>
                <label class="button secondary file-pick">"Share a file"
                    <input type="file" class="visually-hidden" data-testid="share-file" on:change=on_choose.clone()/>
                </label>
                <p class="muted small">"PDFs, pictures, office documents and text files."</p>
            </Show>
            {move || status.get().map(|s| view! { <p class="board-note" role="status" data-testid="file-status">{s}</p> })}
            <Show when=move || files.with(Vec::is_empty)>
                <p class="muted">"No files shared yet."</p>
            </Show>
            <ul class="file-list" data-testid="files">
                <For each=move || files.get() key=|f| f.id let:file>
                    {
                        let id = file.id;
                        let unshare_client = client.clone();
                        view! {
                            <li>
                                <a href=file.url.clone() download=file.name.clone()>{file.name.clone()}</a>
                                <span class="muted small">" " {readable_size(file.size)}</span>
                                <Show when=move || staff.get()>
                                    {
                                        let unshare_client = unshare_client.clone();
                                        view! {
                                            <button type="button" class="link-button" on:click=move |_| {
                                                unshare_client.send(ClientMsg::UnshareFile { file: id });
                                            }>"Stop sharing"</button>
                                        }
                                    }
                                </Show>
                            </li>
                        }
                    }
                </For>
            </ul>
        </section>
    }
}
