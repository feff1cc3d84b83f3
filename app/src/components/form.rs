//! Form pieces: a labelled field that shows its own error message beside it.

use crate::api::ApiError;
use lectern_model::Field;
use leptos::prelude::*;

/// The error of the last submission of a form, if it failed.
pub fn last_error<T, S>(value: S) -> Signal<Option<ApiError>>
where
    T: 'static,
    S: Get<Value = Option<Result<T, ApiError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(Result::err))
}

/// A labelled input with its error message (from the server's validation) beside it.
#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    field: Field,
    error: Signal<Option<ApiError>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional, into)] value: String,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] node_ref: NodeRef<leptos::html::Input>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let message = move || error.get().and_then(|e| e.for_field(field));
    let described_by = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if !hint.is_empty() {
                ids.push(hint_id.clone());
            }
            if message().is_some() {
                ids.push(error_id.clone());
            }
            ids.join(" ")
        }
    };
    view! {
        <div class="field" class:invalid=move || message().is_some()>
            <label for=id.clone()>{label}</label>
            <input
                id=id.clone()
                name=name
                type=kind
                value=value
                autocomplete=(!autocomplete.is_empty()).then_some(autocomplete)
                aria-invalid=move || message().is_some().to_string()
                aria-describedby=described_by
                node_ref=node_ref
            />
            {(!hint.is_empty()).then(|| view! { <p class="hint" id=hint_id.clone()>{hint}</p> })}
            {move || message().map(|m| view! { <p class="field-error" id=error_id.clone() data-field=field.as_str()>{m}</p> })}
        </div>
    }
}

/// The message of an error that belongs to no single field, at the top of a form.
#[component]
pub fn FormError(error: Signal<Option<ApiError>>) -> impl IntoView {
    move || error.get().and_then(|e| e.general()).map(|m| view! { <p class="form-error" role="alert">{m}</p> })
}
