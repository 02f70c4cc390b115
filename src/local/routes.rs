//! API Gateway's route matching over the one route table ([`GATEWAY_ROUTES`], which a unit
//! test keeps equal to template.yaml's): which function serves a method and path, matched the
//! way API Gateway matches (exact segments before `{param}`, `{proxy+}` last).

pub use bulkops_shared::api::{Function, GATEWAY_ROUTES};

/// A matched route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched {
    pub function: Function,
    /// `METHOD /template/path`, as API Gateway puts it in `routeKey`.
    pub route_key: String,
    pub path_parameters: Vec<(String, String)>,
}

/// The route API Gateway would pick for `method path`, if any.
pub fn route(method: &str, path: &str) -> Option<Matched> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(u32, Matched)> = None;
    for &(function, route_method, template) in GATEWAY_ROUTES {
        if route_method != method {
            continue;
        }
        let Some((rank, path_parameters)) = match_template(template, &segments) else {
            continue;
        };
        if best.as_ref().is_none_or(|(r, _)| rank > *r) {
            let route_key = format!("{method} {template}");
            best = Some((
                rank,
                Matched {
                    function,
                    route_key,
                    path_parameters,
                },
            ));
        }
    }
    best.map(|(_, matched)| matched)
}

/// Rank (higher is more specific) and path parameters if `template` matches.
fn match_template(template: &str, segments: &[&str]) -> Option<(u32, Vec<(String, String)>)> {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let mut parameters = Vec::new();
    let mut rank = 0;
    for (i, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            let rest = segments.get(i..).unwrap_or_default().join("/");
            if rest.is_empty() {
                return None;
            }
            parameters.push((name.to_owned(), rest));
            return Some((rank, parameters));
        }
        let segment = segments.get(i)?;
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if segment.is_empty() {
                return None;
            }
            parameters.push((name.to_owned(), (*segment).to_owned()));
            rank += 1 << 8;
        } else if part == segment {
            rank += 1 << 16;
        } else {
            return None;
        }
    }
    (parts.len() == segments.len()).then_some((rank + 1, parameters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_most_specific_route() {
        let get = route("GET", "/api/web/v1/mobileFlashPass/abc").unwrap();
        assert_eq!(get.function, Function::Query);
        assert_eq!(get.route_key, "GET /api/web/v1/mobileFlashPass/{id}");
        assert_eq!(get.path_parameters, vec![("id".into(), "abc".into())]);
        let list = route("GET", "/api/web/v1/mobileFlashPass").unwrap();
        assert_eq!(list.route_key, "GET /api/web/v1/mobileFlashPass");
        let other = route("GET", "/passwordvault/api/bulkactions/accounts/").unwrap();
        assert_eq!(other.route_key, "GET /{proxy+}");
        let cancel = route("DELETE", "/api/web/v1/mobileFlashPass/cancel/x").unwrap();
        assert_eq!(cancel.function, Function::Cancel);
        assert_eq!(route("DELETE", "/api/web/v1/mobileFlashPass/x"), None);
        assert_eq!(route("PUT", "/api/web/v2/mobileFlashPass"), None);
        assert_eq!(route("GET", "/").map(|m| m.route_key), None);
    }

    proptest::proptest! {
        /// Any method and path is routed or not, without a panic; a match has its parameters.
        #[test]
        fn any_path_routes_or_not(method in "[A-Z]{0,7}", path in "(/[^/]{0,6}){0,8}/?") {
            if let Some(matched) = route(&method, &path) {
                proptest::prop_assert!(matched.route_key.starts_with(&method));
            }
        }
    }
}
