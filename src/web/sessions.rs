//! Sessions: the cookie that carries a random session id (only its hash is stored), the
//! extractor that turns a request into the signed-in user or a redirect to the login page, and
//! the CSRF check every state-changing form goes through.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{COOKIE, HeaderValue, SET_COOKIE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::App;
use super::WebError;
use super::auth::{self, Permission, Role};
use super::store::User;

pub const COOKIE_NAME: &str = "vanban_session";

/// The signed-in user of a request, with the session's CSRF token and the client's address.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub csrf: String,
    pub ip: String,
}

impl SignedIn {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Refuses with 403 unless the user's role grants `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), WebError> {
        match permission.allowed(self.user.role) {
            true => Ok(()),
            false => Err(WebError::Forbidden),
        }
    }

    /// Refuses a form whose token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        match auth::same_secret(token, &self.csrf) {
            true => Ok(()),
            false => Err(WebError::Csrf),
        }
    }
}

/// The session id from the request's cookies, if any.
pub fn session_id(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The client's address as the socket saw it (behind a reverse proxy: the proxy's).
pub fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "?".into())
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, Secure unless the config turns
/// it off for plain http on 127.0.0.1.
pub fn session_cookie(id: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{COOKIE_NAME}={id}; Path=/; Max-Age={max_age_seconds}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    session_cookie("", 0, secure)
}

/// What a request without a valid session gets: the login page, and nothing else.
pub struct ToLogin;

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<Arc<App>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let Some(id) = session_id(parts) else {
            return Err(ToLogin.into_response());
        };
        let ip = client_ip(parts);
        let app = Arc::clone(app);
        let found = super::blocking(move || {
            let now = app.clock.now();
            Ok(app.store.session(&auth::sha256_hex(&id), now)?)
        })
        .await
        .map_err(IntoResponse::into_response)?;
        match found {
            Some(session) => Ok(SignedIn {
                user: session.user,
                csrf: session.csrf,
                ip,
            }),
            None => {
                let mut response = ToLogin.into_response();
                // An expired or revoked cookie is dropped so the browser stops sending it.
                response
                    .headers_mut()
                    .insert(SET_COOKIE, clear_cookie(false));
                Err(response)
            }
        }
    }
}
