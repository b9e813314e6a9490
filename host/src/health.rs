//! `/healthz`: whether the gateway can serve (policy loaded, store writable), and
//! which policy component it runs, for load balancers and people.

use http::{Response, StatusCode};
use serde_json::json;

use crate::gateway::Gateway;
use crate::response::{Body, json};

/// The health answer: 200 when ready, 503 (with the reason) when the store takes no
/// writes.
pub async fn response(gateway: &Gateway) -> Response<Body> {
    let problem = gateway.store.check_writable().await.err();
    let writable = problem.is_none();
    let status = if writable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(
        status,
        &json!({
            "ready": writable,
            "component": gateway.policy.digest(),
            "storeWritable": writable,
            "storeProblem": problem.map(|err| err.to_string()),
            "liveTokens": gateway.store.live_tokens(),
        }),
    )
}
