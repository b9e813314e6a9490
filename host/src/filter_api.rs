//! The gateway as the proxy-wasm filters' control plane: `GET /tokengate/filter/config`
//! serves their configuration (with an `ETag`, and 304 when it did not change), and
//! `POST /tokengate/filter/audit` takes their audit batches into the audit log.
//!
//! Both answer only a live filter credential (`tokengate filter credential create`),
//! presented as `Authorization: Bearer tgf_…`. Neither writes an audit record of its own
//! (a fleet polls every few seconds); both are counted in `/metrics`.

mod intake;
mod served;

use std::net::IpAddr;
use std::time::Instant;

use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use serde_json::json;
use tokengate_core::export::{AUDIT_PATH, CONFIG_PATH, VERSION_HEADER};

pub use served::{Served, ServedConfig};

use crate::audit::{FilterBatch, Stored};
use crate::config::AuthMode;
use crate::finish::Ending;
use crate::gateway::Gateway;
use crate::response::{Body, ReadError, Refusal, full, read_within, refusal};
use crate::store::FilterCredential;

/// Every path under this is a filter endpoint.
pub const PREFIX: &str = "/tokengate/filter/";

/// Answers a request under [`PREFIX`] from `peer`.
pub(crate) async fn answer(gateway: &Gateway, request: Request<Body>, peer: IpAddr) -> Ending {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let known = path == CONFIG_PATH || path == AUDIT_PATH;
    let allowed = (path == CONFIG_PATH && parts.method == Method::GET)
        || (path == AUDIT_PATH && parts.method == Method::POST);
    if !allowed {
        let answer = if known {
            Refusal::MethodNotAllowed
        } else {
            Refusal::NotFound
        };
        return internal(refusal(&answer, AuthMode::Bearer), "filter-refused");
    }
    let client = gateway.proxy.client_ip(peer, &parts.headers);
    let credential = match authenticate(gateway, &parts.headers, client).await {
        Ok(credential) => credential,
        Err(response) => return internal(response, "filter-unauthenticated"),
    };
    if path == CONFIG_PATH {
        internal(config(gateway, &parts.headers).await, "filter-config")
    } else {
        let response = audit(gateway, &parts.headers, body, &credential).await;
        internal(response, "filter-audit")
    }
}

fn internal(response: Response<Body>, what: &'static str) -> Ending {
    Ending::Internal { response, what }
}

/// The live credential presented as Bearer; failures count against the client's address
/// like failed token authentications.
async fn authenticate(
    gateway: &Gateway,
    headers: &HeaderMap,
    client: IpAddr,
) -> Result<FilterCredential, Response<Body>> {
    let now = Instant::now();
    if let Err(wait) = gateway.auth_failures.check(client, now) {
        let retry_after_secs = crate::response::retry_after_secs(wait);
        return Err(refusal(
            &Refusal::TooManyFailures { retry_after_secs },
            AuthMode::Bearer,
        ));
    }
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, credential) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| credential.trim())
        })
        .filter(|credential| !credential.is_empty());
    let found = match presented {
        Some(value) => gateway.store.credential(value).await,
        None => Ok(None),
    };
    match found {
        Ok(Some(credential)) => Ok(credential),
        Ok(None) => {
            gateway.auth_failures.fail(client, now);
            tracing::warn!(%client, "a filter endpoint was called without a live filter credential");
            Err(refusal(&Refusal::Unauthenticated, AuthMode::Bearer))
        }
        Err(err) => {
            tracing::error!(error = %err, "refusing a filter: the store cannot be read");
            Err(refusal(&Refusal::Unavailable, AuthMode::Bearer))
        }
    }
}

/// The configuration, or 304 when the filter holds the current one.
async fn config(gateway: &Gateway, headers: &HeaderMap) -> Response<Body> {
    let served = match gateway.filter_config.current(&gateway.store).await {
        Ok(served) => served,
        Err(err) => {
            tracing::error!(error = %err, "the filter configuration cannot be built");
            gateway.metrics.filter_config("unavailable");
            return refusal(&Refusal::Unavailable, AuthMode::Bearer);
        }
    };
    let held = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim().trim_start_matches("W/") == served.etag);
    let mut response = if held {
        gateway.metrics.filter_config("not-modified");
        let mut response = Response::new(full(""));
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        gateway.metrics.filter_config("sent");
        let mut response = Response::new(full(served.body.clone()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&served.etag) {
        headers.insert(ETAG, etag);
    }
    headers.insert(VERSION_HEADER, HeaderValue::from(served.version));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Takes one audit batch: stored once, whatever the retries.
async fn audit(
    gateway: &Gateway,
    headers: &HeaderMap,
    body: Body,
    credential: &FilterCredential,
) -> Response<Body> {
    let bad = |why: String| {
        gateway.metrics.filter_batch("refused", 0);
        tracing::warn!(credential = %credential.name, %why, "refusing a filter's audit batch");
        refusal(&Refusal::BadRequest(why), AuthMode::Bearer)
    };
    let meta = match intake::meta(headers) {
        Ok(meta) => meta,
        Err(why) => return bad(why),
    };
    let bytes = match read_within(body, intake::MAX_BATCH_BYTES, gateway.config.body_timeout).await
    {
        Ok(bytes) => bytes,
        Err(ReadError::TooLarge(_)) => {
            gateway.metrics.filter_batch("refused", 0);
            return refusal(&Refusal::PayloadTooLarge, AuthMode::Bearer);
        }
        Err(err) => return bad(err.to_string()),
    };
    let via = format!("{}/{}", credential.name, meta.instance);
    let records = match intake::records(&bytes, &via) {
        Ok(records) => records,
        Err(why) => return bad(why),
    };
    let counted: Vec<_> = records
        .iter()
        .map(|record| (record.decision, record.reason))
        .collect();
    let batch = FilterBatch {
        via,
        batch: meta.batch,
        records,
    };
    match gateway.audit.append_filter(batch).await {
        Ok(Stored::New) => {
            gateway.metrics.filter_batch("stored", meta.dropped);
            gateway.metrics.filter_records(&counted);
            crate::response::json(
                StatusCode::OK,
                &json!({ "stored": counted.len(), "duplicate": false }),
            )
        }
        Ok(Stored::Duplicate) => {
            gateway.metrics.filter_batch("duplicate", 0);
            crate::response::json(StatusCode::OK, &json!({ "stored": 0, "duplicate": true }))
        }
        Err(err) => {
            tracing::error!(error = %err, "a filter's audit batch cannot be stored now");
            gateway.metrics.filter_batch("unavailable", 0);
            refusal(&Refusal::Unavailable, AuthMode::Bearer)
        }
    }
}
