-- imi registry, version 8: approvals of project hook commands (SPEC §10). A command
-- of a project's committed .imi.toml runs only once approved; an approval is keyed
-- by the project's identity (origin_key, the same on every host) and the SHA-256 of
-- the exact command text, so one approval holds for every agent and host sharing the
-- registry, and a changed command needs a new one.

CREATE TABLE hook_approvals (
  project_key  text NOT NULL CONSTRAINT hook_approvals_project_key_not_empty CHECK (length(btrim(project_key)) > 0),
  command_hash text NOT NULL CONSTRAINT hook_approvals_command_hash_sha256 CHECK (command_hash ~ '^[0-9a-f]{64}$'),
  command      text NOT NULL CONSTRAINT hook_approvals_command_not_empty CHECK (length(command) > 0),
  approved_by  text NOT NULL CONSTRAINT hook_approvals_approved_by_not_empty CHECK (length(btrim(approved_by)) > 0),
  approved_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_key, command_hash)
);
COMMENT ON TABLE hook_approvals IS
  'Approved commands of projects'' .imi.toml hooks: project identity (origin_key) + SHA-256 of '
  'the exact command, who approved it and when. imi runs a project''s command only when it is here.';

CREATE FUNCTION imi_events_of_hook_approvals() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
  r hook_approvals := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  p projects;
BEGIN
  IF current_setting('imi.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  SELECT * INTO p FROM projects WHERE origin_key = r.project_key AND active LIMIT 1;
  PERFORM imi_emit_event(CASE WHEN TG_OP = 'DELETE' THEN 'imi.hook.revoked' ELSE 'imi.hook.approved' END,
                         p.id, p.name, NULL, NULL,
                         CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE r.approved_by END, NULL,
                         jsonb_build_object('command_hash', r.command_hash, 'command', left(r.command, 200)));
  RETURN NULL;
END
$$;
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION imi_events_of_hook_approvals() SET search_path = %I, pg_temp', current_schema());
END
$$;
CREATE CONSTRAINT TRIGGER hook_approvals_events AFTER INSERT OR DELETE ON hook_approvals
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION imi_events_of_hook_approvals();

DO $grants$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_reader')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_auditor')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_writer') THEN
    REVOKE ALL ON hook_approvals FROM PUBLIC, imi_reader, imi_auditor;
    GRANT SELECT ON hook_approvals TO imi_reader, imi_writer;
    GRANT INSERT, DELETE ON hook_approvals TO imi_writer;
  END IF;
END
$grants$;
