//! The policy component in wasmtime: compiled once, instances pooled, every
//! call bounded in time and memory. The only host module that binds the WIT.
//!
//! A token's restriction lines are compiled once per pooled instance (the
//! `rules` resource lives in that instance's store) and reused for every
//! request that presents the token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};

#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/policy.wit",
        world: "policy",
    });
}

use bindings::exports::tokengate::policy::decide as wit;
pub use wit::{
    Allowed, AuthScheme, CanonicalTarget, CompileError, ConditionCheck, Decision, Denied,
    DenyReason, LineCheck, Problem, RequestFacts, Scope, Settings, TargetError, TargetRefusal,
    TokenFacts,
};

/// How often the epoch advances; a call's deadline is counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Ticks a decision may take (100 ms): thousands of times its normal cost,
/// so only a runaway guest ever reaches it.
const CALL_DEADLINE_TICKS: u64 = 20;
/// Ticks compiling a token's rules may take (1 s): a 100-line token with
/// large regexes compiles in milliseconds.
const COMPILE_DEADLINE_TICKS: u64 = 200;
/// Guest memory per instance by default. A token's compiled rules take at
/// most a few MiB (the policy's `TOKEN_REGEX_BUDGET`); this caps what many
/// tokens, a large body or a bug could take.
const MEMORY_LIMIT: usize = 64 << 20;
/// Table elements per instance: the guest's function table is fixed and small.
const TABLE_LIMIT: usize = 1 << 16;
/// Idle instances kept for reuse; more are created under load and dropped.
const POOL_SIZE: usize = 16;

/// What the runtime needs to compile one token's rules, keyed by its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRules {
    /// The token's id: tokens are never edited, so the id names its rules.
    pub id: String,
    /// The `limitTo` text as stored.
    pub limit_to: String,
    /// The `ip` text as stored.
    pub ip: String,
}

/// Every way running the policy can fail. All of them refuse the request
/// (fail closed, 503).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The embedded component could not be compiled or instantiated.
    #[error("loading the policy component: {0:#}")]
    Load(wasmtime::Error),
    /// A call needed more than the instance's memory; it is discarded.
    #[error("the policy component ran out of memory ({} MiB per instance)", limit >> 20)]
    OutOfMemory {
        /// The instance's memory limit, bytes.
        limit: usize,
    },
    /// A call ran past its deadline; the instance is discarded.
    #[error("the policy component ran past its deadline")]
    Deadline,
    /// A call trapped or failed otherwise; the instance is discarded.
    #[error("the policy component failed: {0}")]
    Call(String),
    /// A stored token's rules no longer compile (they were checked at
    /// creation, so this means the store and the policy disagree).
    #[error("token {id} has rules the policy refuses: {problems}")]
    Rules {
        /// The token's id.
        id: String,
        /// The problems, joined.
        problems: String,
    },
}

/// The policy component, compiled once; cheap to clone.
#[derive(Clone)]
pub struct PolicyRuntime {
    shared: Arc<Shared>,
}

struct Shared {
    compiled: &'static Compiled,
    /// Guest memory per instance, bytes.
    memory: usize,
    idle: Mutex<Vec<Instance>>,
}

impl Shared {
    fn instantiate(&self) -> Result<Instance, PolicyError> {
        let limits = Limits {
            limit: self.memory,
            memory: 0,
            refused: false,
        };
        let mut store = Store::new(&self.compiled.engine, limits);
        store.limiter(|limits| limits);
        store.set_epoch_deadline(COMPILE_DEADLINE_TICKS);
        let policy = self
            .compiled
            .pre
            .instantiate(&mut store)
            .map_err(PolicyError::Load)?;
        Ok(Instance {
            store,
            policy,
            rules: HashMap::new(),
        })
    }
}

/// The engine and the pre-linked component: one per process, since
/// compiling the component is the expensive part of starting.
struct Compiled {
    engine: Engine,
    pre: bindings::PolicyPre<Limits>,
}

/// Per-store state: the memory cap, and how much of it the guest holds.
#[derive(Clone, Copy)]
struct Limits {
    /// The cap, bytes.
    limit: usize,
    /// The guest's linear memory, bytes; it only ever grows.
    memory: usize,
    /// Whether a growth was refused: the trap that follows is out of memory.
    refused: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = true;
            return Ok(false);
        }
        self.memory = desired;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_LIMIT)
    }
}

/// One instance, its store and its compiled tokens.
struct Instance {
    store: Store<Limits>,
    policy: bindings::Policy,
    rules: HashMap<String, ResourceAny>,
}

impl Compiled {
    /// The process's compiled component, compiling it on first use.
    fn get() -> Result<&'static Self, PolicyError> {
        static COMPILED: OnceLock<Result<Compiled, String>> = OnceLock::new();
        COMPILED
            .get_or_init(|| Self::compile().map_err(|err| format!("{err:#}")))
            .as_ref()
            .map_err(|err| PolicyError::Load(wasmtime::Error::msg(err.clone())))
    }

    /// Compiles the embedded component and starts the epoch ticker.
    fn compile() -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let component = Component::new(&engine, tokengate_policy_artifact::COMPONENT)?;
        let pre = bindings::PolicyPre::new(Linker::new(&engine).instantiate_pre(&component)?)?;
        let ticker = engine.clone();
        thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || {
                loop {
                    ticker.increment_epoch();
                    thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(Self { engine, pre })
    }
}

impl PolicyRuntime {
    /// Loads the embedded component (compiled once per process) and checks
    /// that it instantiates; each instance may take 64 MiB.
    pub fn new() -> Result<Self, PolicyError> {
        Self::with_memory_limit(MEMORY_LIMIT)
    }

    /// [`Self::new`] with instances of at most `memory` bytes.
    pub fn with_memory_limit(memory: usize) -> Result<Self, PolicyError> {
        let runtime = Self {
            shared: Arc::new(Shared {
                compiled: Compiled::get()?,
                memory,
                idle: Mutex::new(Vec::new()),
            }),
        };
        // Instantiate once now so a broken component fails at start.
        drop(runtime.session()?);
        Ok(runtime)
    }

    /// Hex SHA-256 of the component bytes, as `/healthz` and the web page show.
    pub fn digest(&self) -> &'static str {
        tokengate_policy_artifact::COMPONENT_SHA256
    }

    /// Checks out an instance (a new one when none is idle); it goes back to
    /// the pool when the session drops, unless a call failed.
    pub fn session(&self) -> Result<PolicySession, PolicyError> {
        let idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let instance = match idle {
            Some(instance) => instance,
            None => self.shared.instantiate()?,
        };
        Ok(PolicySession {
            shared: Arc::clone(&self.shared),
            instance: Some(instance),
        })
    }

    /// Drops a revoked token's compiled rules from the idle instances. Busy
    /// instances keep theirs until they retire; the token is never looked up
    /// again, so that costs memory only.
    pub fn forget(&self, token_id: &str) {
        let mut idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for instance in idle.iter_mut() {
            if let Some(rules) = instance.rules.remove(token_id) {
                // A failed drop leaks guest memory in that instance only.
                let _ = rules.resource_drop(&mut instance.store);
            }
        }
    }
}

/// A checked-out instance. Any failed call discards it (its state may be
/// broken); the next session gets a fresh one.
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
        self.call(CALL_DEADLINE_TICKS, |instance| {
            instance.policy.tokengate_policy_decide().call_canonicalize(
                &mut instance.store,
                target,
                public_base,
            )
        })
    }

    /// Validates a token's texts: the trimmed lines, or every problem.
    pub fn check(
        &mut self,
        limit_to: &str,
        ip: &str,
    ) -> Result<Result<Vec<String>, CompileError>, PolicyError> {
        self.fresh_on_memory(|session| {
            session.call(COMPILE_DEADLINE_TICKS, |instance| {
                let api = instance.policy.tokengate_policy_decide().rules();
                match api.call_compile(&mut instance.store, limit_to, ip)? {
                    Ok(rules) => {
                        let lines = api.call_lines(&mut instance.store, rules);
                        rules.resource_drop(&mut instance.store)?;
                        lines.map(Ok)
                    }
                    Err(problems) => Ok(Err(problems)),
                }
            })
        })
    }

    /// Whether the token's lines look at the JSON body.
    pub fn needs_body(&mut self, rules: &TokenRules) -> Result<bool, PolicyError> {
        self.with_rules(rules, |instance, handle| {
            let api = instance.policy.tokengate_policy_decide().rules();
            api.call_needs_body(&mut instance.store, handle)
        })
    }

    /// The decision for one request.
    pub fn decide(
        &mut self,
        rules: &TokenRules,
        token: &TokenFacts,
        request: &RequestFacts,
        settings: Settings,
    ) -> Result<Decision, PolicyError> {
        self.with_rules(rules, |instance, handle| {
            let api = instance.policy.tokengate_policy_decide().rules();
            api.call_decide(&mut instance.store, handle, token, request, settings)
        })
    }

    /// Per line, which parts matched the request.
    pub fn explain(
        &mut self,
        rules: &TokenRules,
        request: &RequestFacts,
    ) -> Result<Vec<LineCheck>, PolicyError> {
        self.with_rules(rules, |instance, handle| {
            let api = instance.policy.tokengate_policy_decide().rules();
            api.call_explain(&mut instance.store, handle, request)
        })
    }

    /// Runs `call` on the token's compiled rules, compiling them first if this
    /// instance has not yet.
    fn with_rules<T>(
        &mut self,
        rules: &TokenRules,
        call: impl Fn(&mut Instance, ResourceAny) -> wasmtime::Result<T>,
    ) -> Result<T, PolicyError> {
        self.fresh_on_memory(|session| {
            let handle = session.rules(rules)?;
            session.call(CALL_DEADLINE_TICKS, |instance| call(instance, handle))
        })
    }

    /// Runs `work`, and once more in a fresh instance if it ran out of memory:
    /// other tokens' cached rules may have filled the old one.
    fn fresh_on_memory<T>(
        &mut self,
        work: impl Fn(&mut Self) -> Result<T, PolicyError>,
    ) -> Result<T, PolicyError> {
        match work(self) {
            Err(PolicyError::OutOfMemory { .. }) => {
                self.instance = Some(self.shared.instantiate()?);
                work(self)
            }
            other => other,
        }
    }

    /// The token's compiled rules in this instance, compiling them on first use.
    fn rules(&mut self, rules: &TokenRules) -> Result<ResourceAny, PolicyError> {
        if let Some(handle) = self
            .instance
            .as_ref()
            .and_then(|instance| instance.rules.get(&rules.id))
        {
            return Ok(*handle);
        }
        let compiled = self.call(COMPILE_DEADLINE_TICKS, |instance| {
            instance
                .policy
                .tokengate_policy_decide()
                .rules()
                .call_compile(&mut instance.store, &rules.limit_to, &rules.ip)
        })?;
        let handle = compiled.map_err(|error| PolicyError::Rules {
            id: rules.id.clone(),
            problems: error
                .limit_to
                .iter()
                .chain(&error.ip)
                .map(|problem| problem.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        if let Some(instance) = self.instance.as_mut() {
            instance.rules.insert(rules.id.clone(), handle);
        }
        Ok(handle)
    }

    /// Runs one guest call under a deadline; a failure discards the instance.
    fn call<T>(
        &mut self,
        deadline_ticks: u64,
        call: impl FnOnce(&mut Instance) -> wasmtime::Result<T>,
    ) -> Result<T, PolicyError> {
        let Some(instance) = self.instance.as_mut() else {
            return Err(PolicyError::Call(
                "the instance was discarded after an earlier failure".into(),
            ));
        };
        instance.store.set_epoch_deadline(deadline_ticks);
        let result = call(instance);
        let Limits { limit, refused, .. } = *instance.store.data();
        result.map_err(|err| {
            self.instance = None;
            if refused {
                PolicyError::OutOfMemory { limit }
            } else if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                PolicyError::Deadline
            } else {
                // The root cause names the trap; the wasm backtrace above it
                // says nothing to an operator.
                PolicyError::Call(err.root_cause().to_string())
            }
        })
    }
}

impl Drop for PolicySession {
    fn drop(&mut self) {
        let Some(instance) = self.instance.take() else {
            return;
        };
        // Wasm memory never shrinks: an instance grown past three quarters of
        // its limit retires, so that the next session starts afresh instead of
        // running out while other tokens' rules fill its cache.
        let limits = instance.store.data();
        if limits.memory > limits.limit / 4 * 3 {
            return;
        }
        let mut idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < POOL_SIZE {
            idle.push(instance);
        }
    }
}

impl DenyReason {
    /// The kebab-case name used in vectors, the audit log and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Expired => "expired",
            Self::MissingUser => "missing-user",
            Self::BadUserName => "bad-user-name",
            Self::UserMismatch => "user-mismatch",
            Self::BearerNeedsUser => "bearer-needs-user",
            Self::IpNotAllowed => "ip-not-allowed",
            Self::OutOfScope => "out-of-scope",
            Self::NoMatchingRule => "no-matching-rule",
        }
    }
}

impl TargetRefusal {
    /// The kebab-case name used in vectors, the audit log and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotOriginForm => "not-origin-form",
            Self::NonAscii => "non-ascii",
            Self::BadEscape => "bad-escape",
            Self::EncodedSlash => "encoded-slash",
            Self::Backslash => "backslash",
            Self::EncodedDotSegment => "encoded-dot-segment",
            Self::AboveRoot => "above-root",
            Self::PathParameter => "path-parameter",
            Self::EmptySegment => "empty-segment",
            Self::TooLong => "too-long",
        }
    }
}
