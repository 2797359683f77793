//! Who is calling, and whether the call may change anything.
//!
//! - The app's own session is an opaque id in an `HttpOnly; Secure;
//!   SameSite=Lax` cookie; the table keeps its digest with the user and a
//!   CSRF token ([`dtg_app::repo::Login`]). Jira tokens stay sealed in the
//!   token repository and never reach the browser.
//! - Sign-in with Atlassian (OAuth 2.0 3LO) with PKCE and a single-use
//!   `state`; a form for an API token or personal access token where OAuth
//!   is not set up.
//! - `dtg serve` on loopback without OAuth runs as one local user, and says so
//!   in `GET /api/v1/auth/me`.
//! - A state-changing request (anything but GET, HEAD, OPTIONS) must carry
//!   the sign-in's token in `X-CSRF-Token`, and a browser's `Origin` (or
//!   `Sec-Fetch-Site`) must be the web client's own: a cross-site form or
//!   script can neither read the token nor pass the origin check.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use dtg_app::jira::{JiraAccess, JiraError};
use dtg_app::repo::{JiraCredentials, LOGIN_TTL_SECONDS, Login, PendingOAuth, Repos, TokenCipher};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, CORRELATION, ErrorCategory};
use crate::{Api, Backend};

/// The cookie holding the app's session.
pub const SESSION_COOKIE: &str = "dtg_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How people sign in.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// One local user, no sign-in (`dtg serve` on loopback without OAuth).
    Local {
        /// The token state-changing requests carry (made at start).
        csrf: String,
    },
    /// Accounts: sign-in with Atlassian and/or the token form.
    Accounts {
        /// Whether the API-token form is offered.
        token_form: bool,
    },
}

/// The signed-in caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// User id.
    pub user: String,
    /// Name to show.
    pub name: String,
    /// The Jira site signed in to.
    pub site: Option<String>,
    /// The CSRF token of the sign-in.
    pub csrf: String,
}

/// The user of a local server.
pub const LOCAL_USER: &str = "local";

/// `n` random bytes as hex.
#[must_use]
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0_u8; n];
    // The OS generator failing is not something a request can recover from;
    // a zero token would be guessable, so fall back to a fresh UUID's bits.
    if getrandom::fill(&mut bytes).is_err() {
        return format!("{}{}", uuid::Uuid::now_v7().simple(), std::process::id());
    }
    hex::encode(bytes)
}

/// The value of cookie `name` in `headers`.
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a cross-site browser request: `Sec-Fetch-Site: cross-site`, or an
/// `Origin` other than the web client's.
fn check_origin<B: Backend>(api: &Api<B>, headers: &HeaderMap) -> ApiResult<()> {
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCategory::UserFixable,
            "cross_site_request",
            "This request came from another site and was refused.",
        )
        .action("Use the web client of this server")
    };
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return Err(refused());
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !api.config.allows_origin(origin)
    {
        return Err(refused());
    }
    Ok(())
}

/// Finds the caller (401 without a sign-in) and, for state-changing
/// requests, checks the origin and the CSRF token (403).
pub async fn require_caller<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    mut request: Request,
    next: Next,
) -> Response {
    match caller(&api, request.headers()).await {
        Ok(Some(caller)) => {
            if is_unsafe(request.method()) {
                if let Err(e) = check_origin(&api, request.headers()) {
                    return e.into_response();
                }
                let given = request
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok());
                if given != Some(caller.csrf.as_str()) {
                    return ApiError::new(
                        StatusCode::FORBIDDEN,
                        ErrorCategory::UserFixable,
                        "csrf_token_invalid",
                        "This change did not carry this sign-in's CSRF token.",
                    )
                    .action("Reload the page and try again")
                    .into_response();
                }
            }
            // Ownership before anything else reads the request: another
            // user's session is not there, whatever the body says.
            if let Some(session) = session_in_path(request.uri().path())
                && let Err(e) = crate::sessions::owned(&api, &caller, session).await
            {
                return e.into_response();
            }
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Ok(None) => ApiError::unauthenticated().into_response(),
        Err(e) => e.into_response(),
    }
}

/// The session a path is about: `/api/v1/sessions/{id}/...` and the seed's
/// `/api/v1/jira/{operation}/{id}`.
fn session_in_path(path: &str) -> Option<&str> {
    let mut parts = path.strip_prefix("/api/v1/")?.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("sessions"), Some(id), _) if !id.is_empty() => Some(id),
        (Some("jira"), Some(op), Some(id)) if op != "validate-project" && !id.is_empty() => {
            Some(id)
        }
        _ => None,
    }
}

/// The caller of a request with these headers, if signed in.
///
/// # Errors
/// The store failing.
pub async fn caller<B: Backend>(api: &Api<B>, headers: &HeaderMap) -> ApiResult<Option<Caller>> {
    if let Some(id) = cookie(headers, SESSION_COOKIE).filter(|c| !c.is_empty()) {
        let repos = api.repos();
        if let Some(login) = repos
            .login(id, api.backend.now())
            .await
            .map_err(ApiError::internal)?
        {
            return Ok(Some(Caller {
                user: login.user,
                name: login.name,
                site: login.site,
                csrf: login.csrf,
            }));
        }
    }
    if let AuthMode::Local { csrf } = &api.config.auth {
        return Ok(Some(Caller {
            user: LOCAL_USER.to_owned(),
            name: "Local user".to_owned(),
            site: None,
            csrf: csrf.clone(),
        }));
    }
    Ok(None)
}

/// Gives every request a correlation id (its error answers carry it) and
/// answers the `X-Correlation-Id` header.
pub async fn correlate(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map_or_else(|| uuid::Uuid::now_v7().simple().to_string(), str::to_owned);
    let mut response = CORRELATION.scope(id.clone(), next.run(request)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-correlation-id", v);
    }
    response
}

/// Who is signed in, and how signing in works here.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// User id.
    pub user: String,
    /// Name.
    pub name: String,
    /// The Jira site signed in to.
    pub site: Option<String>,
    /// `local` (one user, no sign-in) or `accounts`.
    pub mode: String,
    /// The token to send in `X-CSRF-Token` with every change.
    pub csrf_token: String,
}

/// How this server lets people sign in.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInOptions {
    /// `local` (one user, no sign-in) or `accounts`.
    pub mode: String,
    /// Sign-in with Atlassian is set up (`GET /api/v1/auth/atlassian`).
    pub atlassian: bool,
    /// The API-token form is offered (`POST /api/v1/auth/token`).
    pub token_form: bool,
}

fn mode_name(mode: &AuthMode) -> &'static str {
    match mode {
        AuthMode::Local { .. } => "local",
        AuthMode::Accounts { .. } => "accounts",
    }
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, description = "Signed in", body = Me)))]
pub async fn me<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    headers: HeaderMap,
) -> ApiResult<Json<Me>> {
    let caller = caller(&api, &headers)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    Ok(Json(Me {
        user: caller.user,
        name: caller.name,
        site: caller.site,
        mode: mode_name(&api.config.auth).to_owned(),
        csrf_token: caller.csrf,
    }))
}

/// How people sign in here.
#[utoipa::path(get, path = "/api/v1/auth/options", tag = "auth",
    responses((status = 200, description = "Sign-in options", body = SignInOptions)))]
pub async fn options<B: Backend>(State(api): State<Arc<Api<B>>>) -> Json<SignInOptions> {
    Json(SignInOptions {
        mode: mode_name(&api.config.auth).to_owned(),
        atlassian: api.backend.jira().authorize_url("probe", "probe").is_some(),
        token_form: matches!(api.config.auth, AuthMode::Accounts { token_form: true }),
    })
}

/// The API-token sign-in form.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenSignIn {
    /// Jira site (`https://example.atlassian.net`).
    pub site: String,
    /// Atlassian account email (with `api_token`, Jira Cloud).
    #[serde(default)]
    pub email: Option<String>,
    /// API token (Jira Cloud).
    #[serde(default)]
    pub api_token: Option<String>,
    /// Personal access token (Jira Data Center), instead of email and API token.
    #[serde(default)]
    pub personal_access_token: Option<String>,
}

/// A Jira site URL as the product keeps it: scheme and host, no trailing slash.
///
/// # Errors
/// 422 for anything else.
pub fn site_url(raw: &str, allow_http: bool) -> ApiResult<String> {
    let site = raw.trim().trim_end_matches('/');
    let rest = site
        .strip_prefix("https://")
        .or_else(|| site.strip_prefix("http://").filter(|_| allow_http));
    let valid = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '/' | '_'))
    });
    if !valid || site.len() > 200 {
        return Err(ApiError::unprocessable(
            "invalid_site",
            format!("{raw:?} is not a Jira site address."),
        )
        .action("Give the site as https://your-team.atlassian.net"));
    }
    Ok(site.to_owned())
}

fn session_cookie(api_secure: bool, value: &str, max_age: i64) -> HeaderValue {
    let secure = if api_secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("dtg_session=; Path=/; Max-Age=0"))
}

async fn sign_in<B: Backend>(
    api: &Api<B>,
    user: String,
    name: String,
    site: Option<String>,
) -> ApiResult<(HeaderValue, Me)> {
    let now = api.backend.now();
    let cookie = random_token(32);
    let login = Login {
        user,
        name,
        site,
        csrf: random_token(32),
        created_at: now,
        expires_at: now + LOGIN_TTL_SECONDS,
    };
    api.repos()
        .save_login(&cookie, &login, now)
        .await
        .map_err(ApiError::internal)?;
    let header = session_cookie(api.config.secure_cookies, &cookie, LOGIN_TTL_SECONDS);
    Ok((
        header,
        Me {
            user: login.user,
            name: login.name,
            site: login.site,
            mode: mode_name(&api.config.auth).to_owned(),
            csrf_token: login.csrf,
        },
    ))
}

/// Signs in with a Jira API token (or personal access token): the token is
/// checked against the site, then sealed in the store.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenSignIn,
    responses((status = 200, description = "Signed in; the session cookie is set", body = Me)))]
pub async fn token_sign_in<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    headers: HeaderMap,
    crate::extract::JsonBody(form): crate::extract::JsonBody<TokenSignIn>,
) -> ApiResult<Response> {
    check_origin(&api, &headers)?;
    if !matches!(api.config.auth, AuthMode::Accounts { token_form: true }) {
        return Err(ApiError::not_found(
            "token_sign_in_disabled",
            "Signing in with an API token is not offered on this server.",
        )
        .action("Sign in with Atlassian"));
    }
    let site = site_url(&form.site, api.config.allow_http_sites)?;
    let credentials = match (form.email, form.api_token, form.personal_access_token) {
        (_, _, Some(token)) if !token.trim().is_empty() => JiraCredentials::PersonalAccessToken {
            token: token.trim().to_owned(),
        },
        (Some(email), Some(token), _) if !email.trim().is_empty() && !token.trim().is_empty() => {
            JiraCredentials::ApiToken {
                email: email.trim().to_owned(),
                token: token.trim().to_owned(),
            }
        }
        _ => {
            return Err(ApiError::unprocessable(
                "credentials_missing",
                "Give your Atlassian email and an API token, or a personal access token.",
            )
            .action("Create an API token at https://id.atlassian.com/manage-profile/security/api-tokens"));
        }
    };
    let account = api
        .backend
        .jira()
        .check(&site, &credentials)
        .await
        .map_err(|e| sign_in_refused(&e))?;
    let now = api.backend.now();
    let repos = api.repos();
    let stored = repos
        .tokens(&account.account_id, &site, &api.cipher, now)
        .await
        .map_err(ApiError::internal)?;
    repos
        .save_tokens(
            &account.account_id,
            &site,
            &credentials,
            stored.map(|s| s.version),
            &api.cipher,
            now,
        )
        .await
        .map_err(ApiError::internal)?;
    let (cookie, me) = sign_in(&api, account.account_id, account.display_name, Some(site)).await?;
    let mut response = Json(me).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

fn sign_in_refused(e: &JiraError) -> ApiError {
    match e {
        JiraError::Unauthorized(_) | JiraError::Forbidden(_) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCategory::UserFixable,
            "jira_credentials_refused",
            "Jira refused these credentials.",
        )
        .action("Check the email and the API token, or create a new token")
        .caused_by(e),
        JiraError::NotFound(_) | JiraError::Refused(_) => ApiError::unprocessable(
            "jira_site_unusable",
            "This address does not answer as a Jira site.",
        )
        .action("Give the site as https://your-team.atlassian.net")
        .caused_by(e),
        _ => ApiError::unavailable(e),
    }
}

/// Ends the sign-in.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out; the cookie is cleared")))]
pub async fn logout<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_origin(&api, &headers)?;
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        api.repos()
            .delete_login(id, api.backend.now())
            .await
            .map_err(ApiError::internal)?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(api.config.secure_cookies, "", 0),
    );
    Ok(response)
}

/// The PKCE S256 challenge of a verifier.
#[must_use]
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where to go once signed in.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StartQuery {
    /// A path of the web client to come back to (default `/`).
    #[serde(default)]
    pub return_to: Option<String>,
}

/// Starts a sign-in with Atlassian: redirects the browser to Atlassian's
/// consent page, with a single-use `state` and a PKCE challenge.
#[utoipa::path(get, path = "/api/v1/auth/atlassian", tag = "auth", params(StartQuery),
    responses((status = 303, description = "To Atlassian's consent page")))]
pub async fn atlassian_start<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Query(query): Query<StartQuery>,
) -> ApiResult<Response> {
    let state = random_token(24);
    let verifier = random_token(48);
    let Some(url) = api
        .backend
        .jira()
        .authorize_url(&state, &pkce_challenge(&verifier))
    else {
        return Err(ApiError::not_found(
            "atlassian_sign_in_disabled",
            "Sign-in with Atlassian is not set up on this server.",
        )
        .action("Ask the administrator to set DTG_OAUTH_CLIENT_ID and DTG_OAUTH_CLIENT_SECRET"));
    };
    let return_to = query
        .return_to
        .filter(|p| p.starts_with('/') && !p.starts_with("//") && p.len() < 512)
        .unwrap_or_else(|| "/".to_owned());
    let now = api.backend.now();
    api.repos()
        .save_pending_oauth(
            &state,
            &PendingOAuth {
                verifier,
                return_to,
                created_at: now,
            },
            now,
        )
        .await
        .map_err(ApiError::internal)?;
    Ok(Redirect::to(&url).into_response())
}

/// What Atlassian sends the browser back with.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    /// The authorization code.
    #[serde(default)]
    pub code: Option<String>,
    /// The state handed out at the start.
    #[serde(default)]
    pub state: Option<String>,
    /// Atlassian's error, when the user declined.
    #[serde(default)]
    pub error: Option<String>,
}

/// Finishes a sign-in with Atlassian: checks the state, exchanges the code
/// with the PKCE verifier, seals the tokens of every site granted, sets the
/// session cookie and sends the browser back to the web client.
#[utoipa::path(get, path = "/api/v1/auth/atlassian/callback", tag = "auth", params(CallbackQuery),
    responses((status = 303, description = "Back to the web client, signed in")))]
pub async fn atlassian_callback<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Query(query): Query<CallbackQuery>,
) -> ApiResult<Response> {
    let refused = |code: &'static str, message: &str| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCategory::UserFixable,
            code,
            message.to_owned(),
        )
        .action("Sign in again")
    };
    if query.error.is_some() {
        return Err(refused(
            "atlassian_sign_in_declined",
            "The sign-in with Atlassian was declined.",
        ));
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return Err(refused(
            "atlassian_sign_in_incomplete",
            "Atlassian sent the browser back without a code and a state.",
        ));
    };
    let now = api.backend.now();
    let repos = api.repos();
    let Some(pending) = repos
        .take_pending_oauth(&state, now)
        .await
        .map_err(ApiError::internal)?
    else {
        return Err(refused(
            "atlassian_state_unknown",
            "This sign-in was not started here, was used already, or took too long.",
        ));
    };
    let signed = api
        .backend
        .jira()
        .complete_oauth(&code, &pending.verifier, now)
        .await
        .map_err(|e| sign_in_refused(&e))?;
    for (site, credentials) in &signed.sites {
        let stored = repos
            .tokens(&signed.account.account_id, &site.url, &api.cipher, now)
            .await
            .map_err(ApiError::internal)?;
        repos
            .save_tokens(
                &signed.account.account_id,
                &site.url,
                credentials,
                stored.map(|s| s.version),
                &api.cipher,
                now,
            )
            .await
            .map_err(ApiError::internal)?;
    }
    let site = signed.sites.first().map(|(s, _)| s.url.clone());
    let (cookie, _) = sign_in(
        &api,
        signed.account.account_id.clone(),
        signed.account.display_name.clone(),
        site,
    )
    .await?;
    let target = format!(
        "{}{}",
        api.config.web_origin.as_deref().unwrap_or(""),
        pending.return_to
    );
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The cipher and repositories an [`Api`] uses for sign-ins.
pub(crate) fn repos_of<B: Backend>(backend: &B, ttl: i64) -> Repos<'_, B::Table> {
    Repos::new(backend.table(), ttl)
}

/// The cipher type, re-exported for the composition roots.
pub type Cipher = TokenCipher;
