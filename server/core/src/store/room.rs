//! What the live room keeps: chat messages and their reports, polls and votes, blocks, and the
//! audit log of moderation in the room.

use super::{Store, StoreError, on_pool};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ChatRecord {
    pub id: i64,
    pub sender_id: i64,
    pub sender_name: String,
    /// The student whose private thread with the teachers this belongs to; None for public chat.
    pub recipient_id: Option<i64>,
    pub body: String,
    pub created_at: i64,
}

/// A page of chat history, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatHistory {
    pub messages: Vec<ChatRecord>,
    /// False when more messages matched than the page holds (the oldest were left out).
    pub complete: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PollRecord {
    pub id: i64,
    pub question: String,
    pub kind: String,
    pub anonymous: bool,
    pub closed_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PollOptionRecord {
    pub id: i64,
    pub poll_id: i64,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct VoteRecord {
    pub poll_id: i64,
    pub option_id: i64,
    pub user_id: i64,
    pub voter_name: String,
}

/// A poll to create; `options` in the order shown.
#[derive(Clone, Debug)]
pub struct NewPoll<'a> {
    pub class_id: i64,
    pub occurrence_id: Option<i64>,
    pub created_by: i64,
    pub question: &'a str,
    pub kind: &'a str,
    pub anonymous: bool,
    pub options: &'a [String],
}

/// One moderation action for the audit log.
#[derive(Clone, Debug)]
pub struct Moderation<'a> {
    pub actor_id: i64,
    /// `mute_chat`, `unmute_chat`, `remove`, `block`, `delete_chat`, `lock_chat`, `unlock_chat`.
    pub action: &'a str,
    pub target_user_id: Option<i64>,
    pub class_id: i64,
    pub detail: serde_json::Value,
}

/// How a vote went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteOutcome {
    Recorded,
    PollClosed,
    NoSuchPoll,
}

macro_rules! chat_select {
    () => {
        "SELECT m.id, m.sender_id, u.display_name AS sender_name, m.recipient_id, m.body, m.created_at \
         FROM chat_messages m JOIN users u ON u.id = m.sender_id "
    };
}

macro_rules! insert_audit {
    ($tx:expr, $m:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO audit_log (actor_id, action, target_user_id, class_id, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind($m.actor_id)
        .bind($m.action)
        .bind($m.target_user_id)
        .bind($m.class_id)
        .bind($m.detail.to_string())
        .bind($now)
        .execute($tx)
        .await
    };
}

impl Store {
    /// The user's enrolment role in a class (`student` or `co_teacher`), if enrolled.
    pub async fn enrolment_role(&self, class_id: i64, user_id: i64) -> Result<Option<String>, StoreError> {
        let sql = "SELECT role FROM enrolments WHERE class_id = $1 AND user_id = $2";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(class_id).bind(user_id).fetch_optional(pool).await)?)
    }

    /// Why the user may not enter this class's room, if a block (for this class or for every
    /// class) is in force.
    pub async fn active_block(&self, class_id: i64, user_id: i64) -> Result<Option<String>, StoreError> {
        let sql = "SELECT reason FROM blocked_users WHERE user_id = $1 AND (class_id = $2 OR class_id IS NULL) \
                   AND lifted_at IS NULL ORDER BY id DESC LIMIT 1";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(user_id).bind(class_id).fetch_optional(pool).await)?)
    }

    /// Block a user from a class and log it, in one transaction.
    pub async fn block_user(&self, m: &Moderation<'_>, reason: &str, now: i64) -> Result<(), StoreError> {
        let user_id = m.target_user_id.ok_or_else(|| StoreError::Corrupt("a block needs a target".into()))?;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO blocked_users (user_id, class_id, reason, blocked_by, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(user_id)
            .bind(m.class_id)
            .bind(reason)
            .bind(m.actor_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, m, now)?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Write one moderation action to the audit log.
    pub async fn record_moderation(&self, m: &Moderation<'_>, now: i64) -> Result<(), StoreError> {
        on_pool!(self, pool => insert_audit!(pool, m, now).map(|_| ()))?;
        Ok(())
    }

    /// Store a chat message; returns its id.
    pub async fn insert_chat(
        &self,
        class_id: i64,
        sender_id: i64,
        recipient_id: Option<i64>,
        body: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO chat_messages (class_id, sender_id, recipient_id, body, created_at) \
                   VALUES ($1, $2, $3, $4, $5) RETURNING id";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(class_id)
            .bind(sender_id)
            .bind(recipient_id)
            .bind(body)
            .bind(now)
            .fetch_one(pool)
            .await)?)
    }

    /// A message of this class that has not been deleted.
    pub async fn chat_message(&self, class_id: i64, id: i64) -> Result<Option<ChatRecord>, StoreError> {
        let sql = concat!(chat_select!(), "WHERE m.class_id = $1 AND m.id = $2 AND m.deleted_at IS NULL");
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(class_id).bind(id).fetch_optional(pool).await)?)
    }

    /// The messages after `after` (all, when 0) that `viewer` may read, oldest first: the public
    /// chat, their own private thread, and (for staff) every private thread. At most `limit`:
    /// when more match, the newest are kept and `complete` is false.
    pub async fn chat_history(
        &self,
        class_id: i64,
        viewer: i64,
        staff: bool,
        after: i64,
        limit: u32,
    ) -> Result<ChatHistory, StoreError> {
        let sql = concat!(
            chat_select!(),
            "WHERE m.class_id = $1 AND m.id > $2 AND m.deleted_at IS NULL ",
            "AND (m.recipient_id IS NULL OR m.recipient_id = $3 OR $4) ORDER BY m.id DESC LIMIT $5"
        );
        let mut messages: Vec<ChatRecord> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(class_id)
            .bind(after)
            .bind(viewer)
            .bind(staff)
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await)?;
        let complete = messages.len() <= limit as usize;
        messages.truncate(limit as usize);
        messages.reverse();
        Ok(ChatHistory { messages, complete })
    }

    /// The ids of the latest `limit` deleted messages of a class, so a returning client can hide
    /// what was deleted while it was away.
    pub async fn recent_deleted_chat(
        &self,
        class_id: i64,
        viewer: i64,
        staff: bool,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        // Only messages the viewer could have seen: not even the ids of others' private threads.
        let sql = "SELECT id FROM chat_messages WHERE class_id = $1 AND deleted_at IS NOT NULL \
                   AND (recipient_id IS NULL OR recipient_id = $2 OR $3) ORDER BY id DESC LIMIT $4";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(class_id)
            .bind(viewer)
            .bind(staff)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?)
    }

    /// Delete a message (it stays stored, hidden) and log who did it. False if there was no such
    /// undeleted message in this class.
    pub async fn delete_chat(&self, m: &Moderation<'_>, message_id: i64, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE chat_messages SET deleted_at = $1, deleted_by = $2 \
                   WHERE id = $3 AND class_id = $4 AND deleted_at IS NULL";
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(sql).bind(now).bind(m.actor_id).bind(message_id).bind(m.class_id).execute(&mut *tx).await?;
            let deleted = done.rows_affected() == 1;
            if deleted {
                insert_audit!(&mut *tx, m, now)?;
            }
            tx.commit().await?;
            deleted
        }))
    }

    /// Record a report of a message. False if this person had already reported it.
    pub async fn report_chat(
        &self,
        class_id: i64,
        message_id: i64,
        reporter_id: i64,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO chat_reports (message_id, class_id, reporter_id, reason, created_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id, reporter_id) DO NOTHING";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(message_id)
            .bind(class_id)
            .bind(reporter_id)
            .bind(reason)
            .bind(now)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))?;
        Ok(done == 1)
    }

    /// Create a poll and its options in one transaction.
    pub async fn create_poll(
        &self,
        poll: &NewPoll<'_>,
        now: i64,
    ) -> Result<(PollRecord, Vec<PollOptionRecord>), StoreError> {
        let insert_poll = "INSERT INTO polls (class_id, occurrence_id, created_by, question, kind, anonymous, created_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, question, kind, anonymous, closed_at";
        let insert_option =
            "INSERT INTO poll_options (poll_id, position, label) VALUES ($1, $2, $3) RETURNING id, poll_id, label";
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let record: PollRecord = sqlx::query_as(insert_poll)
                .bind(poll.class_id)
                .bind(poll.occurrence_id)
                .bind(poll.created_by)
                .bind(poll.question)
                .bind(poll.kind)
                .bind(poll.anonymous)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let mut options = Vec::with_capacity(poll.options.len());
            for (position, label) in poll.options.iter().enumerate() {
                let option: PollOptionRecord = sqlx::query_as(insert_option)
                    .bind(record.id)
                    .bind(position as i64)
                    .bind(label)
                    .fetch_one(&mut *tx)
                    .await?;
                options.push(option);
            }
            tx.commit().await?;
            (record, options)
        }))
    }

    /// The polls a room shows: every open poll of the class, and the closed ones of `occurrence`.
    pub async fn room_polls(
        &self,
        class_id: i64,
        occurrence_id: Option<i64>,
    ) -> Result<(Vec<PollRecord>, Vec<PollOptionRecord>, Vec<VoteRecord>), StoreError> {
        let polls_sql = "SELECT id, question, kind, anonymous, closed_at FROM polls \
                         WHERE class_id = $1 AND (closed_at IS NULL OR occurrence_id = $2) ORDER BY id";
        let options_sql = "SELECT o.id, o.poll_id, o.label FROM poll_options o JOIN polls p ON p.id = o.poll_id \
                           WHERE p.class_id = $1 AND (p.closed_at IS NULL OR p.occurrence_id = $2) ORDER BY o.poll_id, o.position";
        let votes_sql = "SELECT v.poll_id, v.option_id, v.user_id, u.display_name AS voter_name FROM poll_votes v \
                         JOIN polls p ON p.id = v.poll_id JOIN users u ON u.id = v.user_id \
                         WHERE p.class_id = $1 AND (p.closed_at IS NULL OR p.occurrence_id = $2) ORDER BY v.poll_id";
        Ok(on_pool!(self, pool => {
            let polls = sqlx::query_as(polls_sql).bind(class_id).bind(occurrence_id).fetch_all(pool).await?;
            let options = sqlx::query_as(options_sql).bind(class_id).bind(occurrence_id).fetch_all(pool).await?;
            let votes = sqlx::query_as(votes_sql).bind(class_id).bind(occurrence_id).fetch_all(pool).await?;
            (polls, options, votes)
        }))
    }

    /// Replace a user's vote in an open poll, atomically. The caller has checked that the
    /// options belong to the poll.
    pub async fn cast_vote(
        &self,
        poll_id: i64,
        user_id: i64,
        option_ids: &[i64],
        now: i64,
    ) -> Result<VoteOutcome, StoreError> {
        // A no-op UPDATE first: it locks the poll row (PostgreSQL) or takes the write lock
        // (SQLite), so a vote and the poll's closing cannot interleave.
        let lock = "UPDATE polls SET closed_at = closed_at WHERE id = $1 RETURNING closed_at";
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let closed: Option<Option<i64>> = sqlx::query_scalar(lock).bind(poll_id).fetch_optional(&mut *tx).await?;
            match closed {
                None => VoteOutcome::NoSuchPoll,
                Some(Some(_)) => VoteOutcome::PollClosed,
                Some(None) => {
                    sqlx::query("DELETE FROM poll_votes WHERE poll_id = $1 AND user_id = $2")
                        .bind(poll_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    for option_id in option_ids {
                        sqlx::query("INSERT INTO poll_votes (poll_id, option_id, user_id, created_at) VALUES ($1, $2, $3, $4)")
                            .bind(poll_id)
                            .bind(option_id)
                            .bind(user_id)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    VoteOutcome::Recorded
                }
            }
        }))
    }

    /// Close a poll. False if it was already closed or does not exist.
    pub async fn close_poll(&self, poll_id: i64, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE polls SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(now).bind(poll_id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(done == 1)
    }
}
