-- The change feed (issue 15, point 1): one row per write transaction and kind of served data
-- it changed, written in that transaction. A server remembers the last sequence number it
-- applied and reads only what changed since (`store::changes`), reloading one kind (reference
-- layers, people and links, users) or adding the new incident segments to its index, instead
-- of reloading the whole store on every change. AUTOINCREMENT: a sequence number is never
-- reused, even after the newest row is deleted.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('incidents', 'incident_segments', 'reference', 'people', 'access')),
    -- incident_segments: the first and last segment id the transaction wrote.
    first_id INTEGER,
    last_id INTEGER,
    -- Unix seconds.
    at INTEGER NOT NULL,
    -- CRC-32 of the row's values, kept by the row checksum triggers (migration 0011).
    row_crc INTEGER
) STRICT;
