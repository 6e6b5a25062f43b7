//! The access policy: one table of which role may read which class of data (safeguards.md
//! S12), applied by one function. Default deny: a class not listed for a role is refused.

use serde::Serialize;

use crate::domain::Role;

/// Version of the policy, written into every audit record (S16 `policy_version`).
pub const POLICY_VERSION: &str = "saferplaces-policy-2026-11-22";

/// The class of data an endpoint returns. Every endpoint declares exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataClass {
    /// Open reference data about places that are public facts: boundaries, schools, transport,
    /// youth services, metadata.
    Reference,
    /// Aggregates over incidents (hexagons, area figures); disclosure-controlled for `public`
    /// and `planner` (S21).
    Aggregate,
    /// Place-level records: places of concern, incident points.
    PlaceLevel,
    /// Person-level records; also needs a purpose and a case reference (S13).
    PersonLevel,
    /// The audit log (S17).
    AuditLog,
    /// The S22 disproportionality monitor's results (counts by ethnicity and other protected
    /// characteristics, disclosure-controlled): the `equality_monitor` role only, with the
    /// `equality_monitoring` purpose.
    Equality,
}

/// How aggregates are released to a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisclosureClass {
    /// Exact counts (analysts).
    Exact,
    /// Statistical disclosure control applied (public and planners, S21).
    Controlled,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DenyReason {
    /// No valid token and the class needs more than `public` (401).
    AuthenticationRequired,
    /// A token was given but is not valid (401).
    InvalidToken,
    /// The token was valid but its lifetime has passed (401; issue 12 point 8).
    TokenExpired,
    /// The token was revoked with `saferplaces user revoke` (401).
    TokenRevoked,
    /// The role may not read this class (403).
    RoleNotPermitted,
    /// `X-Purpose` missing (428).
    PurposeRequired,
    /// `X-Case-Ref` missing (428).
    CaseRefRequired,
    /// The purpose is not one saferplaces serves (e.g. immigration) (403, S24).
    PurposeNotRecognised,
    /// The purpose is lawful but not for this role or class (403).
    PurposeNotPermitted,
    /// The case or meeting does not exist, or is not the caller's (403).
    CaseNotInScope,
    /// A MACE member outside the 14-day window around the meeting (403, S12).
    OutsideMeetingWindow,
    /// The subject is not in the scope of the case or agenda, or is past review (403).
    SubjectNotInScope,
    /// The case exists but the caller is not assigned to it, and declared no break-glass
    /// access (403, issue 12 point 1).
    CaseNotAssigned,
    /// No legal basis (`X-Legal-Basis`) was given for a person-level read (428, issue 12
    /// point 3).
    LegalBasisRequired,
    /// The legal basis given is not one saferplaces knows, or does not cover the purpose (403).
    LegalBasisNotPermitted,
    /// A break-glass declaration without a justification of at least 30 characters (428).
    JustificationRequired,
    /// The caller's budget of person-level subjects or break-glass reads is spent (429 with
    /// `Retry-After`, issue 12 point 2).
    BudgetExceeded,
    /// Too many refused or unauthenticated requests from this client address (429).
    TooManyRefusals,
    /// The data belongs to another controller and no unexpired sharing agreement flow covers
    /// the caller's organisation and purpose (403, S20).
    NoSharingAgreement,
}

impl DenyReason {
    /// HTTP status for the refusal.
    pub fn status(self) -> u16 {
        match self {
            Self::AuthenticationRequired
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::TokenRevoked => 401,
            Self::PurposeRequired
            | Self::CaseRefRequired
            | Self::LegalBasisRequired
            | Self::JustificationRequired => 428,
            Self::BudgetExceeded | Self::TooManyRefusals => 429,
            Self::RoleNotPermitted
            | Self::PurposeNotRecognised
            | Self::PurposeNotPermitted
            | Self::CaseNotInScope
            | Self::CaseNotAssigned
            | Self::LegalBasisNotPermitted
            | Self::NoSharingAgreement
            | Self::OutsideMeetingWindow
            | Self::SubjectNotInScope => 403,
        }
    }

    /// The stable error code (`PURPOSE_REQUIRED`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Self::AuthenticationRequired => "AUTHENTICATION_REQUIRED",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::TokenRevoked => "TOKEN_REVOKED",
            Self::RoleNotPermitted => "ROLE_NOT_PERMITTED",
            Self::PurposeRequired => "PURPOSE_REQUIRED",
            Self::CaseRefRequired => "CASE_REF_REQUIRED",
            Self::PurposeNotRecognised => "PURPOSE_NOT_RECOGNISED",
            Self::PurposeNotPermitted => "PURPOSE_NOT_PERMITTED",
            Self::CaseNotInScope => "CASE_NOT_IN_SCOPE",
            Self::CaseNotAssigned => "CASE_NOT_ASSIGNED",
            Self::LegalBasisRequired => "LEGAL_BASIS_REQUIRED",
            Self::LegalBasisNotPermitted => "LEGAL_BASIS_NOT_PERMITTED",
            Self::JustificationRequired => "JUSTIFICATION_REQUIRED",
            Self::BudgetExceeded => "BUDGET_EXCEEDED",
            Self::TooManyRefusals => "TOO_MANY_REFUSALS",
            Self::NoSharingAgreement => "NO_SHARING_AGREEMENT",
            Self::OutsideMeetingWindow => "OUTSIDE_MEETING_WINDOW",
            Self::SubjectNotInScope => "SUBJECT_NOT_IN_SCOPE",
        }
    }
}

/// The role matrix (S12): may `role` read `class` at all? Person-level reads are further
/// scoped by purpose and case ([`super::scope`]).
pub fn role_may_read(role: Role, class: DataClass) -> bool {
    use DataClass::{Aggregate, AuditLog, Equality, PersonLevel, PlaceLevel, Reference};
    use Role::{
        Admin, Auditor, EqualityMonitor, MaceMember, Planner, PoliceAnalyst, Public, VruAnalyst,
    };
    match (role, class) {
        (Public | Planner, Reference | Aggregate)
        | (VruAnalyst, Reference | Aggregate | PlaceLevel)
        | (PoliceAnalyst | MaceMember, Reference | Aggregate | PlaceLevel | PersonLevel)
        | (Auditor, AuditLog)
        | (EqualityMonitor, Aggregate | Equality) => true,
        (Public | Planner, PlaceLevel | PersonLevel | AuditLog | Equality)
        | (VruAnalyst, PersonLevel | AuditLog | Equality)
        | (PoliceAnalyst | MaceMember, AuditLog | Equality)
        | (Auditor, Reference | Aggregate | PlaceLevel | PersonLevel | Equality)
        | (Admin, _)
        | (EqualityMonitor, Reference | PlaceLevel | PersonLevel | AuditLog) => false,
    }
}

/// What is wrong with a bearer token that was presented. A request carrying one is refused
/// whatever it asks for: a bad token is never treated as anonymous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenProblem {
    /// It matches no user, or the header is not a bearer token.
    Unknown,
    /// It matches a user but its lifetime has passed.
    Expired,
    /// It matches a user whose token was revoked.
    Revoked,
}

impl TokenProblem {
    /// The refusal for this problem (all 401).
    pub fn deny_reason(self) -> DenyReason {
        match self {
            Self::Unknown => DenyReason::InvalidToken,
            Self::Expired => DenyReason::TokenExpired,
            Self::Revoked => DenyReason::TokenRevoked,
        }
    }
}

/// Decides a request for `class` by `role` (`None` = anonymous). `token` is set when a token
/// was presented but is unknown, expired or revoked.
pub fn authorise(
    role: Option<Role>,
    token: Option<TokenProblem>,
    class: DataClass,
) -> Result<Role, DenyReason> {
    if let Some(problem) = token {
        return Err(problem.deny_reason());
    }
    let effective = role.unwrap_or(Role::Public);
    if role_may_read(effective, class) {
        Ok(effective)
    } else if role.is_none() {
        Err(DenyReason::AuthenticationRequired)
    } else {
        Err(DenyReason::RoleNotPermitted)
    }
}

/// How aggregates are released to `role`. The equality monitor needs no exact place
/// aggregates (its own results are published through the same control), so it gets the
/// controlled ones like a planner.
pub fn disclosure_class(role: Role) -> DisclosureClass {
    match role {
        Role::Public | Role::Planner | Role::EqualityMonitor => DisclosureClass::Controlled,
        _ => DisclosureClass::Exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_matches_safeguards_s12() {
        use DataClass::*;
        let allowed = |r: Role| -> Vec<DataClass> {
            [
                Reference,
                Aggregate,
                PlaceLevel,
                PersonLevel,
                AuditLog,
                Equality,
            ]
            .into_iter()
            .filter(|c| role_may_read(r, *c))
            .collect()
        };
        assert_eq!(allowed(Role::Public), vec![Reference, Aggregate]);
        assert_eq!(allowed(Role::Planner), vec![Reference, Aggregate]);
        assert_eq!(
            allowed(Role::VruAnalyst),
            vec![Reference, Aggregate, PlaceLevel]
        );
        assert_eq!(
            allowed(Role::PoliceAnalyst),
            vec![Reference, Aggregate, PlaceLevel, PersonLevel]
        );
        assert_eq!(
            allowed(Role::MaceMember),
            vec![Reference, Aggregate, PlaceLevel, PersonLevel]
        );
        assert_eq!(allowed(Role::Auditor), vec![AuditLog]);
        assert!(
            allowed(Role::Admin).is_empty(),
            "admin has no data-plane access"
        );
        // S22: only the equality monitor reads the monitor's results, and nothing
        // place- or person-level (issue 13 point 7).
        assert_eq!(allowed(Role::EqualityMonitor), vec![Aggregate, Equality]);
    }

    #[test]
    fn anonymous_callers_get_401_and_known_roles_403() {
        assert_eq!(
            authorise(None, None, DataClass::Aggregate),
            Ok(Role::Public)
        );
        assert_eq!(
            authorise(None, None, DataClass::PersonLevel),
            Err(DenyReason::AuthenticationRequired)
        );
        assert_eq!(
            authorise(Some(Role::Planner), None, DataClass::PersonLevel),
            Err(DenyReason::RoleNotPermitted)
        );
        assert_eq!(
            authorise(None, Some(TokenProblem::Unknown), DataClass::Reference),
            Err(DenyReason::InvalidToken)
        );
        assert_eq!(DenyReason::PurposeRequired.status(), 428);
    }

    #[test]
    fn expired_and_revoked_tokens_are_refused_with_their_own_401_codes() {
        for (problem, code) in [
            (TokenProblem::Expired, "TOKEN_EXPIRED"),
            (TokenProblem::Revoked, "TOKEN_REVOKED"),
        ] {
            // Even for data the anonymous public may read: a bad token is never anonymous.
            let refused = authorise(
                Some(Role::PoliceAnalyst),
                Some(problem),
                DataClass::Reference,
            );
            assert_eq!(refused.map_err(DenyReason::code), Err(code));
            assert_eq!(problem.deny_reason().status(), 401);
        }
    }

    #[test]
    fn only_public_planners_and_the_equality_monitor_get_controlled_aggregates() {
        for r in Role::ALL {
            let want = matches!(r, Role::Public | Role::Planner | Role::EqualityMonitor);
            assert_eq!(
                disclosure_class(*r) == DisclosureClass::Controlled,
                want,
                "{r}"
            );
        }
    }
}
