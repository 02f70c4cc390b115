//! The HTTP API's routes, as template.yaml declares them: which function serves which
//! method and path, matched the way API Gateway matches (exact segments before `{param}`,
//! `{proxy+}` last). A unit test keeps this table equal to the template's.

/// An HTTP-facing Lambda function of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Submit,
    Query,
    Cancel,
}

/// `(function, method, path)` for every `HttpApi` event in template.yaml.
pub const ROUTES: &[(Function, &str, &str)] = &[
    (Function::Submit, "POST", "/api/web/v2/mobileFlashPass"),
    (
        Function::Submit,
        "POST",
        "/PasswordVault/API/BulkActions/Accounts",
    ),
    (Function::Submit, "POST", "/{proxy+}"),
    (Function::Query, "GET", "/api/web/v1/mobileFlashPass"),
    (Function::Query, "GET", "/api/web/v1/mobileFlashPass/{id}"),
    (
        Function::Query,
        "GET",
        "/api/web/v2/mobileFlashPass/download/logs/{id}",
    ),
    (
        Function::Query,
        "GET",
        "/PasswordVault/API/BulkActions/Accounts",
    ),
    (
        Function::Query,
        "GET",
        "/PasswordVault/API/BulkActions/Accounts/{bulkId}",
    ),
    (Function::Query, "GET", "/{proxy+}"),
    (
        Function::Cancel,
        "DELETE",
        "/api/web/v1/mobileFlashPass/cancel/{id}",
    ),
];

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
    for &(function, route_method, template) in ROUTES {
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

    /// The table above is exactly the template's `HttpApi` events.
    #[test]
    fn matches_template_yaml() {
        let template = include_str!("../../template.yaml");
        let mut found = Vec::new();
        let (mut resource, mut method) = (String::new(), None::<String>);
        for line in template.lines() {
            let indent = line.len() - line.trim_start().len();
            let text = line.trim();
            if indent == 2 && text.ends_with(':') {
                resource = text.trim_end_matches(':').to_owned();
            } else if let Some(m) = text.strip_prefix("Method: ") {
                method = Some(m.to_owned());
            } else if let (Some(p), Some(m)) = (text.strip_prefix("Path: "), method.take()) {
                found.push((resource.clone(), m, p.to_owned()));
            }
        }
        let function = |f: Function| match f {
            Function::Submit => "SubmitFunction",
            Function::Query => "QueryFunction",
            Function::Cancel => "CancelFunction",
        };
        let mut expected: Vec<(String, String, String)> = ROUTES
            .iter()
            .map(|(f, m, p)| (function(*f).to_owned(), m.to_string(), p.to_string()))
            .collect();
        found.sort();
        expected.sort();
        assert_eq!(found, expected);
    }
}
