//! What the whiteboard keeps: the log of operations each class's board accepted. The store
//! holds them as JSON text and knows nothing of their meaning (that is `app::board`).

use super::{Store, StoreError, on_pool};

/// One accepted operation, in the order the board applied it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BoardOpRecord {
    pub author_id: i64,
    pub body: String,
}

impl Store {
    /// Append an operation to a class's board log. False when its id is already there (a
    /// resent operation): nothing is written.
    pub async fn append_board_op(
        &self,
        class_id: i64,
        op_id: &str,
        author_id: i64,
        body: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO board_ops (class_id, op_id, author_id, body, created_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (class_id, op_id) DO NOTHING";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(class_id)
            .bind(op_id)
            .bind(author_id)
            .bind(body)
            .bind(now)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))?;
        Ok(done == 1)
    }

    /// A class's board log, oldest first.
    pub async fn board_ops(&self, class_id: i64) -> Result<Vec<BoardOpRecord>, StoreError> {
        let sql = "SELECT author_id, body FROM board_ops WHERE class_id = $1 ORDER BY id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(class_id).fetch_all(pool).await)?)
    }
}
