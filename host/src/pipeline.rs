//! A proxied request's phases: screen → credentials → token → body → decide → admit →
//! rate → audit → forward. The decisions are the shared core's (`tokengate_core::gate`);
//! this module only does the I/O between them, and every phase ends in an [`Ending`].
//!
//! Hot path: one policy call (on a policy thread), one audit record (group commit on the
//! writer's thread), nothing computed twice.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, Request, Version};
use tokengate_core::audit::Reason;
use tokengate_core::gate::{
    Admitted, Exit, Head, Route, Screened, Session, Version as HttpVersion,
};
use tokengate_core::refusal::{Refusal, retry_after_secs};

use crate::audit::AuditError;
use crate::finish::Ending;
use crate::gateway::Gateway;
use crate::index::Live;
use crate::policy::{Answer, PolicyToken};
use crate::proxy::Identity;
use crate::response::{Body, ReadError, full, read_within};

/// Runs a request that is not for one of the gateway's own endpoints.
pub(crate) async fn run(
    gateway: &Gateway,
    request: Request<Body>,
    peer: IpAddr,
    started: Instant,
) -> Ending {
    let (parts, body) = request.into_parts();
    let client = gateway.proxy.client_ip(peer, &parts.headers);
    let target = raw_target(&parts);
    let head = Head {
        method: parts.method.as_str(),
        target: &target,
        version: version(parts.version),
        hosts: parts.headers.get_all(HOST).iter().count(),
        ambiguous_framing: parts.headers.contains_key(CONTENT_LENGTH)
            && parts.headers.contains_key(TRANSFER_ENCODING),
        authorization: all(&parts.headers, http::header::AUTHORIZATION),
        client: client.to_string(),
        now_ms: gateway.config.clock.now_ms(),
    };
    let credentials = match gateway.gate.screen(&head) {
        Ok(Screened::Token(credentials)) => credentials,
        Ok(Screened::Passthrough) => return passthrough(gateway, parts, body, &target, peer).await,
        Err(exit) => return refused(exit, client),
    };
    if let Err(wait) = gateway.auth_failures.check(client, started) {
        let retry_after_secs = retry_after_secs(wait);
        return Ending::Refused {
            exit: Exit {
                refusal: Refusal::TooManyFailures { retry_after_secs },
                reason: Reason::AuthRateLimited,
                record: None,
            },
            client: None,
        };
    }
    let session = match gateway
        .gate
        .authenticate(&head, credentials, gateway.store.index())
    {
        Ok(session) => session,
        Err(exit) => return refused(exit, client),
    };
    drop(head);
    if gateway.proxy.declares_too_large_body(&parts.headers) {
        let exit = session.fail(Refusal::PayloadTooLarge, Reason::BodyTooLarge, None);
        return refused(exit, client);
    }
    let (admitted, body) = match decide(gateway, session, body).await {
        Ok(decided) => decided,
        Err(exit) => return refused(exit, client),
    };
    let admitted = match rate(gateway, admitted).await {
        Ok(admitted) => admitted,
        Err(exit) => return refused(exit, client),
    };
    let Admitted {
        token,
        user,
        route,
        path,
        path_and_query,
        mut record,
    } = admitted;
    record.note_ip = token.note_ip(&record.client_ip, record.time);
    if let Route::Admin(endpoint) = route {
        record.action = Some(crate::admin::action(endpoint, &path, &parts.method));
    }
    // The record of an allowed request is committed before anything is done for it.
    let audit_id = match gateway.audit.append(record).await {
        Ok(id) => id,
        // Written as a refusal in the same commit that found no use left.
        Err(AuditError::QuotaExhausted) => {
            let exit = Exit {
                refusal: Refusal::Forbidden,
                reason: Reason::QuotaExhausted,
                record: None,
            };
            return refused(exit, client);
        }
        Err(err) => {
            tracing::error!(error = %err, "refusing: audit log unavailable");
            let exit = Exit {
                refusal: Refusal::Unavailable,
                reason: err.reason(),
                record: None,
            };
            return refused(exit, client);
        }
    };
    match route {
        Route::Admin(endpoint) => {
            let (response, action) =
                crate::admin::handle(gateway, &parts, body, endpoint, &path_and_query, &user).await;
            Ending::Answered {
                response,
                reason: Reason::Admin,
                audit_id,
                failed: false,
                action,
                flush: true,
            }
        }
        Route::Upstream => {
            let forwarded = gateway
                .proxy
                .forward(parts, body, &path_and_query, peer, Identity::User(&user))
                .await;
            match forwarded {
                Ok(response) => Ending::Answered {
                    response,
                    reason: Reason::Forwarded,
                    audit_id,
                    failed: false,
                    action: None,
                    flush: false,
                },
                Err(failure) => Ending::Answered {
                    response: crate::response::refusal(
                        &failure.refusal(),
                        gateway.config.auth_mode,
                    ),
                    reason: failure.reason(),
                    audit_id,
                    failed: true,
                    action: None,
                    flush: false,
                },
            }
        }
    }
}

fn refused(exit: Exit, client: IpAddr) -> Ending {
    Ending::Refused {
        exit,
        client: Some(client),
    }
}

/// Reads the body when the token's lines need it, and asks the policy: one call, or two
/// for the first request of a token not yet known to read the body.
async fn decide(
    gateway: &Gateway,
    session: Session<Arc<Live>>,
    body: Body,
) -> Result<(Admitted<Arc<Live>>, Body), Exit> {
    let token: Arc<dyn PolicyToken> = Arc::clone(session.token()) as Arc<dyn PolicyToken>;
    let mut body = body;
    let mut text = None;
    let mut read = false;
    if token.state().needs_body() == Some(true) {
        match read_body(gateway, body).await {
            Ok((full_body, body_text)) => {
                body = full_body;
                text = body_text;
                read = true;
            }
            Err((refusal, reason)) => return Err(session.fail(refusal, reason, None)),
        }
    }
    loop {
        let answer = gateway
            .policy
            .admit(
                Arc::clone(&token),
                session.token_facts(),
                session.request(text.clone()),
                read,
                gateway.decision_settings,
                Arc::clone(&gateway.public_base),
            )
            .await;
        match answer {
            Ok(Answer::Admitted(admission)) => {
                return session
                    .conclude(&gateway.gate, admission)
                    .map(|admitted| (admitted, body));
            }
            Ok(Answer::NeedsBody) if !read => match read_body(gateway, body).await {
                Ok((full_body, body_text)) => {
                    body = full_body;
                    text = body_text;
                    read = true;
                }
                Err((refusal, reason)) => return Err(session.fail(refusal, reason, None)),
            },
            Ok(Answer::NeedsBody) => {
                let detail = "the policy asked for a body it was given";
                return Err(session.fail(Refusal::Unavailable, Reason::PolicyError, Some(detail)));
            }
            Err(err) => {
                tracing::error!(error = %err, "refusing: policy failed (fail closed)");
                let detail = err.to_string();
                return Err(session.fail(Refusal::Unavailable, Reason::PolicyError, Some(&detail)));
            }
        }
    }
}

/// The whole body, within the body limit and deadline, and its text for the policy (not
/// UTF-8 means not JSON: the conditions see no body).
async fn read_body(
    gateway: &Gateway,
    body: Body,
) -> Result<(Body, Option<String>), (Refusal, Reason)> {
    match read_within(body, gateway.config.body_limit, gateway.config.body_timeout).await {
        Ok(bytes) => {
            let text = std::str::from_utf8(&bytes).ok().map(str::to_owned);
            Ok((full(bytes), text))
        }
        Err(ReadError::TooLarge(_)) => Err((Refusal::PayloadTooLarge, Reason::BodyTooLarge)),
        Err(ReadError::Stream(_)) => Err((
            Refusal::BadRequest("the request body could not be read".into()),
            Reason::BodyUnreadable,
        )),
        Err(ReadError::Timeout(_)) => Err((Refusal::BodyTimeout, Reason::BodyTimeout)),
    }
}

/// Takes one request from the token's rate bucket.
async fn rate(
    gateway: &Gateway,
    admitted: Admitted<Arc<Live>>,
) -> Result<Admitted<Arc<Live>>, Exit> {
    let answer = gateway
        .store
        .take_rate(&admitted.token.id, gateway.config.rate_limit_per_minute)
        .await;
    match answer {
        Ok(Ok(())) => Ok(admitted),
        Ok(Err(wait)) => {
            let retry_after_secs = retry_after_secs(wait);
            Err(admitted.fail(
                Refusal::RateLimited { retry_after_secs },
                Reason::RateLimited,
            ))
        }
        Err(err) => {
            tracing::error!(error = %err, "refusing: rate buckets unavailable");
            Err(admitted.fail(Refusal::Unavailable, Reason::StoreUnavailable))
        }
    }
}

/// A request without token credentials in passthrough mode: forwarded as sent (no policy,
/// no audit), except that no one may claim an identity.
async fn passthrough(
    gateway: &Gateway,
    parts: http::request::Parts,
    body: Body,
    target: &str,
    peer: IpAddr,
) -> Ending {
    if !target.starts_with('/') {
        let answer = Refusal::BadTarget("only origin-form targets are forwarded".into());
        return Ending::Passthrough {
            response: crate::response::refusal(&answer, gateway.config.auth_mode),
            reason: Reason::Target(tokengate_policy::TargetRefusal::NotOriginForm),
        };
    }
    match gateway
        .proxy
        .forward(parts, body, target, peer, Identity::Anonymous)
        .await
    {
        Ok(response) => Ending::Passthrough {
            response,
            reason: Reason::Forwarded,
        },
        Err(failure) => Ending::Passthrough {
            response: crate::response::refusal(&failure.refusal(), gateway.config.auth_mode),
            reason: failure.reason(),
        },
    }
}

/// The target as the client sent it: origin-form from the request line, or the whole
/// absolute-form URI (which the policy refuses). HTTP/2 requests always carry a scheme
/// and authority, so their path and query are the target.
fn raw_target(parts: &http::request::Parts) -> String {
    let uri = &parts.uri;
    match uri.path_and_query() {
        Some(pq) if parts.version == Version::HTTP_2 || uri.scheme().is_none() => {
            pq.as_str().to_owned()
        }
        _ => uri.to_string(),
    }
}

fn version(version: Version) -> HttpVersion {
    match version {
        Version::HTTP_09 | Version::HTTP_10 => HttpVersion::Http10,
        Version::HTTP_11 => HttpVersion::Http11,
        _ => HttpVersion::Http2,
    }
}

/// Every value of a header, as bytes.
fn all(headers: &HeaderMap, name: http::HeaderName) -> Vec<&[u8]> {
    headers
        .get_all(name)
        .iter()
        .map(|value| value.as_bytes())
        .collect()
}
