-- The whiteboard: every operation a class's board accepted, in order. The board is these
-- replayed (pages, drawings, erasures, the presenter's page, who may draw); nothing else about it
-- is stored, so the log is also its history after class.

CREATE TABLE board_ops (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    class_id   BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    -- Chosen by the sender: a resent operation is not applied twice.
    op_id      TEXT   NOT NULL,
    author_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The operation as applied (JSON, app::board::BoardOp).
    body       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (class_id, op_id)
);
CREATE INDEX board_ops_class ON board_ops (class_id, id);
