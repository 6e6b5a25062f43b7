-- 0003_audit: the audit log in the database, one trail for every server (issue 16, point 5).
--
-- Why: several stateless servers behind a load balancer each wrote their own audit file; an
-- auditor needs one hash-chained, checkpointed trail. Row `seq` holds, byte for byte, line
-- `seq` of the JSON Lines file the log would be (without its line feed): the chain, the
-- signed checkpoints and `saferplaces audit verify` are those of the file log
-- (src/safeguards/audit.rs), and `SELECT line FROM audit.log ORDER BY seq` is that file.
--
-- * Append-only: the application role may SELECT and INSERT, nothing else; triggers refuse
--   UPDATE and DELETE (per row) and TRUNCATE for every role, the table's owner and
--   superusers included, so changing a row takes dropping or disabling a trigger first (a
--   schema change, logged by the server when log_statement = 'ddl'), and what is then
--   changed is named by `audit verify` against the signed checkpoints and the witness.
-- * The GIS role has no USAGE on the schema `audit`, nor does PUBLIC.
-- * Writers serialise on a transaction-level advisory lock (src/safeguards/audit_pg.rs), so
--   two servers appending at once never fork the chain; the primary key refuses a second
--   line at one `seq` in any case.

CREATE SCHEMA IF NOT EXISTS audit;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;

CREATE TABLE audit.log (
    seq  bigint PRIMARY KEY CHECK (seq >= 1),
    line text   NOT NULL
);
REVOKE ALL ON audit.log FROM PUBLIC;

CREATE FUNCTION audit.refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'audit.log is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'the audit trail is never changed; see docs/SECURITY.md';
END
$$;
REVOKE ALL ON FUNCTION audit.refuse_change() FROM PUBLIC;

CREATE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON audit.log
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER log_no_truncate BEFORE TRUNCATE ON audit.log
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

GRANT USAGE ON SCHEMA audit TO saferplaces_app;
GRANT SELECT, INSERT ON audit.log TO saferplaces_app;
