//! Controllers and information sharing agreements (safeguards.md S20; issue 12, point 7).
//!
//! Every person and link records its controller (the supplying organisation, `source`) and
//! the agreement it arrived under (`isa_ref`). A person-level read of another controller's
//! data is allowed only through an unexpired agreement flow from that controller to the
//! caller's organisation that covers the caller's purpose; an import of people or links for a
//! controller other than the deployment's own needs `--isa-ref` naming an agreement with a
//! flow from that controller. Aggregate layers are not affected.
//!
//! Agreements are configuration (`geodata/sharing_agreements.json`), loaded and validated at
//! start: every organisation has a kind, every flow's data class is the kind of data its
//! sending organisation holds, and the Police, Crime, Sentencing and Courts Act 2022 s.16
//! gateway is refused for health and social-care data (S20).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::{Day, IsaRef, PurposeCode};

/// The file name of the agreements inside the geodata directory.
pub const AGREEMENTS_FILE_NAME: &str = "sharing_agreements.json";

/// The PCSC Act 2022 s.16 gateway, never lawful for health or social-care data.
pub const PCSC_S16: &str = "pcsc_act_2022_s16";

/// The gateways an agreement flow may name.
pub const GATEWAYS: &[&str] = &[
    "children_act_1989_s17",
    "children_act_1989_s47",
    "children_act_2004_s11",
    "crime_and_disorder_act_1998_s115",
    "dpa_2018_s35_law_enforcement",
    PCSC_S16,
];

/// The class of data an organisation holds, which decides the gateways open to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataClass {
    /// Police intelligence and records.
    PoliceIntelligence,
    /// Children's social care records.
    SocialCare,
    /// Health records.
    Health,
    /// School and education records.
    Education,
    /// Youth service records.
    YouthServices,
    /// Community-safety partnership records.
    CommunitySafety,
}

impl DataClass {
    /// The `snake_case` code.
    pub fn code(self) -> &'static str {
        match self {
            Self::PoliceIntelligence => "police_intelligence",
            Self::SocialCare => "social_care",
            Self::Health => "health",
            Self::Education => "education",
            Self::YouthServices => "youth_services",
            Self::CommunitySafety => "community_safety",
        }
    }
}

impl fmt::Display for DataClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An organisation of the partnership: a controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// Its code: the `--agency` of its imports and the `org` of its users.
    pub code: String,
    /// The class of data it holds.
    pub data_class: DataClass,
    /// Its name, for people.
    #[serde(default)]
    pub name: String,
}

/// One permitted flow of person-level data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// The controller the data comes from.
    pub from: String,
    /// The organisations it may go to.
    pub to: Vec<String>,
    /// The class of data (must be the sending organisation's).
    pub data_class: DataClass,
    /// The purposes it may be used for.
    pub purposes: Vec<PurposeCode>,
    /// The lawful gateway ([`GATEWAYS`]).
    pub gateway: String,
}

/// An information sharing agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// Its reference.
    pub isa_ref: IsaRef,
    /// Its title.
    #[serde(default)]
    pub title: String,
    /// The organisations that signed it.
    pub parties: Vec<String>,
    /// The last day it is in force.
    pub expires: Day,
    /// The flows it permits.
    pub flows: Vec<Flow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementsFile {
    organisations: Vec<Organisation>,
    agreements: Vec<Agreement>,
}

/// Errors loading the agreements.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SharingError {
    /// The file could not be read.
    #[error("cannot read sharing agreements {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("{path} line {line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An agreement breaks a rule.
    #[error("{path}: agreement {isa_ref}, field {field}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The agreement (or `-` for the organisation list).
        isa_ref: String,
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The agreements in force, by reference, with the organisations they name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agreements {
    organisations: BTreeMap<String, Organisation>,
    agreements: BTreeMap<IsaRef, Agreement>,
}

/// Why a flow of data is permitted: the agreement and its gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit<'a> {
    /// The caller's own organisation controls the data.
    OwnData,
    /// An agreement flow covers it.
    Agreement(&'a Agreement, &'a Flow),
}

impl Agreements {
    /// Loads and validates `path`.
    ///
    /// # Errors
    ///
    /// [`SharingError`] naming the file, the agreement and the field.
    pub fn load(path: &Path) -> Result<Self, SharingError> {
        let text = std::fs::read_to_string(path).map_err(|source| SharingError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses and validates agreements from `text` (named `path` in errors).
    ///
    /// # Errors
    ///
    /// [`SharingError`] naming the file, the agreement and the field.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SharingError> {
        let file: AgreementsFile = serde_json::from_str(text).map_err(|e| SharingError::Parse {
            path: path.to_owned(),
            line: e.line(),
            message: e.to_string(),
        })?;
        let invalid = |isa_ref: &str, field: &'static str, message: String| SharingError::Invalid {
            path: path.to_owned(),
            isa_ref: isa_ref.to_owned(),
            field,
            message,
        };
        let mut organisations = BTreeMap::new();
        for o in file.organisations {
            if organisations.contains_key(&o.code) {
                return Err(invalid(
                    "-",
                    "organisations",
                    format!("{} is listed twice", o.code),
                ));
            }
            organisations.insert(o.code.clone(), o);
        }
        let mut agreements = BTreeMap::new();
        for a in file.agreements {
            let id = a.isa_ref.to_string();
            if agreements.contains_key(&a.isa_ref) {
                return Err(invalid(&id, "isa_ref", "listed twice".to_owned()));
            }
            for p in &a.parties {
                if !organisations.contains_key(p) {
                    return Err(invalid(
                        &id,
                        "parties",
                        format!("{p} is not a listed organisation"),
                    ));
                }
            }
            for f in &a.flows {
                for org in std::iter::once(&f.from).chain(&f.to) {
                    if !a.parties.contains(org) {
                        return Err(invalid(
                            &id,
                            "flows",
                            format!("{org} is not a party to the agreement"),
                        ));
                    }
                }
                let held = organisations
                    .get(&f.from)
                    .map(|o| o.data_class)
                    .ok_or_else(|| invalid(&id, "flows.from", format!("{} is unknown", f.from)))?;
                if f.data_class != held {
                    return Err(invalid(
                        &id,
                        "flows.data_class",
                        format!("{} holds {held} data, not {}", f.from, f.data_class),
                    ));
                }
                if !GATEWAYS.contains(&f.gateway.as_str()) {
                    return Err(invalid(
                        &id,
                        "flows.gateway",
                        format!(
                            "{:?} is not a known gateway ({})",
                            f.gateway,
                            GATEWAYS.join(", ")
                        ),
                    ));
                }
                if f.gateway == PCSC_S16
                    && matches!(f.data_class, DataClass::Health | DataClass::SocialCare)
                {
                    return Err(invalid(
                        &id,
                        "flows.gateway",
                        format!(
                            "the PCSC Act 2022 s.16 gateway does not authorise disclosure of {} \
                             data (safeguards.md S20)",
                            f.data_class
                        ),
                    ));
                }
                if f.purposes.is_empty() || f.to.is_empty() {
                    return Err(invalid(
                        &id,
                        "flows",
                        "a flow needs recipients and purposes".to_owned(),
                    ));
                }
            }
            agreements.insert(a.isa_ref.clone(), a);
        }
        Ok(Self {
            organisations,
            agreements,
        })
    }

    /// The agreement `isa_ref`, if configured.
    pub fn get(&self, isa_ref: &IsaRef) -> Option<&Agreement> {
        self.agreements.get(isa_ref)
    }

    /// How data controlled by `controller` may reach a caller of organisation `org` for
    /// `purpose` on `today`: their own data, or the first unexpired flow that covers it.
    /// `None` when nothing permits it (and always when the caller has no organisation).
    pub fn permits(
        &self,
        controller: &str,
        org: Option<&str>,
        purpose: PurposeCode,
        today: Day,
    ) -> Option<Permit<'_>> {
        let org = org?;
        if org == controller {
            return Some(Permit::OwnData);
        }
        self.agreements
            .values()
            .filter(|a| a.expires >= today)
            .find_map(|a| {
                a.flows
                    .iter()
                    .find(|f| {
                        f.from == controller
                            && f.to.iter().any(|t| t == org)
                            && f.purposes.contains(&purpose)
                    })
                    .map(|f| Permit::Agreement(a, f))
            })
    }

    /// Checks that `isa_ref` is a configured agreement, in force on `today`, with a flow from
    /// `controller` (an import of that controller's people or links).
    ///
    /// # Errors
    ///
    /// A sentence saying what is missing.
    pub fn check_import(
        &self,
        isa_ref: &IsaRef,
        controller: &str,
        today: Day,
    ) -> Result<&Agreement, String> {
        let a = self
            .agreements
            .get(isa_ref)
            .ok_or_else(|| format!("{isa_ref} is not a configured sharing agreement"))?;
        if a.expires < today {
            return Err(format!("{isa_ref} expired on {}", a.expires));
        }
        if !a.flows.iter().any(|f| f.from == controller) {
            return Err(format!(
                "{isa_ref} has no flow of person-level data from {controller}"
            ));
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"{
      "organisations": [
        {"code": "police", "data_class": "police_intelligence"},
        {"code": "bristol", "data_class": "social_care"},
        {"code": "nsomerset", "data_class": "social_care"}
      ],
      "agreements": [
        {"isa_ref": "ISA-1", "parties": ["police", "bristol"], "expires": "2027-01-31",
         "flows": [{"from": "bristol", "to": ["police"], "data_class": "social_care",
                    "purposes": ["safeguarding_children"], "gateway": "children_act_2004_s11"}]}
      ]
    }"#;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    #[test]
    fn a_flow_permits_only_its_direction_purpose_recipient_and_term() {
        let a = Agreements::parse(Path::new("t.json"), BASE).unwrap();
        let today = day("2026-12-01");
        let ok = a.permits(
            "bristol",
            Some("police"),
            PurposeCode::SafeguardingChildren,
            today,
        );
        assert!(matches!(ok, Some(Permit::Agreement(ag, _)) if ag.isa_ref.as_str() == "ISA-1"));
        assert_eq!(
            a.permits(
                "bristol",
                Some("police"),
                PurposeCode::SafeguardingChildren,
                day("2026-12-01")
            ),
            ok
        );
        assert!(
            a.permits(
                "police",
                Some("bristol"),
                PurposeCode::SafeguardingChildren,
                today
            )
            .is_none(),
            "no flow back"
        );
        assert!(
            a.permits(
                "bristol",
                Some("police"),
                PurposeCode::DisruptingExploitation,
                today
            )
            .is_none(),
            "purpose not covered"
        );
        assert!(
            a.permits(
                "bristol",
                Some("nsomerset"),
                PurposeCode::SafeguardingChildren,
                today
            )
            .is_none(),
            "not a recipient"
        );
        assert!(
            a.permits(
                "bristol",
                Some("police"),
                PurposeCode::SafeguardingChildren,
                day("2027-02-01")
            )
            .is_none(),
            "expired"
        );
        assert_eq!(
            a.permits("bristol", Some("bristol"), PurposeCode::MacePanel, today),
            Some(Permit::OwnData)
        );
        assert!(
            a.permits("bristol", None, PurposeCode::SafeguardingChildren, today)
                .is_none()
        );
        assert!(
            a.check_import(&"ISA-1".parse().unwrap(), "bristol", today)
                .is_ok()
        );
        assert!(
            a.check_import(&"ISA-1".parse().unwrap(), "police", today)
                .is_err()
        );
        assert!(
            a.check_import(&"ISA-9".parse().unwrap(), "bristol", today)
                .is_err()
        );
    }

    #[test]
    fn the_pcsc_s16_gateway_is_refused_for_social_care_and_health_data_at_load() {
        let bad = BASE.replace("children_act_2004_s11", PCSC_S16);
        let e = Agreements::parse(Path::new("t.json"), &bad).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("t.json") && msg.contains("ISA-1") && msg.contains("flows.gateway"),
            "{msg}"
        );
        assert!(msg.contains("social_care"), "{msg}");
        // Police data may use it.
        let police = BASE
            .replace(
                r#""from": "bristol", "to": ["police"], "data_class": "social_care""#,
                r#""from": "police", "to": ["bristol"], "data_class": "police_intelligence""#,
            )
            .replace("children_act_2004_s11", PCSC_S16);
        assert!(Agreements::parse(Path::new("t.json"), &police).is_ok());
    }

    #[test]
    fn a_flow_whose_class_is_not_the_senders_or_whose_party_is_unknown_is_refused() {
        let wrong_class = BASE.replace(
            r#""data_class": "social_care",
                    "purposes""#,
            r#""data_class": "health",
                    "purposes""#,
        );
        assert!(
            Agreements::parse(Path::new("t.json"), &wrong_class)
                .unwrap_err()
                .to_string()
                .contains("flows.data_class")
        );
        let stranger = BASE.replace(r#""to": ["police"]"#, r#""to": ["nsomerset"]"#);
        assert!(
            Agreements::parse(Path::new("t.json"), &stranger)
                .unwrap_err()
                .to_string()
                .contains("not a party")
        );
        let broken = "{\n  \"organisations\": [\n  oops";
        let e = Agreements::parse(Path::new("t.json"), broken).unwrap_err();
        assert!(e.to_string().starts_with("t.json line 3"), "{e}");
    }
}
