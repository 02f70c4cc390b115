//! Route recognition from the request path, so a handler serving several routes (and a local
//! server feeding the same handlers) needs no API Gateway route key.

/// Routes of the Entrust-style mobile flash pass API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MfpRoute {
    Submit,
    List,
    Get(String),
    Logs(String),
    Cancel(String),
}

/// Recognises `method path`; any stage prefix before `/api/` is ignored.
pub fn mfp_route(method: &str, path: &str) -> Option<MfpRoute> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let start = segments.iter().position(|s| *s == "api")?;
    let method = method.to_ascii_uppercase();
    match (method.as_str(), &segments[start..]) {
        ("POST", ["api", "web", "v2", "mobileFlashPass"]) => Some(MfpRoute::Submit),
        ("GET", ["api", "web", "v1", "mobileFlashPass"]) => Some(MfpRoute::List),
        ("GET", ["api", "web", "v1", "mobileFlashPass", id]) => {
            Some(MfpRoute::Get((*id).to_owned()))
        }
        ("GET", ["api", "web", "v2", "mobileFlashPass", "download", "logs", id]) => {
            Some(MfpRoute::Logs((*id).to_owned()))
        }
        ("DELETE", ["api", "web", "v1", "mobileFlashPass", "cancel", id]) => {
            Some(MfpRoute::Cancel((*id).to_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any method and path is recognised or not, by either API, without a panic.
        #[test]
        fn any_path_is_recognised_or_not(method in "[A-Za-z]{0,7}", path in "(/[^/]{0,8}){0,9}/?") {
            let _ = mfp_route(&method, &path);
            let _ = super::super::accounts::accounts_route(&method, &path);
        }
    }

    #[test]
    fn recognises_every_route() {
        assert_eq!(
            mfp_route("POST", "/api/web/v2/mobileFlashPass"),
            Some(MfpRoute::Submit)
        );
        assert_eq!(
            mfp_route("GET", "/api/web/v1/mobileFlashPass"),
            Some(MfpRoute::List)
        );
        assert_eq!(
            mfp_route("get", "/prod/api/web/v1/mobileFlashPass/abc"),
            Some(MfpRoute::Get("abc".into()))
        );
        assert_eq!(
            mfp_route("GET", "/api/web/v2/mobileFlashPass/download/logs/abc"),
            Some(MfpRoute::Logs("abc".into()))
        );
        assert_eq!(
            mfp_route("DELETE", "/api/web/v1/mobileFlashPass/cancel/abc"),
            Some(MfpRoute::Cancel("abc".into()))
        );
        assert_eq!(mfp_route("PUT", "/api/web/v1/mobileFlashPass"), None);
        assert_eq!(mfp_route("GET", "/other"), None);
    }
}
