//! Sessions: the cookie that carries a random session id (only its hash is stored), the
//! extractor that turns a request into the signed-in user or a redirect to the login page, the
//! CSRF check every state-changing form goes through, and who the client is (its address, read
//! through a trusted reverse proxy).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HeaderValue, SET_COOKIE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::App;
use super::WebError;
use super::auth::{self, Permission, Role};
use super::store::User;
use crate::config::ProxyRange;

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

/// The client's address: the socket's, or, when the socket is one of the `trusted` proxies, the
/// address that proxy forwarded.
pub fn client_ip(parts: &Parts, trusted: &[ProxyRange]) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| client_address(addr.ip(), &parts.headers, trusted).to_string())
        .unwrap_or_else(|| "?".into())
}

/// Who sent a request that reached us from `peer`. Only a trusted proxy's forwarding headers are
/// read (anyone else could write any address there): `X-Forwarded-For`, where each proxy appends
/// the address it was reached from, is read from the right, passing over our own proxies, and the
/// first address that is not one of them is the client; without it, `X-Real-IP`. Anything
/// unreadable stops the walk at the nearest address known to be true.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[ProxyRange]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |address: IpAddr| trusted.iter().any(|range| range.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|value| value.to_str().unwrap_or("?"))
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    if !hops.is_empty() {
        let mut client = peer;
        for hop in hops.iter().rev() {
            match forwarded_address(hop) {
                Some(address) if is_trusted(address) => client = address,
                Some(address) => return address,
                None => return client,
            }
        }
        return client;
    }
    headers
        .get("x-real-ip")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| forwarded_address(value.trim()))
        .unwrap_or(peer)
}

/// An address as proxies write it: "10.0.0.7", "2001:db8::1", and with a port "10.0.0.7:5123"
/// or "[2001:db8::1]:5123".
fn forwarded_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|address| address.to_canonical())
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
        let ip = client_ip(parts, &app.config.web.trusted_proxies);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_a_trusted_proxy() {
        let trusted = [
            ProxyRange::parse("127.0.0.1").unwrap(),
            ProxyRange::parse("10.9.0.0/16").unwrap(),
        ];
        let forwarded = headers(&[("x-forwarded-for", "10.0.0.7")]);
        // From the proxy: the address it forwarded.
        assert_eq!(
            client_address(ip("127.0.0.1"), &forwarded, &trusted),
            ip("10.0.0.7")
        );
        // From anyone else, or with no proxy configured: the socket's, whatever the headers say.
        assert_eq!(
            client_address(ip("10.0.0.8"), &forwarded, &trusted),
            ip("10.0.0.8")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &forwarded, &[]),
            ip("127.0.0.1")
        );
        // A client's own X-Forwarded-For is on the left of what the proxy appended: the
        // rightmost address that is not one of ours is the client.
        let spoofed = headers(&[
            ("x-forwarded-for", "1.2.3.4, 10.0.0.7"),
            ("x-forwarded-for", "10.9.1.1"),
        ]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &spoofed, &trusted),
            ip("10.0.0.7")
        );
        // Without X-Forwarded-For, X-Real-IP; ports and IPv4-in-IPv6 are read.
        let real = headers(&[("x-real-ip", "[2001:db8::5]:4431")]);
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &real, &trusted),
            ip("2001:db8::5")
        );
        // Unreadable text stops the walk at the nearest true address.
        let garbage = headers(&[("x-forwarded-for", "khong-phai-dia-chi, 10.9.0.3")]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &garbage, &trusted),
            ip("10.9.0.3")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers(&[]), &trusted),
            ip("127.0.0.1")
        );
    }
}
