-- What the built-in bots remember per conversation (a survey's stage, the demo bot's context,
-- the articles the knowledge bot suggested), when the hub is a cluster: each node serves the
-- built-in bots on its own listener, and a conversation's next turn may reach another node's
-- copy (crates/switchboard/src/builtin_bot.rs). JSON, one row per bot and conversation.
CREATE TABLE IF NOT EXISTS bot_state (
    bot             TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    state           TEXT NOT NULL,
    PRIMARY KEY (bot, conversation_id)
);
