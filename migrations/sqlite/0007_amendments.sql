-- Issue 12 point 6: a changed re-import of a person or link is an amendment. The stored row is
-- replaced by the new version and the old version is kept here for audit (safeguards.md S16),
-- until the person or link is erased (S18), when its versions go with it.

CREATE TABLE person_versions (
    version_id    INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL,
    birth_year    INTEGER NOT NULL CHECK (birth_year BETWEEN 0 AND 65535),
    categories    TEXT    NOT NULL CHECK (json_valid(categories)),
    agency        TEXT    NOT NULL,
    review_due    INTEGER NOT NULL CHECK (review_due BETWEEN 0 AND 65535),
    isa_ref       TEXT,
    -- RFC 3339 UTC time the version was replaced.
    superseded_at TEXT    NOT NULL
) STRICT;

CREATE INDEX person_versions_id ON person_versions (id);

CREATE TABLE link_versions (
    version_id    INTEGER PRIMARY KEY,
    id            INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    from_person   TEXT    NOT NULL,
    target        TEXT    NOT NULL CHECK (json_valid(target)),
    categories    TEXT    NOT NULL CHECK (json_valid(categories)),
    grade         TEXT    NOT NULL,
    agency        TEXT    NOT NULL,
    review_due    INTEGER NOT NULL CHECK (review_due BETWEEN 0 AND 65535),
    isa_ref       TEXT,
    superseded_at TEXT    NOT NULL
) STRICT;

CREATE INDEX link_versions_id ON link_versions (id);
CREATE INDEX link_versions_from_person ON link_versions (from_person);

-- Links to a person, for the rules on the resulting state (links from a person already have
-- links_from_person). The expression matches the store's lookup exactly.
CREATE INDEX links_to_person ON links (json_extract(target, '$.id'))
    WHERE json_extract(target, '$.type') = 'person';
