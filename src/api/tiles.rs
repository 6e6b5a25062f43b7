//! Vector tiles and TileJSON (issue 5; maps.md §1, §4, §5): `GET /tiles/{layer}.json`,
//! `GET /tiles/{layer}/{z}/{x}/{y}` and `GET /api/v1/layers`.
//!
//! Each layer is its own route, declared with its data class in `auth::ENDPOINTS`, so the
//! policy layer refuses a layer the role may not see exactly as it refuses any endpoint.
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
use crate::safeguards::policy::{DisclosureClass, disclosure_class, role_may_read};
use crate::safeguards::releases;
use crate::tiles::hexagons::res_for_zoom;
use crate::tiles::sources::{
    HOTSPOT_RES_MAX, HOTSPOT_RES_MIN, LAYERS, LayerSpec, RenderQuery, render,
};
use crate::tiles::{TileCoord, TileJson, VectorLayer};

/// The MVT media type (maps.md §5.1).
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// Attribution carried by every TileJSON document.
const ATTRIBUTION: &str = "Contains OS data © Crown copyright and database right; contains National Statistics data © Crown copyright and database right; Open Government Licence v3.0. Incident data in the demo are synthetic.";

/// Default boundary scheme of the boundaries layer.
const DEFAULT_SCHEME: &str = "lad";

pub fn router() -> Router<AppState> {
    let mut r = Router::new().route("/api/v1/layers", get(get_layers));
    for spec in LAYERS {
        r = r
            .route(
                &format!("/tiles/{}.json", spec.name),
                get(move |state, auth, headers, params| {
                    get_tilejson(spec, state, auth, headers, params)
                }),
            )
            .route(
                &format!("/tiles/{}/{{z}}/{{x}}/{{y}}", spec.name),
                get(move |state, auth, path, headers, params| {
                    get_tile(spec, state, auth, path, headers, params)
                }),
            );
    }
    r
}

/// Query parameters a layer's tiles take.
fn allowed_params(spec: &LayerSpec) -> &'static [&'static str] {
    match (spec.temporal, spec.name) {
        (true, _) => &["from", "to", "category", "v"],
        (false, "boundaries") => &["scheme", "v"],
        (false, _) => &["v"],
    }
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

#[tracing::instrument(skip_all, fields(layer = spec.name, tile))]
async fn get_tile(
    spec: &'static LayerSpec,
    State(state): State<AppState>,
    auth: Authorised,
    Path((z, x, y)): Path<(String, String, String)>,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<Response> {
    params.only(allowed_params(spec))?;
    cache_buster(&params)?;
    let tile = parse_coord(&z, &x, &y)?;
    tracing::Span::current().record("tile", tracing::field::display(tile));
    let snap = state.snapshot();
    let class = disclosure_class(auth.role);
    let (window, category) = if spec.temporal {
        let (_, window) = super::query_window(&params, &snap, class)?;
        (Some(window), params.category()?)
    } else {
        (None, None)
    };
    let scheme = if spec.name == "boundaries" {
        let s = params.get("scheme").unwrap_or(DEFAULT_SCHEME).to_owned();
        if !snap.boundaries.has_scheme(&s) {
            let known: Vec<&str> = snap.boundaries.schemes().collect();
            return Err(ApiError::invalid(
                "scheme",
                format!("unknown scheme; known: {}", known.join(", ")),
            ));
        }
        Some(s)
    } else {
        None
    };
    let key = TileKey {
        layer: spec.name,
        data_version: snap.data_version,
        z: tile.z(),
        x: tile.x(),
        y: tile.y(),
        window,
        category,
        scheme,
        class,
        derived: if spec.name == "risk" {
            super::risk::default_as_of(&snap)
                .map(|d| super::risk::served_as_of(d, class))
                .map_or(0, |as_of| {
                    super::risk::calibration_version(&state.risk, &snap, category, as_of)
                })
        } else {
            0
        },
    };
    let want_gzip = accepts_gzip(&headers);
    let etag = key.etag(want_gzip);
    if none_match(&headers, &etag) {
        return Ok(tile_response(StatusCode::NOT_MODIFIED, &etag, false, None));
    }
    let cache = Arc::clone(&state.tiles);
    if let Some(hit) = cache.get(&key) {
        match (&hit.raw, want_gzip, &hit.gzip) {
            (None, _, _) => return Ok(tile_response(StatusCode::NO_CONTENT, &etag, false, None)),
            (Some(_), true, Some(gz)) => {
                return Ok(tile_response(
                    StatusCode::OK,
                    &etag,
                    true,
                    Some(Arc::clone(gz)),
                ));
            }
            (Some(raw), false, _) => {
                return Ok(tile_response(
                    StatusCode::OK,
                    &etag,
                    false,
                    Some(Arc::clone(raw)),
                ));
            }
            (Some(raw), true, None) => {
                let gz = gzip(raw)?;
                cache.put(
                    key,
                    CachedTile {
                        raw: Some(Arc::clone(raw)),
                        gzip: Some(Arc::clone(&gz)),
                    },
                );
                return Ok(tile_response(StatusCode::OK, &etag, true, Some(gz)));
            }
        }
    }
    let analyses = tile_analyses(&state, &snap, spec.name, tile.z(), &key).await?;
    // The monthly releases of the window, computed through the admission layer when cold.
    let protected = if spec.temporal && key.class == DisclosureClass::Controlled {
        let window = key.window.unwrap_or_else(TimeWindow::all);
        Some(admitted_protected(&state, &snap, window, key.category, key.class).await?)
    } else {
        None
    };
    let policy = state.disclosure;
    let tile_cache = Arc::clone(&cache);
    let shapes = Arc::clone(&state.shapes);
    blocking(move || {
        let window = key.window.unwrap_or_else(TimeWindow::all);
        let controlled = key.class == DisclosureClass::Controlled;
        let hotspots = analyses.hotspots.clone();
        let emerging = analyses.emerging.as_deref().map(|(result, res)| {
            super::emerging::tile_layer(result, *res, protected.as_deref(), key.category)
        });
        let risk = match analyses.risk.as_ref() {
            Some(layer) => {
                let coarse = (key.class == DisclosureClass::Controlled)
                    .then(|| super::risk::coarse_windows(layer, &snap, &policy))
                    .transpose()?;
                Some(super::risk::tile_layer(layer, coarse.as_deref()))
            }
            None => None,
        };
        let q = RenderQuery {
            window,
            category: key.category,
            scheme: key.scheme.as_deref().unwrap_or(DEFAULT_SCHEME),
            protected: protected.as_deref(),
            policy,
            hotspots: hotspots.as_deref(),
            emerging: emerging.as_ref(),
            risk: risk.as_ref(),
            max_res: controlled.then(|| releases::max_res(key.category)),
            zero_hidden_in: (controlled && releases::hides_zero(key.category)).then(study_area),
        };
        let layer = render(spec.name, &snap, tile, &q, &shapes).map_err(ApiError::internal)?;
        if layer.is_empty() {
            tile_cache.put(
                key,
                CachedTile {
                    raw: None,
                    gzip: None,
                },
            );
            return Ok(tile_response(StatusCode::NO_CONTENT, &etag, false, None));
        }
        let raw: Arc<[u8]> = Arc::from(layer.bytes);
        let gz = if want_gzip { Some(gzip(&raw)?) } else { None };
        tile_cache.put(
            key,
            CachedTile {
                raw: Some(Arc::clone(&raw)),
                gzip: gz.clone(),
            },
        );
        Ok(match gz {
            Some(gz) => tile_response(StatusCode::OK, &etag, true, Some(gz)),
            None => tile_response(StatusCode::OK, &etag, false, Some(raw)),
        })
    })
    .await
}

/// The analyses a tile of `layer` draws (hot spots, emerging hot spots, risk windows), each
/// computed through the admission layer (issue 14, point 1) under the key of the analysis, not
/// the tile: the tiles of one view share one computation, and a new view's tiles wait for a
/// worker instead of computing side by side.
#[derive(Default)]
struct TileAnalyses {
    hotspots: Option<Arc<crate::tiles::sources::HotspotLayer>>,
    emerging: Option<Arc<(Arc<crate::analysis::ehsa::EhsaResult>, h3o::Resolution)>>,
    risk: Option<Arc<crate::analysis::risk::RiskLayer>>,
}

async fn tile_analyses(
    state: &AppState,
    snap: &Arc<crate::index::Snapshot>,
    layer: &str,
    z: u8,
    key: &TileKey,
) -> ApiResult<TileAnalyses> {
    let window = key.window.unwrap_or_else(TimeWindow::all);
    let controlled = key.class == DisclosureClass::Controlled;
    let category = key.category;
    // Analysis layers at the tile's resolution, no finer than the cap for aggregate roles.
    let res = || -> ApiResult<h3o::Resolution> {
        let res = res_for_zoom(z, HOTSPOT_RES_MIN, HOTSPOT_RES_MAX).map_err(ApiError::internal)?;
        Ok(if controlled {
            res.min(releases::max_res(category))
        } else {
            res
        })
    };
    let snap = Arc::clone(snap);
    let version = snap.data_version;
    let mut out = TileAnalyses::default();
    match layer {
        "hotspots" => {
            let res = res()?;
            let cache = Arc::clone(&state.hotspots);
            let protected = if controlled {
                Some(admitted_protected(state, &snap, window, category, key.class).await?)
            } else {
                None
            };
            let work = Work {
                key: format!(
                    "hotspot-layer|{version}|{res:?}|{window:?}|{category:?}|{controlled}"
                ),
                class: key.class,
                estimate_bytes: study_area_cells(res).saturating_mul(256),
            };
            let layer = state
                .admission
                .run(work, move || {
                    super::hotspots::hotspot_layer(
                        &cache,
                        &snap,
                        res,
                        window,
                        category,
                        protected.as_deref(),
                    )
                })
                .await?;
            out.hotspots = Some(Arc::clone(layer.as_ref()));
        }
        "emerging" => {
            let res = res()?;
            let cache = Arc::clone(&state.emerging);
            let steps = crate::analysis::areas::months_of(window).len() as u64;
            let months = if controlled {
                Some(
                    super::hexagons::admit_months(state, &snap, window, category, key.class)
                        .await?,
                )
            } else {
                None
            };
            let work = Work {
                key: format!(
                    "emerging-layer|{version}|{res:?}|{window:?}|{category:?}|{controlled}"
                ),
                class: key.class,
                estimate_bytes: study_area_cells(res).saturating_mul(
                    steps
                        .saturating_mul(super::emerging::EMERGING_BYTES_PER_CELL_STEP)
                        .saturating_add(256),
                ),
            };
            out.emerging = Some(
                state
                    .admission
                    .run(work, move || {
                        let release = months
                            .as_ref()
                            .map(|m| move |w: TimeWindow| protected_cells(m, w));
                        let result = super::emerging::emerging_result(
                            &cache,
                            &snap,
                            res,
                            window,
                            category,
                            crate::analysis::ehsa::StepUnit::Month,
                            release
                                .as_ref()
                                .map(|r| r as super::emerging::StepRelease<'_>),
                        )?;
                        Ok((result, res))
                    })
                    .await?,
            );
        }
        "risk" => {
            let Some(as_of) =
                super::risk::default_as_of(&snap).map(|d| super::risk::served_as_of(d, key.class))
            else {
                return Ok(out);
            };
            let cache = Arc::clone(&state.risk);
            let work = Work {
                key: format!("risk-layer|{version}|{category:?}|{as_of}"),
                class: key.class,
                estimate_bytes: super::risk::estimate_bytes(&snap),
            };
            let layer = state
                .admission
                .run(work, move || {
                    super::risk::risk_result(&cache, &snap, category, as_of).map(|(layer, _)| layer)
                })
                .await?;
            out.risk = Some(Arc::clone(layer.as_ref()));
        }
        _ => {}
    }
    Ok(out)
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

/// The TileJSON document of `spec` for a caller (query parameters pass through to the tiles).
fn tilejson(
    spec: &LayerSpec,
    origin: &str,
    data_version: u64,
    params: &Params,
) -> ApiResult<Value> {
    params.only(allowed_params(spec))?;
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
    let url = format!(
        "{origin}/tiles/{}/{{z}}/{{x}}/{{y}}?{}",
        spec.name,
        query.join("&")
    );
    let mut doc = TileJson::new(spec.name, url, spec.minzoom, spec.maxzoom, study_area());
    doc.center = Some((-2.59, 51.45, 11.min(spec.maxzoom).max(spec.minzoom)));
    doc.attribution = Some(ATTRIBUTION.to_owned());
    let mut layer = VectorLayer::new(spec.name);
    for (name, t) in spec.fields {
        layer = layer.field(*name, *t);
    }
    layer.minzoom = Some(spec.minzoom);
    layer.maxzoom = Some(spec.maxzoom);
    layer.description = Some(spec.description.to_owned());
    doc.vector_layers.push(layer);
    doc.validate().map_err(ApiError::internal)?;
    serde_json::to_value(&doc).map_err(ApiError::internal)
}

#[expect(
    clippy::unused_async,
    reason = "called from an axum handler closure, which must return a future"
)]
async fn get_tilejson(
    spec: &'static LayerSpec,
    State(state): State<AppState>,
    _auth: Authorised,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let snap = state.snapshot();
    check_tile_query(spec, &params, &snap)?;
    tilejson(spec, &origin(&headers), snap.data_version, &params).map(axum::Json)
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
fn check_tile_query(
    spec: &LayerSpec,
    params: &Params,
    snap: &crate::index::Snapshot,
) -> ApiResult<()> {
    params.only(allowed_params(spec))?;
    cache_buster(params)?;
    if spec.temporal {
        params.window(TimeWindow::all())?;
        params.category()?;
    }
    if let Some(s) = params.get("scheme")
        && !snap.boundaries.has_scheme(s)
    {
        let known: Vec<&str> = snap.boundaries.schemes().collect();
        return Err(ApiError::invalid(
            "scheme",
            format!("unknown scheme; known: {}", known.join(", ")),
        ));
    }
    Ok(())
}

/// `GET /api/v1/layers`: the tile layers the caller's role may see, with their TileJSON URLs.
async fn get_layers(
    State(state): State<AppState>,
    auth: Authorised,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    params.only(&[])?;
    let snap = state.snapshot();
    let layers: Vec<Value> = LAYERS
        .iter()
        .filter(|spec| {
            class_of(&format!("/tiles/{}/{{z}}/{{x}}/{{y}}", spec.name))
                .flatten()
                .is_some_and(|c| role_may_read(auth.role, c))
        })
        .map(|spec| {
            json!({
                "id": spec.name,
                "tilejson": format!("/tiles/{}.json", spec.name),
                "tiles": format!("/tiles/{}/{{z}}/{{x}}/{{y}}", spec.name),
                "minzoom": spec.minzoom, "maxzoom": spec.maxzoom,
                "description": spec.description,
                "temporal": spec.temporal,
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
