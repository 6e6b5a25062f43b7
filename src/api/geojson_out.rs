//! Direct GeoJSON writing for large responses: faster than building a `serde_json::Value`
//! tree, and with a fixed 6-decimal precision (about 0.1 m).

use std::fmt::Write;

use crate::domain::LonLat;

/// Appends `[lon,lat]`.
pub fn push_position(out: &mut String, lon: f64, lat: f64) {
    let _ = write!(out, "[{lon:.6},{lat:.6}]");
}

/// Appends a Point geometry.
pub fn push_point(out: &mut String, p: LonLat) {
    out.push_str(r#"{"type":"Point","coordinates":"#);
    push_position(out, p.lon(), p.lat());
    out.push('}');
}

/// Appends a `LineString` geometry.
pub fn push_line(out: &mut String, line: &[LonLat]) {
    out.push_str(r#"{"type":"LineString","coordinates":["#);
    for (i, p) in line.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_position(out, p.lon(), p.lat());
    }
    out.push_str("]}");
}

/// Appends a Polygon geometry with one closed ring (counter-clockwise in lon/lat, RFC 7946).
pub fn push_ring_polygon(out: &mut String, ring: &[(f64, f64)]) {
    out.push_str(r#"{"type":"Polygon","coordinates":[["#);
    for (i, (x, y)) in ring.iter().chain(ring.first()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_position(out, *x, *y);
    }
    out.push_str("]]}");
}

/// A `FeatureCollection` under construction.
pub struct FeatureWriter {
    out: String,
    n: usize,
}

impl FeatureWriter {
    /// Starts a collection.
    pub fn new(capacity: usize) -> Self {
        let mut out = String::with_capacity(capacity);
        out.push_str(r#"{"type":"FeatureCollection","features":["#);
        Self { out, n: 0 }
    }

    /// Appends one feature: `geometry` writes the geometry, `props` is a JSON object.
    pub fn feature(&mut self, geometry: impl FnOnce(&mut String), props: &serde_json::Value) {
        if self.n > 0 {
            self.out.push(',');
        }
        self.n += 1;
        self.out.push_str(r#"{"type":"Feature","geometry":"#);
        geometry(&mut self.out);
        self.out.push_str(r#","properties":"#);
        self.out.push_str(&props.to_string());
        self.out.push('}');
    }

    /// Appends a feature whose properties are already serialised JSON.
    pub fn feature_raw(&mut self, geometry: impl FnOnce(&mut String), props_json: &str) {
        if self.n > 0 {
            self.out.push(',');
        }
        self.n += 1;
        self.out.push_str(r#"{"type":"Feature","geometry":"#);
        geometry(&mut self.out);
        self.out.push_str(r#","properties":"#);
        self.out.push_str(props_json);
        self.out.push('}');
    }

    /// Number of features so far.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Closes the collection, adding `extra` top-level members (a JSON object's members).
    pub fn finish(mut self, extra: &serde_json::Map<String, serde_json::Value>) -> String {
        self.out.push(']');
        for (k, v) in extra {
            let _ = write!(self.out, ",{}:{}", serde_json::Value::String(k.clone()), v);
        }
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_collection_is_valid_geojson() {
        let mut w = FeatureWriter::new(64);
        w.feature(
            |o| push_point(o, LonLat::new(-2.5, 51.4).unwrap()),
            &serde_json::json!({"name": "a \"quoted\" name"}),
        );
        w.feature(
            |o| push_ring_polygon(o, &[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]),
            &serde_json::json!({}),
        );
        let mut extra = serde_json::Map::new();
        extra.insert("truncated".to_owned(), serde_json::Value::Bool(false));
        let text = w.finish(&extra);
        let gj: geojson::GeoJson = text.parse().unwrap();
        let geojson::GeoJson::FeatureCollection(fc) = gj else {
            panic!("not a collection")
        };
        assert_eq!(fc.features.len(), 2);
        assert_eq!(
            fc.features[0].property("name").unwrap(),
            "a \"quoted\" name"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["truncated"], false);
        // The ring is closed.
        assert_eq!(
            v["features"][1]["geometry"]["coordinates"][0]
                .as_array()
                .unwrap()
                .len(),
            4
        );
    }
}
