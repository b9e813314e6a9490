//! The policy component in wasmtime: compiled once per process, one instance per caller,
//! every call bounded in time and memory. The only host module that binds the WIT; it
//! converts the generated types to the policy library's own.
//!
//! A token's restriction lines are compiled once per instance (the `rules` resource lives
//! in that instance's store) and reused for every request that presents the token.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use tokengate_policy as native;
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};

use super::{Limits as Budget, PolicyError, RulesRef};

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
/// Table elements per instance: the guest's function table is fixed and small.
const TABLE_LIMIT: usize = 1 << 16;

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

/// The engine and the pre-linked component: one per process, since compiling the
/// component is the expensive part of starting.
pub(super) struct Compiled {
    engine: Engine,
    pre: bindings::PolicyPre<Limits>,
}

impl Compiled {
    /// The process's compiled component, compiling it on first use.
    pub(super) fn get() -> Result<&'static Self, PolicyError> {
        static COMPILED: OnceLock<Result<Compiled, String>> = OnceLock::new();
        COMPILED
            .get_or_init(|| Self::compile().map_err(|err| format!("{err:#}")))
            .as_ref()
            .map_err(|err| PolicyError::Load(err.clone()))
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

    /// A fresh instance within `budget`.
    pub(super) fn instantiate(&self, budget: &Budget) -> Result<Instance, PolicyError> {
        let limits = Limits {
            limit: budget.memory,
            memory: 0,
            refused: false,
        };
        let mut store = Store::new(&self.engine, limits);
        store.limiter(|limits| limits);
        let call_ticks = ticks(budget.call_deadline);
        let compile_ticks = ticks(budget.compile_deadline);
        store.set_epoch_deadline(compile_ticks);
        let policy = self
            .pre
            .instantiate(&mut store)
            .map_err(|err| PolicyError::Load(format!("{err:#}")))?;
        Ok(Instance {
            store,
            policy,
            rules: HashMap::new(),
            broken: false,
            call_ticks,
            compile_ticks,
        })
    }
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

/// One instance, its store and the tokens compiled in it.
pub(super) struct Instance {
    store: Store<Limits>,
    policy: bindings::Policy,
    /// Compiled rules by token id, and whether they read the body.
    rules: HashMap<String, (ResourceAny, bool)>,
    /// A call failed: the guest's state may be inconsistent, so the instance is dropped.
    broken: bool,
    /// Epoch ticks a decision may take.
    call_ticks: u64,
    /// Epoch ticks compiling a token may take.
    compile_ticks: u64,
}

/// A deadline in epoch ticks (at least one).
fn ticks(deadline: Duration) -> u64 {
    let ticks = deadline.as_millis().div_ceil(EPOCH_TICK.as_millis());
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

impl Instance {
    /// Whether a call failed in it (it must not be used again).
    pub(super) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether it grew past three quarters of its limit. Wasm memory never shrinks: such
    /// an instance is replaced, so that the next caller starts afresh instead of running
    /// out while other tokens' rules fill its cache.
    pub(super) fn is_worn(&self) -> bool {
        let limits = self.store.data();
        limits.memory > limits.limit / 4 * 3
    }

    /// Whether the token's rules are compiled in this instance.
    pub(super) fn has_rules(&self, token_id: &str) -> bool {
        self.rules.contains_key(token_id)
    }

    /// Drops a token's compiled rules (it was revoked). The drop runs the guest's
    /// destructor, so it is a call like any other: under a fresh deadline, and a failure
    /// breaks the instance.
    pub(super) fn forget(&mut self, token_id: &str) {
        if let Some((rules, _)) = self.rules.remove(token_id) {
            let ticks = self.call_ticks;
            if let Err(err) = self.call(ticks, |instance| rules.resource_drop(&mut instance.store))
            {
                tracing::warn!(error = %err, "dropping a revoked token's rules failed; the instance is replaced");
            }
        }
    }

    /// The checked form of a request target; see `canonicalize` in the WIT.
    pub(super) fn canonicalize(
        &mut self,
        target: &str,
        public_base: &str,
    ) -> Result<Result<CanonicalTarget, TargetError>, PolicyError> {
        self.call(self.call_ticks, |instance| {
            instance.policy.tokengate_policy_decide().call_canonicalize(
                &mut instance.store,
                target,
                public_base,
            )
        })
    }

    /// Validates a token's texts: the trimmed lines, or every problem.
    pub(super) fn check(
        &mut self,
        limit_to: &str,
        ip: &str,
    ) -> Result<Result<Vec<String>, CompileError>, PolicyError> {
        self.call(self.compile_ticks, |instance| {
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
    }

    /// Whether the token's lines read the JSON body (compiling them on first use).
    pub(super) fn needs_body(&mut self, rules: RulesRef<'_>) -> Result<bool, PolicyError> {
        self.rules(rules).map(|(_, needs_body)| needs_body)
    }

    /// Canonicalises and decides in one call.
    pub(super) fn admit(
        &mut self,
        rules: RulesRef<'_>,
        token: &native::TokenFacts,
        request: &native::RawRequest,
        settings: native::Settings,
        public_base: &str,
    ) -> Result<Result<native::Admission, native::TargetError>, PolicyError> {
        let (handle, _) = self.rules(rules)?;
        let token = TokenFacts::from(token);
        let request = wit::RawRequest::from(request);
        let settings = Settings::from(settings);
        let admitted = self.call(self.call_ticks, |instance| {
            instance
                .policy
                .tokengate_policy_decide()
                .rules()
                .call_admit(
                    &mut instance.store,
                    handle,
                    &token,
                    &request,
                    settings,
                    public_base,
                )
        })?;
        Ok(admitted
            .map(native::Admission::from)
            .map_err(native::TargetError::from))
    }

    /// The decision for one request whose target is already canonical.
    pub(super) fn decide(
        &mut self,
        rules: RulesRef<'_>,
        token: &TokenFacts,
        request: &RequestFacts,
        settings: Settings,
    ) -> Result<Decision, PolicyError> {
        let (handle, _) = self.rules(rules)?;
        self.call(self.call_ticks, |instance| {
            let api = instance.policy.tokengate_policy_decide().rules();
            api.call_decide(&mut instance.store, handle, token, request, settings)
        })
    }

    /// Per line, which parts matched the request.
    pub(super) fn explain(
        &mut self,
        rules: RulesRef<'_>,
        request: &RequestFacts,
    ) -> Result<Vec<LineCheck>, PolicyError> {
        let (handle, _) = self.rules(rules)?;
        self.call(self.call_ticks, |instance| {
            let api = instance.policy.tokengate_policy_decide().rules();
            api.call_explain(&mut instance.store, handle, request)
        })
    }

    /// The token's compiled rules in this instance, compiling them on first use.
    fn rules(&mut self, rules: RulesRef<'_>) -> Result<(ResourceAny, bool), PolicyError> {
        if let Some(found) = self.rules.get(rules.id) {
            return Ok(*found);
        }
        let compiled = self.call(self.compile_ticks, |instance| {
            let api = instance.policy.tokengate_policy_decide().rules();
            match api.call_compile(&mut instance.store, rules.limit_to, rules.ip)? {
                Ok(handle) => {
                    let needs_body = api.call_needs_body(&mut instance.store, handle)?;
                    Ok(Ok((handle, needs_body)))
                }
                Err(problems) => Ok(Err(problems)),
            }
        })?;
        let compiled = compiled.map_err(|error| PolicyError::Rules {
            id: rules.id.to_owned(),
            problems: error
                .limit_to
                .iter()
                .chain(&error.ip)
                .map(|problem| problem.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        self.rules.insert(rules.id.to_owned(), compiled);
        Ok(compiled)
    }

    /// Runs one guest call under a deadline; a failure marks the instance broken.
    fn call<T>(
        &mut self,
        deadline_ticks: u64,
        call: impl FnOnce(&mut Self) -> wasmtime::Result<T>,
    ) -> Result<T, PolicyError> {
        if self.broken {
            return Err(PolicyError::Call(
                "the instance was discarded after an earlier failure".into(),
            ));
        }
        self.store.set_epoch_deadline(deadline_ticks);
        let result = call(self);
        let Limits { limit, refused, .. } = *self.store.data();
        result.map_err(|err| {
            self.broken = true;
            if refused {
                PolicyError::OutOfMemory { limit }
            } else if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                PolicyError::Deadline
            } else {
                // The root cause names the trap; the wasm backtrace above it says
                // nothing to an operator.
                PolicyError::Call(err.root_cause().to_string())
            }
        })
    }
}

// The generated types and the policy library's own, converted at the boundary only.

impl From<&native::TokenFacts> for TokenFacts {
    fn from(token: &native::TokenFacts) -> Self {
        Self {
            user: token.user.clone(),
            valid_until: token.valid_until,
            valid_from: token.valid_from,
        }
    }
}

impl From<native::AuthScheme> for AuthScheme {
    fn from(scheme: native::AuthScheme) -> Self {
        match scheme {
            native::AuthScheme::Basic => Self::Basic,
            native::AuthScheme::Bearer => Self::Bearer,
        }
    }
}

impl From<&native::RawRequest> for wit::RawRequest {
    fn from(request: &native::RawRequest) -> Self {
        Self {
            scheme: request.scheme.into(),
            presented_user: request.presented_user.clone(),
            method: request.method.clone(),
            target: request.target.clone(),
            body: request.body.clone(),
            client_ip: request.client_ip.clone(),
            now_ms: request.now_ms,
        }
    }
}

impl From<native::Scope> for Scope {
    fn from(scope: native::Scope) -> Self {
        match scope {
            native::Scope::Rest => Self::Rest,
            native::Scope::Extender => Self::Extender,
        }
    }
}

impl From<native::Settings> for Settings {
    fn from(settings: native::Settings) -> Self {
        Self {
            scope: settings.scope.into(),
        }
    }
}

impl From<wit::Admission> for native::Admission {
    fn from(admission: wit::Admission) -> Self {
        Self {
            path: admission.path,
            query: admission.query,
            decision: admission.decision.into(),
        }
    }
}

impl From<Decision> for native::Decision {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Allow(allowed) => Self::Allow(native::Allowed {
                user: allowed.user,
                line: allowed.line,
            }),
            Decision::Deny(denied) => Self::Deny(native::Denied {
                reason: denied.reason.into(),
                detail: denied.detail,
            }),
        }
    }
}

impl From<DenyReason> for native::DenyReason {
    fn from(reason: DenyReason) -> Self {
        match reason {
            DenyReason::Expired => Self::Expired,
            DenyReason::NotYetValid => Self::NotYetValid,
            DenyReason::MissingUser => Self::MissingUser,
            DenyReason::UserMismatch => Self::UserMismatch,
            DenyReason::BearerNeedsUser => Self::BearerNeedsUser,
            DenyReason::IpNotAllowed => Self::IpNotAllowed,
            DenyReason::OutOfScope => Self::OutOfScope,
            DenyReason::NoMatchingRule => Self::NoMatchingRule,
            DenyReason::MethodNotAllowed => Self::MethodNotAllowed,
            DenyReason::BadUserName => Self::BadUserName,
        }
    }
}

impl From<TargetError> for native::TargetError {
    fn from(error: TargetError) -> Self {
        Self {
            reason: error.reason.into(),
            detail: error.detail,
        }
    }
}

impl From<TargetRefusal> for native::TargetRefusal {
    fn from(refusal: TargetRefusal) -> Self {
        match refusal {
            TargetRefusal::NotOriginForm => Self::NotOriginForm,
            TargetRefusal::NonAscii => Self::NonAscii,
            TargetRefusal::BadEscape => Self::BadEscape,
            TargetRefusal::EncodedSlash => Self::EncodedSlash,
            TargetRefusal::Backslash => Self::Backslash,
            TargetRefusal::EncodedDotSegment => Self::EncodedDotSegment,
            TargetRefusal::AboveRoot => Self::AboveRoot,
            TargetRefusal::PathParameter => Self::PathParameter,
            TargetRefusal::EmptySegment => Self::EmptySegment,
            TargetRefusal::TooLong => Self::TooLong,
        }
    }
}

impl DenyReason {
    /// The kebab-case name used in vectors, the audit log and metrics.
    pub fn as_str(&self) -> &'static str {
        native::DenyReason::from(*self).as_str()
    }
}

impl TargetRefusal {
    /// The kebab-case name used in vectors, the audit log and metrics.
    pub fn as_str(&self) -> &'static str {
        native::TargetRefusal::from(*self).as_str()
    }
}
