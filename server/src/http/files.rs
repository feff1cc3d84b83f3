//! Files of a class: PDFs uploaded to become slides, the rendered slide images, files shared
//! with the class as downloads, and the annotated board as one PDF.
//!
//! Uploads are hostile until proven otherwise: the body's size is capped by config, its type is
//! read from its bytes, it is stored under a generated name, PDFs are rendered in a separate
//! process ([`crate::slides`]), and downloads go out as attachments with the type we found
//! (`X-Content-Type-Options: nosniff` is on every response).

use super::{HttpState, session_token};
use crate::room::access::class_role;
use app::protocol::{DeckStatus, RoomRole, SharedFile, SlideDeck};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lectern_core::accounts;
use lectern_core::auth::Authenticated;
use lectern_core::store::StoreError;
use lectern_core::store::files::{DeckRecord, MediaRecord, NewMedia};
use lectern_core::uploads::{self, FileStore, FileType};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("Please sign in first.")]
    SignIn,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Refused(String),
    #[error("Something went wrong; please try again.")]
    Internal(String),
}

impl From<StoreError> for FileError {
    fn from(err: StoreError) -> Self {
        FileError::Internal(err.to_string())
    }
}

impl IntoResponse for FileError {
    fn into_response(self) -> Response {
        let status = match &self {
            FileError::SignIn => StatusCode::UNAUTHORIZED,
            FileError::NotFound => StatusCode::NOT_FOUND,
            FileError::Forbidden(_) => StatusCode::FORBIDDEN,
            FileError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            FileError::Internal(detail) => {
                tracing::error!(detail, "a file request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

/// Who is asking, about which class, as what.
struct Caller {
    me: Authenticated,
    class_id: i64,
    class_title: String,
    role: RoomRole,
}

impl Caller {
    fn staff(&self) -> Result<(), FileError> {
        if self.role.is_staff() { Ok(()) } else { Err(FileError::Forbidden("Only the class's teachers can do that.")) }
    }
}

/// The signed-in caller and their role in class `id`. People outside the class (and blocked
/// students) are told it does not exist.
async fn caller(state: &HttpState, headers: &HeaderMap, id: &str) -> Result<Caller, FileError> {
    let app = &state.app;
    let token = session_token(headers).ok_or(FileError::SignIn)?;
    let me = accounts::authenticate(app, &token, lectern_core::now_ms())
        .await
        .map_err(|e| FileError::Internal(e.to_string()))?
        .ok_or(FileError::SignIn)?;
    let class_id: i64 = id.parse().map_err(|_| FileError::NotFound)?;
    let class = app.store.class_by_id(class_id).await?.ok_or(FileError::NotFound)?;
    let role = class_role(&app.store, &me, &class).await?.ok_or(FileError::NotFound)?;
    if !role.is_staff() && app.store.active_block(class_id, me.user.id).await?.is_some() {
        return Err(FileError::NotFound);
    }
    Ok(Caller { me, class_id, class_title: class.title, role })
}

#[derive(Debug, Deserialize)]
pub struct UploadName {
    #[serde(default)]
    name: String,
}

/// An upload that passed its checks and is on disk under its generated name.
struct Kept {
    kind: FileType,
    /// The name to show.
    name: String,
    stored: String,
    size: i64,
}

impl Kept {
    /// The file's row, for `caller`'s class.
    fn row<'a>(&'a self, caller: &Caller, shared: bool) -> NewMedia<'a> {
        NewMedia {
            class_id: caller.class_id,
            uploaded_by: caller.me.user.id,
            kind: self.kind.kind(),
            original_name: &self.name,
            stored_name: &self.stored,
            content_type: self.kind.content_type(),
            size_bytes: self.size,
            shared,
        }
    }

    /// The file stays only if its row was written: a failed write leaves no file behind.
    fn unless_unrecorded<T>(&self, files: &FileStore, recorded: Result<T, StoreError>) -> Result<T, FileError> {
        recorded.map_err(|err| {
            files.remove(&self.stored);
            err.into()
        })
    }
}

/// A staff member's upload to class `id`: the caller, checked, and the file kept on disk.
async fn staff_upload(
    state: &HttpState,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
    given_name: &str,
    only: Option<FileType>,
) -> Result<(Caller, FileStore, Kept), FileError> {
    let caller = caller(state, headers, id).await?;
    caller.staff()?;
    let files = FileStore::new(&state.app.config.uploads.dir);
    let kept = keep_upload(&files, body, given_name, only)?;
    Ok((caller, files, kept))
}

/// Check an upload's bytes (of type `only`, when given) and keep them.
fn keep_upload(files: &FileStore, body: &[u8], given_name: &str, only: Option<FileType>) -> Result<Kept, FileError> {
    let found = uploads::sniff(body);
    if only.is_some() && found != only {
        return Err(FileError::Refused("Slides are made from PDF files; this file is not a PDF.".into()));
    }
    let kind = found.ok_or_else(|| {
        FileError::Refused(
            "This kind of file cannot be shared. PDFs, images (PNG, JPEG, GIF, WebP), office documents and \
             plain text can."
                .into(),
        )
    })?;
    let name = uploads::display_name(given_name, kind);
    let stored = files.save(body, kind.extension()).map_err(|e| FileError::Internal(e.to_string()))?;
    Ok(Kept { kind, name, stored, size: i64::try_from(body.len()).unwrap_or(i64::MAX) })
}

fn deck_view(deck: &DeckRecord) -> SlideDeck {
    let status = match deck.status.as_str() {
        "ready" => DeckStatus::Ready,
        "failed" => DeckStatus::Failed,
        _ => DeckStatus::Rendering,
    };
    SlideDeck {
        id: deck.id,
        title: deck.title.clone(),
        status,
        pages: deck.page_count,
        done: deck.pages_done,
        error: deck.error.clone(),
    }
}

pub fn shared_file(media: &MediaRecord) -> SharedFile {
    SharedFile {
        id: media.id,
        name: media.original_name.clone(),
        size: media.size_bytes,
        kind: media.kind.clone(),
        url: file_url(media.class_id, media.id),
    }
}

/// Where a class's file downloads from (`GET /classes/{id}/files/{file}`).
fn file_url(class_id: i64, file_id: i64) -> String {
    format!("/classes/{class_id}/files/{file_id}")
}

/// `POST /classes/{id}/slides?name=<file name>` with the PDF as the body (staff): keep it, start
/// rendering, and answer 202 with the deck, whose progress `GET .../slides/{deck}` reports.
pub async fn upload_slides(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(query): Query<UploadName>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FileError> {
    let (caller, files, kept) = staff_upload(&state, &headers, &id, &body, &query.name, Some(FileType::Pdf)).await?;
    let now = lectern_core::now_ms();
    let store = &state.app.store;
    let title = uploads::deck_title(&kept.name);
    let recorded = async {
        let media_id = store.insert_media(&kept.row(&caller, false), now).await?;
        store.insert_deck(caller.class_id, media_id, &title, caller.me.user.id, now).await
    };
    let deck_id = kept.unless_unrecorded(&files, recorded.await)?;
    let pdf = files.path(&kept.stored).ok_or_else(|| FileError::Internal("generated a bad name".into()))?;
    state.slides.start(store.clone(), deck_id, pdf);
    let deck = SlideDeck { id: deck_id, title, status: DeckStatus::Rendering, pages: 0, done: 0, error: None };
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "deck": deck }))).into_response())
}

/// `GET /classes/{id}/slides` (staff): the class's decks, newest first.
pub async fn list_decks(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<SlideDeck>>, FileError> {
    let caller = caller(&state, &headers, &id).await?;
    caller.staff()?;
    let decks = state.app.store.class_decks(caller.class_id).await?;
    Ok(Json(decks.iter().map(deck_view).collect()))
}

/// `GET /classes/{id}/slides/{deck}` (staff): one deck's progress.
pub async fn deck_status(
    State(state): State<HttpState>,
    Path((id, deck)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<SlideDeck>, FileError> {
    let caller = caller(&state, &headers, &id).await?;
    caller.staff()?;
    let deck_id: i64 = deck.parse().map_err(|_| FileError::NotFound)?;
    let deck = state.app.store.deck_in_class(caller.class_id, deck_id).await?.ok_or(FileError::NotFound)?;
    Ok(Json(deck_view(&deck)))
}

/// `GET /classes/{id}/slide-images/{name}` (anyone in the class): a rendered slide. These are
/// our own PNGs, so they are shown inline; their names are random, so they never change.
pub async fn slide_image(
    State(state): State<HttpState>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, FileError> {
    let caller = caller(&state, &headers, &id).await?;
    let files = FileStore::new(&state.app.config.uploads.dir);
    let path = files.path(&name).filter(|_| name.ends_with(".png")).ok_or(FileError::NotFound)?;
    if !state.app.store.slide_image_in_class(caller.class_id, &name).await? {
        return Err(FileError::NotFound);
    }
    let bytes = tokio::fs::read(&path).await.map_err(|_| FileError::NotFound)?;
    let mut res = Body::from(bytes).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    Ok(res)
}

/// `POST /classes/{id}/files?name=<file name>` with the file as the body (staff): keep it as a
/// file of the class. The browser then offers it to the room (`share_file`).
pub async fn upload_file(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(query): Query<UploadName>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FileError> {
    let (caller, files, kept) = staff_upload(&state, &headers, &id, &body, &query.name, None).await?;
    let recorded = state.app.store.insert_media(&kept.row(&caller, true), lectern_core::now_ms()).await;
    let id = kept.unless_unrecorded(&files, recorded)?;
    let file = SharedFile {
        id,
        name: kept.name,
        size: kept.size,
        kind: kept.kind.kind().to_owned(),
        url: file_url(caller.class_id, id),
    };
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "file": file }))).into_response())
}

/// `GET /classes/{id}/files/{file}` (anyone in the class; staff also for files not offered): the
/// file, as an attachment with the type its bytes showed.
pub async fn download_file(
    State(state): State<HttpState>,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, FileError> {
    let caller = caller(&state, &headers, &id).await?;
    let file_id: i64 = file.parse().map_err(|_| FileError::NotFound)?;
    let media = state.app.store.media_in_class(caller.class_id, file_id).await?.ok_or(FileError::NotFound)?;
    if !media.shared && !caller.role.is_staff() {
        return Err(FileError::NotFound);
    }
    let files = FileStore::new(&state.app.config.uploads.dir);
    let path = files.path(&media.stored_name).ok_or(FileError::NotFound)?;
    let bytes = tokio::fs::read(&path).await.map_err(|_| FileError::NotFound)?;
    Ok(attachment(bytes, &media.content_type, &media.original_name))
}

/// `GET /classes/{id}/board.pdf` (anyone in the class): the board as it stands, every page with
/// its slide and drawings, as one PDF.
pub async fn board_pdf(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, FileError> {
    let caller = caller(&state, &headers, &id).await?;
    let board = crate::room::board::RoomBoard::replay(&state.app.store, caller.class_id).await?;
    let pdf = state.slides.export(caller.class_id, board).await.map_err(|e| FileError::Internal(e.to_string()))?;
    let name = uploads::display_name(&format!("{} - whiteboard.pdf", caller.class_title), FileType::Pdf);
    Ok(attachment(pdf, "application/pdf", &name))
}

/// A download: `Content-Disposition: attachment` with the name in plain ASCII and in full
/// (RFC 6266), so the browser saves it rather than showing it.
pub fn attachment(bytes: Vec<u8>, content_type: &str, name: &str) -> Response {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut res = Body::from(bytes).into_response();
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res
}
