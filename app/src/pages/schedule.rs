use crate::components::layout::WithUser;
use crate::components::scheduler::Scheduler;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SchedulePage() -> impl IntoView {
    view! {
        <Title text="Schedule · Lectern"/>
        <WithUser render=|user| view! { <Scheduler user/> }/>
    }
}
