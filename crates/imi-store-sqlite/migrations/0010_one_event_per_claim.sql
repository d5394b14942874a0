-- imi registry, SQLite backend, migration 0010: a claim change writes one event, not
-- two (as PostgreSQL migration 0012).
--
-- Claiming, taking over and releasing append a line to agent_activities (type
-- claimed or released, with the tenure's epoch in its metadata) in the transaction
-- that changes the claim. That line is part of the claim change, whose event is the
-- claims row's own (imi.claim.claimed, .stolen, .released): it no longer also logs
-- imi.activity.logged, so every change of registry state writes exactly one event
-- (SPEC §7.2). Any other activity, including a claimed or released line without an
-- epoch (logged by hand), still logs its event.

DROP TRIGGER agent_activities_events;

CREATE TRIGGER agent_activities_events AFTER INSERT ON agent_activities
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM events_muted)
  AND NOT (NEW.activity_type IN ('claimed', 'released')
           AND json_type(NEW.metadata, '$.epoch') IS NOT NULL)
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
