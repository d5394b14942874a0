-- imi registry: the seed's SQL surface for programs written against it (issue 9,
-- items 1, 2 and 4). See docs/store-semantics.md, "The seed's SQL clients".
--
-- 1. The four views start with the seed's columns in the seed's order (new columns
--    follow); v_inflight_work has the seed's `id` again (worktree_id stays). The
--    seed's trigger function names exist; worktree_types.color defaults to #6B7280;
--    maintenance_vacuum() says to use `imi db maintain`.
-- 2. Plain INSERTs: projects get their origin_key (and a remote without credentials)
--    from a trigger; activities get their project and worktree names from theirs.
-- 4. get_project_by_origin finds active projects only; search_projects matches parts
--    of the remote and lists active projects for an empty query; the read functions
--    of §3.4 are VOLATILE so that they see writes made earlier in the same statement;
--    register_project's default trunk path comes from a home setting, never `~`.

-- ---------------------------------------------------------------------------------
-- Views: the seed's columns first, in its order (CREATE OR REPLACE VIEW cannot
-- reorder columns, so they are dropped and created again, with their grants).
-- No function depends on them (SQL function bodies are not parsed into dependencies).
-- ---------------------------------------------------------------------------------

DROP VIEW v_recent_agent_activity, v_inflight_work, v_worktrees_detail, v_projects_summary;

CREATE VIEW v_projects_summary AS
SELECT p.id,
       p.name,
       p.remote_origin,
       p.trunk_path,
       p.created_at,
       p.updated_at,
       coalesce(s.active_worktrees_count, 0)      AS active_worktrees_count,
       coalesce(s.uncommitted_worktrees_count, 0) AS uncommitted_worktrees_count,
       coalesce(s.unmerged_worktrees_count, 0)    AS unmerged_worktrees_count,
       s.last_worktree_activity,
       -- imi's columns
       p.origin_key,
       p.default_branch,
       p.description,
       p.metadata,
       p.active
FROM projects p
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE w.active)                                   AS active_worktrees_count,
         count(*) FILTER (WHERE w.active AND w.uncommitted_files_count > 0) AS uncommitted_worktrees_count,
         count(*) FILTER (WHERE w.active AND w.merged_at IS NULL)           AS unmerged_worktrees_count,
         max(w.updated_at)                                                  AS last_worktree_activity
  FROM worktrees w
  WHERE w.project_id = p.id
) s ON true
WHERE p.active
ORDER BY p.name, p.id;
COMMENT ON VIEW v_projects_summary IS
  'Active projects with counts of their active, uncommitted and unmerged worktrees and '
  'the last update of any of their worktrees. The seed''s ten columns first, in its order.';

CREATE VIEW v_worktrees_detail AS
SELECT w.id,
       w.project_id,
       p.name            AS project_name,
       p.remote_origin,
       w.name            AS worktree_name,
       w.branch_name,
       w.path,
       t.name            AS type_name,
       t.branch_prefix,
       t.worktree_prefix,
       t.color           AS type_color,
       t.icon            AS type_icon,
       w.agent_id,
       w.has_uncommitted_changes,
       w.uncommitted_files_count,
       w.ahead_of_trunk,
       w.behind_trunk,
       w.last_sync_at,
       w.merged_at,
       w.created_at,
       w.updated_at,
       w.active,
       -- imi's columns
       w.type_id,
       w.host,
       imi_work_status(w.uncommitted_files_count, w.ahead_of_trunk, w.behind_trunk) AS status,
       w.last_commit_hash,
       w.last_commit_message,
       w.merged_by,
       w.merge_commit_hash,
       w.metadata
FROM worktrees w
JOIN projects p ON p.id = w.project_id
JOIN worktree_types t ON t.id = w.type_id;
COMMENT ON VIEW v_worktrees_detail IS
  'Every worktree (active or not: filter on active) joined with its project and type. '
  'The seed''s 22 columns first, in its order.';

CREATE VIEW v_inflight_work AS
SELECT w.id,
       w.project_id,
       p.name                    AS project_name,
       w.name                    AS worktree_name,
       w.branch_name,
       w.agent_id,
       w.has_uncommitted_changes,
       w.uncommitted_files_count,
       w.ahead_of_trunk,
       w.behind_trunk,
       w.last_sync_at,
       imi_work_status(w.uncommitted_files_count, w.ahead_of_trunk, w.behind_trunk) AS status,
       w.created_at,
       w.updated_at,
       -- imi's columns
       w.id                      AS worktree_id,
       p.remote_origin,
       t.name                    AS type_name,
       w.path,
       w.host,
       w.last_commit_hash,
       w.last_commit_message
FROM worktrees w
JOIN projects p ON p.id = w.project_id
JOIN worktree_types t ON t.id = w.type_id
WHERE w.active
  AND w.merged_at IS NULL
  AND (w.uncommitted_files_count > 0 OR w.ahead_of_trunk > 0 OR w.behind_trunk > 0)
ORDER BY w.updated_at DESC, w.id;
COMMENT ON VIEW v_inflight_work IS
  'In-flight work (SPEC §3.3): active, unmerged worktrees with uncommitted files or '
  'commits ahead of / behind trunk, with their status, most recently updated first. '
  'The seed''s 14 columns first, in its order (id is the worktree id; worktree_id too).';

CREATE VIEW v_recent_agent_activity AS
SELECT a.id,
       a.agent_id,
       a.activity_type,
       a.description,
       a.file_path,
       a.created_at,
       coalesce(a.worktree_name, w.name) AS worktree_name,
       coalesce(a.project_name, p.name)  AS project_name,
       t.name                            AS worktree_type,
       -- imi's columns
       a.metadata,
       a.worktree_id,
       coalesce(a.project_id, w.project_id) AS project_id
FROM agent_activities a
LEFT JOIN worktrees w ON w.id = a.worktree_id
LEFT JOIN projects p ON p.id = coalesce(a.project_id, w.project_id)
LEFT JOIN worktree_types t ON t.id = w.type_id
ORDER BY a.created_at DESC, a.id DESC
LIMIT 1000;
COMMENT ON VIEW v_recent_agent_activity IS
  'The last 1000 agent activities, newest first, with worktree, project and type names '
  '(names stay after the worktree is pruned; worktree_type is then NULL). The seed''s '
  'nine columns first, in its order.';

-- The grants `imi db roles` gives the views (admin.rs), when the roles exist.
DO $grants$
DECLARE
  s text := current_schema();
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_reader')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_writer') THEN
    EXECUTE format('GRANT SELECT ON %I.v_projects_summary, %I.v_worktrees_detail, %I.v_inflight_work, '
                   '%I.v_recent_agent_activity TO imi_reader, imi_writer', s, s, s, s);
  END IF;
END
$grants$;

-- ---------------------------------------------------------------------------------
-- The seed's trigger functions and column default
-- ---------------------------------------------------------------------------------

-- Same rule as imi_touch_updated_at (imi's own triggers): updated_at moves on every
-- update unless the statement sets it explicitly.
CREATE FUNCTION update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION update_updated_at_column() IS
  'The seed''s name for imi_touch_updated_at: a BEFORE UPDATE trigger of any table with an '
  'updated_at column stamps it with now() unless the update sets it explicitly.';

CREATE FUNCTION sync_uncommitted_changes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.has_uncommitted_changes := NEW.uncommitted_files_count > 0;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION sync_uncommitted_changes() IS
  'The seed''s name for imi_sync_has_uncommitted: a BEFORE INSERT OR UPDATE trigger of any '
  'table with these columns sets has_uncommitted_changes := uncommitted_files_count > 0.';

ALTER TABLE worktree_types ALTER COLUMN color SET DEFAULT '#6B7280';

CREATE FUNCTION maintenance_vacuum() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'maintenance_vacuum() cannot vacuum: VACUUM cannot run inside a function or transaction'
    USING ERRCODE = '0A000',
          HINT = 'run `imi db maintain` (VACUUM ANALYZE of the four tables, retention clean-up, '
                 'pruning), or VACUUM ANALYZE projects, worktrees, worktree_types, agent_activities '
                 'outside a transaction';
END
$$;
COMMENT ON FUNCTION maintenance_vacuum() IS
  'The seed''s maintenance entry point. VACUUM cannot run inside a function, so this raises '
  '0A000 pointing at `imi db maintain`, the client command that does the maintenance.';

-- ---------------------------------------------------------------------------------
-- Plain INSERTs (item 2)
-- ---------------------------------------------------------------------------------

-- A project row written without origin_key (a plain INSERT, a CSV import) gets the
-- canonical key of its remote, or of its trunk path without a remote, and its remote
-- is stored without credentials, as register_project does. A duplicate identity is
-- then refused by projects_origin_key_active_key (23505). An UPDATE that changes the
-- remote without setting origin_key recomputes the key. imi's own writes set
-- origin_key, so the WHEN clauses skip the trigger for them.
CREATE FUNCTION imi_projects_identity() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF NEW.remote_origin IS NOT NULL THEN
    NEW.remote_origin := imi_sanitize_remote(NEW.remote_origin);
    NEW.origin_key := imi_origin_key(NEW.remote_origin);
  ELSIF TG_OP = 'INSERT' AND NEW.trunk_path IS NOT NULL AND length(btrim(NEW.trunk_path)) > 0 THEN
    NEW.origin_key := imi_local_key(NEW.trunk_path);
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION imi_projects_identity() IS
  'BEFORE INSERT / UPDATE trigger of projects for rows written without an origin_key: '
  'origin_key := imi_origin_key(remote_origin) (or imi_local_key(trunk_path) without a '
  'remote) and the remote sanitized.';

CREATE TRIGGER projects_identity_insert BEFORE INSERT ON projects
  FOR EACH ROW WHEN (NEW.origin_key IS NULL)
  EXECUTE FUNCTION imi_projects_identity();
CREATE TRIGGER projects_identity_update BEFORE UPDATE OF remote_origin ON projects
  FOR EACH ROW WHEN (NEW.remote_origin IS DISTINCT FROM OLD.remote_origin
                     AND NEW.origin_key IS NOT DISTINCT FROM OLD.origin_key
                     AND NEW.remote_origin IS NOT NULL)
  EXECUTE FUNCTION imi_projects_identity();

-- An activity written with a worktree but without its names (a plain INSERT, as the
-- seed's file monitor does) gets the project id and the project and worktree names
-- from the worktree, so that it stays readable after the worktree is pruned.
-- log_activity fills them itself, so the WHEN clause skips the trigger for it.
CREATE FUNCTION imi_activities_names() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  v_pid   uuid;
  v_pname text;
  v_wname text;
BEGIN
  SELECT w.project_id, p.name, w.name INTO v_pid, v_pname, v_wname
    FROM worktrees w JOIN projects p ON p.id = w.project_id
   WHERE w.id = NEW.worktree_id;
  IF FOUND THEN
    NEW.project_id := coalesce(NEW.project_id, v_pid);
    NEW.project_name := coalesce(NEW.project_name, v_pname);
    NEW.worktree_name := coalesce(NEW.worktree_name, v_wname);
  END IF;
  RETURN NEW; -- an unknown worktree: the foreign key refuses the row (23503)
END
$$;
COMMENT ON FUNCTION imi_activities_names() IS
  'BEFORE INSERT trigger of agent_activities for rows with a worktree but without its '
  'names: copies the project id and the project and worktree names from the worktree.';

-- Rows written so before this migration get their names now (one behaviour for old
-- and new rows, and copies of the registry stay exact).
UPDATE agent_activities a
   SET project_id = coalesce(a.project_id, w.project_id),
       project_name = coalesce(a.project_name, p.name),
       worktree_name = coalesce(a.worktree_name, w.name)
  FROM worktrees w JOIN projects p ON p.id = w.project_id
 WHERE w.id = a.worktree_id
   AND (a.project_id IS NULL OR a.project_name IS NULL OR a.worktree_name IS NULL);

CREATE TRIGGER agent_activities_names BEFORE INSERT ON agent_activities
  FOR EACH ROW WHEN (NEW.worktree_id IS NOT NULL
                     AND (NEW.project_id IS NULL OR NEW.project_name IS NULL OR NEW.worktree_name IS NULL))
  EXECUTE FUNCTION imi_activities_names();

-- ---------------------------------------------------------------------------------
-- Lookups (item 4)
-- ---------------------------------------------------------------------------------

-- The default trunk path of register_project for SQL callers: <home>/code/<name>/
-- trunk-<branch>, where <home> is the imi.home setting (SET, SET LOCAL, or ALTER ROLE
-- / ALTER DATABASE ... SET imi.home), else the seed's imi.home_dir, else the seed's
-- rule /home/<session user>. Never `~` (nothing would expand it).
CREATE FUNCTION imi_default_trunk_path(p_name text, p_default_branch text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT rtrim(coalesce(nullif(imi_trim(current_setting('imi.home', true)), ''),
                        nullif(imi_trim(current_setting('imi.home_dir', true)), ''),
                        '/home/' || session_user), '/')
         || '/code/' || p_name || '/trunk-' || coalesce(p_default_branch, 'main')
$$;
COMMENT ON FUNCTION imi_default_trunk_path(text, text) IS
  'register_project''s default trunk path: <home>/code/<name>/trunk-<branch> with <home> '
  'the imi.home setting, else imi.home_dir, else /home/<session_user>; never ~.';

CREATE OR REPLACE FUNCTION imi_register_project(
  p_name             text,
  p_remote_origin    text,
  p_default_branch   text DEFAULT 'main',
  p_trunk_path       text DEFAULT NULL,
  p_metadata         jsonb DEFAULT '{}'::jsonb,
  p_description      text DEFAULT NULL,
  p_origin_key       text DEFAULT NULL,
  p_remote_sanitized text DEFAULT NULL
) RETURNS projects
LANGUAGE plpgsql
AS $$
DECLARE
  v_meta   jsonb := coalesce(p_metadata, '{}'::jsonb);
  v_remote text;
  v_key    text;
  v_new_trunk text;
  v_id     uuid;
  v_active boolean;
  v_row    projects;
BEGIN
  IF p_name IS NULL OR length(btrim(p_name)) = 0 THEN
    RAISE EXCEPTION 'project name is empty' USING ERRCODE = '22023', HINT = 'give a non-empty project name';
  END IF;
  IF p_default_branch IS NOT NULL AND length(btrim(p_default_branch)) = 0 THEN
    RAISE EXCEPTION 'default branch is empty' USING ERRCODE = '22023', HINT = 'give a branch name such as main';
  END IF;
  IF p_trunk_path IS NOT NULL AND length(btrim(p_trunk_path)) = 0 THEN
    RAISE EXCEPTION 'trunk path is empty' USING ERRCODE = '22023', HINT = 'give the absolute path of the trunk worktree';
  END IF;
  IF jsonb_typeof(v_meta) <> 'object' THEN
    RAISE EXCEPTION 'metadata must be a JSON object, got %', jsonb_typeof(v_meta) USING ERRCODE = '22023';
  END IF;
  v_new_trunk := coalesce(p_trunk_path, imi_default_trunk_path(p_name, p_default_branch));
  -- The Rust store passes the key and the sanitized remote it computed with
  -- imi_core::remote (the same rules: the store's tests compare both); anyone else
  -- leaves them NULL and they are computed here.
  IF p_remote_origin IS NOT NULL THEN
    v_remote := coalesce(p_remote_sanitized, imi_sanitize_remote(p_remote_origin));
    v_key := coalesce(nullif(p_origin_key, ''), imi_origin_key(p_remote_origin));
  ELSE
    v_key := coalesce(nullif(p_origin_key, ''), imi_local_key(v_new_trunk));
  END IF;

  FOR attempt IN 1..50 LOOP
    -- one look at the key (two index probes): the active row, else the most
    -- recently updated inactive one, else nothing
    SELECT k.id, k.active INTO v_id, v_active
      FROM ((SELECT p.id, p.active, p.updated_at FROM projects p
              WHERE p.origin_key = v_key AND p.active)
            UNION ALL
            (SELECT p.id, p.active, p.updated_at FROM projects p
              WHERE p.origin_key = v_key AND NOT p.active
              ORDER BY p.updated_at DESC, p.id DESC
              LIMIT 1)) k
     ORDER BY k.active DESC
     LIMIT 1;

    IF NOT FOUND THEN
      -- 3. a new project (the usual case: one probe, one insert)
      INSERT INTO projects (name, remote_origin, origin_key, default_branch, trunk_path, description, metadata)
      VALUES (p_name, v_remote, v_key, coalesce(p_default_branch, 'main'), v_new_trunk, p_description, v_meta)
      ON CONFLICT (origin_key) WHERE active DO NOTHING
      RETURNING * INTO v_row;
      IF FOUND THEN
        RETURN v_row;
      END IF;
      CONTINUE; -- another session inserted this key first: update its row next round
    END IF;

    IF v_active THEN
      -- 1. the active project with this key: apply the given values
      UPDATE projects
         SET name = p_name,
             remote_origin = v_remote,
             trunk_path = coalesce(p_trunk_path, trunk_path),
             default_branch = coalesce(p_default_branch, default_branch),
             description = coalesce(p_description, description),
             metadata = metadata || v_meta
       WHERE id = v_id AND active
      RETURNING * INTO v_row;
      IF FOUND THEN
        RETURN v_row;
      END IF;
      CONTINUE; -- deactivated meanwhile: look again
    END IF;

    -- 2. reactivate the most recently updated inactive one
    BEGIN
      UPDATE projects
         SET active = true,
             name = p_name,
             remote_origin = v_remote,
             trunk_path = coalesce(p_trunk_path, trunk_path),
             default_branch = coalesce(p_default_branch, default_branch),
             description = coalesce(p_description, description),
             metadata = metadata || v_meta
       WHERE id = v_id AND NOT active
      RETURNING * INTO v_row;
      IF FOUND THEN
        RETURN v_row;
      END IF;
    EXCEPTION WHEN unique_violation THEN
      NULL; -- another session activated this key first: take its row next round
    END;
  END LOOP;
  RAISE EXCEPTION 'could not register project "%": too many concurrent changes to it', p_name
    USING ERRCODE = '40001', HINT = 'try again';
END
$$;

COMMENT ON FUNCTION register_project(text, text, text, text, jsonb) IS
  'Registers a project idempotently by the canonical form of its remote (or, with a NULL '
  'remote, its trunk path) and returns its id. An active project with that key is updated '
  '(name, remote, given branch and trunk path, metadata merged); else the most recently '
  'updated inactive one is reactivated; else a row is inserted. The trunk path defaults to '
  '<home>/code/<name>/trunk-<branch>, <home> being the imi.home setting, else imi.home_dir, '
  'else /home/<session user> (imi_default_trunk_path). A NULL default branch keeps the '
  'existing one (main for a new project). Safe under concurrent calls: one row, one id.';

-- Active projects only, like the seed (and like the Rust stores' get_project_by_origin,
-- which report an inactive one as not found, saying it is deactivated).
CREATE OR REPLACE FUNCTION get_project_by_origin(p_remote_origin text)
RETURNS TABLE (id uuid, name text, remote_origin text, default_branch text, trunk_path text,
               active boolean, created_at timestamptz, updated_at timestamptz)
LANGUAGE sql VOLATILE
AS $$
  SELECT p.id, p.name, p.remote_origin, p.default_branch, p.trunk_path, p.active, p.created_at, p.updated_at
  FROM imi_project_by_origin(p_remote_origin) p
  WHERE p.active
$$;
COMMENT ON FUNCTION get_project_by_origin(text) IS
  'Finds the active project with the canonical key of any form of the given remote (or of '
  'its trunk path); no row if there is none (a deactivated project is not returned: '
  'register it again to reactivate it).';

-- Substrings of the remote (owner, group, host) match too; an empty query lists the
-- active projects, most recently updated first. Mirrored by the SQLite store.
CREATE OR REPLACE FUNCTION search_projects(p_query text)
RETURNS TABLE (id uuid, name text, remote_origin text, trunk_path text, relevance real)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_q text := imi_trim(coalesce(p_query, ''));
BEGIN
  IF v_q = '' THEN
    RETURN QUERY
    SELECT p.id, p.name, p.remote_origin, p.trunk_path, 0::real
    FROM projects p
    WHERE p.active
    ORDER BY p.updated_at DESC, p.name COLLATE "C", p.id
    LIMIT 20;
    RETURN;
  END IF;
  RETURN QUERY
  SELECT p.id, p.name, p.remote_origin, p.trunk_path, s.rel
  FROM projects p
  CROSS JOIN LATERAL (
    SELECT greatest(similarity(p.name, v_q),
                    similarity(coalesce(p.remote_origin, ''), v_q),
                    CASE WHEN strpos(lower(p.name), lower(v_q)) > 0 THEN 0.5::real ELSE 0::real END,
                    CASE WHEN strpos(lower(coalesce(p.remote_origin, '')), lower(v_q)) > 0
                         THEN 0.4::real ELSE 0::real END) AS rel
  ) s
  WHERE p.active AND s.rel >= 0.2
  ORDER BY s.rel DESC, p.name COLLATE "C", p.id
  LIMIT 20;
END
$$;
COMMENT ON FUNCTION search_projects(text) IS
  'Fuzzy search of active projects: relevance = greatest(similarity(name, q), '
  'similarity(remote_origin, q), 0.5 when the name contains q, 0.4 when the remote contains '
  'q (owner, group, host), case-insensitively) with pg_trgm; rows with relevance >= 0.2, '
  'best first, at most 20. An empty query lists active projects (relevance 0), most '
  'recently updated first, at most 20.';

-- VOLATILE: a read function called in the same statement as a write (e.g.
-- SELECT get_project_working_path(register_project(...))) sees that write. A STABLE
-- function reads with the snapshot the statement started with and would not.
ALTER FUNCTION get_worktree_by_path(text) VOLATILE;
ALTER FUNCTION get_project_working_path(uuid, text) VOLATILE;
ALTER FUNCTION get_inflight_work(uuid) VOLATILE;
ALTER FUNCTION get_agent_recent_work(text, integer) VOLATILE;
ALTER FUNCTION get_registry_stats() VOLATILE;

-- New functions: nobody but imi's roles may call them (as `imi db roles` sets up).
DO $grants$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['update_updated_at_column()', 'sync_uncommitted_changes()',
                           'maintenance_vacuum()', 'imi_projects_identity()',
                           'imi_activities_names()', 'imi_default_trunk_path(text, text)'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_writer') THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO imi_writer', f);
    END IF;
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_reader') THEN
    GRANT EXECUTE ON FUNCTION imi_default_trunk_path(text, text) TO imi_reader;
  END IF;
END
$grants$;
