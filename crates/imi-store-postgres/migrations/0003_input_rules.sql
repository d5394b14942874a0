-- imi registry: input rules for every door, SQL included (issue 8, rules 4 and 6).
--
-- Blank names and prefixes and non-object metadata are left to the tables' CHECK
-- constraints (23514), as before; these triggers add the rules those lack.
--
-- The Rust stores apply imi_core's rules before writing; these triggers are the
-- same rules for programs that write with SQL (register_project, register_worktree,
-- plain INSERT / UPDATE). They check a row when it is inserted and a column when an
-- UPDATE changes it, so rows written before this migration stay readable and can
-- still be deactivated, removed or repaired. Errors are 22023 (VALIDATION_ERROR).
--
-- Mirrors: imi_core::naming::path_component_problem, validate_worktree_name,
-- validate_custom_worktree_prefix, the length bounds of imi_core::naming / model,
-- and imi_core::metadata::check_limits. Metadata size is measured on jsonb's text
-- form, which is looser than Rust's compact JSON: the bound here is twice Rust's
-- (128 KiB), so nothing Rust accepts is refused here.

-- naming::path_component_problem: what is wrong with a name that becomes one path
-- component, or NULL.
CREATE FUNCTION imi_path_component_problem(p_name text, p_max integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN p_name IS NULL OR imi_trim(p_name) = '' THEN 'is empty'
    WHEN p_name IN ('.', '..') THEN 'is `' || p_name || '`'
    WHEN strpos(p_name, '/') > 0 OR strpos(p_name, E'\\') > 0 THEN 'contains a slash'
    WHEN translate(p_name, U&'\0001\0002\0003\0004\0005\0006\0007\0008\0009\000A\000B\000C\000D\000E\000F\0010\0011\0012\0013\0014\0015\0016\0017\0018\0019\001A\001B\001C\001D\001E\001F\007F\0080\0081\0082\0083\0084\0085\0086\0087\0088\0089\008A\008B\008C\008D\008E\008F\0090\0091\0092\0093\0094\0095\0096\0097\0098\0099\009A\009B\009C\009D\009E\009F', '') <> p_name
      THEN 'contains control characters'
    WHEN translate(p_name, U&'\061C\200E\200F\202A\202B\202C\202D\202E\2066\2067\2068\2069', '') <> p_name
      THEN 'contains bidirectional formatting characters'
    WHEN octet_length(p_name) > p_max THEN 'is longer than ' || p_max || ' bytes'
  END
$$;
COMMENT ON FUNCTION imi_path_component_problem(text, integer) IS
  'What is wrong with a name that becomes one path component (empty, . or .., a slash, '
  'control or bidirectional formatting characters, more than p_max bytes), or NULL. '
  'Mirrors imi_core::naming::path_component_problem.';

-- metadata::check_limits: what is wrong with a metadata document, or NULL.
-- Depth: a container (object or array) at level 32 below the document is depth 33.
CREATE FUNCTION imi_metadata_problem(p_doc jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN p_doc IS NULL THEN NULL
    WHEN jsonb_typeof(p_doc) <> 'object' THEN 'is not a JSON object'
    WHEN octet_length(p_doc::text) > 131072 THEN 'is larger than 128 KiB'
    WHEN jsonb_path_exists(p_doc, 'strict $.**{32} ? (@.type() == "object" || @.type() == "array")')
      THEN 'is nested more than 32 levels deep'
    WHEN (SELECT count(*) FROM jsonb_path_query(p_doc, 'strict $.** ? (@.type() == "object").keyvalue()')) > 1000
      THEN 'has more than 1000 keys'
    WHEN EXISTS (SELECT 1 FROM jsonb_path_query(p_doc, 'strict $.** ? (@.type() == "object").keyvalue()') kv
                  WHERE octet_length(kv->>'key') > 256)
      THEN 'has a key longer than 256 bytes'
  END
$$;
COMMENT ON FUNCTION imi_metadata_problem(jsonb) IS
  'What is wrong with a metadata document (not an object, over 128 KiB of text, nested '
  'more than 32 levels, more than 1000 keys, a key over 256 bytes), or NULL. Mirrors '
  'imi_core::metadata::check_limits (whose size bound is 64 KiB of compact JSON).';

-- Raises 22023 when a changed metadata document breaks the limits. An update that
-- shrinks a document already over them (a repair such as `imi metadata unset`) passes.
CREATE FUNCTION imi_check_metadata(p_what text, p_new jsonb, p_old jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  why text;
BEGIN
  -- not an object: the table's CHECK constraint refuses it (23514)
  IF p_new IS NULL OR jsonb_typeof(p_new) <> 'object' OR p_new = '{}'::jsonb
     OR p_new IS NOT DISTINCT FROM p_old THEN
    RETURN;
  END IF;
  why := imi_metadata_problem(p_new);
  IF why IS NULL THEN
    RETURN;
  END IF;
  IF p_old IS NOT NULL AND imi_metadata_problem(p_old) IS NOT NULL
     AND octet_length(p_new::text) < octet_length(p_old::text) THEN
    RETURN; -- smaller than before: a repair in progress
  END IF;
  RAISE EXCEPTION '% %', p_what, why
    USING ERRCODE = '22023',
          HINT = 'metadata is at most 32 levels deep, 1000 keys of at most 256 bytes, 64 KiB';
END
$$;
COMMENT ON FUNCTION imi_check_metadata(text, jsonb, jsonb) IS
  'Raises 22023 when p_new breaks the metadata limits (imi_metadata_problem), unless it '
  'shrinks a document (p_old) that already broke them.';

CREATE FUNCTION imi_check_len(p_what text, p_value text, p_max integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
  IF octet_length(p_value) > p_max THEN
    RAISE EXCEPTION '% is too long (% bytes, at most %)', p_what, octet_length(p_value), p_max
      USING ERRCODE = '22023', HINT = 'shorten the ' || p_what;
  END IF;
END
$$;
COMMENT ON FUNCTION imi_check_len(text, text, integer) IS
  'Raises 22023 when p_value is longer than p_max bytes.';

-- projects: name (one path component), lengths, metadata.
CREATE FUNCTION imi_projects_input_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  ins boolean := TG_OP = 'INSERT';
  why text;
BEGIN
  IF (ins OR NEW.name IS DISTINCT FROM OLD.name) AND length(btrim(NEW.name)) > 0 THEN
    why := imi_path_component_problem(NEW.name, 200);
    IF why IS NOT NULL THEN
      RAISE EXCEPTION 'invalid project name "%": it %', NEW.name, why
        USING ERRCODE = '22023',
              HINT = 'a project name becomes the directory <root>/<name>: give a plain name such as app';
    END IF;
  END IF;
  IF ins OR NEW.default_branch IS DISTINCT FROM OLD.default_branch THEN
    PERFORM imi_check_len('default branch', NEW.default_branch, 255);
  END IF;
  IF ins OR NEW.trunk_path IS DISTINCT FROM OLD.trunk_path THEN
    PERFORM imi_check_len('trunk path', NEW.trunk_path, 4096);
  END IF;
  IF ins OR NEW.description IS DISTINCT FROM OLD.description THEN
    PERFORM imi_check_len('description', NEW.description, 8192);
  END IF;
  PERFORM imi_check_metadata('project metadata', NEW.metadata, CASE WHEN ins THEN NULL ELSE OLD.metadata END);
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION imi_projects_input_rules() IS
  'BEFORE INSERT OR UPDATE trigger of projects: the name is one path component, lengths '
  'are bounded, metadata within limits (changed columns only on UPDATE).';

CREATE TRIGGER projects_input_rules
  BEFORE INSERT OR UPDATE OF name, default_branch, trunk_path, description, metadata ON projects
  FOR EACH ROW EXECUTE FUNCTION imi_projects_input_rules();

-- worktrees: name (worktree name rules, one path component), lengths, metadata.
CREATE FUNCTION imi_worktrees_input_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  ins boolean := TG_OP = 'INSERT';
  why text;
BEGIN
  IF (ins OR NEW.name IS DISTINCT FROM OLD.name) AND length(btrim(NEW.name)) > 0 THEN
    why := imi_path_component_problem(NEW.name, 200);
    IF why IS NOT NULL THEN
      RAISE EXCEPTION 'invalid worktree name "%": it %', NEW.name, why
        USING ERRCODE = '22023', HINT = 'use letters, digits, `-` and `_`, e.g. user-auth';
    END IF;
    PERFORM imi_check_worktree_name(NEW.name);
  END IF;
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
  PERFORM imi_check_metadata('worktree metadata', NEW.metadata, CASE WHEN ins THEN NULL ELSE OLD.metadata END);
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION imi_worktrees_input_rules() IS
  'BEFORE INSERT OR UPDATE trigger of worktrees: the name follows the worktree name rules '
  '(one path component), lengths are bounded, metadata within limits.';

CREATE TRIGGER worktrees_input_rules
  BEFORE INSERT OR UPDATE OF name, branch_name, path, host, agent_id, metadata ON worktrees
  FOR EACH ROW EXECUTE FUNCTION imi_worktrees_input_rules();

-- worktree_types: custom types follow `imi types add`'s rules; the built-in trunk
-- keeps its trunk- prefix.
CREATE FUNCTION imi_worktree_types_input_rules() RETURNS trigger
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
    why := imi_path_component_problem(p, 64);
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
COMMENT ON FUNCTION imi_worktree_types_input_rules() IS
  'BEFORE INSERT OR UPDATE trigger of worktree_types: custom types have a valid name and a '
  'worktree prefix that is one path component and cannot make trunk-<branch> directories.';

CREATE TRIGGER worktree_types_input_rules
  BEFORE INSERT OR UPDATE OF name, worktree_prefix, is_builtin, description, metadata ON worktree_types
  FOR EACH ROW EXECUTE FUNCTION imi_worktree_types_input_rules();

-- agent_activities: lengths and metadata (names on activities are history, not paths).
CREATE FUNCTION imi_activities_input_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM imi_check_len('agent id', NEW.agent_id, 255);
  PERFORM imi_check_len('description', NEW.description, 8192);
  PERFORM imi_check_len('file path', NEW.file_path, 4096);
  PERFORM imi_check_len('project name', NEW.project_name, 8192);
  PERFORM imi_check_len('worktree name', NEW.worktree_name, 8192);
  PERFORM imi_check_metadata('activity metadata', NEW.metadata,
                             CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.metadata END);
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION imi_activities_input_rules() IS
  'BEFORE INSERT OR UPDATE trigger of agent_activities: lengths bounded, metadata within limits.';

CREATE TRIGGER agent_activities_input_rules
  BEFORE INSERT OR UPDATE OF agent_id, description, file_path, project_name, worktree_name, metadata
  ON agent_activities
  FOR EACH ROW EXECUTE FUNCTION imi_activities_input_rules();

-- Retention with a day count beyond 100 years overflowed the timestamp arithmetic
-- (22008); both backends now refuse it the same way (naming::validate_days).
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
  RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION prune_inactive_worktrees(p_inactive_days integer DEFAULT 30) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  n integer;
BEGIN
  IF p_inactive_days IS NULL OR p_inactive_days < 0 THEN
    RAISE EXCEPTION 'inactive days is negative (%)', p_inactive_days
      USING ERRCODE = '22023', HINT = 'give a number of days, 0 or more';
  END IF;
  IF p_inactive_days > 36500 THEN
    RAISE EXCEPTION 'inactive days is too large (%, at most 36500: 100 years)', p_inactive_days
      USING ERRCODE = '22023', HINT = 'give a number of days from 0 to 36500';
  END IF;
  DELETE FROM worktrees WHERE NOT active AND updated_at < now() - make_interval(days => p_inactive_days);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
