-- imi registry, SQLite backend, migration 0007: approvals of project hook commands
-- (SPEC §10). A command of a project's committed .imi.toml runs only once approved;
-- an approval is keyed by the project's identity (origin_key, the same on every
-- host) and the SHA-256 of the exact command text.

CREATE TABLE hook_approvals (
    project_key  TEXT NOT NULL CHECK (length(trim(project_key)) > 0),
    command_hash TEXT NOT NULL CHECK (length(command_hash) = 64),
    command      TEXT NOT NULL CHECK (length(command) > 0),
    approved_by  TEXT NOT NULL CHECK (length(trim(approved_by)) > 0),
    approved_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    PRIMARY KEY (project_key, command_hash)
);

CREATE TRIGGER hook_approvals_events_insert AFTER INSERT ON hook_approvals
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name, agent_id, payload)
    SELECT 'imi.hook.approved', p.id, p.name, NEW.approved_by,
           json_object('command_hash', NEW.command_hash, 'command', substr(NEW.command, 1, 200))
      FROM (SELECT 1) LEFT JOIN projects p ON p.origin_key = NEW.project_key AND p.active = 1;
END;

CREATE TRIGGER hook_approvals_events_delete AFTER DELETE ON hook_approvals
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
BEGIN
    INSERT INTO events (type, project_id, project_name, payload)
    SELECT 'imi.hook.revoked', p.id, p.name,
           json_object('command_hash', OLD.command_hash, 'command', substr(OLD.command, 1, 200))
      FROM (SELECT 1) LEFT JOIN projects p ON p.origin_key = OLD.project_key AND p.active = 1;
END;
