-- 0006_case_assignment: cases belong to an organisation and are assigned to named users;
-- people and links record the sharing agreement they arrived under.
--
-- Why: issue 12, point 1. A police analyst read hundreds of children's records by stepping
-- X-Case-Ref through sequential references: a case reference alone granted access. Now only
-- the users assigned to a case read its subjects (break-glass reads aside, which are audited
-- and raise an alert). Assignments are rows, not a JSON list, so an assignment is one insert
-- that records who made it and when.

ALTER TABLE cases ADD COLUMN org TEXT NOT NULL DEFAULT 'unknown';

CREATE TABLE case_assignments (
    case_ref    TEXT NOT NULL REFERENCES cases (reference) ON DELETE CASCADE,
    user_name   TEXT NOT NULL CHECK (length(user_name) BETWEEN 1 AND 100),
    assigned_at TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    PRIMARY KEY (case_ref, user_name)
) STRICT, WITHOUT ROWID;

-- Issue 12, point 7 (safeguards.md S20): every person and link records its controller (the
-- existing `agency` column) and the information sharing agreement it arrived under, when it
-- came from another controller. NULL: the deployment's own data, or data stored before this
-- migration.
ALTER TABLE people ADD COLUMN isa_ref TEXT;
ALTER TABLE links ADD COLUMN isa_ref TEXT;
