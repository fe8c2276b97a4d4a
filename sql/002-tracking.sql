-- 002-tracking.sql: what the daemon needs to age files by policy.

-- Reads decay: heat is a count of reads seen, halved every day since
-- atime_ns (the last read seen); see jts-tier.policy(5).
ALTER TABLE files ADD COLUMN heat REAL NOT NULL DEFAULT 0;

-- Pinned paths: a file, or a directory whose whole tree is pinned.
-- Paths are relative to the tier roots, like files.path.
CREATE TABLE pins (
	path		BLOB PRIMARY KEY,
	pinned_ns	INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per policy run of the daemon.
CREATE TABLE policy_runs (
	id		INTEGER PRIMARY KEY,
	policy		TEXT NOT NULL,
	reason		TEXT NOT NULL,		-- schedule, fill or request
	started_ns	INTEGER NOT NULL,
	ended_ns	INTEGER,
	files		INTEGER NOT NULL DEFAULT 0,
	bytes		INTEGER NOT NULL DEFAULT 0,
	failed		INTEGER NOT NULL DEFAULT 0
);

-- The index on tier cost every insert a second B-tree and a third of the
-- catalog's size, and served no query well: a scan reads its tier's rows
-- in key order, a policy reads them all.
DROP INDEX files_tier;
