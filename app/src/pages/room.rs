//! `/classes/:id/live`: a class's live room.

use crate::components::layout::{NotFound, WithUser};
use crate::components::room::LiveRoom;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn LiveRoomPage() -> impl IntoView {
    let params = use_params_map();
    let class_id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    view! {
        <Title text="Live room · Lectern"/>
        <WithUser render=move |_user| move || match class_id.get() {
            Some(class_id) => view! { <LiveRoom class_id/> }.into_any(),
            None => view! { <NotFound/> }.into_any(),
        }/>
    }
}
