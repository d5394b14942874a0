-- imi registry, SQLite backend: schema 1 (SPEC §3.1, docs/store-semantics.md).
--
-- Representations: UUIDs are lowercase hyphenated TEXT; timestamps are UTC TEXT
-- '%Y-%m-%dT%H:%M:%fZ' (millisecond precision, sorts as text); metadata is a JSON
-- object in TEXT; booleans are INTEGER 0/1.

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
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

-- At most one active project per identity.
CREATE UNIQUE INDEX projects_origin_key_active ON projects (origin_key) WHERE active = 1;
-- Lookup by identity, active first, then the most recently updated inactive one.
CREATE INDEX projects_origin_key ON projects (origin_key, active, updated_at);
CREATE INDEX projects_name_active ON projects (name) WHERE active = 1;

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
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

INSERT INTO worktree_types (name, branch_prefix, worktree_prefix, description, color, icon, is_builtin) VALUES
    ('feat',   'feat/',      'feat-',   'Feature development',                                   '#10B981', '🚀', 1),
    ('fix',    'fix/',       'fix-',    'Bug fixes',                                             '#EF4444', '🐛', 1),
    ('aiops',  'aiops/',     'aiops-',  'AI operations (agents, rules, MCP configs, workflows)', '#8B5CF6', '🤖', 1),
    ('devops', 'devops/',    'devops-', 'DevOps tasks (CI, repo organization, deploys)',         '#3B82F6', '⚙️', 1),
    ('review', 'pr-review/', 'pr-',     'Pull request reviews',                                  '#F59E0B', '👀', 1),
    ('trunk',  '',           'trunk-',  'Main branch worktree',                                  '#6B7280', '🌳', 1);

CREATE TABLE worktrees (
    id                      TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    project_id              TEXT    NOT NULL REFERENCES projects (id) ON DELETE RESTRICT,
    type_id                 INTEGER NOT NULL REFERENCES worktree_types (id) ON DELETE RESTRICT,
    name                    TEXT    NOT NULL CHECK (length(trim(name)) > 0),
    branch_name             TEXT    NOT NULL CHECK (length(trim(branch_name)) > 0),
    path                    TEXT    NOT NULL CHECK (length(trim(path)) > 0),
    host                    TEXT    NOT NULL DEFAULT 'localhost' CHECK (length(trim(host)) > 0),
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
    active                  INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    UNIQUE (project_id, name)
);

-- At most one active worktree per place; also path resolution.
CREATE UNIQUE INDEX worktrees_host_path_active ON worktrees (host, path) WHERE active = 1;
CREATE INDEX worktrees_type ON worktrees (type_id);
CREATE INDEX worktrees_agent_active ON worktrees (agent_id) WHERE active = 1;
CREATE INDEX worktrees_inactive_updated ON worktrees (updated_at) WHERE active = 0;
-- In-flight work (SPEC §3.3); queries repeat this predicate verbatim to use it.
CREATE INDEX worktrees_inflight ON worktrees (updated_at)
    WHERE active = 1 AND merged_at IS NULL
      AND (uncommitted_files_count > 0 OR ahead_of_trunk > 0 OR behind_trunk > 0);

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
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX agent_activities_agent_created ON agent_activities (agent_id, created_at);
CREATE INDEX agent_activities_created ON agent_activities (created_at);
CREATE INDEX agent_activities_worktree ON agent_activities (worktree_id);
CREATE INDEX agent_activities_project ON agent_activities (project_id);

-- updated_at follows every update that does not set it itself.
CREATE TRIGGER projects_updated_at AFTER UPDATE ON projects
FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN
    UPDATE projects SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;

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
