//! Caller identity, taken only from the API Gateway HTTP API JWT authorizer context
//! (`requestContext.authorizer.jwt.claims`). Headers are never trusted for identity: the
//! authorizer has already verified the token's signature, issuer, audience and expiry.

use std::collections::BTreeSet;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::error::ApiError;

/// Permissions of the Entrust-style API.
pub mod permission {
    pub const ISSUANCE_ADD: &str = "ISSUANCE:ADD";
    pub const ISSUANCE_VIEW: &str = "ISSUANCE:VIEW";
    pub const ISSUANCE_REMOVE: &str = "ISSUANCE:REMOVE";
}

/// Who is calling and what they may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub` claim.
    pub subject: String,
    /// The token's space-separated `scope` claim.
    pub permissions: BTreeSet<String>,
}

impl Identity {
    /// The verified identity of the request, or 401 when there is none.
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        let claims = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        };
        let claims = claims.ok_or(ApiError::Unauthorized)?;
        let subject = claims
            .get("sub")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty());
        let subject = subject.ok_or(ApiError::Unauthorized)?.to_owned();
        let permissions = claims
            .get("scope")
            .map(|scope| scope.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Self {
            subject,
            permissions,
        })
    }

    /// 403 unless the caller holds `permission`.
    pub fn require(&self, permission: &str) -> Result<(), ApiError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(permission.to_owned()))
        }
    }
}

/// Identity check in one call: 401 without identity, 403 without `permission`.
pub fn authorize(request: &Request, permission: &str) -> Result<Identity, ApiError> {
    let identity = Identity::from_request(request)?;
    identity.require(permission)?;
    Ok(identity)
}
