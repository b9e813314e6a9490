//! Cheap tokens decided on the worker that holds the request, in an instance of that
//! thread's own: a hop to a policy thread and back costs two wake-ups and about 25 µs of
//! CPU per request, several times the decision itself.
//!
//! Only a token whose first decision on the policy threads proved it cheap (no body,
//! compiled in under 10 ms, decided in under 200 µs) runs here, only for targets of at
//! most 2 KiB, and under a 10 ms deadline (50 ms to compile it in this thread's instance).
//! When it runs past that having used at least half of it in CPU time, it goes to the
//! policy threads for a minute, and comes back only if a decision there is cheap again: a
//! worker is held past the deadline at most once a minute per token. A call that ran past
//! the deadline because a loaded machine did not schedule the thread (little CPU used)
//! leaves the token where it is; that request alone is decided on the policy threads.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use tokengate_policy as native;

use super::instance::Instance;
use super::workers::{Answer, Inbox};
use super::{PolicyError, PolicyToken, Shared};

/// Compile time under which a token may be decided inline.
pub(super) const FAST_COMPILE: Duration = Duration::from_millis(10);
/// Decision time under which a token may be decided inline.
pub(super) const FAST_CALL: Duration = Duration::from_micros(200);
/// What an inline decision may take before the token leaves this lane.
const DEADLINE: Duration = Duration::from_millis(10);
/// What compiling the token in this thread's instance may take (five times what it took
/// on a policy thread at most).
const COMPILE_DEADLINE: Duration = Duration::from_millis(50);
/// Longest target decided inline: a long URL makes any regex work longer.
const MAX_TARGET: usize = 2048;

/// One runtime's instance on this thread, and the ids of revoked tokens it must drop.
struct Held {
    runtime: u64,
    instance: Option<Instance>,
    inbox: Arc<Inbox>,
}

thread_local! {
    static HELD: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

/// Whether this request may be decided inline.
pub(super) fn eligible(token: &dyn PolicyToken, request: &native::RawRequest) -> bool {
    token.state().inline() && request.body.is_none() && request.target.len() <= MAX_TARGET
}

/// Decides inline; `None` when the token ran past the deadline (it has left this lane,
/// and the policy threads decide this request).
pub(super) fn admit(
    shared: &Shared,
    token: &dyn PolicyToken,
    facts: &native::TokenFacts,
    request: &native::RawRequest,
    settings: native::Settings,
    public_base: &str,
) -> Option<Result<Answer, PolicyError>> {
    HELD.with(|held| {
        let mut held = held.borrow_mut();
        let index = match held.iter().position(|h| h.runtime == shared.id) {
            Some(index) => index,
            None => {
                let inbox = Arc::new(Inbox::default());
                shared
                    .inline_inboxes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Arc::downgrade(&inbox));
                held.push(Held {
                    runtime: shared.id,
                    instance: None,
                    inbox,
                });
                held.len() - 1
            }
        };
        let slot = &mut held[index];
        if slot.inbox.pending.swap(false, Ordering::AcqRel)
            && let Some(instance) = slot.instance.as_mut()
        {
            let ids = std::mem::take(&mut *slot.inbox.ids.lock().unwrap_or_else(PoisonError::into_inner));
            for id in &ids {
                instance.forget(id);
            }
        }
        let limits = super::Limits {
            call_deadline: DEADLINE,
            compile_deadline: COMPILE_DEADLINE,
            ..shared.limits.clone()
        };
        let cpu_before = thread_cpu();
        let result = super::workers::with_instance(
            shared.compiled,
            &limits,
            &mut slot.instance,
            |instance| {
                instance
                    .admit(token.rules(), facts, request, settings, public_base)
                    .map(Answer::Admitted)
            },
        );
        match result {
            Err(PolicyError::Deadline) => {
                let used = thread_cpu().saturating_sub(cpu_before);
                if used >= DEADLINE / 2 {
                    token.state().pause_inline(request.now_ms);
                    tracing::info!(
                        token = token.rules().id,
                        cpu_us = used.as_micros(),
                        "a decision ran past the inline deadline: the token is decided on the policy threads for a minute"
                    );
                } else {
                    tracing::debug!(
                        token = token.rules().id,
                        cpu_us = used.as_micros(),
                        "an inline decision ran past its deadline while its thread waited for a core"
                    );
                }
                None
            }
            other => Some(other),
        }
    })
}

/// Where a token decided on a policy thread runs next: inline if its first measured
/// decision was cheap, or again if it was paused and this decision was cheap.
pub(super) fn learn(
    token: &dyn PolicyToken,
    needs_body: bool,
    compiled_in: Option<Duration>,
    decided_in: Duration,
    now_ms: i64,
) {
    if !token.state().lane_unknown() {
        if !needs_body && decided_in <= FAST_CALL {
            token.state().resume_inline(now_ms);
        }
        return;
    }
    // Only a decision that compiled the token tells what compiling costs.
    if let Some(compiled_in) = compiled_in {
        token
            .state()
            .learn_lane(!needs_body && compiled_in <= FAST_COMPILE && decided_in <= FAST_CALL);
    }
}

/// CPU time the calling thread has used.
fn thread_cpu() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Measures `work`.
pub(super) fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = work();
    (value, started.elapsed())
}
