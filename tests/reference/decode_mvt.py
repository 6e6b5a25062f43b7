"""Decode Mapbox Vector Tiles with mapbox-vector-tile and print them as JSON.

Usage: decode_mvt.py TILE [TILE ...]

Prints one JSON object mapping each file name given to its decoded tile:
{"layers": {name: {"extent", "version", "features": [{"id", "has_id", "type",
"properties", "value_fields", "geometry"}]}}}. Geometry stays in tile units with y
pointing down (default_options={"y_coord_down": True}), as the encoder wrote it; rings
are closed (first vertex repeated) as GeoJSON has them. "type" is the MVT geometry type
(1 point, 2 line, 3 polygon). "has_id" and "value_fields" (property key -> the Value
field set on the wire, e.g. "uint_value") come from the raw protobuf, which the decoded
dictionary does not show. The reference test in src/tiles/reference_tests.rs compares
this with what was encoded (maps.md section 7).

Exit status 0 on success; 2 when mapbox_vector_tile cannot be imported (the Rust test
then skips with that reason); 1 on a decode error.
"""

import json
import sys

try:
    import mapbox_vector_tile
    from mapbox_vector_tile.Mapbox import vector_tile_pb2
except ImportError as exc:  # pragma: no cover - reported to the Rust test
    print(f"mapbox_vector_tile is not importable: {exc}", file=sys.stderr)
    sys.exit(2)


def plain(value):
    """Turns tuples into lists so that json.dumps gives arrays."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def decode(path):
    with open(path, "rb") as f:
        data = f.read()
    tile = mapbox_vector_tile.decode(
        data, default_options={"y_coord_down": True, "geojson": False}
    )
    raw = vector_tile_pb2.tile()
    raw.ParseFromString(data)
    raw_layers = {layer.name: layer for layer in raw.layers}
    layers = {}
    for name, layer in tile.items():
        raw_layer = raw_layers[name]
        features = []
        for feature, raw_feature in zip(layer["features"], raw_layer.features, strict=True):
            tags = list(raw_feature.tags)
            fields = {}
            for key_idx, val_idx in zip(tags[::2], tags[1::2]):
                value = raw_layer.values[val_idx]
                set_fields = [f.name for f, _ in value.ListFields()]
                if len(set_fields) != 1:
                    raise ValueError(f"a Value sets {set_fields}, not exactly one field")
                fields[raw_layer.keys[key_idx]] = set_fields[0]
            features.append(
                {
                    "id": feature.get("id"),
                    "has_id": raw_feature.HasField("id"),
                    "type": feature["type"],
                    "properties": plain(feature["properties"]),
                    "value_fields": fields,
                    "geometry": plain(feature["geometry"]),
                }
            )
        layers[name] = {
            "extent": layer["extent"],
            "version": layer["version"],
            "features": features,
        }
    return {"layers": layers}


def main(paths):
    out = {}
    for path in paths:
        try:
            out[path] = decode(path)
        except Exception as exc:  # noqa: BLE001 - any decode failure fails the test
            print(f"{path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
