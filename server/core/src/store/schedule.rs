//! Read side of the scheduling calendar used by the dashboard.

use super::{Store, StoreError, on_pool};

/// An occurrence a user takes part in, as the dashboard lists it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UpcomingOccurrence {
    pub occurrence_id: i64,
    pub class_id: i64,
    pub title: String,
    pub teacher_name: String,
    pub starts_at: i64,
    pub ends_at: i64,
}

impl Store {
    /// The next occurrences (not yet ended, not cancelled) of classes the user teaches or is
    /// enrolled in, soonest first.
    pub async fn upcoming_occurrences(
        &self,
        user_id: i64,
        now: i64,
        limit: i64,
    ) -> Result<Vec<UpcomingOccurrence>, StoreError> {
        let sql = "SELECT o.id AS occurrence_id, c.id AS class_id, c.title, t.display_name AS teacher_name, o.starts_at, o.ends_at \
                   FROM occurrences o \
                   JOIN classes c ON c.id = o.class_id \
                   JOIN users t ON t.id = o.teacher_id \
                   WHERE o.ends_at > $2 AND o.cancelled_at IS NULL AND c.cancelled_at IS NULL \
                     AND (o.teacher_id = $1 OR EXISTS (SELECT 1 FROM enrolments e WHERE e.class_id = c.id AND e.user_id = $1)) \
                   ORDER BY o.starts_at LIMIT $3";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).bind(now).bind(limit).fetch_all(pool).await)?)
    }
}
