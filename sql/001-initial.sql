-- 001-initial.sql: the first catalog schema.
-- Paths are stored as BLOBs: they are bytes, not text, and may hold
-- newlines or invalid UTF-8.  A path is relative to its tier's root.

-- One row per tracked file.  "tier" is where the data is now, "home" the
-- tier whose path applications use (a symlink there when tier <> home).
CREATE TABLE files (
	path		BLOB PRIMARY KEY,
	tier		TEXT NOT NULL,
	home		TEXT NOT NULL,
	size		INTEGER NOT NULL,
	mtime_ns	INTEGER NOT NULL,
	ctime_ns	INTEGER NOT NULL,
	ino		INTEGER NOT NULL,
	mode		INTEGER NOT NULL,
	uid		INTEGER NOT NULL,
	gid		INTEGER NOT NULL,
	hash		BLOB,			-- XXH3-128, canonical bytes
	verified_ns	INTEGER,		-- when hash was last checked
	moved_ns	INTEGER,		-- when it last changed tier
	atime_ns	INTEGER,		-- last read seen
	pinned		INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX files_tier ON files (tier);

-- One row per move.  state: planned, copying, verified, committed, done,
-- aborted, conflict.  tmp is the temporary name in the destination
-- directory; pre_* the source's identity before the copy.
CREATE TABLE journal (
	id		INTEGER PRIMARY KEY,
	path		BLOB NOT NULL,
	op		TEXT NOT NULL,		-- migrate or recall
	src		TEXT NOT NULL,
	dst		TEXT NOT NULL,
	home		TEXT NOT NULL,
	leave		TEXT NOT NULL,		-- symlink or remove
	state		TEXT NOT NULL,
	tmp		BLOB NOT NULL,
	pre_size	INTEGER NOT NULL,
	pre_mtime_ns	INTEGER NOT NULL,
	pre_ctime_ns	INTEGER NOT NULL,
	pre_ino		INTEGER NOT NULL,
	hash		BLOB,
	error		TEXT,
	started_ns	INTEGER NOT NULL,
	updated_ns	INTEGER NOT NULL
);

CREATE INDEX journal_open ON journal (state)
	WHERE state NOT IN ('done', 'aborted');
