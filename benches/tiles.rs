//! Tile encoding benches (issue 5): a city hexagon tile over Bristol (res 9 at zoom 11, about
//! 1,500 cells with count, suppression and one extra property), the same at res 10 / zoom 12,
//! the cell-selection step on its own, a transport-line tile with clipping, and an encode-only
//! comparison with fast-mvt 0.7.1 on identical integer geometry (`maps.md` §3, §9).
//!
//! Run: `nice cargo bench --bench tiles`. Inputs are deterministic (no RNG crate, style
//! rule 9). Tile sizes and feature counts are printed to stderr once.
//!
//! The development machine is shared, and criterion's wall-clock medians grow with the load.
//! So each operation is also run a fixed number of times while reading the thread's own
//! on-CPU time from `/proc/thread-self/schedstat` (nanoseconds; Linux only, skipped
//! elsewhere), printed as `cpu:` lines: time spent waiting for a core is left out. These runs
//! ignore criterion's filter; set `TILES_BENCH_CPU=0` to skip them (when profiling one bench).

#![expect(
    clippy::print_stderr,
    reason = "the bench reports tile sizes and feature counts on stderr"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fast_mvt::{MvtCoord, MvtGeomType, MvtLayerBuilder, MvtValueRef};
use h3o::{CellIndex, LatLng, Resolution};
use saferplaces::tiles::{
    CellBoundaries, HexCell, HexCellIndex, HexCount, LayerEncoder, MercatorPoint, PropValue,
    Property, TileCoord, TileGeometry, TilePolygon, encode_hexagon_layer, prepare_lines,
};

/// `SplitMix64`: deterministic inputs without an RNG crate.
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        saferplaces::synthetic::rng::splitmix64(&mut self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The tile holding Bristol city centre (lon −2.59, lat 51.45) at zoom `z`.
fn bristol_tile(z: u32) -> TileCoord {
    let n = f64::from(1u32 << z);
    let (lon, lat) = (-2.59_f64, 51.45_f64);
    let r = lat.to_radians();
    let fx = (lon + 180.0) / 360.0 * n;
    let fy = (1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    TileCoord::new(z, fx as u32, fy as u32).expect("a valid tile")
}

/// Every cell of resolution `res` within `k` steps of Bristol centre: the occupied cells of
/// a busy city, as far as selection is concerned.
fn bristol_cells(res: Resolution, k: u32) -> Vec<CellIndex> {
    let centre = LatLng::new(51.45, -2.59)
        .expect("a valid point")
        .to_cell(res);
    let mut cells: Vec<CellIndex> = centre.grid_disk(k);
    cells.sort_unstable();
    cells
}

/// Counts for `cells`: one in eight suppressed, the rest multiples of five.
fn counts(cells: &[CellIndex], extra: &'static [Property<'static>]) -> Vec<HexCell<'static>> {
    let mut r = Mix(0x7115_0005);
    cells
        .iter()
        .map(|&cell| HexCell {
            cell,
            count: if r.next().is_multiple_of(8) {
                HexCount::Suppressed
            } else {
                HexCount::Value(5 * (1 + (r.next() % 40) as u32))
            },
            extra,
        })
        .collect()
}

static EXTRA: [Property<'static>; 1] = [("rate", PropValue::F64(0.25))];

/// 200 bus and rail routes of 50–500 vertices wandering across the city, in Mercator metres.
fn routes() -> Vec<Vec<MercatorPoint>> {
    let mut r = Mix(0x0B05_2005);
    (0..200)
        .map(|_| {
            let n = 50 + (r.next() % 451) as usize;
            let mut lon = -2.75 + r.unit() * 0.3;
            let mut lat = 51.38 + r.unit() * 0.14;
            let (dlon, dlat) = ((r.unit() - 0.5) * 0.002, (r.unit() - 0.5) * 0.0014);
            (0..n)
                .map(|_| {
                    lon += dlon + (r.unit() - 0.5) * 0.0008;
                    lat += dlat + (r.unit() - 0.5) * 0.0005;
                    MercatorPoint::from_deg(lon, lat)
                })
                .collect()
        })
        .collect()
}

fn encode_lines(tile: TileCoord, routes: &[Vec<MercatorPoint>]) -> (Vec<u8>, usize) {
    let tf = tile.transform();
    let mut layer = LayerEncoder::new("routes").expect("a layer name");
    for (i, route) in routes.iter().enumerate() {
        if let Some(g) = prepare_lines(tf, [route.as_slice()]) {
            let props = [
                (
                    "route",
                    PropValue::Str(if i % 2 == 0 { "X39" } else { "72" }),
                ),
                ("mode", PropValue::Str("bus")),
            ];
            layer
                .add_feature(&g, &props, Some(i as u64 + 1))
                .expect("valid feature");
        }
    }
    let out = layer.finish();
    (out.bytes, out.feature_count)
}

/// One decoded hexagon feature: its ring and properties, as integers and strings.
struct Prepared {
    ring: Vec<(i32, i32)>,
    h3: String,
    count: Option<u64>,
    rate: f64,
}

/// The features of a hexagon tile with their integer rings, read back from the encoder one
/// cell at a time, so that both encoders below get identical integer input.
fn prepared_features(tile: TileCoord, input: &[HexCell<'_>], b: &CellBoundaries) -> Vec<Prepared> {
    input
        .iter()
        .filter_map(|c| {
            let one = encode_hexagon_layer("h", tile, std::slice::from_ref(c), b).expect("encodes");
            (!one.is_empty()).then(|| Prepared {
                ring: read_single_ring(&one.bytes),
                h3: c.cell.to_string(),
                count: match c.count {
                    HexCount::Value(v) => Some(u64::from(v)),
                    HexCount::Suppressed => None,
                },
                rate: 0.25,
            })
        })
        .collect()
}

fn varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// The one ring of the one feature of a one-layer tile.
fn read_single_ring(tile: &[u8]) -> Vec<(i32, i32)> {
    // Walk tile → layer → feature → geometry (fields 3, 2 and 4).
    let field = |buf: &[u8], want: u64| -> Vec<u8> {
        let mut pos = 0;
        while pos < buf.len() {
            let key = varint(buf, &mut pos);
            match key & 7 {
                0 => {
                    varint(buf, &mut pos);
                }
                2 => {
                    let n = varint(buf, &mut pos) as usize;
                    if key >> 3 == want {
                        return buf[pos..pos + n].to_vec();
                    }
                    pos += n;
                }
                _ => unreachable!("only varint and length-delimited fields here"),
            }
        }
        Vec::new()
    };
    let geometry = field(&field(&field(tile, 3), 2), 4);
    let mut pos = 0;
    let mut cmds = Vec::new();
    while pos < geometry.len() {
        cmds.push(varint(&geometry, &mut pos) as u32);
    }
    let unzig = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
    let (mut x, mut y, mut i) = (0, 0, 0);
    let mut ring = Vec::new();
    while i < cmds.len() {
        let (id, count) = (cmds[i] & 7, cmds[i] >> 3);
        i += 1;
        if id == 7 {
            continue;
        }
        for _ in 0..count {
            x += unzig(cmds[i]);
            y += unzig(cmds[i + 1]);
            i += 2;
            ring.push((x, y));
        }
    }
    ring
}

/// Our generic layer encoder on prepared features.
fn encode_ours(features: &[Prepared], geometries: &[TileGeometry]) -> Vec<u8> {
    let mut layer = LayerEncoder::new("hotspots").expect("a layer name");
    for (f, g) in features.iter().zip(geometries) {
        let h3 = ("h3", PropValue::Str(&f.h3));
        let rate = ("rate", PropValue::F64(f.rate));
        let props: [Property<'_>; 4] = match f.count {
            Some(c) => [
                h3,
                ("count", PropValue::U64(c)),
                ("suppressed", PropValue::Bool(false)),
                rate,
            ],
            None => [h3, ("suppressed", PropValue::Bool(true)), rate, rate],
        };
        let n = if f.count.is_some() { 4 } else { 3 };
        layer
            .add_feature(g, &props[..n], None)
            .expect("valid feature");
    }
    layer.finish().bytes
}

/// fast-mvt's streaming builder on the same features.
fn encode_fast_mvt(features: &[Prepared]) -> Vec<u8> {
    let mut layer = MvtLayerBuilder::new("hotspots").expect("a layer name");
    for f in features {
        let mut feature = layer.feature_of(MvtGeomType::Polygon);
        feature
            .ring(f.ring.iter().map(|&(x, y)| MvtCoord { x, y }), true)
            .expect("a ring");
        feature
            .tag_ref("h3", MvtValueRef::String(&f.h3))
            .expect("a tag");
        if let Some(c) = f.count {
            feature
                .tag_ref("count", MvtValueRef::UInt(c))
                .expect("a tag");
        }
        feature
            .tag_ref("suppressed", MvtValueRef::Bool(f.count.is_none()))
            .expect("a tag");
        feature
            .tag_ref("rate", MvtValueRef::Double(f.rate))
            .expect("a tag");
        layer = feature.end();
    }
    layer.encode()
}

/// Nanoseconds this thread has spent on a CPU, if the kernel tells.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs `f` `iters` times and prints on-CPU and wall time per iteration.
fn report_cpu<T>(name: &str, iters: u32, mut f: impl FnMut() -> T) {
    if std::env::var_os("TILES_BENCH_CPU").is_some_and(|v| v == "0") {
        return;
    }
    let (Some(cpu0), wall0) = (thread_cpu_ns(), Instant::now()) else {
        return;
    };
    for _ in 0..iters {
        black_box(f());
    }
    let wall = wall0.elapsed();
    let Some(cpu1) = thread_cpu_ns() else {
        return;
    };
    let per = |ns: f64| ns / f64::from(iters) / 1000.0;
    eprintln!(
        "cpu: {name}: {:.1} µs on CPU per iteration ({:.1} µs wall), {iters} iterations",
        per((cpu1 - cpu0) as f64),
        per(wall.as_nanos() as f64)
    );
}

#[expect(
    clippy::too_many_lines,
    reason = "a bench: builds one fixture, then registers each measured case in order"
)]
fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("tiles");
    g.sample_size(100).measurement_time(Duration::from_secs(8));

    for (name, z, res, k) in [
        ("hexagons_z11_res9", 11, Resolution::Nine, 60),
        ("hexagons_z12_res10", 12, Resolution::Ten, 110),
    ] {
        let tile = bristol_tile(z);
        // All occupied cells of the city; the index and cache are built once per snapshot.
        let all = bristol_cells(res, k);
        let mut boundaries = CellBoundaries::new();
        let index = HexCellIndex::build(all.iter().copied(), &mut boundaries);
        let mut selected = Vec::new();
        index.cells_for_tile(tile, &mut selected);
        let input = counts(&selected, &EXTRA);
        let out = encode_hexagon_layer("hotspots", tile, &input, &boundaries).expect("encodes");
        eprintln!(
            "{name}: tile {tile}, {} indexed cells, {} selected, {} features, {} bytes",
            all.len(),
            selected.len(),
            out.feature_count,
            out.bytes.len()
        );

        let mut scratch = Vec::new();
        report_cpu(&format!("{name}/select"), 20_000, || {
            index.cells_for_tile(tile, &mut scratch);
            scratch.len()
        });
        report_cpu(&format!("{name}/encode"), 2_000, || {
            encode_hexagon_layer("hotspots", tile, &input, &boundaries)
        });
        g.bench_function(format!("{name}/select"), |b| {
            let mut out = Vec::new();
            b.iter(|| {
                index.cells_for_tile(black_box(tile), &mut out);
                black_box(out.len())
            });
        });
        g.bench_function(format!("{name}/encode"), |b| {
            b.iter(|| {
                encode_hexagon_layer("hotspots", black_box(tile), black_box(&input), &boundaries)
                    .expect("encodes")
            });
        });
        g.bench_function(format!("{name}/encode_uncached"), |b| {
            let empty = CellBoundaries::new();
            b.iter(|| {
                encode_hexagon_layer("hotspots", black_box(tile), black_box(&input), &empty)
                    .expect("encodes")
            });
        });
    }

    // Encode-only comparison on identical integer geometry and properties.
    {
        let tile = bristol_tile(11);
        let all = bristol_cells(Resolution::Nine, 60);
        let mut boundaries = CellBoundaries::new();
        let index = HexCellIndex::build(all.iter().copied(), &mut boundaries);
        let mut selected = Vec::new();
        index.cells_for_tile(tile, &mut selected);
        let input = counts(&selected, &EXTRA);
        let features = prepared_features(tile, &input, &boundaries);
        let geometries: Vec<TileGeometry> = features
            .iter()
            .map(|f| {
                TileGeometry::Polygons(vec![TilePolygon {
                    exterior: f
                        .ring
                        .iter()
                        .map(|&(x, y)| saferplaces::tiles::TilePoint::new(x, y))
                        .collect(),
                    holes: vec![],
                }])
            })
            .collect();
        let ours = encode_ours(&features, &geometries);
        let theirs = encode_fast_mvt(&features);
        let full = encode_hexagon_layer("hotspots", tile, &input, &boundaries).expect("encodes");
        eprintln!(
            "encode-only: {} features; ours {} bytes, fast-mvt {} bytes, identical: {}; \
             hexagon path identical to both: {}",
            features.len(),
            ours.len(),
            theirs.len(),
            ours == theirs,
            full.bytes == ours
        );
        report_cpu(
            "encode_only_z11_res9/saferplaces_layer_encoder",
            2_000,
            || encode_ours(&features, &geometries),
        );
        report_cpu("encode_only_z11_res9/fast_mvt_0_7_1", 2_000, || {
            encode_fast_mvt(&features)
        });
        g.bench_function("encode_only_z11_res9/saferplaces_layer_encoder", |b| {
            b.iter(|| encode_ours(black_box(&features), black_box(&geometries)));
        });
        g.bench_function("encode_only_z11_res9/fast_mvt_0_7_1", |b| {
            b.iter(|| encode_fast_mvt(black_box(&features)));
        });
    }

    let routes = routes();
    for z in [12, 14] {
        let tile = bristol_tile(z);
        let (bytes, n) = encode_lines(tile, &routes);
        eprintln!(
            "lines_z{z}: tile {tile}, {n} features, {} bytes",
            bytes.len()
        );
        report_cpu(&format!("lines_z{z}/prepare_and_encode"), 1_000, || {
            encode_lines(tile, &routes)
        });
        g.bench_function(format!("lines_z{z}/prepare_and_encode"), |b| {
            b.iter(|| encode_lines(black_box(tile), black_box(&routes)));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
