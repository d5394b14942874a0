-- imi registry, SQLite backend, migration 0005: claims with leases (SPEC §7.1).
--
-- A claim is on a work item: a project's worktree name, on every host. One row per
-- item keeps its last tenure (held, released or expired), so the epoch (the fencing
-- token) only grows: + 1 each time the item changes hands. Times are SQLite's clock
-- in the stored six-digit form, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now') (the
-- database's clock, never the client's); 'now' is one value within a statement.
-- NOTE for later migrations: a rebuild of worktrees or projects must keep these
-- foreign keys in mind (dropping a parent table deletes its rows first).

CREATE TABLE claims (
    project_id    TEXT    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    worktree_name TEXT    NOT NULL CHECK (length(trim(worktree_name)) > 0),
    worktree_id   TEXT    REFERENCES worktrees (id) ON DELETE SET NULL,
    agent_id      TEXT    NOT NULL CHECK (length(trim(agent_id)) > 0),
    host          TEXT    NOT NULL CHECK (length(trim(host)) > 0),
    epoch         INTEGER NOT NULL DEFAULT 1 CHECK (epoch > 0),
    purpose       TEXT,
    ttl_seconds   INTEGER CHECK (ttl_seconds IS NULL OR ttl_seconds > 0),
    acquired_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    renewed_at    TEXT,
    expires_at    TEXT,
    released_at   TEXT,
    stolen_from   TEXT,
    PRIMARY KEY (project_id, worktree_name)
);

CREATE INDEX claims_agent_held ON claims (agent_id) WHERE released_at IS NULL;
CREATE INDEX claims_worktree ON claims (worktree_id);
