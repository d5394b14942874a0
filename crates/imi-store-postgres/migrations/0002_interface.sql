-- imi registry: the SQL interface of SPEC §3.4 (views and functions).
--
-- Behaviour follows docs/store-semantics.md; the Rust store calls these functions (or
-- their row-returning imi_* cores) so that there is one definition of each operation.
-- Errors: 22023 invalid input, P0002 not found, 23505 conflict.

-- ---------------------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------------------

CREATE VIEW v_inflight_work AS
SELECT w.id                      AS worktree_id,
       w.project_id,
       p.name                    AS project_name,
       p.remote_origin,
       w.name                    AS worktree_name,
       w.branch_name,
       t.name                    AS type_name,
       w.path,
       w.host,
       w.agent_id,
       imi_work_status(w.uncommitted_files_count, w.ahead_of_trunk, w.behind_trunk) AS status,
       w.has_uncommitted_changes,
       w.uncommitted_files_count,
       w.ahead_of_trunk,
       w.behind_trunk,
       w.last_commit_hash,
       w.last_commit_message,
       w.last_sync_at,
       w.created_at,
       w.updated_at
FROM worktrees w
JOIN projects p ON p.id = w.project_id
JOIN worktree_types t ON t.id = w.type_id
WHERE w.active
  AND w.merged_at IS NULL
  AND (w.uncommitted_files_count > 0 OR w.ahead_of_trunk > 0 OR w.behind_trunk > 0)
ORDER BY w.updated_at DESC, w.id;
COMMENT ON VIEW v_inflight_work IS
  'In-flight work (SPEC §3.3): active, unmerged worktrees with uncommitted files or '
  'commits ahead of / behind trunk, with their status, most recently updated first.';

CREATE VIEW v_projects_summary AS
SELECT p.id,
       p.name,
       p.remote_origin,
       p.origin_key,
       p.default_branch,
       p.trunk_path,
       p.description,
       p.metadata,
       p.created_at,
       p.updated_at,
       p.active,
       coalesce(s.active_worktrees_count, 0)      AS active_worktrees_count,
       coalesce(s.uncommitted_worktrees_count, 0) AS uncommitted_worktrees_count,
       coalesce(s.unmerged_worktrees_count, 0)    AS unmerged_worktrees_count,
       s.last_worktree_activity
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
  'the last update of any of their worktrees.';

CREATE VIEW v_worktrees_detail AS
SELECT w.id,
       w.project_id,
       p.name            AS project_name,
       p.remote_origin,
       w.name            AS worktree_name,
       w.type_id,
       t.name            AS type_name,
       t.branch_prefix,
       t.worktree_prefix,
       t.color           AS type_color,
       t.icon            AS type_icon,
       w.branch_name,
       w.path,
       w.host,
       w.agent_id,
       imi_work_status(w.uncommitted_files_count, w.ahead_of_trunk, w.behind_trunk) AS status,
       w.has_uncommitted_changes,
       w.uncommitted_files_count,
       w.ahead_of_trunk,
       w.behind_trunk,
       w.last_commit_hash,
       w.last_commit_message,
       w.last_sync_at,
       w.merged_at,
       w.merged_by,
       w.merge_commit_hash,
       w.metadata,
       w.created_at,
       w.updated_at,
       w.active
FROM worktrees w
JOIN projects p ON p.id = w.project_id
JOIN worktree_types t ON t.id = w.type_id;
COMMENT ON VIEW v_worktrees_detail IS
  'Every worktree (active or not: filter on active) joined with its project and type.';

CREATE VIEW v_recent_agent_activity AS
SELECT a.id,
       a.agent_id,
       a.activity_type,
       a.description,
       a.file_path,
       a.metadata,
       a.created_at,
       a.worktree_id,
       coalesce(a.worktree_name, w.name) AS worktree_name,
       coalesce(a.project_id, w.project_id) AS project_id,
       coalesce(a.project_name, p.name)  AS project_name,
       t.name                            AS worktree_type
FROM agent_activities a
LEFT JOIN worktrees w ON w.id = a.worktree_id
LEFT JOIN projects p ON p.id = coalesce(a.project_id, w.project_id)
LEFT JOIN worktree_types t ON t.id = w.type_id
ORDER BY a.created_at DESC, a.id DESC
LIMIT 1000;
COMMENT ON VIEW v_recent_agent_activity IS
  'The last 1000 agent activities, newest first, with worktree, project and type names '
  '(names stay after the worktree is pruned; worktree_type is then NULL).';

-- ---------------------------------------------------------------------------------
-- Projects
-- ---------------------------------------------------------------------------------

CREATE FUNCTION imi_register_project(
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
  v_new_trunk := coalesce(p_trunk_path,
    coalesce(nullif(current_setting('imi.home', true), ''), '~') || '/code/' || p_name
      || '/trunk-' || coalesce(p_default_branch, 'main'));
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
COMMENT ON FUNCTION imi_register_project(text, text, text, text, jsonb, text, text, text) IS
  'Core of register_project returning the whole row; also takes a description. '
  'NULL default branch / trunk path / description keep the existing values. '
  'p_origin_key and p_remote_sanitized, when given, are trusted to be imi_origin_key / '
  'imi_local_key and imi_sanitize_remote of the input (the Rust store computes them with '
  'the same rules); NULL computes them here.';

CREATE FUNCTION register_project(
  p_name           text,
  p_remote_origin  text,
  p_default_branch text DEFAULT 'main',
  p_trunk_path     text DEFAULT NULL,
  p_metadata       jsonb DEFAULT '{}'::jsonb
) RETURNS uuid
LANGUAGE sql
AS $$
  SELECT r.id FROM imi_register_project(p_name, p_remote_origin, p_default_branch, p_trunk_path, p_metadata, NULL) r
$$;
COMMENT ON FUNCTION register_project(text, text, text, text, jsonb) IS
  'Registers a project idempotently by the canonical form of its remote (or, with a NULL '
  'remote, its trunk path) and returns its id. An active project with that key is updated '
  '(name, remote, given branch and trunk path, metadata merged); else the most recently '
  'updated inactive one is reactivated; else a row is inserted. The trunk path defaults to '
  '<imi.home or ~>/code/<name>/trunk-<branch>. A NULL default branch keeps the existing one '
  '(main for a new project). Safe under concurrent calls: one row, one id.';

CREATE FUNCTION imi_project_by_origin(p_remote_origin text) RETURNS SETOF projects
LANGUAGE sql STABLE
AS $$
  SELECT k.* FROM (
    (SELECT p.* FROM projects p
      WHERE p.origin_key = imi_origin_key(p_remote_origin) AND p.active)
    UNION ALL
    (SELECT p.* FROM projects p
      WHERE p.origin_key = imi_origin_key(p_remote_origin) AND NOT p.active
      ORDER BY p.updated_at DESC, p.id DESC
      LIMIT 1)
  ) k
  ORDER BY k.active DESC
  LIMIT 1
$$;
COMMENT ON FUNCTION imi_project_by_origin(text) IS
  'The project (whole row) with the key of the given remote or path: the active one, else '
  'the most recently updated inactive one.';

CREATE FUNCTION get_project_by_origin(p_remote_origin text)
RETURNS TABLE (id uuid, name text, remote_origin text, default_branch text, trunk_path text,
               active boolean, created_at timestamptz, updated_at timestamptz)
LANGUAGE sql STABLE
AS $$
  SELECT p.id, p.name, p.remote_origin, p.default_branch, p.trunk_path, p.active, p.created_at, p.updated_at
  FROM imi_project_by_origin(p_remote_origin) p
$$;
COMMENT ON FUNCTION get_project_by_origin(text) IS
  'Finds a project by any form of its remote (or its trunk path): the active project with '
  'that canonical key, else the most recently updated inactive one; no row if none.';

CREATE FUNCTION deactivate_project(p_project_id uuid) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  UPDATE projects SET active = false WHERE id = p_project_id AND active;
  IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM projects WHERE id = p_project_id) THEN
    RAISE EXCEPTION 'no project with id %', p_project_id
      USING ERRCODE = 'P0002', HINT = 'list projects with `imi list --projects`';
  END IF;
  UPDATE worktrees SET active = false WHERE project_id = p_project_id AND active;
END
$$;
COMMENT ON FUNCTION deactivate_project(uuid) IS
  'Deactivates a project and all its worktrees (idempotent); P0002 for an unknown id.';

CREATE FUNCTION search_projects(p_query text)
RETURNS TABLE (id uuid, name text, remote_origin text, trunk_path text, relevance real)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v_q text := imi_trim(coalesce(p_query, ''));
BEGIN
  IF v_q = '' THEN
    RAISE EXCEPTION 'search query is empty' USING ERRCODE = '22023', HINT = 'give part of a project name or remote';
  END IF;
  RETURN QUERY
  SELECT p.id, p.name, p.remote_origin, p.trunk_path, s.rel
  FROM projects p
  CROSS JOIN LATERAL (
    SELECT greatest(similarity(p.name, v_q),
                    similarity(coalesce(p.remote_origin, ''), v_q),
                    CASE WHEN strpos(lower(p.name), lower(v_q)) > 0 THEN 0.5::real ELSE 0::real END) AS rel
  ) s
  WHERE p.active AND s.rel >= 0.2
  ORDER BY s.rel DESC, p.name COLLATE "C", p.id
  LIMIT 20;
END
$$;
COMMENT ON FUNCTION search_projects(text) IS
  'Fuzzy search of active projects: relevance = greatest(similarity(name, q), '
  'similarity(remote_origin, q), 0.5 when the name contains q case-insensitively) with '
  'pg_trgm; rows with relevance >= 0.2, best first, at most 20.';

-- ---------------------------------------------------------------------------------
-- Worktrees
-- ---------------------------------------------------------------------------------

CREATE FUNCTION imi_register_worktree(
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
  v_host    text := coalesce(nullif(p_host, ''), nullif(current_setting('imi.host', true), ''), 'localhost');
  v_meta    jsonb := coalesce(p_metadata, '{}'::jsonb);
  v_type_id integer;
  v_active  boolean;
  v_exists  boolean;
  v_row     worktrees;
  v_wname   text;
  v_pname   text;
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
    SELECT * INTO v_row FROM worktrees w
     WHERE w.project_id = p_project_id AND w.name = p_name
     FOR UPDATE;
    v_exists := FOUND;
    IF v_exists AND v_row.active THEN
      IF v_row.host = v_host AND v_row.path = p_path THEN
        RETURN v_row; -- idempotent
      END IF;
      RAISE EXCEPTION 'worktree "%" is already registered at %:%', p_name, v_row.host, v_row.path
        USING ERRCODE = '23505', HINT = 'remove it first (imi remove), or choose another name';
    END IF;

    SELECT w.name, p.name INTO v_wname, v_pname
      FROM worktrees w JOIN projects p ON p.id = w.project_id
     WHERE w.host = v_host AND w.path = p_path AND w.active
       AND w.id IS DISTINCT FROM v_row.id
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'path % on host % is already registered to worktree "%" of project "%"',
        p_path, v_host, v_wname, v_pname
        USING ERRCODE = '23505', HINT = 'remove that worktree first, or choose another path';
    END IF;

    IF v_exists THEN
      -- reactivation: values from the input, old merge record / owner / state cleared
      UPDATE worktrees
         SET type_id = v_type_id,
             branch_name = p_branch_name,
             path = p_path,
             host = v_host,
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
       WHERE id = v_row.id
      RETURNING * INTO v_row;
      RETURN v_row;
    END IF;

    INSERT INTO worktrees (project_id, type_id, name, branch_name, path, host, agent_id, metadata)
    VALUES (p_project_id, v_type_id, p_name, p_branch_name, p_path, v_host, p_agent_id, v_meta)
    ON CONFLICT (project_id, name) DO NOTHING
    RETURNING * INTO v_row;
    IF FOUND THEN
      RETURN v_row;
    END IF;
    -- lost a race for (project_id, name): look again
  END LOOP;
  RAISE EXCEPTION 'could not register worktree "%": too many concurrent changes to it', p_name
    USING ERRCODE = '40001', HINT = 'try again';
END
$$;
COMMENT ON FUNCTION imi_register_worktree(uuid, text, text, text, text, text, jsonb, text, boolean) IS
  'Core of register_worktree returning the whole row; also takes the host (default: the '
  'imi.host setting, else localhost). p_name_checked = true skips the name rules '
  '(imi_check_worktree_name): the Rust store has applied naming::validate_worktree_name.';

CREATE FUNCTION register_worktree(
  p_project_id  uuid,
  p_type_name   text,
  p_name        text,
  p_branch_name text,
  p_path        text,
  p_agent_id    text DEFAULT NULL,
  p_metadata    jsonb DEFAULT '{}'::jsonb
) RETURNS uuid
LANGUAGE sql
AS $$
  SELECT r.id FROM imi_register_worktree(p_project_id, p_type_name, p_name, p_branch_name, p_path,
                                         p_agent_id, p_metadata, NULL) r
$$;
COMMENT ON FUNCTION register_worktree(uuid, text, text, text, text, text, jsonb) IS
  'Registers a worktree of an active project on this host (imi.host) and returns its id. '
  'Idempotent per (project, name) when host and path match; an active worktree of that name '
  'elsewhere, or another active worktree at the same host and path, is a conflict (23505). '
  'A removed worktree is reactivated with the given values and its merge record, owner and '
  'git state cleared. Unknown type: 22023 naming the type; unknown or inactive project: P0002.';

CREATE FUNCTION imi_update_git_state(
  p_worktree_id         uuid,
  p_uncommitted_count   integer DEFAULT NULL,
  p_ahead               integer DEFAULT NULL,
  p_behind              integer DEFAULT NULL,
  p_last_commit_hash    text DEFAULT NULL,
  p_last_commit_message text DEFAULT NULL,
  p_has_uncommitted     boolean DEFAULT NULL
) RETURNS worktrees
LANGUAGE plpgsql
AS $$
DECLARE
  v_row worktrees;
BEGIN
  IF p_uncommitted_count < 0 OR p_ahead < 0 OR p_behind < 0 THEN
    RAISE EXCEPTION 'git state counts are negative (uncommitted %, ahead %, behind %)',
      p_uncommitted_count, p_ahead, p_behind
      USING ERRCODE = '22023', HINT = 'counts are zero or more';
  END IF;
  UPDATE worktrees
     SET uncommitted_files_count = coalesce(
           p_uncommitted_count,
           CASE WHEN p_has_uncommitted THEN greatest(uncommitted_files_count, 1)
                WHEN NOT p_has_uncommitted THEN 0 END,
           uncommitted_files_count),
         ahead_of_trunk = coalesce(p_ahead, ahead_of_trunk),
         behind_trunk = coalesce(p_behind, behind_trunk),
         last_commit_hash = coalesce(p_last_commit_hash, last_commit_hash),
         last_commit_message = coalesce(p_last_commit_message, last_commit_message),
         last_sync_at = now()
   WHERE id = p_worktree_id
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no worktree with id %', p_worktree_id
      USING ERRCODE = 'P0002', HINT = 'list worktrees with `imi list`';
  END IF;
  RETURN v_row;
END
$$;
COMMENT ON FUNCTION imi_update_git_state(uuid, integer, integer, integer, text, text, boolean) IS
  'Core of update_worktree_git_state returning the whole row.';

CREATE FUNCTION update_worktree_git_state(
  p_worktree_id         uuid,
  p_has_uncommitted     boolean DEFAULT NULL,
  p_uncommitted_count   integer DEFAULT NULL,
  p_ahead               integer DEFAULT NULL,
  p_behind              integer DEFAULT NULL,
  p_last_commit_hash    text DEFAULT NULL,
  p_last_commit_message text DEFAULT NULL
) RETURNS void
LANGUAGE sql
AS $$
  SELECT FROM imi_update_git_state(p_worktree_id, p_uncommitted_count, p_ahead, p_behind,
                                   p_last_commit_hash, p_last_commit_message, p_has_uncommitted)
$$;
COMMENT ON FUNCTION update_worktree_git_state(uuid, boolean, integer, integer, integer, text, text) IS
  'Writes a worktree''s synced git state; NULL leaves a field unchanged; stamps last_sync_at. '
  'has_uncommitted_changes always follows uncommitted_files_count > 0: p_has_uncommitted only '
  'matters without a count (false sets the count to 0, true raises a 0 count to 1). '
  'Negative counts: 22023; unknown worktree: P0002.';

CREATE FUNCTION imi_mark_worktree_merged(
  p_worktree_id       uuid,
  p_merged_by         text,
  p_merge_commit_hash text DEFAULT NULL
) RETURNS worktrees
LANGUAGE plpgsql
AS $$
DECLARE
  v_row worktrees;
BEGIN
  IF p_merged_by IS NULL OR length(btrim(p_merged_by)) = 0 THEN
    RAISE EXCEPTION 'merged_by is empty' USING ERRCODE = '22023', HINT = 'say who merged (an agent id or user name)';
  END IF;
  UPDATE worktrees
     SET merged_at = now(),
         merged_by = p_merged_by,
         merge_commit_hash = p_merge_commit_hash,
         active = false
   WHERE id = p_worktree_id
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no worktree with id %', p_worktree_id
      USING ERRCODE = 'P0002', HINT = 'list worktrees with `imi list`';
  END IF;
  RETURN v_row;
END
$$;
COMMENT ON FUNCTION imi_mark_worktree_merged(uuid, text, text) IS
  'Core of mark_worktree_merged returning the whole row.';

CREATE FUNCTION mark_worktree_merged(
  p_worktree_id       uuid,
  p_merged_by         text,
  p_merge_commit_hash text
) RETURNS void
LANGUAGE sql
AS $$
  SELECT FROM imi_mark_worktree_merged(p_worktree_id, p_merged_by, p_merge_commit_hash)
$$;
COMMENT ON FUNCTION mark_worktree_merged(uuid, text, text) IS
  'Records a merge (merged_at = now(), merged_by, merge_commit_hash) and deactivates the '
  'worktree. Unknown worktree: P0002.';

CREATE FUNCTION imi_worktree_by_path(p_path text, p_host text DEFAULT NULL) RETURNS SETOF worktrees
LANGUAGE sql STABLE
AS $$
  SELECT w.* FROM worktrees w
   WHERE w.active
     AND w.host = coalesce(nullif(p_host, ''), nullif(current_setting('imi.host', true), ''), 'localhost')
     AND w.path IN (CASE WHEN rtrim(p_path, '/') = '' THEN p_path ELSE rtrim(p_path, '/') END,
                    CASE WHEN rtrim(p_path, '/') = '' THEN p_path ELSE rtrim(p_path, '/') END || '/')
$$;
COMMENT ON FUNCTION imi_worktree_by_path(text, text) IS
  'The active worktree (whole row) at a path on a host (default: imi.host); a trailing / is ignored.';

CREATE FUNCTION get_worktree_by_path(p_path text)
RETURNS TABLE (id uuid, project_id uuid, project_name text, worktree_name text, branch_name text,
               type_name text, agent_id text, active boolean)
LANGUAGE sql STABLE
AS $$
  SELECT w.id, w.project_id, p.name, w.name, w.branch_name, t.name, w.agent_id, w.active
  FROM imi_worktree_by_path(p_path, NULL) w
  JOIN projects p ON p.id = w.project_id
  JOIN worktree_types t ON t.id = w.type_id
$$;
COMMENT ON FUNCTION get_worktree_by_path(text) IS
  'The active worktree registered at this path on this host (imi.host; a trailing / is '
  'ignored), with its project and type names; no row if none.';

CREATE FUNCTION get_project_working_path(p_project_id uuid, p_worktree_name text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v_trunk  text;
  v_active boolean;
  v_base   text;
  i        integer;
BEGIN
  SELECT p.trunk_path, p.active INTO v_trunk, v_active FROM projects p WHERE p.id = p_project_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no project with id %', p_project_id
      USING ERRCODE = 'P0002', HINT = 'list projects with `imi list --projects`';
  ELSIF NOT v_active THEN
    RAISE EXCEPTION 'project % is inactive', p_project_id
      USING ERRCODE = 'P0002', HINT = 'register the project again (imi init) to reactivate it';
  END IF;
  IF p_worktree_name IS NULL THEN
    RETURN v_trunk;
  END IF;
  PERFORM imi_check_worktree_name(p_worktree_name);
  -- parent(trunk_path): up to the last / once trailing ones are dropped; "/" if none
  -- (the Rust store computes the same in PgStore::working_path)
  v_base := rtrim(v_trunk, '/');
  i := strpos(reverse(v_base), '/');
  IF i = 0 THEN
    RETURN '/' || p_worktree_name;
  END IF;
  RETURN left(v_base, length(v_base) - i) || '/' || p_worktree_name;
END
$$;
COMMENT ON FUNCTION get_project_working_path(uuid, text) IS
  'Deterministic path: the trunk path for a NULL name, else parent(trunk_path)/<name>. '
  'Unknown or inactive project: P0002; invalid name: 22023.';

CREATE FUNCTION get_inflight_work(p_project_id uuid DEFAULT NULL)
RETURNS TABLE (worktree_id uuid, worktree_name text, branch_name text, status text,
               uncommitted_count integer, ahead integer, behind integer, agent_id text,
               last_activity timestamptz)
LANGUAGE sql STABLE
AS $$
  SELECT v.worktree_id, v.worktree_name, v.branch_name, v.status, v.uncommitted_files_count,
         v.ahead_of_trunk, v.behind_trunk, v.agent_id, v.updated_at
  FROM v_inflight_work v
  WHERE p_project_id IS NULL OR v.project_id = p_project_id
  ORDER BY v.updated_at DESC, v.worktree_id
$$;
COMMENT ON FUNCTION get_inflight_work(uuid) IS
  'In-flight worktrees (v_inflight_work) of one project or all, most recently updated first.';

-- ---------------------------------------------------------------------------------
-- Activities
-- ---------------------------------------------------------------------------------

CREATE FUNCTION imi_log_activity(
  p_agent_id      text,
  p_worktree_id   uuid,
  p_activity_type text,
  p_description   text,
  p_file_path     text DEFAULT NULL,
  p_metadata      jsonb DEFAULT '{}'::jsonb
) RETURNS agent_activities
LANGUAGE plpgsql
AS $$
DECLARE
  v_meta  jsonb := coalesce(p_metadata, '{}'::jsonb);
  v_pid   uuid;
  v_pname text;
  v_wname text;
  v_row   agent_activities;
BEGIN
  IF p_agent_id IS NULL OR length(btrim(p_agent_id)) = 0 THEN
    RAISE EXCEPTION 'agent id is empty' USING ERRCODE = '22023', HINT = 'give a non-empty agent id';
  END IF;
  IF p_activity_type IS NULL OR p_activity_type NOT IN ('created', 'modified', 'deleted', 'committed',
       'pushed', 'merged', 'synced', 'claimed', 'released', 'removed', 'other') THEN
    RAISE EXCEPTION 'unknown activity type "%"', coalesce(p_activity_type, '')
      USING ERRCODE = '22023',
            HINT = 'use one of: created, modified, deleted, committed, pushed, merged, synced, claimed, released, removed, other';
  END IF;
  IF jsonb_typeof(v_meta) <> 'object' THEN
    RAISE EXCEPTION 'metadata must be a JSON object, got %', jsonb_typeof(v_meta) USING ERRCODE = '22023';
  END IF;
  IF p_worktree_id IS NOT NULL THEN
    UPDATE worktrees w SET updated_at = now()
      FROM projects p
     WHERE w.id = p_worktree_id AND p.id = w.project_id
    RETURNING w.project_id, p.name, w.name INTO v_pid, v_pname, v_wname;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no worktree with id %', p_worktree_id
        USING ERRCODE = 'P0002', HINT = 'list worktrees with `imi list`';
    END IF;
  END IF;
  INSERT INTO agent_activities (agent_id, worktree_id, project_id, project_name, worktree_name,
                                activity_type, file_path, description, metadata)
  VALUES (p_agent_id, p_worktree_id, v_pid, v_pname, v_wname,
          p_activity_type, p_file_path, p_description, v_meta)
  RETURNING * INTO v_row;
  RETURN v_row;
END
$$;
COMMENT ON FUNCTION imi_log_activity(text, uuid, text, text, text, jsonb) IS
  'Core of log_activity returning the whole row.';

CREATE FUNCTION log_activity(
  p_agent_id      text,
  p_worktree_id   uuid,
  p_activity_type text,
  p_description   text,
  p_file_path     text DEFAULT NULL,
  p_metadata      jsonb DEFAULT '{}'::jsonb
) RETURNS uuid
LANGUAGE sql
SECURITY DEFINER
AS $$
  SELECT a.id FROM imi_log_activity(p_agent_id, p_worktree_id, p_activity_type, p_description,
                                    p_file_path, p_metadata) a
$$;
COMMENT ON FUNCTION log_activity(text, uuid, text, text, text, jsonb) IS
  'Appends an activity to the audit log and returns its id; copies the project id and the '
  'project and worktree names onto the row and touches the worktree''s updated_at. '
  'Unknown worktree: P0002; bad type or empty agent: 22023. SECURITY DEFINER with a pinned '
  'search_path, so imi_auditor needs no table rights.';

-- Pin the search_path of the SECURITY DEFINER function to the schema it lives in.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION log_activity(text, uuid, text, text, text, jsonb) SET search_path = %I, pg_temp',
                 current_schema());
END
$$;

CREATE FUNCTION get_agent_recent_work(p_agent_id text, p_limit integer DEFAULT 50)
RETURNS TABLE (activity_id uuid, activity_type text, description text, file_path text,
               created_at timestamptz, worktree_name text, project_name text, worktree_type text)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF p_limit IS NULL OR p_limit <= 0 THEN
    RAISE EXCEPTION 'limit must be positive (got %)', p_limit USING ERRCODE = '22023', HINT = 'give a limit of 1 or more';
  END IF;
  RETURN QUERY
  SELECT a.id, a.activity_type, a.description, a.file_path, a.created_at,
         coalesce(a.worktree_name, w.name), coalesce(a.project_name, p.name), t.name
  FROM agent_activities a
  LEFT JOIN worktrees w ON w.id = a.worktree_id
  LEFT JOIN projects p ON p.id = coalesce(a.project_id, w.project_id)
  LEFT JOIN worktree_types t ON t.id = w.type_id
  WHERE a.agent_id = p_agent_id
  ORDER BY a.created_at DESC, a.id DESC
  LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION get_agent_recent_work(text, integer) IS
  'An agent''s most recent activities, newest first, with worktree, project and type names.';

-- ---------------------------------------------------------------------------------
-- Statistics and retention
-- ---------------------------------------------------------------------------------

CREATE FUNCTION get_registry_stats()
RETURNS TABLE (total_projects bigint, active_projects bigint, total_worktrees bigint,
               active_worktrees bigint, in_flight_worktrees bigint, total_activities bigint,
               activities_last_24h bigint)
LANGUAGE sql STABLE
AS $$
  SELECT (SELECT count(*) FROM projects),
         (SELECT count(*) FROM projects WHERE active),
         (SELECT count(*) FROM worktrees),
         (SELECT count(*) FROM worktrees WHERE active),
         (SELECT count(*) FROM v_inflight_work),
         (SELECT count(*) FROM agent_activities),
         (SELECT count(*) FROM agent_activities WHERE created_at >= now() - interval '24 hours')
$$;
COMMENT ON FUNCTION get_registry_stats() IS
  'One row of registry counts: projects, worktrees (total / active / in flight), activities '
  '(total / created in the last 24 hours).';

CREATE FUNCTION cleanup_old_activities(p_retention_days integer DEFAULT 90) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  n integer;
BEGIN
  IF p_retention_days IS NULL OR p_retention_days < 0 THEN
    RAISE EXCEPTION 'retention days is negative (%)', p_retention_days
      USING ERRCODE = '22023', HINT = 'give a number of days, 0 or more';
  END IF;
  DELETE FROM agent_activities WHERE created_at < now() - make_interval(days => p_retention_days);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION cleanup_old_activities(integer) IS
  'Retention: deletes activities created more than p_retention_days ago and returns how many. '
  'VACUUM is left to `imi db maintain`.';

CREATE FUNCTION prune_inactive_worktrees(p_inactive_days integer DEFAULT 30) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  n integer;
BEGIN
  IF p_inactive_days IS NULL OR p_inactive_days < 0 THEN
    RAISE EXCEPTION 'inactive days is negative (%)', p_inactive_days
      USING ERRCODE = '22023', HINT = 'give a number of days, 0 or more';
  END IF;
  DELETE FROM worktrees WHERE NOT active AND updated_at < now() - make_interval(days => p_inactive_days);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION prune_inactive_worktrees(integer) IS
  'Deletes inactive worktrees not updated for p_inactive_days and returns how many; their '
  'activities stay (worktree_id becomes NULL, names kept).';
