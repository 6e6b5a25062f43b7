//! Getis-Ord Gi* hot spots (binary weights over `k` rings, `ArcGIS` FDR bins) on H3 cells over
//! the four authorities, for a window and category (issue 6, point 6), cached by (data
//! version, resolution, window, category, disclosure class), so the tiles of one view and the
//! table share one Gi* run. With the published counts of the monthly releases (aggregate
//! roles) the bins say nothing a published count does not (issue 13, point 3).

use std::sync::Arc;

use h3o::{CellIndex, Resolution};

use super::{ServiceResult, study_area};
use crate::cache::{BoundedCache, CacheKey};
use crate::domain::{Bbox, Category, TimeWindow};
use crate::index::Snapshot;
use crate::safeguards::policy::DisclosureClass;
use crate::service::hexagons::Protected;
use crate::tiles::sources::HotspotLayer;

/// Rings of neighbours of the served layers.
pub const HOTSPOT_K: u32 = 1;

/// Layers kept.
const ENTRIES: usize = 48;

/// Memory a Gi* layer needs per cell of the study area: neighbour list, counts, z, p and bins
/// (about 256 bytes at k = 1), an upper estimate for the admission layer.
pub const BYTES_PER_CELL: u64 = 256;

/// A Gi* layer's identity: (data version, resolution, window, category, disclosure class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HotspotKey(
    pub u64,
    pub Resolution,
    pub TimeWindow,
    pub Option<Category>,
    pub DisclosureClass,
);

impl CacheKey for HotspotKey {
    fn data_version(&self) -> Option<u64> {
        Some(self.0)
    }
}

/// Gi* layers by [`HotspotKey`].
#[derive(Debug)]
pub struct HotspotCache(BoundedCache<HotspotKey, HotspotLayer>);

impl Default for HotspotCache {
    fn default() -> Self {
        Self(BoundedCache::entries(ENTRIES))
    }
}

/// The Gi* layer for `res`, `window` and `category`, from the cache or computed now. With
/// `protected` (aggregate roles) the counts behind it are the published ones.
///
/// # Errors
///
/// [`super::ServiceError::Analysis`] from the study area or Gi*, or when cancelled.
pub fn hotspot_layer(
    cache: &HotspotCache,
    snap: &Snapshot,
    res: Resolution,
    window: TimeWindow,
    category: Option<Category>,
    protected: Option<&Protected>,
) -> ServiceResult<Arc<HotspotLayer>> {
    let class = if protected.is_some() {
        DisclosureClass::Controlled
    } else {
        DisclosureClass::Exact
    };
    let key = HotspotKey(snap.data_version, res, window, category, class);
    cache.0.get_or_compute(key, || {
        let published = protected.map(|p| move |cell| p.get(&cell).and_then(|v| v.value()));
        let lookup: Option<&dyn Fn(CellIndex) -> Option<u32>> = published
            .as_ref()
            .map(|f| f as &dyn Fn(CellIndex) -> Option<u32>);
        Ok(HotspotLayer::compute(
            snap,
            &study_area(snap),
            res,
            window,
            category,
            HOTSPOT_K,
            lookup,
        )?)
    })
}

/// One cell of a Gi* layer: its bin, z (none where undefined) and exact count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotspotCell {
    /// The cell.
    pub h3: CellIndex,
    /// The FDR-corrected bin, -3..=3.
    pub bin: i8,
    /// The Gi* z-score.
    pub z: Option<f64>,
    /// Incidents in the cell over the window (exact).
    pub count: u32,
}

/// The cells of `layer` whose centre is in `bbox` (all without one), in cell order.
pub fn cells_in(layer: &HotspotLayer, bbox: Option<Bbox>) -> Vec<HotspotCell> {
    let mut cells: Vec<HotspotCell> = layer
        .cells
        .iter()
        .filter(|(c, _)| {
            bbox.is_none_or(|b| {
                let centre = h3o::LatLng::from(**c);
                b.contains_raw(centre.lng(), centre.lat())
            })
        })
        .map(|(&h3, &(bin, z, count))| HotspotCell { h3, bin, z, count })
        .collect();
    cells.sort_unstable_by_key(|c| c.h3);
    cells
}

/// Upper estimate of a Gi* layer's memory at `res` (`api::admission::study_area_cells`
/// gives the cells).
pub fn estimate_bytes(study_area_cells: u64) -> u64 {
    study_area_cells.saturating_mul(BYTES_PER_CELL)
}

#[cfg(test)]
#[path = "hotspots_tests.rs"]
mod tests;
