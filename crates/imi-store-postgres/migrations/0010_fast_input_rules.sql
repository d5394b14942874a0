-- imi registry, version 10: the input rules of version 3, cheaper on every write.
--
-- Same rules, same errors; what changed is what a row that breaks none of them costs.
-- Measured inside the server (a procedure that commits each write, so per-transaction
-- set-up counts as it does for clients), the input-rule triggers cost about 0.19 ms
-- per project, 0.27 ms per worktree and 0.2 ms per activity, more than the commit
-- itself:
--   * imi_metadata_problem was a SQL function whose subqueries were planned again in
--     every transaction (about 60 us a call); as PL/pgSQL its plans are kept for the
--     session (about 11 us);
--   * every length bound was a call of its own; now one test covers them all, and only
--     a row that breaks one is checked bound by bound, for the message;
--   * a name of plain letters, digits, `_` and `-` (and `.` for a project) breaks no
--     naming rule, so one cached regular expression stands for the whole check;
--   * empty metadata ('{}') breaks no limit, so it is not examined.
--
-- One rule changed: a worktree prefix is at most 64 characters (it was 64 bytes), as
-- imi_core::naming counts it and as the REST API's document says (JSON Schema's
-- maxLength counts characters). The directory name it starts stays bounded in bytes
-- by the worktree name rule (200 bytes).

CREATE OR REPLACE FUNCTION imi_metadata_problem(p_doc jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  v_keys bigint;
  v_long boolean;
BEGIN
  IF p_doc IS NULL THEN
    RETURN NULL;
  ELSIF jsonb_typeof(p_doc) <> 'object' THEN
    RETURN 'is not a JSON object';
  ELSIF octet_length(p_doc::text) > 131072 THEN
    RETURN 'is larger than 128 KiB';
  ELSIF jsonb_path_exists(p_doc, 'strict $.**{32} ? (@.type() == "object" || @.type() == "array")') THEN
    RETURN 'is nested more than 32 levels deep';
  END IF;
  SELECT count(*), coalesce(bool_or(octet_length(kv->>'key') > 256), false)
    INTO v_keys, v_long
    FROM jsonb_path_query(p_doc, 'strict $.** ? (@.type() == "object").keyvalue()') kv;
  IF v_keys > 1000 THEN
    RETURN 'has more than 1000 keys';
  ELSIF v_long THEN
    RETURN 'has a key longer than 256 bytes';
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION imi_projects_input_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  ins boolean := TG_OP = 'INSERT';
  why text;
BEGIN
  IF (ins OR NEW.name IS DISTINCT FROM OLD.name) AND length(btrim(NEW.name)) > 0
     AND NEW.name !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$' THEN
    why := imi_path_component_problem(NEW.name, 200);
    IF why IS NOT NULL THEN
      RAISE EXCEPTION 'invalid project name "%": it %', NEW.name, why
        USING ERRCODE = '22023',
              HINT = 'a project name becomes the directory <root>/<name>: give a plain name such as app';
    END IF;
  END IF;
  IF octet_length(NEW.default_branch) > 255 OR octet_length(NEW.trunk_path) > 4096
     OR octet_length(NEW.description) > 8192 THEN
    IF ins OR NEW.default_branch IS DISTINCT FROM OLD.default_branch THEN
      PERFORM imi_check_len('default branch', NEW.default_branch, 255);
    END IF;
    IF ins OR NEW.trunk_path IS DISTINCT FROM OLD.trunk_path THEN
      PERFORM imi_check_len('trunk path', NEW.trunk_path, 4096);
    END IF;
    IF ins OR NEW.description IS DISTINCT FROM OLD.description THEN
      PERFORM imi_check_len('description', NEW.description, 8192);
    END IF;
  END IF;
  IF NEW.metadata <> '{}'::jsonb THEN
    PERFORM imi_check_metadata('project metadata', NEW.metadata, CASE WHEN ins THEN NULL ELSE OLD.metadata END);
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION imi_worktrees_input_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  ins boolean := TG_OP = 'INSERT';
  why text;
BEGIN
  IF (ins OR NEW.name IS DISTINCT FROM OLD.name) AND length(btrim(NEW.name)) > 0
     AND NEW.name !~ '^[A-Za-z0-9_][A-Za-z0-9_-]{0,199}$' THEN
    why := imi_path_component_problem(NEW.name, 200);
    IF why IS NOT NULL THEN
      RAISE EXCEPTION 'invalid worktree name "%": it %', NEW.name, why
        USING ERRCODE = '22023', HINT = 'use letters, digits, `-` and `_`, e.g. user-auth';
    END IF;
    PERFORM imi_check_worktree_name(NEW.name);
  END IF;
  IF octet_length(NEW.branch_name) > 255 OR octet_length(NEW.path) > 4096
     OR octet_length(NEW.host) > 255 OR octet_length(NEW.agent_id) > 255 THEN
    IF ins OR NEW.branch_name IS DISTINCT FROM OLD.branch_name THEN
      PERFORM imi_check_len('branch name', NEW.branch_name, 255);
    END IF;
    IF ins OR NEW.path IS DISTINCT FROM OLD.path THEN
      PERFORM imi_check_len('worktree path', NEW.path, 4096);
    END IF;
    IF ins OR NEW.host IS DISTINCT FROM OLD.host THEN
      PERFORM imi_check_len('host', NEW.host, 255);
    END IF;
    IF ins OR NEW.agent_id IS DISTINCT FROM OLD.agent_id THEN
      PERFORM imi_check_len('agent id', NEW.agent_id, 255);
    END IF;
  END IF;
  IF NEW.metadata <> '{}'::jsonb THEN
    PERFORM imi_check_metadata('worktree metadata', NEW.metadata, CASE WHEN ins THEN NULL ELSE OLD.metadata END);
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION imi_activities_input_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF octet_length(NEW.agent_id) > 255 OR octet_length(NEW.description) > 8192
     OR octet_length(NEW.file_path) > 4096 OR octet_length(NEW.project_name) > 8192
     OR octet_length(NEW.worktree_name) > 8192 THEN
    PERFORM imi_check_len('agent id', NEW.agent_id, 255);
    PERFORM imi_check_len('description', NEW.description, 8192);
    PERFORM imi_check_len('file path', NEW.file_path, 4096);
    PERFORM imi_check_len('project name', NEW.project_name, 8192);
    PERFORM imi_check_len('worktree name', NEW.worktree_name, 8192);
  END IF;
  IF NEW.metadata <> '{}'::jsonb THEN
    PERFORM imi_check_metadata('activity metadata', NEW.metadata,
                               CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.metadata END);
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION imi_worktree_types_input_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  p text := NEW.worktree_prefix;
  lp text := imi_ascii_lower(NEW.worktree_prefix);
  why text;
BEGIN
  IF (NEW.name = 'trunk' AND NEW.is_builtin) OR length(btrim(NEW.name)) = 0
     OR length(btrim(p)) = 0 THEN
    RETURN NEW; -- the trunk keeps trunk-; blank values: the CHECK constraints refuse them
  END IF;
  IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
    IF NEW.name !~ '^[a-z][a-z0-9-]*$' OR octet_length(NEW.name) > 32 THEN
      RAISE EXCEPTION 'invalid type name "%"', NEW.name
        USING ERRCODE = '22023',
              HINT = 'type names are lowercase: a letter, then letters, digits or `-` (e.g. spike)';
    END IF;
  END IF;
  IF TG_OP = 'INSERT' OR p IS DISTINCT FROM OLD.worktree_prefix OR NEW.is_builtin IS DISTINCT FROM OLD.is_builtin THEN
    why := imi_path_component_problem(p, 256);
    IF why IS NULL AND char_length(p) > 64 THEN
      why := 'is longer than 64 characters';
    END IF;
    IF why IS NULL AND (translate(p, U&' \0009\000A\000B\000C\000D~^:?*[', '') <> p
                        OR strpos(p, '..') > 0 OR strpos(p, '@{') > 0
                        OR left(p, 1) IN ('-', '.')) THEN
      why := 'contains a character or sequence not allowed in a prefix';
    END IF;
    IF why IS NULL AND (left(lp, 6) = 'trunk-' OR lp IN ('t', 'tr', 'tru', 'trun')) THEN
      why := 'would make directories named like the trunk (trunk-<branch>)';
    END IF;
    IF why IS NOT NULL THEN
      RAISE EXCEPTION 'invalid worktree prefix "%": it %', p, why
        USING ERRCODE = '22023',
              HINT = 'use letters, digits, `-` and `_` and do not start like `trunk-`, e.g. spike-';
    END IF;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.description IS DISTINCT FROM OLD.description THEN
    PERFORM imi_check_len('description', NEW.description, 8192);
  END IF;
  PERFORM imi_check_metadata('type metadata', NEW.metadata,
                             CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.metadata END);
  RETURN NEW;
END
$$;
