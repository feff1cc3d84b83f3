//! Await a JavaScript promise (the WebRTC and media-device APIs return them).

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// A promise as a future: `Ok` with its value, or `Err` with the reason it was rejected.
pub fn settled(promise: &Promise) -> JsFuture {
    JsFuture::from(promise.clone())
}

/// Await a `Result<Promise, JsValue>`, as the web-sys methods that may throw return.
pub async fn call(promise: Result<Promise, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(promise?).await
}
