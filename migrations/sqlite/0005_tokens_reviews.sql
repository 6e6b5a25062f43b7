-- 0005_tokens_reviews: bearer tokens expire and can be revoked; reviews of person-level entries
-- are recorded.
--
-- Why: issue 12 points 5 and 8. A token that never expires and cannot be withdrawn outlives the
-- job of the person holding it. Times are Unix seconds (UTC). Rows created before this
-- migration get the default lifetime (30 days) from now; `revoked_at` keeps the row for audit
-- instead of deleting the user. safeguards.md S7 and S18: a review records a named
-- decision-maker, an outcome (retain, amend, remove), a rationale of at least 30 characters and
-- the next review date. A review's rows go with its person when the person is erased; the audit
-- log keeps the decision's reference (`review:<id>`), never the rationale's words after erasure.

ALTER TABLE users ADD COLUMN token_expires_at INTEGER CHECK (token_expires_at >= 0);
ALTER TABLE users ADD COLUMN token_revoked_at INTEGER CHECK (token_revoked_at >= 0);
UPDATE users SET token_expires_at = unixepoch() + 30 * 86400;

CREATE TABLE reviews (
    id         INTEGER PRIMARY KEY,
    person     TEXT    NOT NULL,
    -- The next review date (days since 1970-01-01); NULL when the outcome is `remove`.
    review_due INTEGER CHECK (review_due BETWEEN 0 AND 65535),
    rationale  TEXT    NOT NULL CHECK (length(trim(rationale)) >= 30),
    outcome    TEXT    NOT NULL CHECK (outcome IN ('retain', 'amend', 'remove')),
    decided_by TEXT    NOT NULL CHECK (length(decided_by) BETWEEN 1 AND 100),
    -- RFC 3339 UTC with milliseconds.
    decided_at TEXT    NOT NULL,
    CHECK ((outcome = 'remove') = (review_due IS NULL))
) STRICT;

CREATE INDEX reviews_person ON reviews (person);
