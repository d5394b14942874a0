-- imi registry, version 9: API tokens of `imi serve` (SPEC §7.3). A token is
-- `imi_<id>_<secret>`; only the SHA-256 of the whole token is kept (token_hash),
-- never the token. A token is usable while revoked_at IS NULL AND (expires_at IS NULL
-- OR expires_at > now()), by the database's clock. A revoked row stays (who made it,
-- when it ended); its name may be used again. Tokens are not registry state: no
-- events. Only imi_writer may read them (the hashes are the server's business).

CREATE TABLE api_tokens (
  id         text PRIMARY KEY CONSTRAINT api_tokens_id_hex CHECK (id ~ '^[0-9a-f]{12}$'),
  name       text NOT NULL CONSTRAINT api_tokens_name_shape CHECK (name ~ '^[0-9A-Za-z._-]{1,64}$'),
  scope      text NOT NULL CONSTRAINT api_tokens_scope_known CHECK (scope IN ('read', 'write', 'admin')),
  token_hash text NOT NULL CONSTRAINT api_tokens_token_hash_sha256 CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  created_by text NOT NULL CONSTRAINT api_tokens_created_by_not_empty CHECK (length(btrim(created_by)) > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz CONSTRAINT api_tokens_expire_after_creation CHECK (expires_at IS NULL OR expires_at > created_at),
  revoked_at timestamptz
);
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;
COMMENT ON TABLE api_tokens IS
  'Bearer tokens of imi serve: name, scope (read < write < admin), SHA-256 of the whole token '
  '(never the token), who made it, when it expires and when it was revoked.';

DO $grants$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_reader')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_auditor')
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'imi_writer') THEN
    REVOKE ALL ON api_tokens FROM PUBLIC, imi_reader, imi_auditor;
    GRANT SELECT, INSERT, UPDATE ON api_tokens TO imi_writer;
  END IF;
END
$grants$;
