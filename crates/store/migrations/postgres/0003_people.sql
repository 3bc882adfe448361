-- Sign-in credentials and sessions, for PostgreSQL.
--
-- Same shape as ../sqlite/0003_people.sql, with BIGINT for instants and names and hashes compared
-- byte-wise (COLLATE "C"), as in 0001.

CREATE TABLE credentials (
    user_name     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    password_hash TEXT   NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_name  TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Setting a new password deletes every session of its user.
CREATE INDEX sessions_by_user ON sessions (user_name);
