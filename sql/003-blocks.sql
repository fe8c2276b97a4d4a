-- 003-blocks.sql: what a file takes on its disk, so that reports add up
-- with du(1): st_blocks, in 512-byte units; NULL where it is not known
-- (a NAS, or a row written before this column, until the next scan).
ALTER TABLE files ADD COLUMN blocks INTEGER;
