use crate::components::form::{FormError, TextField, last_error};
use crate::session::use_session;
use lectern_model::Field;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = use_session().login;
    let error = last_error(login.value());
    view! {
        <Title text="Sign in · Lectern"/>
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=login attr:novalidate=true attr:class="stack">
                <FormError error/>
                <TextField label="Username or email" name="login" field=Field::Username error autocomplete="username"/>
                <TextField label="Password" name="password" field=Field::Password error kind="password" autocomplete="current-password"/>
                <button type="submit" class="button" disabled=move || login.pending().get()>"Sign in"</button>
            </ActionForm>
            <p class="aside">"New here? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}
