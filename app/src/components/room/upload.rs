//! Sending a chosen file to the server and reading JSON back (browser only): slide PDFs and
//! shared files go over plain HTTP, not the room's socket.

use js_sys::Promise;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, Response};

/// What went wrong, in words for the person who chose the file.
fn failure(status: u16, body: &Value) -> String {
    if let Some(message) = body.get("error").and_then(Value::as_str) {
        return message.to_owned();
    }
    match status {
        413 => "This file is larger than the server accepts.".to_owned(),
        401 => "Please sign in again.".to_owned(),
        _ => "The server could not take this file; please try again.".to_owned(),
    }
}

async fn fetch_json(url: &str, init: &RequestInit) -> Result<Value, String> {
    let offline = |_| "Could not reach the server; check the connection and try again.".to_owned();
    let window = web_sys::window().ok_or("no window")?;
    let response: Response =
        JsFuture::from(window.fetch_with_str_and_init(url, init)).await.map_err(offline)?.unchecked_into();
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if response.ok() { Ok(body) } else { Err(failure(response.status(), &body)) }
}

/// `POST path?name=<the file's name>` with the file as the body.
pub async fn post_file(path: &str, file: &web_sys::File) -> Result<Value, String> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(file.as_ref());
    let url = format!("{path}?name={}", js_sys::encode_uri_component(&file.name()));
    fetch_json(&url, &init).await
}

pub async fn get_json(path: &str) -> Result<Value, String> {
    let init = RequestInit::new();
    init.set_method("GET");
    fetch_json(path, &init).await
}

/// The first file an `<input type=file>` holds, and clear it so the same file can be chosen
/// again.
pub fn take_file(event: &web_sys::Event) -> Option<web_sys::File> {
    let input: web_sys::HtmlInputElement = event.target()?.dyn_into().ok()?;
    let file = input.files()?.get(0);
    input.set_value("");
    file
}

/// Wait `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _: Result<JsValue, JsValue> = JsFuture::from(promise).await;
}
