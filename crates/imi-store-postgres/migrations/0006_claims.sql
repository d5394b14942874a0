-- imi registry, version 6: claims with leases (SPEC §7.1).
--
-- A claim is on a work item: a project's worktree name, on every host. One row per
-- item keeps its last tenure (held, released or expired), so the epoch (the fencing
-- token) only grows: it goes up by one each time the item changes hands (a claim
-- after a release, or the takeover of an expired lease); the holder claiming again
-- renews and keeps it. Time is the database's: now(), never the client's clock.
--
-- The row-returning cores imi_claim_worktree / imi_renew_claim / imi_release_claim
-- are what imi runs (each one statement: the claim and its activity commit
-- together); claim_worktree / renew_claim / release_claim are the SQL interface,
-- which raise where imi words a refusal itself.

CREATE TABLE claims (
  project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  worktree_name text NOT NULL CONSTRAINT claims_worktree_name_not_empty CHECK (length(btrim(worktree_name)) > 0),
  worktree_id   uuid REFERENCES worktrees (id) ON DELETE SET NULL,
  agent_id      text NOT NULL CONSTRAINT claims_agent_id_not_empty CHECK (length(btrim(agent_id)) > 0),
  host          text NOT NULL CONSTRAINT claims_host_not_empty CHECK (length(btrim(host)) > 0),
  epoch         bigint NOT NULL DEFAULT 1 CONSTRAINT claims_epoch_positive CHECK (epoch > 0),
  purpose       text,
  ttl_seconds   bigint CONSTRAINT claims_ttl_positive CHECK (ttl_seconds IS NULL OR ttl_seconds > 0),
  acquired_at   timestamptz NOT NULL DEFAULT now(),
  renewed_at    timestamptz,
  expires_at    timestamptz,
  released_at   timestamptz,
  stolen_from   text,
  PRIMARY KEY (project_id, worktree_name)
);
COMMENT ON TABLE claims IS
  'Who works on which work item (project + worktree name, on every host): the last tenure '
  'of each item. Held while released_at is NULL and expires_at is NULL or in the future '
  '(the database''s clock). epoch grows by one each time the item changes hands.';
CREATE INDEX claims_agent_idx ON claims (agent_id) WHERE released_at IS NULL;
CREATE INDEX claims_worktree_idx ON claims (worktree_id);

-- Acquire, or renew as the holder: one statement. Zero rows: the worktree is unknown
-- or removed, or another agent holds the item (read it to say who).
CREATE FUNCTION imi_claim_worktree(
  p_worktree_id uuid,
  p_agent_id    text,
  p_ttl_seconds bigint DEFAULT NULL,
  p_purpose     text DEFAULT NULL
) RETURNS SETOF claims
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  -- plpgsql: the statement's plan is cached per session (a SQL function's is not)
  RETURN QUERY
  WITH w AS (
    SELECT w.id, w.project_id, w.name, w.host, p.name AS project_name
      FROM worktrees w JOIN projects p ON p.id = w.project_id
     WHERE w.id = p_worktree_id AND w.active
  ), c AS (
    INSERT INTO claims AS c (project_id, worktree_name, worktree_id, agent_id, host, epoch, purpose,
                             ttl_seconds, acquired_at, renewed_at, expires_at, released_at, stolen_from)
    SELECT w.project_id, w.name, w.id, p_agent_id, w.host, 1, p_purpose, p_ttl_seconds, now(), NULL,
           now() + p_ttl_seconds * interval '1 second', NULL, NULL
      FROM w
    ON CONFLICT (project_id, worktree_name) DO UPDATE SET
      -- renewal: the holder claims again (its lease may have lapsed: nobody took it)
      epoch       = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id
                         THEN c.epoch ELSE c.epoch + 1 END,
      worktree_id = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id
                         THEN c.worktree_id ELSE excluded.worktree_id END,
      host        = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id
                         THEN c.host ELSE excluded.host END,
      purpose     = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id
                         THEN coalesce(excluded.purpose, c.purpose) ELSE excluded.purpose END,
      acquired_at = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id
                         THEN c.acquired_at ELSE now() END,
      renewed_at  = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id
                         THEN now() ELSE NULL END,
      stolen_from = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id THEN c.stolen_from
                         WHEN c.released_at IS NULL THEN c.agent_id
                         ELSE NULL END,
      agent_id    = excluded.agent_id,
      ttl_seconds = excluded.ttl_seconds,
      expires_at  = excluded.expires_at,
      released_at = NULL
    WHERE (c.released_at IS NULL AND c.agent_id = excluded.agent_id)
       OR c.released_at IS NOT NULL
       OR c.expires_at <= now()
    RETURNING c.*
  ), a AS (
    INSERT INTO agent_activities (agent_id, worktree_id, project_id, project_name, worktree_name,
                                  activity_type, description, metadata)
    SELECT c.agent_id, w.id, w.project_id, w.project_name, w.name, 'claimed',
           CASE WHEN c.stolen_from IS NULL THEN 'claimed (epoch ' || c.epoch || ')'
                ELSE 'stolen from ' || c.stolen_from || ' (lease expired; epoch ' || c.epoch || ')' END,
           jsonb_strip_nulls(jsonb_build_object('epoch', c.epoch, 'ttl_seconds', c.ttl_seconds,
                             'purpose', c.purpose, 'stolen_from', c.stolen_from,
                             'claim', CASE WHEN c.stolen_from IS NULL THEN 'claimed' ELSE 'stolen' END))
      FROM c, w
     WHERE c.renewed_at IS NULL
  )
  SELECT * FROM c;
END
$$;
COMMENT ON FUNCTION imi_claim_worktree(uuid, text, bigint, text) IS
  'Claims the work item of worktree p_worktree_id for p_agent_id in one statement (row locks '
  'decide races): a new tenure (epoch + 1, logged as claimed, or stolen when it takes over an '
  'expired lease) or a renewal by the holder (epoch kept). No row: unknown or removed worktree, '
  'or held by another agent.';

-- Renew: only the holder's tenure of p_epoch, not released (a lapsed lease nobody
-- took is renewed: the epoch says nobody did). p_ttl_seconds NULL keeps its length.
CREATE FUNCTION imi_renew_claim(
  p_worktree_id uuid,
  p_agent_id    text,
  p_epoch       bigint,
  p_ttl_seconds bigint DEFAULT NULL
) RETURNS SETOF claims
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  -- plpgsql: the statement's plan is cached per session (a SQL function's is not)
  RETURN QUERY
  WITH r AS (
    UPDATE claims c
       SET renewed_at = now(),
           ttl_seconds = coalesce(p_ttl_seconds, c.ttl_seconds),
           expires_at = now() + coalesce(p_ttl_seconds, c.ttl_seconds) * interval '1 second'
      FROM worktrees w
     WHERE w.id = p_worktree_id AND c.project_id = w.project_id AND c.worktree_name = w.name
       AND c.agent_id = p_agent_id AND c.epoch = p_epoch AND c.released_at IS NULL
    RETURNING c.*
  )
  SELECT * FROM r;
END
$$;

-- Release: the holder's tenure of p_epoch, or with p_force whoever holds it (logged
-- with the holder's name).
CREATE FUNCTION imi_release_claim(
  p_worktree_id uuid,
  p_agent_id    text,
  p_epoch       bigint,
  p_force       boolean DEFAULT false
) RETURNS SETOF claims
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  -- plpgsql: the statement's plan is cached per session (a SQL function's is not)
  RETURN QUERY
  WITH w AS (
    SELECT w.id, w.project_id, w.name, p.name AS project_name
      FROM worktrees w JOIN projects p ON p.id = w.project_id
     WHERE w.id = p_worktree_id
  ), r AS (
    UPDATE claims c SET released_at = now()
      FROM w
     WHERE c.project_id = w.project_id AND c.worktree_name = w.name AND c.released_at IS NULL
       AND (coalesce(p_force, false) OR (c.agent_id = p_agent_id AND c.epoch = p_epoch))
    RETURNING c.*
  ), a AS (
    INSERT INTO agent_activities (agent_id, worktree_id, project_id, project_name, worktree_name,
                                  activity_type, description, metadata)
    SELECT p_agent_id, w.id, w.project_id, w.project_name, w.name, 'released',
           CASE WHEN r.agent_id = p_agent_id THEN 'released (epoch ' || r.epoch || ')'
                ELSE 'released the claim of ' || r.agent_id || ' (forced; epoch ' || r.epoch || ')' END,
           jsonb_build_object('epoch', r.epoch, 'holder', r.agent_id,
                              'forced', r.agent_id <> p_agent_id AND coalesce(p_force, false))
      FROM r, w
  )
  SELECT * FROM r;
END
$$;

-- The claim on a worktree's item, with whether it is held now.
CREATE VIEW v_claims AS
SELECT c.project_id,
       p.name AS project_name,
       c.worktree_name,
       c.worktree_id,
       c.agent_id,
       c.host,
       c.epoch,
       c.purpose,
       c.ttl_seconds,
       c.acquired_at,
       c.renewed_at,
       c.expires_at,
       c.released_at,
       c.stolen_from,
       (c.released_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now())) AS held,
       CASE WHEN c.expires_at IS NULL THEN NULL
            ELSE greatest(c.expires_at - now(), interval '0') END AS expires_in
  FROM claims c
  JOIN projects p ON p.id = c.project_id;
COMMENT ON VIEW v_claims IS
  'Every work item''s last claim with its project name, whether it is held now (the '
  'database''s clock) and how long its lease still runs (NULL: until released).';

-- The claim state in the worktree views (SPEC §7.1): the held claim on each
-- worktree's name (any host), appended after the existing columns.
CREATE OR REPLACE VIEW v_worktrees_detail AS
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
       w.metadata,
       -- the held claim (migration 6)
       c.agent_id        AS claimed_by,
       c.host            AS claim_host,
       c.epoch           AS claim_epoch,
       c.expires_at      AS claim_expires_at
FROM worktrees w
JOIN projects p ON p.id = w.project_id
JOIN worktree_types t ON t.id = w.type_id
LEFT JOIN claims c ON c.project_id = w.project_id AND c.worktree_name = w.name
                  AND c.released_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now());

CREATE OR REPLACE VIEW v_inflight_work AS
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
       w.last_commit_message,
       -- the held claim (migration 6)
       c.agent_id                AS claimed_by,
       c.host                    AS claim_host,
       c.epoch                   AS claim_epoch,
       c.expires_at              AS claim_expires_at
FROM worktrees w
JOIN projects p ON p.id = w.project_id
JOIN worktree_types t ON t.id = w.type_id
LEFT JOIN claims c ON c.project_id = w.project_id AND c.worktree_name = w.name
                  AND c.released_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now())
WHERE w.active
  AND w.merged_at IS NULL
  AND (w.uncommitted_files_count > 0 OR w.ahead_of_trunk > 0 OR w.behind_trunk > 0)
ORDER BY w.updated_at DESC, w.id;

-- The SQL interface (SPEC §7.1), named notation as in §3.4.
CREATE FUNCTION claim_worktree(
  p_worktree_id uuid,
  p_agent_id    text,
  p_ttl_seconds integer DEFAULT NULL,
  p_purpose     text DEFAULT NULL
) RETURNS TABLE (epoch bigint, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v claims;
  v_name text;
  v_active boolean;
BEGIN
  IF p_agent_id IS NULL OR length(btrim(p_agent_id)) = 0 THEN
    RAISE EXCEPTION 'agent id is empty' USING ERRCODE = '22023', HINT = 'give the claiming agent''s id';
  END IF;
  IF p_ttl_seconds IS NOT NULL AND p_ttl_seconds <= 0 THEN
    RAISE EXCEPTION 'lease length %s is out of range', p_ttl_seconds
      USING ERRCODE = '22023', HINT = 'give a positive number of seconds, or NULL to hold until released';
  END IF;
  FOR attempt IN 1..5 LOOP
    SELECT * INTO v FROM imi_claim_worktree(p_worktree_id, p_agent_id, p_ttl_seconds, p_purpose);
    IF FOUND THEN
      RETURN QUERY SELECT v.epoch, v.expires_at;
      RETURN;
    END IF;
    SELECT w.name, w.active INTO v_name, v_active FROM worktrees w WHERE w.id = p_worktree_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no worktree with id %', p_worktree_id
        USING ERRCODE = 'P0002', HINT = 'list worktrees with `imi list --all`';
    ELSIF NOT v_active THEN
      RAISE EXCEPTION 'worktree "%" (%) is removed', v_name, p_worktree_id
        USING ERRCODE = 'P0002', HINT = 'register it again (imi add) before claiming it';
    END IF;
    SELECT c.* INTO v FROM claims c JOIN worktrees w ON c.project_id = w.project_id AND c.worktree_name = w.name
     WHERE w.id = p_worktree_id
       AND c.released_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now());
    IF FOUND THEN
      RAISE EXCEPTION 'worktree "%" is claimed by % on host % (epoch %, %)', v.worktree_name, v.agent_id,
        v.host, v.epoch,
        CASE WHEN v.expires_at IS NULL THEN 'held until released'
             ELSE 'lease ends ' || to_char(v.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END
        USING ERRCODE = '55P03',
              HINT = 'wait until the lease ends, or ask the holder to release it (release_claim)';
    END IF;
    -- released meanwhile: try again
  END LOOP;
  RAISE EXCEPTION 'the claim on worktree % keeps changing hands', p_worktree_id
    USING ERRCODE = '40001', HINT = 'try again';
END
$$;
COMMENT ON FUNCTION claim_worktree(uuid, text, integer, text) IS
  'Makes p_agent_id the holder of the worktree''s work item (project + name, every host) for '
  'p_ttl_seconds (NULL: until released), or renews it for its holder. Returns the epoch '
  '(fencing token) and the lease end; raises 55P03 naming the holder when another agent holds it.';

CREATE FUNCTION renew_claim(
  p_worktree_id uuid,
  p_agent_id    text,
  p_epoch       bigint,
  p_ttl_seconds integer DEFAULT NULL
) RETURNS TABLE (epoch bigint, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v claims;
BEGIN
  IF p_ttl_seconds IS NOT NULL AND p_ttl_seconds <= 0 THEN
    RAISE EXCEPTION 'lease length %s is out of range', p_ttl_seconds USING ERRCODE = '22023';
  END IF;
  SELECT * INTO v FROM imi_renew_claim(p_worktree_id, p_agent_id, p_epoch, p_ttl_seconds);
  IF NOT FOUND THEN
    SELECT c.* INTO v FROM claims c JOIN worktrees w ON c.project_id = w.project_id AND c.worktree_name = w.name
     WHERE w.id = p_worktree_id;
    RAISE EXCEPTION '% does not hold the claim on worktree % at epoch %', p_agent_id, p_worktree_id, p_epoch
      USING ERRCODE = '55P03',
            DETAIL = CASE WHEN v.agent_id IS NULL THEN 'it was never claimed'
                          ELSE format('last holder %s, epoch %s%s', v.agent_id, v.epoch,
                                      CASE WHEN v.released_at IS NOT NULL THEN ', released' ELSE '' END) END,
            HINT = 'claim it again (claim_worktree)';
  END IF;
  RETURN QUERY SELECT v.epoch, v.expires_at;
END
$$;
COMMENT ON FUNCTION renew_claim(uuid, text, bigint, integer) IS
  'Extends the lease of p_agent_id''s claim of epoch p_epoch by p_ttl_seconds from now (NULL: '
  'its own length). A stale epoch or another holder raises 55P03.';

CREATE FUNCTION release_claim(
  p_worktree_id uuid,
  p_agent_id    text,
  p_epoch       bigint,
  p_force       boolean DEFAULT false
) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v claims;
BEGIN
  IF p_agent_id IS NULL OR length(btrim(p_agent_id)) = 0 THEN
    RAISE EXCEPTION 'agent id is empty' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO v FROM imi_release_claim(p_worktree_id, p_agent_id, p_epoch, p_force);
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT c.* INTO v FROM claims c JOIN worktrees w ON c.project_id = w.project_id AND c.worktree_name = w.name
   WHERE w.id = p_worktree_id;
  IF FOUND AND v.released_at IS NOT NULL AND v.agent_id = p_agent_id AND v.epoch = p_epoch THEN
    RETURN false; -- released already
  END IF;
  RAISE EXCEPTION '% does not hold the claim on worktree % at epoch %', p_agent_id, p_worktree_id, p_epoch
    USING ERRCODE = '55P03',
          DETAIL = CASE WHEN v.agent_id IS NULL THEN 'it was never claimed'
                        ELSE format('holder %s, epoch %s%s', v.agent_id, v.epoch,
                                    CASE WHEN v.released_at IS NOT NULL THEN ', released' ELSE '' END) END,
          HINT = 'only the holder releases its own epoch; p_force := true releases anyone''s claim (logged)';
END
$$;
COMMENT ON FUNCTION release_claim(uuid, text, bigint, boolean) IS
  'Ends p_agent_id''s claim of epoch p_epoch (true; false when it was released already); with '
  'p_force := true whoever holds it (logged with the holder). Otherwise raises 55P03.';

-- imi db roles ran before: the claims get the rights of the other tables and functions.
DO $grants$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_reader')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_auditor')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_writer') THEN
    REVOKE ALL ON claims, v_claims FROM PUBLIC, imi_reader, imi_auditor;
    GRANT SELECT ON claims, v_claims TO imi_reader, imi_writer;
    GRANT INSERT, UPDATE, DELETE ON claims TO imi_writer;
    REVOKE ALL ON FUNCTION imi_claim_worktree(uuid, text, bigint, text),
                           imi_renew_claim(uuid, text, bigint, bigint),
                           imi_release_claim(uuid, text, bigint, boolean),
                           claim_worktree(uuid, text, integer, text),
                           renew_claim(uuid, text, bigint, integer),
                           release_claim(uuid, text, bigint, boolean)
      FROM PUBLIC, imi_reader, imi_auditor;
    GRANT EXECUTE ON FUNCTION imi_claim_worktree(uuid, text, bigint, text),
                              imi_renew_claim(uuid, text, bigint, bigint),
                              imi_release_claim(uuid, text, bigint, boolean),
                              claim_worktree(uuid, text, integer, text),
                              renew_claim(uuid, text, bigint, integer),
                              release_claim(uuid, text, bigint, boolean)
      TO imi_writer;
  END IF;
END
$grants$;
