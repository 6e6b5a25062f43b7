-- 0010_segment_checksums: every incident segment carries a checksum, verified on load.
--
-- Why: issue 14, point 4. Flipping bits in a stored segment let the server start and serve
-- moved incidents; SQLite checks its pages' structure, not the values inside them. The
-- checksum is CRC-32 (IEEE) over the segment's row count, file id, lowest and highest id and
-- both blobs (src/store/sqlite_integrity.rs), written in the transaction that writes the
-- segment. NULL only for a segment stored before this migration whose bytes no longer decoded
-- when the migration ran: the migration's Rust step (`fill_segment_checksums`) computes the
-- checksum of every other segment in the same transaction, and a load refuses a NULL as damage.
ALTER TABLE incident_segments ADD COLUMN checksum INTEGER
    CHECK (checksum BETWEEN 0 AND 4294967295);
