//! A canned HTTP server for the client's tests (axum, as the local server): each request is
//! recorded and answered by a closure.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use tokio::net::TcpListener;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Answer = dyn Fn(&Recorded) -> (u16, String) + Send + Sync;

pub struct TestServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Serves on a free local port; `answer` gives each request's status and JSON body. Each
    /// request is recorded before it is answered, so a test sees it once the client has its
    /// answer.
    pub async fn start(
        answer: impl Fn(&Recorded) -> (u16, String) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::new(answer);
        let recorded = requests.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (answer, recorded) = (answer.clone(), recorded.clone());
                async move {
                    let request = Recorded {
                        method: method.to_string(),
                        path: uri
                            .path_and_query()
                            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
                        headers: headers
                            .iter()
                            .map(|(n, v)| {
                                (
                                    n.to_string(),
                                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                )
                            })
                            .collect(),
                        body: body.to_vec(),
                    };
                    recorded.lock().expect("lock").push(request.clone());
                    let (status, text) = answer(&request);
                    let status = StatusCode::from_u16(status).expect("a status code");
                    (status, [(header::CONTENT_TYPE, "application/json")], text)
                }
            },
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self {
            url,
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
