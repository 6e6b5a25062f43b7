-- Martin function source: the saferplaces hexagon tile built by PostGIS (maps.md §9.3).
-- Same layer name (`hexagons`), extent 4096, buffer 64, properties `h3` (string), `count`
-- (integer) and `suppressed` (boolean, always false: exact counts, as for an analyst), the same
-- zoom -> resolution rule as saferplaces (clamp(floor(2z/3) + 2, 5, 10)), cells whose bounding
-- box meets the tile plus buffer, and no clipping (hexagons are drawn whole in every tile
-- they reach). ST_AsMVT of no rows is an empty bytea, which Martin answers with 204.
CREATE OR REPLACE FUNCTION bench.hexagons(z integer, x integer, y integer)
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT ST_AsMVT(t, 'hexagons', 4096, 'geom')
  FROM (
    SELECT c.h3, c.count, false AS suppressed,
           ST_AsMVTGeom(c.geom, ST_TileEnvelope(z, x, y), 4096, 64, false) AS geom
    FROM bench.hotspot_cells AS c
    WHERE c.res = LEAST(10, GREATEST(5, (2 * z) / 3 + 2))
      AND c.geom && ST_TileEnvelope(z, x, y, margin => 64.0 / 4096)
  ) AS t;
$$;
