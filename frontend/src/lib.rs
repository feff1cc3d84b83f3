//! The browser entry point: hydrate the page the server rendered.

// As in `app`: the release build's layout of the app's nested view types goes deeper than the
// default limit.
#![recursion_limit = "512"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
