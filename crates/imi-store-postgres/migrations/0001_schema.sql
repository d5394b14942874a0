-- imi registry schema, version 1 (SPEC §3.1-§3.3).
--
-- Everything is created in the current schema (the first one of search_path); no
-- object name is qualified with `public`. pg_trgm must be reachable through the
-- search_path of whoever calls search_projects().

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- ---------------------------------------------------------------------------------
-- Helpers shared by the canonicalisation rules (crates/imi-core/src/remote.rs) and
-- the naming rules (crates/imi-core/src/naming.rs). Rust is the reference; the
-- store's tests compare both on many inputs.
-- ---------------------------------------------------------------------------------

-- Rust's str::trim(): strips Unicode White_Space at both ends (btrim() alone only
-- strips spaces).
CREATE FUNCTION imi_trim(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT btrim(p_text, U&' \0009\000A\000B\000C\000D\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000')
$$;
COMMENT ON FUNCTION imi_trim(text) IS
  'Trims Unicode White_Space at both ends, like Rust''s str::trim().';

-- Rust's str::to_ascii_lowercase(): only A-Z change (lower() is locale-aware).
CREATE FUNCTION imi_ascii_lower(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT translate(p_text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
$$;
COMMENT ON FUNCTION imi_ascii_lower(text) IS
  'Lower-cases ASCII letters only, like Rust''s to_ascii_lowercase().';

-- remote::local_key: trimmed, repeated slashes collapsed, one trailing slash dropped
-- (a lone "/" stays).
CREATE FUNCTION imi_local_key(p_path text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN length(k) > 1 AND right(k, 1) = '/' THEN left(k, -1) ELSE k END
  FROM (SELECT regexp_replace(imi_trim(p_path), '/{2,}', '/', 'g') AS k) s
$$;
COMMENT ON FUNCTION imi_local_key(text) IS
  'Identity key of a local path (also of a project without a remote, by trunk path): '
  'whitespace trimmed, repeated slashes collapsed, trailing slash removed; case and .git kept. '
  'Mirrors imi_core::remote::local_key.';

-- For error messages: never echo the user part of a URL (it may be a token).
CREATE FUNCTION imi_redact_remote(p_remote text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
  i integer := strpos(p_remote, '://');
  rest text;
  auth text;
  j integer;
BEGIN
  IF i = 0 THEN
    RETURN p_remote;
  END IF;
  rest := substr(p_remote, i + 3);
  j := strpos(rest, '/');
  auth := CASE WHEN j > 0 THEN left(rest, j - 1) ELSE rest END;
  IF strpos(auth, '@') = 0 THEN
    RETURN p_remote;
  END IF;
  RETURN left(p_remote, i + 2) || '***@'
         || substr(rest, length(regexp_replace(auth, '@[^@]*$', '')) + 2);
END
$$;
COMMENT ON FUNCTION imi_redact_remote(text) IS
  'The remote with any user part of a URL replaced by ***, for error messages.';

-- The parser of remote.rs (rules 1-5). kind is 'network' or 'local'.
CREATE FUNCTION imi_parse_remote(
  p_remote text,
  OUT kind text,
  OUT scheme text,
  OUT userinfo text,
  OUT authority text,
  OUT host text,
  OUT path text
)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
  s text := imi_trim(p_remote);
  rest text;
  auth_all text;
  before text;
  i integer;
BEGIN
  IF s = '' THEN
    RAISE EXCEPTION 'remote is empty'
      USING ERRCODE = '22023',
            HINT = 'give a git remote URL such as https://github.com/owner/repo';
  END IF;
  IF s ~ '[\u0001-\u001f\u007f-\u009f]' THEN
    RAISE EXCEPTION 'remote contains control characters; give a git remote URL'
      USING ERRCODE = '22023';
  END IF;
  i := strpos(s, '://');
  IF i > 0 THEN
    scheme := left(s, i - 1);
    rest := substr(s, i + 3);
    IF imi_ascii_lower(scheme) = 'file' THEN
      kind := 'local';
      path := rest;
      scheme := NULL;
      RETURN;
    END IF;
    IF imi_ascii_lower(scheme) NOT IN ('ssh', 'git+ssh', 'ssh+git', 'git', 'http', 'https', 'ftp', 'ftps') THEN
      RAISE EXCEPTION 'unsupported remote scheme "%" in "%"', scheme, imi_redact_remote(s)
        USING ERRCODE = '22023',
              HINT = 'use ssh://, https://, http://, git://, file:// or user@host:path';
    END IF;
    i := strpos(rest, '/');
    IF i > 0 THEN
      auth_all := left(rest, i - 1);
      path := substr(rest, i);
    ELSE
      auth_all := rest;
      path := '';
    END IF;
    IF strpos(auth_all, '@') > 0 THEN
      userinfo := regexp_replace(auth_all, '@[^@]*$', '');
      authority := regexp_replace(auth_all, '^.*@', '');
    ELSE
      authority := auth_all;
    END IF;
    i := strpos(authority, ']');
    IF i > 0 THEN
      host := left(authority, i);
    ELSE
      host := regexp_replace(authority, ':[^:]*$', '');
    END IF;
    IF host = '' THEN
      RAISE EXCEPTION 'remote "%" has no host', imi_redact_remote(s) USING ERRCODE = '22023';
    END IF;
    kind := 'network';
    RETURN;
  END IF;
  i := strpos(s, ':');
  IF i > 0 THEN
    before := left(s, i - 1);
    IF strpos(before, '/') = 0 AND octet_length(before) > 1 THEN
      IF strpos(before, '@') > 0 THEN
        userinfo := regexp_replace(before, '@[^@]*$', '');
        host := regexp_replace(before, '^.*@', '');
      ELSE
        host := before;
      END IF;
      IF host = '' THEN
        RAISE EXCEPTION 'remote "%" has no host', s USING ERRCODE = '22023';
      END IF;
      kind := 'network';
      authority := host;
      path := substr(s, i + 1);
      RETURN;
    END IF;
  END IF;
  kind := 'local';
  path := s;
END
$$;
COMMENT ON FUNCTION imi_parse_remote(text) IS
  'Splits a git remote into scheme, user part, authority, host and path (network), '
  'or a path (local), following imi_core::remote; raises 22023 on invalid input.';

CREATE FUNCTION imi_origin_key(p_remote text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
  r record;
  p text;
BEGIN
  r := imi_parse_remote(p_remote);
  IF r.kind = 'local' THEN
    p := imi_local_key(r.path);
    IF p = '' THEN
      RAISE EXCEPTION 'remote "%" names no path', p_remote
        USING ERRCODE = '22023', HINT = 'give a path such as file:///srv/git/repo.git';
    END IF;
    RETURN p;
  END IF;
  p := regexp_replace(r.path, '/{2,}', '/', 'g');
  p := ltrim(p, '/~');
  p := rtrim(p, '/');
  IF right(p, 4) = '.git' THEN
    p := left(p, -4);
  END IF;
  p := rtrim(p, '/');
  IF p = '' THEN
    RAISE EXCEPTION 'remote "%" names no repository', imi_redact_remote(imi_trim(p_remote))
      USING ERRCODE = '22023',
            HINT = 'a remote looks like https://host/owner/repo or git@host:owner/repo';
  END IF;
  RETURN imi_ascii_lower(r.host) || '/' || imi_ascii_lower(p);
END
$$;
COMMENT ON FUNCTION imi_origin_key(text) IS
  'Canonical identity of a git remote (SPEC §3.2): host/owner/repo lower-cased without '
  'scheme, user, port, .git and slashes for network remotes; the normalised path for '
  'local ones. Mirrors imi_core::remote::origin_key; raises 22023 on invalid input.';

CREATE FUNCTION imi_sanitize_remote(p_remote text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
  r record;
  u text;
BEGIN
  r := imi_parse_remote(p_remote);
  IF r.kind = 'network' AND r.userinfo IS NOT NULL THEN
    u := split_part(r.userinfo, ':', 1);
    IF r.scheme IS NOT NULL THEN
      IF imi_ascii_lower(r.scheme) NOT IN ('http', 'https', 'ftp', 'ftps') AND u <> '' THEN
        RETURN r.scheme || '://' || u || '@' || r.authority || r.path;
      END IF;
      RETURN r.scheme || '://' || r.authority || r.path;
    END IF;
    IF u = '' THEN
      RETURN r.authority || ':' || r.path;
    END IF;
    RETURN u || '@' || r.authority || ':' || r.path;
  END IF;
  RETURN imi_trim(p_remote);
END
$$;
COMMENT ON FUNCTION imi_sanitize_remote(text) IS
  'The remote with credentials removed (the whole user part of http(s)/ftp URLs, the '
  'password of others): what imi stores and prints. Mirrors imi_core::remote::sanitize; '
  'raises 22023 on invalid input.';

-- naming::validate_worktree_name, as a backstop for SQL callers. translate() instead
-- of regular expressions: deleting the listed characters changes the text only when
-- it contains one of them (Unicode White_Space, then the Cc control characters).
CREATE FUNCTION imi_check_worktree_name(p_name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  why text;
BEGIN
  why := CASE
    WHEN p_name IS NULL OR p_name = '' THEN 'is empty'
    WHEN translate(p_name, U&'\0009\000A\000B\000C\000D\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000', '') <> p_name THEN 'contains whitespace'
    WHEN translate(p_name, U&'\0001\0002\0003\0004\0005\0006\0007\0008\0009\000A\000B\000C\000D\000E\000F\0010\0011\0012\0013\0014\0015\0016\0017\0018\0019\001A\001B\001C\001D\001E\001F\007F\0080\0081\0082\0083\0084\0085\0086\0087\0088\0089\008A\008B\008C\008D\008E\008F\0090\0091\0092\0093\0094\0095\0096\0097\0098\0099\009A\009B\009C\009D\009E\009F', '') <> p_name THEN 'contains control characters'
    WHEN strpos(p_name, '/') > 0 OR strpos(p_name, E'\\') > 0 THEN 'contains a slash'
    WHEN strpos(p_name, '..') > 0 THEN 'contains `..`'
    WHEN left(p_name, 1) IN ('-', '.') THEN 'starts with `-` or `.`'
    WHEN right(p_name, 1) = '.' THEN 'ends with `.`'
    WHEN right(p_name, 5) = '.lock' THEN 'ends with `.lock`'
    WHEN strpos(p_name, '@{') > 0 OR p_name = '@' THEN 'contains `@{`'
    WHEN translate(p_name, '~^:?*[', '') <> p_name THEN 'contains one of ~ ^ : ? * ['
    WHEN octet_length(p_name) > 200 THEN 'is longer than 200 bytes'
  END;
  IF why IS NOT NULL THEN
    RAISE EXCEPTION 'invalid worktree name "%": it %', coalesce(p_name, ''), why
      USING ERRCODE = '22023',
            HINT = 'use letters, digits, `-` and `_`, e.g. user-auth';
  END IF;
END
$$;
COMMENT ON FUNCTION imi_check_worktree_name(text) IS
  'Raises 22023 unless the name is a valid worktree name (imi_core::naming::validate_worktree_name).';

-- SPEC §3.3: the one definition of a worktree's status (WorkStatus::of in Rust).
CREATE FUNCTION imi_work_status(p_uncommitted integer, p_ahead integer, p_behind integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN p_uncommitted > 0 THEN 'uncommitted'
    WHEN p_ahead > 0 AND p_behind > 0 THEN 'diverged'
    WHEN p_ahead > 0 THEN 'ahead'
    WHEN p_behind > 0 THEN 'behind'
    ELSE 'clean'
  END
$$;
COMMENT ON FUNCTION imi_work_status(integer, integer, integer) IS
  'Status of a worktree from (uncommitted files, commits ahead, commits behind): '
  'uncommitted (takes precedence), diverged, ahead, behind, else clean (SPEC §3.3).';

-- ---------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------

CREATE TABLE projects (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name           text NOT NULL CONSTRAINT projects_name_not_empty CHECK (length(btrim(name)) > 0),
  remote_origin  text,
  origin_key     text NOT NULL CONSTRAINT projects_origin_key_not_empty CHECK (length(origin_key) > 0),
  default_branch text NOT NULL DEFAULT 'main'
                 CONSTRAINT projects_default_branch_not_empty CHECK (length(btrim(default_branch)) > 0),
  trunk_path     text NOT NULL CONSTRAINT projects_trunk_path_not_empty CHECK (length(btrim(trunk_path)) > 0),
  description    text,
  metadata       jsonb NOT NULL DEFAULT '{}'::jsonb
                 CONSTRAINT projects_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  active         boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE projects IS
  'One row per git repository; identity is origin_key (canonical remote, or trunk path '
  'without a remote). At most one active project per origin_key.';

-- No projects index contains updated_at: an update that changes no indexed value (a
-- re-registration with the same values) stays a cheap HOT update.
CREATE UNIQUE INDEX projects_origin_key_active_key ON projects (origin_key) WHERE active;
-- inactive rows by key (reactivation, lookup by remote); new projects never touch it
CREATE INDEX projects_origin_key_inactive_idx ON projects (origin_key) WHERE NOT active;
CREATE INDEX projects_name_active_idx ON projects (name) WHERE active;
CREATE INDEX projects_metadata_gin ON projects USING gin (metadata);
CREATE INDEX projects_name_trgm ON projects USING gin (name gin_trgm_ops);
CREATE INDEX projects_remote_origin_trgm ON projects USING gin (remote_origin gin_trgm_ops);

CREATE TABLE worktree_types (
  id              serial PRIMARY KEY,
  name            text NOT NULL CONSTRAINT worktree_types_name_key UNIQUE
                  CONSTRAINT worktree_types_name_not_empty CHECK (length(btrim(name)) > 0),
  branch_prefix   text NOT NULL DEFAULT '',
  worktree_prefix text NOT NULL
                  CONSTRAINT worktree_types_worktree_prefix_not_empty CHECK (length(btrim(worktree_prefix)) > 0),
  description     text,
  is_builtin      boolean NOT NULL DEFAULT false,
  color           text,
  icon            text,
  metadata        jsonb NOT NULL DEFAULT '{}'::jsonb
                  CONSTRAINT worktree_types_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
  created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE worktree_types IS
  'Worktree types: the six built-ins (is_builtin) and custom ones; prefixes build the '
  'branch (<branch_prefix><name>) and directory (<worktree_prefix><name>) names.';
CREATE INDEX worktree_types_metadata_gin ON worktree_types USING gin (metadata);

INSERT INTO worktree_types (name, branch_prefix, worktree_prefix, description, color, icon, is_builtin) VALUES
  ('feat',   'feat/',      'feat-',   'Feature development',                                   '#10B981', U&'\+01F680', true),
  ('fix',    'fix/',       'fix-',    'Bug fixes',                                             '#EF4444', U&'\+01F41B', true),
  ('aiops',  'aiops/',     'aiops-',  'AI operations (agents, rules, MCP configs, workflows)', '#8B5CF6', U&'\+01F916', true),
  ('devops', 'devops/',    'devops-', 'DevOps tasks (CI, repo organization, deploys)',         '#3B82F6', U&'\2699\FE0F', true),
  ('review', 'pr-review/', 'pr-',     'Pull request reviews',                                  '#F59E0B', U&'\+01F440', true),
  ('trunk',  '',           'trunk-',  'Main branch worktree',                                  '#6B7280', U&'\+01F333', true);

CREATE TABLE worktrees (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id              uuid NOT NULL REFERENCES projects (id) ON DELETE RESTRICT,
  type_id                 integer NOT NULL REFERENCES worktree_types (id) ON DELETE RESTRICT,
  name                    text NOT NULL CONSTRAINT worktrees_name_not_empty CHECK (length(btrim(name)) > 0),
  branch_name             text NOT NULL CONSTRAINT worktrees_branch_name_not_empty CHECK (length(btrim(branch_name)) > 0),
  path                    text NOT NULL CONSTRAINT worktrees_path_not_empty CHECK (length(btrim(path)) > 0),
  host                    text NOT NULL DEFAULT coalesce(nullif(current_setting('imi.host', true), ''), 'localhost')
                          CONSTRAINT worktrees_host_not_empty CHECK (length(btrim(host)) > 0),
  agent_id                text CONSTRAINT worktrees_agent_id_not_empty CHECK (agent_id IS NULL OR length(btrim(agent_id)) > 0),
  has_uncommitted_changes boolean NOT NULL DEFAULT false,
  uncommitted_files_count integer NOT NULL DEFAULT 0
                          CONSTRAINT worktrees_uncommitted_files_count_non_negative CHECK (uncommitted_files_count >= 0),
  ahead_of_trunk          integer NOT NULL DEFAULT 0
                          CONSTRAINT worktrees_ahead_of_trunk_non_negative CHECK (ahead_of_trunk >= 0),
  behind_trunk            integer NOT NULL DEFAULT 0
                          CONSTRAINT worktrees_behind_trunk_non_negative CHECK (behind_trunk >= 0),
  last_commit_hash        text,
  last_commit_message     text,
  last_sync_at            timestamptz,
  merged_at               timestamptz,
  merged_by               text,
  merge_commit_hash       text,
  metadata                jsonb NOT NULL DEFAULT '{}'::jsonb
                          CONSTRAINT worktrees_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  active                  boolean NOT NULL DEFAULT true,
  CONSTRAINT worktrees_project_id_name_key UNIQUE (project_id, name)
) WITH (fillfactor = 90); -- room on each page for HOT updates (git state, activity touches)
COMMENT ON TABLE worktrees IS
  'Worktrees of all projects on all hosts, with their synced git state and merge record. '
  'Unique (project_id, name); at most one active worktree per (host, path).';

-- No worktrees index contains updated_at, so touching a worktree (log_activity) or
-- re-syncing an unchanged git state is a HOT update.
CREATE UNIQUE INDEX worktrees_host_path_active_key ON worktrees (host, path) WHERE active;
CREATE INDEX worktrees_project_active_idx ON worktrees (project_id, name) WHERE active;
CREATE INDEX worktrees_type_id_idx ON worktrees (type_id);
CREATE INDEX worktrees_agent_active_idx ON worktrees (agent_id) WHERE active AND agent_id IS NOT NULL;
-- in-flight rows (v_inflight_work) by project; the few rows of a project are sorted
CREATE INDEX worktrees_inflight_idx ON worktrees (project_id)
  WHERE active AND merged_at IS NULL
    AND (uncommitted_files_count > 0 OR ahead_of_trunk > 0 OR behind_trunk > 0);
CREATE INDEX worktrees_metadata_gin ON worktrees USING gin (metadata);

CREATE TABLE agent_activities (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id      text NOT NULL CONSTRAINT agent_activities_agent_id_not_empty CHECK (length(btrim(agent_id)) > 0),
  worktree_id   uuid REFERENCES worktrees (id) ON DELETE SET NULL,
  project_id    uuid REFERENCES projects (id) ON DELETE SET NULL,
  project_name  text,
  worktree_name text,
  activity_type text NOT NULL CONSTRAINT agent_activities_activity_type_known CHECK (activity_type IN (
                  'created', 'modified', 'deleted', 'committed', 'pushed', 'merged',
                  'synced', 'claimed', 'released', 'removed', 'other')),
  file_path     text,
  description   text,
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb
                CONSTRAINT agent_activities_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
  created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE agent_activities IS
  'Audit log of agent actions. Rows carry project and worktree names so that they stay '
  'readable after the worktree is pruned (worktree_id then becomes NULL); only the '
  'retention clean-up deletes them.';

CREATE INDEX agent_activities_agent_created_idx ON agent_activities (agent_id, created_at DESC, id DESC);
CREATE INDEX agent_activities_created_idx ON agent_activities (created_at, id);
CREATE INDEX agent_activities_worktree_idx ON agent_activities (worktree_id);
CREATE INDEX agent_activities_project_idx ON agent_activities (project_id);
CREATE INDEX agent_activities_metadata_gin ON agent_activities USING gin (metadata);

-- ---------------------------------------------------------------------------------
-- Triggers (SPEC §3.3)
-- ---------------------------------------------------------------------------------

-- updated_at moves on every update, unless the statement sets it explicitly (imports
-- and copies keep their timestamps).
CREATE FUNCTION imi_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION imi_touch_updated_at() IS
  'BEFORE UPDATE trigger: stamps updated_at = now() unless the update sets it explicitly.';

CREATE FUNCTION imi_sync_has_uncommitted() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.has_uncommitted_changes := NEW.uncommitted_files_count > 0;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION imi_sync_has_uncommitted() IS
  'BEFORE INSERT OR UPDATE trigger: has_uncommitted_changes := uncommitted_files_count > 0.';

CREATE TRIGGER projects_touch_updated_at BEFORE UPDATE ON projects
  FOR EACH ROW EXECUTE FUNCTION imi_touch_updated_at();
CREATE TRIGGER worktrees_touch_updated_at BEFORE UPDATE ON worktrees
  FOR EACH ROW EXECUTE FUNCTION imi_touch_updated_at();
CREATE TRIGGER worktrees_sync_has_uncommitted BEFORE INSERT OR UPDATE ON worktrees
  FOR EACH ROW EXECUTE FUNCTION imi_sync_has_uncommitted();
