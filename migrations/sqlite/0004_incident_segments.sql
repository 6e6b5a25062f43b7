-- 0004_incident_segments: imported incidents in columnar segments.
--
-- Why: issue 4 asks for 300,000 police rows/s end to end on one core. Two B-tree inserts per
-- row (incidents, incident_sources) cost 4.4 s per million rows, well over the budget. An
-- import's new incidents are now written as segments of up to 65,536 rows, each one row here
-- with the ids in one blob and every other column (normalised values, provenance, line and
-- the raw source strings, dictionary-encoded) in another; the format is documented in
-- src/store/segment.rs. Incidents written before this migration, and records written through
-- the dataset path (the synthetic generator), stay in `incidents`/`incident_sources`; a load
-- reads both, and an id is stored in only one of them (every write checks both).
--
-- In PostgreSQL the same batches go to an ordinary table with COPY; segments are an
-- embedded-store layout only.

CREATE TABLE incident_segments (
    id      INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES imported_files (id),
    rows    INTEGER NOT NULL CHECK (rows BETWEEN 1 AND 65536),
    -- Lowest and highest id in the segment.
    min_id  INTEGER NOT NULL,
    max_id  INTEGER NOT NULL,
    ids     BLOB    NOT NULL CHECK (length(ids) = 8 * rows),
    data    BLOB    NOT NULL
) STRICT;
