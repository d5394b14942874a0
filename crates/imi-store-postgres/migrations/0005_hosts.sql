-- imi registry, version 5: several hosts on one registry (SPEC §3.1, §3.4 "Hosts").
--
-- A worktree row is one checkout on one host: at most one active worktree per
-- (project_id, host, name) and per (host, path). Every host registers its own trunk
-- and worktrees; the same name on two hosts is two checkouts of one branch.
--
-- The host of a SQL caller: the imi.host setting when the caller sets it (imi passes
-- its host as p_host in the statement itself, so nothing depends on session state a
-- transaction-pooling PgBouncer would lose; a SQL client sets it per transaction with
-- SET LOCAL imi.host = '...' or set_config('imi.host', '...', true)), else where the
-- call came from: the client's IP address for a TCP connection, 'local socket' for a
-- Unix-socket one. Never a made-up 'localhost'.

CREATE FUNCTION imi_caller_host() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT coalesce(nullif(imi_trim(current_setting('imi.host', true)), ''),
                  host(inet_client_addr()),
                  'local socket')
$$;
COMMENT ON FUNCTION imi_caller_host() IS
  'The host of the calling session: the imi.host setting (set it per transaction: '
  'SET LOCAL imi.host = ''name''), else the client''s IP address (TCP), else ''local socket'' '
  '(a Unix-socket connection on the database server''s machine). Behind a connection '
  'pooler the address is the pooler''s: set imi.host.';

ALTER TABLE worktrees ALTER COLUMN host SET DEFAULT imi_caller_host();

-- (project_id, name) was unique over every row; now (project_id, host, name) among
-- active rows. A removed worktree keeps its row (and id) and is reactivated when its
-- host registers the name again.
ALTER TABLE worktrees DROP CONSTRAINT worktrees_project_id_name_key;
CREATE UNIQUE INDEX worktrees_project_host_name_active_key
  ON worktrees (project_id, host, name) WHERE active;
-- every row of a name on a host (reactivation, lookups by name including removed ones)
CREATE INDEX worktrees_project_name_host_idx ON worktrees (project_id, name, host);
COMMENT ON TABLE worktrees IS
  'Worktrees of all projects on all hosts, with their synced git state and merge record. '
  'A row is one checkout on one host: at most one active worktree per (project_id, host, name) '
  'and per (host, path).';

CREATE OR REPLACE FUNCTION imi_register_worktree(
  p_project_id  uuid,
  p_type_name   text,
  p_name        text,
  p_branch_name text,
  p_path        text,
  p_agent_id    text DEFAULT NULL,
  p_metadata    jsonb DEFAULT '{}'::jsonb,
  p_host        text DEFAULT NULL,
  p_name_checked boolean DEFAULT false
) RETURNS worktrees
LANGUAGE plpgsql
AS $$
DECLARE
  v_host    text := coalesce(nullif(imi_trim(p_host), ''), imi_caller_host());
  v_meta    jsonb := coalesce(p_metadata, '{}'::jsonb);
  v_type_id integer;
  v_active  boolean;
  v_exists  boolean;
  v_row     worktrees;
  v_wname   text;
  v_pname   text;
  v_same    boolean;
BEGIN
  IF NOT coalesce(p_name_checked, false) THEN
    PERFORM imi_check_worktree_name(p_name);
  ELSIF p_name IS NULL OR p_name = '' THEN
    RAISE EXCEPTION 'worktree name is empty' USING ERRCODE = '22023', HINT = 'give a worktree name';
  END IF;
  IF p_branch_name IS NULL OR length(btrim(p_branch_name)) = 0 THEN
    RAISE EXCEPTION 'branch name is empty' USING ERRCODE = '22023', HINT = 'give the git branch of the worktree';
  END IF;
  IF p_path IS NULL OR length(btrim(p_path)) = 0 THEN
    RAISE EXCEPTION 'worktree path is empty' USING ERRCODE = '22023', HINT = 'give the absolute path of the worktree';
  END IF;
  IF p_agent_id IS NOT NULL AND length(btrim(p_agent_id)) = 0 THEN
    RAISE EXCEPTION 'agent id is empty' USING ERRCODE = '22023', HINT = 'give a non-empty agent id, or none';
  END IF;
  IF jsonb_typeof(v_meta) <> 'object' THEN
    RAISE EXCEPTION 'metadata must be a JSON object, got %', jsonb_typeof(v_meta) USING ERRCODE = '22023';
  END IF;
  SELECT t.id INTO v_type_id FROM worktree_types t WHERE t.name = p_type_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown worktree type "%"', p_type_name
      USING ERRCODE = '22023', HINT = 'see the known types with `imi types list`';
  END IF;
  -- FOR SHARE: a concurrent deactivate_project waits for us (and we see its result)
  SELECT p.active INTO v_active FROM projects p WHERE p.id = p_project_id FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no project with id %', p_project_id
      USING ERRCODE = 'P0002', HINT = 'register the project first (imi init)';
  ELSIF NOT v_active THEN
    RAISE EXCEPTION 'project % is inactive', p_project_id
      USING ERRCODE = 'P0002', HINT = 'register the project again (imi init) to reactivate it';
  END IF;

  FOR attempt IN 1..50 LOOP
    -- this host's row of the name: the active one, else the most recently updated
    SELECT * INTO v_row FROM worktrees w
     WHERE w.project_id = p_project_id AND w.name = p_name AND w.host = v_host
     ORDER BY w.active DESC, w.updated_at DESC, w.id DESC
     LIMIT 1
     FOR UPDATE;
    v_exists := FOUND;
    IF v_exists AND v_row.active THEN
      IF v_row.path = p_path THEN
        RETURN v_row; -- idempotent
      END IF;
      RAISE EXCEPTION 'worktree "%" is already registered on % at %', p_name, v_row.host, v_row.path
        USING ERRCODE = '23505', HINT = 'remove it first (imi remove), or choose another name';
    END IF;

    SELECT w.name, p.name, (w.project_id = p_project_id AND w.name = p_name)
      INTO v_wname, v_pname, v_same
      FROM worktrees w JOIN projects p ON p.id = w.project_id
     WHERE w.host = v_host AND w.path = p_path AND w.active
       AND w.id IS DISTINCT FROM v_row.id
     LIMIT 1;
    IF FOUND AND v_same THEN
      -- another session registered this very worktree since our first look
      CONTINUE;
    ELSIF FOUND THEN
      RAISE EXCEPTION 'path % on host % is already registered to worktree "%" of project "%"',
        p_path, v_host, v_wname, v_pname
        USING ERRCODE = '23505', HINT = 'remove that worktree first, or choose another path';
    END IF;

    IF v_exists THEN
      -- reactivation: values from the input, old merge record / owner / state cleared
      BEGIN
        UPDATE worktrees
           SET type_id = v_type_id,
               branch_name = p_branch_name,
               path = p_path,
               agent_id = p_agent_id,
               metadata = v_meta,
               uncommitted_files_count = 0,
               ahead_of_trunk = 0,
               behind_trunk = 0,
               last_commit_hash = NULL,
               last_commit_message = NULL,
               last_sync_at = NULL,
               merged_at = NULL,
               merged_by = NULL,
               merge_commit_hash = NULL,
               active = true
         WHERE id = v_row.id AND NOT active
        RETURNING * INTO v_row;
        IF FOUND THEN
          RETURN v_row;
        END IF;
      EXCEPTION WHEN unique_violation THEN
        NULL; -- another session registered the name or the path first: look again
      END;
      CONTINUE;
    END IF;

    INSERT INTO worktrees (project_id, type_id, name, branch_name, path, host, agent_id, metadata)
    VALUES (p_project_id, v_type_id, p_name, p_branch_name, p_path, v_host, p_agent_id, v_meta)
    ON CONFLICT (project_id, host, name) WHERE active DO NOTHING
    RETURNING * INTO v_row;
    IF FOUND THEN
      RETURN v_row;
    END IF;
    -- lost a race for (project_id, host, name): look again
  END LOOP;
  RAISE EXCEPTION 'could not register worktree "%": too many concurrent changes to it', p_name
    USING ERRCODE = '40001', HINT = 'try again';
END
$$;
COMMENT ON FUNCTION imi_register_worktree(uuid, text, text, text, text, text, jsonb, text, boolean) IS
  'Core of register_worktree returning the whole row; also takes the host (default: '
  'imi_caller_host(): the imi.host setting, else the client address). p_name_checked = true '
  'skips the name rules (imi_check_worktree_name): the Rust store has applied '
  'naming::validate_worktree_name.';

COMMENT ON FUNCTION register_worktree(uuid, text, text, text, text, text, jsonb) IS
  'Registers a worktree of an active project on the caller''s host (imi_caller_host(): the '
  'imi.host setting, else the client address) and returns its id. Idempotent per (project, '
  'host, name) when the path matches; an active worktree of that name at another path on '
  'this host, or another active worktree at the same host and path, is a conflict (23505). '
  'The same name on another host is another row. A removed worktree is reactivated with the '
  'given values and its merge record, owner and git state cleared. Unknown type: 22023 '
  'naming the type; unknown or inactive project: P0002.';

CREATE OR REPLACE FUNCTION imi_worktree_by_path(p_path text, p_host text DEFAULT NULL) RETURNS SETOF worktrees
LANGUAGE sql STABLE
AS $$
  SELECT w.* FROM worktrees w
   WHERE w.active
     AND (nullif(p_host, '') IS NULL OR w.host = p_host)
     AND w.path IN (CASE WHEN rtrim(p_path, '/') = '' THEN p_path ELSE rtrim(p_path, '/') END,
                    CASE WHEN rtrim(p_path, '/') = '' THEN p_path ELSE rtrim(p_path, '/') END || '/')
   ORDER BY w.host = imi_caller_host() DESC, w.host COLLATE "C", w.id
$$;
COMMENT ON FUNCTION imi_worktree_by_path(text, text) IS
  'The active worktrees (whole rows) at a path on a host, or on every host for a NULL host '
  '(the caller''s host first); a trailing / is ignored.';

-- The result gains a host column: a function's result type cannot change in place.
DROP FUNCTION get_worktree_by_path(text);
CREATE FUNCTION get_worktree_by_path(p_path text, p_host text DEFAULT NULL)
RETURNS TABLE (id uuid, project_id uuid, project_name text, worktree_name text, branch_name text,
               type_name text, agent_id text, active boolean, host text)
LANGUAGE sql VOLATILE  -- as 0004 made the read functions: sees writes of the same statement
AS $$
  SELECT w.id, w.project_id, p.name, w.name, w.branch_name, t.name, w.agent_id, w.active, w.host
  FROM imi_worktree_by_path(p_path, p_host) w
  JOIN projects p ON p.id = w.project_id
  JOIN worktree_types t ON t.id = w.type_id
$$;
COMMENT ON FUNCTION get_worktree_by_path(text, text) IS
  'The active worktree registered at this path (a trailing / is ignored) with its project '
  'and type names and its host: on host p_host, or on any host when p_host is NULL (one row '
  'per host, the caller''s host first); no row if none.';

-- imi db roles ran before: the new functions get the same grants as the old ones
-- (a new function is executable by PUBLIC until revoked).
DO $grants$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_reader')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_auditor')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_writer') THEN
    REVOKE ALL ON FUNCTION get_worktree_by_path(text, text), imi_caller_host() FROM PUBLIC, imi_auditor;
    GRANT EXECUTE ON FUNCTION get_worktree_by_path(text, text), imi_caller_host() TO imi_reader, imi_writer;
  END IF;
END
$grants$;
