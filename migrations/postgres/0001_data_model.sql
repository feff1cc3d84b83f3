-- Lectern's data model (PostgreSQL). Kept in step with migrations/sqlite/0001_data_model.sql:
-- same tables, columns and constraints; only the dialect differs.
--
-- Conventions: every time is a UTC instant in Unix milliseconds (BIGINT, suffix _at);
-- local wall-clock times (for recurrence) are ISO text with their IANA zone beside them.
-- Identifiers are BIGINT identity columns. Booleans are BOOLEAN.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,               -- lower case
    email         TEXT    NOT NULL UNIQUE,               -- lower case
    display_name  TEXT    NOT NULL,
    password_hash TEXT,                                  -- argon2id PHC string; NULL for SSO-only accounts
    role          TEXT    NOT NULL DEFAULT 'student' CHECK (role IN ('student', 'teacher', 'admin')),
    phone         TEXT,                                  -- E.164
    time_zone     TEXT    NOT NULL DEFAULT 'UTC',
    sso_subject   TEXT    UNIQUE,                        -- the main website's id for this user
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,                -- SHA-256 of the cookie value; the value itself is never stored
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,                       -- absolute expiry
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE classes (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    teacher_id       BIGINT NOT NULL REFERENCES users (id),
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    kind             TEXT    NOT NULL CHECK (kind IN ('live', 'recorded')),
    time_zone        TEXT    NOT NULL,
    capacity         BIGINT CHECK (capacity IS NULL OR capacity > 0),
    enrolment_policy TEXT    NOT NULL DEFAULT 'open' CHECK (enrolment_policy IN ('open', 'invite', 'closed')),
    invite_token     TEXT    UNIQUE,
    cancelled_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX classes_teacher ON classes (teacher_id);

-- A series: an RFC 5545 RRULE anchored at a local start time in the class's zone.
CREATE TABLE recurrence_rules (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    class_id         BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    rrule            TEXT    NOT NULL,
    dtstart_local    TEXT    NOT NULL,                   -- e.g. 2026-11-30T09:00:00
    duration_minutes BIGINT NOT NULL CHECK (duration_minutes > 0),
    created_at       BIGINT NOT NULL
);
CREATE INDEX recurrence_rules_class ON recurrence_rules (class_id);

-- The scheduling calendar: one row per occurrence. Occurrences of a series keep the start the
-- rule gave them (original_start_at), so one can be moved or cancelled alone.
CREATE TABLE occurrences (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    class_id          BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    rule_id           BIGINT REFERENCES recurrence_rules (id) ON DELETE SET NULL,
    teacher_id        BIGINT NOT NULL REFERENCES users (id),
    starts_at         BIGINT NOT NULL,
    ends_at           BIGINT NOT NULL,
    original_start_at BIGINT,
    cancelled_at      BIGINT,
    CHECK (ends_at > starts_at),
    UNIQUE (rule_id, original_start_at)
);
CREATE INDEX occurrences_class_start ON occurrences (class_id, starts_at);
CREATE INDEX occurrences_teacher_start ON occurrences (teacher_id, starts_at);
CREATE INDEX occurrences_start ON occurrences (starts_at);

CREATE TABLE enrolments (
    class_id   BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL DEFAULT 'student' CHECK (role IN ('student', 'co_teacher')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (class_id, user_id)
);
CREATE INDEX enrolments_user ON enrolments (user_id);

-- Uploaded media: stored under a generated name, never a path from the uploader.
CREATE TABLE media (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    class_id      BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    uploaded_by   BIGINT NOT NULL REFERENCES users (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('pdf', 'image', 'other')),
    original_name TEXT    NOT NULL,
    stored_name   TEXT    NOT NULL UNIQUE,
    content_type  TEXT    NOT NULL,
    size_bytes    BIGINT NOT NULL CHECK (size_bytes >= 0),
    shared        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);
CREATE INDEX media_class ON media (class_id);

CREATE TABLE slide_decks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    class_id    BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    media_id    BIGINT REFERENCES media (id) ON DELETE SET NULL,
    title       TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'rendering' CHECK (status IN ('rendering', 'ready', 'failed')),
    page_count  BIGINT NOT NULL DEFAULT 0,
    created_by  BIGINT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX slide_decks_class ON slide_decks (class_id);

CREATE TABLE slides (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deck_id     BIGINT NOT NULL REFERENCES slide_decks (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    title       TEXT    NOT NULL DEFAULT '',
    image_name  TEXT,                                    -- NULL for a blank page
    width       BIGINT,
    height      BIGINT,
    UNIQUE (deck_id, position)
);

CREATE TABLE recordings (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    class_id      BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    occurrence_id BIGINT REFERENCES occurrences (id) ON DELETE SET NULL,
    title         TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'recording' CHECK (status IN ('recording', 'processing', 'ready', 'failed')),
    file_name     TEXT,
    duration_ms   BIGINT,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT
);
CREATE INDEX recordings_class ON recordings (class_id);

-- The reminder outbox. dedupe_key makes "never send one twice" a constraint, not a hope.
CREATE TABLE notifications (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    occurrence_id BIGINT REFERENCES occurrences (id) ON DELETE CASCADE,
    channel       TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
    subject       TEXT    NOT NULL DEFAULT '',
    body          TEXT    NOT NULL,
    send_at       BIGINT NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    sent_at       BIGINT,
    dedupe_key    TEXT    NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL
);
CREATE INDEX notifications_due ON notifications (status, send_at);
CREATE INDEX notifications_user ON notifications (user_id);

CREATE TABLE polls (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    class_id      BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    occurrence_id BIGINT REFERENCES occurrences (id) ON DELETE SET NULL,
    created_by    BIGINT NOT NULL REFERENCES users (id),
    question      TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('single', 'multiple', 'yes_no')),
    anonymous     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    closed_at     BIGINT
);
CREATE INDEX polls_class ON polls (class_id);

CREATE TABLE poll_options (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    poll_id  BIGINT NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    label    TEXT    NOT NULL,
    UNIQUE (poll_id, position)
);

CREATE TABLE poll_votes (
    poll_id    BIGINT NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    option_id  BIGINT NOT NULL REFERENCES poll_options (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (poll_id, user_id, option_id)
);
CREATE INDEX poll_votes_option ON poll_votes (option_id);

CREATE TABLE chat_messages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    class_id     BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    sender_id    BIGINT NOT NULL REFERENCES users (id),
    recipient_id BIGINT REFERENCES users (id),          -- NULL for the public chat
    body         TEXT    NOT NULL,
    created_at   BIGINT NOT NULL,
    deleted_at   BIGINT,
    deleted_by   BIGINT REFERENCES users (id)
);
-- Resume after reconnect reads "messages of this class after id N".
CREATE INDEX chat_messages_class ON chat_messages (class_id, id);

-- Ratings of a live class or of a recording, one per user and subject.
CREATE TABLE feedback (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    class_id     BIGINT REFERENCES classes (id) ON DELETE CASCADE,
    recording_id BIGINT REFERENCES recordings (id) ON DELETE CASCADE,
    rating       BIGINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body         TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    CHECK ((class_id IS NULL) <> (recording_id IS NULL)),
    UNIQUE (user_id, class_id),
    UNIQUE (user_id, recording_id)
);
CREATE INDEX feedback_class ON feedback (class_id);
CREATE INDEX feedback_recording ON feedback (recording_id);

-- A block on the whole site (class_id NULL) or on one class; lifted_at ends it.
CREATE TABLE blocked_users (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    class_id   BIGINT REFERENCES classes (id) ON DELETE CASCADE,
    reason     TEXT    NOT NULL,
    blocked_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    lifted_at  BIGINT
);
CREATE INDEX blocked_users_user ON blocked_users (user_id);

-- One-time tokens with which the school's main website signs a user in.
CREATE TABLE sso_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    user_id    BIGINT REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX sso_tokens_expiry ON sso_tokens (expires_at);

CREATE TABLE audit_log (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id       BIGINT REFERENCES users (id) ON DELETE SET NULL,
    action         TEXT    NOT NULL,
    target_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    class_id       BIGINT REFERENCES classes (id) ON DELETE SET NULL,
    detail         TEXT    NOT NULL DEFAULT '{}',        -- JSON
    created_at     BIGINT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (created_at);
CREATE INDEX audit_log_target ON audit_log (target_user_id);
