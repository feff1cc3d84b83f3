-- The live room: reports of chat messages for the moderators, and the lookups a join makes.

CREATE TABLE chat_reports (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES chat_messages (id) ON DELETE CASCADE,
    class_id    INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    reporter_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    resolved_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- One report per person per message: reporting twice changes nothing.
    UNIQUE (message_id, reporter_id)
);
CREATE INDEX chat_reports_open ON chat_reports (resolved_at, created_at);

-- Every join asks "is this user blocked from this class or everywhere?".
CREATE INDEX blocked_users_user_class ON blocked_users (user_id, class_id);
-- The room loads the polls of a class that are open or belong to the current session.
CREATE INDEX polls_class_occurrence ON polls (class_id, occurrence_id);
