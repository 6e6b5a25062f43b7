//! Vector tiles and TileJSON (issue 5; maps.md §1, §4, §5): `GET /tiles/{layer}.json`,
//! `GET /tiles/{layer}/{z}/{x}/{y}` and `GET /api/v1/layers`.
//!
//! Each layer is one typed source in `tiles::registry::REGISTRY`; its two routes are generated
//! from it here, and their rows of `auth::ENDPOINTS` carry the source's data class, so the
//! policy layer refuses a layer the role may not see exactly as it refuses any endpoint.
//! The tile handler is a row of small named steps, as in martin's `srv/tiles/content.rs`:
//! check the query and coordinate, build the cache key (with the parts the source declares),
//! answer `304` or from the cache, compute the analyses the source draws, then render and
//! encode on the blocking pool.
//! Aggregate layers get the same disclosure control as `/api/v1/hexagons` for public and
//! planner callers (whole months; counts from the protected network of the whole study area).
//!
//! HTTP behaviour (maps.md §5): `200 application/vnd.mapbox-vector-tile`, `204` for an empty
//! tile, `400` naming `z`, `x`, `y` or a query parameter, strong `ETag`s derived from the cache
//! key (so `If-None-Match` is answered `304` before any work), gzip when accepted (the cache
//! keeps the compressed bytes), `Cache-Control: private, no-cache` and
//! `Vary: accept-encoding, authorization`. Rendering runs on the blocking pool.

use std::io::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::admission::{Work, study_area_cells};
use super::auth::{Authorised, class_of};
use super::hexagons::{admitted_protected, protected_cells};
use super::params::Params;
use super::tile_cache::{CachedTile, TileKey};
use super::{ApiError, ApiResult, AppState, blocking, study_area};
use crate::domain::TimeWindow;
use crate::index::Snapshot;
use crate::safeguards::policy::{DisclosureClass, disclosure_class, role_may_read};
use crate::safeguards::releases;
use crate::service;
use crate::tiles::hexagons::res_for_zoom;
use crate::tiles::registry::{TileAnalysis, TileSource, tile_routes};
use crate::tiles::sources::{HOTSPOT_RES_MAX, HOTSPOT_RES_MIN, ProtectedCells, RenderQuery};
use crate::tiles::{EncodedLayer, TileCoord};

/// The MVT media type (maps.md §5.1).
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// Default boundary scheme of the boundaries layer.
const DEFAULT_SCHEME: &str = "lad";

pub fn router() -> Router<AppState> {
    let mut r = Router::new().route("/api/v1/layers", get(get_layers));
    for routes in tile_routes() {
        let source = routes.source;
        r = r
            .route(
                &routes.tilejson,
                get(move |state, auth, headers, params| {
                    get_tilejson(source, state, auth, headers, params)
                }),
            )
            .route(
                &routes.tiles,
                get(move |state, auth, path, headers, params| {
                    get_tile(source, state, auth, path, headers, params)
                }),
            );
    }
    r
}

/// Parses `y`, which may carry a `.pbf` or `.mvt` extension.
fn parse_coord(z: &str, x: &str, y: &str) -> ApiResult<TileCoord> {
    let y = y
        .strip_suffix(".pbf")
        .or_else(|| y.strip_suffix(".mvt"))
        .unwrap_or(y);
    let num = |field: &str, s: &str| -> ApiResult<u32> {
        s.parse::<u32>()
            .map_err(|_| ApiError::invalid(field, format!("{s:?} is not a tile coordinate")))
    };
    TileCoord::new(num("z", z)?, num("x", x)?, num("y", y)?)
        .map_err(|e| ApiError::invalid(e.field().unwrap_or("z"), e.to_string()))
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or_default().trim();
            let refused = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t == etag || t.strip_prefix("W/") == Some(etag)
        })
}

fn gzip(bytes: &[u8]) -> ApiResult<Arc<[u8]>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(bytes).map_err(ApiError::internal)?;
    Ok(Arc::from(enc.finish().map_err(ApiError::internal)?))
}

fn tile_response(
    status: StatusCode,
    etag: &str,
    gzipped: bool,
    body: Option<Arc<[u8]>>,
) -> Response {
    let mut res = match body {
        Some(b) => (status, axum::body::Body::from(bytes_of(&b))).into_response(),
        None => status.into_response(),
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    if status == StatusCode::OK {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(MVT_CONTENT_TYPE),
        );
        if gzipped {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    res
}

fn bytes_of(b: &Arc<[u8]>) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(b)
}

#[tracing::instrument(skip_all, fields(layer = source.name(), tile))]
async fn get_tile(
    source: &'static dyn TileSource,
    State(state): State<AppState>,
    auth: Authorised,
    Path((z, x, y)): Path<(String, String, String)>,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<Response> {
    params.only(source.params())?;
    cache_buster(&params)?;
    let tile = parse_coord(&z, &x, &y)?;
    tracing::Span::current().record("tile", tracing::field::display(tile));
    let snap = state.snapshot();
    let key = tile_key(
        source,
        &state,
        &snap,
        &params,
        disclosure_class(auth.role),
        tile,
    )?;
    let want_gzip = accepts_gzip(&headers);
    let etag = key.etag(want_gzip);
    if none_match(&headers, &etag) {
        return Ok(tile_response(StatusCode::NOT_MODIFIED, &etag, false, None));
    }
    if let Some(hit) = cached_response(&state, &key, want_gzip, &etag)? {
        return Ok(hit);
    }
    let analyses = tile_analyses(&state, &snap, source.spec().analysis, tile.z(), &key).await?;
    // The monthly releases of the window, computed through the admission layer when cold.
    let protected = if source.spec().temporal() && key.class == DisclosureClass::Controlled {
        let window = key.window.unwrap_or_else(TimeWindow::all);
        Some(admitted_protected(&state, &snap, window, key.category, key.class).await?)
    } else {
        None
    };
    let job = TileJob {
        source,
        snap,
        tile,
        key,
        etag,
        want_gzip,
        analyses,
        protected,
    };
    let state = state.clone();
    blocking(move || job.render(&state)).await
}

/// The cache key of `tile` for a caller of `class`: the parts every tile has, and those the
/// source declares ([`TileSource::key_parts`]): the quantised window and category, the
/// boundary scheme (validated against the store's), the Knox calibration drawn from.
fn tile_key(
    source: &'static dyn TileSource,
    state: &AppState,
    snap: &Snapshot,
    params: &Params,
    class: DisclosureClass,
    tile: TileCoord,
) -> ApiResult<TileKey> {
    let parts = source.key_parts();
    let (window, category) = if parts.window_and_category {
        let (_, window) = super::query_window(params, snap, class)?;
        (Some(window), params.category()?)
    } else {
        (None, None)
    };
    let scheme = if parts.scheme {
        let s = params.get("scheme").unwrap_or(DEFAULT_SCHEME).to_owned();
        check_scheme(&s, snap)?;
        Some(s)
    } else {
        None
    };
    let derived = if parts.calibration {
        service::risk::default_as_of(snap)
            .map(|d| service::risk::served_as_of(d, class))
            .map_or(0, |as_of| {
                service::risk::calibration_version(&state.risk, snap, category, as_of)
            })
    } else {
        0
    };
    Ok(TileKey {
        layer: source.name(),
        data_version: snap.data_version,
        z: tile.z(),
        x: tile.x(),
        y: tile.y(),
        window,
        category,
        scheme,
        class,
        derived,
    })
}

/// `scheme` when the store holds it; else `400` on `scheme` listing the known ones.
fn check_scheme(scheme: &str, snap: &Snapshot) -> ApiResult<()> {
    if snap.boundaries.has_scheme(scheme) {
        return Ok(());
    }
    let known: Vec<&str> = snap.boundaries.schemes().collect();
    Err(ApiError::invalid(
        "scheme",
        format!("unknown scheme; known: {}", known.join(", ")),
    ))
}

/// The answer from the tile cache, if it holds the tile: `204` for an empty tile, else the
/// representation asked for (gzipping the cached bytes once when only the raw ones are held).
fn cached_response(
    state: &AppState,
    key: &TileKey,
    want_gzip: bool,
    etag: &str,
) -> ApiResult<Option<Response>> {
    let Some(hit) = state.tiles.get(key) else {
        return Ok(None);
    };
    Ok(Some(match (&hit.raw, want_gzip, &hit.gzip) {
        (None, _, _) => tile_response(StatusCode::NO_CONTENT, etag, false, None),
        (Some(_), true, Some(gz)) => {
            tile_response(StatusCode::OK, etag, true, Some(Arc::clone(gz)))
        }
        (Some(raw), false, _) => tile_response(StatusCode::OK, etag, false, Some(Arc::clone(raw))),
        (Some(raw), true, None) => {
            let gz = gzip(raw)?;
            state.tiles.put(
                key.clone(),
                CachedTile {
                    raw: Some(Arc::clone(raw)),
                    gzip: Some(Arc::clone(&gz)),
                },
            );
            tile_response(StatusCode::OK, etag, true, Some(gz))
        }
    }))
}

/// Everything one tile is rendered from, moved onto the blocking pool.
struct TileJob {
    source: &'static dyn TileSource,
    snap: Arc<Snapshot>,
    tile: TileCoord,
    key: TileKey,
    etag: String,
    want_gzip: bool,
    analyses: TileAnalyses,
    protected: Option<Arc<ProtectedCells>>,
}

impl TileJob {
    /// Renders the tile (blocking), caches it, and answers `204` or `200`.
    fn render(self, state: &AppState) -> ApiResult<Response> {
        let policy = state.disclosure;
        let key = &self.key;
        let controlled = key.class == DisclosureClass::Controlled;
        let emerging = self.analyses.emerging.as_deref().map(|(result, res)| {
            service::emerging::tile_layer(result, *res, self.protected.as_deref(), key.category)
        });
        let risk = match self.analyses.risk.as_ref() {
            Some(layer) => {
                let coarse = controlled
                    .then(|| service::risk::coarse_windows(layer, &self.snap, &policy))
                    .transpose()?;
                Some(service::risk::tile_layer(layer, coarse.as_deref()))
            }
            None => None,
        };
        let q = RenderQuery {
            window: key.window.unwrap_or_else(TimeWindow::all),
            category: key.category,
            scheme: key.scheme.as_deref().unwrap_or(DEFAULT_SCHEME),
            protected: self.protected.as_deref(),
            policy,
            hotspots: self.analyses.hotspots.as_deref(),
            emerging: emerging.as_ref(),
            risk: risk.as_ref(),
            max_res: controlled.then(|| releases::max_res(key.category)),
            zero_hidden_in: (controlled && releases::hides_zero(key.category)).then(study_area),
        };
        let layer = self
            .source
            .render(&self.snap, self.tile, &q, &state.shapes)
            .map_err(ApiError::internal)?;
        self.encode(state, layer)
    }

    /// Caches the encoded layer (and its gzip when asked for) and answers with it; an empty
    /// layer is cached and answered as `204`.
    fn encode(self, state: &AppState, layer: EncodedLayer) -> ApiResult<Response> {
        if layer.is_empty() {
            let empty = CachedTile {
                raw: None,
                gzip: None,
            };
            state.tiles.put(self.key, empty);
            return Ok(tile_response(
                StatusCode::NO_CONTENT,
                &self.etag,
                false,
                None,
            ));
        }
        let raw: Arc<[u8]> = Arc::from(layer.bytes);
        let gz = if self.want_gzip {
            Some(gzip(&raw)?)
        } else {
            None
        };
        let cached = CachedTile {
            raw: Some(Arc::clone(&raw)),
            gzip: gz.clone(),
        };
        state.tiles.put(self.key, cached);
        Ok(match gz {
            Some(gz) => tile_response(StatusCode::OK, &self.etag, true, Some(gz)),
            None => tile_response(StatusCode::OK, &self.etag, false, Some(raw)),
        })
    }
}

/// The analyses a tile draws (hot spots, emerging hot spots, risk windows), each computed
/// through the admission layer (issue 14, point 1) under the key of the analysis, not the
/// tile: the tiles of one view share one computation, and a new view's tiles wait for a
/// worker instead of computing side by side.
#[derive(Default)]
struct TileAnalyses {
    hotspots: Option<Arc<crate::tiles::sources::HotspotLayer>>,
    emerging: Option<Arc<(Arc<crate::analysis::ehsa::EhsaResult>, h3o::Resolution)>>,
    risk: Option<Arc<crate::analysis::risk::RiskLayer>>,
}

/// The analysis `analysis` (the one the source declares, if any) for a tile at zoom `z`.
async fn tile_analyses(
    state: &AppState,
    snap: &Arc<Snapshot>,
    analysis: Option<TileAnalysis>,
    z: u8,
    key: &TileKey,
) -> ApiResult<TileAnalyses> {
    let mut out = TileAnalyses::default();
    match analysis {
        None => {}
        Some(TileAnalysis::Hotspots) => {
            out.hotspots = Some(hotspot_analysis(state, snap, analysis_res(z, key)?, key).await?);
        }
        Some(TileAnalysis::Emerging) => {
            out.emerging = Some(emerging_analysis(state, snap, analysis_res(z, key)?, key).await?);
        }
        Some(TileAnalysis::Risk) => out.risk = risk_analysis(state, snap, key).await?,
    }
    Ok(out)
}

/// The resolution of an analysis layer at zoom `z`, no finer than the cap for aggregate roles.
fn analysis_res(z: u8, key: &TileKey) -> ApiResult<h3o::Resolution> {
    let res = res_for_zoom(z, HOTSPOT_RES_MIN, HOTSPOT_RES_MAX).map_err(ApiError::internal)?;
    Ok(if key.class == DisclosureClass::Controlled {
        res.min(releases::max_res(key.category))
    } else {
        res
    })
}

/// Gi* over the study area at `res` for the key's window and category.
async fn hotspot_analysis(
    state: &AppState,
    snap: &Arc<Snapshot>,
    res: h3o::Resolution,
    key: &TileKey,
) -> ApiResult<Arc<crate::tiles::sources::HotspotLayer>> {
    let window = key.window.unwrap_or_else(TimeWindow::all);
    let (category, controlled) = (key.category, key.class == DisclosureClass::Controlled);
    let version = snap.data_version;
    let cache = Arc::clone(&state.hotspots);
    let protected = if controlled {
        Some(admitted_protected(state, snap, window, category, key.class).await?)
    } else {
        None
    };
    let work = Work {
        key: format!("hotspot-layer|{version}|{res:?}|{window:?}|{category:?}|{controlled}"),
        class: key.class,
        estimate_bytes: study_area_cells(res).saturating_mul(256),
    };
    let snap = Arc::clone(snap);
    let layer = state
        .admission
        .run(work, move || {
            Ok(service::hotspots::hotspot_layer(
                &cache,
                &snap,
                res,
                window,
                category,
                protected.as_deref(),
            )?)
        })
        .await?;
    Ok(Arc::clone(layer.as_ref()))
}

/// Emerging hot spot categories at `res` for the key's window (monthly steps) and category.
async fn emerging_analysis(
    state: &AppState,
    snap: &Arc<Snapshot>,
    res: h3o::Resolution,
    key: &TileKey,
) -> ApiResult<Arc<(Arc<crate::analysis::ehsa::EhsaResult>, h3o::Resolution)>> {
    let window = key.window.unwrap_or_else(TimeWindow::all);
    let (category, controlled) = (key.category, key.class == DisclosureClass::Controlled);
    let version = snap.data_version;
    let cache = Arc::clone(&state.emerging);
    let steps = crate::analysis::areas::months_of(window).len() as u64;
    let months = if controlled {
        Some(super::hexagons::admit_months(state, snap, window, category, key.class).await?)
    } else {
        None
    };
    let work = Work {
        key: format!("emerging-layer|{version}|{res:?}|{window:?}|{category:?}|{controlled}"),
        class: key.class,
        estimate_bytes: study_area_cells(res).saturating_mul(
            steps
                .saturating_mul(service::emerging::EMERGING_BYTES_PER_CELL_STEP)
                .saturating_add(256),
        ),
    };
    let snap = Arc::clone(snap);
    state
        .admission
        .run(work, move || {
            let release = months
                .as_ref()
                .map(|m| move |w: TimeWindow| protected_cells(m, w));
            let result = service::emerging::emerging_result(
                &cache,
                &snap,
                res,
                window,
                category,
                crate::analysis::ehsa::StepUnit::Month,
                release
                    .as_ref()
                    .map(|r| r as service::emerging::StepRelease<'_>),
            )?;
            Ok((result, res))
        })
        .await
}

/// The risk windows in force on the served `as_of` day; `None` when the store holds no
/// incident day.
async fn risk_analysis(
    state: &AppState,
    snap: &Arc<Snapshot>,
    key: &TileKey,
) -> ApiResult<Option<Arc<crate::analysis::risk::RiskLayer>>> {
    let Some(as_of) =
        service::risk::default_as_of(snap).map(|d| service::risk::served_as_of(d, key.class))
    else {
        return Ok(None);
    };
    let (version, category) = (snap.data_version, key.category);
    let cache = Arc::clone(&state.risk);
    let work = Work {
        key: format!("risk-layer|{version}|{category:?}|{as_of}"),
        class: key.class,
        estimate_bytes: service::risk::estimate_bytes(snap, as_of),
    };
    let snap = Arc::clone(snap);
    let layer = state
        .admission
        .run(work, move || {
            let (layer, _) = service::risk::risk_result(&cache, &snap, category, as_of)?;
            Ok(layer)
        })
        .await?;
    Ok(Some(Arc::clone(layer.as_ref())))
}

/// `scheme://host` of the request, for absolute tile URLs: `https` behind a proxy that says so
/// in `X-Forwarded-Proto`, else `http`.
pub(crate) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".:-[]".contains(&b))
        })
        .unwrap_or("127.0.0.1:8080");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some(p) if p.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// The TileJSON document of `source` for a caller (query parameters pass through to the
/// tiles).
fn tilejson(
    source: &dyn TileSource,
    origin: &str,
    data_version: u64,
    params: &Params,
) -> ApiResult<Value> {
    params.only(source.params())?;
    let mut query = vec![format!("v={data_version}")];
    for k in ["from", "to", "category", "scheme"] {
        if let Some(v) = params.get(k) {
            let safe: String = v
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                .collect();
            query.push(format!("{k}={safe}"));
        }
    }
    let url = format!("{origin}{}?{}", source.tile_route(), query.join("&"));
    let doc = source
        .tilejson(url, study_area())
        .map_err(ApiError::internal)?;
    serde_json::to_value(&doc).map_err(ApiError::internal)
}

#[expect(
    clippy::unused_async,
    reason = "called from an axum handler closure, which must return a future"
)]
async fn get_tilejson(
    source: &'static dyn TileSource,
    State(state): State<AppState>,
    _auth: Authorised,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let snap = state.snapshot();
    check_tile_query(source, &params, &snap)?;
    tilejson(source, &origin(&headers), snap.data_version, &params).map(axum::Json)
}

/// `v`, the data version tile URLs carry so a new version is fetched anew: ignored, but a
/// whole number (anything else is refused, as the OpenAPI document declares).
fn cache_buster(params: &Params) -> ApiResult<()> {
    params
        .int_in("v", 0..=i64::MAX.unsigned_abs(), 0)
        .map(|_| ())
}

/// Validates the query a TileJSON passes on to its tile URLs as the tiles themselves would,
/// so a TileJSON never names tiles that would be refused.
fn check_tile_query(source: &dyn TileSource, params: &Params, snap: &Snapshot) -> ApiResult<()> {
    params.only(source.params())?;
    cache_buster(params)?;
    if source.spec().temporal() {
        params.window(TimeWindow::all())?;
        params.category()?;
    }
    match params.get("scheme") {
        Some(s) => check_scheme(s, snap),
        None => Ok(()),
    }
}

/// `GET /api/v1/layers`: the tile layers the caller's role may see, with their TileJSON URLs.
async fn get_layers(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    params.only(&[])?;
    let snap = state.snapshot();
    let layers: Vec<Value> = tile_routes()
        .iter()
        .filter(|routes| {
            class_of(&routes.tiles)
                .flatten()
                .is_some_and(|c| role_may_read(auth.role, c))
        })
        .map(|routes| {
            let spec = routes.source.spec();
            json!({
                "id": spec.name,
                "tilejson": routes.tilejson,
                "tiles": routes.tiles,
                "minzoom": spec.minzoom, "maxzoom": spec.maxzoom,
                "description": spec.description,
                "temporal": spec.temporal(),
                "fields": spec.fields.iter().map(|(n, t)| (n.to_string(), json!(t.as_str()))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    let class = disclosure_class(auth.role);
    let policy = state.disclosure;
    let disclosure_policy = (class == DisclosureClass::Controlled).then(|| {
        json!({
            "min_count": {
                "general": policy.threshold(crate::safeguards::disclosure::Sensitivity::General),
                "children": policy.threshold(crate::safeguards::disclosure::Sensitivity::Children),
            },
            "rounding": policy.effective_rounding_base(),
            "time": "month",
        })
    });
    Ok(axum::Json(json!({
        "data_version": snap.data_version,
        "disclosure": class,
        "disclosure_policy": disclosure_policy,
        "layers": layers,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn gzip_is_negotiated_from_accept_encoding() {
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "gzip, deflate, br"
        )])));
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br;q=1.0, GZIP;q=0.5"
        )])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "*")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "br")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_star() {
        let tag = "\"hexagons-3-00ff-gz\"";
        assert!(none_match(
            &headers(&[("if-none-match", "\"x\", \"hexagons-3-00ff-gz\"")]),
            tag
        ));
        assert!(none_match(
            &headers(&[("if-none-match", "W/\"hexagons-3-00ff-gz\"")]),
            tag
        ));
        assert!(none_match(&headers(&[("if-none-match", "*")]), tag));
        assert!(!none_match(
            &headers(&[("if-none-match", "\"hexagons-3-00ff\"")]),
            tag
        ));
    }

    #[test]
    fn tile_coordinates_name_the_field_at_fault() {
        assert!(parse_coord("12", "2020", "1361.pbf").is_ok());
        for (z, x, y, field) in [
            ("23", "0", "0", "z"),
            ("2", "4", "0", "x"),
            ("2", "0", "9", "y"),
            ("a", "0", "0", "z"),
            ("2", "0", "-1", "y"),
        ] {
            match parse_coord(z, x, y) {
                Err(ApiError::InvalidParameter { field: f, .. }) => {
                    assert_eq!(f, field, "{z}/{x}/{y}");
                }
                other => panic!("{z}/{x}/{y}: {other:?}"),
            }
        }
    }
}

#[cfg(test)]
#[path = "tiles_registry_tests.rs"]
mod registry_tests;
