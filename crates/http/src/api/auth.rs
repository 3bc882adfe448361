//! Who is calling the API, and signing in and out.
//!
//! Two credentials are accepted: a person's session (from `POST /api/v1/sessions`), sent as
//! `Authorization: Bearer <token>` by API clients or carried by the `switchboard_session` cookie
//! (HttpOnly, SameSite=Strict) for the workspace pages; and the operator's admin token, set in
//! the configuration (`server.admin_token`) or the environment (`SWITCHBOARD_ADMIN_TOKEN`) — or
//! made up at start and written to a file only the hub's user reads — which acts as an admin
//! who is nobody in particular. Anything else (a customer's Direct Line token, a bot's) is 401.
//!
//! A browser sends the cookie with whatever request a page makes it send, including pages of
//! other sites; SameSite=Strict is the first guard against that, and a second one does not
//! depend on browsers' cookie rules: a write (any method but GET and HEAD) or a WebSocket
//! upgrade carried by the cookie must come with an `Origin` equal to the origin of the hub's
//! public URL, and a write's body must be JSON (which a plain HTML form cannot send). The
//! bearer header is never sent by a browser on its own, so bearer callers are not checked.
//!
//! Signing in is slowed per account and per client address after too many wrong passwords
//! (429 with `Retry-After`; the engine's `throttle` decides).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use domain::UserName;
use domain::user::Role;
use engine::SignInError;
use serde::Deserialize;
use serde_json::json;

use super::openapi::{ErrorBody, SignedIn};
use super::{engine_error, parse_json, rfc3339};
use crate::client::ClientAddr;
use crate::{ApiError, AppState};

/// The cookie the workspace pages carry the session in.
pub const SESSION_COOKIE: &str = "switchboard_session";

/// The caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The person signed in; `None` for the operator's admin token.
    pub name: Option<UserName>,
    pub role: Role,
    /// The session token the request carried (to sign out), if it was a session.
    token: Option<String>,
}

impl Caller {
    /// The person calling, for actions only a person can take (replying, presence).
    pub fn person(&self) -> Result<&UserName, ApiError> {
        self.name.as_ref().ok_or_else(|| {
            ApiError::Forbidden(
                "the admin token acts for nobody in particular; sign in as a person for this".to_owned(),
            )
        })
    }
}

/// A token a request carries, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Presented {
    Bearer(String),
    Cookie(String),
}

/// The token a request carries: the bearer header first, else the session cookie.
fn presented_token(headers: &HeaderMap) -> Result<Option<Presented>, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".to_owned()))?;
        return Ok(Some(Presented::Bearer(token.to_owned())));
    }
    Ok(headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
        .map(Presented::Cookie))
}

/// The origin (`scheme://host[:port]`, the port only when not the scheme's default) of a URL,
/// as browsers write it in `Origin`.
fn origin_of(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    Some(match uri.port_u16().filter(|p| *p != default_port) {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// Refuses a cookie-carried write or WebSocket upgrade that another site could have made the
/// browser send (see the module doc): it needs the hub's own `Origin`, and a write with a body
/// a JSON content type.
fn check_cookie_request(parts: &Parts, public_url: &str) -> Result<(), ApiError> {
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let write = !matches!(parts.method, Method::GET | Method::HEAD);
    if !write && !upgrade {
        return Ok(());
    }
    let expected = origin_of(public_url);
    let origin = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin.is_none() || origin.map(str::to_ascii_lowercase) != expected {
        let expected = expected.as_deref().unwrap_or(public_url);
        return Err(ApiError::Forbidden(match origin {
            Some(origin) => format!(
                "refused a request from another site: a request signed in by the session cookie must come from the hub's own pages (Origin `{expected}`), not `{origin}`; API clients send `Authorization: Bearer <token>` instead"
            ),
            None => format!(
                "a request signed in by the session cookie must carry the Origin of the hub's own pages (`{expected}`); API clients send `Authorization: Bearer <token>` instead"
            ),
        }));
    }
    let content_type = parts.headers.get(header::CONTENT_TYPE);
    let has_body = parts.headers.contains_key(header::TRANSFER_ENCODING)
        || parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let json = content_type.and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
    });
    if write && (has_body || content_type.is_some()) && !json {
        return Err(ApiError::Forbidden(
            "a request signed in by the session cookie that has a body must send it as JSON (`Content-Type: application/json`)"
                .to_owned(),
        ));
    }
    Ok(())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = match presented_token(&parts.headers)? {
            Some(Presented::Bearer(token)) => token,
            Some(Presented::Cookie(token)) => {
                check_cookie_request(parts, &state.hub.channel().service_url)?;
                token
            }
            None => {
                return Err(ApiError::Unauthorized(
                    "sign in first (POST /api/v1/sessions), then send `Authorization: Bearer <token>` or the session cookie"
                        .to_owned(),
                ));
            }
        };
        if constant_time_eq(token.as_bytes(), state.admin_token.as_bytes()) {
            return Ok(Caller {
                name: None,
                role: Role::Admin,
                token: None,
            });
        }
        match state.hub.session_user(&token).await.map_err(engine_error)? {
            Some((user, role)) => Ok(Caller {
                name: Some(user.name),
                role,
                token: Some(token),
            }),
            None => Err(ApiError::Unauthorized(
                "the token is not valid (expired, signed out, or not a Switchboard session)".to_owned(),
            )),
        }
    }
}

/// Proof that the caller is an admin (the operator's token or a person with the admin role).
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.role != Role::Admin {
            return Err(ApiError::Forbidden("this needs the admin role".to_owned()));
        }
        Ok(Admin(caller))
    }
}

/// Compares without stopping at the first difference, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", post(sign_in))
        .route("/api/v1/sessions/current", delete(sign_out))
}

/// A person's name and password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SignIn {
    /// The person's name (their `[[agents]]` name).
    name: String,
    password: String,
}

/// The session cookie; `Secure` when the hub's public URL is https, so browsers never send it
/// over plain HTTP.
fn cookie(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.hub.channel().service_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .expect("session tokens are URL-safe base64")
}

/// `POST /api/v1/sessions`: `{"name","password"}` → 201 with the token, and the cookie.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    tag = "sessions",
    summary = "Sign in",
    description = "Makes a session for a person (valid for 12 hours) and sets the `switchboard_session` cookie. Needs no credentials.",
    request_body = SignIn,
    responses(
        (status = 201, description = "Signed in.", body = SignedIn, headers(
            ("Set-Cookie" = String, description = "`switchboard_session=<token>; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200`"),
            ("Cache-Control" = String, description = "`no-store`"),
        )),
        (status = 400, description = "The body is not `{\"name\",\"password\"}` (`invalid_body`).", body = ErrorBody),
        (status = 401, description = "Wrong name or password.", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords for this name or from this address (`too_many_attempts`): after 5 for a name or 20 from an address (`[limits]`), each further attempt waits 1 s, doubling per wrong password up to 15 minutes. The password was not checked.", body = ErrorBody, headers(
            ("Retry-After" = u64, description = "Whole seconds to wait before trying again."),
        )),
    )
)]
async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddr,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let SignIn { name, password } = parse_json(&body)?;
    let signed = state
        .hub
        .sign_in(&name, &password, client.0)
        .await
        .map_err(sign_in_error)?;
    let body = Json(json!({
        "token": signed.token,
        "expires_at": rfc3339(signed.expires_at),
        "user": {
            "name": signed.user.name,
            "display_name": signed.user.display_name,
            "role": signed.role,
        },
    }));
    let mut response = (StatusCode::CREATED, body).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&state, &signed.token, engine::SESSION_LIFETIME.as_secs()),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The API's answer for a sign-in that made no session.
fn sign_in_error(e: SignInError) -> ApiError {
    match e {
        SignInError::Wrong => ApiError::Unauthorized(e.to_string()),
        SignInError::TooManyAttempts { retry_after } => {
            let retry_after_secs = crate::client::retry_after(retry_after);
            ApiError::TooManyRequests {
                code: "too_many_attempts",
                message: format!("{e}; try again in {retry_after_secs} s"),
                retry_after_secs,
            }
        }
        SignInError::Engine(e) => engine_error(e),
    }
}

/// `DELETE /api/v1/sessions/current`: ends the caller's session and clears the cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/current",
    tag = "sessions",
    summary = "Sign out",
    description = "Ends the caller's session and clears the cookie. With the admin token it only clears the cookie.",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Signed out.", headers(
            ("Set-Cookie" = String, description = "The cleared cookie (`Max-Age=0`)."),
        )),
        (status = 401, description = "Not signed in: no session, or an expired or unknown token (`WWW-Authenticate: Bearer`).", body = ErrorBody),
    )
)]
async fn sign_out(caller: Caller, State(state): State<AppState>) -> Result<Response, ApiError> {
    if let Some(token) = &caller.token {
        state.hub.sign_out(token).await.map_err(engine_error)?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(&state, "", 0));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn the_bearer_header_wins_over_the_cookie_and_the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; switchboard_session=abc; x=1"),
        );
        assert_eq!(
            presented_token(&headers).unwrap(),
            Some(Presented::Cookie("abc".to_owned()))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(
            presented_token(&headers).unwrap(),
            Some(Presented::Bearer("xyz".to_owned()))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert!(presented_token(&headers).is_err());
    }

    #[test]
    fn an_origin_is_scheme_host_and_a_port_that_is_not_the_default() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            origin_of("https://Hub.Example.com/").as_deref(),
            Some("https://hub.example.com")
        );
        assert_eq!(
            origin_of("https://hub.example.com:443/base").as_deref(),
            Some("https://hub.example.com")
        );
        assert_eq!(
            origin_of("http://hub.example.com:8443").as_deref(),
            Some("http://hub.example.com:8443")
        );
        assert_eq!(origin_of("not a url"), None);
    }

    fn parts(method: Method, headers: &[(&'static str, &'static str)]) -> Parts {
        let mut request = axum::http::Request::builder().method(method).uri("/api/v1/x");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cookie_writes_need_the_hubs_origin_and_a_json_body() {
        let hub = "http://127.0.0.1:8080";
        let ok = |method, headers: &[(&'static str, &'static str)]| check_cookie_request(&parts(method, headers), hub);
        let json = ("content-type", "application/json; charset=utf-8");
        let body = ("content-length", "12");
        assert!(ok(Method::GET, &[]).is_ok(), "reads are not checked");
        assert!(ok(Method::POST, &[("origin", "http://127.0.0.1:8080"), json, body]).is_ok());
        assert!(
            ok(
                Method::POST,
                &[("origin", "http://127.0.0.1:8080"), ("content-length", "0")]
            )
            .is_ok()
        );
        assert!(ok(Method::DELETE, &[("origin", "http://127.0.0.1:8080")]).is_ok());
        for refused in [
            ok(Method::POST, &[json, body]),
            ok(Method::POST, &[("origin", "https://evil.example"), json, body]),
            ok(Method::PUT, &[("origin", "http://localhost:8080"), json, body]),
            ok(Method::POST, &[("origin", "null"), json, body]),
            ok(
                Method::POST,
                &[
                    ("origin", "http://127.0.0.1:8080"),
                    ("content-type", "application/x-www-form-urlencoded"),
                    body,
                ],
            ),
            ok(
                Method::POST,
                &[
                    ("origin", "http://127.0.0.1:8080"),
                    ("content-type", "text/plain"),
                    ("content-length", "0"),
                ],
            ),
            ok(Method::POST, &[("origin", "http://127.0.0.1:8080"), body]),
            ok(
                Method::GET,
                &[("upgrade", "websocket"), ("origin", "https://evil.example")],
            ),
            ok(Method::GET, &[("upgrade", "websocket")]),
        ] {
            assert!(matches!(refused, Err(ApiError::Forbidden(_))), "{refused:?}");
        }
        assert!(
            ok(
                Method::GET,
                &[("upgrade", "websocket"), ("origin", "http://127.0.0.1:8080")]
            )
            .is_ok()
        );
    }
}
