//! The caller's identity, as verified by the host.
//!
//! The host checks the bearer token and passes the result in two headers,
//! [`SUBJECT_HEADER`] and [`ROLES_HEADER`]. It strips both from client input
//! first, so a guest can trust them without seeing any token or key. No
//! subject header means the caller is anonymous.

use crate::problem::Problem;

/// The verified subject (user id).
pub const SUBJECT_HEADER: &str = "x-mart-subject";
/// Comma-separated roles of the subject, e.g. `admin` or `customer`.
pub const ROLES_HEADER: &str = "x-mart-roles";
/// The role that unlocks administrative routes.
pub const ADMIN_ROLE: &str = "admin";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub roles: Vec<String>,
}

impl Identity {
    /// Builds the identity from the two header values; `None` (anonymous)
    /// when the subject is missing or blank. Roles are trimmed, empty entries
    /// dropped.
    pub fn from_headers(subject: Option<&str>, roles: Option<&str>) -> Option<Identity> {
        let subject = subject.map(str::trim).filter(|s| !s.is_empty())?;
        let roles = roles
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        Some(Identity {
            subject: subject.to_string(),
            roles,
        })
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(ADMIN_ROLE)
    }
}

/// Any authenticated caller; anonymous → 401.
pub fn require_authenticated(identity: Option<&Identity>) -> Result<&Identity, Problem> {
    identity.ok_or_else(|| Problem::unauthorized("this operation requires a signed-in user"))
}

/// A caller holding `role`: anonymous → 401, authenticated without it → 403.
pub fn require_role<'a>(
    identity: Option<&'a Identity>,
    role: &str,
) -> Result<&'a Identity, Problem> {
    let id = require_authenticated(identity)?;
    if id.has_role(role) {
        Ok(id)
    } else {
        Err(Problem::forbidden(format!(
            "this operation requires the `{role}` role"
        )))
    }
}

/// An administrator: anonymous → 401, authenticated non-admin → 403.
pub fn require_admin(identity: Option<&Identity>) -> Result<&Identity, Problem> {
    require_role(identity, ADMIN_ROLE)
}

/// True when the caller is an administrator (for routes that show admins more).
pub fn is_admin(identity: Option<&Identity>) -> bool {
    identity.is_some_and(Identity::is_admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subject_is_anonymous() {
        assert_eq!(Identity::from_headers(None, Some("admin")), None);
        assert_eq!(Identity::from_headers(Some("  "), Some("admin")), None);
    }

    #[test]
    fn roles_are_split_and_trimmed() {
        let id = Identity::from_headers(Some("u1"), Some(" admin, customer,,")).unwrap();
        assert_eq!(id.subject, "u1");
        assert_eq!(id.roles, vec!["admin", "customer"]);
        assert!(id.is_admin());
        assert!(id.has_role("customer"));
    }

    #[test]
    fn subject_without_roles() {
        let id = Identity::from_headers(Some("u1"), None).unwrap();
        assert!(id.roles.is_empty());
        assert!(!id.is_admin());
    }

    #[test]
    fn role_match_is_exact() {
        let id = Identity::from_headers(Some("u1"), Some("administrator,Admin")).unwrap();
        assert!(!id.is_admin());
    }

    #[test]
    fn require_admin_statuses() {
        assert_eq!(require_admin(None).unwrap_err().status, 401);
        let customer = Identity::from_headers(Some("u"), Some("customer")).unwrap();
        assert_eq!(require_admin(Some(&customer)).unwrap_err().status, 403);
        let admin = Identity::from_headers(Some("a"), Some("admin")).unwrap();
        assert_eq!(require_admin(Some(&admin)).unwrap().subject, "a");
        assert!(is_admin(Some(&admin)));
        assert!(!is_admin(Some(&customer)));
        assert!(!is_admin(None));
    }

    #[test]
    fn require_authenticated_statuses() {
        assert_eq!(require_authenticated(None).unwrap_err().status, 401);
        let customer = Identity::from_headers(Some("u"), Some("customer")).unwrap();
        assert!(require_authenticated(Some(&customer)).is_ok());
    }
}
