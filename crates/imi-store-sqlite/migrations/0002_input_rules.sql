-- imi registry, SQLite backend: input rules for writes that bypass imi (issue 8,
-- rules 4 and 6). imi validates every input in Rust first (imi_core::naming,
-- imi_core::metadata); these triggers are the backstop for the path-safety rules when
-- someone writes the file with sqlite3. They check a row when it is inserted and a
-- column when an UPDATE changes it, so rows written before stay readable, removable
-- and repairable. Metadata limits (depth, keys, size) are enforced by the Rust store
-- only: SQLite has no way to measure JSON depth in a trigger (no CTEs in triggers).
--
-- Mirrors imi_core::naming::path_component_problem (controls are C0, DEL and C1;
-- bidirectional formatting characters U+061C, U+200E, U+200F, U+202A-U+202E,
-- U+2066-U+2069), the worktree-name rules on `..` and leading `-`/`.`, and
-- validate_custom_worktree_prefix.


CREATE TRIGGER projects_name_rules_insert BEFORE INSERT ON projects
FOR EACH ROW WHEN (trim(NEW.name) = '' OR NEW.name IN ('.', '..')
         OR instr(NEW.name, '/') > 0 OR instr(NEW.name, char(92)) > 0
         OR NEW.name GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.name GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.name AS BLOB)) > 200)
BEGIN
    SELECT RAISE(ABORT, 'invalid project name: a project name becomes the directory <root>/<name>; it must be one plain path component (not empty, not . or .., no slash, no control or bidirectional characters, at most 200 bytes)');
END;

CREATE TRIGGER projects_name_rules_update BEFORE UPDATE OF name ON projects
FOR EACH ROW WHEN NEW.name IS NOT OLD.name AND (trim(NEW.name) = '' OR NEW.name IN ('.', '..')
         OR instr(NEW.name, '/') > 0 OR instr(NEW.name, char(92)) > 0
         OR NEW.name GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.name GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.name AS BLOB)) > 200)
BEGIN
    SELECT RAISE(ABORT, 'invalid project name: a project name becomes the directory <root>/<name>; it must be one plain path component (not empty, not . or .., no slash, no control or bidirectional characters, at most 200 bytes)');
END;

CREATE TRIGGER worktrees_name_rules_insert BEFORE INSERT ON worktrees
FOR EACH ROW WHEN ((trim(NEW.name) = '' OR NEW.name IN ('.', '..')
         OR instr(NEW.name, '/') > 0 OR instr(NEW.name, char(92)) > 0
         OR NEW.name GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.name GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.name AS BLOB)) > 200) OR instr(NEW.name, '..') > 0 OR substr(NEW.name, 1, 1) IN ('-', '.'))
BEGIN
    SELECT RAISE(ABORT, 'invalid worktree name: it must be one plain path component (not empty, no .., no slash, not starting with - or ., no control or bidirectional characters, at most 200 bytes)');
END;

CREATE TRIGGER worktrees_name_rules_update BEFORE UPDATE OF name ON worktrees
FOR EACH ROW WHEN NEW.name IS NOT OLD.name AND ((trim(NEW.name) = '' OR NEW.name IN ('.', '..')
         OR instr(NEW.name, '/') > 0 OR instr(NEW.name, char(92)) > 0
         OR NEW.name GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.name GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.name AS BLOB)) > 200) OR instr(NEW.name, '..') > 0 OR substr(NEW.name, 1, 1) IN ('-', '.'))
BEGIN
    SELECT RAISE(ABORT, 'invalid worktree name: it must be one plain path component (not empty, no .., no slash, not starting with - or ., no control or bidirectional characters, at most 200 bytes)');
END;

CREATE TRIGGER worktrees_lengths_insert BEFORE INSERT ON worktrees
FOR EACH ROW WHEN (length(CAST(NEW.branch_name AS BLOB)) > 255 OR length(CAST(NEW.path AS BLOB)) > 4096 OR length(CAST(NEW.host AS BLOB)) > 255 OR length(CAST(NEW.agent_id AS BLOB)) > 255)
BEGIN
    SELECT RAISE(ABORT, 'a worktree value is too long: branch names and hosts and agent ids are at most 255 bytes, paths at most 4096');
END;

CREATE TRIGGER worktrees_lengths_update BEFORE UPDATE OF branch_name, path, host, agent_id ON worktrees
FOR EACH ROW WHEN (length(CAST(NEW.branch_name AS BLOB)) > 255 OR length(CAST(NEW.path AS BLOB)) > 4096 OR length(CAST(NEW.host AS BLOB)) > 255 OR length(CAST(NEW.agent_id AS BLOB)) > 255)
BEGIN
    SELECT RAISE(ABORT, 'a worktree value is too long: branch names and hosts and agent ids are at most 255 bytes, paths at most 4096');
END;

CREATE TRIGGER projects_lengths_insert BEFORE INSERT ON projects
FOR EACH ROW WHEN (length(CAST(NEW.default_branch AS BLOB)) > 255 OR length(CAST(NEW.trunk_path AS BLOB)) > 4096 OR length(CAST(NEW.description AS BLOB)) > 8192)
BEGIN
    SELECT RAISE(ABORT, 'a project value is too long: branch names are at most 255 bytes, paths 4096, descriptions 8192');
END;

CREATE TRIGGER projects_lengths_update BEFORE UPDATE OF default_branch, trunk_path, description ON projects
FOR EACH ROW WHEN (length(CAST(NEW.default_branch AS BLOB)) > 255 OR length(CAST(NEW.trunk_path AS BLOB)) > 4096 OR length(CAST(NEW.description AS BLOB)) > 8192)
BEGIN
    SELECT RAISE(ABORT, 'a project value is too long: branch names are at most 255 bytes, paths 4096, descriptions 8192');
END;

CREATE TRIGGER worktree_types_prefix_rules_insert BEFORE INSERT ON worktree_types
FOR EACH ROW WHEN NOT (NEW.name = 'trunk' AND NEW.is_builtin = 1) AND (
         (trim(NEW.worktree_prefix) = '' OR NEW.worktree_prefix IN ('.', '..')
         OR instr(NEW.worktree_prefix, '/') > 0 OR instr(NEW.worktree_prefix, char(92)) > 0
         OR NEW.worktree_prefix GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159) || ']*')
         OR NEW.worktree_prefix GLOB ('*[' || char(1564,8206,8207,8234,8235,8236,8237,8238,8294,8295,8296,8297) || ']*')
         OR length(CAST(NEW.worktree_prefix AS BLOB)) > 64)
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
         OR length(CAST(NEW.worktree_prefix AS BLOB)) > 64)
         OR instr(NEW.worktree_prefix, '..') > 0 OR substr(NEW.worktree_prefix, 1, 1) IN ('-', '.')
         OR lower(NEW.worktree_prefix) GLOB 'trunk-*' OR lower(NEW.worktree_prefix) IN ('t', 'tr', 'tru', 'trun'))
BEGIN
    SELECT RAISE(ABORT, 'invalid worktree prefix: it must be one plain path component and must not make directories named like the trunk (trunk-<branch>)');
END;
