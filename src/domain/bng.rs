//! British National Grid positions (OSGB36 / EPSG:27700, metres) and their conversion to and
//! from WGS84 longitude/latitude.
//!
//! GIAS publishes school locations only as `Easting`/`Northing` (formats.md §2), and `NaPTAN`
//! carries them beside its longitude/latitude (formats.md §4); formats.md §0 asks for WGS84 for
//! tiles. The conversion follows Ordnance Survey, *A guide to coordinate systems in Great
//! Britain* (the "OS guide"):
//!
//! 1. inverse transverse Mercator on the Airy 1830 ellipsoid with the National Grid
//!    projection constants (OS guide Annex C: `F0` 0.999 601 271 7, true origin 49°N 2°W,
//!    false origin `E0` 400 000 m, `N0` −100 000 m), giving OSGB36 latitude and longitude;
//! 2. OSGB36 geodetic → Earth-centred Cartesian (OS guide Annex B), a seven-parameter
//!    Helmert transform OSGB36 → WGS84 (OS guide §6.6, the published WGS84 → OSGB36
//!    parameters with every sign reversed), and Cartesian → geodetic on the GRS80 ellipsoid
//!    (which WGS84 matches to well under a millimetre at the surface).
//!
//! The OS guide quotes the Helmert transform as good to about 3–5 m across Great Britain,
//! which is ample for drawing schools and stops. Sub-metre work needs OSTN15, which this
//! module does not implement. Heights are taken as zero on input and dropped on output: the
//! horizontal effect of that is well under a centimetre.

use super::{DomainError, DomainResult, LonLat};

/// Largest easting on the National Grid, metres.
const MAX_EASTING_M: f64 = 700_000.0;
/// Largest northing on the National Grid, metres.
const MAX_NORTHING_M: f64 = 1_300_000.0;

/// Airy 1830 semi-major axis, metres (OS guide Annex A).
const AIRY_A_M: f64 = 6_377_563.396;
/// Airy 1830 semi-minor axis, metres (OS guide Annex A).
const AIRY_B_M: f64 = 6_356_256.909;
/// GRS80 semi-major axis, metres (OS guide Annex A; WGS84 has the same value).
const GRS80_A_M: f64 = 6_378_137.0;
/// GRS80 semi-minor axis, metres (OS guide Annex A).
const GRS80_B_M: f64 = 6_356_752.314_1;

/// National Grid scale factor on the central meridian (OS guide Annex A).
const F0: f64 = 0.999_601_271_7;
/// Latitude of the true origin, degrees north.
const PHI0_DEG: f64 = 49.0;
/// Longitude of the true origin, degrees east (2°W).
const LAMBDA0_DEG: f64 = -2.0;
/// Easting of the true origin, metres.
const E0_M: f64 = 400_000.0;
/// Northing of the true origin, metres.
const N0_M: f64 = -100_000.0;

/// Seven Helmert parameters (position-vector convention, small-angle form; OS guide §6.2).
struct Helmert {
    tx_m: f64,
    ty_m: f64,
    tz_m: f64,
    scale_ppm: f64,
    rx_arcsec: f64,
    ry_arcsec: f64,
    rz_arcsec: f64,
}

/// OSGB36 → WGS84: the OS guide's WGS84 → OSGB36 parameters (tx −446.448 m, ty +125.157 m,
/// tz −542.060 m, s +20.4894 ppm, rx −0.1502″, ry −0.2470″, rz −0.8421″) with every sign
/// reversed.
const OSGB36_TO_WGS84: Helmert = Helmert {
    tx_m: 446.448,
    ty_m: -125.157,
    tz_m: 542.060,
    scale_ppm: -20.4894,
    rx_arcsec: 0.1502,
    ry_arcsec: 0.2470,
    rz_arcsec: 0.8421,
};

/// WGS84 → OSGB36, exactly as published in the OS guide §6.6.
const WGS84_TO_OSGB36: Helmert = Helmert {
    tx_m: -446.448,
    ty_m: 125.157,
    tz_m: -542.060,
    scale_ppm: 20.4894,
    rx_arcsec: -0.1502,
    ry_arcsec: -0.2470,
    rz_arcsec: -0.8421,
};

/// A position on the Ordnance Survey National Grid (OSGB36 British National Grid,
/// EPSG:27700), in metres from the false origin. Always finite and inside the grid
/// (0..=700 000 m east, 0..=1 300 000 m north).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BngPoint {
    easting_m: f64,
    northing_m: f64,
}

impl BngPoint {
    /// Validates an easting and northing in metres.
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] naming `easting` or `northing` when the value is not finite or
    /// lies outside the National Grid (0..=700 000 m east, 0..=1 300 000 m north).
    pub fn new(easting_m: f64, northing_m: f64) -> DomainResult<Self> {
        if !easting_m.is_finite() || !(0.0..=MAX_EASTING_M).contains(&easting_m) {
            return Err(DomainError::invalid(
                "easting",
                format!("{easting_m} m is not on the National Grid (0..=700000)"),
            ));
        }
        if !northing_m.is_finite() || !(0.0..=MAX_NORTHING_M).contains(&northing_m) {
            return Err(DomainError::invalid(
                "northing",
                format!("{northing_m} m is not on the National Grid (0..=1300000)"),
            ));
        }
        Ok(Self {
            easting_m,
            northing_m,
        })
    }

    /// Easting in metres.
    pub fn easting_m(self) -> f64 {
        self.easting_m
    }

    /// Northing in metres.
    pub fn northing_m(self) -> f64 {
        self.northing_m
    }

    /// The OSGB36 latitude and longitude in degrees (`(lat, lon)`), by the inverse
    /// transverse Mercator projection of OS guide Annex C on the Airy 1830 ellipsoid.
    pub fn to_osgb36_lat_lon_deg(self) -> (f64, f64) {
        let (phi, lambda) = inverse_transverse_mercator(self.easting_m, self.northing_m);
        (phi.to_degrees(), lambda.to_degrees())
    }

    /// The WGS84 position: inverse transverse Mercator (OS guide Annex C), then the OSGB36 →
    /// WGS84 Helmert transform (OS guide §6.6, signs reversed) through Cartesian
    /// coordinates. Accurate to about 3–5 m (the Helmert transform's own accuracy).
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] if the result is not a valid [`LonLat`]; that cannot happen
    /// for a point inside the grid, but the check keeps the conversion total.
    pub fn to_lonlat(self) -> DomainResult<LonLat> {
        let (phi, lambda) = inverse_transverse_mercator(self.easting_m, self.northing_m);
        let xyz = geodetic_to_cartesian(phi, lambda, AIRY_A_M, AIRY_B_M);
        let xyz = helmert(xyz, &OSGB36_TO_WGS84);
        let (phi, lambda) = cartesian_to_geodetic(xyz, GRS80_A_M, GRS80_B_M);
        LonLat::new(lambda.to_degrees(), phi.to_degrees())
    }

    /// The National Grid position of a WGS84 point: the WGS84 → OSGB36 Helmert transform (OS
    /// guide §6.6) and the forward transverse Mercator projection (OS guide Annex C). The
    /// inverse of [`BngPoint::to_lonlat`] to well under a centimetre.
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] naming `easting` or `northing` when the point falls outside
    /// the National Grid.
    pub fn from_lonlat(p: LonLat) -> DomainResult<Self> {
        let xyz = geodetic_to_cartesian(
            p.lat().to_radians(),
            p.lon().to_radians(),
            GRS80_A_M,
            GRS80_B_M,
        );
        let xyz = helmert(xyz, &WGS84_TO_OSGB36);
        let (phi, lambda) = cartesian_to_geodetic(xyz, AIRY_A_M, AIRY_B_M);
        let (easting_m, northing_m) = transverse_mercator(phi, lambda);
        Self::new(easting_m, northing_m)
    }
}

/// The meridional arc `M` from the true origin's latitude to `phi` (OS guide Annex C,
/// equation C3), metres.
fn meridional_arc_m(phi: f64) -> f64 {
    let phi0 = PHI0_DEG.to_radians();
    let n = (AIRY_A_M - AIRY_B_M) / (AIRY_A_M + AIRY_B_M);
    let (n2, n3) = (n * n, n * n * n);
    let (d, s) = (phi - phi0, phi + phi0);
    AIRY_B_M
        * F0
        * ((1.0 + n + 1.25 * n2 + 1.25 * n3) * d
            - (3.0 * n + 3.0 * n2 + 21.0 / 8.0 * n3) * d.sin() * s.cos()
            + (15.0 / 8.0 * n2 + 15.0 / 8.0 * n3) * (2.0 * d).sin() * (2.0 * s).cos()
            - 35.0 / 24.0 * n3 * (3.0 * d).sin() * (3.0 * s).cos())
}

/// Airy 1830 first eccentricity squared.
fn airy_e2() -> f64 {
    (AIRY_A_M * AIRY_A_M - AIRY_B_M * AIRY_B_M) / (AIRY_A_M * AIRY_A_M)
}

/// Radii of curvature `(ν, ρ, η²)` at latitude `phi`, scaled by `F0` (OS guide Annex C,
/// equations C2).
fn curvature(phi: f64) -> (f64, f64, f64) {
    let e2 = airy_e2();
    let w = 1.0 - e2 * phi.sin().powi(2);
    let nu = AIRY_A_M * F0 / w.sqrt();
    let rho = AIRY_A_M * F0 * (1.0 - e2) / w.powf(1.5);
    (nu, rho, nu / rho - 1.0)
}

/// Easting and northing (metres) to OSGB36 `(φ, λ)` in radians (OS guide Annex C, C.2).
fn inverse_transverse_mercator(easting_m: f64, northing_m: f64) -> (f64, f64) {
    let phi0 = PHI0_DEG.to_radians();
    let lambda0 = LAMBDA0_DEG.to_radians();
    // Iterate φ′ until N − N0 − M is under 0.01 mm (the guide's stopping rule); the series
    // converges in a handful of steps, the cap only keeps the loop bounded.
    let mut phi = (northing_m - N0_M) / (AIRY_A_M * F0) + phi0;
    for _ in 0..32 {
        let residual_m = northing_m - N0_M - meridional_arc_m(phi);
        if residual_m.abs() < 1e-5 {
            break;
        }
        phi += residual_m / (AIRY_A_M * F0);
    }
    let (nu, rho, eta2) = curvature(phi);
    let (t, sec) = (phi.tan(), 1.0 / phi.cos());
    let (t2, t4, t6) = (t * t, t.powi(4), t.powi(6));
    let vii = t / (2.0 * rho * nu);
    let viii = t / (24.0 * rho * nu.powi(3)) * (5.0 + 3.0 * t2 + eta2 - 9.0 * t2 * eta2);
    let ix = t / (720.0 * rho * nu.powi(5)) * (61.0 + 90.0 * t2 + 45.0 * t4);
    let x = sec / nu;
    let xi = sec / (6.0 * nu.powi(3)) * (nu / rho + 2.0 * t2);
    let xii = sec / (120.0 * nu.powi(5)) * (5.0 + 28.0 * t2 + 24.0 * t4);
    let xiia = sec / (5040.0 * nu.powi(7)) * (61.0 + 662.0 * t2 + 1320.0 * t4 + 720.0 * t6);
    let de = easting_m - E0_M;
    let lat = phi - vii * de.powi(2) + viii * de.powi(4) - ix * de.powi(6);
    let lon = lambda0 + x * de - xi * de.powi(3) + xii * de.powi(5) - xiia * de.powi(7);
    (lat, lon)
}

/// OSGB36 `(φ, λ)` in radians to easting and northing in metres (OS guide Annex C, C.1).
fn transverse_mercator(phi: f64, lambda: f64) -> (f64, f64) {
    let (nu, rho, eta2) = curvature(phi);
    let (sin_phi, cos_phi, tan_phi) = (phi.sin(), phi.cos(), phi.tan());
    let (t2, t4) = (tan_phi * tan_phi, tan_phi.powi(4));
    let i = meridional_arc_m(phi) + N0_M;
    let ii = nu / 2.0 * sin_phi * cos_phi;
    let iii = nu / 24.0 * sin_phi * cos_phi.powi(3) * (5.0 - t2 + 9.0 * eta2);
    let iiia = nu / 720.0 * sin_phi * cos_phi.powi(5) * (61.0 - 58.0 * t2 + t4);
    let iv = nu * cos_phi;
    let v = nu / 6.0 * cos_phi.powi(3) * (nu / rho - t2);
    let vi = nu / 120.0 * cos_phi.powi(5) * (5.0 - 18.0 * t2 + t4 + 14.0 * eta2 - 58.0 * t2 * eta2);
    let p = lambda - LAMBDA0_DEG.to_radians();
    let northing_m = i + ii * p.powi(2) + iii * p.powi(4) + iiia * p.powi(6);
    let easting_m = E0_M + iv * p + v * p.powi(3) + vi * p.powi(5);
    (easting_m, northing_m)
}

/// Geodetic `(φ, λ)` in radians at zero ellipsoidal height to Cartesian `[x, y, z]` metres
/// on the ellipsoid with axes `a_m`, `b_m` (OS guide Annex B, B.1).
fn geodetic_to_cartesian(phi: f64, lambda: f64, a_m: f64, b_m: f64) -> [f64; 3] {
    let e2 = (a_m * a_m - b_m * b_m) / (a_m * a_m);
    let nu = a_m / (1.0 - e2 * phi.sin().powi(2)).sqrt();
    [
        nu * phi.cos() * lambda.cos(),
        nu * phi.cos() * lambda.sin(),
        (1.0 - e2) * nu * phi.sin(),
    ]
}

/// Cartesian `[x, y, z]` metres to geodetic `(φ, λ)` in radians on the ellipsoid with axes
/// `a_m`, `b_m`, iterating latitude to 1e-12 rad (OS guide Annex B, B.2).
fn cartesian_to_geodetic([x, y, z]: [f64; 3], a_m: f64, b_m: f64) -> (f64, f64) {
    let e2 = (a_m * a_m - b_m * b_m) / (a_m * a_m);
    let p = x.hypot(y);
    let mut phi = z.atan2(p * (1.0 - e2));
    for _ in 0..16 {
        let nu = a_m / (1.0 - e2 * phi.sin().powi(2)).sqrt();
        let next = (z + e2 * nu * phi.sin()).atan2(p);
        let done = (next - phi).abs() < 1e-12;
        phi = next;
        if done {
            break;
        }
    }
    (phi, y.atan2(x))
}

/// Applies a small-angle seven-parameter Helmert transform (OS guide §6.2, equation 6.2).
fn helmert([x, y, z]: [f64; 3], params: &Helmert) -> [f64; 3] {
    let scale = 1.0 + params.scale_ppm * 1e-6;
    let arcsec = (1.0_f64 / 3600.0).to_radians();
    let (rx, ry, rz) = (
        params.rx_arcsec * arcsec,
        params.ry_arcsec * arcsec,
        params.rz_arcsec * arcsec,
    );
    [
        params.tx_m + scale * x - rz * y + ry * z,
        params.ty_m + rz * x + scale * y - rx * z,
        params.tz_m - ry * x + rx * y + scale * z,
    ]
}

#[cfg(test)]
#[path = "bng_tests.rs"]
mod tests;
