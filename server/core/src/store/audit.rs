//! The audit log of moderation and administration actions.

use super::{Store, StoreError, on_pool};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_user_id: Option<i64>,
    pub class_id: Option<i64>,
    /// JSON.
    pub detail: String,
    pub created_at: i64,
}

impl Store {
    /// The newest entries first.
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = "SELECT id, actor_id, action, target_user_id, class_id, detail, created_at FROM audit_log ORDER BY id DESC LIMIT $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(limit).fetch_all(pool).await)?)
    }
}
