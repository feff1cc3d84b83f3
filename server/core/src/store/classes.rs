//! Classes, their series and occurrences (the scheduling calendar), and enrolments.
//!
//! Writes that must check before they insert (no overlapping classes for a teacher, no
//! enrolment past capacity) run in one transaction whose first statement is a no-op UPDATE of
//! the row they depend on: in PostgreSQL that locks the row, in SQLite it takes the write lock,
//! so concurrent requests queue instead of both passing the check.

use super::{Store, StoreError, on_pool};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ClassRecord {
    pub id: i64,
    pub teacher_id: i64,
    pub teacher_name: String,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub time_zone: String,
    pub capacity: Option<i64>,
    pub enrolment_policy: String,
    pub invite_token: Option<String>,
    pub cancelled_at: Option<i64>,
    pub sequence: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! class_select {
    () => {
        "SELECT c.id, c.teacher_id, t.display_name AS teacher_name, c.title, c.description, c.kind, c.time_zone, \
         c.capacity, c.enrolment_policy, c.invite_token, c.cancelled_at, c.sequence, c.created_at, c.updated_at \
         FROM classes c JOIN users t ON t.id = c.teacher_id "
    };
}

/// A validated class, ready to insert.
#[derive(Clone, Debug)]
pub struct NewClass {
    pub teacher_id: i64,
    pub title: String,
    pub description: String,
    pub kind: &'static str,
    pub time_zone: String,
    pub capacity: Option<i64>,
    pub enrolment_policy: &'static str,
    pub invite_token: String,
}

/// A series to store with its expanded occurrences.
#[derive(Clone, Debug)]
pub struct NewSeries {
    pub rrule: String,
    pub dtstart_local: String,
    pub duration_minutes: i64,
}

/// One occurrence to insert: UTC milliseconds; `original_start_at` for members of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub starts_at: i64,
    pub ends_at: i64,
    pub original_start_at: Option<i64>,
}

/// An existing occurrence that a new one would overlap.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Clash {
    pub occurrence_id: i64,
    pub class_id: i64,
    pub title: String,
    pub starts_at: i64,
    pub ends_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OccurrenceRecord {
    pub id: i64,
    pub class_id: i64,
    pub rule_id: Option<i64>,
    pub teacher_id: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    pub original_start_at: Option<i64>,
    pub cancelled_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RuleRecord {
    pub id: i64,
    pub class_id: i64,
    pub rrule: String,
    pub dtstart_local: String,
    pub duration_minutes: i64,
}

/// An occurrence as the calendar shows it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarRow {
    pub occurrence_id: i64,
    pub class_id: i64,
    pub rule_id: Option<i64>,
    pub title: String,
    pub kind: String,
    pub teacher_id: i64,
    pub teacher_name: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub cancelled: bool,
}

/// Whose calendar is being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalendarScope {
    /// Classes the user is enrolled in or teaches.
    Participant(i64),
    /// Everything (admins), optionally one teacher's.
    All { teacher_id: Option<i64> },
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RosterEntry {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub enrolled_at: i64,
    /// `student` or `co_teacher`.
    pub role: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enrolled {
    Now,
    Already,
    /// The class is at capacity.
    Full,
}

/// A class, its series (if any) and occurrences, written whole or not at all.
#[derive(Clone, Debug)]
pub struct ClassSchedule<'a> {
    pub class: &'a NewClass,
    pub series: Option<&'a NewSeries>,
    pub slots: &'a [Slot],
}

/// No occurrence lasts longer than this (config refuses a larger `classes.max_duration_minutes`).
/// It gives the calendar query a lower bound on `starts_at`, so an index range covers only the
/// view and not a class's whole history.
pub const MAX_OCCURRENCE_MS: i64 = 24 * 3_600_000;

/// Rows per multi-row INSERT: bounded so PostgreSQL's parameter limit is never reached.
const SLOTS_PER_INSERT: usize = 500;

// Steps shared by the transactions below, as macros so that each expands inside both arms of
// `on_pool!` with that arm's transaction type.

/// Take the teacher's row lock (PostgreSQL) or the write lock (SQLite) before checking clashes.
macro_rules! lock_teacher {
    ($tx:ident, $teacher_id:expr) => {
        sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
            .bind($teacher_id)
            .execute(&mut *$tx)
            .await?
    };
}

/// Count an edit of the class, for iCal SEQUENCE.
macro_rules! bump_sequence {
    ($tx:ident, $class_id:expr, $now:expr) => {
        sqlx::query("UPDATE classes SET sequence = sequence + 1, updated_at = $1 WHERE id = $2")
            .bind($now)
            .bind($class_id)
            .execute(&mut *$tx)
            .await?
    };
}

macro_rules! insert_rule {
    ($tx:ident, $class_id:expr, $series:expr, $now:expr) => {{
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO recurrence_rules (class_id, rrule, dtstart_local, duration_minutes, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind($class_id)
        .bind(&$series.rrule)
        .bind(&$series.dtstart_local)
        .bind($series.duration_minutes)
        .bind($now)
        .fetch_one(&mut *$tx)
        .await?;
        id
    }};
}

/// Insert occurrences in multi-row statements.
macro_rules! insert_slots {
    ($tx:ident, $class_id:expr, $teacher_id:expr, $rule_id:expr, $slots:expr) => {
        for chunk in $slots.chunks(SLOTS_PER_INSERT) {
            let sql = slots_insert_sql(chunk.len());
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind($class_id).bind($rule_id).bind($teacher_id);
            for slot in chunk {
                query = query.bind(slot.starts_at).bind(slot.ends_at).bind(slot.original_start_at);
            }
            query.execute(&mut *$tx).await.map_err(StoreError::from_query)?;
        }
    };
}

/// The teacher's live occurrences overlapping any of `slots`, except those in `ignore`.
macro_rules! clashes_in {
    ($tx:ident, $teacher_id:expr, $slots:expr, $ignore:expr) => {{
        let slots: &[Slot] = $slots;
        match (slots.iter().map(|s| s.starts_at).min(), slots.iter().map(|s| s.ends_at).max()) {
            (Some(min), Some(max)) => {
                let existing: Vec<Clash> = sqlx::query_as(
                    "SELECT o.id AS occurrence_id, o.class_id, c.title, o.starts_at, o.ends_at FROM occurrences o \
                     JOIN classes c ON c.id = o.class_id \
                     WHERE o.teacher_id = $1 AND o.cancelled_at IS NULL AND c.cancelled_at IS NULL \
                     AND o.starts_at < $3 AND o.ends_at > $2 ORDER BY o.starts_at",
                )
                .bind($teacher_id)
                .bind(min)
                .bind(max)
                .fetch_all(&mut *$tx)
                .await?;
                overlaps(&existing, slots, $ignore)
            }
            _ => Vec::new(),
        }
    }};
}

/// `INSERT ... VALUES` for `rows` occurrences: class, rule and teacher are $1..$3, then three
/// parameters a row.
fn slots_insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO occurrences (class_id, rule_id, teacher_id, starts_at, ends_at, original_start_at) VALUES ",
    );
    for i in 0..rows {
        let p = 4 + i * 3;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("($1, $2, $3, ${p}, ${}, ${})", p + 1, p + 2));
    }
    sql
}

impl Store {
    /// Insert a class with its schedule, unless one of its slots overlaps another class of the
    /// same teacher; then nothing is written and the clashes are returned.
    pub async fn create_class(
        &self,
        schedule: &ClassSchedule<'_>,
        now: i64,
    ) -> Result<Result<i64, Vec<Clash>>, StoreError> {
        let class = schedule.class;
        let result = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            lock_teacher!(tx, class.teacher_id);
            let clashes = clashes_in!(tx, class.teacher_id, schedule.slots, &[]);
            if !clashes.is_empty() {
                tx.rollback().await?;
                return Ok(Err(clashes));
            }
            let class_id: i64 = sqlx::query_scalar(
                "INSERT INTO classes (teacher_id, title, description, kind, time_zone, capacity, enrolment_policy, \
                 invite_token, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            )
            .bind(class.teacher_id)
            .bind(&class.title)
            .bind(&class.description)
            .bind(class.kind)
            .bind(&class.time_zone)
            .bind(class.capacity)
            .bind(class.enrolment_policy)
            .bind(&class.invite_token)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from_query)?;
            let rule_id = match schedule.series {
                Some(series) => Some(insert_rule!(tx, class_id, series, now)),
                None => None,
            };
            insert_slots!(tx, class_id, class.teacher_id, rule_id, schedule.slots);
            tx.commit().await?;
            Ok::<_, StoreError>(Ok(class_id))
        })?;
        Ok(result)
    }

    pub async fn class_by_id(&self, id: i64) -> Result<Option<ClassRecord>, StoreError> {
        let sql = concat!(class_select!(), "WHERE c.id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
    }

    pub async fn class_by_invite(&self, token: &str) -> Result<Option<ClassRecord>, StoreError> {
        let sql = concat!(class_select!(), "WHERE c.invite_token = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(token).fetch_optional(pool).await)?)
    }

    /// Change what a class is called and who may join; bumps its iCal sequence.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_class_details(
        &self,
        class_id: i64,
        title: &str,
        description: &str,
        capacity: Option<i64>,
        enrolment_policy: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE classes SET title = $1, description = $2, capacity = $3, enrolment_policy = $4, \
                   updated_at = $5, sequence = sequence + 1 WHERE id = $6";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(title).bind(description).bind(capacity).bind(enrolment_policy).bind(now).bind(class_id)
            .execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Cancel a whole class (its occurrences stay, shown as cancelled).
    pub async fn cancel_class(&self, class_id: i64, now: i64) -> Result<(), StoreError> {
        let sql = "UPDATE classes SET cancelled_at = $1, updated_at = $1, sequence = sequence + 1 \
                   WHERE id = $2 AND cancelled_at IS NULL";
        on_pool!(self, pool => sqlx::query(sql).bind(now).bind(class_id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    pub async fn occurrence_by_id(&self, id: i64) -> Result<Option<OccurrenceRecord>, StoreError> {
        let sql = "SELECT id, class_id, rule_id, teacher_id, starts_at, ends_at, original_start_at, cancelled_at \
                   FROM occurrences WHERE id = $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
    }

    /// A class's occurrences from `from` on (all when `from` is `i64::MIN`), in order.
    pub async fn class_occurrences(
        &self,
        class_id: i64,
        from: i64,
        limit: i64,
    ) -> Result<Vec<OccurrenceRecord>, StoreError> {
        let sql = "SELECT id, class_id, rule_id, teacher_id, starts_at, ends_at, original_start_at, cancelled_at \
                   FROM occurrences WHERE class_id = $1 AND ends_at > $2 ORDER BY starts_at LIMIT $3";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(class_id).bind(from).bind(limit).fetch_all(pool).await)?)
    }

    pub async fn class_rules(&self, class_id: i64) -> Result<Vec<RuleRecord>, StoreError> {
        let sql = "SELECT id, class_id, rrule, dtstart_local, duration_minutes FROM recurrence_rules WHERE class_id = $1 ORDER BY id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(class_id).fetch_all(pool).await)?)
    }

    /// Move one occurrence, unless the new time overlaps another class of the same teacher.
    pub async fn move_occurrence(
        &self,
        occurrence: &OccurrenceRecord,
        starts_at: i64,
        ends_at: i64,
        now: i64,
    ) -> Result<Result<(), Vec<Clash>>, StoreError> {
        let slot = [Slot { starts_at, ends_at, original_start_at: None }];
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            lock_teacher!(tx, occurrence.teacher_id);
            let clashes = clashes_in!(tx, occurrence.teacher_id, &slot, &[occurrence.id]);
            if !clashes.is_empty() {
                tx.rollback().await?;
                return Ok(Err(clashes));
            }
            sqlx::query("UPDATE occurrences SET starts_at = $1, ends_at = $2 WHERE id = $3")
                .bind(starts_at).bind(ends_at).bind(occurrence.id).execute(&mut *tx).await?;
            bump_sequence!(tx, occurrence.class_id, now);
            tx.commit().await?;
            Ok(Ok(()))
        })
    }

    pub async fn cancel_occurrence(&self, occurrence: &OccurrenceRecord, now: i64) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE occurrences SET cancelled_at = $1 WHERE id = $2 AND cancelled_at IS NULL")
                .bind(now).bind(occurrence.id).execute(&mut *tx).await?;
            bump_sequence!(tx, occurrence.class_id, now);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// "This and following": end `rule` before `from_original_start`, delete its occurrences from
    /// there on, and start a new series with `slots`, all in one transaction, unless the new slots
    /// clash with another class of the teacher.
    #[allow(clippy::too_many_arguments)] // one transaction's worth of facts, each a different kind
    pub async fn split_series(
        &self,
        class_id: i64,
        teacher_id: i64,
        rule: &RuleRecord,
        truncated_rrule: Option<&str>,
        from_original_start: i64,
        series: &NewSeries,
        slots: &[Slot],
        now: i64,
    ) -> Result<Result<(), Vec<Clash>>, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            lock_teacher!(tx, teacher_id);
            // The occurrences being replaced do not count as clashes with their replacements.
            let replaced: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM occurrences WHERE rule_id = $1 AND original_start_at >= $2",
            )
            .bind(rule.id).bind(from_original_start).fetch_all(&mut *tx).await?;
            let clashes = clashes_in!(tx, teacher_id, slots, &replaced);
            if !clashes.is_empty() {
                tx.rollback().await?;
                return Ok(Err(clashes));
            }
            sqlx::query("DELETE FROM occurrences WHERE rule_id = $1 AND original_start_at >= $2")
                .bind(rule.id).bind(from_original_start).execute(&mut *tx).await?;
            match truncated_rrule {
                Some(rrule) => {
                    sqlx::query("UPDATE recurrence_rules SET rrule = $1 WHERE id = $2")
                        .bind(rrule).bind(rule.id).execute(&mut *tx).await?;
                }
                None => {
                    sqlx::query("DELETE FROM recurrence_rules WHERE id = $1").bind(rule.id).execute(&mut *tx).await?;
                }
            }
            let rule_id = insert_rule!(tx, class_id, series, now);
            insert_slots!(tx, class_id, teacher_id, Some(rule_id), slots);
            bump_sequence!(tx, class_id, now);
            tx.commit().await?;
            Ok(Ok(()))
        })
    }

    /// The calendar: occurrences overlapping `[from, to)` in the given scope, in start order.
    pub async fn calendar(&self, scope: CalendarScope, from: i64, to: i64) -> Result<Vec<CalendarRow>, StoreError> {
        macro_rules! calendar_select {
            () => {
                "SELECT o.id AS occurrence_id, o.class_id, o.rule_id, c.title, c.kind, o.teacher_id, \
                 t.display_name AS teacher_name, o.starts_at, o.ends_at, \
                 (o.cancelled_at IS NOT NULL OR c.cancelled_at IS NOT NULL) AS cancelled \
                 FROM occurrences o JOIN classes c ON c.id = o.class_id JOIN users t ON t.id = o.teacher_id "
            };
        }
        let rows = match scope {
            CalendarScope::Participant(user_id) => {
                // Two index-driven halves (taught, enrolled) rather than one OR that defeats the
                // indexes; the enrolled half skips what the user teaches, so no de-duplication.
                let sql = concat!(
                    calendar_select!(),
                    "WHERE o.teacher_id = $1 AND o.starts_at < $3 AND o.starts_at > $4 AND o.ends_at > $2 ",
                    "UNION ALL ",
                    calendar_select!(),
                    "JOIN enrolments e ON e.class_id = o.class_id AND e.user_id = $1 ",
                    "WHERE o.teacher_id <> $1 AND o.starts_at < $3 AND o.starts_at > $4 AND o.ends_at > $2 ",
                    "ORDER BY starts_at, occurrence_id"
                );
                on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).bind(from).bind(to).bind(from - MAX_OCCURRENCE_MS).fetch_all(pool).await)?
            }
            CalendarScope::All { teacher_id } => {
                let sql = concat!(
                    calendar_select!(),
                    "WHERE o.starts_at < $2 AND o.starts_at > $4 AND o.ends_at > $1 AND ($3 = 0 OR o.teacher_id = $3) ",
                    "ORDER BY o.starts_at, o.id"
                );
                on_pool!(self, pool => sqlx::query_as(sql)
                    .bind(from)
                    .bind(to)
                    .bind(teacher_id.unwrap_or(0))
                    .bind(from - MAX_OCCURRENCE_MS)
                    .fetch_all(pool)
                    .await)?
            }
        };
        Ok(rows)
    }

    /// Enrol a student, atomically against the capacity.
    pub async fn enrol(&self, class_id: i64, user_id: i64, now: i64) -> Result<Enrolled, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // Locks the class row (PostgreSQL) or the database (SQLite) before counting.
            sqlx::query("UPDATE classes SET updated_at = updated_at WHERE id = $1").bind(class_id).execute(&mut *tx).await?;
            let already: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM enrolments WHERE class_id = $1 AND user_id = $2)")
                .bind(class_id).bind(user_id).fetch_one(&mut *tx).await?;
            if already {
                tx.rollback().await?;
                return Ok(Enrolled::Already);
            }
            let inserted = sqlx::query(
                "INSERT INTO enrolments (class_id, user_id, role, created_at) \
                 SELECT $1, $2, 'student', $3 FROM classes c WHERE c.id = $1 AND (c.capacity IS NULL OR \
                 (SELECT COUNT(*) FROM enrolments e WHERE e.class_id = $1 AND e.role = 'student') < c.capacity)",
            )
            .bind(class_id).bind(user_id).bind(now)
            .execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok::<_, StoreError>(if inserted == 1 { Enrolled::Now } else { Enrolled::Full })
        })
    }

    pub async fn unenrol(&self, class_id: i64, user_id: i64) -> Result<bool, StoreError> {
        let sql = "DELETE FROM enrolments WHERE class_id = $1 AND user_id = $2";
        let affected = on_pool!(self, pool => sqlx::query(sql).bind(class_id).bind(user_id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(affected > 0)
    }

    pub async fn is_enrolled(&self, class_id: i64, user_id: i64) -> Result<bool, StoreError> {
        let sql = "SELECT EXISTS (SELECT 1 FROM enrolments WHERE class_id = $1 AND user_id = $2)";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(class_id).bind(user_id).fetch_one(pool).await)?)
    }

    /// Enrol a user with `role` (`student` or `co_teacher`), or change the role of an enrolment.
    pub async fn set_enrolment_role(
        &self,
        class_id: i64,
        user_id: i64,
        role: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO enrolments (class_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (class_id, user_id) DO UPDATE SET role = excluded.role";
        on_pool!(self, pool => sqlx::query(sql).bind(class_id).bind(user_id).bind(role).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn enrolled_count(&self, class_id: i64) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM enrolments WHERE class_id = $1 AND role = 'student'";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(class_id).fetch_one(pool).await)?)
    }

    pub async fn roster(&self, class_id: i64) -> Result<Vec<RosterEntry>, StoreError> {
        let sql = "SELECT u.id AS user_id, u.username, u.display_name, u.email, e.created_at AS enrolled_at, e.role \
                   FROM enrolments e JOIN users u ON u.id = e.user_id WHERE e.class_id = $1 \
                   ORDER BY e.role, u.display_name, u.id"; // co_teacher sorts before student
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(class_id).fetch_all(pool).await)?)
    }

    /// Open classes with an occurrence still to come, soonest first, for students to browse.
    pub async fn open_classes(&self, now: i64, limit: i64) -> Result<Vec<ClassRecord>, StoreError> {
        let sql = concat!(
            class_select!(),
            "WHERE c.enrolment_policy = 'open' AND c.cancelled_at IS NULL ",
            "AND EXISTS (SELECT 1 FROM occurrences o WHERE o.class_id = c.id AND o.ends_at > $1 AND o.cancelled_at IS NULL) ",
            "ORDER BY (SELECT MIN(o.starts_at) FROM occurrences o WHERE o.class_id = c.id AND o.ends_at > $1 AND o.cancelled_at IS NULL) ",
            "LIMIT $2"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(now).bind(limit).fetch_all(pool).await)?)
    }

    /// Classes taught by a user, newest first.
    pub async fn classes_taught(&self, teacher_id: i64) -> Result<Vec<ClassRecord>, StoreError> {
        let sql = concat!(class_select!(), "WHERE c.teacher_id = $1 ORDER BY c.id DESC");
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(teacher_id).fetch_all(pool).await)?)
    }

    /// Every class a user takes part in (teaches or is enrolled in), for the calendar feed.
    pub async fn classes_of_participant(&self, user_id: i64) -> Result<Vec<ClassRecord>, StoreError> {
        let sql = concat!(
            class_select!(),
            "WHERE c.teacher_id = $1 OR EXISTS (SELECT 1 FROM enrolments e WHERE e.class_id = c.id AND e.user_id = $1) ",
            "ORDER BY c.id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_all(pool).await)?)
    }

    /// Everyone who may teach (teachers and admins), by name: the admin calendar's filter.
    pub async fn teachers(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = "SELECT id, display_name FROM users WHERE role IN ('teacher', 'admin') ORDER BY display_name, id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
    }

    /// Replace a user's calendar feed secret (revoking the old URL).
    pub async fn set_calendar_feed(&self, user_id: i64, token_hash: &str, now: i64) -> Result<(), StoreError> {
        let sql = "INSERT INTO calendar_feeds (user_id, token_hash, created_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at";
        on_pool!(self, pool => sqlx::query(sql).bind(user_id).bind(token_hash).bind(now).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    pub async fn revoke_calendar_feed(&self, user_id: i64) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM calendar_feeds WHERE user_id = $1").bind(user_id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    pub async fn calendar_feed_user(&self, token_hash: &str) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT user_id FROM calendar_feeds WHERE token_hash = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(token_hash).fetch_optional(pool).await)?)
    }

    pub async fn has_calendar_feed(&self, user_id: i64) -> Result<bool, StoreError> {
        let sql = "SELECT EXISTS (SELECT 1 FROM calendar_feeds WHERE user_id = $1)";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(user_id).fetch_one(pool).await)?)
    }
}

/// The existing occurrences that overlap any slot, each once.
fn overlaps(existing: &[Clash], slots: &[Slot], ignore: &[i64]) -> Vec<Clash> {
    let mut sorted: Vec<&Slot> = slots.iter().collect();
    sorted.sort_by_key(|s| s.starts_at);
    existing
        .iter()
        .filter(|e| !ignore.contains(&e.occurrence_id))
        .filter(|e| {
            // First slot that ends after e starts; it overlaps if it starts before e ends.
            let i = sorted.partition_point(|s| s.ends_at <= e.starts_at);
            sorted[i..].iter().take_while(|s| s.starts_at < e.ends_at).any(|s| s.ends_at > e.starts_at)
        })
        .cloned()
        .collect()
}
