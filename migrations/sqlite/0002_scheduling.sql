-- Scheduling: an edit counter per class (iCal SEQUENCE), and private calendar feeds.

ALTER TABLE classes ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;

-- One private feed URL per user; the URL's secret is stored only as its SHA-256.
CREATE TABLE calendar_feeds (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- The calendar reads "occurrences of classes a student is enrolled in, in a range".
CREATE INDEX occurrences_class_end ON occurrences (class_id, ends_at);
