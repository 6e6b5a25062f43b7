-- 0002_access: users, cases and MACE meetings, which scope person-level access.
--
-- Why: safeguards.md S12 and S13 grant person-level reads only through a case (police
-- analysts) or a MACE meeting agenda (panel members), to named users with a role. Tokens are
-- never stored: only their SHA-256 hashes (hex), unique per user.

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    role       TEXT    NOT NULL,
    org        TEXT,
    -- JSON array of panel ids.
    panels     TEXT    NOT NULL CHECK (json_valid(panels) AND json_type(panels) = 'array'),
    token_hash TEXT    NOT NULL UNIQUE CHECK (length(token_hash) = 64)
) STRICT;

CREATE TABLE cases (
    reference  TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    -- JSON array of person references.
    subjects   TEXT    NOT NULL CHECK (json_valid(subjects) AND json_type(subjects) = 'array'),
    opened     INTEGER NOT NULL CHECK (opened BETWEEN 0 AND 65535),
    review_due INTEGER NOT NULL CHECK (review_due BETWEEN 0 AND 65535)
) STRICT;

CREATE TABLE meetings (
    reference  TEXT    PRIMARY KEY,
    panel_id   INTEGER NOT NULL CHECK (panel_id >= 0),
    day        INTEGER NOT NULL CHECK (day BETWEEN 0 AND 65535),
    subjects   TEXT    NOT NULL CHECK (json_valid(subjects) AND json_type(subjects) = 'array'),
    places     TEXT    NOT NULL CHECK (json_valid(places) AND json_type(places) = 'array')
) STRICT;
