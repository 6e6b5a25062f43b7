//! Static tables behind the demo data: real, public place names with approximate positions
//! (WGS84, rounded to about 50–100 m), and the invented structure hung on them.
//!
//! Everything here is either a public fact (that a place called "Filwood Broadway" exists near
//! a given point) or an invented parameter (how many synthetic incidents cluster there). No
//! real incident, person or concern is described.

use crate::domain::PlaceKind;

/// The kind of setting a cluster represents; it shapes the mix of incident categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// Stations and bus interchanges.
    Hub,
    /// Shopping streets and centres.
    Shopping,
    /// Parks and green spaces.
    Park,
    /// Residential estates and their local parades.
    Estate,
    /// Night-time economy.
    Nightlife,
}

/// How a cluster's intensity changes over the generated window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trend {
    /// Constant (apart from the seasonal and weekly rhythms every incident has).
    Steady,
    /// Near zero for all but the final 12 months, then ramping up strongly.
    Emerging,
    /// Strong in the first 12 months, declining to near zero over the next 12.
    Fading,
}

/// A spatial cluster of incidents: an isotropic Gaussian around a real place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterSpec {
    /// Public name of the area.
    pub name: &'static str,
    /// Centre longitude, degrees.
    pub lon: f64,
    /// Centre latitude, degrees.
    pub lat: f64,
    /// Standard deviation of the Gaussian, metres, in each axis.
    pub sd_m: f64,
    /// Relative share of clustered incidents (dimensionless).
    pub weight: f64,
    /// The kind of place.
    pub setting: Setting,
    /// Change over time.
    pub trend: Trend,
}

const fn c(
    name: &'static str,
    lon: f64,
    lat: f64,
    sd_m: f64,
    weight: f64,
    setting: Setting,
    trend: Trend,
) -> ClusterSpec {
    ClusterSpec {
        name,
        lon,
        lat,
        sd_m,
        weight,
        setting,
        trend,
    }
}

use Setting::{Estate, Hub, Nightlife, Park, Shopping};
use Trend::{Emerging, Fading, Steady};

/// Name of the emerging hotspot's cluster.
pub const EMERGING_NAME: &str = "Hengrove and Stockwood (emerging)";
/// Centre of the emerging hotspot (South Bristol, between Hengrove and Stockwood).
pub const EMERGING_CENTRE: (f64, f64) = (-2.5570, 51.4180);
/// Centre of the fading hotspot (between St Pauls and Stokes Croft, Central Bristol).
pub const FADING_CENTRE: (f64, f64) = (-2.5865, 51.4635);

/// The incident clusters. The five "border" clusters straddle the Bristol–South
/// Gloucestershire and Bristol–North Somerset borders, so cross-border analysis has data.
pub const CLUSTERS: &[ClusterSpec] = &[
    // Central Bristol.
    c(
        "Bristol Temple Meads",
        -2.5813,
        51.4490,
        150.0,
        3.5,
        Hub,
        Steady,
    ),
    c(
        "Bristol Bus Station",
        -2.5925,
        51.4595,
        120.0,
        2.5,
        Hub,
        Steady,
    ),
    c(
        "Broadmead and Cabot Circus",
        -2.5846,
        51.4583,
        220.0,
        5.0,
        Shopping,
        Steady,
    ),
    c("Castle Park", -2.5880, 51.4556, 150.0, 2.5, Park, Steady),
    c(
        "Stokes Croft",
        -2.5900,
        51.4640,
        200.0,
        3.5,
        Nightlife,
        Fading,
    ),
    c("St Pauls", -2.5830, 51.4630, 250.0, 3.5, Estate, Fading),
    c("Easton", -2.5660, 51.4620, 300.0, 3.5, Estate, Steady),
    c(
        "Stapleton Road",
        -2.5690,
        51.4660,
        200.0,
        2.0,
        Shopping,
        Steady,
    ),
    c(
        "Lawrence Hill",
        -2.5700,
        51.4585,
        250.0,
        2.5,
        Estate,
        Steady,
    ),
    c(
        "Clifton Triangle and Park Street",
        -2.6030,
        51.4555,
        200.0,
        2.5,
        Nightlife,
        Steady,
    ),
    c(
        "Harbourside",
        -2.5990,
        51.4500,
        250.0,
        1.5,
        Nightlife,
        Steady,
    ),
    // South Bristol.
    c(
        "East Street, Bedminster",
        -2.5960,
        51.4405,
        250.0,
        3.5,
        Shopping,
        Steady,
    ),
    c(
        "Filwood Broadway, Knowle West",
        -2.5900,
        51.4220,
        300.0,
        3.5,
        Estate,
        Steady,
    ),
    c("Hartcliffe", -2.6060, 51.4130, 350.0, 3.0, Estate, Steady),
    c("Hengrove", -2.5760, 51.4160, 250.0, 1.0, Park, Steady),
    c(
        EMERGING_NAME,
        EMERGING_CENTRE.0,
        EMERGING_CENTRE.1,
        300.0,
        5.0,
        Estate,
        Emerging,
    ),
    c(
        "Brislington",
        -2.5450,
        51.4380,
        300.0,
        1.0,
        Shopping,
        Steady,
    ),
    // North and East Bristol.
    c("Southmead", -2.5960, 51.4960, 300.0, 3.0, Estate, Steady),
    c("Lockleaze", -2.5700, 51.4880, 300.0, 2.0, Estate, Steady),
    c("Fishponds", -2.5280, 51.4810, 300.0, 1.2, Shopping, Steady),
    c(
        "Henbury and Lawrence Weston",
        -2.6400,
        51.5050,
        400.0,
        1.5,
        Estate,
        Steady,
    ),
    // South Gloucestershire.
    c(
        "Cribbs Causeway",
        -2.5940,
        51.5240,
        300.0,
        2.5,
        Shopping,
        Steady,
    ),
    c(
        "Filton Abbey Wood",
        -2.5625,
        51.5049,
        200.0,
        1.2,
        Hub,
        Steady,
    ),
    c("Bristol Parkway", -2.5420, 51.5135, 200.0, 0.8, Hub, Steady),
    c("Kingswood", -2.5060, 51.4580, 300.0, 2.5, Shopping, Steady),
    c("Hanham", -2.5130, 51.4450, 300.0, 1.2, Shopping, Steady),
    c(
        "Staple Hill",
        -2.5000,
        51.4820,
        250.0,
        0.8,
        Shopping,
        Steady,
    ),
    c("Yate", -2.4180, 51.5400, 350.0, 2.0, Shopping, Steady),
    c("Patchway", -2.5650, 51.5270, 300.0, 0.8, Estate, Steady),
    // North Somerset.
    c(
        "Weston-super-Mare town centre",
        -2.9770,
        51.3460,
        400.0,
        4.0,
        Nightlife,
        Steady,
    ),
    c(
        "Bournville, Weston-super-Mare",
        -2.9640,
        51.3350,
        300.0,
        1.5,
        Estate,
        Steady,
    ),
    c("Clevedon", -2.8560, 51.4400, 300.0, 1.2, Shopping, Steady),
    c("Portishead", -2.7700, 51.4840, 300.0, 1.2, Shopping, Steady),
    c("Nailsea", -2.7570, 51.4310, 250.0, 0.8, Shopping, Steady),
    c("Long Ashton", -2.6560, 51.4290, 350.0, 0.8, Park, Steady),
    // Straddling the borders.
    c(
        "Filton and Southmead border",
        -2.5850,
        51.5020,
        400.0,
        2.5,
        Estate,
        Steady,
    ),
    c(
        "Cribbs Causeway and Henbury border",
        -2.6050,
        51.5150,
        350.0,
        1.5,
        Shopping,
        Steady,
    ),
    c(
        "Two Mile Hill, Kingswood and St George border",
        -2.5180,
        51.4590,
        400.0,
        2.5,
        Shopping,
        Steady,
    ),
    c(
        "Hanham and Brislington border",
        -2.5200,
        51.4480,
        350.0,
        1.5,
        Park,
        Steady,
    ),
    c(
        "Long Ashton and Ashton Vale border",
        -2.6350,
        51.4350,
        400.0,
        2.5,
        Park,
        Steady,
    ),
];

/// A place of concern: a real public place, an invented concern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaceSpec {
    /// Public name.
    pub name: &'static str,
    /// Kind.
    pub kind: PlaceKind,
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
}

const fn p(name: &'static str, kind: PlaceKind, lon: f64, lat: f64) -> PlaceSpec {
    PlaceSpec {
        name,
        kind,
        lon,
        lat,
    }
}

use PlaceKind::{CarPark, Residential, SchoolGate, Shop, Takeaway, TransportHub, Underpass, Venue};

/// Places of concern (ids are assigned in this order, from 1).
pub const PLACES: &[PlaceSpec] = &[
    // Central Bristol.
    p(
        "Temple Meads station forecourt",
        TransportHub,
        -2.5813,
        51.4492,
    ),
    p("Temple Gate bus stops", TransportHub, -2.5835, 51.4500),
    p(
        "Bristol Bus Station, Marlborough Street",
        TransportHub,
        -2.5925,
        51.4597,
    ),
    p("The Horsefair, Broadmead", Shop, -2.5870, 51.4592),
    p("Cabot Circus", Shop, -2.5838, 51.4587),
    p("Union Street, Broadmead", Shop, -2.5897, 51.4573),
    p("Castle Park", PlaceKind::Park, -2.5880, 51.4556),
    p(
        "Castle Park bandstand and steps",
        PlaceKind::Park,
        -2.5900,
        51.4553,
    ),
    p("Stokes Croft", Venue, -2.5900, 51.4640),
    p(
        "St James Barton roundabout (the Bearpit)",
        Underpass,
        -2.5903,
        51.4603,
    ),
    p("Grosvenor Road, St Pauls", Residential, -2.5830, 51.4635),
    p("St Agnes Park, St Pauls", PlaceKind::Park, -2.5800, 51.4655),
    p("Portland Square", PlaceKind::Park, -2.5855, 51.4625),
    p("Brunswick Square", PlaceKind::Park, -2.5880, 51.4618),
    p("City Road, St Pauls", Shop, -2.5850, 51.4645),
    p("Ashley Road, St Pauls", Residential, -2.5800, 51.4675),
    p("Montpelier station", TransportHub, -2.5885, 51.4682),
    p(
        "Mina Road Park, St Werburghs",
        PlaceKind::Park,
        -2.5760,
        51.4700,
    ),
    p("Stapleton Road shops, Easton", Shop, -2.5690, 51.4655),
    p("Stapleton Road station", TransportHub, -2.5665, 51.4672),
    p(
        "Takeaway parade, Stapleton Road",
        Takeaway,
        -2.5700,
        51.4645,
    ),
    p("Lawrence Hill station", TransportHub, -2.5647, 51.4582),
    p(
        "Lawrence Hill roundabout underpass",
        Underpass,
        -2.5705,
        51.4578,
    ),
    p("Rawnsley Park, Easton", PlaceKind::Park, -2.5735, 51.4605),
    p(
        "Felix Road Adventure Playground, Easton",
        PlaceKind::Park,
        -2.5650,
        51.4612,
    ),
    p("Easton Leisure Centre", Venue, -2.5675, 51.4620),
    p("Barton Hill flats", Residential, -2.5680, 51.4545),
    p("Old Market Street", Shop, -2.5790, 51.4565),
    p("Cabot Circus car park", CarPark, -2.5822, 51.4597),
    p("Trenchard Street car park", CarPark, -2.5990, 51.4558),
    p("College Green", PlaceKind::Park, -2.6000, 51.4525),
    p("Millennium Square, Harbourside", Venue, -2.5990, 51.4498),
    p("The Centre promenade", Venue, -2.5968, 51.4543),
    p("Queen Square", PlaceKind::Park, -2.5935, 51.4500),
    p(
        "Redcliffe roundabout underpass",
        Underpass,
        -2.5878,
        51.4495,
    ),
    p(
        "Somerset Square flats, Redcliffe",
        Residential,
        -2.5905,
        51.4468,
    ),
    p("Clifton Triangle", Venue, -2.6050, 51.4560),
    p("Park Street", Shop, -2.6012, 51.4545),
    p("Brandon Hill", PlaceKind::Park, -2.6040, 51.4520),
    p("Haymarket bus stops", TransportHub, -2.5910, 51.4588),
    p("Temple Quay", Venue, -2.5790, 51.4512),
    p("Cumberland Basin underpass", Underpass, -2.6220, 51.4470),
    p(
        "Takeaway parade, Gloucester Road",
        Takeaway,
        -2.5925,
        51.4730,
    ),
    p("Gloucester Road, Bishopston", Shop, -2.5930, 51.4770),
    // South Bristol.
    p("East Street, Bedminster", Shop, -2.5960, 51.4405),
    p("Bedminster station", TransportHub, -2.5930, 51.4400),
    p(
        "Supermarket car park, East Street, Bedminster",
        CarPark,
        -2.5992,
        51.4412,
    ),
    p(
        "Takeaway parade, East Street, Bedminster",
        Takeaway,
        -2.5948,
        51.4410,
    ),
    p(
        "Victoria Park, Windmill Hill",
        PlaceKind::Park,
        -2.5870,
        51.4395,
    ),
    p("Greville Smyth Park", PlaceKind::Park, -2.6090, 51.4420),
    p("North Street, Southville", Shop, -2.6040, 51.4415),
    p("Malago Greenway", PlaceKind::Park, -2.5980, 51.4340),
    p("Bedminster Parade", Shop, -2.5935, 51.4425),
    p("Ashton Gate stadium surrounds", Venue, -2.6200, 51.4400),
    p("Filwood Broadway shops", Shop, -2.5900, 51.4222),
    p("Filwood Park", PlaceKind::Park, -2.5955, 51.4200),
    p(
        "Takeaway parade, Filwood Broadway",
        Takeaway,
        -2.5888,
        51.4218,
    ),
    p(
        "Inns Court green, Knowle West",
        PlaceKind::Park,
        -2.5960,
        51.4180,
    ),
    p("Wells Road shops, Knowle", Shop, -2.5780, 51.4300),
    p("Hengrove Park", PlaceKind::Park, -2.5830, 51.4165),
    p("Hengrove Promenade leisure park", Venue, -2.5760, 51.4160),
    p("Hengrove Way subway", Underpass, -2.5700, 51.4150),
    p("Hartcliffe Way underpass", Underpass, -2.6030, 51.4200),
    p("Symes Avenue shops, Hartcliffe", Shop, -2.6060, 51.4130),
    p("Dundry Slopes", PlaceKind::Park, -2.6070, 51.4085),
    p("Hareclive Road, Hartcliffe", Residential, -2.6000, 51.4120),
    p("Queens Road shops, Withywood", Shop, -2.6170, 51.4140),
    p("Church Road shops, Bishopsworth", Shop, -2.6170, 51.4200),
    p("Stockwood shopping precinct", Shop, -2.5450, 51.4168),
    p("Stockwood Open Space", PlaceKind::Park, -2.5400, 51.4185),
    p("Whitchurch Lane shops, Hengrove", Shop, -2.5780, 51.4125),
    p("Brislington Hill shops", Shop, -2.5500, 51.4330),
    p("Broomhill, Brislington", Residential, -2.5470, 51.4280),
    p(
        "Nightingale Valley, Brislington",
        PlaceKind::Park,
        -2.5480,
        51.4420,
    ),
    p("Three Lamps, Totterdown", Shop, -2.5780, 51.4420),
    p(
        "School gates, Hareclive Road area, Hartcliffe",
        SchoolGate,
        -2.6020,
        51.4105,
    ),
    p(
        "School gates, Filwood area, Knowle West",
        SchoolGate,
        -2.5920,
        51.4240,
    ),
    p(
        "School gates, Whitchurch Park area",
        SchoolGate,
        -2.5640,
        51.4170,
    ),
    p("Stockwood Road bus stops", TransportHub, -2.5500, 51.4190),
    p("Hengrove Park play area", PlaceKind::Park, -2.5800, 51.4180),
    // North and East Bristol.
    p("Greystoke Avenue shops, Southmead", Shop, -2.5970, 51.4970),
    p(
        "Southmead Hospital bus interchange",
        TransportHub,
        -2.5920,
        51.4950,
    ),
    p("Doncaster Road shops, Southmead", Shop, -2.6010, 51.4990),
    p("Badock's Wood", PlaceKind::Park, -2.6010, 51.4930),
    p("Gainsborough Square, Lockleaze", Shop, -2.5700, 51.4880),
    p("Stoke Park", PlaceKind::Park, -2.5620, 51.4880),
    p("Horfield Common", PlaceKind::Park, -2.5920, 51.4830),
    p("Filton Avenue shops, Horfield", Shop, -2.5800, 51.4850),
    p("Crow Lane shops, Henbury", Shop, -2.6280, 51.5060),
    p("Ridingleaze shops, Lawrence Weston", Shop, -2.6500, 51.5040),
    p("Blaise Castle estate", PlaceKind::Park, -2.6400, 51.4990),
    p("Eastville Park", PlaceKind::Park, -2.5580, 51.4780),
    p("Eastgate retail park", Shop, -2.5620, 51.4740),
    p("Fishponds Road shops", Shop, -2.5290, 51.4810),
    p("Oldbury Court estate", PlaceKind::Park, -2.5300, 51.4900),
    p(
        "School gates, Gainsborough Square area, Lockleaze",
        SchoolGate,
        -2.5720,
        51.4870,
    ),
    p(
        "Takeaway parade, Southmead Road",
        Takeaway,
        -2.5950,
        51.4940,
    ),
    p("St George Park", PlaceKind::Park, -2.5430, 51.4610),
    p("Church Road, Redfield", Shop, -2.5540, 51.4600),
    // South Gloucestershire.
    p(
        "Cribbs Causeway bus station",
        TransportHub,
        -2.5940,
        51.5240,
    ),
    p(
        "The Mall car park, Cribbs Causeway",
        CarPark,
        -2.5965,
        51.5250,
    ),
    p("Filton Abbey Wood station", TransportHub, -2.5625, 51.5049),
    p(
        "Gloucester Road North shops, Filton",
        Shop,
        -2.5760,
        51.5040,
    ),
    p("Takeaway parade, Filton", Takeaway, -2.5770, 51.5020),
    p("Bristol Parkway station", TransportHub, -2.5420, 51.5135),
    p("Willow Brook Centre, Bradley Stoke", Shop, -2.5480, 51.5300),
    p("Regent Street, Kingswood", Shop, -2.5060, 51.4580),
    p(
        "Kings Chase shopping centre, Kingswood",
        Shop,
        -2.5045,
        51.4570,
    ),
    p(
        "Takeaway parade, Two Mile Hill Road",
        Takeaway,
        -2.5180,
        51.4590,
    ),
    p("Hanham High Street", Shop, -2.5130, 51.4450),
    p("Hanham Common", PlaceKind::Park, -2.5110, 51.4430),
    p("Staple Hill High Street", Shop, -2.5000, 51.4820),
    p("Yate Shopping Centre", Shop, -2.4180, 51.5400),
    p("Yate bus interchange", TransportHub, -2.4170, 51.5392),
    p("Yate station", TransportHub, -2.4320, 51.5410),
    p("Kingsgate Park, Yate", PlaceKind::Park, -2.4100, 51.5375),
    p("Coniston Road shops, Patchway", Shop, -2.5650, 51.5270),
    p(
        "School gates, Kings Chase area, Kingswood",
        SchoolGate,
        -2.5020,
        51.4600,
    ),
    // North Somerset.
    p("Weston-super-Mare High Street", Shop, -2.9770, 51.3460),
    p("Weston-super-Mare station", TransportHub, -2.9720, 51.3440),
    p(
        "Grove Park, Weston-super-Mare",
        PlaceKind::Park,
        -2.9780,
        51.3490,
    ),
    p(
        "Grand Pier seafront, Weston-super-Mare",
        Venue,
        -2.9800,
        51.3470,
    ),
    p(
        "Sovereign Centre, Weston-super-Mare",
        Shop,
        -2.9790,
        51.3450,
    ),
    p(
        "Alexandra Parade bus stops, Weston-super-Mare",
        TransportHub,
        -2.9760,
        51.3455,
    ),
    p(
        "Takeaway parade, Regent Street, Weston-super-Mare",
        Takeaway,
        -2.9765,
        51.3470,
    ),
    p(
        "Bournville estate, Weston-super-Mare",
        Residential,
        -2.9640,
        51.3350,
    ),
    p("The Triangle, Clevedon", Shop, -2.8550, 51.4410),
    p(
        "Salthouse Fields, Clevedon",
        PlaceKind::Park,
        -2.8640,
        51.4400,
    ),
    p("Portishead High Street", Shop, -2.7700, 51.4840),
    p(
        "Lake Grounds, Portishead",
        PlaceKind::Park,
        -2.7650,
        51.4880,
    ),
    p(
        "Crown Glass Shopping Centre, Nailsea",
        Shop,
        -2.7570,
        51.4310,
    ),
    p(
        "Nailsea and Backwell station",
        TransportHub,
        -2.7500,
        51.4190,
    ),
    p("Long Ashton Park and Ride", CarPark, -2.6350, 51.4350),
    p("Long Ashton village centre", Shop, -2.6560, 51.4290),
    p("Ashton Court estate", PlaceKind::Park, -2.6370, 51.4440),
];

/// A named point used as a bus-route waypoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waypoint {
    /// Public name.
    pub name: &'static str,
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
}

const fn w(name: &'static str, lon: f64, lat: f64) -> Waypoint {
    Waypoint { name, lon, lat }
}

/// Route waypoints (town and district centres, stations).
pub const WAYPOINTS: &[Waypoint] = &[
    w("The Centre", -2.5965, 51.4545),
    w("Temple Meads", -2.5813, 51.4490),
    w("Bus Station", -2.5925, 51.4595),
    w("Broadmead", -2.5846, 51.4583),
    w("Old Market", -2.5790, 51.4565),
    w("Stokes Croft", -2.5900, 51.4640),
    w("St Pauls", -2.5830, 51.4630),
    w("Gloucester Road", -2.5930, 51.4770),
    w("Horfield", -2.5920, 51.4850),
    w("Southmead", -2.5960, 51.4960),
    w("Henbury", -2.6300, 51.5060),
    w("Lawrence Weston", -2.6500, 51.5040),
    w("Cribbs Causeway", -2.5940, 51.5240),
    w("Filton", -2.5760, 51.5040),
    w("Filton Abbey Wood", -2.5625, 51.5049),
    w("Bristol Parkway", -2.5420, 51.5135),
    w("Bradley Stoke", -2.5480, 51.5300),
    w("Patchway", -2.5650, 51.5270),
    w("Almondsbury", -2.5710, 51.5520),
    w("Thornbury", -2.5240, 51.6090),
    w("Lockleaze", -2.5700, 51.4880),
    w("Eastville", -2.5610, 51.4760),
    w("Fishponds", -2.5280, 51.4810),
    w("Staple Hill", -2.5000, 51.4820),
    w("Downend", -2.4960, 51.4930),
    w("Emersons Green", -2.4850, 51.5030),
    w("Winterbourne", -2.5070, 51.5210),
    w("Frampton Cotterell", -2.4820, 51.5400),
    w("Yate", -2.4180, 51.5400),
    w("Chipping Sodbury", -2.3940, 51.5380),
    w("Kingswood", -2.5060, 51.4580),
    w("Warmley", -2.4730, 51.4570),
    w("Oldland Common", -2.4640, 51.4400),
    w("Hanham", -2.5130, 51.4450),
    w("Longwell Green", -2.4920, 51.4440),
    w("St George", -2.5430, 51.4610),
    w("Lawrence Hill", -2.5700, 51.4585),
    w("Easton", -2.5660, 51.4620),
    w("Redland", -2.6050, 51.4700),
    w("Henleaze", -2.6050, 51.4830),
    w("Westbury-on-Trym", -2.6170, 51.4920),
    w("Sea Mills", -2.6530, 51.4790),
    w("Shirehampton", -2.6770, 51.4880),
    w("Avonmouth", -2.6970, 51.5010),
    w("Clifton", -2.6050, 51.4560),
    w("Hotwells", -2.6170, 51.4500),
    w("Cumberland Basin", -2.6220, 51.4470),
    w("Ashton Gate", -2.6200, 51.4400),
    w("Long Ashton", -2.6560, 51.4290),
    w("Long Ashton Park and Ride", -2.6350, 51.4350),
    w("Bedminster", -2.5960, 51.4405),
    w("Bedminster Down", -2.6130, 51.4280),
    w("Bishopsworth", -2.6170, 51.4200),
    w("Withywood", -2.6170, 51.4140),
    w("Hartcliffe", -2.6060, 51.4130),
    w("Knowle", -2.5780, 51.4300),
    w("Knowle West", -2.5900, 51.4220),
    w("Hengrove", -2.5760, 51.4160),
    w("Stockwood", -2.5450, 51.4165),
    w("Brislington", -2.5450, 51.4380),
    w("Arnos Vale", -2.5670, 51.4400),
    w("Totterdown", -2.5760, 51.4390),
    w("Flax Bourton", -2.7070, 51.4240),
    w("Backwell", -2.7350, 51.4120),
    w("Nailsea", -2.7570, 51.4310),
    w("Clevedon", -2.8560, 51.4400),
    w("Portishead", -2.7700, 51.4840),
    w("Pill", -2.6870, 51.4800),
    w("Weston-super-Mare", -2.9770, 51.3460),
    w("Worle", -2.9300, 51.3590),
    w("Congresbury", -2.8100, 51.3710),
    w("Yatton", -2.8280, 51.3880),
];

/// A synthetic bus route through named waypoints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteSpec {
    /// Short name.
    pub short_name: &'static str,
    /// Waypoint names in order (at least two).
    pub via: &'static [&'static str],
}

/// The twenty synthetic bus routes. Corridors follow real roads in outline; numbers and
/// patterns are invented.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        short_name: "S1",
        via: &[
            "Cribbs Causeway",
            "Southmead",
            "Horfield",
            "Gloucester Road",
            "Stokes Croft",
            "Bus Station",
            "The Centre",
            "Bedminster",
            "Knowle West",
            "Hartcliffe",
        ],
    },
    RouteSpec {
        short_name: "S2",
        via: &[
            "Cribbs Causeway",
            "Henbury",
            "Westbury-on-Trym",
            "Henleaze",
            "Redland",
            "Clifton",
            "The Centre",
            "Temple Meads",
            "Totterdown",
            "Knowle",
            "Hengrove",
            "Stockwood",
        ],
    },
    RouteSpec {
        short_name: "SX1",
        via: &[
            "Weston-super-Mare",
            "Worle",
            "Congresbury",
            "Backwell",
            "Flax Bourton",
            "Long Ashton",
            "Ashton Gate",
            "Bedminster",
            "Temple Meads",
        ],
    },
    RouteSpec {
        short_name: "SY2",
        via: &[
            "Yate",
            "Emersons Green",
            "Downend",
            "Staple Hill",
            "Kingswood",
            "St George",
            "Lawrence Hill",
            "Old Market",
            "Broadmead",
        ],
    },
    RouteSpec {
        short_name: "SX4",
        via: &[
            "Portishead",
            "Pill",
            "Cumberland Basin",
            "Hotwells",
            "The Centre",
            "Bus Station",
        ],
    },
    RouteSpec {
        short_name: "SX7",
        via: &[
            "Clevedon",
            "Nailsea",
            "Flax Bourton",
            "Long Ashton",
            "Ashton Gate",
            "Bedminster",
            "Temple Meads",
        ],
    },
    RouteSpec {
        short_name: "S72",
        via: &[
            "Temple Meads",
            "Old Market",
            "St Pauls",
            "Eastville",
            "Lockleaze",
            "Filton Abbey Wood",
            "Bristol Parkway",
        ],
    },
    RouteSpec {
        short_name: "S73",
        via: &[
            "Bus Station",
            "Stokes Croft",
            "Gloucester Road",
            "Horfield",
            "Filton",
            "Patchway",
            "Bradley Stoke",
        ],
    },
    RouteSpec {
        short_name: "S48",
        via: &[
            "Broadmead",
            "Easton",
            "Fishponds",
            "Staple Hill",
            "Downend",
            "Emersons Green",
        ],
    },
    RouteSpec {
        short_name: "S43",
        via: &[
            "Broadmead",
            "Old Market",
            "Lawrence Hill",
            "St George",
            "Kingswood",
            "Warmley",
            "Oldland Common",
        ],
    },
    RouteSpec {
        short_name: "S36",
        via: &[
            "Temple Meads",
            "Totterdown",
            "Arnos Vale",
            "Brislington",
            "Stockwood",
        ],
    },
    RouteSpec {
        short_name: "S44",
        via: &[
            "Bus Station",
            "Old Market",
            "Lawrence Hill",
            "St George",
            "Hanham",
            "Longwell Green",
        ],
    },
    RouteSpec {
        short_name: "S75",
        via: &[
            "Hartcliffe",
            "Withywood",
            "Bishopsworth",
            "Bedminster Down",
            "Bedminster",
            "The Centre",
            "Bus Station",
        ],
    },
    RouteSpec {
        short_name: "S76",
        via: &[
            "Hengrove",
            "Knowle",
            "Totterdown",
            "Temple Meads",
            "Broadmead",
            "St Pauls",
            "Easton",
        ],
    },
    RouteSpec {
        short_name: "S3",
        via: &[
            "Avonmouth",
            "Shirehampton",
            "Sea Mills",
            "Westbury-on-Trym",
            "Redland",
            "Clifton",
            "The Centre",
        ],
    },
    RouteSpec {
        short_name: "S4",
        via: &[
            "Lawrence Weston",
            "Henbury",
            "Southmead",
            "Horfield",
            "Lockleaze",
            "Eastville",
            "Fishponds",
            "Kingswood",
        ],
    },
    RouteSpec {
        short_name: "ST1",
        via: &[
            "Thornbury",
            "Almondsbury",
            "Bradley Stoke",
            "Bristol Parkway",
            "Filton Abbey Wood",
            "Lockleaze",
            "Eastville",
            "Broadmead",
        ],
    },
    RouteSpec {
        short_name: "SW5",
        via: &[
            "Weston-super-Mare",
            "Worle",
            "Yatton",
            "Clevedon",
            "Portishead",
        ],
    },
    RouteSpec {
        short_name: "SY6",
        via: &[
            "Chipping Sodbury",
            "Yate",
            "Frampton Cotterell",
            "Winterbourne",
            "Bradley Stoke",
            "Bristol Parkway",
        ],
    },
    RouteSpec {
        short_name: "SM1",
        via: &[
            "Cribbs Causeway",
            "Patchway",
            "Filton Abbey Wood",
            "Eastville",
            "Broadmead",
            "The Centre",
            "Bedminster",
            "Knowle West",
            "Hengrove",
        ],
    },
];

/// Wards treated as more deprived (higher youth population, more background incidents,
/// targeted services). A synthetic approximation informed by public deprivation rankings.
pub const DEPRIVED_WARDS: &[&str] = &[
    // Bristol.
    "Ashley",
    "Avonmouth",
    "Bedminster",
    "Bishopsworth",
    "Eastville",
    "Easton",
    "Filwood",
    "Hartcliffe",
    "Henbury",
    "Hengrove",
    "Hillfields",
    "Kingsweston",
    "Knowle",
    "Lawrence Hill",
    "Lockleaze",
    "Southmead",
    "Stockwood",
    "Whitchurch Park",
    "Windmill Hill",
    // North Somerset.
    "Weston-super-Mare Central",
    "Weston-super-Mare East",
    "Weston-super-Mare South",
    // South Gloucestershire.
    "Filton",
    "Kings Chase",
    "Parkwall",
    "Patchway",
    "Staple Hill",
    "Woodstock",
    "Yate Central",
];

/// True when `ward_name` is in [`DEPRIVED_WARDS`].
pub fn is_deprived(ward_name: &str) -> bool {
    DEPRIVED_WARDS.contains(&ward_name)
}

/// The waypoint called `name`.
pub fn waypoint(name: &str) -> Option<&'static Waypoint> {
    WAYPOINTS.iter().find(|w| w.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_waypoint_is_in_the_gazetteer() {
        assert_eq!(ROUTES.len(), 20);
        for r in ROUTES {
            assert!(r.via.len() >= 2, "{}", r.short_name);
            for name in r.via {
                assert!(waypoint(name).is_some(), "{name} on {}", r.short_name);
            }
        }
    }

    #[test]
    fn place_names_are_unique_and_at_least_120() {
        let mut names: Vec<&str> = PLACES.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PLACES.len());
        assert!(PLACES.len() >= 120);
    }
}
