//! Fixed releases for aggregate roles and no location oracles (issue 13, points 2 and 4;
//! safeguards.md S21).
//!
//! The disclosure core ([`super::disclosure`]) protects counts; this module fixes *what* may
//! be asked, so that a sequence of requests cannot place an incident more precisely than the
//! published geography and month:
//!
//! - **Resolution caps.** Aggregate roles (`public`, `planner`) get H3 cells no finer than
//!   [`MAX_RES_GENERAL`] (res 8, about 0.7 km²), and no finer than [`MAX_RES_CHILDREN`] (res 7,
//!   about 5 km²) for categories about children. A finer `res` is refused (400 naming `res`);
//!   tiles at high zoom draw cells at the cap.
//! - **Zero is not published for child categories.** A cell of a child category at 0 and one at
//!   1..9 are both published as suppressed, and the cells published are the fixed cells of the
//!   study area, whether or not they hold an incident, so the set of cells shown says nothing
//!   about where incidents are.
//! - **Whole months.** `as_of` snaps to the first day of its month ([`snap_as_of`]); risk
//!   windows are widened to whole calendar months ([`widen_to_months`]).
//! - **Withheld counts at a published geography.** Counts of incidents withheld from a
//!   place-level response (`withheld_child_incidents`) are reported per res-7 cell intersecting
//!   the bbox ([`WITHHELD_RES`], [`cells_touching`]) for whole months, each count the whole
//!   cell's (never clipped to the bbox), protected with the child threshold and with zero shown
//!   as suppressed ([`publish_child_count`]).

use std::collections::{BTreeSet, VecDeque};

use h3o::{CellIndex, LatLng, Resolution};

use super::disclosure::{
    AuditItem, AuditSum, DisclosurePolicy, MonthRelease, ProtectedTable, Published, Sensitivity,
    WindowRelease, layer_audit, protect_cell_levels, protect_count, widen,
};
use crate::domain::{Bbox, Category, Day, TimeWindow};

/// Coarsest H3 resolution any layer serves (the incident index's coarsest level); monthly
/// releases are protected from [`max_res`] up to here.
pub const MIN_RES: Resolution = Resolution::Five;

/// Finest H3 resolution aggregate roles get for general layers.
pub const MAX_RES_GENERAL: Resolution = Resolution::Eight;

/// Finest H3 resolution aggregate roles get for categories about children.
pub const MAX_RES_CHILDREN: Resolution = Resolution::Seven;

/// The geography withheld counts are reported at (cells of about 5 km²).
pub const WITHHELD_RES: Resolution = Resolution::Seven;

/// Most cells [`cells_with_centre_in`] enumerates; a larger request is cut there (callers
/// pass boxes within the study area at res 7 or coarser, a few thousand cells at most).
pub const MAX_ENUMERATED_CELLS: usize = 200_000;

/// The finest resolution an aggregate role may see for `category`.
pub fn max_res(category: Option<Category>) -> Resolution {
    match Sensitivity::for_category(category) {
        Sensitivity::Children => MAX_RES_CHILDREN,
        Sensitivity::General => MAX_RES_GENERAL,
    }
}

/// The categories a layer of `category` counts for aggregate roles: that one, or for "all
/// categories" (`None`) every category not about children. The child-related categories are
/// published only in their own layers, so that "all" minus the general categories (which
/// police.uk publishes exactly) cannot difference them out (`safeguards::disclosure`, "Limits").
pub fn categories_in(category: Option<Category>) -> impl Iterator<Item = Category> {
    Category::ALL
        .iter()
        .copied()
        .filter(move |c| category.map_or(!c.concerns_children(), |want| want == *c))
}

/// One area of the area tables for aggregate roles, as the fixed cells it is made of: the
/// cells whose centre lies inside the area's outline, at the finest resolution of the general
/// layers ([`MAX_RES_GENERAL`]) and of the layers about children ([`MAX_RES_CHILDREN`]).
///
/// For aggregate roles an area's figure is the sum of its cells' counts: an incident counts in
/// the area whose outline holds the centre of its res-8 cell (res-7 for child categories), the
/// "best fit" by which ONS builds ward and district figures from output areas. Every area
/// figure is then a sum of published map cells, and the map and the area tables of a month are
/// protected as one release ([`month_release`]); an area counted point by point would be a sum
/// the map's network never saw, and the two outputs differenced into each other's suppressed
/// counts (the attack harness pinned them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaCells {
    /// The area's scheme.
    pub scheme: String,
    /// The area's code.
    pub code: String,
    /// Cells at [`MAX_RES_GENERAL`], sorted.
    pub general: Vec<CellIndex>,
    /// Cells at [`MAX_RES_CHILDREN`], sorted.
    pub children: Vec<CellIndex>,
}

impl AreaCells {
    /// The area's cells at the finest resolution `category`'s layer is released at.
    pub fn cells(&self, category: Option<Category>) -> &[CellIndex] {
        match Sensitivity::for_category(category) {
            Sensitivity::Children => &self.children,
            Sensitivity::General => &self.general,
        }
    }
}

/// The fixed cells of every boundary ([`AreaCells`]), in input order. Independent of any
/// incident. An area smaller than a cell may hold none: its figures are then always 0.
pub fn area_cells<'a>(
    boundaries: impl IntoIterator<Item = &'a crate::domain::Boundary>,
) -> Vec<AreaCells> {
    use geo::{BoundingRect, Contains, Point};
    let inside = |b: &crate::domain::Boundary, res: Resolution| -> Vec<CellIndex> {
        let Some(bbox) = b
            .geometry
            .bounding_rect()
            .and_then(|r| Bbox::from_coords(r.min().x, r.min().y, r.max().x, r.max().y).ok())
        else {
            return Vec::new();
        };
        cells_with_centre_in(bbox, res)
            .into_iter()
            .filter(|&c| {
                let ll = LatLng::from(c);
                b.geometry.contains(&Point::new(ll.lng(), ll.lat()))
            })
            .collect()
    };
    boundaries
        .into_iter()
        .map(|b| AreaCells {
            scheme: b.scheme.as_str().to_owned(),
            code: b.code.as_str().to_owned(),
            general: inside(b, MAX_RES_GENERAL),
            children: inside(b, MAX_RES_CHILDREN),
        })
        .collect()
}

/// One month's release of one layer: its cells at every resolution it is served at, and its
/// area figures (parallel to the [`AreaCells`] it was released with).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthLayer {
    /// The published cells.
    pub cells: LayerRelease,
    /// The published figure of each area.
    pub areas: Vec<Published>,
}

/// The monthly release of one calendar month for `category` ("all categories" when `None`):
/// the month's counts of the study area at the finest resolution aggregate roles may see for
/// the category ([`max_res`]), summed over [`categories_in`], protected at every coarser
/// resolution as one network ([`protect_cell_levels`]), with the figure of every area of
/// `areas` (the sum of its cells, [`AreaCells`]), then widened so that no sum among them
/// narrows a suppressed count ([`widen`]; for "all" and the general categories one audit over
/// all of them, [`general_month_releases`]). `counts_of(category, res)` gives the month's
/// exact counts of one category per cell at `res`.
///
/// Every time-windowed H3 output and every area table for aggregate roles is assembled from
/// these releases ([`window_release`], [`area_table`]), so this is the one place their figures
/// come from.
///
/// A general category's zero is shown as suppressed wherever "all categories" is not 0 in that
/// month ([`suppressed_may_be_zero`]), in cells and in areas: the layers are protected as
/// separate networks, and a published zero would tell the attacker which cells hold at least
/// one incident of each category, lower bounds that add up against "all"'s upper bounds (the
/// attack harness pinned suppressed counts that way). Cells and areas with no incident at all
/// stay 0: "all" publishes that.
pub fn month_release(
    category: Option<Category>,
    counts_of: impl Fn(Category, Resolution) -> Vec<(CellIndex, u32)>,
    areas: &[AreaCells],
    policy: &DisclosurePolicy,
) -> MonthLayer {
    match category {
        Some(c) if c.concerns_children() => {
            let res = max_res(category);
            let counts = counts_of(c, res);
            let cells = protect_cell_levels(&counts, MIN_RES, Sensitivity::Children, policy);
            audit_month(vec![(category, cells, &counts)], areas, policy)
                .pop()
                .map(|(_, layer)| layer)
                .unwrap_or_default()
        }
        _ => general_month_releases(counts_of, areas, policy)
            .into_iter()
            .find(|(layer, _)| *layer == category)
            .map(|(_, layer)| layer)
            .unwrap_or_default(),
    }
}

/// One month's published cells of one layer, at every resolution it is served at.
pub type LayerRelease = Vec<(CellIndex, Published)>;

/// A layer in [`audit_month`]: the layer, its cells, the true counts it was protected from.
type AuditedLayer<'a> = (Option<Category>, LayerRelease, &'a [(CellIndex, u32)]);

/// The monthly releases of "all categories" (`None`) and of every general category, for one
/// month, protected and audited together; [`month_release`] of any of them is one of these
/// (callers that cache should keep them all).
///
/// Each layer is protected as its own network ([`protect_cell_levels`]). A category's zeros in
/// cells where "all" is not 0 are shown as suppressed. Then every figure of every layer goes
/// into one widening audit ([`audit_month`]).
pub fn general_month_releases(
    counts_of: impl Fn(Category, Resolution) -> Vec<(CellIndex, u32)>,
    areas: &[AreaCells],
    policy: &DisclosurePolicy,
) -> Vec<(Option<Category>, MonthLayer)> {
    let res = MAX_RES_GENERAL;
    let protect = |counts: &[(CellIndex, u32)]| {
        protect_cell_levels(counts, MIN_RES, Sensitivity::General, policy)
    };
    let per_category: Vec<(Category, Vec<(CellIndex, u32)>)> = categories_in(None)
        .map(|c| (c, counts_of(c, res)))
        .collect();
    let all_counts: Vec<(CellIndex, u32)> = per_category
        .iter()
        .flat_map(|(_, counts)| counts.iter().copied())
        .collect();
    let all = protect(&all_counts);
    let occupied: Vec<CellIndex> = all
        .iter()
        .filter(|(_, p)| *p != Published::Value(0))
        .map(|(c, _)| *c)
        .collect();
    // The layers: "all", then each category with its zeros in occupied cells suppressed.
    let mut layers: Vec<AuditedLayer<'_>> = vec![(None, all, all_counts.as_slice())];
    for (c, counts) in &per_category {
        let mut cells: std::collections::BTreeMap<CellIndex, Published> =
            protect(counts).into_iter().collect();
        for &cell in &occupied {
            let entry = cells.entry(cell).or_insert(Published::Value(0));
            if *entry == Published::Value(0) {
                *entry = Published::Suppressed;
            }
        }
        layers.push((Some(*c), cells.into_iter().collect(), counts.as_slice()));
    }
    audit_month(layers, areas, policy)
}

/// The widening audit of one month's layers released together (one child category alone, or
/// "all categories" first and then every general category): every figure goes into one
/// [`widen`] with
/// - the parent–children sums of each layer's cells ([`layer_audit`]);
/// - each area's figure as the sum of the layer's cells at its finest resolution
///   ([`AreaCells::cells`]); the area figures start from primary suppression and rounding
///   ([`protect_count`]), with a zero shown as suppressed where the layer's cells show it so
///   (a child category's everywhere, a general category's where "all" is not 0);
/// - with several layers, in every cell and every area "all" = the sum of the categories;
///
/// so that neither the levels, the areas nor the categories narrow a suppressed count below
/// `threshold − 1` possible values.
#[expect(
    clippy::too_many_lines,
    reason = "builds one month's disclosure audit (items per layer, area sums, the 'all' sums) from index maps every step shares"
)]
fn audit_month(
    layers: Vec<AuditedLayer<'_>>,
    areas: &[AreaCells],
    policy: &DisclosurePolicy,
) -> Vec<(Option<Category>, MonthLayer)> {
    let mut items: Vec<AuditItem> = Vec::new();
    let mut sums: Vec<AuditSum> = Vec::new();
    // Per layer: cell -> item, and the item of each area.
    let mut position: Vec<std::collections::HashMap<CellIndex, usize>> = Vec::new();
    let mut area_items: Vec<Vec<usize>> = Vec::new();
    let mut all_area_truth: Option<Vec<u64>> = None;
    // The layers of one audit are all general or one child category.
    let sensitivity = layers
        .first()
        .map_or(Sensitivity::General, |(layer, _, _)| {
            Sensitivity::for_category(*layer)
        });
    for (layer, cells, finest) in &layers {
        let base = items.len();
        let may_hide = suppressed_may_be_zero(*layer);
        // A child layer's listed cells hold at least one incident (its zeros are absent), so the
        // audit reads its suppressed cells as at least 1: an attacker stronger than the real one.
        let (layer_items, layer_sums) = layer_audit(cells, finest, may_hide && !hides_zero(*layer));
        items.extend(layer_items);
        sums.extend(layer_sums.into_iter().map(|s| AuditSum {
            total: s.total + base,
            parts: s.parts.iter().map(|p| p + base).collect(),
        }));
        let cell_items: std::collections::HashMap<CellIndex, usize> = cells
            .iter()
            .enumerate()
            .map(|(i, (c, _))| (*c, base + i))
            .collect();
        // The areas of this layer.
        let finest_counts: std::collections::HashMap<CellIndex, u64> = {
            let mut m = std::collections::HashMap::new();
            for &(c, n) in *finest {
                *m.entry(c).or_insert(0_u64) += u64::from(n);
            }
            m
        };
        let mut truths = Vec::with_capacity(areas.len());
        let mut these = Vec::with_capacity(areas.len());
        for (k, area) in areas.iter().enumerate() {
            let area_cells = area.cells(*layer);
            let truth: u64 = area_cells.iter().filter_map(|c| finest_counts.get(c)).sum();
            let mut published = protect_count(
                u32::try_from(truth).unwrap_or(u32::MAX),
                sensitivity,
                policy,
            );
            let all_occupied = all_area_truth
                .as_ref()
                .is_some_and(|all| all.get(k).is_some_and(|&t| t > 0));
            if published == Published::Value(0)
                && (hides_zero(*layer) || (may_hide && all_occupied))
            {
                published = Published::Suppressed;
            }
            let item = items.len();
            items.push(AuditItem {
                published,
                truth,
                zero_may_hide: may_hide,
            });
            let parts: Vec<usize> = area_cells
                .iter()
                .filter_map(|c| cell_items.get(c).copied())
                .collect();
            sums.push(AuditSum { total: item, parts });
            truths.push(truth);
            these.push(item);
        }
        if layer.is_none() {
            all_area_truth = Some(truths);
        }
        position.push(cell_items);
        area_items.push(these);
    }
    // "All" = the sum of the categories, in every cell and every area.
    if layers.len() > 1 {
        if let Some((all_positions, category_positions)) = position.split_first() {
            for (cell, &total) in all_positions {
                let parts: Vec<usize> = category_positions
                    .iter()
                    .filter_map(|p| p.get(cell).copied())
                    .collect();
                if !parts.is_empty() {
                    sums.push(AuditSum { total, parts });
                }
            }
        }
        if let Some((all_areas, category_areas)) = area_items.split_first() {
            for (k, &total) in all_areas.iter().enumerate() {
                let parts = category_areas
                    .iter()
                    .filter_map(|a| a.get(k).copied())
                    .collect();
                sums.push(AuditSum { total, parts });
            }
        }
    }
    widen(&mut items, &sums, policy.threshold(sensitivity));
    layers
        .into_iter()
        .zip(position.iter().zip(area_items))
        .map(|((layer, cells, _), (cell_items, these))| {
            let cells = cells
                .into_iter()
                .map(|(cell, p)| {
                    (
                        cell,
                        cell_items.get(&cell).map_or(p, |&i| items[i].published),
                    )
                })
                .collect();
            let areas = these.iter().map(|&i| items[i].published).collect();
            (layer, MonthLayer { cells, areas })
        })
        .collect()
}

/// True when a suppressed figure of `category`'s layer may stand for 0 for aggregate roles: a
/// single category (a child category everywhere, [`hides_zero`]; a general one wherever "all
/// categories" is not 0, [`month_release`]). "All categories" publishes its zeros.
pub fn suppressed_may_be_zero(category: Option<Category>) -> bool {
    category.is_some()
}

/// A window of whole months for `category`, from the monthly releases of its months
/// ([`month_release`]); child categories count a month at 0 as suppressed ([`hides_zero`]).
pub fn window_release(months: &[&MonthRelease], category: Option<Category>) -> WindowRelease {
    WindowRelease::from_months(months, hides_zero(category))
}

/// An area comparison table for aggregate roles: `rows[area][month]` are the area figures of
/// each month's release ([`MonthLayer::areas`]; a month outside the data is `0`). A fixed
/// release: every total is the sum of the published months, suppressed when any month is
/// ([`ProtectedTable::from_fixed_cells`]), so any number of overlapping windows tells what the
/// months tell, and the months are audited with the map ([`month_release`]). For child
/// categories a zero is shown as suppressed, like 1..9, with every total that includes it.
pub fn area_table(rows: Vec<Vec<Published>>, category: Option<Category>) -> ProtectedTable {
    ProtectedTable::from_fixed_cells(
        rows.into_iter()
            .map(|r| r.into_iter().map(|p| shown(p, category)).collect())
            .collect(),
    )
}

/// What an aggregate role is shown for `cell` of `release`: its published value (0 when
/// absent, and a 0 shown as suppressed for child categories, [`shown`]) and whether it is a
/// lower bound (partial).
pub fn shown_cell(
    release: &WindowRelease,
    cell: CellIndex,
    category: Option<Category>,
) -> (Published, bool) {
    let published = release.get(&cell).copied().unwrap_or(Published::Value(0));
    (shown(published, category), release.is_partial(&cell))
}

/// One authority's part of a cell that straddles authorities, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityPart {
    /// The authority's code.
    pub code: String,
    /// The sum of the published months of this part, or suppressed (none published).
    pub published: Published,
    /// True when another month of the part is suppressed: the value is a lower bound.
    pub partial: bool,
}

/// The per-authority parts of one cell over a window of months (S21: thresholds apply to each
/// authority separately and to the merged cross-border area). `months[m]` holds the true count
/// of each authority in month `m` (any order; an authority missing from a month is 0 there).
///
/// Each month is a fixed release of its own, like the merged cell: every part is protected
/// alone ([`protect_count`]), and when any part of the month is suppressed every part of that
/// month is, because the merged cell is published in the hexagon layer and the merged count
/// minus the published parts would give the suppressed one. A window's part is the sum of its
/// published months ([`WindowRelease`]'s rule), partial when another month is suppressed.
/// Authorities with no incident in the window are left out. Sorted by code.
pub fn authority_parts(
    months: &[Vec<(String, u32)>],
    sensitivity: Sensitivity,
    policy: &DisclosurePolicy,
) -> Vec<AuthorityPart> {
    // Per code: sum of published months, months published, months suppressed.
    let mut acc: std::collections::BTreeMap<&str, (u32, usize, usize)> =
        std::collections::BTreeMap::new();
    for month in months {
        let published: Vec<Published> = month
            .iter()
            .map(|(_, n)| protect_count(*n, sensitivity, policy))
            .collect();
        let any_suppressed = published.iter().any(|p| p.is_suppressed());
        for ((code, n), p) in month.iter().zip(published) {
            if *n == 0 {
                continue;
            }
            let entry = acc.entry(code.as_str()).or_default();
            match (any_suppressed, p) {
                (false, Published::Value(v)) => {
                    entry.0 = entry.0.saturating_add(v);
                    entry.1 += 1;
                }
                _ => entry.2 += 1,
            }
        }
    }
    acc.into_iter()
        .map(|(code, (sum, published, suppressed))| AuthorityPart {
            code: code.to_owned(),
            published: if published > 0 {
                Published::Value(sum)
            } else {
                Published::Suppressed
            },
            partial: published > 0 && suppressed > 0,
        })
        .collect()
}

/// Checks a requested resolution against the cap of `category` for aggregate roles.
///
/// # Errors
///
/// A message for a 400 on the `res` parameter when `res` is finer than [`max_res`].
pub fn check_res(res: u8, category: Option<Category>) -> Result<(), String> {
    let cap = u8::from(max_res(category));
    if res > cap {
        let what = if hides_zero(category) {
            "layers about children"
        } else {
            "aggregate layers"
        };
        Err(format!(
            "{res} is finer than {what} are published for public and planner users (at most res {cap}); use res {cap} or coarser"
        ))
    } else {
        Ok(())
    }
}

/// The part of `bbox` inside `area`, or `None` when they do not meet.
pub fn intersect(bbox: Bbox, area: Bbox) -> Option<Bbox> {
    Bbox::from_coords(
        bbox.min().lon().max(area.min().lon()),
        bbox.min().lat().max(area.min().lat()),
        bbox.max().lon().min(area.max().lon()),
        bbox.max().lat().min(area.max().lat()),
    )
    .ok()
}

/// The resolution a layer is served at when the caller gives none: 8, or the cap for
/// aggregate roles when it is coarser.
pub fn default_res(controlled: bool, category: Option<Category>) -> u64 {
    if controlled {
        u64::from(u8::from(max_res(category)).min(8))
    } else {
        8
    }
}

/// True when published cells of `category` must not tell a zero from a suppressed count.
pub fn hides_zero(category: Option<Category>) -> bool {
    Sensitivity::for_category(category) == Sensitivity::Children
}

/// A published value as a layer of `category` shows it: for child categories a zero is shown
/// as suppressed, so 0 and 1..9 look the same.
pub fn shown(published: Published, category: Option<Category>) -> Published {
    if hides_zero(category) && published.value() == Some(0) {
        Published::Suppressed
    } else {
        published
    }
}

/// A standalone count about children (e.g. incidents withheld from a response) as published:
/// the child threshold and rounding, and zero shown as suppressed.
pub fn publish_child_count(count: u32, policy: &DisclosurePolicy) -> Published {
    match protect_count(count, Sensitivity::Children, policy) {
        Published::Value(0) => Published::Suppressed,
        p => p,
    }
}

/// The first day of `day`'s month: the `as_of` an aggregate role is answered for.
pub fn snap_as_of(day: Day) -> Day {
    day.month_start()
}

/// `from..=to` widened to whole calendar months.
pub fn widen_to_months(from: Day, to: Day) -> (Day, Day) {
    let w = TimeWindow::new(from.min(to), to.max(from)).unwrap_or_else(|_| TimeWindow::all());
    let whole = super::disclosure::coarsen_window_to_months(w);
    (whole.from(), whole.to())
}

/// Merges `(key, from, to, value)` spans widened to whole months: spans of one key that touch
/// or overlap after widening become one, keeping the largest value. Sorted by key then day.
pub fn merge_months<K: Ord + Copy>(spans: &[(K, Day, Day, f64)]) -> Vec<(K, Day, Day, f64)> {
    let mut widened: Vec<(K, Day, Day, f64)> = spans
        .iter()
        .map(|&(k, f, t, v)| {
            let (f, t) = widen_to_months(f, t);
            (k, f, t, v)
        })
        .collect();
    widened.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out: Vec<(K, Day, Day, f64)> = Vec::with_capacity(widened.len());
    for span in widened {
        match out.last_mut() {
            Some(last) if last.0 == span.0 && span.1 <= last.2.plus_days(1) => {
                last.2 = last.2.max(span.2);
                last.3 = last.3.max(span.3);
            }
            _ => out.push(span),
        }
    }
    out
}

/// The cells of `res` whose centre lies in `bbox`, sorted. Independent of any data: the
/// fixed geography a layer publishes. At most [`MAX_ENUMERATED_CELLS`].
pub fn cells_with_centre_in(bbox: Bbox, res: Resolution) -> Vec<CellIndex> {
    // Walk the grid from the cell at the box centre through neighbours whose centre lies in
    // the box grown by two cell diameters (so the walk stays connected around the edges).
    let margin = 4.0 * res.edge_length_km() / 111.0 / bbox.min().lat().to_radians().cos().max(0.1);
    let outer = bbox.expanded_deg(margin);
    let (min, max) = (bbox.min(), bbox.max());
    let centre = LatLng::new(
        f64::midpoint(min.lat(), max.lat()),
        f64::midpoint(min.lon(), max.lon()),
    );
    let Ok(centre) = centre else {
        return Vec::new();
    };
    let start = centre.to_cell(res);
    let mut seen: BTreeSet<CellIndex> = BTreeSet::from([start]);
    let mut queue = VecDeque::from([start]);
    let mut inside = Vec::new();
    while let Some(cell) = queue.pop_front() {
        let ll = LatLng::from(cell);
        if bbox.contains_raw(ll.lng(), ll.lat()) {
            inside.push(cell);
            if inside.len() >= MAX_ENUMERATED_CELLS {
                break;
            }
        }
        for n in cell.grid_disk::<Vec<CellIndex>>(1) {
            let nll = LatLng::from(n);
            if outer.contains_raw(nll.lng(), nll.lat()) && seen.insert(n) {
                queue.push_back(n);
            }
        }
    }
    inside.sort_unstable();
    inside
}

/// The cells of `res` that may touch `bbox`: those whose boundary's bounding box meets it.
/// Sorted. Independent of any data.
pub fn cells_touching(bbox: Bbox, res: Resolution) -> Vec<CellIndex> {
    let margin = 2.0 * res.edge_length_km() / 111.0 / bbox.min().lat().to_radians().cos().max(0.1);
    cells_with_centre_in(bbox.expanded_deg(margin), res)
        .into_iter()
        .filter(|cell| {
            let outline = cell.boundary();
            let range = |values: &mut dyn Iterator<Item = f64>| {
                values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
            };
            let (west, east) = range(&mut outline.iter().map(|v| v.lng()));
            let (south, north) = range(&mut outline.iter().map(|v| v.lat()));
            west <= bbox.max().lon()
                && east >= bbox.min().lon()
                && south <= bbox.max().lat()
                && north >= bbox.min().lat()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    #[test]
    fn the_coarsest_released_level_is_the_index_coarsest() {
        assert_eq!(u8::from(MIN_RES), crate::index::H3Res::coarsest().get());
    }

    #[test]
    fn all_categories_for_aggregate_roles_leaves_out_the_child_categories() {
        let all: Vec<Category> = categories_in(None).collect();
        assert!(!all.is_empty() && all.iter().all(|c| !c.concerns_children()));
        assert_eq!(
            all.len()
                + Category::ALL
                    .iter()
                    .filter(|c| c.concerns_children())
                    .count(),
            Category::ALL.len()
        );
        let one: Vec<Category> = categories_in(Some(Category::ChildExploitationConcern)).collect();
        assert_eq!(one, [Category::ChildExploitationConcern]);
    }

    #[test]
    fn a_month_release_of_all_categories_counts_no_child_incident() {
        let cell = LatLng::new(51.45, -2.59)
            .unwrap()
            .to_cell(Resolution::Eight);
        let policy = DisclosurePolicy::default();
        // 20 incidents of every category in one cell: "all" counts only the general ones.
        let release = month_release(None, |_, _| vec![(cell, 20)], &[], &policy).cells;
        let general = u32::try_from(categories_in(None).count()).unwrap();
        let got = release.iter().find(|(c, _)| *c == cell).map(|(_, p)| *p);
        assert_eq!(got, Some(Published::Value(20 * general)));
        assert!(release.iter().all(|(c, _)| c.resolution() >= MIN_RES));
    }

    fn part(code: &str, published: Published, partial: bool) -> AuthorityPart {
        AuthorityPart {
            code: code.to_owned(),
            published,
            partial,
        }
    }

    #[test]
    fn each_authority_part_meets_the_threshold_on_its_own_and_hides_its_partner() {
        let policy = DisclosurePolicy::default();
        let months = |rows: &[&[(&str, u32)]]| -> Vec<Vec<(String, u32)>> {
            rows.iter()
                .map(|r| r.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect())
                .collect()
        };
        // Merged 32 would be published; Bristol's 30 alone passes, North Somerset's 2 does
        // not, so both parts of that month are suppressed (32 - 30 would give the 2).
        let one = authority_parts(
            &months(&[&[("B", 30), ("N", 2)]]),
            Sensitivity::General,
            &policy,
        );
        assert_eq!(
            one,
            [
                part("B", Published::Suppressed, false),
                part("N", Published::Suppressed, false)
            ]
        );
        // A second month where both pass: the window is the sum of the published months,
        // a lower bound for both.
        let two = authority_parts(
            &months(&[&[("B", 30), ("N", 2)], &[("N", 12), ("B", 7)]]),
            Sensitivity::General,
            &policy,
        );
        assert_eq!(
            two,
            [
                part("B", Published::Value(5), true),
                part("N", Published::Value(10), true)
            ]
        );
        // Child categories use the child threshold: 9 is suppressed.
        let child = authority_parts(
            &months(&[&[("B", 12), ("N", 0)]]),
            Sensitivity::Children,
            &policy,
        );
        assert_eq!(child, [part("B", Published::Value(10), false)]);
        let child = authority_parts(
            &months(&[&[("B", 12), ("N", 9)]]),
            Sensitivity::Children,
            &policy,
        );
        assert!(child.iter().all(|p| p.published.is_suppressed()));
    }

    #[test]
    fn child_categories_are_capped_coarser_than_general_ones() {
        assert_eq!(
            max_res(Some(Category::ChildExploitationConcern)),
            Resolution::Seven
        );
        assert_eq!(
            max_res(Some(Category::SeriousYouthViolence)),
            Resolution::Seven
        );
        assert_eq!(max_res(Some(Category::Burglary)), Resolution::Eight);
        assert_eq!(max_res(None), Resolution::Eight);
    }

    #[test]
    fn child_counts_never_tell_zero_from_small() {
        let policy = DisclosurePolicy::default();
        for n in 0..10 {
            assert_eq!(
                publish_child_count(n, &policy),
                Published::Suppressed,
                "{n}"
            );
        }
        assert!(publish_child_count(12, &policy).value().is_some());
        let child = Some(Category::ChildExploitationConcern);
        assert_eq!(shown(Published::Value(0), child), Published::Suppressed);
        assert_eq!(shown(Published::Value(0), None), Published::Value(0));
    }

    #[test]
    fn as_of_snaps_to_the_first_of_the_month() {
        for d in 1..=31 {
            let snapped = snap_as_of(day(&format!("2025-03-{d:02}")));
            assert_eq!(snapped, day("2025-03-01"));
        }
    }

    #[test]
    fn spans_are_widened_to_months_and_merged() {
        let spans = [
            (1u8, day("2025-03-03"), day("2025-03-09"), 1.5),
            (1, day("2025-03-20"), day("2025-04-02"), 2.0),
            (1, day("2025-06-10"), day("2025-06-11"), 1.2),
            (2, day("2025-03-03"), day("2025-03-04"), 1.1),
        ];
        let merged = merge_months(&spans);
        assert_eq!(
            merged,
            vec![
                (1, day("2025-03-01"), day("2025-04-30"), 2.0),
                (1, day("2025-06-01"), day("2025-06-30"), 1.2),
                (2, day("2025-03-01"), day("2025-03-31"), 1.1),
            ]
        );
    }

    #[test]
    fn enumerated_cells_are_exactly_those_centred_in_the_box() {
        let bbox = Bbox::from_coords(-2.70, 51.40, -2.50, 51.50).unwrap();
        let cells = cells_with_centre_in(bbox, Resolution::Seven);
        assert!(cells.len() > 20, "{}", cells.len());
        for c in &cells {
            let ll = LatLng::from(*c);
            assert!(bbox.contains_raw(ll.lng(), ll.lat()));
        }
        // Every cell centred in the box is found: check the neighbours of those found.
        for c in &cells {
            for n in c.grid_disk::<Vec<CellIndex>>(1) {
                let ll = LatLng::from(n);
                if bbox.contains_raw(ll.lng(), ll.lat()) {
                    assert!(cells.binary_search(&n).is_ok(), "{n} missing");
                }
            }
        }
    }

    #[test]
    fn a_tiny_box_still_touches_the_cell_it_lies_in() {
        let bbox = Bbox::from_coords(-2.600_000_1, 51.45, -2.6, 51.450_000_1).unwrap();
        let touching = cells_touching(bbox, WITHHELD_RES);
        let own = LatLng::new(51.45, -2.6).unwrap().to_cell(WITHHELD_RES);
        assert!(touching.contains(&own));
        assert!(touching.len() <= 4, "{}", touching.len());
    }
}
