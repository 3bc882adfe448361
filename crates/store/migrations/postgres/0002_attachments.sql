-- Files bots upload to a conversation (Connector UploadAttachment), for PostgreSQL.
--
-- Same shape as ../sqlite/0002_attachments.sql, with BYTEA for the bytes, BIGINT for the instant
-- and ids compared byte-wise (COLLATE "C"), as in 0001.

CREATE TABLE attachments (
    -- A random UUID as 32 hex digits: the id is the capability to read the file.
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations (id),
    name            TEXT,
    content_type    TEXT   NOT NULL,
    original        BYTEA  NOT NULL,
    thumbnail       BYTEA,
    created_at      BIGINT NOT NULL
);

CREATE INDEX attachments_by_conversation ON attachments (conversation_id);
