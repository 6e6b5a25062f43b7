-- 0003_imports: per-row provenance of imported incidents, stop-and-search records, and a
-- register of imported files.
--
-- Why: issue 4 (formats.md §0) requires provenance for each row (source file, file hash, row
-- number, import time) and the raw strings of enumerated fields next to their normalised
-- codes; M14 needs stop-and-search records. File-level facts (name, hash, time) are stored
-- once in imported_files and referenced by id, so a million-row import does not repeat them.
-- Ethnicity (inside stop_searches.record) exists for disparity monitoring only
-- (safeguards.md S22) and is never served to operational roles.

CREATE TABLE imported_files (
    id           INTEGER PRIMARY KEY,
    file_sha256  TEXT    NOT NULL CHECK (length(file_sha256) = 64),
    kind         TEXT    NOT NULL,
    file_name    TEXT    NOT NULL,
    imported_at  TEXT    NOT NULL,
    -- JSON summary: read, stored, duplicates, rejected, unlocated...
    summary      TEXT    NOT NULL CHECK (json_valid(summary))
) STRICT;

CREATE TABLE incident_sources (
    incident_id  INTEGER PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES imported_files (id),
    line         INTEGER NOT NULL CHECK (line >= 1),
    -- Raw source attributes (data.police.uk: Crime ID, which is not unique; LSOA; the street
    -- text; the crime type and outcome labels as written).
    source_ref   TEXT,
    area_code    TEXT,
    location     TEXT,
    category_raw TEXT,
    outcome_raw  TEXT,
    outside_area INTEGER NOT NULL CHECK (outside_area IN (0, 1))
) STRICT;

CREATE TABLE stop_searches (
    id           INTEGER PRIMARY KEY,
    record       TEXT    NOT NULL CHECK (json_valid(record)),
    day          INTEGER NOT NULL CHECK (day BETWEEN 0 AND 65535),
    file_id      INTEGER NOT NULL REFERENCES imported_files (id),
    line         INTEGER NOT NULL CHECK (line >= 1)
) STRICT;

-- GIAS lists closed establishments too; schools keep them for history, drawn only when open.
ALTER TABLE schools ADD COLUMN open INTEGER NOT NULL DEFAULT 1 CHECK (open IN (0, 1));

-- NaPTAN marks withdrawn stops inactive; they are kept, not drawn (formats.md §4).
ALTER TABLE stops ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));

-- Likely duplicates across sources are linked, never deleted (issue 4, point 5).
CREATE TABLE incident_matches (
    a           INTEGER NOT NULL,
    b           INTEGER NOT NULL CHECK (b > a),
    kind        TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    distance_m  REAL    NOT NULL CHECK (distance_m >= 0),
    days_apart  INTEGER NOT NULL CHECK (days_apart >= 0),
    params      TEXT    NOT NULL CHECK (json_valid(params)),
    found_at    TEXT    NOT NULL,
    PRIMARY KEY (a, b, kind)
) STRICT;
