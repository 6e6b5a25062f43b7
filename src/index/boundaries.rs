//! Boundaries of every scheme with point-in-polygon look-up.

use std::collections::BTreeMap;

use geo::{BoundingRect, Contains};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};

use crate::domain::{Bbox, Boundary, LonLat};

type RectEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// All boundaries, with one R-tree of polygon envelopes per scheme.
#[derive(Debug)]
pub struct BoundaryIndex {
    items: Vec<Boundary>,
    trees: BTreeMap<String, RTree<RectEntry>>,
}

impl BoundaryIndex {
    /// Indexes `items`. Boundaries with an empty geometry are kept but never found by position.
    pub fn new(items: Vec<Boundary>) -> Self {
        let mut per_scheme: BTreeMap<String, Vec<RectEntry>> = BTreeMap::new();
        for (i, b) in items.iter().enumerate() {
            if let Some(r) = b.geometry.bounding_rect() {
                let rect = Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                per_scheme
                    .entry(b.scheme.as_str().to_owned())
                    .or_default()
                    .push(GeomWithData::new(rect, i as u32));
            } else {
                per_scheme.entry(b.scheme.as_str().to_owned()).or_default();
            }
        }
        let trees = per_scheme
            .into_iter()
            .map(|(k, v)| (k, RTree::bulk_load(v)))
            .collect();
        Self { items, trees }
    }

    /// Scheme names, sorted.
    pub fn schemes(&self) -> impl Iterator<Item = &str> {
        self.trees.keys().map(String::as_str)
    }

    /// True when `scheme` is known.
    pub fn has_scheme(&self, scheme: &str) -> bool {
        self.trees.contains_key(scheme)
    }

    /// Every boundary of `scheme`, in input order.
    pub fn of_scheme<'a>(&'a self, scheme: &'a str) -> impl Iterator<Item = &'a Boundary> + 'a {
        self.items
            .iter()
            .filter(move |b| b.scheme.as_str() == scheme)
    }

    /// Boundaries of `scheme` whose envelope meets `bbox`, in input order.
    pub fn in_bbox(&self, scheme: &str, bbox: Bbox) -> Vec<&Boundary> {
        let Some(tree) = self.trees.get(scheme) else {
            return Vec::new();
        };
        let env = AABB::from_corners(
            [bbox.min().lon(), bbox.min().lat()],
            [bbox.max().lon(), bbox.max().lat()],
        );
        let mut idx: Vec<u32> = tree
            .locate_in_envelope_intersecting(&env)
            .map(|e| e.data)
            .collect();
        idx.sort_unstable();
        idx.into_iter().map(|i| &self.items[i as usize]).collect()
    }

    /// The boundary of `scheme` containing `p`, if any (the first in input order when
    /// boundaries overlap).
    pub fn locate(&self, scheme: &str, p: LonLat) -> Option<&Boundary> {
        let tree = self.trees.get(scheme)?;
        let pt = p.to_point();
        let mut idx: Vec<u32> = tree
            .locate_all_at_point(&[p.lon(), p.lat()])
            .map(|e| e.data)
            .collect();
        idx.sort_unstable();
        idx.into_iter()
            .map(|i| &self.items[i as usize])
            .find(|b| b.geometry.contains(&pt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BoundaryCode, SchemeName};

    fn square(scheme: &str, code: &str, x0: f64, y0: f64, size: f64) -> Boundary {
        let poly = geo::Polygon::new(
            geo::LineString::from(vec![
                (x0, y0),
                (x0 + size, y0),
                (x0 + size, y0 + size),
                (x0, y0 + size),
                (x0, y0),
            ]),
            vec![],
        );
        Boundary {
            scheme: SchemeName::new(scheme).unwrap(),
            code: BoundaryCode::new(code).unwrap(),
            name: code.to_owned(),
            geometry: geo::MultiPolygon(vec![poly]),
            youth_population: None,
        }
    }

    #[test]
    fn a_point_is_located_in_each_scheme_separately() {
        let idx = BoundaryIndex::new(vec![
            square("lad", "A", 0.0, 0.0, 1.0),
            square("lad", "B", 1.0, 0.0, 1.0),
            square("ward", "W", 0.5, 0.0, 1.0),
        ]);
        let p = LonLat::new(1.2, 0.5).unwrap();
        assert_eq!(idx.locate("lad", p).unwrap().code.as_str(), "B");
        assert_eq!(idx.locate("ward", p).unwrap().code.as_str(), "W");
        assert!(idx.locate("lsoa", p).is_none());
        assert!(idx.locate("lad", LonLat::new(5.0, 5.0).unwrap()).is_none());
        assert_eq!(idx.schemes().collect::<Vec<_>>(), vec!["lad", "ward"]);
    }

    #[test]
    fn the_real_bristol_outline_holds_the_city_centre_and_not_weston() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata");
        let areas = crate::ingest::west_of_england::load_area_set(&dir).unwrap();
        let idx = BoundaryIndex::new(areas.boundaries);
        let centre = LonLat::new(-2.5879, 51.4545).unwrap();
        let weston = LonLat::new(-2.977, 51.346).unwrap();
        assert_eq!(
            idx.locate("lad", centre).unwrap().code.as_str(),
            "E06000023"
        );
        assert_eq!(
            idx.locate("lad", weston).unwrap().code.as_str(),
            "E06000024"
        );
        assert_eq!(
            idx.locate("locality_police", centre).unwrap().code.as_str(),
            "bristol-north-central"
        );
        assert_eq!(
            idx.locate("locality_social_care", centre)
                .unwrap()
                .code
                .as_str(),
            "bristol-east-central"
        );
    }
}
