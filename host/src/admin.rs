//! The admin API at the seed's paths and in its JSON shapes (`tokenTools/get`, `set`,
//! `delete`) plus `tokenTools/audit`. Answered by the gateway itself, never forwarded;
//! the caller has already been authenticated, decided on, checked as an administrator
//! and audited.

use http::request::Parts;
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};

use tokengate_core::admin_path::Endpoint;

use crate::audit::{AuditFilter, COUNT_CAP};
use crate::config::limits::ADMIN_BODY_LIMIT;
use crate::gateway::Gateway;
use crate::lifetime::{DAY_MS, Lifetime};
use crate::policy::{CompileError, PolicyRuntime};
use crate::response::{Body, ReadError, Refusal, json as json_response, read_limited};
use crate::store::{NewToken, Revoke, Store, StoreError, TokenRow};
use crate::token::TokenError;

/// Page size when `maxResults` is absent.
const DEFAULT_PAGE: u64 = 100;
/// Largest page served.
const MAX_PAGE: u64 = 1000;
/// Longest expiry accepted, days (100 years).
const MAX_DAYS: i64 = 36_500;
/// Longest grace period of a rotation, minutes (a day).
const MAX_GRACE_MINUTES: i64 = 1440;

/// Answers one admin request at `endpoint` (`None`: a spelling of the admin path that
/// names none); the second value is the result for the audit record's action.
pub async fn handle(
    gateway: &Gateway,
    parts: &Parts,
    body: Body,
    endpoint: Option<Endpoint>,
    path_and_query: &str,
    actor: &str,
) -> (Response<Body>, Option<String>) {
    let mode = gateway.config.auth_mode;
    let query = Query::of(path_and_query);
    let result = match (endpoint, &parts.method) {
        (Some(Endpoint::Get), &Method::GET) => list(gateway, &query).await,
        (Some(Endpoint::Audit), &Method::GET) => audit(gateway, &query).await,
        (Some(Endpoint::Set), &Method::POST) => match read_json(body).await {
            Ok(request) => {
                let lifetime = &gateway.config.lifetime;
                create(&gateway.store, &gateway.policy, lifetime, &request, actor).await
            }
            Err(err) => Err(err),
        },
        (Some(Endpoint::Rotate), &Method::POST) => match read_json(body).await {
            Ok(request) => rotate(&gateway.store, &request, actor).await,
            Err(err) => Err(err),
        },
        (Some(Endpoint::Delete), &Method::DELETE) => match read_json(body).await {
            Ok(request) => delete(gateway, &request).await,
            Err(err) => Err(err),
        },
        (Some(_), _) => Err(Refusal::MethodNotAllowed),
        (None, _) => Err(Refusal::NotFound),
    };
    match result {
        Ok((value, action)) => (json_response(StatusCode::OK, &value), action),
        Err(err) => {
            let action = Some(format!("refused: {err}"));
            (crate::response::refusal(&err, mode), action)
        }
    }
}

/// The audit action of an admin request, before it is answered: `tokenTools.set POST`.
pub fn action(endpoint: Option<Endpoint>, path: &str, method: &Method) -> String {
    match endpoint {
        Some(endpoint) => format!("tokenTools.{} {method}", endpoint.as_str()),
        None => {
            let name = path
                .strip_prefix(tokengate_core::admin_path::ADMIN_PREFIX)
                .unwrap_or(path);
            format!("tokenTools.{name} {method}")
        }
    }
}

/// The decoded query parameters of an admin request.
struct Query(Vec<(String, String)>);

impl Query {
    /// The pairs of the (already canonical) target, decoded as the policy decodes them.
    fn of(path_and_query: &str) -> Self {
        Self(
            tokengate_policy::canonicalize(path_and_query, "")
                .map(|target| target.query_pairs)
                .unwrap_or_default(),
        )
    }
}

type Answer = Result<(Value, Option<String>), Refusal>;

async fn read_json(body: Body) -> Result<Value, Refusal> {
    let bytes = read_limited(body, ADMIN_BODY_LIMIT)
        .await
        .map_err(|err| match err {
            ReadError::TooLarge(_) => Refusal::PayloadTooLarge,
            ReadError::Stream(message) => Refusal::BadRequest(message),
            ReadError::Timeout(_) => Refusal::BodyTimeout,
        })?;
    serde_json::from_slice(&bytes)
        .map_err(|err| Refusal::BadRequest(format!("the body is not JSON: {err}")))
}

fn param<'a>(target: &'a Query, name: &str) -> Option<&'a str> {
    target
        .0
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn number_param(target: &Query, name: &str) -> Result<Option<i64>, Refusal> {
    param(target, name)
        .filter(|value| !value.is_empty())
        .map(|value| {
            value
                .parse::<i64>()
                .map_err(|_| Refusal::BadRequest(format!("{name} must be an integer")))
        })
        .transpose()
}

fn page(target: &Query) -> Result<(u64, u64), Refusal> {
    let start_at = number_param(target, "startAt")?.unwrap_or(0);
    let max_results = number_param(target, "maxResults")?.unwrap_or(DEFAULT_PAGE as i64);
    if start_at < 0 || max_results < 0 {
        return Err(Refusal::BadRequest(
            "startAt and maxResults must not be negative".into(),
        ));
    }
    Ok((
        start_at.unsigned_abs(),
        max_results.unsigned_abs().min(MAX_PAGE),
    ))
}

/// A token in the seed's `get` shape, plus `id`, `hint`, `lastUsed`, `lastIp`,
/// `createdBy` and its lifecycle: `expiresSoon` (at `now`, under `lifetime`),
/// `rotatedFrom`, `rotatedTo`, `retireAt`, `remainingUses` and `lastIps`.
pub fn token_json(row: &TokenRow, lifetime: &Lifetime, now: i64) -> Value {
    let token = &row.token;
    let last_ips: Vec<Value> = row
        .last_ips
        .iter()
        .map(|(ip, seen)| json!({ "ip": ip, "lastSeen": seen }))
        .collect();
    json!({
        "id": token.id,
        "label": token.label,
        "user": token.user.clone().unwrap_or_default(),
        // Never the value: only a hint of it.
        "token": token.hint,
        "hint": token.hint,
        "limitTo": token.limit_to.replace('\n', "<br>"),
        "ip": token.ip,
        "validUntil": token.valid_until,
        "dateCreated": token.date_created,
        "counter": row.counter,
        "lastUsed": row.last_used,
        "lastIp": row.last_ip,
        "createdBy": token.created_by,
        "expiresSoon": row.revoked.is_none() && lifetime.expires_soon(token, now),
        "rotatedFrom": token.life.rotated_from,
        "rotatedTo": token.life.rotated_to,
        "retireAt": token.life.retire_at,
        "remainingUses": token.life.remaining_uses,
        "validFrom": token.life.valid_from,
        "lastIps": last_ips,
    })
}

async fn list(gateway: &Gateway, target: &Query) -> Answer {
    let (start_at, max_results) = page(target)?;
    let (rows, total) = gateway
        .store
        .list(start_at, max_results, false)
        .await
        .map_err(unavailable)?;
    let now = gateway.config.clock.now_ms();
    let lifetime = &gateway.config.lifetime;
    let tokens: Vec<Value> = rows
        .iter()
        .map(|row| token_json(row, lifetime, now))
        .collect();
    Ok((
        json!({
            "tokens": tokens,
            "startAt": start_at,
            "maxResults": max_results,
            "total": total,
            "status": "ok",
        }),
        None,
    ))
}

async fn audit(gateway: &Gateway, target: &Query) -> Answer {
    let (start_at, max_results) = page(target)?;
    let text = |name: &str| {
        param(target, name)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let filter = AuditFilter {
        token_id: text("tokenId"),
        user: text("user"),
        from: number_param(target, "from")?,
        to: number_param(target, "to")?,
        decision: text("decision"),
        after_id: None,
        start_at,
        max_results,
    };
    let (records, counted) = gateway
        .store
        .query_audit(&filter)
        .await
        .map_err(unavailable)?;
    Ok((
        json!({
            "records": records,
            "startAt": start_at,
            "maxResults": max_results,
            // Counting stops past COUNT_CAP (the page is served all the same).
            "total": counted,
            "totalExact": counted <= COUNT_CAP,
            "status": "ok",
        }),
        None,
    ))
}

fn unavailable(err: StoreError) -> Refusal {
    tracing::error!(error = %err, "store unavailable");
    Refusal::Unavailable
}

/// Reads a string field; `null` and absent are `None`.
fn string_field(request: &Value, name: &str) -> Result<Option<String>, Refusal> {
    match request.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Refusal::Invalid(vec![format!("{name} must be a string")])),
    }
}

/// The messages of a compile error, each naming its field.
pub fn compile_messages(error: &CompileError) -> Vec<String> {
    let limit_to = error
        .limit_to
        .iter()
        .map(|problem| format!("limitTo {}", problem.message));
    let ip = error
        .ip
        .iter()
        .map(|problem| format!("ip {}", problem.message));
    limit_to.chain(ip).collect()
}

/// Validates a `set` request (the seed's three shapes) and creates the token.
/// Shared with `tokengate token create`.
pub async fn create(
    store: &Store,
    policy: &PolicyRuntime,
    lifetime: &Lifetime,
    request: &Value,
    actor: &str,
) -> Answer {
    if !request.is_object() {
        return Err(Refusal::BadRequest("the body must be a JSON object".into()));
    }
    let mut problems = Vec::new();
    let label = string_field(request, "label")?.map(|l| l.trim().to_owned());
    let label = match label {
        Some(label) if !label.is_empty() => label,
        _ => {
            problems.push("label is required".to_owned());
            String::new()
        }
    };
    // One rule for user names, at creation as at authentication: refused, never trimmed
    // (an upstream that trims would act as another user than the audit log names).
    let user = string_field(request, "userName")?.filter(|u| !u.is_empty());
    if let Some(user) = &user
        && let Err(err) = tokengate_policy::user_name::check_user_name(user)
    {
        problems.push(format!("userName: {err}"));
    }
    let limit_to = string_field(request, "limitTo")?.unwrap_or_default();
    let ip = string_field(request, "ip")?.unwrap_or_default();
    let value = string_field(request, "token")?.filter(|v| !v.is_empty());
    let days = match request.get("daysUntilExpiry") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
        Some(Value::String(s)) if s.trim().is_empty() => 0,
        Some(Value::String(s)) => s.trim().parse().unwrap_or(-1),
        Some(_) => -1,
    };
    if !(0..=MAX_DAYS).contains(&days) {
        problems.push(format!(
            "daysUntilExpiry must be a whole number from 0 to {MAX_DAYS}"
        ));
    } else if let Some(problem) = lifetime.refuse_days(days) {
        problems.push(problem);
    }
    let valid_from = match request.get("validFrom") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some_and(|ms| ms >= 0) => n.as_i64(),
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(Value::String(text)) => match crate::cli::time::parse_instant(text) {
            Ok(ms) => Some(ms),
            Err(why) => {
                problems.push(format!("validFrom: {why}"));
                None
            }
        },
        Some(_) => {
            problems.push("validFrom must be epoch milliseconds or an RFC 3339 time".into());
            None
        }
    };
    let remaining_uses = match whole_number(request, "remainingUses") {
        Ok(uses) => uses,
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    if let Some(value) = &value
        && let Err(err) = crate::token::validate_chosen(value)
    {
        problems.push(format!("token: {err}"));
    }
    let lines = policy
        .check(limit_to.clone(), ip.clone())
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "policy failed while checking a new token");
            Refusal::Unavailable
        })?;
    let lines = match lines {
        Ok(lines) => lines,
        Err(error) => {
            problems.extend(compile_messages(&error));
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Err(Refusal::Invalid(problems));
    }
    let valid_until = (days > 0).then(|| crate::now_ms().saturating_add(days * DAY_MS));
    let created = store
        .create(NewToken {
            label,
            user,
            limit_to: lines.join("\n"),
            ip: ip.trim().to_owned(),
            valid_until,
            value,
            created_by: Some(actor.to_owned()),
            remaining_uses,
            valid_from,
        })
        .await;
    let (token, value) = match created {
        Ok(created) => created,
        Err(StoreError::Duplicate) => {
            return Err(Refusal::Invalid(vec![
                "token: this value is already in use".into(),
            ]));
        }
        Err(StoreError::Token(TokenError::Chosen(_))) => {
            return Err(Refusal::Invalid(vec!["token: not accepted".into()]));
        }
        Err(err) => return Err(unavailable(err)),
    };
    let action = format!("created token {}", token.id);
    Ok((
        json!({
            "status": "ok",
            "token": value,
            "id": token.id,
            "hint": token.hint,
            "validUntil": token.valid_until,
            "remainingUses": token.life.remaining_uses,
            "validFrom": token.life.valid_from,
        }),
        Some(action),
    ))
}

/// A non-negative whole number field (a JSON number or a string of digits); `null`,
/// absent and `""` are `None`.
fn whole_number(request: &Value, name: &str) -> Result<Option<i64>, String> {
    let number = match request.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    match number {
        Some(n) if n >= 0 => Ok(Some(n)),
        _ => Err(format!("{name} must be a whole number from 0 up")),
    }
}

/// Rotates a token (`tokenTools/rotate`): a new value with the old one's settings; the
/// old value works for `graceMinutes` more (0 to a day, default 0), then is refused as
/// `rotated`. Shared with `tokengate token rotate`.
pub async fn rotate(store: &Store, request: &Value, actor: &str) -> Answer {
    if !request.is_object() {
        return Err(Refusal::BadRequest("the body must be a JSON object".into()));
    }
    let grace = whole_number(request, "graceMinutes")
        .map_err(|problem| Refusal::Invalid(vec![problem]))?
        .unwrap_or(0);
    if grace > MAX_GRACE_MINUTES {
        return Err(Refusal::Invalid(vec![format!(
            "graceMinutes must be from 0 to {MAX_GRACE_MINUTES}"
        )]));
    }
    let id = string_field(request, "id")?;
    let value = string_field(request, "token")?;
    let digest;
    let which = match (&id, &value) {
        (Some(id), _) => Revoke::Id(id),
        (None, Some(value)) => {
            digest = store.digest(value);
            Revoke::Digest(&digest)
        }
        (None, None) => {
            return Err(Refusal::BadRequest(
                "give the token's \"id\" or its \"token\" value".into(),
            ));
        }
    };
    let rotated = match store
        .rotate(which, grace * 60_000, Some(actor.to_owned()))
        .await
    {
        Ok(Some(rotated)) => rotated,
        Ok(None) => return Err(Refusal::NotFound),
        Err(err @ StoreError::NotRotatable { .. }) => {
            return Err(Refusal::Invalid(vec![err.to_string()]));
        }
        Err(err) => return Err(unavailable(err)),
    };
    let action = format!(
        "rotated token {} to {} ({grace} minutes of grace)",
        rotated.old.id, rotated.new.id
    );
    Ok((
        json!({
            "status": "ok",
            "id": rotated.new.id,
            "token": rotated.value,
            "hint": rotated.new.hint,
            "rotatedFrom": rotated.old.id,
            "retireAt": rotated.old.life.retire_at,
            "validUntil": rotated.new.valid_until,
        }),
        Some(action),
    ))
}

async fn delete(gateway: &Gateway, request: &Value) -> Answer {
    let revoked = if let Some(id) = string_field(request, "id")? {
        gateway.store.revoke_id(&id).await
    } else if let Some(value) = string_field(request, "token")? {
        gateway.store.revoke_value(&value).await
    } else {
        return Err(Refusal::BadRequest(
            "give the token's \"id\" or its \"token\" value".into(),
        ));
    };
    match revoked.map_err(unavailable)? {
        Some(token) => {
            gateway.policy.forget(&token.id);
            Ok((
                json!({ "status": "ok", "id": token.id }),
                Some(format!("revoked token {}", token.id)),
            ))
        }
        None => Err(Refusal::NotFound),
    }
}
