//! Delivers token events ([`crate::events`]) to `TOKENGATE_WEBHOOK_URL`: each one POSTed
//! as JSON, signed as GitHub signs (`X-Tokengate-Signature: sha256=` + HMAC-SHA256 of the
//! body under `TOKENGATE_WEBHOOK_SECRET`), at least once, with retries and backoff.
//!
//! Events wait in the store until a delivery is answered with 2xx, so a receiver that is
//! down, a restart or a `kill -9` only delays them; an event claimed by an instance that
//! died is taken over when its claim runs out. With several instances, claims keep
//! each delivery to one of them. Receivers drop repeats by the event's `id`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Request, Uri};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

use crate::config::Secret;
use crate::events::{Event, KEEP_MS, Settle, backoff_ms};
use crate::gateway::Gateway;
use crate::lifetime::DAY_MS;

/// How often due events are looked for (a change made by the CLI or another instance is
/// announced within it).
const POLL: Duration = Duration::from_secs(1);
/// Polls between two sweeps for expiring and expired tokens.
const SWEEP_EVERY_POLLS: u32 = 5;
/// Events claimed at a time.
const CLAIM: u32 = 20;
/// Time a receiver has to answer one delivery.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where events go and the key they are signed with.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// An `http` or `https` URL.
    pub url: Uri,
    /// The HMAC-SHA256 key.
    pub secret: Secret,
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let digest = match <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes a key of any length; nothing to sign with otherwise.
        Err(_) => Vec::new(),
    };
    format!("sha256={}", hex::encode(digest))
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client() -> Result<HttpsClient, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(DELIVERY_TIMEOUT));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(provider)?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Sweeps for expiring tokens and delivers due events until the gateway is dropped.
/// Without a webhook it only sweeps, and forgets undelivered events after a week.
pub async fn run(gateway: Weak<Gateway>, webhook: Option<Webhook>) {
    let client = match webhook.as_ref().map(|_| client()).transpose() {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "webhook client could not be built; events wait");
            None
        }
    };
    let mut every = tokio::time::interval(POLL);
    let mut polls = 0_u32;
    loop {
        every.tick().await;
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        if polls.is_multiple_of(SWEEP_EVERY_POLLS) {
            sweep(&gateway, client.is_none()).await;
        }
        polls = polls.wrapping_add(1);
        if let (Some(webhook), Some(client)) = (&webhook, &client) {
            deliver_due(&gateway, webhook, client).await;
        }
    }
}

async fn sweep(gateway: &Gateway, undelivered_too: bool) {
    let now = gateway.config.clock.now_ms();
    let warning = i64::from(gateway.config.lifetime.expiry_warning_days).saturating_mul(DAY_MS);
    let swept = gateway
        .store
        .backend()
        .sweep_events(now, warning, now.saturating_sub(KEEP_MS), undelivered_too)
        .await;
    if let Err(err) = swept {
        tracing::warn!(error = %err, "sweeping token events failed; retrying later");
    }
}

/// Delivers every due event, a claim at a time.
async fn deliver_due(gateway: &Gateway, webhook: &Webhook, client: &HttpsClient) {
    let backend = gateway.store.backend();
    loop {
        let events = match backend.claim_events(crate::now_ms(), CLAIM).await {
            Ok(events) => events,
            Err(err) => {
                tracing::warn!(error = %err, "claiming token events failed; retrying later");
                return;
            }
        };
        let full = events.len() == CLAIM as usize;
        for event in events {
            let delivered = deliver(webhook, client, &event).await;
            gateway.metrics.webhook(delivered.is_ok());
            let settle = match delivered {
                Ok(()) => Settle::Delivered(crate::now_ms()),
                Err(why) => {
                    tracing::warn!(event = event.id, kind = %event.kind, %why,
                        "webhook delivery failed; retrying");
                    Settle::Retry(crate::now_ms().saturating_add(backoff_ms(event.attempts)))
                }
            };
            if let Err(err) = backend.settle_event(event.id, settle).await {
                // The claim runs out and the event is sent again: at least once.
                tracing::warn!(error = %err, event = event.id, "recording a delivery failed");
            }
        }
        if !full {
            return;
        }
    }
}

/// POSTs one event; `Err` says why it did not count as delivered.
async fn deliver(webhook: &Webhook, client: &HttpsClient, event: &Event) -> Result<(), String> {
    let body = event.body().to_string();
    let request = Request::post(webhook.url.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "tokengate-webhook")
        .header("x-tokengate-event", event.kind.as_str())
        .header("x-tokengate-delivery", event.public_id())
        .header(
            "x-tokengate-signature",
            signature(webhook.secret.expose(), body.as_bytes()),
        )
        .body(Full::new(Bytes::from(body)))
        .map_err(|err| err.to_string())?;
    let response = tokio::time::timeout(DELIVERY_TIMEOUT, client.request(request))
        .await
        .map_err(|_| format!("no answer within {DELIVERY_TIMEOUT:?}"))?
        .map_err(|err| err.to_string())?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256_as_github_writes_them() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
