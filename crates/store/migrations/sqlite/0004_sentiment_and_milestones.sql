-- Customer sentiment and conversation milestones, for SQLite.
--
-- A scored customer message keeps its own score and the conversation's score after it (VADER
-- compounds in ten-thousandths, −10000 … 10000): the conversation's sentiment timeline is its
-- activities with a score. The conversation's current score is kept on its row, written by the
-- append that stores the message (never by a conversation update). `milestones` is JSON: when a
-- bot, an escalation, an agent, wrap-up and the close were reached, time spent waiting, the
-- number of transfers and the agents who owned it (domain::conversation::Milestones). For search,
-- `first_bot` and `agents` copy the first bot and every agent out of it (`agents` is each name
-- between U+001F separators, a character names cannot hold), and `activities.text` is a
-- message's text as written. For bot-session metering, `bot_at` copies when the first bot was
-- invoked: a conversation is one bot session, in the month of `bot_at`. Keep this
-- file's semantics in step with ../postgres/0004_sentiment_and_milestones.sql.

ALTER TABLE conversations ADD COLUMN sentiment INTEGER NOT NULL DEFAULT 0
    CHECK (sentiment BETWEEN -10000 AND 10000);
ALTER TABLE conversations ADD COLUMN milestones TEXT NOT NULL DEFAULT '{}';

ALTER TABLE activities ADD COLUMN sentiment INTEGER CHECK (sentiment BETWEEN -10000 AND 10000);
ALTER TABLE activities ADD COLUMN sentiment_pulse INTEGER CHECK (sentiment_pulse BETWEEN -10000 AND 10000);

ALTER TABLE conversations ADD COLUMN first_bot TEXT;
ALTER TABLE conversations ADD COLUMN bot_at INTEGER;
ALTER TABLE conversations ADD COLUMN agents TEXT NOT NULL DEFAULT '';
ALTER TABLE activities ADD COLUMN text TEXT;

CREATE INDEX conversations_by_created ON conversations (created_at, id);
CREATE INDEX conversations_by_bot_at ON conversations (bot_at);
