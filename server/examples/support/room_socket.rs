//! A participant's room WebSocket, opened as a browser opens it: the session cookie, `hello`,
//! then the `welcome`.

use super::{Failure, fail};
use app::protocol::{ClientFrame, ClientMsg, PROTOCOL_VERSION};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use lectern_core::auth::SESSION_COOKIE;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type Sink = SplitSink<Ws, Message>;
pub type Stream = SplitStream<Ws>;

/// Open `/classes/{class_id}/live/ws` as the holder of session `token`, say hello and read up
/// to the welcome, which is returned.
pub async fn open(
    addr: &str,
    class_id: i64,
    token: &str,
    read_buffer: usize,
) -> Result<(Sink, Stream, String), Failure> {
    let mut request =
        format!("ws://{addr}/classes/{class_id}/live/ws").into_client_request().map_err(|e| fail("request", e))?;
    let cookie = format!("{SESSION_COOKIE}={token}").parse().map_err(|e| fail("cookie header", e))?;
    request.headers_mut().insert("cookie", cookie);
    // Browsers disable Nagle on their sockets; so do the tools. tungstenite zero-fills its
    // whole read buffer (128 KiB by default) before every read: at thousands of clients that
    // memset would make the tool, not the server, the bottleneck.
    let config = WebSocketConfig::default().read_buffer_size(read_buffer);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .map_err(|e| fail("WebSocket handshake", e))?;
    let (mut sink, mut stream) = ws.split();
    let hello = ClientFrame::new(ClientMsg::Hello { protocol: PROTOCOL_VERSION, resume_after: None }).encode();
    sink.send(Message::Text(hello.into())).await.map_err(|e| fail("send hello", e))?;
    // The welcome is the first message after hello; control frames may come first.
    for _ in 0..16 {
        match stream.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with(r#"{"type":"welcome""#) => {
                return Ok((sink, stream, text.to_string()));
            }
            Some(Ok(Message::Text(text))) => {
                return Err(format!("expected a welcome, got {}", text.chars().take(300).collect::<String>()));
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed before the welcome: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(fail("read the welcome", e)),
            None => return Err("the socket ended before the welcome".into()),
        }
    }
    Err("no welcome among the first frames".into())
}
