-- 0001_init: the PostgreSQL/PostGIS schema, mirroring the embedded store's SQLite schema
-- (migrations/sqlite/0001..0013) as it stands after 0013 (issue 16, points 1 and 2).
--
-- Why: a partnership's GIS team reads the data where it already works, in PostGIS, from QGIS,
-- ogr2ogr, Martin or pg_tileserv; several saferplaces servers then share one database. The
-- tables hold the same records as the SQLite store; the mapping differs where PostgreSQL
-- offers what SQLite lacks, or where a GIS tool must read the table:
--
-- * Geometry is PostGIS, SRID 4326 (WGS84 lon/lat), in typed columns named `geom`:
--   Point for incidents, places, schools, stops and services (SQLite: lon and lat REALs),
--   LineString for routes (SQLite: a JSON array of [lon, lat]) and MultiPolygon for boundaries
--   (SQLite: GeoJSON text). Typed columns register in `geometry_columns`, so GIS tools list
--   each table with its geometry type; every geometry has a GiST index.
-- * Incidents are rows, one per incident, with its provenance in the same row. SQLite keeps
--   imported incidents in compressed columnar segments with checksums (0004, 0010) because
--   two B-tree inserts per row missed the import budget; PostgreSQL takes them through binary
--   COPY, and a GIS tool cannot read a segment. `incident_sources` is folded into
--   `incidents` (file, line and the raw source strings are columns, NULL for records from the
--   synthetic generator). `segment` is the write batch that stored the row (the SQLite
--   store's segment id), so the change feed can still name a range of batches.
-- * An unlocated incident has `geom` and `location_precision` NULL (SQLite: lon, lat and
--   precision NULL together); the same all-or-none CHECK holds.
-- * Days (days since 1970-01-01 in SQLite) are `date`; incidents also carry `month`, the first
--   day of their month, generated, because month is what police.uk publishes and what an
--   analyst filters by. Minutes of day stay integers. Vocabulary codes stay text, unCHECKed,
--   as in SQLite: a new variant in code needs no table rebuild.
-- * Booleans are `boolean`, JSON lists are `jsonb`, RFC 3339 text times stay text where the
--   store writes them as such (audit references quote them) and Unix seconds stay bigint.
-- * No `row_crc` columns (0011): SQLite checks its pages' structure, not their values, so the
--   embedded store checksums each row itself; the PostgreSQL cluster is initialised with page
--   checksums (`initdb --data-checksums`, docs) and the rows are written by many processes,
--   where the store's TEMP triggers could not follow them.
-- * Person-level data (people, links and their versions, reviews, cases, case assignments,
--   MACE meetings, equality attributes and results, stop-and-search records, which hold
--   ethnicity) and users with their token hashes live in the schema `people`, apart from the
--   spatial tables in `public`: the read-only GIS role (0002) is given no access to that
--   schema at all, so a table added there later is out of its reach too.
-- * The change feed (`changes`, 0012/0013) uses a bigint identity: a sequence never hands out
--   a number twice, as SQLite's AUTOINCREMENT. The audit log stays a file in this release.
--
-- Applied by `saferplaces migrate` (src/store/postgres/migrate.rs) in one transaction, with
-- its SHA-256 recorded in `schema_migrations`.

-- A clear message when PostGIS is not installed is given by the migrator before this runs.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA IF NOT EXISTS people;

-- Imported files (0003): one row per file, referenced by its incidents.
CREATE TABLE imported_files (
    id           bigint PRIMARY KEY,
    file_sha256  text   NOT NULL CHECK (length(file_sha256) = 64),
    kind         text   NOT NULL,
    file_name    text   NOT NULL,
    imported_at  text   NOT NULL,
    -- read, stored, duplicates, rejected, unlocated...
    summary      jsonb  NOT NULL
);

CREATE TABLE incidents (
    id                 bigint   PRIMARY KEY,
    category           text     NOT NULL,
    day                date     NOT NULL,
    -- The first day of the incident's month (police.uk publishes months).
    month              date     NOT NULL
        GENERATED ALWAYS AS (make_date(extract(year FROM day)::int, extract(month FROM day)::int, 1)) STORED,
    minute             smallint CHECK (minute BETWEEN 0 AND 1439),
    time_precision     text     NOT NULL,
    geom               geometry(Point, 4326)
        CHECK (ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90),
    location_precision text,
    involves_child     boolean  NOT NULL,
    -- Provenance: the force or agency, the sharing agreement, the grade.
    agency             text     NOT NULL,
    isa_ref            text,
    grade              text,
    -- The write batch that stored the row (SQLite: the segment id); NULL for records written
    -- one by one (the synthetic generator).
    segment            bigint,
    -- Source (SQLite 0003 incident_sources): file and 1-based line, and the raw attributes.
    file_id            bigint   REFERENCES imported_files (id),
    line               bigint   CHECK (line >= 1),
    source_ref         text,
    area_code          text,
    area_vintage       text,
    location           text,
    category_raw       text,
    outcome_raw        text,
    outside_area       boolean  NOT NULL DEFAULT false,
    CHECK ((geom IS NULL) = (location_precision IS NULL)),
    CHECK ((file_id IS NULL) = (line IS NULL))
);
CREATE INDEX incidents_geom ON incidents USING gist (geom);
CREATE INDEX incidents_day ON incidents (day);
CREATE INDEX incidents_category_month ON incidents (category, month);
CREATE INDEX incidents_segment ON incidents (segment) WHERE segment IS NOT NULL;
CREATE INDEX incidents_file ON incidents (file_id) WHERE file_id IS NOT NULL;

-- Incidents withdrawn or amended (0013): a withdrawal is a row beside the incident, as in
-- SQLite, so the change feed and a server's index apply it the same way; reads that serve
-- incidents skip the ids listed here.
CREATE TABLE incident_withdrawals (
    incident_id  bigint PRIMARY KEY REFERENCES incidents (id),
    seq          bigint NOT NULL UNIQUE CHECK (seq >= 1),
    -- The batch the withdrawn incident was stored in (SQLite: its segment); NULL: none.
    segment      bigint,
    withdrawn_at text   NOT NULL,
    reason       text   NOT NULL CHECK (length(trim(reason)) >= 10),
    actor        text   NOT NULL CHECK (length(trim(actor)) >= 1),
    -- For an amendment: the incident that replaces this one.
    replaced_by  bigint REFERENCES incidents (id)
);
CREATE INDEX incident_withdrawals_replaced_by ON incident_withdrawals (replaced_by)
    WHERE replaced_by IS NOT NULL;
CREATE INDEX incident_withdrawals_segment ON incident_withdrawals (segment);

-- Likely duplicates across sources are linked, never deleted (0003).
CREATE TABLE incident_matches (
    a          bigint  NOT NULL,
    b          bigint  NOT NULL CHECK (b > a),
    kind       text    NOT NULL,
    category   text    NOT NULL,
    distance_m double precision NOT NULL CHECK (distance_m >= 0),
    days_apart integer NOT NULL CHECK (days_apart >= 0),
    params     jsonb   NOT NULL,
    found_at   text    NOT NULL,
    PRIMARY KEY (a, b, kind)
);

CREATE TABLE places (
    id         bigint PRIMARY KEY,
    kind       text   NOT NULL,
    name       text   NOT NULL,
    geom       geometry(Point, 4326) NOT NULL
        CHECK (ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90),
    -- [{"role", "organisation"}]
    guardians  jsonb  NOT NULL CHECK (jsonb_typeof(guardians) = 'array'),
    review_due date   NOT NULL,
    agency     text   NOT NULL,
    isa_ref    text,
    grade      text
);
CREATE INDEX places_geom ON places USING gist (geom);

CREATE TABLE schools (
    urn     integer PRIMARY KEY CHECK (urn BETWEEN 100000 AND 999999),
    name    text    NOT NULL,
    phase   text    NOT NULL,
    geom    geometry(Point, 4326) NOT NULL
        CHECK (ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90),
    la_code text    NOT NULL,
    -- GIAS lists closed establishments too; kept for history, drawn only when open.
    open    boolean NOT NULL DEFAULT true
);
CREATE INDEX schools_geom ON schools USING gist (geom);

CREATE TABLE stops (
    atco   text    PRIMARY KEY,
    name   text    NOT NULL,
    geom   geometry(Point, 4326) NOT NULL
        CHECK (ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90),
    -- NaPTAN marks withdrawn stops inactive; kept, not drawn.
    active boolean NOT NULL DEFAULT true
);
CREATE INDEX stops_geom ON stops USING gist (geom);

CREATE TABLE routes (
    id         bigint PRIMARY KEY,
    short_name text   NOT NULL,
    long_name  text   NOT NULL,
    mode       text   NOT NULL,
    -- The path; at least two points.
    geom       geometry(LineString, 4326) NOT NULL CHECK (ST_NPoints(geom) >= 2),
    -- ATCO codes, in order.
    stops      jsonb  NOT NULL CHECK (jsonb_typeof(stops) = 'array')
);
CREATE INDEX routes_geom ON routes USING gist (geom);

CREATE TABLE services (
    id       bigint PRIMARY KEY,
    name     text   NOT NULL,
    tier     text   NOT NULL,
    kind     text   NOT NULL,
    provider text   NOT NULL,
    geom     geometry(Point, 4326) NOT NULL
        CHECK (ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90)
);
CREATE INDEX services_geom ON services USING gist (geom);

CREATE TABLE boundaries (
    scheme           text   NOT NULL,
    code             text   NOT NULL,
    name             text   NOT NULL,
    geom             geometry(MultiPolygon, 4326) NOT NULL,
    youth_population bigint CHECK (youth_population BETWEEN 0 AND 4294967295),
    PRIMARY KEY (scheme, code)
);
CREATE INDEX boundaries_geom ON boundaries USING gist (geom);

-- The change feed (0012, 0013): one row per write transaction and kind of served data it
-- changed, written in that transaction.
CREATE TABLE changes (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind     text   NOT NULL CHECK (kind IN ('incidents', 'incident_segments', 'reference',
                                             'people', 'access', 'incident_withdrawals')),
    -- incident_segments: the first and last batch (segment) the transaction wrote.
    first_id bigint,
    last_id  bigint,
    -- Unix seconds.
    at       bigint NOT NULL
);

-- Person-level data and access (schema `people`, out of the GIS role's reach).

CREATE TABLE people.people (
    id         text    PRIMARY KEY,
    birth_year integer NOT NULL CHECK (birth_year BETWEEN 0 AND 65535),
    -- Subject category codes; at least one (safeguards.md S1).
    categories jsonb   NOT NULL
        CHECK (jsonb_typeof(categories) = 'array' AND jsonb_array_length(categories) >= 1),
    agency     text    NOT NULL,
    review_due date    NOT NULL,
    isa_ref    text
);

CREATE TABLE people.links (
    id          bigint PRIMARY KEY,
    kind        text   NOT NULL,
    from_person text   NOT NULL,
    -- {"type": "person" | "place" | "incident", "id": ...}
    target      jsonb  NOT NULL,
    categories  jsonb  NOT NULL
        CHECK (jsonb_typeof(categories) = 'array' AND jsonb_array_length(categories) >= 1),
    grade       text   NOT NULL,
    agency      text   NOT NULL,
    review_due  date   NOT NULL,
    isa_ref     text
);
CREATE INDEX links_from_person ON people.links (from_person);
CREATE INDEX links_to_person ON people.links ((target ->> 'id')) WHERE target ->> 'type' = 'person';

CREATE TABLE people.person_versions (
    version_id    bigint  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id            text    NOT NULL,
    birth_year    integer NOT NULL CHECK (birth_year BETWEEN 0 AND 65535),
    categories    jsonb   NOT NULL,
    agency        text    NOT NULL,
    review_due    date    NOT NULL,
    isa_ref       text,
    superseded_at text    NOT NULL
);
CREATE INDEX person_versions_id ON people.person_versions (id);

CREATE TABLE people.link_versions (
    version_id    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id            bigint NOT NULL,
    kind          text   NOT NULL,
    from_person   text   NOT NULL,
    target        jsonb  NOT NULL,
    categories    jsonb  NOT NULL,
    grade         text   NOT NULL,
    agency        text   NOT NULL,
    review_due    date   NOT NULL,
    isa_ref       text,
    superseded_at text   NOT NULL
);
CREATE INDEX link_versions_id ON people.link_versions (id);
CREATE INDEX link_versions_from_person ON people.link_versions (from_person);

CREATE TABLE people.reviews (
    id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    person     text   NOT NULL,
    -- NULL when the outcome is `remove`.
    review_due date,
    rationale  text   NOT NULL CHECK (length(trim(rationale)) >= 30),
    outcome    text   NOT NULL CHECK (outcome IN ('retain', 'amend', 'remove')),
    decided_by text   NOT NULL CHECK (length(decided_by) BETWEEN 1 AND 100),
    decided_at text   NOT NULL,
    CHECK ((outcome = 'remove') = (review_due IS NULL))
);
CREATE INDEX reviews_person ON people.reviews (person);

-- Users (0002, 0005): tokens are never stored, only their SHA-256 hashes.
CREATE TABLE people.users (
    id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name             text   NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    role             text   NOT NULL,
    org              text,
    -- Panel ids.
    panels           jsonb  NOT NULL CHECK (jsonb_typeof(panels) = 'array'),
    token_hash       text   NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    -- Unix seconds.
    token_expires_at bigint CHECK (token_expires_at >= 0),
    token_revoked_at bigint CHECK (token_revoked_at >= 0)
);

CREATE TABLE people.cases (
    reference  text  PRIMARY KEY,
    kind       text  NOT NULL,
    -- Person references.
    subjects   jsonb NOT NULL CHECK (jsonb_typeof(subjects) = 'array'),
    opened     date  NOT NULL,
    review_due date  NOT NULL,
    org        text  NOT NULL DEFAULT 'unknown'
);

CREATE TABLE people.case_assignments (
    case_ref    text NOT NULL REFERENCES people.cases (reference) ON DELETE CASCADE,
    user_name   text NOT NULL CHECK (length(user_name) BETWEEN 1 AND 100),
    assigned_at text NOT NULL,
    assigned_by text NOT NULL,
    PRIMARY KEY (case_ref, user_name)
);

CREATE TABLE people.meetings (
    reference text    PRIMARY KEY,
    panel_id  integer NOT NULL CHECK (panel_id >= 0),
    day       date    NOT NULL,
    subjects  jsonb   NOT NULL CHECK (jsonb_typeof(subjects) = 'array'),
    places    jsonb   NOT NULL CHECK (jsonb_typeof(places) = 'array')
);

-- Stop-and-search records (0003): the record holds ethnicity, for disparity monitoring only
-- (safeguards.md S22), so the table is person-level.
CREATE TABLE people.stop_searches (
    id      bigint PRIMARY KEY,
    record  jsonb  NOT NULL,
    day     date   NOT NULL,
    file_id bigint NOT NULL REFERENCES imported_files (id),
    line    bigint NOT NULL CHECK (line >= 1)
);

-- The S22 disproportionality monitor (0008, 0009).
CREATE TABLE people.person_equality (
    person_ref         text    PRIMARY KEY REFERENCES people.people (id),
    ethnicity          text    NOT NULL
        CHECK (ethnicity IN ('asian', 'black', 'mixed', 'white', 'other', 'not_stated')),
    sex                text    NOT NULL CHECK (sex IN ('female', 'male', 'not_stated')),
    deprivation_decile integer CHECK (deprivation_decile BETWEEN 1 AND 10),
    authority          text,
    msoa               text
);

CREATE TABLE people.equality_baselines (
    authority text   NOT NULL,
    msoa      text   NOT NULL,
    dimension text   NOT NULL
        CHECK (dimension IN ('ethnicity', 'sex', 'age_band', 'deprivation_decile')),
    grp       text   NOT NULL,
    residents bigint NOT NULL CHECK (residents >= 0),
    source    text   NOT NULL,
    PRIMARY KEY (authority, msoa, dimension, grp)
);

CREATE TABLE people.equality_results (
    month       text    NOT NULL,
    population  text    NOT NULL,
    dimension   text    NOT NULL,
    grp         text    NOT NULL,
    reference   text    NOT NULL,
    a_g         bigint  NOT NULL CHECK (a_g >= 0),
    n_g         bigint  NOT NULL CHECK (n_g >= 0),
    a_r         bigint  NOT NULL CHECK (a_r >= 0),
    n_r         bigint  NOT NULL CHECK (n_r >= 0),
    rri         double precision,
    ci_low      double precision,
    ci_high     double precision,
    no_estimate text,
    flagged     boolean NOT NULL,
    computed_at text    NOT NULL,
    PRIMARY KEY (month, population, dimension, grp)
);

CREATE TABLE people.equality_alerts (
    id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    month      text   NOT NULL,
    population text   NOT NULL,
    dimension  text   NOT NULL,
    grp        text   NOT NULL,
    reference  text   NOT NULL,
    rri        double precision NOT NULL,
    ci_low     double precision NOT NULL,
    ci_high    double precision NOT NULL,
    status     text   NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at  text   NOT NULL,
    outcome    text   CHECK (outcome IN ('explain', 'reform')),
    record     text,
    closed_by  text,
    closed_at  text,
    CHECK (status = 'open' OR (outcome IS NOT NULL AND length(record) >= 30 AND closed_at IS NOT NULL)),
    UNIQUE (month, population, dimension, grp)
);

CREATE TABLE people.equality_runs (
    month       text PRIMARY KEY,
    computed_at text NOT NULL
);
