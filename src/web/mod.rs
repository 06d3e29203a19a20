//! `vanban serve`: the office's web page (server-rendered HTML for clerks, approvers and admins)
//! and the scheduler, in one process sharing one instance lock.
//!
//! Layout: [`routes`] maps URLs to handlers, [`pages`] renders the HTML templates, [`actions`]
//! does the work behind a form (upload, check, render, send) on blocking threads, [`drafts`]
//! records which drafts the page shows (from which upload, with which content), [`sessions`]
//! and [`auth`] decide who is asking and what they may do, [`store`] keeps the page's tables,
//! `input::xlsx::guard` measures an uploaded Excel workbook before anything reads it.

pub mod actions;
pub mod auth;
pub mod drafts;
pub mod pages;
pub mod routes;
pub mod sessions;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::clock::Clock;
use crate::config::Config;
use crate::render::pdf::PdfError;
use crate::render::templates::Templates;
use crate::render::{BackendError, Backends, Formats};
use crate::shutdown::StopSignal;
use crate::state::{InstanceLock, LockError};

/// Everything a request handler may use; shared by all of them.
pub struct App {
    pub config: Config,
    pub store: store::WebStore,
    pub clock: Arc<dyn Clock>,
    pub pages: pages::Pages,
    pub backends: Backends,
    /// The PNG thumbnails, from the Typst templates (in render workers, as the backends).
    pub previews: crate::render::Previews,
    pub lock: Arc<InstanceLock>,
    pub stop: Arc<StopSignal>,
    /// One send from the page at a time: a second click waits instead of racing the first.
    pub sending: Mutex<()>,
}

impl App {
    /// The folder holding the state database: uploads and previews live under `web/` in it.
    pub fn state_dir(&self) -> PathBuf {
        // On PostgreSQL (no file): beside the configuration.
        let beside = self.config.state.file().unwrap_or(&self.config.path);
        beside
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    pub fn uploads_dir(&self) -> PathBuf {
        self.state_dir().join("web").join("uploads")
    }

    pub fn previews_dir(&self) -> PathBuf {
        self.state_dir().join("web").join("previews")
    }
}

/// What a request can fail with; the Vietnamese text is what the user reads.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("Bạn không có quyền làm việc này.")]
    Forbidden,
    #[error(
        "Biểu mẫu không hợp lệ hoặc đã hết hạn (thiếu mã chống giả mạo). Hãy tải lại trang và thử lại."
    )]
    Csrf,
    #[error("Không tìm thấy trang hoặc tệp này.")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    /// The request was made on a view of the period that is no longer true (the approver's
    /// drafts changed since the page showed them): refused, nothing done.
    #[error("{0}")]
    Conflict(String),
    #[error("Tệp quá lớn: giới hạn là {limit_kb} KB.")]
    TooLarge { limit_kb: u64 },
    #[error(transparent)]
    Store(#[from] store::WebStoreError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    /// An uploaded workbook refused before it is read: a zip bomb, or not a zip at all.
    #[error(transparent)]
    Workbook(#[from] crate::input::xlsx::guard::WorkbookError),
    #[error("{0}")]
    Internal(String),
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::BadRequest(_) | WebError::Workbook(_) => StatusCode::BAD_REQUEST,
            WebError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Store(_) | WebError::Auth(_) | WebError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "trang web: lỗi khi xử lý yêu cầu");
        }
        // Plain and self-contained: an error page must not depend on the templates working.
        let body = format!(
            "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Lỗi</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
             <body><main class=\"error\"><h1>Không thực hiện được</h1><p>{}</p>\
             <p><a href=\"/\">Về trang chính</a></p></main></body></html>",
            pages::escape(&self.to_string())
        );
        (status, Html(body)).into_response()
    }
}

/// Runs `work` on tokio's blocking pool: database, rendering and SMTP never hold up the
/// threads that answer other requests.
pub async fn blocking<T, F>(work: F) -> Result<T, WebError>
where
    F: FnOnce() -> Result<T, WebError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| WebError::Internal(format!("Lỗi nội bộ: {e}")))?
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] store::WebStoreError),
    #[error(transparent)]
    Backends(#[from] BackendError),
    #[error("không nạp được mẫu Typst cho ảnh xem trước: {0}")]
    Previews(#[from] PdfError),
    #[error("không nạp được mẫu trang web: {0}")]
    Pages(String),
    #[error("không mở được cổng {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("không khởi động được máy chủ web: {0}")]
    Runtime(std::io::Error),
}

/// A running page (and scheduler): its address, and how to stop it.
pub struct Server {
    pub addr: SocketAddr,
    stop: Arc<StopSignal>,
    web: std::thread::JoinHandle<()>,
    scheduler: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Asks both to stop and waits for them.
    pub fn stop(self) {
        self.stop.request();
        self.wait();
    }

    /// Waits until a stop was requested (a signal, or [`stop`](Self::stop)) and both ended.
    pub fn wait(self) {
        let _ = self.web.join();
        if let Some(scheduler) = self.scheduler {
            let _ = scheduler.join();
        }
    }
}

/// Takes the instance lock, opens the page's tables, binds `config.web.listen` (or `listen`),
/// and serves until `stop` is requested. With `scheduler`, the jobs of the config run on their
/// own thread under the same lock.
pub fn start(
    config: Config,
    listen: Option<SocketAddr>,
    clock: Arc<dyn Clock>,
    stop: Arc<StopSignal>,
    scheduler: bool,
) -> Result<Server, ServeError> {
    let lock = Arc::new(InstanceLock::acquire_state(&config.state, clock.now())?);
    let store = store::WebStore::new(
        crate::state::Store::open_state(&config.state).map_err(store::WebStoreError::from)?,
    );
    let templates = config
        .templates_dir
        .clone()
        .map(Templates::with_overrides)
        .unwrap_or_default();
    let limits = crate::render::Limits::from_config(&config.limits);
    let backends = Backends::with_pdf_from(&templates, Formats::Both, limits, config.pdf_from)?;
    let previews = crate::render::Previews::new(&templates, limits)?;
    let pages = pages::Pages::new().map_err(ServeError::Pages)?;
    let addr = listen.unwrap_or(config.web.listen);
    let std_listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    std_listener
        .set_nonblocking(true)
        .map_err(|source| ServeError::Bind { addr, source })?;
    let addr = std_listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;

    let scheduler = match scheduler && !config.jobs.is_empty() {
        true => {
            let config = config.clone();
            let lock = Arc::clone(&lock);
            let stop = Arc::clone(&stop);
            Some(std::thread::spawn(move || {
                if let Err(e) = crate::schedule::run::serve_locked(&config, lock, &stop) {
                    tracing::error!(error = %e, "bộ lập lịch dừng vì lỗi");
                }
            }))
        }
        false => None,
    };

    let app = Arc::new(App {
        config,
        store,
        clock,
        pages,
        backends,
        previews,
        lock,
        stop: Arc::clone(&stop),
        sending: Mutex::new(()),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let web_stop = Arc::clone(&stop);
    let web = std::thread::spawn(move || {
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(std_listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(error = %e, "trang web: không dùng được cổng đã mở");
                    web_stop.request();
                    return;
                }
            };
            let header_timeout = app.config.web.header_timeout;
            let router = routes::router(app);
            serve(listener, router, header_timeout, &web_stop).await;
        });
    });
    Ok(Server {
        addr,
        stop,
        web,
        scheduler,
    })
}

/// Serves `router` on `listener` until a stop is requested, then lets the requests under way
/// finish. HTTP/1.1 through hyper with a timer, so that a connection which has not sent a whole
/// request head within `header_timeout` (a slowloris client trickling its headers to hold
/// connections open) is closed: `axum::serve` gives hyper no timer, and without one hyper's
/// header timeout never fires.
async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    header_timeout: Duration,
    stop: &StopSignal,
) {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt;

    // Told to the connections when the page stops; each holds a `closed` receiver until it ends.
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(());
    let (closed_tx, closed_rx) = tokio::sync::watch::channel(());
    let stop_requested = async {
        while !stop.is_requested() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let mut stop_requested = std::pin::pin!(stop_requested);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, typically: wait instead of spinning.
                    tracing::warn!(error = %e, "trang web: không nhận được kết nối mới");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop_requested => break,
        };
        // Handlers read the client's socket address (`ConnectInfo`), as axum::serve gives it.
        let service = router.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request.map(axum::body::Body::new)
            },
        );
        let service = TowerToHyperService::new(service);
        let mut stopping = stopping_rx.clone();
        let closed = closed_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            // A client that timed out or hung up: nothing for the log above debug.
            if let Err(e) = ended {
                tracing::debug!(error = %e, client = %remote, "trang web: kết nối đóng");
            }
            drop(closed);
        });
    }
    drop(listener);
    let _ = stopping_tx.send(());
    drop(closed_rx);
    closed_tx.closed().await;
}

/// Whether a stop has been requested (for long loops in handlers).
pub fn stopping(stop: &StopSignal) -> bool {
    stop.is_requested()
}
