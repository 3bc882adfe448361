-- Conversations, their routing trace and their activity log, for PostgreSQL.
--
-- Same shape as ../sqlite/0001_conversations_and_activities.sql, with PostgreSQL's types: BIGINT
-- for counters and instants, SMALLINT 0/1 for flags, an identity column for routing records, and
-- ids compared byte-wise (COLLATE "C") so that ordering matches SQLite's. JSON stays TEXT rather
-- than JSONB because sqlx's Any driver decodes text, integers, floats and bytes only.

CREATE TABLE conversations (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant        TEXT     NOT NULL,
    workstream    TEXT     NOT NULL,
    customer      TEXT     NOT NULL,
    context       TEXT     NOT NULL,
    state         TEXT     NOT NULL CHECK (state IN ('open', 'active', 'waiting', 'wrap_up', 'closed')),
    queue         TEXT,
    owner_kind    TEXT     CHECK (owner_kind IN ('bot', 'agent')),
    owner_name    TEXT,
    outcome       TEXT     CHECK (outcome IN ('resolved_by_bot', 'resolved_by_agent', 'abandoned')),
    escalated_by  TEXT     NOT NULL,
    agent_engaged SMALLINT NOT NULL CHECK (agent_engaged IN (0, 1)),
    bot_engaged   SMALLINT NOT NULL CHECK (bot_engaged IN (0, 1)),
    created_at    BIGINT   NOT NULL,
    updated_at    BIGINT   NOT NULL,
    -- The seq of the conversation's latest activity (0: none yet); appends bump it.
    last_seq      BIGINT   NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    CHECK ((owner_kind IS NULL) = (owner_name IS NULL))
);

CREATE INDEX conversations_by_tenant ON conversations (tenant, created_at, id);
CREATE INDEX conversations_by_state ON conversations (state, created_at, id);

-- Every routing decision taken for a conversation, oldest first.
CREATE TABLE routing_records (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations (id),
    at              BIGINT NOT NULL,
    -- Copied out of `decision` so analytics can group by them without parsing JSON.
    queue           TEXT   NOT NULL,
    rule            TEXT,
    decision        TEXT   NOT NULL
);

CREATE INDEX routing_records_by_conversation ON routing_records (conversation_id, id);

-- The activity log: one row per activity, numbered 1, 2, 3, … per conversation.
CREATE TABLE activities (
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations (id),
    seq             BIGINT NOT NULL CHECK (seq >= 1),
    activity_id     TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    sender_role     TEXT   NOT NULL CHECK (sender_role IN ('customer', 'bot', 'agent', 'system')),
    sender_id       TEXT   NOT NULL,
    visibility      TEXT   NOT NULL CHECK (visibility IN ('everyone', 'agents_only')),
    ts              BIGINT NOT NULL,
    body            TEXT   NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, activity_id)
);
