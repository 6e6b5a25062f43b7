-- 0001_init: the first schema of the embedded store, one table per record kind in `Dataset`.
--
-- Why: saferplaces needs somewhere durable to keep what importers and the synthetic generator
-- produce, so a restart rebuilds the index without re-importing. Scalar facts get typed
-- columns (ids, category slug, day as days since 1970-01-01, minute of day, precision codes,
-- WGS84 lon/lat, provenance); nested lists are JSON text and boundary outlines are GeoJSON.
--
-- Vocabularies (category slugs, kinds, tiers, modes, precisions) are deliberately not CHECKed
-- here: adding a variant in code must not need a table rebuild, and `SqliteStore::load`
-- refuses unknown codes as corrupt rows. The CHECKs below hold only the structural rules.
-- Tables are STRICT so a value of the wrong type is refused on write.
-- Applied by `SqliteStore` in one transaction, which then sets `PRAGMA user_version = 1`.

CREATE TABLE incidents (
    id                 INTEGER PRIMARY KEY,
    category           TEXT    NOT NULL,
    day                INTEGER NOT NULL CHECK (day BETWEEN 0 AND 65535),
    minute             INTEGER CHECK (minute BETWEEN 0 AND 1439),
    time_precision     TEXT    NOT NULL,
    lon                REAL    CHECK (lon BETWEEN -180.0 AND 180.0),
    lat                REAL    CHECK (lat BETWEEN -90.0 AND 90.0),
    location_precision TEXT,
    involves_child     INTEGER NOT NULL CHECK (involves_child IN (0, 1)),
    agency             TEXT    NOT NULL,
    isa_ref            TEXT,
    grade              TEXT,
    -- A location is all three of lon, lat and precision, or none of them.
    CHECK ((lon IS NULL) = (lat IS NULL) AND (lon IS NULL) = (location_precision IS NULL))
) STRICT;

CREATE TABLE places (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    lon        REAL    NOT NULL CHECK (lon BETWEEN -180.0 AND 180.0),
    lat        REAL    NOT NULL CHECK (lat BETWEEN -90.0 AND 90.0),
    -- JSON array of {"role", "organisation"}.
    guardians  TEXT    NOT NULL CHECK (json_valid(guardians) AND json_type(guardians) = 'array'),
    review_due INTEGER NOT NULL CHECK (review_due BETWEEN 0 AND 65535),
    agency     TEXT    NOT NULL,
    isa_ref    TEXT,
    grade      TEXT
) STRICT;

CREATE TABLE schools (
    urn     INTEGER PRIMARY KEY CHECK (urn BETWEEN 100000 AND 999999),
    name    TEXT    NOT NULL,
    phase   TEXT    NOT NULL,
    lon     REAL    NOT NULL CHECK (lon BETWEEN -180.0 AND 180.0),
    lat     REAL    NOT NULL CHECK (lat BETWEEN -90.0 AND 90.0),
    la_code TEXT    NOT NULL
) STRICT;

CREATE TABLE stops (
    atco TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    lon  REAL NOT NULL CHECK (lon BETWEEN -180.0 AND 180.0),
    lat  REAL NOT NULL CHECK (lat BETWEEN -90.0 AND 90.0)
) STRICT;

CREATE TABLE routes (
    id         INTEGER PRIMARY KEY,
    short_name TEXT    NOT NULL,
    long_name  TEXT    NOT NULL,
    mode       TEXT    NOT NULL,
    -- JSON array of [lon, lat]; a route's path has at least two points.
    line       TEXT    NOT NULL CHECK (json_valid(line) AND json_array_length(line) >= 2),
    -- JSON array of ATCO codes, in order.
    stops      TEXT    NOT NULL CHECK (json_valid(stops) AND json_type(stops) = 'array')
) STRICT;

CREATE TABLE services (
    id       INTEGER PRIMARY KEY,
    name     TEXT    NOT NULL,
    tier     TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    provider TEXT    NOT NULL,
    lon      REAL    NOT NULL CHECK (lon BETWEEN -180.0 AND 180.0),
    lat      REAL    NOT NULL CHECK (lat BETWEEN -90.0 AND 90.0)
) STRICT;

CREATE TABLE boundaries (
    scheme           TEXT    NOT NULL,
    code             TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    -- A GeoJSON MultiPolygon geometry object, WGS84 lon/lat.
    geometry         TEXT    NOT NULL CHECK (json_valid(geometry)),
    youth_population INTEGER CHECK (youth_population BETWEEN 0 AND 4294967295),
    PRIMARY KEY (scheme, code)
) STRICT, WITHOUT ROWID;

CREATE TABLE people (
    id         TEXT    PRIMARY KEY,
    birth_year INTEGER NOT NULL CHECK (birth_year BETWEEN 0 AND 65535),
    -- JSON array of subject category codes; at least one (safeguards.md S1).
    categories TEXT    NOT NULL
        CHECK (json_valid(categories) AND json_array_length(categories) >= 1),
    agency     TEXT    NOT NULL,
    review_due INTEGER NOT NULL CHECK (review_due BETWEEN 0 AND 65535)
) STRICT;

CREATE TABLE links (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    from_person TEXT    NOT NULL,
    -- JSON {"type": "person" | "place" | "incident", "id": ...}.
    target      TEXT    NOT NULL CHECK (json_valid(target)),
    -- JSON array of subject category codes; at least one (safeguards.md S1).
    categories  TEXT    NOT NULL
        CHECK (json_valid(categories) AND json_array_length(categories) >= 1),
    grade       TEXT    NOT NULL,
    agency      TEXT    NOT NULL,
    review_due  INTEGER NOT NULL CHECK (review_due BETWEEN 0 AND 65535)
) STRICT;

CREATE INDEX links_from_person ON links (from_person);
