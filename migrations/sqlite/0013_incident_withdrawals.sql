-- 0013_incident_withdrawals: incidents withdrawn or amended, recorded beside them (issue 15,
-- point 1: erasures and amendments as tombstones until the merge).
--
-- Why: an incident recorded in error, withdrawn by the source agency, or with a wrong
-- category, location or date must stop being served, but imported incidents live in
-- immutable segments (0004) that are never rewritten: the saved index's fingerprint and the
-- segment checksums (0010) rely on it. A withdrawal is therefore a row here, never a change
-- to the incident's own bytes: every read that serves or exports incidents skips the ids
-- listed here. An amendment stores the corrected incident under a new id (as a one-row
-- segment, with the old one's source file and line) and withdraws the old id with
-- `replaced_by` naming the new one. `seq` orders withdrawals so a server reads only those
-- after the last it applied. `segment` is where the withdrawn incident is stored (NULL: the
-- incidents table), so the fingerprint and the feed read it without decoding any segment.
CREATE TABLE incident_withdrawals (
    incident_id  INTEGER PRIMARY KEY,
    seq          INTEGER NOT NULL UNIQUE CHECK (seq >= 1),
    segment      INTEGER REFERENCES incident_segments (id),
    -- RFC 3339 UTC time of the withdrawal.
    withdrawn_at TEXT    NOT NULL,
    reason       TEXT    NOT NULL CHECK (length(trim(reason)) >= 10),
    actor        TEXT    NOT NULL CHECK (length(trim(actor)) >= 1),
    -- For an amendment: the id of the incident that replaces this one.
    replaced_by  INTEGER,
    -- CRC-32 of the row's values, kept by the row checksum triggers (migration 0011).
    row_crc      INTEGER CHECK (row_crc BETWEEN 0 AND 4294967295)
) STRICT;

CREATE INDEX incident_withdrawals_replaced_by ON incident_withdrawals (replaced_by)
    WHERE replaced_by IS NOT NULL;
CREATE INDEX incident_withdrawals_segment ON incident_withdrawals (segment);

-- The change feed learns the kind `incident_withdrawals`. SQLite cannot change a CHECK
-- constraint in place, so the table is copied with its rows (their checksums cover the
-- table's name and values, both unchanged) and its AUTOINCREMENT counter, which must carry
-- over: a sequence number is never reused.
CREATE TABLE changes_0013 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('incidents', 'incident_segments', 'reference', 'people', 'access', 'incident_withdrawals')),
    -- incident_segments: the first and last segment id the transaction wrote.
    first_id INTEGER,
    last_id INTEGER,
    -- Unix seconds.
    at INTEGER NOT NULL,
    -- CRC-32 of the row's values, kept by the row checksum triggers (migration 0011).
    row_crc INTEGER
) STRICT;
INSERT INTO changes_0013 (seq, kind, first_id, last_id, at, row_crc)
    SELECT seq, kind, first_id, last_id, at, row_crc FROM changes ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'changes_0013';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'changes_0013', seq FROM sqlite_sequence WHERE name = 'changes';
DROP TABLE changes;
ALTER TABLE changes_0013 RENAME TO changes;
