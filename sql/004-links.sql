-- 004-links.sql: sets of hard links, moved together.
--
-- files.links: how many names the file's set of hard links had when it
-- moved (each name is a row of the same tier, ino, size and mtime_ns),
-- so a recall finds the set again; NULL for a file of one name.
ALTER TABLE files ADD COLUMN links INTEGER;
-- journal.links: the same for a move in flight; a name of a set is
-- released without comparing ctime, which releasing another changes.
ALTER TABLE journal ADD COLUMN links INTEGER;
