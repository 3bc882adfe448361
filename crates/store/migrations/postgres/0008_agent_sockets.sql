-- How many workspace sockets each node holds open for each person (crates/store/src/cluster.rs),
-- so that a person whose last socket closed on one node but who reconnected to another is not
-- taken for gone when the reconnect grace runs out.
CREATE TABLE IF NOT EXISTS agent_sockets (
    node  TEXT NOT NULL,
    agent TEXT NOT NULL,
    open  BIGINT NOT NULL,
    PRIMARY KEY (node, agent)
);
