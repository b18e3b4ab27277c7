//! Who is calling: the host verifies credentials, the guest gets the result.
//!
//! A request may carry `Authorization: Bearer <token>`. The token is either the
//! bootstrap admin token from configuration (for operating the system before
//! any user exists) or a JWT signed with the host's key, which the user service
//! will obtain through a host import. Either way the guest receives only the
//! verified identity in `x-mart-subject` / `x-mart-roles`; those headers are
//! always removed from client input first, so a guest can trust them. Swapping
//! how tokens are issued never touches the functions that consume identity.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

pub const SUBJECT_HEADER: &str = "x-mart-subject";
pub const ROLES_HEADER: &str = "x-mart-roles";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub exp: u64,
    pub iat: u64,
    pub iss: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    /// The Authorization header is not `Bearer <token>`.
    Malformed,
    /// The token did not verify (bad signature, expired, wrong issuer, …).
    Invalid(String),
}

pub struct Authenticator {
    admin_token: String,
    issuer: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Authenticator {
    pub fn new(admin_token: &str, jwt_secret: &[u8], issuer: &str) -> Authenticator {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        Authenticator {
            admin_token: admin_token.to_string(),
            issuer: issuer.to_string(),
            encoding: EncodingKey::from_secret(jwt_secret),
            decoding: DecodingKey::from_secret(jwt_secret),
            validation,
        }
    }

    /// `Ok(None)` for an anonymous request.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Option<Identity>, AuthError> {
        let Some(raw) = authorization else { return Ok(None) };
        let raw = std::str::from_utf8(raw).map_err(|_| AuthError::Malformed)?;
        let (scheme, token) = raw.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Malformed);
        }
        let token = token.trim();
        if bool::from(token.as_bytes().ct_eq(self.admin_token.as_bytes())) {
            return Ok(Some(Identity { subject: "bootstrap-admin".into(), roles: vec!["admin".into()] }));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        Ok(Some(Identity { subject: data.claims.sub, roles: data.claims.roles }))
    }

    /// Issues a token for `subject`; the user service will reach this through a host import.
    pub fn sign(&self, subject: &str, roles: &[String], ttl: std::time::Duration) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.to_string(),
            roles: roles.to_vec(),
            iat: now,
            exp: now + ttl.as_secs(),
            iss: self.issuer.clone(),
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn auth() -> Authenticator {
        Authenticator::new("admin-token-for-tests", b"test-secret-0123456789abcdef0123", "mart")
    }

    #[test]
    fn anonymous_without_header() {
        assert_eq!(auth().authenticate(None), Ok(None));
    }

    #[test]
    fn bootstrap_token_is_admin() {
        let id = auth().authenticate(Some(b"Bearer admin-token-for-tests")).unwrap().unwrap();
        assert_eq!(id.roles, vec!["admin".to_string()]);
    }

    #[test]
    fn signed_jwt_round_trips() {
        let a = auth();
        let t = a.sign("user-1", &["customer".into()], Duration::from_secs(60)).unwrap();
        let id = a.authenticate(Some(format!("Bearer {t}").as_bytes())).unwrap().unwrap();
        assert_eq!(id, Identity { subject: "user-1".into(), roles: vec!["customer".into()] });
    }

    #[test]
    fn foreign_or_garbage_tokens_are_rejected() {
        let other = Authenticator::new("x", b"another-secret-another-secret-00", "mart");
        let t = other.sign("u", &[], Duration::from_secs(60)).unwrap();
        assert!(matches!(auth().authenticate(Some(format!("Bearer {t}").as_bytes())), Err(AuthError::Invalid(_))));
        assert!(matches!(auth().authenticate(Some(b"Bearer nope")), Err(AuthError::Invalid(_))));
        assert_eq!(auth().authenticate(Some(b"Basic abc")), Err(AuthError::Malformed));
        assert_eq!(auth().authenticate(Some(b"Bearer ")), Err(AuthError::Malformed));
    }

    #[test]
    fn wrong_issuer_is_rejected() {
        let other = Authenticator::new("x", b"test-secret-0123456789abcdef0123", "someone-else");
        let t = other.sign("u", &[], Duration::from_secs(60)).unwrap();
        assert!(auth().authenticate(Some(format!("Bearer {t}").as_bytes())).is_err());
    }
}
