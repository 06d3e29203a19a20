//! URLs and their handlers: each checks the session, the role and (for a POST) the CSRF token
//! before anything else, then hands the work to [`actions`] or the store on a
//! blocking thread and renders a page.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue,
    SET_COOKIE,
};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::actions;
use super::auth::{self, MIN_PASSWORD_CHARS, Permission, Role};
use super::sessions::{self, SignedIn};
use super::{App, WebError, blocking};
use crate::clock::VIETNAM;
use crate::issue::approval::Decision;

type AppState = State<Arc<App>>;

/// The login form's own anti-forgery cookie (there is no session yet to hold a token).
const LOGIN_COOKIE: &str = "vanban_login";

/// The largest login form body read.
const LOGIN_BODY_LIMIT: usize = 16 * 1024;

pub fn router(app: Arc<App>) -> Router {
    // Room for the multipart framing around the largest allowed period file and attachments.
    let web = &app.config.web;
    let limit = ((web.upload_limit_kb + web.attachments_limit_kb) * 1024 + 64 * 1024) as usize;
    Router::new()
        // A login form is a few hundred bytes: its body is never read past 16 KB.
        .route(
            "/login",
            get(login_page)
                .post(login)
                .layer(DefaultBodyLimit::max(LOGIN_BODY_LIMIT)),
        )
        .route("/logout", post(logout))
        .route("/", get(home))
        .route("/upload", post(upload))
        .route("/uploads/{id}", get(upload_page))
        .route("/periods/{key}", get(period_page))
        .route("/periods/{key}/render", post(render_drafts))
        .route("/periods/{key}/send", post(send))
        .route("/periods/{key}/resend", post(resend))
        .route("/periods/{key}/copy", post(copy_document))
        .route("/periods/{key}/copies/{name}", get(copy_file))
        .route("/periods/{key}/submit", post(submit_drafts))
        .route("/periods/{key}/approve", post(approve))
        .route("/periods/{key}/return", post(return_drafts))
        .route("/periods/{key}/documents/{stem}", get(preview))
        .route("/periods/{key}/files/{name}", get(file))
        .route("/periods/{key}/thumbs/{stem}/{page}", get(thumbnail))
        .route("/admin/users", get(users))
        .route("/admin/users/add", post(add_user))
        .route("/admin/users/update", post(update_user))
        .route("/admin/units", get(units))
        .route("/admin/jobs", get(jobs))
        .route("/admin/register", get(register))
        .route("/admin/ledger", get(ledger))
        .route("/static/app.css", get(stylesheet))
        .route("/static/app.js", get(script))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::map_response(security_headers))
        .with_state(app)
}

/// Every answer: no framing by other sites, no guessing of types, scripts only from here, and
/// nothing cached (pages show live state and private documents).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
    );
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "SAMEORIGIN");
    set(headers, "referrer-policy", "same-origin");
    if !headers.contains_key(CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
    response
}

/// "dd/mm/yyyy HH:MM" in Vietnam time, from a stored RFC 3339 time.
fn local_text(stored: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(stored)
        .map(|t| local_minutes(t.with_timezone(&chrono::Utc)))
        .unwrap_or_else(|_| stored.to_string())
}

/// A time as the pages show it: Vietnam time, to the minute.
fn local_minutes(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&VIETNAM)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

// ---- login and logout ----

async fn login_page(State(app): AppState) -> Result<Response, WebError> {
    login_form(&app, StatusCode::OK, "", "")
}

/// The login page with a fresh anti-forgery token, in a cookie and in the form.
fn login_form(
    app: &App,
    status: StatusCode,
    message: &str,
    username: &str,
) -> Result<Response, WebError> {
    let token = auth::random_token()?;
    let page = app.pages.render(
        "login.html",
        None,
        json!({"message": message, "username": username, "login_token": token}),
    )?;
    let secure = if app.config.web.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/login; Max-Age=3600; HttpOnly; SameSite=Strict{secure}"
    );
    let mut response = (status, page).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    login_token: String,
}

async fn login(
    State(app): AppState,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let cookie = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if form.login_token.is_empty() || !auth::same_secret(&form.login_token, &cookie) {
        return Err(WebError::Csrf);
    }
    let ip =
        sessions::client_address(addr.ip(), &headers, &app.config.web.trusted_proxies).to_string();
    let app2 = Arc::clone(&app);
    let typed = form.username.trim().to_string();
    let outcome = blocking(move || check_login(&app2, &typed, &form.password, &ip)).await?;
    match outcome {
        LoginOutcome::Ok { session_id } => {
            let max_age = i64::from(app.config.web.session_hours) * 3600;
            let mut response = Redirect::to("/").into_response();
            response.headers_mut().insert(
                SET_COOKIE,
                sessions::session_cookie(&session_id, max_age, app.config.web.secure_cookies),
            );
            Ok(response)
        }
        LoginOutcome::Wrong { username } => login_form(
            &app,
            StatusCode::UNAUTHORIZED,
            "Tên đăng nhập hoặc mật khẩu không đúng.",
            &username,
        ),
        LoginOutcome::Throttled { username } => login_form(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Đăng nhập sai quá {} lần. Hãy chờ {} phút rồi thử lại, hoặc nhờ quản trị viên.",
                auth::MAX_FAILURES,
                auth::ATTEMPT_WINDOW.num_minutes()
            ),
            &username,
        ),
    }
}

enum LoginOutcome {
    Ok { session_id: String },
    Wrong { username: String },
    Throttled { username: String },
}

/// Checks a login. `typed` is the name as typed: only its safe form ([`auth::tried_name`]) is
/// counted, stored, logged and shown back; it is looked up only when it is a valid user name.
fn check_login(app: &App, typed: &str, password: &str, ip: &str) -> Result<LoginOutcome, WebError> {
    let username = auth::tried_name(typed);
    let username = username.as_str();
    let now = app.clock.now();
    let since = auth::window_start(now);
    let (by_user, _) = app.store.failures_since(username, ip, since)?;
    let by_ip = app.store.account_failures_from(ip, since)?;
    if auth::throttled(by_user, by_ip) {
        app.store
            .audit(username, ip, "đăng nhập bị chặn", "quá nhiều lần sai", now)?;
        // Slow as well as refused: a guesser gets one answer a second at most per thread.
        std::thread::sleep(std::time::Duration::from_secs(1));
        return Ok(LoginOutcome::Throttled {
            username: username.to_string(),
        });
    }
    let user = match auth::valid_user_name(typed) {
        true => app.store.user(typed)?,
        false => None,
    };
    let hash = user
        .as_ref()
        .map_or(auth::decoy_hash(), |u| u.password_hash.as_str());
    let matches = auth::verify_password(password, hash);
    let user = user.filter(|u| matches && u.active);
    app.store
        .record_attempt(username, ip, user.is_some(), now)?;
    let Some(user) = user else {
        app.store.audit(username, ip, "đăng nhập sai", "", now)?;
        return Ok(LoginOutcome::Wrong {
            username: username.to_string(),
        });
    };
    let session_id = auth::random_token()?;
    let csrf = auth::random_token()?;
    let expires = now + chrono::Duration::hours(i64::from(app.config.web.session_hours));
    app.store.create_session(
        &auth::sha256_hex(&session_id),
        user.id,
        &csrf,
        now,
        expires,
        ip,
    )?;
    app.store.audit(&user.name, ip, "đăng nhập", "", now)?;
    Ok(LoginOutcome::Ok { session_id })
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(app): AppState,
    who: SignedIn,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    who.check_csrf(&form.csrf)?;
    let id = cookie_value(&headers, sessions::COOKIE_NAME).unwrap_or_default();
    let app2 = Arc::clone(&app);
    blocking(move || {
        app2.store.delete_session(&auth::sha256_hex(&id))?;
        app2.store
            .audit(&who.user.name, &who.ip, "đăng xuất", "", app2.clock.now())?;
        Ok(())
    })
    .await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        sessions::clear_cookie(app.config.web.secure_cookies),
    );
    Ok(response)
}

// ---- periods ----

async fn home(State(app): AppState, who: SignedIn) -> Result<Html<String>, WebError> {
    blocking(move || {
        let now = app.clock.now();
        let with_time = |u: &super::store::Upload| {
            let mut v = serde_json::to_value(u).unwrap_or_default();
            v["at_text"] = json!(local_text(&u.at));
            v
        };
        let periods: Vec<_> = app.store.periods()?.iter().map(with_time).collect();
        let uploads: Vec<_> = match Permission::Prepare.allowed(who.role()) {
            true => app
                .store
                .recent_uploads(10)?
                .iter()
                .map(with_time)
                .collect(),
            false => Vec::new(),
        };
        let next_firings: Vec<_> = app
            .config
            .jobs
            .iter()
            .map(|job| {
                let next = job.schedule.next_after(now).map_or_else(
                    || "không còn lần nào".to_string(),
                    |t| {
                        t.with_timezone(&VIETNAM)
                            .format("%H:%M ngày %d/%m/%Y")
                            .to_string()
                    },
                );
                let action = match job.action {
                    crate::config::Action::Render => "tạo văn bản",
                    crate::config::Action::Send => "gửi",
                };
                json!({"job": job.name, "action": action, "next": next})
            })
            .collect();
        app.pages.render(
            "periods.html",
            Some(&who),
            json!({
                "periods": periods,
                "uploads": uploads,
                "next_firings": next_firings,
                "limit_kb": app.config.web.upload_limit_kb,
                "attachments_limit_kb": app.config.web.attachments_limit_kb,
            }),
        )
    })
    .await
}

async fn upload(
    State(app): AppState,
    who: SignedIn,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    who.require(Permission::Prepare)?;
    // The whole body: the period file and its attachments.
    let limit_kb = app.config.web.upload_limit_kb + app.config.web.attachments_limit_kb;
    // Refused before a byte of the body is read, when the size is declared.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit_kb * 1024 + 64 * 1024) {
        return Err(WebError::TooLarge { limit_kb });
    }
    let too_large = |e: axum::extract::multipart::MultipartError| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => WebError::TooLarge { limit_kb },
        _ => WebError::BadRequest(format!("Không đọc được tệp tải lên: {e}")),
    };
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut attachments: Vec<(String, Vec<u8>)> = Vec::new();
    // Each part is read only as far as its own limit: the period file's, and for attachments
    // what is left of theirs together.
    let file_limit = app.config.web.upload_limit_kb * 1024;
    let attachments_limit = app.config.web.attachments_limit_kb * 1024;
    let mut attachments_read = 0u64;
    while let Some(mut field) = multipart.next_field().await.map_err(too_large)? {
        let field_name = field.name().map(str::to_string);
        match field_name.as_deref() {
            Some("csrf") => csrf = field.text().await.map_err(too_large)?,
            Some(which @ ("file" | "attachments")) => {
                // The token comes first in the form: a forged form is refused before its file
                // is read.
                who.check_csrf(&csrf)?;
                let name = field.file_name().unwrap_or_default().to_string();
                let (limit, refused) = match which {
                    "file" => (file_limit, app.config.web.upload_limit_kb),
                    _ => (
                        attachments_limit - attachments_read,
                        app.config.web.attachments_limit_kb,
                    ),
                };
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(too_large)? {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(WebError::TooLarge { limit_kb: refused });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                match which {
                    "file" => file = Some((name, bytes)),
                    // A file input left empty still sends a part, nameless and empty.
                    _ if name.is_empty() && bytes.is_empty() => {}
                    _ if attachments.len() >= actions::MAX_ATTACHMENTS => {
                        return Err(WebError::BadRequest(format!(
                            "Tối đa {} tệp kèm theo một lần tải lên.",
                            actions::MAX_ATTACHMENTS
                        )));
                    }
                    _ => {
                        attachments_read += bytes.len() as u64;
                        attachments.push((name, bytes));
                    }
                }
            }
            _ => {}
        }
    }
    who.check_csrf(&csrf)?;
    let Some((name, bytes)) = file else {
        return Err(WebError::BadRequest("Chưa chọn tệp để tải lên.".into()));
    };
    let upload =
        blocking(move || actions::accept_upload(&app, &who, &name, &bytes, &attachments)).await?;
    Ok(Redirect::to(&format!("/uploads/{}", upload.id)).into_response())
}

async fn upload_page(
    State(app): AppState,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Html<String>, WebError> {
    who.require(Permission::Prepare)?;
    blocking(move || {
        let upload = app
            .store
            .recent_uploads(u32::MAX)?
            .into_iter()
            .find(|u| u.id == id)
            .ok_or(WebError::NotFound)?;
        app.pages
            .render("upload.html", Some(&who), json!({ "upload": upload }))
    })
    .await
}

fn period_html(
    app: &App,
    who: &SignedIn,
    key: &str,
    message: &str,
) -> Result<Html<String>, WebError> {
    period_html_with(app, who, key, message, None)
}

/// The period page with the result of an action and, when it made a copy, its file name for the
/// download link.
fn period_html_with(
    app: &App,
    who: &SignedIn,
    key: &str,
    message: &str,
    copy: Option<&str>,
) -> Result<Html<String>, WebError> {
    let view = actions::period_view(app, key)?;
    let mut upload = serde_json::to_value(&view.upload).unwrap_or_default();
    upload["at_text"] = json!(local_text(&view.upload.at));
    app.pages.render(
        "period.html",
        Some(who),
        json!({
            "period": {"key": view.key, "label": view.label},
            "documents": view.documents,
            "deliveries": view.deliveries,
            "units": view.units,
            "upload": upload,
            "message": message,
            "copy": copy,
            "stale_drafts": view.stale_drafts,
            "shown": view.shown,
        }),
    )
}

async fn period_page(
    State(app): AppState,
    who: SignedIn,
    Path(key): Path<String>,
) -> Result<Html<String>, WebError> {
    blocking(move || period_html(&app, &who, &key, "")).await
}

async fn render_drafts(
    State(app): AppState,
    who: SignedIn,
    Path(key): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Html<String>, WebError> {
    who.check_csrf(&form.csrf)?;
    who.require(Permission::Prepare)?;
    blocking(move || {
        let message = actions::render_drafts(&app, &who, &key)?;
        period_html(&app, &who, &key, &message)
    })
    .await
}

async fn send(
    State(app): AppState,
    who: SignedIn,
    Path(key): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Html<String>, WebError> {
    who.check_csrf(&form.csrf)?;
    who.require(Permission::Prepare)?;
    blocking(move || {
        let message = actions::send_period(&app, &who, &key, None)?;
        period_html(&app, &who, &key, &message)
    })
    .await
}

#[derive(Deserialize)]
struct ResendForm {
    #[serde(default)]
    csrf: String,
    unit: String,
    reason: String,
}

async fn resend(
    State(app): AppState,
    who: SignedIn,
    Path(key): Path<String>,
    Form(form): Form<ResendForm>,
) -> Result<Html<String>, WebError> {
    who.check_csrf(&form.csrf)?;
    who.require(Permission::Prepare)?;
    blocking(move || {
        let message = actions::send_period(&app, &who, &key, Some((form.unit, form.reason)))?;
        period_html(&app, &who, &key, &message)
    })
    .await
}

#[derive(Deserialize)]
struct CopyForm {
    #[serde(default)]
    csrf: String,
    /// The issued document's file stem, e.g. "02-thong-bao-ket-luan".
    #[serde(default)]
    stem: String,
}

/// The clerk makes an electronic copy (sao y) of an issued document: signed with the
/// organisation's key, recorded, offered for download.
async fn copy_document(
    State(app): AppState,
    who: SignedIn,
    Path(key): Path<String>,
    Form(form): Form<CopyForm>,
) -> Result<Html<String>, WebError> {
    who.check_csrf(&form.csrf)?;
    who.require(Permission::Prepare)?;
    blocking(move || {
        let (message, file) = actions::copy_document(&app, &who, &key, &form.stem)?;
        period_html_with(&app, &who, &key, &message, file.as_deref())
    })
    .await
}

async fn copy_file(
    State(app): AppState,
    _who: SignedIn,
    Path((key, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let name2 = name.clone();
    let bytes = blocking(move || actions::copy_file(&app, &key, &name2)).await?;
    // The name passed `valid_file_part`: ASCII letters, digits, '-', '_' and '.', safe in a header.
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/pdf")),
            (
                CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(|_| WebError::NotFound)?,
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The clerk submits the drafts for approval: recorded, and mailed to the approvers.
async fn submit_drafts(
    State(app): AppState,
    who: SignedIn,
    Path(key): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Html<String>, WebError> {
    who.check_csrf(&form.csrf)?;
    who.require(Permission::Prepare)?;
    blocking(move || {
        let message = actions::submit(&app, &who, &key)?;
        period_html(&app, &who, &key, &message)
    })
    .await
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    /// A kind's slug, or empty for every document.
    #[serde(default)]
    only: String,
    /// A unit id: that unit's letter only; empty for all.
    #[serde(default)]
    unit: String,
    /// The note of an approval, the reason of a return.
    #[serde(default)]
    note: String,
    /// What the page showed of each draft ("stem:sha256,…"): the decision is on that content.
    #[serde(default)]
    shown: String,
}

async fn approve(
    State(app): AppState,
    who: SignedIn,
    Path(key): Path<String>,
    Form(form): Form<DecideForm>,
) -> Result<Response, WebError> {
    decide(app, who, key, form, Decision::Approved).await
}

async fn return_drafts(
    State(app): AppState,
    who: SignedIn,
    Path(key): Path<String>,
    Form(form): Form<DecideForm>,
) -> Result<Response, WebError> {
    decide(app, who, key, form, Decision::Returned).await
}

/// The approver's decision, the same one `vanban approve`/`return` records, on the drafts as
/// the page showed them. Refused when they render otherwise now: the period page comes back
/// (409) with the reason and the drafts as they are now, for the approver to look again.
async fn decide(
    app: Arc<App>,
    who: SignedIn,
    key: String,
    form: DecideForm,
    decision: Decision,
) -> Result<Response, WebError> {
    who.check_csrf(&form.csrf)?;
    who.require(Permission::Approve)?;
    blocking(move || {
        let decided = actions::decide(
            &app,
            &who,
            &key,
            decision,
            &form.only,
            &form.unit,
            &form.note,
            &form.shown,
        );
        match decided {
            Ok(message) => Ok(period_html(&app, &who, &key, &message)?.into_response()),
            Err(WebError::Conflict(message)) => {
                let page = period_html(&app, &who, &key, &message)?;
                Ok((StatusCode::CONFLICT, page).into_response())
            }
            Err(e) => Err(e),
        }
    })
    .await
}

async fn preview(
    State(app): AppState,
    who: SignedIn,
    Path((key, stem)): Path<(String, String)>,
) -> Result<Html<String>, WebError> {
    blocking(move || {
        let (document, pages, sources) = actions::preview(&app, &key, &stem)?;
        app.pages.render(
            "preview.html",
            Some(&who),
            json!({
                "period": key,
                "document": document,
                "pages": (1..=pages).collect::<Vec<_>>(),
                "sources": sources,
            }),
        )
    })
    .await
}

#[derive(Deserialize)]
struct FileQuery {
    download: Option<String>,
}

async fn file(
    State(app): AppState,
    _who: SignedIn,
    Path((key, name)): Path<(String, String)>,
    Query(query): Query<FileQuery>,
) -> Result<Response, WebError> {
    let content_type = match name.rsplit_once('.').map(|(_, e)| e) {
        Some("pdf") => "application/pdf",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => return Err(WebError::NotFound),
    };
    let name2 = name.clone();
    let bytes = blocking(move || actions::draft_file(&app, &key, &name2)).await?;
    let disposition = match query.download.is_some() {
        true => "attachment",
        false => "inline",
    };
    // The name passed `valid_file_part`: ASCII letters, digits, '-', '_' and '.', safe in a header.
    let disposition = format!("{disposition}; filename=\"{name}\"");
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(|_| WebError::NotFound)?,
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn thumbnail(
    State(app): AppState,
    _who: SignedIn,
    Path((key, stem, page)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let page: usize = page
        .strip_suffix(".png")
        .and_then(|n| n.parse().ok())
        .ok_or(WebError::NotFound)?;
    let bytes = blocking(move || actions::thumbnail(&app, &key, &stem, page)).await?;
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("image/png"))],
        bytes,
    )
        .into_response())
}

// ---- administration ----

#[derive(Deserialize)]
struct UserForm {
    #[serde(default)]
    csrf: String,
    name: String,
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    active: String,
}

fn users_html(app: &App, who: &SignedIn, message: &str) -> Result<Html<String>, WebError> {
    let users: Vec<_> = app
        .store
        .users()?
        .into_iter()
        .map(|u| {
            json!({"name": u.name, "role": u.role.as_str(), "role_label": u.role.label_vi(),
                   "active": u.active})
        })
        .collect();
    let roles: Vec<_> = Role::ALL
        .iter()
        .map(|r| json!({"value": r.as_str(), "label": r.label_vi()}))
        .collect();
    let audit: Vec<_> = app
        .store
        .audit_recent(200)?
        .into_iter()
        .map(|mut a| {
            a.at = local_text(&a.at);
            a
        })
        .collect();
    app.pages.render(
        "users.html",
        Some(who),
        json!({"users": users, "roles": roles, "audit": audit, "message": message,
               "min_password": MIN_PASSWORD_CHARS}),
    )
}

async fn users(State(app): AppState, who: SignedIn) -> Result<Html<String>, WebError> {
    who.require(Permission::Administer)?;
    blocking(move || users_html(&app, &who, "")).await
}

async fn add_user(
    State(app): AppState,
    who: SignedIn,
    Form(form): Form<UserForm>,
) -> Result<Html<String>, WebError> {
    who.check_csrf(&form.csrf)?;
    who.require(Permission::Administer)?;
    let role = Role::parse(&form.role)
        .ok_or_else(|| WebError::BadRequest(format!("Vai trò \"{}\" không có.", form.role)))?;
    if !auth::valid_user_name(&form.name) {
        return Err(WebError::BadRequest(
            "Tên đăng nhập chỉ gồm chữ, số, dấu chấm, gạch ngang, gạch dưới (tối đa 64 ký tự)."
                .into(),
        ));
    }
    if form.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(WebError::BadRequest(format!(
            "Mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự."
        )));
    }
    blocking(move || {
        let hash = auth::hash_password(&form.password)?;
        let now = app.clock.now();
        app.store.add_user(&form.name, role, &hash, now)?;
        app.store.audit(
            &who.user.name,
            &who.ip,
            "thêm tài khoản",
            &format!("{} ({})", form.name, role.as_str()),
            now,
        )?;
        users_html(&app, &who, &format!("Đã thêm tài khoản {}.", form.name))
    })
    .await
}

async fn update_user(
    State(app): AppState,
    who: SignedIn,
    Form(form): Form<UserForm>,
) -> Result<Html<String>, WebError> {
    who.check_csrf(&form.csrf)?;
    who.require(Permission::Administer)?;
    let role = Role::parse(&form.role)
        .ok_or_else(|| WebError::BadRequest(format!("Vai trò \"{}\" không có.", form.role)))?;
    let active = form.active != "0";
    if form.name == who.user.name && (role != Role::Admin || !active) {
        return Err(WebError::BadRequest(
            "Không tự bỏ quyền quản trị hay tự khóa tài khoản của mình; nhờ một quản trị viên khác."
                .into(),
        ));
    }
    blocking(move || {
        let now = app.clock.now();
        app.store.update_user(&form.name, role, active, now)?;
        app.store.audit(
            &who.user.name,
            &who.ip,
            "đổi tài khoản",
            &format!(
                "{}: {}, {}",
                form.name,
                role.as_str(),
                if active { "đang dùng" } else { "khóa" }
            ),
            now,
        )?;
        users_html(&app, &who, &format!("Đã lưu tài khoản {}.", form.name))
    })
    .await
}

fn table_page(
    app: &App,
    who: &SignedIn,
    heading: &str,
    note: &str,
    columns: &[&str],
    rows: Vec<Vec<String>>,
    extra: serde_json::Value,
) -> Result<Html<String>, WebError> {
    let mut data = json!({"heading": heading, "note": note, "columns": columns, "rows": rows,
                          "search": false, "text": ""});
    if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
        data.extend(extra.clone());
    }
    app.pages.render("table.html", Some(who), data)
}

async fn units(State(app): AppState, who: SignedIn) -> Result<Html<String>, WebError> {
    who.require(Permission::Administer)?;
    blocking(move || {
        let Some(path) = app.config.directory.clone() else {
            return table_page(
                &app,
                &who,
                "Danh bạ đơn vị",
                "Tệp cấu hình chưa khai báo directory = \"…\".",
                &[],
                Vec::new(),
                json!({}),
            );
        };
        let (rows, text) = match crate::input::load_directory(&path) {
            Ok(directory) => (
                directory
                    .units
                    .iter()
                    .map(|u| {
                        let groups: Vec<&str> = directory
                            .groups
                            .iter()
                            .filter(|g| g.members.contains(&u.id))
                            .map(|g| g.id.as_str())
                            .collect();
                        vec![
                            u.id.clone(),
                            u.name.clone(),
                            u.short.clone(),
                            u.emails.join(", "),
                            groups.join(", "),
                        ]
                    })
                    .collect(),
                String::new(),
            ),
            Err(problems) => (Vec::new(), problems.to_string()),
        };
        table_page(
            &app,
            &who,
            "Danh bạ đơn vị",
            &format!(
                "Tệp {} (chỉ xem; sửa tệp này rồi tải lại trang).",
                path.display()
            ),
            &["Mã", "Tên", "Tên ngắn", "Thư điện tử", "Nhóm"],
            rows,
            json!({"text": text}),
        )
    })
    .await
}

async fn jobs(State(app): AppState, who: SignedIn) -> Result<Html<String>, WebError> {
    who.require(Permission::Administer)?;
    blocking(move || {
        let store = crate::state::Store::open_state(&app.config.state)
            .map_err(|e| WebError::Internal(e.to_string()))?;
        let now = app.clock.now();
        let text = crate::schedule::listing::describe_jobs(&app.config, Some(&store.conn()), now)
            .map_err(|e| WebError::Internal(e.to_string()))?;
        let mut rows = Vec::new();
        for job in &app.config.jobs {
            let history = crate::schedule::history(&store.conn(), &job.name, 20)
                .map_err(|e| WebError::Internal(e.to_string()))?;
            for run in history {
                rows.push(vec![
                    run.job.clone(),
                    local_minutes(run.due),
                    run.trigger.as_str().to_string(),
                    run.outcome.to_string(),
                    run.detail.unwrap_or_default(),
                ]);
            }
        }
        table_page(
            &app,
            &who,
            "Tác vụ theo lịch và lịch sử chạy",
            "",
            &[
                "Tác vụ",
                "Lần chạy (giờ Việt Nam)",
                "Kích hoạt",
                "Kết quả",
                "Chi tiết",
            ],
            rows,
            json!({"text": text}),
        )
    })
    .await
}

async fn register(State(app): AppState, who: SignedIn) -> Result<Html<String>, WebError> {
    who.require(Permission::Administer)?;
    blocking(move || {
        let rows = app
            .store
            .register()?
            .into_iter()
            .map(|r| {
                vec![
                    r.year.to_string(),
                    r.issuer,
                    format!("{:02}/{}", r.number, r.symbol),
                    r.document_key,
                    r.issue_date
                        .unwrap_or_else(|| "giữ số, chưa ban hành".into()),
                ]
            })
            .collect();
        table_page(
            &app,
            &who,
            "Sổ đăng ký văn bản đi",
            "",
            &[
                "Năm",
                "Cơ quan ban hành",
                "Số, ký hiệu",
                "Văn bản",
                "Ngày ban hành",
            ],
            rows,
            json!({}),
        )
    })
    .await
}

#[derive(Deserialize)]
struct LedgerQuery {
    #[serde(default)]
    unit: String,
}

async fn ledger(
    State(app): AppState,
    who: SignedIn,
    Query(query): Query<LedgerQuery>,
) -> Result<Html<String>, WebError> {
    who.require(Permission::Administer)?;
    blocking(move || {
        let unit = query.unit.trim().to_string();
        let rows = app
            .store
            .ledger(&unit)?
            .into_iter()
            .map(|r| {
                vec![
                    r.period,
                    r.recipient,
                    r.document,
                    match r.state.as_str() {
                        "pending" => "chờ gửi",
                        "sending" => "đang gửi",
                        "sent" => "đã gửi",
                        "failed" => "gửi lỗi",
                        _ => "không rõ kết quả",
                    }
                    .to_string(),
                    r.attempt.map(|a| a.to_string()).unwrap_or_default()
                        + if r.resend { " (gửi lại)" } else { "" },
                    r.message_id.unwrap_or_default(),
                    r.started_at.as_deref().map(local_text).unwrap_or_default(),
                    r.detail.unwrap_or_default(),
                ]
            })
            .collect();
        table_page(
            &app,
            &who,
            "Sổ gửi thư",
            "Mỗi lần gửi một thư, với Message-ID để tra trong nhật ký máy chủ thư.",
            &[
                "Kỳ",
                "Đơn vị",
                "Thư",
                "Trạng thái",
                "Lần",
                "Message-ID",
                "Lúc",
                "Chi tiết",
            ],
            rows,
            json!({"search": {"action": "/admin/ledger", "label": "Mã đơn vị", "name": "unit",
                              "value": unit}}),
        )
    })
    .await
}

// ---- static files ----

async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", super::pages::STYLESHEET)
}

async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", super::pages::SCRIPT)
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("max-age=3600")),
        ],
        body,
    )
        .into_response()
}
