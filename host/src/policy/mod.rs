//! The policy component for the gateway: compiled once per process, decided on threads of
//! its own so that no decision ever runs on an async worker, with per-token bounds.
//!
//! Requests go through [`PolicyRuntime::admit`]; tools and tests that decide one case at
//! a time use a [`PolicySession`] on their own thread.

mod inline;
mod instance;
mod token_state;
mod workers;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokengate_policy as native;

pub use instance::{
    Allowed, AuthScheme, CanonicalTarget, CompileError, ConditionCheck, Decision, Denied,
    DenyReason, LineCheck, Problem, RequestFacts, Scope, Settings, TargetError, TargetRefusal,
    TokenFacts, TokenRules,
};
pub use token_state::TokenState;
pub use workers::Answer;

use instance::{Compiled, Instance};

/// Guest memory per instance by default. A token's compiled rules take at most a few MiB
/// (the policy's `TOKEN_REGEX_BUDGET`); this caps what many tokens, a large body or a bug
/// could take.
pub const DEFAULT_MEMORY: usize = 64 << 20;

/// What the policy may take: memory per instance, threads, and time per call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Guest memory per instance, bytes.
    pub memory: usize,
    /// Threads that decide.
    pub threads: usize,
    /// Time one decision may take: thousands of times its normal cost (microseconds), so
    /// only a runaway guest or a hostile token reaches it.
    pub call_deadline: std::time::Duration,
    /// Time compiling one token may take: a 256-line token of large regexes compiles in a
    /// few hundred milliseconds.
    pub compile_deadline: std::time::Duration,
    /// Decide tokens that proved cheap on the request's own worker (see `inline`); off,
    /// every decision takes the hop to a policy thread.
    pub inline: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: DEFAULT_MEMORY,
            threads: workers::default_threads(),
            call_deadline: std::time::Duration::from_millis(100),
            compile_deadline: std::time::Duration::from_secs(1),
            inline: true,
        }
    }
}
/// Idle instances kept for sessions (tools and tests).
const SESSION_POOL: usize = 4;

/// Every way running the policy can fail. All of them refuse the request (fail closed,
/// 503).
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    /// The embedded component could not be compiled or instantiated.
    #[error("loading the policy component: {0}")]
    Load(String),
    /// A call needed more than the instance's memory; it is discarded.
    #[error("the policy component ran out of memory ({} MiB per instance)", limit >> 20)]
    OutOfMemory {
        /// The instance's memory limit, bytes.
        limit: usize,
    },
    /// A call ran past its deadline; the instance is discarded.
    #[error("the policy component ran past its deadline")]
    Deadline,
    /// The token's decisions kept running past their deadline: it is not run again for a
    /// while, so that it cannot take the policy threads from other tokens.
    #[error("the token's decisions kept running past their deadline; it is held back for {secs} s")]
    Quarantined {
        /// Seconds until its requests are decided again.
        secs: u64,
    },
    /// A call trapped or failed otherwise; the instance is discarded.
    #[error("the policy component failed: {0}")]
    Call(String),
    /// A stored token's rules no longer compile (they were checked at creation, so this
    /// means the store and the policy disagree).
    #[error("token {id} has rules the policy refuses: {problems}")]
    Rules {
        /// The token's id.
        id: String,
        /// The problems, joined.
        problems: String,
    },
    /// The policy threads are gone (the runtime is shutting down).
    #[error("the policy threads have stopped")]
    Stopped,
}

/// What the policy threads need of a token: its texts and its state. The gateway's live
/// tokens implement it, so a job carries an `Arc` rather than a copy of the lines.
pub trait PolicyToken: Send + Sync + 'static {
    /// The token's id, `limitTo` and `ip` as stored.
    fn rules(&self) -> RulesRef<'_>;
    /// Its per-token state (body need, concurrency, deadline strikes).
    fn state(&self) -> &TokenState;
}

/// A token's texts, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RulesRef<'a> {
    /// The id.
    pub id: &'a str,
    /// The `limitTo` text.
    pub limit_to: &'a str,
    /// The `ip` text.
    pub ip: &'a str,
}

impl TokenRules {
    fn borrowed(&self) -> RulesRef<'_> {
        RulesRef {
            id: &self.id,
            limit_to: &self.limit_to,
            ip: &self.ip,
        }
    }
}

/// The policy component and its threads; cheap to clone.
#[derive(Clone)]
pub struct PolicyRuntime {
    shared: Arc<Shared>,
}

struct Shared {
    /// Tells this runtime's per-thread inline instances from another's (tests run several).
    id: u64,
    compiled: &'static Compiled,
    limits: Limits,
    /// Revocations for the per-thread inline instances.
    inline_inboxes: Mutex<Vec<Weak<workers::Inbox>>>,
    workers: workers::Workers,
    /// Idle instances for sessions.
    idle: Mutex<Vec<Instance>>,
}

impl PolicyRuntime {
    /// Loads the embedded component (compiled once per process) with the default limits.
    pub fn new() -> Result<Self, PolicyError> {
        Self::with_limits(Limits::default())
    }

    /// [`Self::new`] with instances of at most `memory` bytes.
    pub fn with_memory_limit(memory: usize) -> Result<Self, PolicyError> {
        Self::with_limits(Limits {
            memory,
            ..Limits::default()
        })
    }

    /// The component within `limits`. Checks that it instantiates, so a broken one fails
    /// at start.
    pub fn with_limits(limits: Limits) -> Result<Self, PolicyError> {
        let compiled = Compiled::get()?;
        let first = compiled.instantiate(&limits)?;
        let workers = workers::Workers::start(compiled, &limits)?;
        static RUNTIMES: AtomicU64 = AtomicU64::new(0);
        Ok(Self {
            shared: Arc::new(Shared {
                id: RUNTIMES.fetch_add(1, Ordering::Relaxed),
                compiled,
                limits,
                inline_inboxes: Mutex::new(Vec::new()),
                workers,
                idle: Mutex::new(vec![first]),
            }),
        })
    }

    /// Hex SHA-256 of the component bytes, as `/healthz` and the web page show.
    pub fn digest(&self) -> &'static str {
        tokengate_policy_artifact::COMPONENT_SHA256
    }

    /// How many threads decide.
    pub fn threads(&self) -> usize {
        self.shared.workers.threads()
    }

    /// Canonicalises and decides one request on a policy thread; [`Answer::NeedsBody`]
    /// when the token reads the body and it was not read (`body_read`).
    pub async fn admit(
        &self,
        token: Arc<dyn PolicyToken>,
        facts: native::TokenFacts,
        request: native::RawRequest,
        body_read: bool,
        settings: native::Settings,
        public_base: Arc<str>,
    ) -> Result<Answer, PolicyError> {
        if self.shared.limits.inline
            && inline::eligible(&*token, &request)
            && let Some(answer) = inline::admit(
                &self.shared,
                &*token,
                &facts,
                &request,
                settings,
                &public_base,
            )
        {
            return answer;
        }
        self.shared
            .workers
            .admit(token, facts, request, body_read, settings, public_base)
            .await
    }

    /// Validates a token's texts on a policy thread: the trimmed lines, or every problem.
    pub async fn check(
        &self,
        limit_to: String,
        ip: String,
    ) -> Result<Result<Vec<String>, CompileError>, PolicyError> {
        self.shared.workers.check(limit_to, ip).await
    }

    /// An instance for deciding on the caller's own thread (tools and tests; never on an
    /// async worker of the gateway); it goes back to a small pool when dropped.
    pub fn session(&self) -> Result<PolicySession, PolicyError> {
        let idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let instance = match idle {
            Some(instance) => instance,
            None => self.shared.compiled.instantiate(&self.shared.limits)?,
        };
        Ok(PolicySession {
            shared: Arc::clone(&self.shared),
            instance: Some(instance),
        })
    }

    /// Drops a revoked token's compiled rules from every instance (the threads' at their
    /// next job).
    pub fn forget(&self, token_id: &str) {
        self.shared.workers.forget(token_id);
        self.shared
            .inline_inboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|inbox| match inbox.upgrade() {
                Some(inbox) => {
                    inbox.post(token_id);
                    true
                }
                None => false,
            });
        let mut idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for instance in idle.iter_mut() {
            instance.forget(token_id);
        }
        idle.retain(|instance| !instance.is_broken());
    }
}

/// A checked-out instance for one thread's calls. A call that runs out of memory is tried
/// once more in a fresh instance; any other failure discards it.
pub struct PolicySession {
    shared: Arc<Shared>,
    instance: Option<Instance>,
}

impl PolicySession {
    /// The checked form of a request target; see `canonicalize` in the WIT.
    pub fn canonicalize(
        &mut self,
        target: &str,
        public_base: &str,
    ) -> Result<Result<CanonicalTarget, TargetError>, PolicyError> {
        self.with_instance(|instance| instance.canonicalize(target, public_base))
    }

    /// Validates a token's texts: the trimmed lines, or every problem.
    pub fn check(
        &mut self,
        limit_to: &str,
        ip: &str,
    ) -> Result<Result<Vec<String>, CompileError>, PolicyError> {
        self.with_instance(|instance| instance.check(limit_to, ip))
    }

    /// Whether the token's lines look at the JSON body.
    pub fn needs_body(&mut self, rules: &TokenRules) -> Result<bool, PolicyError> {
        self.with_instance(|instance| instance.needs_body(rules.borrowed()))
    }

    /// Canonicalises and decides in one call, as the gateway does.
    pub fn admit(
        &mut self,
        rules: &TokenRules,
        token: &native::TokenFacts,
        request: &native::RawRequest,
        settings: native::Settings,
        public_base: &str,
    ) -> Result<Result<native::Admission, native::TargetError>, PolicyError> {
        self.with_instance(|instance| {
            instance.admit(rules.borrowed(), token, request, settings, public_base)
        })
    }

    /// The decision for one request whose target is already canonical.
    pub fn decide(
        &mut self,
        rules: &TokenRules,
        token: &TokenFacts,
        request: &RequestFacts,
        settings: Settings,
    ) -> Result<Decision, PolicyError> {
        self.with_instance(|instance| instance.decide(rules.borrowed(), token, request, settings))
    }

    /// Per line, which parts matched the request.
    pub fn explain(
        &mut self,
        rules: &TokenRules,
        request: &RequestFacts,
    ) -> Result<Vec<LineCheck>, PolicyError> {
        self.with_instance(|instance| instance.explain(rules.borrowed(), request))
    }

    fn with_instance<T>(
        &mut self,
        work: impl Fn(&mut Instance) -> Result<T, PolicyError>,
    ) -> Result<T, PolicyError> {
        let instance = match self.instance.as_mut() {
            Some(instance) => instance,
            None => self
                .instance
                .insert(self.shared.compiled.instantiate(&self.shared.limits)?),
        };
        let result = match work(instance) {
            // Other tokens' cached rules may have filled the instance: once more afresh.
            Err(PolicyError::OutOfMemory { .. }) => {
                let fresh = self
                    .instance
                    .insert(self.shared.compiled.instantiate(&self.shared.limits)?);
                work(fresh)
            }
            other => other,
        };
        if self.instance.as_ref().is_some_and(Instance::is_broken) {
            self.instance = None;
        }
        result
    }
}

impl Drop for PolicySession {
    fn drop(&mut self) {
        let Some(instance) = self.instance.take() else {
            return;
        };
        if instance.is_broken() || instance.is_worn() {
            return;
        }
        let mut idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < SESSION_POOL {
            idle.push(instance);
        }
    }
}
