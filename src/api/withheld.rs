//! The `withheld_child_incidents` report of `/api/v1/incidents` (issue 13, point 4): how many
//! incidents involving a child were left out of a point layer, answered only at a published
//! geography and month so that it is no location oracle.
//!
//! The report lists every res-7 H3 cell ([`releases::WITHHELD_RES`]) that may touch the bbox,
//! each with the count of child-involved incidents in the **whole cell** over the **whole
//! calendar months** covering the window (and the category filter), protected with the child
//! threshold and zero shown as suppressed ([`releases::publish_child_count`]). A cell's value
//! therefore depends on the cell, the months and the category, never on the exact bbox:
//! halving the bbox cannot narrow a child-related incident below its cell and month.

use std::collections::BTreeMap;

use h3o::{CellIndex, LatLng};
use serde_json::{Value, json};

use crate::domain::{Bbox, Category, TimeWindow};
use crate::index::Snapshot;
use crate::safeguards::disclosure::{DisclosurePolicy, Sensitivity, coarsen_window_to_months};
use crate::safeguards::releases;

/// Margin added around the cells' outline when collecting incidents, in degrees (the index
/// stores positions as `f32`, about 1e-5 degrees apart here).
const MARGIN_DEG: f64 = 1e-4;

/// The withheld report and whether any listed cell holds a child-involved incident (then the
/// response carries figures derived from children and is audited).
pub(crate) fn report(
    snap: &Snapshot,
    bbox: Bbox,
    window: TimeWindow,
    category: Option<Category>,
    policy: &DisclosurePolicy,
) -> (Value, bool) {
    let months = coarsen_window_to_months(window);
    let cells = releases::cells_touching(bbox, releases::WITHHELD_RES);
    let mut counts: BTreeMap<CellIndex, u32> = cells.iter().map(|c| (*c, 0)).collect();
    if let Some(outline) = outline(&cells) {
        let (hits, _) = snap
            .incidents
            .incidents_in_bbox(outline, months, category, usize::MAX);
        for h in hits.iter().filter(|h| h.involves_child) {
            let Ok(at) = LatLng::new(h.lat, h.lon) else {
                continue;
            };
            if let Some(n) = counts.get_mut(&at.to_cell(releases::WITHHELD_RES)) {
                *n = n.saturating_add(1);
            }
        }
    }
    let any = counts.values().any(|n| *n > 0);
    let listed: Vec<Value> = counts
        .into_iter()
        .map(|(cell, n)| {
            let p = releases::publish_child_count(n, policy);
            json!({"h3": cell.to_string(), "count": p.count_json(), "suppressed": p.is_suppressed()})
        })
        .collect();
    let value = json!({
        "rule": "incidents involving a child left out of the points: per res-7 H3 cell that may touch the bbox, counted over the whole cell and the whole months; counts below the child threshold, zero included, are suppressed",
        "res": u8::from(releases::WITHHELD_RES),
        "from": months.from(),
        "to": months.to(),
        "category": category.map(Category::slug),
        "min_count": policy.threshold(Sensitivity::Children),
        "cells": listed,
    });
    (value, any)
}

/// The box around the outlines of `cells`, grown by [`MARGIN_DEG`].
fn outline(cells: &[CellIndex]) -> Option<Bbox> {
    let mut it = cells
        .iter()
        .flat_map(|c| c.boundary().iter().copied().collect::<Vec<_>>());
    let first = it.next()?;
    let (mut w, mut s, mut e, mut n) = (first.lng(), first.lat(), first.lng(), first.lat());
    for v in it {
        w = w.min(v.lng());
        e = e.max(v.lng());
        s = s.min(v.lat());
        n = n.max(v.lat());
    }
    Bbox::from_coords(w, s, e, n)
        .ok()
        .map(|b| b.expanded_deg(MARGIN_DEG))
}
