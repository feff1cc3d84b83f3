-- The whiteboard: every operation a class's board accepted, in order. The board is these
-- replayed (pages, drawings, erasures, the presenter's page, who may draw); nothing else about it
-- is stored, so the log is also its history after class.
-- Kept in step with migrations/postgres/0004_whiteboard.sql.

CREATE TABLE board_ops (
    id         INTEGER PRIMARY KEY,
    class_id   INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    -- Chosen by the sender: a resent operation is not applied twice.
    op_id      TEXT    NOT NULL,
    author_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The operation as applied (JSON, app::board::BoardOp).
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (class_id, op_id)
);
CREATE INDEX board_ops_class ON board_ops (class_id, id);
