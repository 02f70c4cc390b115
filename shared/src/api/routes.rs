//! The one route table. [`GATEWAY_ROUTES`] is what API Gateway routes to which Lambda function
//! (template.yaml's `HttpApi` events, kept equal by a test); [`Route`] is what a request asks
//! for, with its ids parsed once; [`super::dispatch`] serves it.

/// An HTTP-facing Lambda function of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Submit,
    Query,
    Cancel,
}

/// `(function, method, path)` for every `HttpApi` event in template.yaml. The `{proxy+}`
/// catch-alls send other spellings of the PasswordVault paths (any case, a trailing slash) to
/// the handlers, which match them as PVWA does.
pub const GATEWAY_ROUTES: &[(Function, &str, &str)] = &[
    (Function::Submit, "POST", "/api/web/v2/mobileFlashPass"),
    (
        Function::Submit,
        "POST",
        "/PasswordVault/API/BulkActions/Accounts",
    ),
    (
        Function::Submit,
        "POST",
        "/api/web/v2/mobileFlashPass/{id}/retry",
    ),
    (
        Function::Submit,
        "POST",
        "/api/web/v2/mobileFlashPass/uploads",
    ),
    (
        Function::Submit,
        "POST",
        "/PasswordVault/API/BulkActions/Accounts/{bulkId}/retry",
    ),
    (
        Function::Submit,
        "POST",
        "/PasswordVault/API/BulkActions/Accounts/uploads",
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
        "/api/web/v2/mobileFlashPass/{id}/rows",
    ),
    (
        Function::Query,
        "GET",
        "/api/web/v2/mobileFlashPass/{id}/results/{file}",
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
    (
        Function::Query,
        "GET",
        "/PasswordVault/API/BulkActions/Accounts/{bulkId}/rows",
    ),
    (
        Function::Query,
        "GET",
        "/PasswordVault/API/BulkActions/Accounts/{bulkId}/results/{file}",
    ),
    (Function::Query, "GET", "/{proxy+}"),
    (
        Function::Cancel,
        "DELETE",
        "/api/web/v1/mobileFlashPass/cancel/{id}",
    ),
];

/// A route of either API, with its path parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/web/v2/mobileFlashPass`
    MfpSubmit,
    /// `POST /api/web/v2/mobileFlashPass/{id}/retry` (additive)
    MfpRetry(String),
    /// `POST /api/web/v2/mobileFlashPass/uploads` (additive): a job whose ids come in a file
    MfpUpload,
    /// `GET /api/web/v1/mobileFlashPass`
    MfpList,
    /// `GET /api/web/v1/mobileFlashPass/{id}`
    MfpGet(String),
    /// `GET /api/web/v2/mobileFlashPass/download/logs/{id}`
    MfpLogs(String),
    /// `GET /api/web/v2/mobileFlashPass/{id}/rows` (additive)
    MfpRows(String),
    /// `GET /api/web/v2/mobileFlashPass/{id}/results/{file}` (additive): a result file
    MfpResult(String, String),
    /// `DELETE /api/web/v1/mobileFlashPass/cancel/{id}`
    MfpCancel(String),
    /// `POST /PasswordVault/API/BulkActions/Accounts`
    UploadCreate,
    /// `GET /PasswordVault/API/BulkActions/Accounts`
    UploadList,
    /// `GET /PasswordVault/API/BulkActions/Accounts/{bulkId}`
    UploadGet(String),
    /// `POST /PasswordVault/API/BulkActions/Accounts/{bulkId}/retry` (additive)
    UploadRetry(String),
    /// `POST /PasswordVault/API/BulkActions/Accounts/uploads` (additive): accounts in a file
    UploadStaged,
    /// `GET /PasswordVault/API/BulkActions/Accounts/{bulkId}/rows` (additive)
    UploadRows(String),
    /// `GET /PasswordVault/API/BulkActions/Accounts/{bulkId}/results/{file}` (additive)
    UploadResult(String, String),
}

impl Route {
    /// The id of the one job the route is about, if any.
    pub fn job_id(&self) -> Option<&str> {
        match self {
            Route::MfpGet(id)
            | Route::MfpLogs(id)
            | Route::MfpRows(id)
            | Route::MfpCancel(id)
            | Route::MfpRetry(id)
            | Route::UploadGet(id)
            | Route::UploadRetry(id)
            | Route::UploadRows(id)
            | Route::MfpResult(id, _)
            | Route::UploadResult(id, _) => Some(id),
            Route::MfpSubmit
            | Route::MfpUpload
            | Route::MfpList
            | Route::UploadCreate
            | Route::UploadStaged
            | Route::UploadList => None,
        }
    }

    /// The route of `method path`. Any stage prefix is ignored. Entrust's paths match exactly;
    /// PVWA's case-insensitively and with or without a trailing slash, as the real product does.
    pub fn parse(method: &str, path: &str) -> Option<Self> {
        let method = method.to_ascii_uppercase();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        Self::entrust(&method, &segments).or_else(|| Self::pvwa(&method, &segments))
    }

    fn entrust(method: &str, segments: &[&str]) -> Option<Self> {
        let start = segments.iter().position(|s| *s == "api")?;
        let route = match (method, &segments[start..]) {
            ("POST", ["api", "web", "v2", "mobileFlashPass"]) => Self::MfpSubmit,
            ("POST", ["api", "web", "v2", "mobileFlashPass", "uploads"]) => Self::MfpUpload,
            ("POST", ["api", "web", "v2", "mobileFlashPass", id, "retry"]) => {
                Self::MfpRetry(id.to_string())
            }
            ("GET", ["api", "web", "v1", "mobileFlashPass"]) => Self::MfpList,
            ("GET", ["api", "web", "v1", "mobileFlashPass", id]) => Self::MfpGet(id.to_string()),
            ("GET", ["api", "web", "v2", "mobileFlashPass", "download", "logs", id]) => {
                Self::MfpLogs(id.to_string())
            }
            ("GET", ["api", "web", "v2", "mobileFlashPass", id, "rows"]) => {
                Self::MfpRows(id.to_string())
            }
            ("GET", ["api", "web", "v2", "mobileFlashPass", id, "results", file]) => {
                Self::MfpResult(id.to_string(), file.to_string())
            }
            ("DELETE", ["api", "web", "v1", "mobileFlashPass", "cancel", id]) => {
                Self::MfpCancel(id.to_string())
            }
            _ => return None,
        };
        Some(route)
    }

    fn pvwa(method: &str, segments: &[&str]) -> Option<Self> {
        let start = segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case("PasswordVault"))?;
        let rest = &segments[start + 1..];
        let prefix = ["api", "bulkactions", "accounts"];
        let is_uploads = rest.len() >= prefix.len()
            && rest
                .iter()
                .zip(prefix)
                .all(|(s, p)| s.eq_ignore_ascii_case(p));
        if !is_uploads {
            return None;
        }
        match (method, &rest[prefix.len()..]) {
            ("POST", []) => Some(Self::UploadCreate),
            ("GET", []) => Some(Self::UploadList),
            // The id keeps its original spelling (it is a number anyway).
            ("GET", [id]) => Some(Self::UploadGet(id.to_string())),
            ("POST", [uploads]) if uploads.eq_ignore_ascii_case("uploads") => {
                Some(Self::UploadStaged)
            }
            ("POST", [id, retry]) if retry.eq_ignore_ascii_case("retry") => {
                Some(Self::UploadRetry(id.to_string()))
            }
            ("GET", [id, rows]) if rows.eq_ignore_ascii_case("rows") => {
                Some(Self::UploadRows(id.to_string()))
            }
            // The file's name is matched exactly: it is an object's name.
            ("GET", [id, results, file]) if results.eq_ignore_ascii_case("results") => {
                Some(Self::UploadResult(id.to_string(), file.to_string()))
            }
            _ => None,
        }
    }

    /// The route's canonical path (as the route table spells it).
    pub fn path(&self) -> String {
        const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";
        match self {
            Self::MfpSubmit => "/api/web/v2/mobileFlashPass".to_owned(),
            Self::MfpUpload => "/api/web/v2/mobileFlashPass/uploads".to_owned(),
            Self::MfpList => "/api/web/v1/mobileFlashPass".to_owned(),
            Self::MfpGet(id) => format!("/api/web/v1/mobileFlashPass/{id}"),
            Self::MfpLogs(id) => format!("/api/web/v2/mobileFlashPass/download/logs/{id}"),
            Self::MfpCancel(id) => format!("/api/web/v1/mobileFlashPass/cancel/{id}"),
            Self::MfpRetry(id) => format!("/api/web/v2/mobileFlashPass/{id}/retry"),
            Self::MfpRows(id) => format!("/api/web/v2/mobileFlashPass/{id}/rows"),
            Self::MfpResult(id, file) => {
                format!("/api/web/v2/mobileFlashPass/{id}/results/{file}")
            }
            Self::UploadCreate | Self::UploadList => UPLOADS.to_owned(),
            Self::UploadStaged => format!("{UPLOADS}/uploads"),
            Self::UploadGet(id) => format!("{UPLOADS}/{id}"),
            Self::UploadRetry(id) => format!("{UPLOADS}/{id}/retry"),
            Self::UploadRows(id) => format!("{UPLOADS}/{id}/rows"),
            Self::UploadResult(id, file) => format!("{UPLOADS}/{id}/results/{file}"),
        }
    }

    /// The function API Gateway sends this route to.
    pub fn function(&self) -> Function {
        match self {
            Self::MfpSubmit
            | Self::MfpRetry(_)
            | Self::MfpUpload
            | Self::UploadCreate
            | Self::UploadStaged
            | Self::UploadRetry(_) => Function::Submit,
            Self::MfpCancel(_) => Function::Cancel,
            _ => Function::Query,
        }
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
