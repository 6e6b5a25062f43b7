//! The `saferplaces analyse` subcommand: read events from a CSV file, run one analysis and
//! return its output (JSON with `--json`, a short text summary otherwise). The command
//! ([`run_command`]) only prints what [`run`] returns.
//!
//! # Input
//!
//! A CSV file of events: positions and, for space-time methods, dates. With a header, the
//! columns are found by name: `lon`/`longitude`/`lng` and `lat`/`latitude` (or with
//! `--planar`, `x`/`easting` and `y`/`northing`), `date`/`day`/`month`, and an optional
//! `weight`. `--columns a,b,c` renames the columns in order (with `--no-header` it names
//! them). Dates are `YYYY-MM-DD` or `YYYY-MM` (the first of the month, as police.uk data).
//! A bad row stops the run with its line number.
//!
//! `--planar` means the coordinates are already projected: British National Grid metres
//! for the H3 methods (converted to lon/lat for the cells), and any planar unit, used as
//! given, for `knox` (the NRC example is in feet).
//!
//! # Output
//!
//! Every JSON output carries `settings` (each setting used, including derived ones),
//! `warnings`, and the results. Undefined values are `null`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use foldhash::{HashMap, HashMapExt};
use geo::{MultiPolygon, Polygon};
use h3o::{CellIndex, Resolution};

use crate::analysis::ehsa::{
    Alignment, CubeSettings, EhsaSettings, SpaceTimeCube, StepUnit, before_after, emerging_hotspots,
};
use crate::analysis::gistar::{
    CellUniverse, DEFAULT_MAX_CELLS, GiStarSettings, PopulationRates, cell_of, hotspots,
};
use crate::analysis::kde::{KdeSettings, kde_cells, to_bng};
use crate::analysis::knox::{DistanceMetric, KnoxMode, KnoxSettings, SpaceTimePoint, knox};
use crate::analysis::{AnalysisError, AnalysisResult};
use crate::domain::{BngPoint, Day, LonLat};

/// The analyses.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AnalyseCommand {
    /// Getis-Ord Gi* hot spots on H3 cells (analytics.md §1).
    Gistar(GistarArgs),
    /// Quartic kernel density at H3 cell centres (analytics.md §4).
    Kde(KdeArgs),
    /// Emerging hot spot analysis on a space-time cube of H3 cells (analytics.md §2).
    Ehsa(EhsaArgs),
    /// Before/after change per H3 cell, split at a date.
    Change(ChangeArgs),
    /// Multi-band Knox test for near repeats with Monte Carlo permutations (analytics.md §5).
    Knox(KnoxArgs),
}

/// Where the events come from.
#[derive(Debug, Clone, clap::Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent command-line switches, as clap models them"
)]
pub struct InputArgs {
    /// CSV file of events.
    #[arg(long)]
    pub input: PathBuf,
    /// The file has no header row (name the columns with --columns).
    #[arg(long)]
    pub no_header: bool,
    /// Column names in order, e.g. `x,y,date` (renames a header; names a headerless file).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Coordinates are projected (British National Grid metres; as given for knox).
    #[arg(long)]
    pub planar: bool,
    /// Print the full result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Skip rows without a valid position (or date, where needed) instead of stopping; the
    /// count is reported under `input.skipped`.
    #[arg(long)]
    pub skip_invalid: bool,
}

/// The H3 cells and study area.
#[derive(Debug, Clone, clap::Args)]
pub struct CellArgs {
    /// GeoJSON study area (Polygon or `MultiPolygon`, or a collection of them); default: the
    /// extent of the data.
    #[arg(long)]
    pub area: Option<PathBuf>,
    /// H3 resolution (0..=15).
    #[arg(long, default_value_t = 9)]
    pub res: u8,
    /// Refuse study areas with more cells than this.
    #[arg(long, default_value_t = DEFAULT_MAX_CELLS)]
    pub max_cells: usize,
}

/// `analyse gistar`.
#[derive(Debug, Clone, clap::Args)]
pub struct GistarArgs {
    #[command(flatten)]
    #[expect(missing_docs, reason = "flattened clap arguments document themselves")]
    pub input: InputArgs,
    #[command(flatten)]
    #[expect(missing_docs, reason = "flattened clap arguments document themselves")]
    pub cells: CellArgs,
    /// Rings of neighbours (`grid_disk` k, the cell itself included).
    #[arg(long, default_value_t = 1)]
    pub k: u32,
    /// Bins without the FDR correction.
    #[arg(long)]
    pub no_fdr: bool,
    /// CSV of `h3,population` for rates.
    #[arg(long)]
    pub population: Option<PathBuf>,
    /// Cells below this population are masked (with --population).
    #[arg(long, default_value_t = 1.0)]
    pub min_population: f64,
    /// Rate multiplier (with --population).
    #[arg(long, default_value_t = 1000.0)]
    pub per: f64,
    /// What the population is (with --population).
    #[arg(long, default_value = "residents aged 10-24")]
    pub denominator: String,
}

/// `analyse kde`.
#[derive(Debug, Clone, clap::Args)]
pub struct KdeArgs {
    #[command(flatten)]
    #[expect(missing_docs, reason = "flattened clap arguments document themselves")]
    pub input: InputArgs,
    #[command(flatten)]
    #[expect(missing_docs, reason = "flattened clap arguments document themselves")]
    pub cells: CellArgs,
    /// Search radius in metres (default: the `ArcGIS` rule, reported as derived).
    #[arg(long)]
    pub radius_m: Option<f64>,
}

/// `analyse ehsa`.
#[derive(Debug, Clone, clap::Args)]
pub struct EhsaArgs {
    #[command(flatten)]
    #[expect(missing_docs, reason = "flattened clap arguments document themselves")]
    pub input: InputArgs,
    #[command(flatten)]
    #[expect(missing_docs, reason = "flattened clap arguments document themselves")]
    pub cells: CellArgs,
    /// Rings of spatial neighbours.
    #[arg(long, default_value_t = 1)]
    pub k: u32,
    /// Step: `month` (calendar months) or `week`.
    #[arg(long, default_value = "month")]
    pub step: String,
    /// Weekly alignment: `end` (last step ends on the last day) or `start`.
    #[arg(long, default_value = "end")]
    pub alignment: String,
    /// Neighbourhood time step K (steps back).
    #[arg(long, default_value_t = 1)]
    pub time_k: u32,
    /// Smallest |bin| that counts as hot or cold (2 = 95 %).
    #[arg(long, default_value_t = 2)]
    pub hot_level: u8,
    /// Significance of the Mann-Kendall trend.
    #[arg(long, default_value_t = 0.05)]
    pub alpha_trend: f64,
    /// First day (YYYY-MM-DD); default the first event.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD); default the last event.
    #[arg(long)]
    pub to: Option<String>,
    /// Keep only cells with at least one event.
    #[arg(long)]
    pub drop_never_observed: bool,
    /// Bins without the FDR correction.
    #[arg(long)]
    pub no_fdr: bool,
    /// Include each cell's counts, z and bins per step.
    #[arg(long)]
    pub series: bool,
}

/// `analyse change`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    #[expect(missing_docs, reason = "flattened clap arguments document themselves")]
    pub input: InputArgs,
    #[command(flatten)]
    #[expect(missing_docs, reason = "flattened clap arguments document themselves")]
    pub cells: CellArgs,
    /// First day of the after window (YYYY-MM-DD); before is the days up to it.
    #[arg(long)]
    pub split: String,
    /// First day of the before window; default the first event.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day of the after window; default the last event.
    #[arg(long)]
    pub to: Option<String>,
    /// Bins without the FDR correction.
    #[arg(long)]
    pub no_fdr: bool,
}

/// `analyse knox`.
#[derive(Debug, Clone, clap::Args)]
pub struct KnoxArgs {
    #[command(flatten)]
    #[expect(missing_docs, reason = "flattened clap arguments document themselves")]
    pub input: InputArgs,
    /// `euclidean` or `manhattan`.
    #[arg(long, default_value = "euclidean")]
    pub metric: String,
    /// Near Repeat Calculator conventions (labels "a to b" = [a-1, b), f32 coordinates).
    #[arg(long)]
    pub nrc: bool,
    /// Spatial band width (metres, or the planar input's unit).
    #[arg(long, default_value_t = 200.0)]
    pub space_band: f64,
    /// Number of spatial bands.
    #[arg(long, default_value_t = 3)]
    pub space_bands: u32,
    /// Temporal band width, days.
    #[arg(long, default_value_t = 7)]
    pub time_band: u32,
    /// Number of temporal bands.
    #[arg(long, default_value_t = 4)]
    pub time_bands: u32,
    /// Monte Carlo permutations.
    #[arg(long, default_value_t = 999)]
    pub permutations: u32,
    /// Seed of the permutations.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// One event read from the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputEvent {
    /// Position as given: lon/lat, or planar x/y with `--planar`.
    pub xy: [f64; 2],
    /// Day, when the file has dates.
    pub day: Option<Day>,
    /// Weight (1 when there is no weight column).
    pub weight: f64,
}

fn input_err(file: &Path, line: Option<u64>, reason: impl Into<String>) -> AnalysisError {
    AnalysisError::Input {
        file: file.display().to_string(),
        line,
        reason: reason.into(),
    }
}

fn find(names: &[String], wanted: &[&str]) -> Option<usize> {
    names
        .iter()
        .position(|n| wanted.iter().any(|w| n.trim().eq_ignore_ascii_case(w)))
}

/// Parses `YYYY-MM-DD`, or `YYYY-MM` as the first of the month.
pub fn parse_day(s: &str) -> Option<Day> {
    let s = s.trim();
    if s.len() == 7 {
        return format!("{s}-01").parse().ok();
    }
    s.parse().ok()
}

/// The events of an input file and how its rows were accounted for.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InputEcho {
    /// The file.
    pub file: String,
    /// Data rows read.
    pub rows: usize,
    /// Rows used.
    pub used: usize,
    /// Rows skipped for a missing or invalid position or date (`--skip-invalid`).
    pub skipped: usize,
}

/// Reads the events of a CSV file (see the module docs for the columns).
///
/// # Errors
///
/// [`AnalysisError::Input`] naming the file and line of the first bad row (unless
/// `--skip-invalid`), or a missing column.
pub fn read_events(
    args: &InputArgs,
    need_dates: bool,
) -> AnalysisResult<(Vec<InputEvent>, InputEcho)> {
    let file = &args.input;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(!args.no_header)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(file)
        .map_err(|e| input_err(file, None, e.to_string()))?;
    let names: Vec<String> = match (&args.columns, args.no_header) {
        (Some(c), _) => c.clone(),
        (None, false) => reader
            .headers()
            .map_err(|e| input_err(file, Some(1), e.to_string()))?
            .iter()
            .map(str::to_owned)
            .collect(),
        (None, true) => {
            let default = if args.planar {
                "x,y,date"
            } else {
                "lon,lat,date"
            };
            default.split(',').map(str::to_owned).collect()
        }
    };
    let (xs, ys): (&[&str], &[&str]) = if args.planar {
        (&["x", "easting"], &["y", "northing"])
    } else {
        (&["lon", "longitude", "lng"], &["lat", "latitude"])
    };
    let xi = find(&names, xs)
        .ok_or_else(|| input_err(file, None, format!("no column named {}", xs.join(" or "))))?;
    let yi = find(&names, ys)
        .ok_or_else(|| input_err(file, None, format!("no column named {}", ys.join(" or "))))?;
    let di = find(&names, &["date", "day", "month"]);
    if need_dates && di.is_none() {
        return Err(input_err(file, None, "no date column (date, day or month)"));
    }
    let wi = find(&names, &["weight"]);
    let first_line = if args.no_header { 1 } else { 2 };
    let mut out = Vec::new();
    let (mut rows, mut skipped) = (0usize, 0usize);
    for (k, row) in reader.records().enumerate() {
        let line = Some(first_line + k as u64);
        let row = row.map_err(|e| input_err(file, line, e.to_string()))?;
        if row.iter().all(str::is_empty) {
            continue;
        }
        rows += 1;
        match parse_row(&row, line, file, &names, [xi, yi], di, wi, need_dates) {
            Ok(e) => out.push(e),
            Err(_) if args.skip_invalid => skipped += 1,
            Err(e) => return Err(e),
        }
    }
    let echo = InputEcho {
        file: file.display().to_string(),
        rows,
        used: out.len(),
        skipped,
    };
    Ok((out, echo))
}

/// One data row as an event.
#[expect(
    clippy::too_many_arguments,
    reason = "the column positions found once per file"
)]
fn parse_row(
    row: &csv::StringRecord,
    line: Option<u64>,
    file: &Path,
    names: &[String],
    [xi, yi]: [usize; 2],
    di: Option<usize>,
    wi: Option<usize>,
    need_dates: bool,
) -> AnalysisResult<InputEvent> {
    let num = |i: usize, what: &str| -> AnalysisResult<f64> {
        let v = row.get(i).unwrap_or("");
        v.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| input_err(file, line, format!("{what} {v:?} is not a number")))
    };
    let xy = [num(xi, &names[xi])?, num(yi, &names[yi])?];
    let day = match di {
        Some(i) => {
            let v = row.get(i).unwrap_or("");
            match parse_day(v) {
                Some(d) => Some(d),
                None if need_dates => {
                    return Err(input_err(
                        file,
                        line,
                        format!("date {v:?} is not YYYY-MM-DD or YYYY-MM"),
                    ));
                }
                None => None,
            }
        }
        None => None,
    };
    let weight = match wi {
        Some(i) => {
            let w = num(i, "weight")?;
            if w < 0.0 {
                return Err(input_err(file, line, "weight is negative"));
            }
            w
        }
        None => 1.0,
    };
    Ok(InputEvent { xy, day, weight })
}

/// Positions as lon/lat: converted from the National Grid with `--planar`.
fn lonlats(events: &[InputEvent], planar: bool, file: &Path) -> AnalysisResult<Vec<LonLat>> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let r = if planar {
                BngPoint::new(e.xy[0], e.xy[1]).and_then(BngPoint::to_lonlat)
            } else {
                LonLat::new(e.xy[0], e.xy[1])
            };
            r.map_err(|err| input_err(file, None, format!("event {}: {err}", i + 1)))
        })
        .collect()
}

/// Reads a GeoJSON study area: every Polygon and `MultiPolygon` in it, as one multipolygon.
///
/// # Errors
///
/// [`AnalysisError::Input`] when the file cannot be read, is not GeoJSON or holds no polygon.
pub fn read_area(path: &Path) -> AnalysisResult<MultiPolygon<f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| input_err(path, None, e.to_string()))?;
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| input_err(path, None, format!("not GeoJSON: {e}")))?;
    let geometries: Vec<geojson::Geometry> = match gj {
        geojson::GeoJson::FeatureCollection(fc) => {
            fc.features.into_iter().filter_map(|f| f.geometry).collect()
        }
        geojson::GeoJson::Feature(f) => f.geometry.into_iter().collect(),
        geojson::GeoJson::Geometry(g) => vec![g],
    };
    let mut polygons: Vec<Polygon<f64>> = Vec::new();
    for g in geometries {
        let geom: geo::Geometry<f64> = g
            .try_into()
            .map_err(|e: geojson::Error| input_err(path, None, e.to_string()))?;
        match geom {
            geo::Geometry::Polygon(p) => polygons.push(p),
            geo::Geometry::MultiPolygon(mp) => polygons.extend(mp),
            _ => {}
        }
    }
    if polygons.is_empty() {
        return Err(input_err(path, None, "no Polygon or MultiPolygon"));
    }
    Ok(MultiPolygon(polygons))
}

fn resolution(res: u8) -> AnalysisResult<Resolution> {
    Resolution::try_from(res).map_err(|e| AnalysisError::invalid("res", e.to_string()))
}

/// The events of an input file, their positions and the cell universe they are analysed on.
struct Prepared {
    events: Vec<InputEvent>,
    echo: InputEcho,
    points: Vec<LonLat>,
    universe: CellUniverse,
}

fn prepare(input: &InputArgs, cells: &CellArgs, need_dates: bool) -> AnalysisResult<Prepared> {
    let (events, echo) = read_events(input, need_dates)?;
    let points = lonlats(&events, input.planar, &input.input)?;
    let universe = universe(cells, &points)?;
    Ok(Prepared {
        events,
        echo,
        points,
        universe,
    })
}

/// Appends one `warning:` line per warning to a text report.
fn push_warnings(s: &mut String, warnings: &[String]) {
    for w in warnings {
        let _ = write!(s, "\nwarning: {w}");
    }
}

fn universe(cells: &CellArgs, points: &[LonLat]) -> AnalysisResult<CellUniverse> {
    let res = resolution(cells.res)?;
    match &cells.area {
        Some(path) => {
            let area = read_area(path)?;
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            CellUniverse::in_polygons(&area, &name, res, cells.max_cells)
        }
        None => CellUniverse::data_extent(points.iter().copied(), res, cells.max_cells),
    }
}

fn read_population(path: &Path) -> AnalysisResult<HashMap<CellIndex, f64>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| input_err(path, None, e.to_string()))?;
    let mut out = HashMap::new();
    for (k, row) in reader.records().enumerate() {
        let line = Some(k as u64 + 2);
        let row = row.map_err(|e| input_err(path, line, e.to_string()))?;
        let cell: CellIndex = row
            .get(0)
            .unwrap_or("")
            .parse()
            .map_err(|e: h3o::error::InvalidCellIndex| input_err(path, line, e.to_string()))?;
        let p: f64 = row
            .get(1)
            .unwrap_or("")
            .parse()
            .map_err(|_| input_err(path, line, "population is not a number"))?;
        out.insert(cell, p);
    }
    Ok(out)
}

/// The result as JSON, with the input's row accounting under `input`.
fn to_json<T: serde::Serialize>(v: &T, input: &InputEcho) -> AnalysisResult<String> {
    let err = |e: serde_json::Error| AnalysisError::Mismatch(format!("JSON output: {e}"));
    let mut value = serde_json::to_value(v).map_err(err)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "input".to_owned(),
            serde_json::to_value(input).map_err(err)?,
        );
    }
    serde_json::to_string(&value).map_err(err)
}

fn day_arg(s: Option<&String>, field: &'static str) -> AnalysisResult<Option<Day>> {
    s.map(|v| {
        parse_day(v).ok_or_else(|| AnalysisError::invalid(field, format!("{v:?} is not a date")))
    })
    .transpose()
}

/// Runs one analysis and returns what to print.
///
/// # Errors
///
/// Whatever the analysis or the input reading reports ([`AnalysisError`]).
pub fn run(command: &AnalyseCommand) -> AnalysisResult<String> {
    match command {
        AnalyseCommand::Gistar(a) => run_gistar(a),
        AnalyseCommand::Kde(a) => run_kde(a),
        AnalyseCommand::Ehsa(a) => run_ehsa(a),
        AnalyseCommand::Change(a) => run_change(a),
        AnalyseCommand::Knox(a) => run_knox(a),
    }
}

/// `saferplaces analyse ...`: runs the analysis and prints its output.
pub(crate) fn run_command(command: &AnalyseCommand) -> anyhow::Result<std::process::ExitCode> {
    super::common::out(&run(command)?)?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn run_gistar(a: &GistarArgs) -> AnalysisResult<String> {
    let Prepared {
        events,
        echo,
        points,
        universe: u,
    } = prepare(&a.input, &a.cells, false)?;
    let res = u.resolution();
    let counts: Vec<(CellIndex, f64)> = points
        .iter()
        .zip(&events)
        .map(|(p, e)| (cell_of(*p, res), e.weight))
        .collect();
    let population = match &a.population {
        Some(path) => Some(PopulationRates {
            population: read_population(path)?,
            min_population: a.min_population,
            per: a.per,
            denominator: a.denominator.clone(),
        }),
        None => None,
    };
    let settings = GiStarSettings {
        k: a.k,
        fdr: !a.no_fdr,
    };
    let r = hotspots(&u, &counts, &settings, population.as_ref())?;
    if a.input.json {
        return to_json(&r, &echo);
    }
    let mut s = format!(
        "Gi* on {} cells at res {} (k = {}, FDR {}): {} hot, {} cold, {} undefined",
        r.summary.n,
        r.settings.res,
        r.settings.k,
        if settings.fdr { "on" } else { "off" },
        r.summary.hot,
        r.summary.cold,
        r.summary.undefined
    );
    push_warnings(&mut s, &r.warnings);
    let mut top: Vec<_> = r.cells.iter().filter(|c| c.bin > 0).collect();
    top.sort_by(|x, y| y.z.unwrap_or(0.0).total_cmp(&x.z.unwrap_or(0.0)));
    for c in top.iter().take(10) {
        let _ = write!(
            s,
            "\n{} count {} z {:.3} p {:.4} bin {}",
            c.h3,
            c.count,
            c.z.unwrap_or(f64::NAN),
            c.p.unwrap_or(f64::NAN),
            c.bin
        );
    }
    Ok(s)
}

fn run_kde(a: &KdeArgs) -> AnalysisResult<String> {
    let Prepared {
        events,
        echo,
        points,
        universe: u,
    } = prepare(&a.input, &a.cells, false)?;
    let weighted: Vec<(LonLat, f64)> = points
        .iter()
        .zip(&events)
        .map(|(p, e)| (*p, e.weight))
        .collect();
    let r = kde_cells(
        &u,
        &weighted,
        &KdeSettings {
            radius_m: a.radius_m,
        },
    )?;
    if a.input.json {
        return to_json(&r, &echo);
    }
    let max = r
        .cells
        .iter()
        .map(|c| c.density_per_km2)
        .fold(0.0_f64, f64::max);
    let mut s = format!(
        "quartic KDE on {} of {} cells at res {}: radius {:.1} m ({}), peak {:.2} per km2",
        r.cells.len(),
        r.settings.cells_evaluated,
        r.settings.res,
        r.settings.radius_m,
        r.settings.radius_source,
        max
    );
    push_warnings(&mut s, &r.warnings);
    Ok(s)
}

fn run_ehsa(a: &EhsaArgs) -> AnalysisResult<String> {
    let Prepared {
        events,
        echo,
        points,
        universe: u,
    } = prepare(&a.input, &a.cells, true)?;
    let res = u.resolution();
    let step = match a.step.as_str() {
        "month" => StepUnit::Month,
        "week" => StepUnit::Week,
        other => {
            return Err(AnalysisError::invalid(
                "step",
                format!("{other:?} is not month or week"),
            ));
        }
    };
    let alignment = match a.alignment.as_str() {
        "end" | "end_time" => Alignment::EndTime,
        "start" | "start_time" => Alignment::StartTime,
        other => {
            return Err(AnalysisError::invalid(
                "alignment",
                format!("{other:?} is not end or start"),
            ));
        }
    };
    let cube_settings = CubeSettings {
        step,
        alignment,
        from: day_arg(a.from.as_ref(), "from")?,
        to: day_arg(a.to.as_ref(), "to")?,
        drop_never_observed: a.drop_never_observed,
    };
    let binned: Vec<(CellIndex, Day, f64)> = points
        .iter()
        .zip(&events)
        .filter_map(|(p, e)| e.day.map(|d| (cell_of(*p, res), d, e.weight)))
        .collect();
    let cube = SpaceTimeCube::from_events(&u, &binned, &cube_settings)?;
    let settings = EhsaSettings {
        k: a.k,
        time_k: a.time_k,
        hot_level: a.hot_level,
        alpha_trend: a.alpha_trend,
        fdr: !a.no_fdr,
        include_series: a.series,
    };
    let r = emerging_hotspots(&cube, &settings)?;
    if a.input.json {
        return to_json(&r, &echo);
    }
    let mut s = format!(
        "emerging hot spots: {} cells x {} steps at res {}",
        r.settings.locations, r.settings.steps, r.settings.res
    );
    for (code, label, n) in &r.summary.categories {
        if *n > 0 {
            let _ = write!(s, "\n{code:>3} {label}: {n}");
        }
    }
    push_warnings(&mut s, &r.warnings);
    Ok(s)
}

fn run_change(a: &ChangeArgs) -> AnalysisResult<String> {
    let Prepared {
        events,
        echo,
        points,
        universe: u,
    } = prepare(&a.input, &a.cells, true)?;
    let res = u.resolution();
    let split = parse_day(&a.split)
        .ok_or_else(|| AnalysisError::invalid("split", format!("{:?} is not a date", a.split)))?;
    let days = || events.iter().filter_map(|e| e.day);
    let from = day_arg(a.from.as_ref(), "from")?
        .or_else(|| days().min())
        .ok_or_else(|| AnalysisError::NoData("no dated events".to_owned()))?;
    let to = day_arg(a.to.as_ref(), "to")?
        .or_else(|| days().max())
        .ok_or_else(|| AnalysisError::NoData("no dated events".to_owned()))?;
    if !(from < split && split <= to) {
        return Err(AnalysisError::invalid(
            "split",
            format!("{split} must be after {from} and no later than {to}"),
        ));
    }
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for (p, e) in points.iter().zip(&events) {
        let Some(d) = e.day else { continue };
        let cell = cell_of(*p, res);
        if d >= from && d < split {
            before.push((cell, e.weight));
        } else if d >= split && d <= to {
            after.push((cell, e.weight));
        }
    }
    let before_days = u32::from(split.days_since_epoch() - from.days_since_epoch());
    let after_days = u32::from(to.days_since_epoch() - split.days_since_epoch()) + 1;
    let r = before_after(&u, &before, &after, before_days, after_days, !a.no_fdr)?;
    if a.input.json {
        return to_json(&r, &echo);
    }
    let up = r.cells.iter().filter(|c| c.bin > 0).count();
    let down = r.cells.iter().filter(|c| c.bin < 0).count();
    Ok(format!(
        "before {from}..{} ({before_days} days) vs after {split}..{to} ({after_days} days): {} cells with events, {up} significantly up, {down} down",
        split.minus_days(1),
        r.cells.len()
    ))
}

fn run_knox(a: &KnoxArgs) -> AnalysisResult<String> {
    let (events, echo) = read_events(&a.input, true)?;
    let xy: Vec<[f64; 2]> = if a.input.planar {
        events.iter().map(|e| e.xy).collect()
    } else {
        to_bng(lonlats(&events, false, &a.input.input)?)?
    };
    let points: Vec<SpaceTimePoint> = xy
        .iter()
        .zip(&events)
        .filter_map(|(p, e)| {
            e.day.map(|day| SpaceTimePoint {
                x_m: p[0],
                y_m: p[1],
                day,
            })
        })
        .collect();
    let metric = match a.metric.as_str() {
        "euclidean" => DistanceMetric::Euclidean,
        "manhattan" => DistanceMetric::Manhattan,
        other => {
            return Err(AnalysisError::invalid(
                "metric",
                format!("{other:?} is not euclidean or manhattan"),
            ));
        }
    };
    let settings = KnoxSettings {
        space_band_m: a.space_band,
        space_bands: a.space_bands,
        time_band_days: a.time_band,
        time_bands: a.time_bands,
        metric,
        mode: if a.nrc {
            KnoxMode::NrcCompatible
        } else {
            KnoxMode::Correct
        },
        permutations: a.permutations,
        seed: a.seed,
    };
    let r = knox(&points, &settings)?;
    if a.input.json {
        return to_json(&r, &echo);
    }
    let mut s = format!(
        "Knox: {} events, {} pairs, {} permutations (seed {}), {:?} mode\nobserved / expected (p)",
        r.settings.n, r.pairs, settings.permutations, settings.seed, settings.mode
    );
    for (i, row) in r.rows.iter().enumerate() {
        let _ = write!(s, "\n{:>16}", row.label);
        for j in 0..r.columns.len() {
            let _ = write!(
                s,
                " | {:>7} / {:>9.2} ({})",
                r.observed[i][j],
                r.expected[i][j],
                r.p[i][j].map_or_else(|| "-".to_owned(), |p| format!("{p:.3}"))
            );
        }
    }
    push_warnings(&mut s, &r.warnings);
    Ok(s)
}
