-- imi registry, version 11: a registration may name the id of a project it creates.
--
-- `imi init` in a trunk whose .iMi/project.json already names a project passes that
-- id, so a registry that does not know the project yet (a second registry tried beside
-- the first, a new one after a move) gives it the same UUID instead of a new one, and
-- two registries no longer re-key the project back and forth. The id is used only when
-- the registration creates the project and no project has it; an identity already
-- registered keeps its id (the registry's word stands, and imi rewrites the file).

DROP FUNCTION imi_register_project(text, text, text, text, jsonb, text, text, text);

CREATE FUNCTION imi_register_project(
  p_name             text,
  p_remote_origin    text,
  p_default_branch   text DEFAULT 'main',
  p_trunk_path       text DEFAULT NULL,
  p_metadata         jsonb DEFAULT '{}'::jsonb,
  p_description      text DEFAULT NULL,
  p_origin_key       text DEFAULT NULL,
  p_remote_sanitized text DEFAULT NULL,
  p_id               uuid DEFAULT NULL
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
      INSERT INTO projects (id, name, remote_origin, origin_key, default_branch, trunk_path, description, metadata)
      VALUES (CASE WHEN p_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM projects WHERE id = p_id)
                   THEN p_id ELSE gen_random_uuid() END,
              p_name, v_remote, v_key, coalesce(p_default_branch, 'main'), v_new_trunk, p_description, v_meta)
      -- any unique clash: this key inserted first by another session, or p_id taken
      -- meanwhile by another project (the next round draws a new id)
      ON CONFLICT DO NOTHING
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

COMMENT ON FUNCTION imi_register_project(text, text, text, text, jsonb, text, text, text, uuid) IS
  'register_project as imi calls it, returning the row: p_origin_key and p_remote_sanitized '
  'are computed by imi_core::remote (NULL computes them here), p_id is the id to give a '
  'project this call creates (used when no project has it; NULL draws one).';

DO $grants$
BEGIN
  REVOKE ALL ON FUNCTION imi_register_project(text, text, text, text, jsonb, text, text, text, uuid) FROM PUBLIC;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_writer') THEN
    GRANT EXECUTE ON FUNCTION imi_register_project(text, text, text, text, jsonb, text, text, text, uuid) TO imi_writer;
  END IF;
END
$grants$;
