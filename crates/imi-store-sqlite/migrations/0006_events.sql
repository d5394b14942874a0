-- imi registry, SQLite backend, migration 0006: the event log (SPEC §7.2).
--
-- Every change of registry state writes one row to `events`, from triggers on the
-- tables, in the transaction of the change: an event exists if and only if its
-- change committed, and a plain SQL write is logged like imi's own. SQLite has one
-- writer at a time, so AUTOINCREMENT ids are in commit order, and gap-free (a
-- rolled-back insert gives its id back). Followers poll for ids above the last one
-- they read (cheap: the primary key).
--
-- A transaction mutes its events with a row in events_muted, deleted again before
-- its commit (the snapshot import does, and logs one event for the whole import).
-- NOTE for later migrations: a rebuild of projects, worktrees, worktree_types,
-- agent_activities or claims must create these triggers again.

CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    type          TEXT    NOT NULL CHECK (length(trim(type)) > 0),
    project_id    TEXT,
    project_name  TEXT,
    worktree_id   TEXT,
    worktree_name TEXT,
    agent_id      TEXT,
    host          TEXT,
    payload       TEXT    NOT NULL DEFAULT '{}'
                          CHECK (json_valid(payload) AND json_type(payload) = 'object'),
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);
CREATE INDEX events_created ON events (created_at);
CREATE INDEX events_project ON events (project_id, id);

CREATE TABLE events_muted (
    muted INTEGER PRIMARY KEY CHECK (muted = 1)
);

CREATE TRIGGER projects_events_insert AFTER INSERT ON projects
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name, payload)
    VALUES ('imi.project.registered', NEW.id, NEW.name,
            json_object('default_branch', NEW.default_branch, 'trunk_path', NEW.trunk_path));
END;

CREATE TRIGGER projects_events_update AFTER UPDATE ON projects
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name)
    SELECT CASE
             WHEN OLD.active = 1 AND NEW.active = 0 THEN 'imi.project.deactivated'
             WHEN OLD.active = 0 AND NEW.active = 1 THEN 'imi.project.reactivated'
             ELSE 'imi.project.updated'
           END, NEW.id, NEW.name
     WHERE OLD.active IS NOT NEW.active
        OR NEW.name IS NOT OLD.name OR NEW.remote_origin IS NOT OLD.remote_origin
        OR NEW.default_branch IS NOT OLD.default_branch OR NEW.trunk_path IS NOT OLD.trunk_path
        OR NEW.description IS NOT OLD.description OR NEW.metadata IS NOT OLD.metadata;
END;

CREATE TRIGGER projects_events_delete AFTER DELETE ON projects
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name)
    VALUES ('imi.project.deleted', OLD.id, OLD.name);
END;

CREATE TRIGGER worktrees_events_insert AFTER INSERT ON worktrees
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
    VALUES ('imi.worktree.created', NEW.project_id, (SELECT name FROM projects WHERE id = NEW.project_id),
            NEW.id, NEW.name, NEW.agent_id, NEW.host,
            json_object('branch', NEW.branch_name, 'path', NEW.path));
END;

-- In the order PostgreSQL's trigger writes them: merged, removed / created again,
-- git state, metadata.
CREATE TRIGGER worktrees_events_update AFTER UPDATE ON worktrees
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
    SELECT 'imi.worktree.merged', NEW.project_id, (SELECT name FROM projects WHERE id = NEW.project_id),
           NEW.id, NEW.name, NEW.merged_by, NEW.host,
           json_object('merged_by', NEW.merged_by, 'merge_commit_hash', NEW.merge_commit_hash)
     WHERE NEW.merged_at IS NOT NULL AND OLD.merged_at IS NULL;
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
    SELECT 'imi.worktree.removed', NEW.project_id, (SELECT name FROM projects WHERE id = NEW.project_id),
           NEW.id, NEW.name, NEW.agent_id, NEW.host, '{}'
     WHERE OLD.active = 1 AND NEW.active = 0;
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
    SELECT 'imi.worktree.created', NEW.project_id, (SELECT name FROM projects WHERE id = NEW.project_id),
           NEW.id, NEW.name, NEW.agent_id, NEW.host,
           json_object('branch', NEW.branch_name, 'path', NEW.path, 'reactivated', json('true'))
     WHERE OLD.active = 0 AND NEW.active = 1;
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
    SELECT 'imi.worktree.git_state', NEW.project_id, (SELECT name FROM projects WHERE id = NEW.project_id),
           NEW.id, NEW.name, NEW.agent_id, NEW.host,
           json_object('uncommitted_files_count', NEW.uncommitted_files_count,
                       'ahead_of_trunk', NEW.ahead_of_trunk, 'behind_trunk', NEW.behind_trunk,
                       'last_commit_hash', NEW.last_commit_hash)
     WHERE OLD.active = 1 AND NEW.active = 1
       AND (NEW.uncommitted_files_count IS NOT OLD.uncommitted_files_count
            OR NEW.ahead_of_trunk IS NOT OLD.ahead_of_trunk
            OR NEW.behind_trunk IS NOT OLD.behind_trunk
            OR NEW.last_commit_hash IS NOT OLD.last_commit_hash);
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
    SELECT 'imi.worktree.metadata', NEW.project_id, (SELECT name FROM projects WHERE id = NEW.project_id),
           NEW.id, NEW.name, NEW.agent_id, NEW.host, '{}'
     WHERE OLD.active = 1 AND NEW.active = 1 AND NEW.metadata IS NOT OLD.metadata;
END;

CREATE TRIGGER worktrees_events_delete AFTER DELETE ON worktrees
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host)
    VALUES ('imi.worktree.deleted', OLD.project_id, (SELECT name FROM projects WHERE id = OLD.project_id),
            OLD.id, OLD.name, OLD.agent_id, OLD.host);
END;

CREATE TRIGGER claims_events_insert AFTER INSERT ON claims
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
    VALUES ('imi.claim.claimed', NEW.project_id, (SELECT name FROM projects WHERE id = NEW.project_id),
            NEW.worktree_id, NEW.worktree_name, NEW.agent_id, NEW.host,
            json_object('epoch', NEW.epoch, 'ttl_seconds', NEW.ttl_seconds, 'purpose', NEW.purpose));
END;

CREATE TRIGGER claims_events_update AFTER UPDATE ON claims
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
    SELECT k.kind, NEW.project_id, (SELECT name FROM projects WHERE id = NEW.project_id),
           NEW.worktree_id, NEW.worktree_name, NEW.agent_id, NEW.host,
           json_object('epoch', NEW.epoch, 'ttl_seconds', NEW.ttl_seconds, 'purpose', NEW.purpose,
                       'stolen_from', CASE WHEN k.kind = 'imi.claim.stolen' THEN NEW.stolen_from END)
      FROM (SELECT CASE
                     WHEN NEW.epoch <> OLD.epoch AND NEW.stolen_from IS NULL THEN 'imi.claim.claimed'
                     WHEN NEW.epoch <> OLD.epoch THEN 'imi.claim.stolen'
                     WHEN NEW.released_at IS NOT NULL AND OLD.released_at IS NULL THEN 'imi.claim.released'
                     WHEN NEW.released_at IS NULL AND NEW.renewed_at IS NOT OLD.renewed_at THEN 'imi.claim.renewed'
                   END AS kind) k
     WHERE k.kind IS NOT NULL;
END;

CREATE TRIGGER agent_activities_events AFTER INSERT ON agent_activities
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
    VALUES (CASE WHEN json_extract(NEW.metadata, '$.hook') IS NOT NULL THEN 'imi.hook.ran'
                 ELSE 'imi.activity.logged' END, NEW.project_id,
            coalesce(NEW.project_name, (SELECT name FROM projects WHERE id = NEW.project_id)),
            NEW.worktree_id, NEW.worktree_name,
            NEW.agent_id, (SELECT host FROM worktrees WHERE id = NEW.worktree_id),
            json_object('activity_id', NEW.id, 'activity_type', NEW.activity_type,
                        'description', substr(NEW.description, 1, 200)));
END;

CREATE TRIGGER worktree_types_events_insert AFTER INSERT ON worktree_types
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, payload) VALUES ('imi.type.added', json_object('name', NEW.name));
END;

CREATE TRIGGER worktree_types_events_delete AFTER DELETE ON worktree_types
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, payload) VALUES ('imi.type.removed', json_object('name', OLD.name));
END;
