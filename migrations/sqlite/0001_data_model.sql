-- Lectern's data model (SQLite). Kept in step with migrations/postgres/0001_data_model.sql:
-- same tables, columns and constraints; only the dialect differs.
--
-- Conventions: every time is a UTC instant in Unix milliseconds (INTEGER, suffix _at);
-- local wall-clock times (for recurrence) are ISO text with their IANA zone beside them.
-- Identifiers are INTEGER PRIMARY KEY (64-bit rowid). Booleans are 0/1 with a CHECK.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,               -- lower case
    email         TEXT    NOT NULL UNIQUE,               -- lower case
    display_name  TEXT    NOT NULL,
    password_hash TEXT,                                  -- argon2id PHC string; NULL for SSO-only accounts
    role          TEXT    NOT NULL DEFAULT 'student' CHECK (role IN ('student', 'teacher', 'admin')),
    phone         TEXT,                                  -- E.164
    time_zone     TEXT    NOT NULL DEFAULT 'UTC',
    sso_subject   TEXT    UNIQUE,                        -- the main website's id for this user
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,                -- SHA-256 of the cookie value; the value itself is never stored
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,                       -- absolute expiry
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE classes (
    id               INTEGER PRIMARY KEY,
    teacher_id       INTEGER NOT NULL REFERENCES users (id),
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    kind             TEXT    NOT NULL CHECK (kind IN ('live', 'recorded')),
    time_zone        TEXT    NOT NULL,
    capacity         INTEGER CHECK (capacity IS NULL OR capacity > 0),
    enrolment_policy TEXT    NOT NULL DEFAULT 'open' CHECK (enrolment_policy IN ('open', 'invite', 'closed')),
    invite_token     TEXT    UNIQUE,
    cancelled_at     INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX classes_teacher ON classes (teacher_id);

-- A series: an RFC 5545 RRULE anchored at a local start time in the class's zone.
CREATE TABLE recurrence_rules (
    id               INTEGER PRIMARY KEY,
    class_id         INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    rrule            TEXT    NOT NULL,
    dtstart_local    TEXT    NOT NULL,                   -- e.g. 2026-11-30T09:00:00
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
    created_at       INTEGER NOT NULL
);
CREATE INDEX recurrence_rules_class ON recurrence_rules (class_id);

-- The scheduling calendar: one row per occurrence. Occurrences of a series keep the start the
-- rule gave them (original_start_at), so one can be moved or cancelled alone.
CREATE TABLE occurrences (
    id                INTEGER PRIMARY KEY,
    class_id          INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    rule_id           INTEGER REFERENCES recurrence_rules (id) ON DELETE SET NULL,
    teacher_id        INTEGER NOT NULL REFERENCES users (id),
    starts_at         INTEGER NOT NULL,
    ends_at           INTEGER NOT NULL,
    original_start_at INTEGER,
    cancelled_at      INTEGER,
    CHECK (ends_at > starts_at),
    UNIQUE (rule_id, original_start_at)
);
CREATE INDEX occurrences_class_start ON occurrences (class_id, starts_at);
CREATE INDEX occurrences_teacher_start ON occurrences (teacher_id, starts_at);
CREATE INDEX occurrences_start ON occurrences (starts_at);

CREATE TABLE enrolments (
    class_id   INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL DEFAULT 'student' CHECK (role IN ('student', 'co_teacher')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (class_id, user_id)
);
CREATE INDEX enrolments_user ON enrolments (user_id);

-- Uploaded media: stored under a generated name, never a path from the uploader.
CREATE TABLE media (
    id            INTEGER PRIMARY KEY,
    class_id      INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    uploaded_by   INTEGER NOT NULL REFERENCES users (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('pdf', 'image', 'other')),
    original_name TEXT    NOT NULL,
    stored_name   TEXT    NOT NULL UNIQUE,
    content_type  TEXT    NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    shared        INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1)),
    created_at    INTEGER NOT NULL
);
CREATE INDEX media_class ON media (class_id);

CREATE TABLE slide_decks (
    id          INTEGER PRIMARY KEY,
    class_id    INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    media_id    INTEGER REFERENCES media (id) ON DELETE SET NULL,
    title       TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'rendering' CHECK (status IN ('rendering', 'ready', 'failed')),
    page_count  INTEGER NOT NULL DEFAULT 0,
    created_by  INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL
);
CREATE INDEX slide_decks_class ON slide_decks (class_id);

CREATE TABLE slides (
    id          INTEGER PRIMARY KEY,
    deck_id     INTEGER NOT NULL REFERENCES slide_decks (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    title       TEXT    NOT NULL DEFAULT '',
    image_name  TEXT,                                    -- NULL for a blank page
    width       INTEGER,
    height      INTEGER,
    UNIQUE (deck_id, position)
);

CREATE TABLE recordings (
    id            INTEGER PRIMARY KEY,
    class_id      INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    occurrence_id INTEGER REFERENCES occurrences (id) ON DELETE SET NULL,
    title         TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'recording' CHECK (status IN ('recording', 'processing', 'ready', 'failed')),
    file_name     TEXT,
    duration_ms   INTEGER,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER
);
CREATE INDEX recordings_class ON recordings (class_id);

-- The reminder outbox. dedupe_key makes "never send one twice" a constraint, not a hope.
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    occurrence_id INTEGER REFERENCES occurrences (id) ON DELETE CASCADE,
    channel       TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
    subject       TEXT    NOT NULL DEFAULT '',
    body          TEXT    NOT NULL,
    send_at       INTEGER NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    sent_at       INTEGER,
    dedupe_key    TEXT    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL
);
CREATE INDEX notifications_due ON notifications (status, send_at);
CREATE INDEX notifications_user ON notifications (user_id);

CREATE TABLE polls (
    id            INTEGER PRIMARY KEY,
    class_id      INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    occurrence_id INTEGER REFERENCES occurrences (id) ON DELETE SET NULL,
    created_by    INTEGER NOT NULL REFERENCES users (id),
    question      TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('single', 'multiple', 'yes_no')),
    anonymous     INTEGER NOT NULL DEFAULT 0 CHECK (anonymous IN (0, 1)),
    created_at    INTEGER NOT NULL,
    closed_at     INTEGER
);
CREATE INDEX polls_class ON polls (class_id);

CREATE TABLE poll_options (
    id       INTEGER PRIMARY KEY,
    poll_id  INTEGER NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    label    TEXT    NOT NULL,
    UNIQUE (poll_id, position)
);

CREATE TABLE poll_votes (
    poll_id    INTEGER NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    option_id  INTEGER NOT NULL REFERENCES poll_options (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (poll_id, user_id, option_id)
);
CREATE INDEX poll_votes_option ON poll_votes (option_id);

CREATE TABLE chat_messages (
    id           INTEGER PRIMARY KEY,
    class_id     INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    sender_id    INTEGER NOT NULL REFERENCES users (id),
    recipient_id INTEGER REFERENCES users (id),          -- NULL for the public chat
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER,
    deleted_by   INTEGER REFERENCES users (id)
);
-- Resume after reconnect reads "messages of this class after id N".
CREATE INDEX chat_messages_class ON chat_messages (class_id, id);

-- Ratings of a live class or of a recording, one per user and subject.
CREATE TABLE feedback (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    class_id     INTEGER REFERENCES classes (id) ON DELETE CASCADE,
    recording_id INTEGER REFERENCES recordings (id) ON DELETE CASCADE,
    rating       INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    CHECK ((class_id IS NULL) <> (recording_id IS NULL)),
    UNIQUE (user_id, class_id),
    UNIQUE (user_id, recording_id)
);
CREATE INDEX feedback_class ON feedback (class_id);
CREATE INDEX feedback_recording ON feedback (recording_id);

-- A block on the whole site (class_id NULL) or on one class; lifted_at ends it.
CREATE TABLE blocked_users (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    class_id   INTEGER REFERENCES classes (id) ON DELETE CASCADE,
    reason     TEXT    NOT NULL,
    blocked_by INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    lifted_at  INTEGER
);
CREATE INDEX blocked_users_user ON blocked_users (user_id);

-- One-time tokens with which the school's main website signs a user in.
CREATE TABLE sso_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX sso_tokens_expiry ON sso_tokens (expires_at);

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    actor_id       INTEGER REFERENCES users (id) ON DELETE SET NULL,
    action         TEXT    NOT NULL,
    target_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    class_id       INTEGER REFERENCES classes (id) ON DELETE SET NULL,
    detail         TEXT    NOT NULL DEFAULT '{}',        -- JSON
    created_at     INTEGER NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (created_at);
CREATE INDEX audit_log_target ON audit_log (target_user_id);
