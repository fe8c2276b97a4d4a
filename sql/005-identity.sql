-- 005-identity.sql: the catalog's identity.
--
-- Journal and file ids start at 1 in every catalog, so what is written
-- outside the catalog (an object store's metadata, the claim of its
-- prefix) carries the catalog's own UUID, made here when the catalog is
-- made (or upgraded), beside the row's id; nothing is deleted there that
-- does not carry it.  role 'self' is this catalog's; 'adopted', one it
-- took over on purpose (jts-tierctl claim --take-over), whose objects
-- count as its own.
CREATE TABLE identity (
	uuid		TEXT PRIMARY KEY,
	role		TEXT NOT NULL CHECK (role IN ('self', 'adopted')),
	made_ns		INTEGER NOT NULL,
	note		TEXT
);
INSERT INTO identity (uuid, role, made_ns)
SELECT lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' ||
    substr(h, 14, 3) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||
    substr(h, 18, 3) || '-' || substr(h, 21, 12)), 'self',
    CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER)
FROM (SELECT hex(randomblob(16)) AS h);
