//! Who is asking and why: roles, lawful purposes and users (safeguards.md S12, S13, S24).
//! Closed enums with no catch-all, so an out-of-scope purpose cannot even be represented.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{DomainError, DomainResult};

macro_rules! closed_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $( $(#[$vdoc:meta])* $variant:ident = $code:literal, )* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )*
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The `snake_case` code used in headers, files and the API.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)* }
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> DomainResult<Self> {
                match s {
                    $($code => Ok($name::$variant),)*
                    _ => Err(DomainError::invalid($field, format!("{s:?} is not a known {}", $field))),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> DomainResult<Self> {
                s.parse()
            }
        }

        impl From<$name> for &'static str {
            fn from(v: $name) -> Self {
                v.code()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

closed_enum!(
    /// A role (safeguards.md S12). `Public` is every anonymous request; `EqualityMonitor` is the
    /// internal disproportionality function (S22), given only to the few users who carry it out.
    Role, "role" {
        /// Anonymous requests: aggregate layers with the strictest disclosure control.
        Public = "public",
        /// Community-safety planners: aggregate layers only.
        Planner = "planner",
        /// Violence Reduction Unit analysts: aggregate and place-level records.
        VruAnalyst = "vru_analyst",
        /// Police analysts: person-level records of adults linked to a case; children only
        /// through a linked safeguarding case.
        PoliceAnalyst = "police_analyst",
        /// MACE panel members: person-level records of agenda subjects of their panel within
        /// 14 days of the meeting.
        MaceMember = "mace_member",
        /// Auditors: the audit log and governance reports; no operational data.
        Auditor = "auditor",
        /// Administrators: system configuration; no data-plane access.
        Admin = "admin",
        /// The internal equality-monitoring function (S22): reads the monitor's results and
        /// controlled aggregates, nothing place- or person-level.
        EqualityMonitor = "equality_monitor",
    }
);

impl Role {
    /// True for roles a user account may hold (everything but `public`, which is every
    /// anonymous request). The equality monitor became assignable with the S22 monitor
    /// (issue 13 point 7); `user add` audits every grant.
    pub fn assignable(self) -> bool {
        !matches!(self, Role::Public)
    }

    /// True for operational roles, from which entries past their review date are hidden (S18).
    pub fn operational(self) -> bool {
        matches!(
            self,
            Role::Planner | Role::VruAnalyst | Role::PoliceAnalyst | Role::MaceMember
        )
    }
}

closed_enum!(
    /// A lawful purpose for reading person-level data or the audit log (S13, S24). Immigration
    /// enforcement, housing or benefit eligibility, school admissions or exclusions and
    /// employment vetting are not purposes: they do not exist here.
    PurposeCode, "purpose" {
        /// Safeguarding children from extra-familial harm.
        SafeguardingChildren = "safeguarding_children",
        /// Disrupting adults who exploit children.
        DisruptingExploitation = "disrupting_exploitation",
        /// Place-based prevention (place-level work; not a purpose for person-level reads).
        PlaceBasedPrevention = "place_based_prevention",
        /// Preparing or holding a MACE panel meeting.
        MacePanel = "mace_panel",
        /// Monitoring disproportionality (S22; internal function only).
        EqualityMonitoring = "equality_monitoring",
        /// Audit: verifying the lawfulness of processing (DPA 2018 s.62(4)(a)).
        AuditLawfulness = "audit_lawfulness",
        /// Audit: self-monitoring (s.62(4)(b)).
        AuditSelfMonitoring = "audit_self_monitoring",
        /// Audit: ensuring integrity and security (s.62(4)(c)).
        AuditIntegrity = "audit_integrity",
        /// Audit: criminal proceedings (s.62(4)(d)).
        AuditCriminalProceedings = "audit_criminal_proceedings",
    }
);

closed_enum!(
    /// The lawful basis a person-level read relies on (issue 12, point 3; safeguards.md S13,
    /// S16 `legal_basis`). A closed list: each basis covers only the purposes
    /// [`LegalBasis::covers`] names.
    LegalBasis, "legal_basis" {
        /// Children Act 1989 s.17: services for children in need.
        ChildrenAct1989S17 = "children_act_1989_s17",
        /// Children Act 1989 s.47: enquiries where a child may suffer significant harm.
        ChildrenAct1989S47 = "children_act_1989_s47",
        /// Children Act 2004 s.11: the duty to safeguard and promote children's welfare.
        ChildrenAct2004S11 = "children_act_2004_s11",
        /// Crime and Disorder Act 1998 s.115: disclosure for the purposes of the Act.
        CrimeAndDisorderAct1998S115 = "crime_and_disorder_act_1998_s115",
        /// DPA 2018 Part 3, s.35: processing for the law enforcement purposes.
        Dpa2018S35LawEnforcement = "dpa_2018_s35_law_enforcement",
        /// DPA 2018 s.62(4): use of the logs (audit purposes only).
        Dpa2018S62Audit = "dpa_2018_s62_4",
    }
);

impl LegalBasis {
    /// True when this basis can support a read for `purpose`.
    pub fn covers(self, purpose: PurposeCode) -> bool {
        use PurposeCode as P;
        match self {
            Self::ChildrenAct1989S17 | Self::ChildrenAct1989S47 => {
                matches!(purpose, P::SafeguardingChildren)
            }
            Self::ChildrenAct2004S11 => matches!(purpose, P::SafeguardingChildren | P::MacePanel),
            Self::CrimeAndDisorderAct1998S115 => matches!(
                purpose,
                P::DisruptingExploitation | P::MacePanel | P::SafeguardingChildren
            ),
            Self::Dpa2018S35LawEnforcement => matches!(purpose, P::DisruptingExploitation),
            Self::Dpa2018S62Audit => purpose.is_audit(),
        }
    }

    /// The bases that cover `purpose`, for error messages.
    pub fn for_purpose(purpose: PurposeCode) -> Vec<LegalBasis> {
        Self::ALL
            .iter()
            .copied()
            .filter(|b| b.covers(purpose))
            .collect()
    }
}

impl PurposeCode {
    /// True for the s.62(4) audit purposes.
    pub fn is_audit(self) -> bool {
        matches!(
            self,
            Self::AuditLawfulness
                | Self::AuditSelfMonitoring
                | Self::AuditIntegrity
                | Self::AuditCriminalProceedings
        )
    }
}

/// A user account. The bearer token is never held: only its SHA-256 hash, in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Store id.
    pub id: u64,
    /// Login name (a human; service accounts are not users of the person-level API).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Organisation, e.g. `avon-and-somerset-police`.
    pub org: Option<String>,
    /// MACE panels the user sits on (for `mace_member`).
    pub panels: Vec<u32>,
    /// When the user's token stops being accepted, Unix seconds (UTC). A user read without
    /// one has `0`: expired, so a missing expiry fails closed (issue 12, point 8).
    #[serde(default)]
    pub token_expires_at: u64,
    /// When the token was revoked (`saferplaces user revoke`), Unix seconds (UTC); `None`
    /// while it stands. The user row is kept for the audit trail.
    #[serde(default)]
    pub token_revoked_at: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_scope_purposes_do_not_exist() {
        for bad in [
            "immigration",
            "housing_eligibility",
            "school_admissions",
            "employment_vetting",
            "",
        ] {
            assert!(bad.parse::<PurposeCode>().is_err(), "{bad}");
        }
        for p in PurposeCode::ALL {
            assert_eq!(p.code().parse::<PurposeCode>().unwrap(), *p);
        }
    }

    #[test]
    fn public_cannot_be_assigned_and_the_equality_monitor_can() {
        assert!(!Role::Public.assignable());
        assert!(Role::EqualityMonitor.assignable());
        assert!(Role::Auditor.assignable());
        assert!("superuser".parse::<Role>().is_err());
    }
}
