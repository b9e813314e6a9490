//! The one way out of every request: the refusal's audit record is committed before it
//! is answered, an allowed request's outcome is written beside its record, failed
//! authentications are counted against the client's address, and metrics are counted.

use std::net::IpAddr;
use std::time::Instant;

use http::{Response, StatusCode};
use tokengate_core::audit::Reason;
use tokengate_core::gate::Exit;

use crate::audit::Completion;
use crate::gateway::Gateway;
use crate::response::{Body, Refusal, refusal};

/// How a request ended, as the phases hand it to [`finish`].
pub(crate) enum Ending {
    /// One of the gateway's own endpoints.
    Internal {
        response: Response<Body>,
        what: &'static str,
    },
    /// A request without token credentials, forwarded untouched (or not reached).
    Passthrough {
        response: Response<Body>,
        reason: Reason,
    },
    /// A refusal; `client` counts a 401 as a failed authentication of that address.
    Refused { exit: Exit, client: Option<IpAddr> },
    /// An allowed request, answered by the upstream or the admin API, or failed upstream
    /// after its allow record `audit_id` was committed.
    Answered {
        response: Response<Body>,
        reason: Reason,
        audit_id: i64,
        /// The upstream failed: the response is the gateway's, not the upstream's.
        failed: bool,
        /// The admin action's result, for the record.
        action: Option<String>,
        /// Wait until the outcome is committed before answering (admin actions).
        flush: bool,
    },
}

/// Ends a request: audits, counts and returns the response to send.
pub(crate) async fn finish(gateway: &Gateway, ending: Ending, started: Instant) -> Response<Body> {
    let latency = started.elapsed();
    let latency_ms = i64::try_from(latency.as_millis()).unwrap_or(i64::MAX);
    let (response, decision, reason) = match ending {
        Ending::Internal { response, what } => (response, "internal", what),
        Ending::Passthrough { response, reason } => {
            count_upstream_error(gateway, reason);
            (response, "passthrough", reason.as_str())
        }
        Ending::Refused { exit, client } => {
            let Exit {
                refusal: answer,
                mut reason,
                record,
            } = exit;
            let mut response = refusal(&answer, gateway.config.auth_mode);
            if let Some(mut record) = record {
                record.latency_ms = Some(latency_ms);
                if let Err(err) = gateway.audit.append(*record).await {
                    tracing::error!(error = %err, "refusing: audit log unavailable");
                    reason = err.reason();
                    response = refusal(&Refusal::Unavailable, gateway.config.auth_mode);
                }
            }
            if response.status() == StatusCode::UNAUTHORIZED
                && let Some(client) = client
                && gateway.auth_failures.fail(client, Instant::now())
            {
                tracing::warn!(
                    %client,
                    per_minute = gateway.config.auth_failure_limit_per_minute,
                    "too many failed authentications: refusing this address for a while"
                );
            }
            (response, "deny", reason.as_str())
        }
        Ending::Answered {
            response,
            reason,
            audit_id,
            failed,
            action,
            flush,
        } => {
            count_upstream_error(gateway, reason);
            gateway.audit.complete(Completion {
                id: audit_id,
                status: (!failed).then(|| response.status().as_u16()),
                latency_ms,
                action,
                reason: failed.then_some(reason),
            });
            if flush {
                gateway.audit.flush().await;
            }
            (response, "allow", reason.as_str())
        }
    };
    gateway.metrics.observe_request(decision, reason, latency);
    response
}

/// Counts a failed upstream exchange by kind.
fn count_upstream_error(gateway: &Gateway, reason: Reason) {
    if matches!(
        reason,
        Reason::UpstreamConnect | Reason::UpstreamTimeout | Reason::UpstreamError
    ) {
        gateway.metrics.upstream_error(reason.as_str());
    }
}
