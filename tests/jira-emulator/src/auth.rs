//! Who may call: Basic authentication with an email and API token, Bearer
//! personal access tokens, and OAuth 2.0 (3LO) access tokens on the gateway
//! (`/ex/jira/{cloudid}`), with Atlassian's token endpoint: authorization
//! consent (`/authorize`, granted at once), authorization codes used once, access tokens that expire, and refresh tokens that
//! rotate (each use invalidates the one used).

use std::time::Instant;

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use crate::api::{Answer, Caller};
use crate::wire;
use crate::world::{AccessToken, World};

fn site_unauthorized() -> Answer {
    let mut a = Answer::json(
        401,
        json!({"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}),
    );
    a.headers.push((
        "WWW-Authenticate",
        "OAuth realm=\"https%3A%2F%2Fexample.atlassian.net\"".to_owned(),
    ));
    a
}

fn gateway_unauthorized() -> Answer {
    Answer::json(401, json!({"code": 401, "message": "Unauthorized"}))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn access_token_valid(world: &World, token: &str) -> bool {
    world
        .access_tokens
        .get(token)
        .is_some_and(|t| t.expires > Instant::now())
}

/// The email of a Basic `Authorization` header: whose account the call is.
pub(crate) fn basic_email(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let text = String::from_utf8(wire::base64_decode(rest)?).ok()?;
    text.split_once(':').map(|(e, _)| e.to_owned())
}

/// Checks the `Authorization` header of an API call.
pub(crate) fn authenticate(
    world: &World,
    caller: Caller,
    headers: &HeaderMap,
) -> Result<(), Answer> {
    if caller == Caller::Gateway {
        return match bearer(headers) {
            Some(t) if access_token_valid(world, t) => Ok(()),
            _ => Err(gateway_unauthorized()),
        };
    }
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(site_unauthorized());
    };
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Err(site_unauthorized());
    };
    let creds = &world.config.credentials;
    let expired = world.faults.tokens_expired;
    let ok = if scheme.eq_ignore_ascii_case("basic") {
        !expired
            && wire::base64_decode(rest)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.split_once(':').map(|(e, t)| (e.to_owned(), t.to_owned())))
                .is_some_and(|(email, token)| {
                    creds
                        .api_tokens
                        .iter()
                        .any(|(e, t)| e.eq_ignore_ascii_case(&email) && *t == token)
                })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let token = rest.trim();
        (!expired && creds.personal_access_tokens.iter().any(|p| p == token))
            || access_token_valid(world, token)
    } else {
        false
    };
    if ok { Ok(()) } else { Err(site_unauthorized()) }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Answer {
    Answer::json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// `POST /oauth/token`: authorization code and refresh token grants.
pub(crate) fn token(world: &mut World, headers: &HeaderMap, body: &[u8]) -> Answer {
    let Some(app) = world.config.credentials.oauth.clone() else {
        return oauth_error(401, "access_denied", "Unauthorized");
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("json"));
    let params: Vec<(String, String)> = if is_json {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .map(|o| {
                o.into_iter()
                    .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        wire::query_pairs(Some(&String::from_utf8_lossy(body)))
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("client_id") != Some(app.client_id.as_str())
        || get("client_secret") != Some(app.client_secret.as_str())
    {
        return oauth_error(401, "access_denied", "Unauthorized");
    }
    let refresh = match get("grant_type") {
        Some("authorization_code") => {
            let code = get("code").unwrap_or_default();
            if !world.codes.remove(code) {
                return oauth_error(403, "invalid_grant", "Invalid authorization code");
            }
            true
        }
        Some("refresh_token") => {
            let old = get("refresh_token").unwrap_or_default().to_owned();
            match world.refresh_tokens.get_mut(&old) {
                Some(valid) if *valid => {
                    *valid = false;
                    true
                }
                _ => return oauth_error(403, "invalid_grant", "Unknown or invalid refresh token."),
            }
        }
        _ => return oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    };
    let access = world.token("access");
    world.access_tokens.insert(
        access.clone(),
        AccessToken {
            expires: Instant::now() + app.access_token_ttl,
        },
    );
    let mut answer = json!({
        "access_token": access,
        "expires_in": app.access_token_ttl.as_secs(),
        "token_type": "Bearer",
        "scope": app.scopes.join(" "),
    });
    if refresh && app.scopes.iter().any(|s| s == "offline_access") {
        let new_refresh = world.token("refresh");
        world.refresh_tokens.insert(new_refresh.clone(), true);
        if let Some(o) = answer.as_object_mut() {
            o.insert("refresh_token".to_owned(), json!(new_refresh));
        }
    }
    Answer::json(200, answer)
}

/// `GET /oauth/token/accessible-resources`: the sites the token reaches.
pub(crate) fn resources(world: &World, base_url: &str, headers: &HeaderMap) -> Answer {
    let Some(app) = &world.config.credentials.oauth else {
        return gateway_unauthorized();
    };
    match bearer(headers) {
        Some(t) if access_token_valid(world, t) => Answer::json(
            200,
            json!([{
                "id": app.cloud_id,
                "url": base_url,
                "name": "dtg-emulated",
                "scopes": app.scopes,
                "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
            }]),
        ),
        _ => gateway_unauthorized(),
    }
}

/// `GET /authorize`: the consent screen, granted at once: redirects to
/// `redirect_uri` with a fresh code and the caller's `state`.
pub(crate) fn authorize(world: &mut World, query: &[(String, String)]) -> Answer {
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(app) = world.config.credentials.oauth.clone() else {
        return Answer::text(400, "OAuth is not enabled on this site.");
    };
    if get("client_id") != Some(app.client_id.as_str()) {
        return Answer::text(400, "Invalid client_id.");
    }
    if get("response_type") != Some("code") {
        return Answer::text(400, "Unsupported response_type.");
    }
    if get("audience") != Some("api.atlassian.com") {
        return Answer::text(400, "Invalid audience.");
    }
    let Some(redirect) = get("redirect_uri") else {
        return Answer::text(400, "Missing redirect_uri.");
    };
    let code = world.token("code");
    world.codes.insert(code.clone());
    let separator = if redirect.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect}{separator}code={code}");
    if let Some(state) = get("state") {
        location.push_str("&state=");
        location.push_str(&percent_encode(state));
    }
    let mut answer = Answer::empty(302);
    answer.headers.push(("Location", location));
    answer
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
