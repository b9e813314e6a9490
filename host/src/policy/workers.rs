//! The policy threads: each owns one instance and takes jobs from one queue, so a slow
//! decision holds a thread, never an async worker, and any free thread takes the next job.
//!
//! Bounds: a token runs at most half the threads at once, jobs in the queue are bounded in
//! total, and a token whose decisions keep hitting the deadline is held back a while.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use tokengate_policy as native;
use tokio::sync::{Semaphore, oneshot};

use super::instance::{CompileError, Compiled, Instance};
use super::{Limits, PolicyError, PolicyToken, inline};

/// Jobs queued or running per thread before callers wait for room.
const QUEUE_PER_THREAD: usize = 8;

/// Threads by default: one per core.
pub(super) fn default_threads() -> usize {
    thread::available_parallelism().map_or(2, usize::from)
}

/// What a policy thread answers a request.
#[derive(Debug)]
pub enum Answer {
    /// The token reads the body: read it and ask again with it.
    NeedsBody,
    /// The checked target and the decision, or why the target was refused.
    Admitted(Result<native::Admission, native::TargetError>),
}

enum Job {
    Admit {
        token: Arc<dyn PolicyToken>,
        facts: native::TokenFacts,
        request: native::RawRequest,
        body_read: bool,
        settings: native::Settings,
        public_base: Arc<str>,
        reply: oneshot::Sender<Result<Answer, PolicyError>>,
    },
    Check {
        limit_to: String,
        ip: String,
        reply: oneshot::Sender<Result<Result<Vec<String>, CompileError>, PolicyError>>,
    },
}

/// Token ids whose rules a thread should drop at its next job.
#[derive(Default)]
pub(super) struct Inbox {
    pub(super) pending: AtomicBool,
    pub(super) ids: Mutex<Vec<String>>,
}

impl Inbox {
    /// Asks the thread to drop `token_id`'s rules.
    pub(super) fn post(&self, token_id: &str) {
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(token_id.to_owned());
        self.pending.store(true, Ordering::Release);
    }
}

/// The threads and their queue; the threads stop when this is dropped.
pub(super) struct Workers {
    jobs: crossbeam_channel::Sender<Job>,
    room: Arc<Semaphore>,
    per_token: usize,
    inboxes: Vec<Arc<Inbox>>,
}

impl Workers {
    /// Starts `limits.threads` policy threads (at least one).
    pub(super) fn start(compiled: &'static Compiled, limits: &Limits) -> Result<Self, PolicyError> {
        let threads = limits.threads.max(1);
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let room = Arc::new(Semaphore::new(threads * QUEUE_PER_THREAD));
        let mut inboxes = Vec::with_capacity(threads);
        for n in 0..threads {
            let inbox = Arc::new(Inbox::default());
            inboxes.push(Arc::clone(&inbox));
            let queue = queue.clone();
            let room = Arc::clone(&room);
            let limits = limits.clone();
            thread::Builder::new()
                .name(format!("policy-{n}"))
                .spawn(move || run(compiled, &limits, &queue, &inbox, &room))
                .map_err(|err| PolicyError::Load(format!("starting a policy thread: {err}")))?;
        }
        Ok(Self {
            jobs,
            room,
            per_token: threads.div_ceil(2),
            inboxes,
        })
    }

    pub(super) fn threads(&self) -> usize {
        self.inboxes.len()
    }

    pub(super) async fn admit(
        &self,
        token: Arc<dyn PolicyToken>,
        facts: native::TokenFacts,
        request: native::RawRequest,
        body_read: bool,
        settings: native::Settings,
        public_base: Arc<str>,
    ) -> Result<Answer, PolicyError> {
        if let Some(until) = token.state().quarantined(request.now_ms) {
            let secs = u64::try_from((until - request.now_ms + 999) / 1000).unwrap_or(0);
            return Err(PolicyError::Quarantined { secs });
        }
        let holder = Arc::clone(&token);
        let _in_flight = holder.state().enter(self.per_token).await;
        let (reply, answer) = oneshot::channel();
        self.send(Job::Admit {
            token,
            facts,
            request,
            body_read,
            settings,
            public_base,
            reply,
        })
        .await?;
        answer.await.map_err(|_| PolicyError::Stopped)?
    }

    pub(super) async fn check(
        &self,
        limit_to: String,
        ip: String,
    ) -> Result<Result<Vec<String>, CompileError>, PolicyError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Check {
            limit_to,
            ip,
            reply,
        })
        .await?;
        answer.await.map_err(|_| PolicyError::Stopped)?
    }

    async fn send(&self, job: Job) -> Result<(), PolicyError> {
        // The permit is given back by the thread once the job is done.
        let permit = self
            .room
            .acquire()
            .await
            .map_err(|_| PolicyError::Stopped)?;
        permit.forget();
        self.jobs.send(job).map_err(|_| PolicyError::Stopped)
    }

    pub(super) fn forget(&self, token_id: &str) {
        for inbox in &self.inboxes {
            inbox.post(token_id);
        }
    }
}

/// A policy thread: one instance, replaced when a call broke it or it grew too large.
fn run(
    compiled: &'static Compiled,
    limits: &Limits,
    queue: &crossbeam_channel::Receiver<Job>,
    inbox: &Inbox,
    room: &Semaphore,
) {
    let mut instance: Option<Instance> = None;
    let inline_lane = limits.inline;
    while let Ok(job) = queue.recv() {
        if inbox.pending.swap(false, Ordering::AcqRel) {
            let ids =
                std::mem::take(&mut *inbox.ids.lock().unwrap_or_else(PoisonError::into_inner));
            if let Some(held) = instance.as_mut() {
                for id in &ids {
                    held.forget(id);
                }
                if held.is_broken() {
                    instance = None;
                }
            }
        }
        match job {
            Job::Admit {
                token,
                facts,
                request,
                body_read,
                settings,
                public_base,
                reply,
            } => {
                let answer = with_instance(compiled, limits, &mut instance, |instance| {
                    let rules = token.rules();
                    let compiles = !instance.has_rules(rules.id);
                    let (needs_body, compiled_in) = inline::timed(|| instance.needs_body(rules));
                    let needs_body = needs_body?;
                    token.state().learn_needs_body(needs_body);
                    if needs_body && !body_read {
                        return Ok(Answer::NeedsBody);
                    }
                    let (admitted, decided_in) = inline::timed(|| {
                        instance.admit(rules, &facts, &request, settings, &public_base)
                    });
                    let admitted = admitted?;
                    if inline_lane {
                        let compiled_in = compiles.then_some(compiled_in);
                        inline::learn(&*token, needs_body, compiled_in, decided_in, request.now_ms);
                    }
                    Ok(Answer::Admitted(admitted))
                });
                match &answer {
                    Err(PolicyError::Deadline) => token.state().strike(request.now_ms),
                    Ok(_) => token.state().cleared(),
                    Err(_) => {}
                }
                let _ = reply.send(answer);
            }
            Job::Check {
                limit_to,
                ip,
                reply,
            } => {
                let answer = with_instance(compiled, limits, &mut instance, |instance| {
                    instance.check(&limit_to, &ip)
                });
                let _ = reply.send(answer);
            }
        }
        // The job's room in the queue, taken by `Workers::send`.
        room.add_permits(1);
    }
}

/// Runs `work` in the thread's instance (a fresh one when it has none), once more in a
/// fresh one when it ran out of memory (other tokens' rules may have filled it).
pub(super) fn with_instance<T>(
    compiled: &'static Compiled,
    limits: &Limits,
    slot: &mut Option<Instance>,
    work: impl Fn(&mut Instance) -> Result<T, PolicyError>,
) -> Result<T, PolicyError> {
    let instance = match slot.as_mut() {
        Some(instance) => instance,
        None => slot.insert(compiled.instantiate(limits)?),
    };
    let result = match work(instance) {
        Err(PolicyError::OutOfMemory { .. }) => {
            let fresh = slot.insert(compiled.instantiate(limits)?);
            work(fresh)
        }
        other => other,
    };
    if slot
        .as_ref()
        .is_some_and(|instance| instance.is_broken() || instance.is_worn())
    {
        *slot = None;
    }
    result
}
