//! Tests for the agency-file parsers, against the synthetic fixtures in
//! `tests/fixtures/agency/`.

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::domain::IsaRef;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/fixtures/agency/", $name)).as_slice()
    };
}

fn src(name: &str) -> SourceFile {
    SourceFile {
        name: name.to_owned(),
        sha256: "0".repeat(64),
        agency: Agency::new("example-police").unwrap(),
        isa_ref: Some(IsaRef::new("ISA-2024-007").unwrap()),
        progress: crate::ingest::report::Progress::default(),
    }
}

fn rejections<T>(p: &Parsed<T>) -> Vec<(String, u64, String, String)> {
    p.rejections
        .iter()
        .map(|r| (r.file.clone(), r.line, r.field.clone(), r.reason.clone()))
        .collect()
}

fn all_accepted<T: std::fmt::Debug>(p: &Parsed<T>, rows: u64) {
    assert_eq!(p.rejections, vec![], "no rejections");
    assert_eq!(p.read, rows);
    assert_eq!(p.records.len() as u64, rows);
    assert_eq!(p.lines.len(), p.records.len());
}

#[test]
fn the_format_follows_the_file_extension() {
    assert_eq!(format_for(Path::new("a/b.geojson")), AgencyFormat::GeoJson);
    assert_eq!(format_for(Path::new("b.JSON")), AgencyFormat::GeoJson);
    assert_eq!(format_for(Path::new("b.csv")), AgencyFormat::Csv);
    assert_eq!(format_for(Path::new("noext")), AgencyFormat::Csv);
}

#[test]
fn valid_incidents_parse_with_stable_ids_and_the_right_fields() {
    let s = src("incidents.csv");
    let p = parse_incidents(fixture!("incidents.csv"), &s, AgencyFormat::Csv);
    all_accepted(&p, 3);
    assert_eq!(p.lines, vec![2, 3, 4]);
    let again = parse_incidents(fixture!("incidents.csv"), &s, AgencyFormat::Csv);
    assert_eq!(p, again, "parsing twice gives the same records and ids");
    let first = &p.records[0];
    assert_eq!(first.id, incident_id(&s.agency, "INC-001"));
    assert_eq!(first.category, Category::KnifeCrime);
    assert_eq!(first.time.minute_of_day, Some(21 * 60 + 40));
    assert_eq!(first.time.precision, TimePrecision::Exact);
    assert!(first.involves_child);
    assert_eq!(first.provenance.agency, s.agency);
    assert_eq!(first.provenance.isa_ref, s.isa_ref);
    assert_eq!(
        first.provenance.grade.map(|g| g.to_string()).as_deref(),
        Some("2BP")
    );
    let second = &p.records[1];
    assert_eq!(second.category, Category::Drugs, "labels are accepted");
    assert_eq!(second.time.precision, TimePrecision::Month);
    assert_eq!(second.time.day.to_string(), "2024-02-01");
    assert_eq!(
        second.location.map(|l| l.precision),
        Some(LocationPrecision::SnapPoint)
    );
    assert_eq!(p.records[2].location, None);
    assert_eq!(p.records[2].time.precision, TimePrecision::Day);
}

#[test]
fn csv_and_geojson_incidents_give_identical_records() {
    let csv = parse_incidents(fixture!("incidents.csv"), &src("i.csv"), AgencyFormat::Csv);
    let geo = parse_incidents(
        fixture!("incidents.geojson"),
        &src("i.geojson"),
        AgencyFormat::GeoJson,
    );
    all_accepted(&geo, 3);
    assert_eq!(
        geo.lines,
        vec![1, 2, 3],
        "GeoJSON records are numbered by feature"
    );
    assert_eq!(csv.records, geo.records);
}

#[test]
fn valid_places_parse_the_same_from_csv_and_geojson() {
    let s = src("places.csv");
    let p = parse_places(fixture!("places.csv"), &s, AgencyFormat::Csv);
    all_accepted(&p, 2);
    assert_eq!(
        p,
        parse_places(fixture!("places.csv"), &s, AgencyFormat::Csv)
    );
    assert_eq!(p.records[0].id, place_id(&s.agency, "PL-01"));
    assert!(p.records[0].id.get() < 1 << 31);
    assert_eq!(
        p.records[0].guardians,
        vec![
            Guardian {
                role: "park warden".to_owned(),
                organisation: "Example City Council Parks".to_owned()
            },
            Guardian {
                role: "community safety officer".to_owned(),
                organisation: "Example City Council".to_owned()
            },
        ]
    );
    assert_eq!(p.records[1].kind, PlaceKind::TransportHub);
    let geo = parse_places(fixture!("places.geojson"), &s, AgencyFormat::GeoJson);
    all_accepted(&geo, 2);
    assert_eq!(p.records, geo.records);
}

#[test]
fn valid_services_parse_with_stable_ids() {
    let s = src("services.csv");
    let p = parse_services(fixture!("services.csv"), &s, AgencyFormat::Csv);
    all_accepted(&p, 2);
    assert_eq!(
        p,
        parse_services(fixture!("services.csv"), &s, AgencyFormat::Csv)
    );
    assert_eq!(p.records[0].id, service_id(&s.agency, "SV-1"));
    assert!(p.records[0].id.get() < 1 << 31);
    assert_eq!(p.records[1].tier, ServiceTier::Specialist);
}

#[test]
fn valid_people_keep_their_pseudonymous_refs() {
    let s = src("people.csv");
    let p = parse_people(fixture!("people.csv"), &s, AgencyFormat::Csv);
    all_accepted(&p, 2);
    assert_eq!(
        p,
        parse_people(fixture!("people.csv"), &s, AgencyFormat::Csv)
    );
    assert_eq!(p.records[0].id.as_str(), "P0a1b2c3d");
    assert_eq!(p.records[0].birth_year, 2008);
    assert_eq!(
        p.records[0].categories,
        vec![
            SubjectCategory::Victim,
            SubjectCategory::ChildAtRiskOfExploitation
        ]
    );
    assert_eq!(p.records[0].source, s.agency);
}

#[test]
fn valid_links_resolve_agency_refs_to_the_same_ids_as_their_records() {
    let s = src("links.csv");
    let p = parse_links(fixture!("links.csv"), &s, AgencyFormat::Csv);
    all_accepted(&p, 3);
    assert_eq!(p, parse_links(fixture!("links.csv"), &s, AgencyFormat::Csv));
    assert_eq!(p.records[0].id, link_id(&s.agency, "LK-1"));
    assert_eq!(
        p.records[1].to,
        LinkTarget::Place(place_id(&s.agency, "PL-01"))
    );
    assert_eq!(
        p.records[2].to,
        LinkTarget::Incident(incident_id(&s.agency, "INC-001"))
    );
}

#[test]
fn gang_member_is_refused_as_a_subject_category() {
    let p = parse_people(
        fixture!("people_gang_member.csv"),
        &src("people_gang_member.csv"),
        AgencyFormat::Csv,
    );
    assert_eq!(p.read, 2);
    assert_eq!(p.records.len(), 1);
    assert_eq!(
        rejections(&p),
        vec![(
            "people_gang_member.csv".to_owned(),
            3,
            "categories".to_owned(),
            "\"gang member\" is not a subject category: association is not a category \
             (safeguards.md S1)"
                .to_owned()
        )]
    );
}

#[test]
fn a_risk_score_column_rejects_every_row_naming_it() {
    let p = parse_people(
        fixture!("people_risk_score.csv"),
        &src("people_risk_score.csv"),
        AgencyFormat::Csv,
    );
    assert_eq!(p.read, 2);
    assert!(p.records.is_empty());
    let got = rejections(&p);
    assert_eq!(got.len(), 2);
    for (r, line) in got.iter().zip([2, 3]) {
        assert_eq!(r.0, "people_risk_score.csv");
        assert_eq!(r.1, line);
        assert_eq!(r.2, "risk_score");
        assert!(r.3.contains("safeguards.md S5"), "{}", r.3);
    }
}

#[test]
fn score_like_properties_refuse_a_whole_geojson_file() {
    let text = br#"{"type":"FeatureCollection","features":[
        {"type":"Feature","geometry":{"type":"Point","coordinates":[-2.59,51.45]},
         "properties":{"ref":"PL-1","kind":"park","name":"A","review_due":"2024-01-01"}},
        {"type":"Feature","geometry":{"type":"Point","coordinates":[-2.59,51.45]},
         "properties":{"ref":"PL-2","kind":"park","name":"B","review_due":"2024-01-01","RAG":"red"}}
    ]}"#;
    let p = parse_places(text, &src("p.geojson"), AgencyFormat::GeoJson);
    assert_eq!(p.read, 2);
    assert!(p.records.is_empty());
    assert!(p.rejections.iter().all(|r| r.field == "RAG"));
}

#[test]
fn score_like_and_personal_column_names_are_recognised() {
    for name in [
        "risk_score",
        "Rank",
        "harm-rating",
        "risk level",
        "RAG_status",
        "rag",
    ] {
        assert!(is_score_like(name), "{name}");
    }
    for name in [
        "ref",
        "birth_year",
        "categories",
        "review_due",
        "storage",
        "grade",
    ] {
        assert!(!is_score_like(name), "{name}");
    }
    for name in [
        "name",
        "Surname",
        "first_name",
        "address_line_1",
        "DOB",
        "date_of_birth",
    ] {
        assert!(is_personal_identifier(name), "{name}");
    }
    let p = parse_people(
        b"ref,birth_year,categories,review_due,Surname\nP0a1b2c3d,2008,victim,2024-06-30,X\n",
        &src("n.csv"),
        AgencyFormat::Csv,
    );
    assert_eq!(p.rejections.len(), 1);
    assert_eq!(p.rejections[0].field, "Surname");
}

#[test]
fn a_bad_date_and_a_half_coordinate_pair_are_rejected_by_line_and_field() {
    let p = parse_incidents(
        fixture!("incidents_bad.csv"),
        &src("incidents_bad.csv"),
        AgencyFormat::Csv,
    );
    assert_eq!(p.read, 3);
    assert_eq!(p.lines, vec![2]);
    assert_eq!(
        rejections(&p),
        vec![
            (
                "incidents_bad.csv".to_owned(),
                3,
                "date".to_owned(),
                "2024-02 has no day 30".to_owned()
            ),
            (
                "incidents_bad.csv".to_owned(),
                4,
                "lat".to_owned(),
                "empty while lon is set".to_owned()
            ),
        ]
    );
}

#[test]
fn a_link_without_a_grade_is_rejected() {
    let p = parse_links(
        fixture!("links_missing_grade.csv"),
        &src("links_missing_grade.csv"),
        AgencyFormat::Csv,
    );
    assert_eq!(p.read, 2);
    assert_eq!(p.records.len(), 1);
    assert_eq!(
        rejections(&p),
        vec![(
            "links_missing_grade.csv".to_owned(),
            3,
            "grade".to_owned(),
            "empty: a link needs a 3x5x2 grade like 1AP (safeguards.md S3)".to_owned()
        )]
    );
}

#[test]
fn non_point_geometry_is_rejected_naming_geometry() {
    let text = br#"{"type":"FeatureCollection","features":[
        {"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]},
         "properties":{"ref":"S","name":"n","tier":"universal","kind":"k","provider":"p"}}
    ]}"#;
    let p = parse_services(text, &src("s.geojson"), AgencyFormat::GeoJson);
    assert_eq!(rejections(&p)[0].1, 1);
    assert_eq!(rejections(&p)[0].2, "geometry");
    assert!(rejections(&p)[0].3.contains("LineString"));
}

#[test]
fn a_file_that_is_not_a_feature_collection_is_one_rejection() {
    let p = parse_people(
        b"{\"type\":\"Point\"}",
        &src("x.json"),
        AgencyFormat::GeoJson,
    );
    assert_eq!(p.read, 1);
    assert_eq!(p.rejections[0].field, "(file)");
}

#[test]
fn a_missing_required_column_rejects_every_row() {
    let p = parse_links(
        b"ref,kind,from,to_type,to,categories,review_due\nLK,peer,P0a1b2c3d,person,P0a1b2c3e,victim,2024-01-01\n",
        &src("l.csv"),
        AgencyFormat::Csv,
    );
    assert_eq!(rejections(&p)[0].2, "grade");
}

fn check<T>(p: &Parsed<T>) {
    assert_eq!(p.read, (p.records.len() + p.rejections.len()) as u64);
    assert_eq!(p.lines.len(), p.records.len());
}

fn all_parsers(bytes: &[u8], format: AgencyFormat) {
    let s = src("fuzz");
    check(&parse_incidents(bytes, &s, format));
    check(&parse_places(bytes, &s, format));
    check(&parse_services(bytes, &s, format));
    check(&parse_people(bytes, &s, format));
    check(&parse_links(bytes, &s, format));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_every_row_is_accounted_for(
        bytes in proptest::collection::vec(any::<u8>(), 0..400)
    ) {
        all_parsers(&bytes, AgencyFormat::Csv);
        all_parsers(&bytes, AgencyFormat::GeoJson);
    }

    #[test]
    fn mutated_fixtures_never_panic_and_every_row_is_accounted_for(
        pick in 0usize..4,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let base: [&[u8]; 4] = [
            fixture!("incidents.csv"),
            fixture!("links.csv"),
            fixture!("incidents.geojson"),
            fixture!("places.geojson"),
        ];
        let mut bytes = base[pick].to_vec();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        all_parsers(&bytes, AgencyFormat::Csv);
        all_parsers(&bytes, AgencyFormat::GeoJson);
    }
}
