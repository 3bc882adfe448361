-- Files bots upload to a conversation (Connector UploadAttachment), for SQLite.
--
-- The original and the optional thumbnail are kept as BLOBs in the row: uploads are capped (4 MiB
-- by the engine), so a row stays small enough to write through the group-commit writer like any
-- other write, and a backup of the database is a backup of the files. Keep this file's semantics
-- in step with ../postgres/0002_attachments.sql.

CREATE TABLE attachments (
    -- A random UUID as 32 hex digits: the id is the capability to read the file.
    id              TEXT    NOT NULL PRIMARY KEY,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id),
    name            TEXT,
    content_type    TEXT    NOT NULL,
    original        BLOB    NOT NULL,
    thumbnail       BLOB,
    created_at      INTEGER NOT NULL
);

CREATE INDEX attachments_by_conversation ON attachments (conversation_id);
