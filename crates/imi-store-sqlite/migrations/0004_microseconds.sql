-- imi registry, SQLite backend, migration 0004: microsecond timestamps (issue 9, item 7).
--
-- Timestamps are UTC TEXT with six fraction digits, '2026-01-02T03:04:05.123456Z':
-- what PostgreSQL's timestamptz holds, so a copy PostgreSQL -> SQLite -> PostgreSQL
-- is exact, and fixed-width text that sorts chronologically. imi itself stamps rows
-- from the Rust clock (microseconds); the column defaults and the updated_at triggers,
-- which only a plain SQL writer reaches, use SQLite's clock, which has milliseconds:
-- strftime('%Y-%m-%dT%H:%M:%f000Z', 'now') is that time in the same six-digit form.
--
-- Every older row is converted losslessly: '...:05.123Z' becomes '...:05.123000Z' (a
-- mix of three- and six-digit fractions would sort wrongly as text within one
-- millisecond). Values in any other form (imi never wrote one) are left as they are.
--
-- SQLite cannot change a column DEFAULT in place, and the tables reference each other
-- (ON DELETE RESTRICT from worktrees to projects and types), so all four tables are
-- rebuilt together: rows are kept aside in TEMP tables, the old tables are dropped
-- children first (so no foreign-key action fires), created again under their names
-- with the definitions of migrations 0001-0003, refilled parents first, and every index and
-- trigger of migrations 0001-0003 is created again (rows are copied before the input-rule
-- triggers exist, so rows stored before those rules stay as they are). The
-- AUTOINCREMENT counter of worktree_types is carried over, so a deleted custom type's
-- id is still never reused. One transaction: an error leaves the registry as it was.
-- Two indexes gain the id as their last column for the activity order
-- `created_at DESC, id DESC` (the same tie-break as PostgreSQL) and the project
-- lookup `active DESC, updated_at DESC, id DESC`.
-- NOTE for later migrations: every index and trigger of the four tables is created
-- in this file; a rebuild must create them again.

-- 1. Rows aside, timestamps converted.
CREATE TEMP TABLE imi_m4_projects AS SELECT rowid AS imi_rowid, * FROM projects;
CREATE TEMP TABLE imi_m4_types AS SELECT * FROM worktree_types;
CREATE TEMP TABLE imi_m4_worktrees AS SELECT rowid AS imi_rowid, * FROM worktrees;
CREATE TEMP TABLE imi_m4_activities AS SELECT rowid AS imi_rowid, * FROM agent_activities;
CREATE TEMP TABLE imi_m4_seq AS SELECT seq FROM sqlite_sequence WHERE name = 'worktree_types';

UPDATE imi_m4_projects SET created_at = substr(created_at, 1, 23) || '000Z'
 WHERE created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
UPDATE imi_m4_projects SET updated_at = substr(updated_at, 1, 23) || '000Z'
 WHERE updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
UPDATE imi_m4_types SET created_at = substr(created_at, 1, 23) || '000Z'
 WHERE created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
UPDATE imi_m4_worktrees SET created_at = substr(created_at, 1, 23) || '000Z'
 WHERE created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
UPDATE imi_m4_worktrees SET updated_at = substr(updated_at, 1, 23) || '000Z'
 WHERE updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
UPDATE imi_m4_worktrees SET last_sync_at = substr(last_sync_at, 1, 23) || '000Z'
 WHERE last_sync_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
UPDATE imi_m4_worktrees SET merged_at = substr(merged_at, 1, 23) || '000Z'
 WHERE merged_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';
UPDATE imi_m4_activities SET created_at = substr(created_at, 1, 23) || '000Z'
 WHERE created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';

-- 2. Old tables out, children first (their indexes and triggers go with them).
DROP TABLE agent_activities;
DROP TABLE worktrees;
DROP TABLE worktree_types;
DROP TABLE projects;

-- 3. The tables of migrations 0001-0003, with six-digit defaults.
CREATE TABLE projects (
    id              TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    name            TEXT    NOT NULL CHECK (length(trim(name)) > 0),
    remote_origin   TEXT,
    origin_key      TEXT    NOT NULL CHECK (length(origin_key) > 0),
    default_branch  TEXT    NOT NULL DEFAULT 'main' CHECK (length(trim(default_branch)) > 0),
    trunk_path      TEXT    NOT NULL CHECK (length(trim(trunk_path)) > 0),
    description     TEXT,
    metadata        TEXT    NOT NULL DEFAULT '{}'
                            CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE worktree_types (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE CHECK (length(name) > 0),
    branch_prefix   TEXT    NOT NULL DEFAULT '',
    worktree_prefix TEXT    NOT NULL CHECK (length(worktree_prefix) > 0),
    description     TEXT,
    is_builtin      INTEGER NOT NULL DEFAULT 0 CHECK (is_builtin IN (0, 1)),
    color           TEXT,
    icon            TEXT,
    metadata        TEXT    NOT NULL DEFAULT '{}'
                            CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE TABLE worktrees (
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
    created_at              TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at              TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    active                  INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE agent_activities (
    id            TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    agent_id      TEXT NOT NULL CHECK (length(trim(agent_id)) > 0),
    worktree_id   TEXT REFERENCES worktrees (id) ON DELETE SET NULL,
    project_id    TEXT REFERENCES projects (id) ON DELETE SET NULL,
    project_name  TEXT,
    worktree_name TEXT,
    activity_type TEXT NOT NULL CHECK (activity_type IN (
                      'created', 'modified', 'deleted', 'committed', 'pushed', 'merged',
                      'synced', 'claimed', 'released', 'removed', 'other')),
    file_path     TEXT,
    description   TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}'
                       CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

-- 4. Rows back, parents first; rowids kept (the activities' insertion order).
INSERT INTO projects (rowid, id, name, remote_origin, origin_key, default_branch, trunk_path,
    description, metadata, created_at, updated_at, active)
SELECT imi_rowid, id, name, remote_origin, origin_key, default_branch, trunk_path,
    description, metadata, created_at, updated_at, active
FROM imi_m4_projects;

INSERT INTO worktree_types (id, name, branch_prefix, worktree_prefix, description, is_builtin,
    color, icon, metadata, created_at)
SELECT id, name, branch_prefix, worktree_prefix, description, is_builtin,
    color, icon, metadata, created_at
FROM imi_m4_types;

INSERT INTO worktrees (rowid, id, project_id, type_id, name, branch_name, path, host, agent_id,
    has_uncommitted_changes, uncommitted_files_count, ahead_of_trunk, behind_trunk,
    last_commit_hash, last_commit_message, last_sync_at, merged_at, merged_by,
    merge_commit_hash, metadata, created_at, updated_at, active)
SELECT imi_rowid, id, project_id, type_id, name, branch_name, path, host, agent_id,
    has_uncommitted_changes, uncommitted_files_count, ahead_of_trunk, behind_trunk,
    last_commit_hash, last_commit_message, last_sync_at, merged_at, merged_by,
    merge_commit_hash, metadata, created_at, updated_at, active
FROM imi_m4_worktrees;

INSERT INTO agent_activities (rowid, id, agent_id, worktree_id, project_id, project_name,
    worktree_name, activity_type, file_path, description, metadata, created_at)
SELECT imi_rowid, id, agent_id, worktree_id, project_id, project_name,
    worktree_name, activity_type, file_path, description, metadata, created_at
FROM imi_m4_activities;

-- The AUTOINCREMENT high-water mark of worktree_types, at least what it was.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'worktree_types', seq FROM imi_m4_seq
 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'worktree_types');
UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM imi_m4_seq)
 WHERE name = 'worktree_types' AND seq < (SELECT max(seq) FROM imi_m4_seq);

DROP TABLE imi_m4_projects;
DROP TABLE imi_m4_types;
DROP TABLE imi_m4_worktrees;
DROP TABLE imi_m4_activities;
DROP TABLE imi_m4_seq;

-- 5. Indexes of migrations 0001 and 0003 (two extended by id, see above).
-- At most one active project per identity.
CREATE UNIQUE INDEX projects_origin_key_active ON projects (origin_key) WHERE active = 1;
-- Lookup by identity, active first, then the most recently updated inactive one.
CREATE INDEX projects_origin_key ON projects (origin_key, active, updated_at, id);
CREATE INDEX projects_name_active ON projects (name) WHERE active = 1;

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

-- Newest first, ties to the greater id: `ORDER BY created_at DESC, id DESC`.
CREATE INDEX agent_activities_agent_created ON agent_activities (agent_id, created_at, id);
CREATE INDEX agent_activities_created ON agent_activities (created_at, id);
CREATE INDEX agent_activities_worktree ON agent_activities (worktree_id);
CREATE INDEX agent_activities_project ON agent_activities (project_id);

-- 6. Triggers of migration 0001 (updated_at with the six-digit form) ...
-- updated_at follows every update that does not set it itself.
CREATE TRIGGER projects_updated_at AFTER UPDATE ON projects
FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN
    UPDATE projects SET updated_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now') WHERE id = NEW.id;
END;

CREATE TRIGGER worktrees_updated_at AFTER UPDATE ON worktrees
FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN
    UPDATE worktrees SET updated_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now') WHERE id = NEW.id;
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

-- ... and the input rules of migration 0002, unchanged.
CREATE TRIGGER projects_name_rules_insert BEFORE INSERT ON projects
FOR EACH ROW WHEN (trim(NEW.name) = '' OR NEW.name IN ('.', '..')
         OR instr(NEW.name, '/') > 0 OR instr(NEW.name, char(92)) > 0
         OR NEW.name GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.name GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.name AS BLOB)) > 200)
BEGIN
    SELECT RAISE(ABORT, 'invalid project name: a project name becomes the directory <root>/<name>; it must be one plain path component (not empty, not . or .., no slash, no control or bidirectional characters, at most 200 bytes)');
END;

CREATE TRIGGER projects_name_rules_update BEFORE UPDATE OF name ON projects
FOR EACH ROW WHEN NEW.name IS NOT OLD.name AND (trim(NEW.name) = '' OR NEW.name IN ('.', '..')
         OR instr(NEW.name, '/') > 0 OR instr(NEW.name, char(92)) > 0
         OR NEW.name GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.name GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.name AS BLOB)) > 200)
BEGIN
    SELECT RAISE(ABORT, 'invalid project name: a project name becomes the directory <root>/<name>; it must be one plain path component (not empty, not . or .., no slash, no control or bidirectional characters, at most 200 bytes)');
END;

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

CREATE TRIGGER projects_lengths_insert BEFORE INSERT ON projects
FOR EACH ROW WHEN (length(CAST(NEW.default_branch AS BLOB)) > 255 OR length(CAST(NEW.trunk_path AS BLOB)) > 4096 OR length(CAST(NEW.description AS BLOB)) > 8192)
BEGIN
    SELECT RAISE(ABORT, 'a project value is too long: branch names are at most 255 bytes, paths 4096, descriptions 8192');
END;

CREATE TRIGGER projects_lengths_update BEFORE UPDATE OF default_branch, trunk_path, description ON projects
FOR EACH ROW WHEN (length(CAST(NEW.default_branch AS BLOB)) > 255 OR length(CAST(NEW.trunk_path AS BLOB)) > 4096 OR length(CAST(NEW.description AS BLOB)) > 8192)
BEGIN
    SELECT RAISE(ABORT, 'a project value is too long: branch names are at most 255 bytes, paths 4096, descriptions 8192');
END;

CREATE TRIGGER worktree_types_prefix_rules_insert BEFORE INSERT ON worktree_types
FOR EACH ROW WHEN NOT (NEW.name = 'trunk' AND NEW.is_builtin = 1) AND (
         (trim(NEW.worktree_prefix) = '' OR NEW.worktree_prefix IN ('.', '..')
         OR instr(NEW.worktree_prefix, '/') > 0 OR instr(NEW.worktree_prefix, char(92)) > 0
         OR NEW.worktree_prefix GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.worktree_prefix GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.worktree_prefix AS BLOB)) > 64)
         OR instr(NEW.worktree_prefix, '..') > 0 OR substr(NEW.worktree_prefix, 1, 1) IN ('-', '.')
         OR lower(NEW.worktree_prefix) GLOB 'trunk-*' OR lower(NEW.worktree_prefix) IN ('t', 'tr', 'tru', 'trun'))
BEGIN
    SELECT RAISE(ABORT, 'invalid worktree prefix: it must be one plain path component and must not make directories named like the trunk (trunk-<branch>)');
END;

CREATE TRIGGER worktree_types_prefix_rules_update BEFORE UPDATE OF name, worktree_prefix, is_builtin ON worktree_types
FOR EACH ROW WHEN NOT (NEW.name = 'trunk' AND NEW.is_builtin = 1) AND (
         (trim(NEW.worktree_prefix) = '' OR NEW.worktree_prefix IN ('.', '..')
         OR instr(NEW.worktree_prefix, '/') > 0 OR instr(NEW.worktree_prefix, char(92)) > 0
         OR NEW.worktree_prefix GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.worktree_prefix GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.worktree_prefix AS BLOB)) > 64)
         OR instr(NEW.worktree_prefix, '..') > 0 OR substr(NEW.worktree_prefix, 1, 1) IN ('-', '.')
         OR lower(NEW.worktree_prefix) GLOB 'trunk-*' OR lower(NEW.worktree_prefix) IN ('t', 'tr', 'tru', 'trun'))
BEGIN
    SELECT RAISE(ABORT, 'invalid worktree prefix: it must be one plain path component and must not make directories named like the trunk (trunk-<branch>)');
END;
