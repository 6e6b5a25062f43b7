-- 0003_imports: per-row provenance of imported incidents, stop-and-search records, and a
-- register of imported files.
--
-- Why: issue 4 (formats.md §0) requires provenance for each row (source file, file hash, row
-- number, import time) and the raw police.uk attributes next to their normalised codes, and
-- M14 needs stop-and-search records. Ethnicity columns exist for disparity monitoring only
-- (safeguards.md S22) and are never served to operational roles.

CREATE TABLE incident_sources (
    incident_id  INTEGER PRIMARY KEY,
    source_file  TEXT    NOT NULL,
    file_sha256  TEXT    NOT NULL CHECK (length(file_sha256) = 64),
    line         INTEGER NOT NULL CHECK (line >= 1),
    imported_at  TEXT    NOT NULL,
    -- data.police.uk attributes, raw: Crime ID (not unique), LSOA, location text, outcome...
    attributes   TEXT    NOT NULL CHECK (json_valid(attributes))
) STRICT;

CREATE TABLE stop_searches (
    id           INTEGER PRIMARY KEY,
    record       TEXT    NOT NULL CHECK (json_valid(record)),
    day          INTEGER NOT NULL CHECK (day BETWEEN 0 AND 65535),
    source_file  TEXT    NOT NULL,
    file_sha256  TEXT    NOT NULL CHECK (length(file_sha256) = 64),
    line         INTEGER NOT NULL CHECK (line >= 1),
    imported_at  TEXT    NOT NULL
) STRICT;

CREATE TABLE imported_files (
    file_sha256  TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    file_name    TEXT    NOT NULL,
    imported_at  TEXT    NOT NULL,
    -- JSON summary: read, stored, duplicates, rejected, unlocated...
    summary      TEXT    NOT NULL CHECK (json_valid(summary)),
    PRIMARY KEY (file_sha256, kind, imported_at)
) STRICT;
