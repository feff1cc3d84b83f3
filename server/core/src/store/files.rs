//! Uploaded files and the slide decks rendered from PDFs. The files themselves live on disk
//! under generated names (`crate::uploads::FileStore`); these rows say whose they are.

use super::{Store, StoreError, on_pool};

/// One uploaded file.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MediaRecord {
    pub id: i64,
    pub class_id: i64,
    pub uploaded_by: i64,
    /// `pdf`, `image` or `other`.
    pub kind: String,
    /// The name the uploader's computer gave it: shown, and offered when downloading, never used
    /// as a path.
    pub original_name: String,
    pub stored_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Offered to the class as a download (slide PDFs are not, unless shared).
    pub shared: bool,
    pub created_at: i64,
}

/// What a new file row holds.
#[derive(Clone, Debug)]
pub struct NewMedia<'a> {
    pub class_id: i64,
    pub uploaded_by: i64,
    pub kind: &'a str,
    pub original_name: &'a str,
    pub stored_name: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub shared: bool,
}

/// A slide deck: a PDF being rendered, rendered, or refused.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DeckRecord {
    pub id: i64,
    pub class_id: i64,
    pub title: String,
    /// `rendering`, `ready` or `failed`.
    pub status: String,
    pub page_count: i64,
    pub pages_done: i64,
    /// Why it failed, in words for the teacher.
    pub error: Option<String>,
    pub created_at: i64,
}

/// One rendered page of a deck.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SlideRecord {
    pub position: i64,
    pub image_name: String,
    pub width: i64,
    pub height: i64,
}

const DECK_COLUMNS: &str = "id, class_id, title, status, page_count, pages_done, error, created_at";
const MEDIA_COLUMNS: &str =
    "id, class_id, uploaded_by, kind, original_name, stored_name, content_type, size_bytes, shared, created_at";

impl Store {
    pub async fn insert_media(&self, media: &NewMedia<'_>, now: i64) -> Result<i64, StoreError> {
        let sql = "INSERT INTO media (class_id, uploaded_by, kind, original_name, stored_name, content_type, \
                   size_bytes, shared, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(media.class_id)
            .bind(media.uploaded_by)
            .bind(media.kind)
            .bind(media.original_name)
            .bind(media.stored_name)
            .bind(media.content_type)
            .bind(media.size_bytes)
            .bind(media.shared)
            .bind(now)
            .fetch_one(pool)
            .await)?)
    }

    /// A class's file by id (`None` when it is another class's).
    pub async fn media_in_class(&self, class_id: i64, media_id: i64) -> Result<Option<MediaRecord>, StoreError> {
        let sql = format!("SELECT {MEDIA_COLUMNS} FROM media WHERE id = $1 AND class_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(media_id)
            .bind(class_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// The files offered to a class, oldest first.
    pub async fn shared_media(&self, class_id: i64) -> Result<Vec<MediaRecord>, StoreError> {
        let sql = format!("SELECT {MEDIA_COLUMNS} FROM media WHERE class_id = $1 AND shared = $2 ORDER BY id");
        Ok(on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(class_id)
            .bind(true)
            .fetch_all(pool)
            .await)?)
    }

    /// Offer a class's file to the class, or stop. False when the class has no such file.
    pub async fn set_media_shared(&self, class_id: i64, media_id: i64, shared: bool) -> Result<bool, StoreError> {
        let sql = "UPDATE media SET shared = $1 WHERE id = $2 AND class_id = $3";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(shared)
            .bind(media_id)
            .bind(class_id)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))?;
        Ok(done == 1)
    }

    /// A new deck, rendering, for an uploaded PDF.
    pub async fn insert_deck(
        &self,
        class_id: i64,
        media_id: i64,
        title: &str,
        created_by: i64,
        now: i64,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO slide_decks (class_id, media_id, title, status, created_by, created_at) \
                   VALUES ($1, $2, $3, 'rendering', $4, $5) RETURNING id";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(class_id)
            .bind(media_id)
            .bind(title)
            .bind(created_by)
            .bind(now)
            .fetch_one(pool)
            .await)?)
    }

    /// How far a deck's rendering has got.
    pub async fn deck_progress(&self, deck_id: i64, page_count: i64, pages_done: i64) -> Result<(), StoreError> {
        let sql = "UPDATE slide_decks SET page_count = $1, pages_done = $2 WHERE id = $3 AND status = 'rendering'";
        on_pool!(self, pool => sqlx::query(sql).bind(page_count).bind(pages_done).bind(deck_id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// A deck's rendered pages, all at once: it becomes ready with every slide or not at all.
    pub async fn finish_deck(&self, deck_id: i64, slides: &[SlideRecord]) -> Result<(), StoreError> {
        let count = i64::try_from(slides.len()).unwrap_or(i64::MAX);
        let insert = "INSERT INTO slides (deck_id, position, image_name, width, height) VALUES ($1, $2, $3, $4, $5)";
        let ready = "UPDATE slide_decks SET status = 'ready', page_count = $1, pages_done = $1 WHERE id = $2";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for slide in slides {
                sqlx::query(insert)
                    .bind(deck_id)
                    .bind(slide.position)
                    .bind(&slide.image_name)
                    .bind(slide.width)
                    .bind(slide.height)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(ready).bind(count).bind(deck_id).execute(&mut *tx).await?;
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn fail_deck(&self, deck_id: i64, reason: &str) -> Result<(), StoreError> {
        let sql = "UPDATE slide_decks SET status = 'failed', error = $1 WHERE id = $2 AND status = 'rendering'";
        on_pool!(self, pool => sqlx::query(sql).bind(reason).bind(deck_id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Decks left rendering by a server that stopped: nothing will finish them.
    pub async fn fail_unfinished_decks(&self, reason: &str) -> Result<u64, StoreError> {
        let sql = "UPDATE slide_decks SET status = 'failed', error = $1 WHERE status = 'rendering'";
        Ok(on_pool!(self, pool => sqlx::query(sql).bind(reason).execute(pool).await.map(|d| d.rows_affected()))?)
    }

    pub async fn deck_in_class(&self, class_id: i64, deck_id: i64) -> Result<Option<DeckRecord>, StoreError> {
        let sql = format!("SELECT {DECK_COLUMNS} FROM slide_decks WHERE id = $1 AND class_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(deck_id)
            .bind(class_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// A class's decks, newest first.
    pub async fn class_decks(&self, class_id: i64) -> Result<Vec<DeckRecord>, StoreError> {
        let sql = format!("SELECT {DECK_COLUMNS} FROM slide_decks WHERE class_id = $1 ORDER BY id DESC");
        Ok(on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(class_id)
            .fetch_all(pool)
            .await)?)
    }

    /// A deck's pages in order.
    pub async fn deck_slides(&self, deck_id: i64) -> Result<Vec<SlideRecord>, StoreError> {
        let sql = "SELECT position, image_name, width, height FROM slides WHERE deck_id = $1 AND image_name IS NOT NULL \
                   ORDER BY position";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(deck_id).fetch_all(pool).await)?)
    }

    /// Whether a rendered slide image belongs to a class (before serving it).
    pub async fn slide_image_in_class(&self, class_id: i64, image_name: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM slides s JOIN slide_decks d ON d.id = s.deck_id \
                   WHERE s.image_name = $1 AND d.class_id = $2";
        let count: i64 = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(image_name)
            .bind(class_id)
            .fetch_one(pool)
            .await)?;
        Ok(count > 0)
    }
}
