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
        // The owner is the `sub` claim byte for byte: never trimmed or normalized, so that
        // "alice " and "alice" are two different callers. Only an empty one is refused.
        let subject = claims.get("sub").filter(|s| !s.is_empty());
        let subject = subject.ok_or(ApiError::Unauthorized)?.clone();
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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::request::from_str;
    use serde_json::json;

    fn request_with_claims(claims: serde_json::Value) -> Request {
        let event = json!({
            "version": "2.0", "routeKey": "GET /x", "rawPath": "/x", "rawQueryString": "",
            "headers": {}, "isBase64Encoded": false,
            "requestContext": {
                "accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
                "http": {"method": "GET", "path": "/x", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "t"},
                "requestId": "r", "routeKey": "GET /x", "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
                "authorizer": {"jwt": {"claims": claims, "scopes": null}}
            }
        });
        from_str(&event.to_string()).expect("event")
    }

    #[test]
    fn the_subject_is_taken_byte_for_byte() {
        for sub in [
            " alice",
            "alice ",
            "alice\n",
            "\u{a0}alice",
            "alice\u{0}evil",
            "#",
        ] {
            let identity =
                Identity::from_request(&request_with_claims(json!({ "sub": sub }))).unwrap();
            assert_eq!(identity.subject, sub);
        }
    }

    #[test]
    fn an_empty_or_missing_subject_is_unauthorized() {
        for claims in [
            json!({}),
            json!({"sub": ""}),
            json!({"scope": "ISSUANCE:ADD"}),
        ] {
            assert!(matches!(
                Identity::from_request(&request_with_claims(claims)),
                Err(ApiError::Unauthorized)
            ));
        }
    }
}
