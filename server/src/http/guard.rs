//! Middleware that guards every request: the client's address, cross-site request refusal,
//! security headers, and closing connections whose request bodies an answer left unread.

use super::HttpState;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use lectern_core::auth::ClientAddr;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Record the client's address for throttling: the socket peer, or the last hop of
/// `X-Forwarded-For` when the config says a proxy we control sets it.
pub async fn client_addr(State(state): State<HttpState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = state.app.config.server.trust_forwarded_for.then(|| forwarded_for(req.headers())).flatten();
    if let Some(ip) = forwarded.or(peer) {
        req.extensions_mut().insert(ClientAddr(ip));
    }
    next.run(req).await
}

/// The address our proxy saw: the rightmost entry, the only one the proxy itself wrote.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next()?.trim().parse().ok()
}

/// Refuse state-changing requests that a browser sent on behalf of another site (CSRF).
///
/// Browsers label every request with `Sec-Fetch-Site`; where it is missing (older browsers) the
/// `Origin` header must match the `Host` we were reached at or the configured public URL.
/// Requests with neither header do not come from a browser page and cannot carry a victim's
/// ambient cookies cross-site, so they pass.
pub async fn same_origin(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    match cross_origin_verdict(req.headers(), state.app.config.server.public_url.as_deref()) {
        Ok(()) => next.run(req).await,
        Err(why) => {
            tracing::warn!(method = %req.method(), path = %req.uri().path(), why, "refused a cross-site request");
            (StatusCode::FORBIDDEN, format!("Refused: {why}.")).into_response()
        }
    }
}

fn cross_origin_verdict(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), &'static str> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => Err("this request came from another site"),
        };
    }
    origin_matches(headers, public_url)
}

/// A WebSocket handshake must come from one of our own pages when it comes from a browser:
/// browsers always send `Origin` on WebSockets (and cookies go with them, cross-site too).
/// Programs that send no Origin carry no victim's cookies, so they pass.
pub fn websocket_origin(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), &'static str> {
    origin_matches(headers, public_url)
}

fn origin_matches(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), &'static str> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().map_err(|_| "malformed Origin header")?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    let matches_host = origin_host.is_some() && origin_host == host;
    let matches_public = public_url.is_some_and(|url| url.trim_end_matches('/').eq_ignore_ascii_case(origin));
    if matches_host || matches_public { Ok(()) } else { Err("the Origin does not match this site") }
}

/// Headers that make every response safer to render.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=(self), display-capture=(self), geolocation=()"),
    );
    res
}

/// An answer given before its request's body was read to the end closes the connection.
///
/// A refusal can come before the body is read: an upload over the size limit, a cross-site
/// POST. The connection then still holds the rest of the body, so the server closes it after
/// answering. Without `Connection: close` in that answer, a client that finished writing the
/// body puts the connection back in its pool, and its next request (the next upload, say)
/// goes out on a connection the server is closing and fails with a broken pipe. Answers to
/// bodies that were read keep the connection, refusals included (a failed form, say).
pub async fn close_after_unread_body(req: Request, next: Next) -> Response {
    if !request_has_body(req.headers()) {
        return next.run(req).await;
    }
    let read_to_end = Arc::new(AtomicBool::new(false));
    let watched = read_to_end.clone();
    let req = req.map(|body| Body::new(EndWatch { body, read_to_end: watched }));
    let mut res = next.run(req).await;
    if !read_to_end.load(Ordering::Relaxed) {
        res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// A request body that notes when it has been read to its end.
struct EndWatch {
    body: Body,
    read_to_end: Arc<AtomicBool>,
}

impl HttpBody for EndWatch {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || this.body.is_end_stream() {
            this.read_to_end.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Whether a request's headers announce a body: a non-zero length, or a chunked one.
fn request_has_body(headers: &HeaderMap) -> bool {
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn a_body_is_announced_by_a_length_or_chunking() {
        assert!(request_has_body(&headers(&[("content-length", "12")])));
        assert!(request_has_body(&headers(&[("transfer-encoding", "chunked")])));
        assert!(!request_has_body(&headers(&[("content-length", "0")])));
        assert!(!request_has_body(&headers(&[])));
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        assert!(cross_origin_verdict(&headers(&[("sec-fetch-site", "same-origin")]), None).is_ok());
        assert!(cross_origin_verdict(&headers(&[("sec-fetch-site", "none")]), None).is_ok());
        assert!(
            cross_origin_verdict(
                &headers(&[("sec-fetch-site", "cross-site"), ("origin", "http://a"), ("host", "a")]),
                None
            )
            .is_err()
        );
        assert!(cross_origin_verdict(&headers(&[("sec-fetch-site", "same-site")]), None).is_err());
    }

    #[test]
    fn origin_must_match_host_or_public_url() {
        assert!(
            cross_origin_verdict(&headers(&[("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")]), None)
                .is_ok()
        );
        assert!(
            cross_origin_verdict(&headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:3000")]), None)
                .is_err()
        );
        assert!(cross_origin_verdict(&headers(&[("origin", "null"), ("host", "127.0.0.1:3000")]), None).is_err());
        let public = Some("https://lectern.example.org/");
        assert!(
            cross_origin_verdict(
                &headers(&[("origin", "https://lectern.example.org"), ("host", "10.0.0.5:3000")]),
                public
            )
            .is_ok()
        );
        assert!(cross_origin_verdict(&headers(&[]), None).is_ok(), "no browser, no ambient credentials");
    }

    #[test]
    fn only_the_proxys_own_hop_is_trusted() {
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9")]);
        assert_eq!(forwarded_for(&h), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(forwarded_for(&headers(&[("x-forwarded-for", "garbage")])), None);
    }
}
