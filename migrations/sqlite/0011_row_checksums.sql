-- 0011_row_checksums: every record row carries a checksum of its stored values, verified on load.
--
-- Why: issue 14, point 4. SQLite checks its pages' structure, not the values inside them: a
-- flipped bit in a person's review date or a user's role leaves a well-formed database and a
-- valid, wrong record. `row_crc` is CRC-32 over the table's name and the row's values in column
-- order (src/store/row_checksum.rs). The store's own connection keeps it current with TEMP
-- triggers after every insert and update, in the same statement; a write by anything else
-- leaves it stale and is reported as damage. The migration's Rust step (`row_checksum::fill`)
-- computes it for every row already stored, in this migration's transaction: damage done
-- before the upgrade cannot be detected. incident_segments keeps its own checksum (0010).
ALTER TABLE incidents ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE places ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE schools ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE stops ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE routes ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE services ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE boundaries ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE people ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE links ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE users ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE cases ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE meetings ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE imported_files ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE incident_sources ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE stop_searches ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE incident_matches ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE reviews ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE case_assignments ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE person_versions ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE link_versions ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE person_equality ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE equality_baselines ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE equality_results ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE equality_alerts ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
ALTER TABLE equality_runs ADD COLUMN row_crc INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295);
