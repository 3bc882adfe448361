-- What several hub nodes on one database share besides conversations and their logs
-- (crates/store/src/cluster.rs, docs/architecture.md "A cluster of nodes"). SQLite has no such
-- tables: a SQLite hub is always a single node and keeps this in memory.

-- Every queue member's live state: the inputs of the assignment policy. Rows are written only
-- under `SELECT … FOR UPDATE` in name order, so choosing a member and reserving its capacity is
-- one atomic step across nodes.
CREATE TABLE IF NOT EXISTS members (
    name             TEXT PRIMARY KEY,
    presence         TEXT NOT NULL DEFAULT 'offline',
    used             BIGINT NOT NULL DEFAULT 0 CHECK (used >= 0),
    last_assigned_at BIGINT,
    last_released_at BIGINT
);

-- The offer pending for a conversation (at most one). Whoever deletes the row (accept,
-- decline, timeout, withdrawal) owns what follows, so an offer is settled exactly once.
CREATE TABLE IF NOT EXISTS offers (
    conversation_id TEXT PRIMARY KEY,
    agent           TEXT NOT NULL,
    queue           TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    serial          BIGINT NOT NULL,
    units           BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS offers_by_agent ON offers (agent);
CREATE INDEX IF NOT EXISTS offers_by_expiry ON offers (expires_at);

-- How many times each agent declined (or let time out) each waiting conversation.
CREATE TABLE IF NOT EXISTS declines (
    conversation_id TEXT NOT NULL,
    agent           TEXT NOT NULL,
    count           BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, agent)
);
