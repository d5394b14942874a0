-- imi registry, SQLite backend, migration 0008: API tokens of `imi serve` (SPEC §7.3).
-- A token is `imi_<id>_<secret>`; only the SHA-256 of the whole token is kept here
-- (token_hash), never the token. Times are SQLite's clock in the stored six-digit
-- form, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'): a token is usable while
-- revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now). A revoked row
-- stays (who made it, when it ended); its name may be used again. Tokens are not
-- registry state: no events.

CREATE TABLE api_tokens (
    id         TEXT NOT NULL PRIMARY KEY
               CHECK (length(id) = 12 AND id NOT GLOB '*[^0-9a-f]*'),
    name       TEXT NOT NULL
               CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^A-Za-z0-9._-]*'),
    scope      TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    token_hash TEXT NOT NULL
               CHECK (length(token_hash) = 64 AND token_hash NOT GLOB '*[^0-9a-f]*'),
    created_by TEXT NOT NULL CHECK (length(trim(created_by)) > 0),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    expires_at TEXT CHECK (expires_at IS NULL OR expires_at > created_at),
    revoked_at TEXT
);

-- one unrevoked token per name
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;
