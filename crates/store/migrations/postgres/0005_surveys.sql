-- Post-conversation surveys, for PostgreSQL.
--
-- `survey` is JSON (domain::conversation::Survey: the survey bot, when it began and ended, how
-- it ended, every answer by name) or NULL when the conversation had none. `csat` copies the
-- customer's satisfaction score (1–5) out of it, so analytics can average it in SQL. Keep this
-- file's semantics in step with ../sqlite/0005_surveys.sql.

ALTER TABLE conversations ADD COLUMN survey TEXT;
ALTER TABLE conversations ADD COLUMN csat BIGINT CHECK (csat BETWEEN 1 AND 5);
