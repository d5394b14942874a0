-- imi registry, SQLite backend, migration 0009: a worktree prefix is at most 64
-- characters (it was 64 bytes), as imi_core::naming counts it and as the REST API's
-- document says (JSON Schema's maxLength counts characters; SQLite's length() of
-- text counts characters too). The directory name it starts stays bounded in bytes
-- by the worktree name rule (200 bytes).

DROP TRIGGER worktree_types_prefix_rules_insert;
DROP TRIGGER worktree_types_prefix_rules_update;

CREATE TRIGGER worktree_types_prefix_rules_insert BEFORE INSERT ON worktree_types
FOR EACH ROW WHEN NOT (NEW.name = 'trunk' AND NEW.is_builtin = 1) AND (
         (trim(NEW.worktree_prefix) = '' OR NEW.worktree_prefix IN ('.', '..')
         OR instr(NEW.worktree_prefix, '/') > 0 OR instr(NEW.worktree_prefix, char(92)) > 0
         OR NEW.worktree_prefix GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.worktree_prefix GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(NEW.worktree_prefix) > 64)
         OR instr(NEW.worktree_prefix, '..') > 0 OR substr(NEW.worktree_prefix, 1, 1) IN ('-', '.')
         OR lower(NEW.worktree_prefix) GLOB 'trunk-*' OR lower(NEW.worktree_prefix) IN ('t', 'tr', 'tru', 'trun'))
BEGIN
    SELECT RAISE(ABORT, 'invalid worktree prefix: it must be one plain path component and must not make directories named like the trunk (trunk-<branch>)');
END;

CREATE TRIGGER worktree_types_prefix_rules_update BEFORE UPDATE OF name, worktree_prefix, is_builtin ON worktree_types
FOR EACH ROW WHEN NOT (NEW.name = 'trunk' AND NEW.is_builtin = 1) AND (
         (trim(NEW.worktree_prefix) = '' OR NEW.worktree_prefix IN ('.', '..')
         OR instr(NEW.worktree_prefix, '/') > 0 OR instr(NEW.worktree_prefix, char(92)) > 0
         OR NEW.worktree_prefix GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.worktree_prefix GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(NEW.worktree_prefix) > 64)
         OR instr(NEW.worktree_prefix, '..') > 0 OR substr(NEW.worktree_prefix, 1, 1) IN ('-', '.')
         OR lower(NEW.worktree_prefix) GLOB 'trunk-*' OR lower(NEW.worktree_prefix) IN ('t', 'tr', 'tru', 'trun'))
BEGIN
    SELECT RAISE(ABORT, 'invalid worktree prefix: it must be one plain path component and must not make directories named like the trunk (trunk-<branch>)');
END;
