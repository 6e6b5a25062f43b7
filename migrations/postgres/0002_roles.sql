-- 0002_roles: the application role and the read-only GIS role, with their grants (issue 16,
-- point 2).
--
-- Why: the GIS team reads the spatial tables directly (QGIS, ogr2ogr, Martin), so what it can
-- read is enforced by the database, not by saferplaces' policy layer, which it bypasses.
--
-- * `saferplaces_gis` (NOLOGIN; grant it to the GIS team's login roles): USAGE on `public`,
--   SELECT on the reference layers and incidents; nothing in `people` (not even USAGE, so a
--   table added there later is refused too); not the change feed, the duplicate links, the
--   withdrawals' reasons and actors, or the imported files register, which also names the
--   people and links files imported. Incidents are point-level data, as an analyst sees them:
--   the role is for the partnership's analysts, never for publishing to the public, whose
--   maps go through the disclosure control of the aggregate roles.
-- * Incidents are filtered by row-level security for the GIS role exactly as the API filters
--   them: an incident involving a child is never served as a point (only as coarsened counts,
--   safeguards.md), and a withdrawn incident is not served at all. The policy reads the
--   withdrawals' ids, the only columns of that table the GIS role may read.
-- * `saferplaces_app` (NOLOGIN; grant it to the servers' login role): reads and writes every
--   table of both schemas, sees every incident.
--
-- Roles are cluster-wide, not per database: they are created only when absent, so a second
-- database in the same cluster migrates too.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'saferplaces_gis') THEN
        CREATE ROLE saferplaces_gis NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'saferplaces_app') THEN
        CREATE ROLE saferplaces_app NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA people FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA people FROM PUBLIC;

-- The GIS role.
GRANT USAGE ON SCHEMA public TO saferplaces_gis;
GRANT SELECT ON incidents, places, schools, stops, routes, services, boundaries TO saferplaces_gis;
GRANT SELECT (incident_id) ON incident_withdrawals TO saferplaces_gis;

ALTER TABLE incidents ENABLE ROW LEVEL SECURITY;
CREATE POLICY incidents_gis_served ON incidents FOR SELECT TO saferplaces_gis
    USING (NOT involves_child
           AND NOT EXISTS (SELECT 1 FROM incident_withdrawals w WHERE w.incident_id = incidents.id));
CREATE POLICY incidents_app_all ON incidents FOR ALL TO saferplaces_app
    USING (true) WITH CHECK (true);

-- The application role.
GRANT USAGE ON SCHEMA public, people TO saferplaces_app;
-- The public tables by name: `public` also holds PostGIS's own `spatial_ref_sys`.
GRANT SELECT, INSERT, UPDATE, DELETE ON incidents, incident_withdrawals, incident_matches,
    imported_files, places, schools, stops, routes, services, boundaries, changes
    TO saferplaces_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA people TO saferplaces_app;
-- The server checks the schema version at start.
GRANT SELECT ON schema_migrations TO saferplaces_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public, people TO saferplaces_app;
