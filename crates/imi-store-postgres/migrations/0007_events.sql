-- imi registry, version 7: the event log (SPEC §7.2).
--
-- Every change of registry state writes one row to `events` in the transaction that
-- makes it, so an event exists if and only if its change committed. The rows are
-- written by triggers on the tables (so a plain SQL write is logged like imi's own),
-- deferred to the commit: the ids come from a one-row counter whose row lock is
-- taken at commit, after every row lock of the transaction, and held to its end.
-- That makes the ids gap-free (a rolled-back transaction takes none) and in commit
-- order (a follower that has read up to id N never later finds a smaller id), and it
-- cannot deadlock (a transaction holding the counter waits for nothing else). Each
-- event also sends NOTIFY imi_events, '<id>', delivered on commit: a wake-up for
-- followers, who read the rows by id.
--
-- A transaction may mute its events with SET LOCAL imi.events = 'off' (the snapshot
-- import does, and logs one event for the whole import instead).

CREATE TABLE events (
  id            bigint PRIMARY KEY CONSTRAINT events_id_positive CHECK (id > 0),
  type          text NOT NULL CONSTRAINT events_type_not_empty CHECK (length(btrim(type)) > 0),
  project_id    uuid,
  project_name  text,
  worktree_id   uuid,
  worktree_name text,
  agent_id      text,
  host          text,
  payload       jsonb NOT NULL DEFAULT '{}'::jsonb
                CONSTRAINT events_payload_object CHECK (jsonb_typeof(payload) = 'object'),
  created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE events IS
  'The event log (SPEC §7.2): one row per change of registry state, written by triggers in '
  'the transaction of the change. Ids are gap-free and in commit order; read from any id on '
  '(WHERE id > $last ORDER BY id). No foreign keys: events outlive what they name (the names '
  'are copied). Kept as long as activities (imi db maintain --retention-days).';
CREATE INDEX events_created_idx ON events (created_at);
CREATE INDEX events_project_idx ON events (project_id, id);

CREATE TABLE event_counter (
  only_row boolean PRIMARY KEY DEFAULT true CONSTRAINT event_counter_one_row CHECK (only_row),
  last_id  bigint NOT NULL
);
COMMENT ON TABLE event_counter IS
  'The last event id given out. Its row is locked from the first event of a transaction '
  'to its end (events are written at commit), which keeps ids gap-free and in commit order.';
INSERT INTO event_counter (only_row, last_id) VALUES (true, 0);

-- Appends one event. Runs at commit (from the deferred triggers below).
CREATE FUNCTION imi_emit_event(
  p_type          text,
  p_project_id    uuid,
  p_project_name  text,
  p_worktree_id   uuid,
  p_worktree_name text,
  p_agent_id      text,
  p_host          text,
  p_payload       jsonb
) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
  v_id bigint;
BEGIN
  UPDATE event_counter SET last_id = last_id + 1 WHERE only_row RETURNING last_id INTO v_id;
  INSERT INTO events (id, type, project_id, project_name, worktree_id, worktree_name, agent_id, host, payload)
  VALUES (v_id, p_type, p_project_id,
          coalesce(p_project_name, (SELECT name FROM projects WHERE id = p_project_id)),
          p_worktree_id, p_worktree_name, p_agent_id, p_host,
          jsonb_strip_nulls(coalesce(p_payload, '{}'::jsonb)));
  PERFORM pg_notify('imi_events', v_id::text);
END
$$;
COMMENT ON FUNCTION imi_emit_event(text, uuid, text, uuid, text, text, text, jsonb) IS
  'Appends an event (next id of event_counter) and notifies imi_events with its id. Called by '
  'the event triggers at commit (which SET LOCAL imi.events = ''off'' mutes).';

CREATE FUNCTION imi_events_of_projects() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
  IF current_setting('imi.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM imi_emit_event('imi.project.registered', NEW.id, NEW.name, NULL, NULL, NULL, NULL,
                           jsonb_build_object('default_branch', NEW.default_branch, 'trunk_path', NEW.trunk_path));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM imi_emit_event('imi.project.deleted', OLD.id, OLD.name, NULL, NULL, NULL, NULL, '{}');
  ELSIF OLD.active AND NOT NEW.active THEN
    PERFORM imi_emit_event('imi.project.deactivated', NEW.id, NEW.name, NULL, NULL, NULL, NULL, '{}');
  ELSIF NOT OLD.active AND NEW.active THEN
    PERFORM imi_emit_event('imi.project.reactivated', NEW.id, NEW.name, NULL, NULL, NULL, NULL, '{}');
  ELSIF (NEW.name, NEW.remote_origin, NEW.default_branch, NEW.trunk_path, NEW.description, NEW.metadata)
        IS DISTINCT FROM (OLD.name, OLD.remote_origin, OLD.default_branch, OLD.trunk_path, OLD.description, OLD.metadata) THEN
    PERFORM imi_emit_event('imi.project.updated', NEW.id, NEW.name, NULL, NULL, NULL, NULL, '{}');
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION imi_events_of_worktrees() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
  IF current_setting('imi.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM imi_emit_event('imi.worktree.created', NEW.project_id, NULL, NEW.id, NEW.name, NEW.agent_id, NEW.host,
                           jsonb_build_object('branch', NEW.branch_name, 'path', NEW.path));
    RETURN NULL;
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM imi_emit_event('imi.worktree.deleted', OLD.project_id, NULL, OLD.id, OLD.name, OLD.agent_id, OLD.host, '{}');
    RETURN NULL;
  END IF;
  IF NEW.merged_at IS NOT NULL AND OLD.merged_at IS NULL THEN
    PERFORM imi_emit_event('imi.worktree.merged', NEW.project_id, NULL, NEW.id, NEW.name, NEW.merged_by, NEW.host,
                           jsonb_build_object('merged_by', NEW.merged_by, 'merge_commit_hash', NEW.merge_commit_hash));
  END IF;
  IF OLD.active AND NOT NEW.active THEN
    PERFORM imi_emit_event('imi.worktree.removed', NEW.project_id, NULL, NEW.id, NEW.name, NEW.agent_id, NEW.host, '{}');
  ELSIF NOT OLD.active AND NEW.active THEN
    PERFORM imi_emit_event('imi.worktree.created', NEW.project_id, NULL, NEW.id, NEW.name, NEW.agent_id, NEW.host,
                           jsonb_build_object('branch', NEW.branch_name, 'path', NEW.path, 'reactivated', true));
  END IF;
  IF OLD.active AND NEW.active
     AND (NEW.uncommitted_files_count, NEW.ahead_of_trunk, NEW.behind_trunk, NEW.last_commit_hash)
         IS DISTINCT FROM (OLD.uncommitted_files_count, OLD.ahead_of_trunk, OLD.behind_trunk, OLD.last_commit_hash) THEN
    PERFORM imi_emit_event('imi.worktree.git_state', NEW.project_id, NULL, NEW.id, NEW.name, NEW.agent_id, NEW.host,
                           jsonb_build_object('uncommitted_files_count', NEW.uncommitted_files_count,
                                              'ahead_of_trunk', NEW.ahead_of_trunk,
                                              'behind_trunk', NEW.behind_trunk,
                                              'last_commit_hash', NEW.last_commit_hash));
  END IF;
  IF OLD.active AND NEW.active AND NEW.metadata IS DISTINCT FROM OLD.metadata THEN
    PERFORM imi_emit_event('imi.worktree.metadata', NEW.project_id, NULL, NEW.id, NEW.name, NEW.agent_id, NEW.host, '{}');
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION imi_events_of_claims() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
  v_kind text;
BEGIN
  IF current_setting('imi.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    v_kind := 'claimed';
  ELSIF NEW.epoch <> OLD.epoch THEN
    v_kind := CASE WHEN NEW.stolen_from IS NULL THEN 'claimed' ELSE 'stolen' END;
  ELSIF NEW.released_at IS NOT NULL AND OLD.released_at IS NULL THEN
    v_kind := 'released';
  ELSIF NEW.released_at IS NULL AND NEW.renewed_at IS DISTINCT FROM OLD.renewed_at THEN
    v_kind := 'renewed';
  ELSE
    RETURN NULL;
  END IF;
  PERFORM imi_emit_event('imi.claim.' || v_kind, NEW.project_id, NULL, NEW.worktree_id, NEW.worktree_name,
                         NEW.agent_id, NEW.host,
                         jsonb_build_object('epoch', NEW.epoch, 'ttl_seconds', NEW.ttl_seconds, 'purpose', NEW.purpose,
                                            'stolen_from', CASE WHEN v_kind = 'stolen' THEN NEW.stolen_from END));
  RETURN NULL;
END
$$;

CREATE FUNCTION imi_events_of_activities() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
  IF current_setting('imi.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  PERFORM imi_emit_event(CASE WHEN NEW.metadata ? 'hook' THEN 'imi.hook.ran' ELSE 'imi.activity.logged' END,
                         NEW.project_id, NEW.project_name, NEW.worktree_id,
                         NEW.worktree_name, NEW.agent_id,
                         (SELECT host FROM worktrees WHERE id = NEW.worktree_id),
                         jsonb_build_object('activity_id', NEW.id, 'activity_type', NEW.activity_type,
                                            'description', left(NEW.description, 200)));
  RETURN NULL;
END
$$;

CREATE FUNCTION imi_events_of_types() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
  IF current_setting('imi.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM imi_emit_event('imi.type.added', NULL, NULL, NULL, NULL, NULL, NULL,
                           jsonb_build_object('name', NEW.name));
  ELSE
    PERFORM imi_emit_event('imi.type.removed', NULL, NULL, NULL, NULL, NULL, NULL,
                           jsonb_build_object('name', OLD.name));
  END IF;
  RETURN NULL;
END
$$;

-- Pin the search_path of the SECURITY DEFINER functions to the schema they live in.
DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['imi_emit_event(text, uuid, text, uuid, text, text, text, jsonb)',
                           'imi_events_of_projects()', 'imi_events_of_worktrees()',
                           'imi_events_of_claims()', 'imi_events_of_activities()',
                           'imi_events_of_types()'] LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
  END LOOP;
END
$$;

-- Deferred to the commit: the counter's lock is taken last (see the top).
CREATE CONSTRAINT TRIGGER projects_events AFTER INSERT OR UPDATE OR DELETE ON projects
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION imi_events_of_projects();
CREATE CONSTRAINT TRIGGER worktrees_events AFTER INSERT OR UPDATE OR DELETE ON worktrees
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION imi_events_of_worktrees();
CREATE CONSTRAINT TRIGGER claims_events AFTER INSERT OR UPDATE ON claims
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION imi_events_of_claims();
CREATE CONSTRAINT TRIGGER agent_activities_events AFTER INSERT ON agent_activities
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION imi_events_of_activities();
CREATE CONSTRAINT TRIGGER worktree_types_events AFTER INSERT OR DELETE ON worktree_types
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION imi_events_of_types();

-- Retention: the event log is kept as long as the activities (SPEC §7.2).
CREATE OR REPLACE FUNCTION cleanup_old_activities(p_retention_days integer DEFAULT 90) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  n integer;
BEGIN
  IF p_retention_days IS NULL OR p_retention_days < 0 THEN
    RAISE EXCEPTION 'retention days is negative (%)', p_retention_days
      USING ERRCODE = '22023', HINT = 'give a number of days, 0 or more';
  END IF;
  IF p_retention_days > 36500 THEN
    RAISE EXCEPTION 'retention days is too large (%, at most 36500: 100 years)', p_retention_days
      USING ERRCODE = '22023', HINT = 'give a number of days from 0 to 36500';
  END IF;
  DELETE FROM agent_activities WHERE created_at < now() - make_interval(days => p_retention_days);
  GET DIAGNOSTICS n = ROW_COUNT;
  DELETE FROM events WHERE created_at < now() - make_interval(days => p_retention_days);
  RETURN n;
END
$$;
COMMENT ON FUNCTION cleanup_old_activities(integer) IS
  'Retention: deletes activities and events created more than p_retention_days ago and returns '
  'how many activities. VACUUM is left to `imi db maintain`.';

REVOKE ALL ON FUNCTION imi_emit_event(text, uuid, text, uuid, text, text, text, jsonb) FROM PUBLIC;

-- imi db roles ran before: readers and writers read the log; nobody writes it but the
-- triggers (SECURITY DEFINER).
DO $grants$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_reader')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_auditor')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_writer') THEN
    REVOKE ALL ON events, event_counter FROM PUBLIC, imi_reader, imi_auditor, imi_writer;
    GRANT SELECT ON events TO imi_reader, imi_writer;
    GRANT DELETE ON events TO imi_writer;
    GRANT EXECUTE ON FUNCTION imi_emit_event(text, uuid, text, uuid, text, text, text, jsonb) TO imi_writer;
  END IF;
END
$grants$;
