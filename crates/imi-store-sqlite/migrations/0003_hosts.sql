-- imi registry, SQLite backend, version 4: several hosts on one registry (SPEC §3.1).
--
-- A worktree row is one checkout on one host: at most one active worktree per
-- (project_id, host, name) and per (host, path). The table-level UNIQUE (project_id,
-- name) of version 1 cannot be dropped in place in SQLite, so the table is rebuilt
-- (SQLite's documented procedure: new table, copy, drop, rename), with every index and
-- trigger of versions 1-2 on it created again. Dropping the old table runs an implicit
-- DELETE whose ON DELETE SET NULL would unlink the activities: their worktree ids are
-- kept aside and put back.
-- NOTE for later migrations: a trigger or index created on worktrees by a migration
-- before this one must be created again here.

CREATE TEMP TABLE imi_activity_links AS
    SELECT id, worktree_id FROM agent_activities WHERE worktree_id IS NOT NULL;

CREATE TABLE worktrees_v4 (
    id                      TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    project_id              TEXT    NOT NULL REFERENCES projects (id) ON DELETE RESTRICT,
    type_id                 INTEGER NOT NULL REFERENCES worktree_types (id) ON DELETE RESTRICT,
    name                    TEXT    NOT NULL CHECK (length(trim(name)) > 0),
    branch_name             TEXT    NOT NULL CHECK (length(trim(branch_name)) > 0),
    path                    TEXT    NOT NULL CHECK (length(trim(path)) > 0),
    host                    TEXT    NOT NULL CHECK (length(trim(host)) > 0),
    agent_id                TEXT    CHECK (agent_id IS NULL OR length(trim(agent_id)) > 0),
    has_uncommitted_changes INTEGER NOT NULL DEFAULT 0 CHECK (has_uncommitted_changes IN (0, 1)),
    uncommitted_files_count INTEGER NOT NULL DEFAULT 0 CHECK (uncommitted_files_count >= 0),
    ahead_of_trunk          INTEGER NOT NULL DEFAULT 0 CHECK (ahead_of_trunk >= 0),
    behind_trunk            INTEGER NOT NULL DEFAULT 0 CHECK (behind_trunk >= 0),
    last_commit_hash        TEXT,
    last_commit_message     TEXT,
    last_sync_at            TEXT,
    merged_at               TEXT,
    merged_by               TEXT,
    merge_commit_hash       TEXT,
    metadata                TEXT    NOT NULL DEFAULT '{}'
                                    CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    created_at              TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at              TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    active                  INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

INSERT INTO worktrees_v4 (id, project_id, type_id, name, branch_name, path, host, agent_id,
    has_uncommitted_changes, uncommitted_files_count, ahead_of_trunk, behind_trunk,
    last_commit_hash, last_commit_message, last_sync_at, merged_at, merged_by,
    merge_commit_hash, metadata, created_at, updated_at, active)
SELECT id, project_id, type_id, name, branch_name, path, host, agent_id,
    has_uncommitted_changes, uncommitted_files_count, ahead_of_trunk, behind_trunk,
    last_commit_hash, last_commit_message, last_sync_at, merged_at, merged_by,
    merge_commit_hash, metadata, created_at, updated_at, active
FROM worktrees;

DROP TABLE worktrees;
ALTER TABLE worktrees_v4 RENAME TO worktrees;

UPDATE agent_activities
   SET worktree_id = (SELECT l.worktree_id FROM imi_activity_links l WHERE l.id = agent_activities.id)
 WHERE id IN (SELECT id FROM imi_activity_links);
DROP TABLE imi_activity_links;

-- One checkout per host of a name; one active worktree per place (path resolution).
CREATE UNIQUE INDEX worktrees_project_host_name_active ON worktrees (project_id, host, name) WHERE active = 1;
CREATE INDEX worktrees_project_name_host ON worktrees (project_id, name, host);
CREATE UNIQUE INDEX worktrees_host_path_active ON worktrees (host, path) WHERE active = 1;
CREATE INDEX worktrees_type ON worktrees (type_id);
CREATE INDEX worktrees_agent_active ON worktrees (agent_id) WHERE active = 1;
CREATE INDEX worktrees_inactive_updated ON worktrees (updated_at) WHERE active = 0;
-- In-flight work (SPEC §3.3); queries repeat this predicate verbatim to use it.
CREATE INDEX worktrees_inflight ON worktrees (updated_at)
    WHERE active = 1 AND merged_at IS NULL
      AND (uncommitted_files_count > 0 OR ahead_of_trunk > 0 OR behind_trunk > 0);

CREATE TRIGGER worktrees_updated_at AFTER UPDATE ON worktrees
FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN
    UPDATE worktrees SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;

-- has_uncommitted_changes always equals uncommitted_files_count > 0.
CREATE TRIGGER worktrees_has_uncommitted_insert AFTER INSERT ON worktrees
FOR EACH ROW WHEN NEW.has_uncommitted_changes IS NOT (NEW.uncommitted_files_count > 0)
BEGIN
    UPDATE worktrees SET has_uncommitted_changes = (NEW.uncommitted_files_count > 0)
    WHERE id = NEW.id;
END;

CREATE TRIGGER worktrees_has_uncommitted_update
AFTER UPDATE OF uncommitted_files_count, has_uncommitted_changes ON worktrees
FOR EACH ROW WHEN NEW.has_uncommitted_changes IS NOT (NEW.uncommitted_files_count > 0)
BEGIN
    UPDATE worktrees SET has_uncommitted_changes = (NEW.uncommitted_files_count > 0)
    WHERE id = NEW.id;
END;

-- Input rules of version 2, unchanged.
CREATE TRIGGER worktrees_name_rules_insert BEFORE INSERT ON worktrees
FOR EACH ROW WHEN ((trim(NEW.name) = '' OR NEW.name IN ('.', '..')
         OR instr(NEW.name, '/') > 0 OR instr(NEW.name, char(92)) > 0
         OR NEW.name GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.name GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.name AS BLOB)) > 200) OR instr(NEW.name, '..') > 0 OR substr(NEW.name, 1, 1) IN ('-', '.'))
BEGIN
    SELECT RAISE(ABORT, 'invalid worktree name: it must be one plain path component (not empty, no .., no slash, not starting with - or ., no control or bidirectional characters, at most 200 bytes)');
END;

CREATE TRIGGER worktrees_name_rules_update BEFORE UPDATE OF name ON worktrees
FOR EACH ROW WHEN NEW.name IS NOT OLD.name AND ((trim(NEW.name) = '' OR NEW.name IN ('.', '..')
         OR instr(NEW.name, '/') > 0 OR instr(NEW.name, char(92)) > 0
         OR NEW.name GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.name GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.name AS BLOB)) > 200) OR instr(NEW.name, '..') > 0 OR substr(NEW.name, 1, 1) IN ('-', '.'))
BEGIN
    SELECT RAISE(ABORT, 'invalid worktree name: it must be one plain path component (not empty, no .., no slash, not starting with - or ., no control or bidirectional characters, at most 200 bytes)');
END;

CREATE TRIGGER worktrees_lengths_insert BEFORE INSERT ON worktrees
FOR EACH ROW WHEN (length(CAST(NEW.branch_name AS BLOB)) > 255 OR length(CAST(NEW.path AS BLOB)) > 4096 OR length(CAST(NEW.host AS BLOB)) > 255 OR length(CAST(NEW.agent_id AS BLOB)) > 255)
BEGIN
    SELECT RAISE(ABORT, 'a worktree value is too long: branch names and hosts and agent ids are at most 255 bytes, paths at most 4096');
END;

CREATE TRIGGER worktrees_lengths_update BEFORE UPDATE OF branch_name, path, host, agent_id ON worktrees
FOR EACH ROW WHEN (length(CAST(NEW.branch_name AS BLOB)) > 255 OR length(CAST(NEW.path AS BLOB)) > 4096 OR length(CAST(NEW.host AS BLOB)) > 255 OR length(CAST(NEW.agent_id AS BLOB)) > 255)
BEGIN
    SELECT RAISE(ABORT, 'a worktree value is too long: branch names and hosts and agent ids are at most 255 bytes, paths at most 4096');
END;

