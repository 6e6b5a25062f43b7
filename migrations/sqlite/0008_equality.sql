-- Issue 13 points 6 and 7: the S22 disproportionality monitor (safeguards.md S22).
--
-- person_equality holds the protected characteristics of a person that the monitor needs. It is a
-- separate table so that no query of the operational code reads it by accident: only
-- safeguards::equality (run by the equality_monitor function) selects from it, and no API
-- response or field allowlist of another role names its columns (S14). A row goes with its person
-- on erasure (Store::erase); the foreign key refuses a row for a person who is not stored.
-- ethnicity: ONS Census 2021 5-group codes (asian, black, mixed, white, other) or not_stated.
CREATE TABLE person_equality (
    person_ref         TEXT    PRIMARY KEY REFERENCES people (id),
    ethnicity          TEXT    NOT NULL
        CHECK (ethnicity IN ('asian', 'black', 'mixed', 'white', 'other', 'not_stated')),
    sex                TEXT    NOT NULL CHECK (sex IN ('female', 'male', 'not_stated')),
    deprivation_decile INTEGER CHECK (deprivation_decile BETWEEN 1 AND 10),
    -- ONS code of the local authority of residence, e.g. E06000023.
    authority          TEXT
) STRICT;

-- Residents aged 10-24 (Census 2021 or synthetic) by authority, MSOA (empty string: the whole
-- authority) and one characteristic (docs/formats.md "Resident baselines").
CREATE TABLE equality_baselines (
    authority TEXT    NOT NULL,
    msoa      TEXT    NOT NULL,
    dimension TEXT    NOT NULL CHECK (dimension IN ('ethnicity', 'sex', 'age_band', 'deprivation_decile')),
    grp       TEXT    NOT NULL,
    residents INTEGER NOT NULL CHECK (residents >= 0),
    source    TEXT    NOT NULL,
    PRIMARY KEY (authority, msoa, dimension, grp)
) STRICT;

-- One row per month, population, dimension and group: the exact counts, the RRI and its 95 %
-- interval (NULL with no_estimate set when S22's statistic is undefined). Exact counts are read
-- only by the equality monitor; the API publishes them through the disclosure control (S21).
CREATE TABLE equality_results (
    month       TEXT    NOT NULL,
    population  TEXT    NOT NULL,
    dimension   TEXT    NOT NULL,
    grp         TEXT    NOT NULL,
    reference   TEXT    NOT NULL,
    a_g         INTEGER NOT NULL CHECK (a_g >= 0),
    n_g         INTEGER NOT NULL CHECK (n_g >= 0),
    a_r         INTEGER NOT NULL CHECK (a_r >= 0),
    n_r         INTEGER NOT NULL CHECK (n_r >= 0),
    rri         REAL,
    ci_low      REAL,
    ci_high     REAL,
    no_estimate TEXT,
    flagged     INTEGER NOT NULL CHECK (flagged IN (0, 1)),
    computed_at TEXT    NOT NULL,
    PRIMARY KEY (month, population, dimension, grp)
) STRICT;

-- S22 trigger alerts: open until closed with an explain-or-reform record.
CREATE TABLE equality_alerts (
    id          INTEGER PRIMARY KEY,
    month       TEXT    NOT NULL,
    population  TEXT    NOT NULL,
    dimension   TEXT    NOT NULL,
    grp         TEXT    NOT NULL,
    reference   TEXT    NOT NULL,
    rri         REAL    NOT NULL,
    ci_low      REAL    NOT NULL,
    ci_high     REAL    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at   TEXT    NOT NULL,
    outcome     TEXT    CHECK (outcome IN ('explain', 'reform')),
    record      TEXT,
    closed_by   TEXT,
    closed_at   TEXT,
    CHECK (status = 'open' OR (outcome IS NOT NULL AND length(record) >= 30 AND closed_at IS NOT NULL)),
    UNIQUE (month, population, dimension, grp)
) STRICT;

-- The months the monitor ran (a month can have no comparison at all).
CREATE TABLE equality_runs (
    month       TEXT PRIMARY KEY,
    computed_at TEXT NOT NULL
) STRICT;
