-- Sign-in credentials and sessions, for SQLite.
--
-- A person's password is kept only as an argon2 PHC string, and a session only as the SHA-256 of
-- its token (hex): a copy of the database lets nobody sign in. Sessions reference a user by name,
-- not by a foreign key to `credentials`, so a session does not depend on how its person signed
-- in. Instants are Unix milliseconds, as in 0001. Keep this file's semantics in step with
-- ../postgres/0003_people.sql.

CREATE TABLE credentials (
    user_name     TEXT    NOT NULL PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    user_name  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Setting a new password deletes every session of its user.
CREATE INDEX sessions_by_user ON sessions (user_name);
