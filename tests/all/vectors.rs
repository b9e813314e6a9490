//! The decision vectors through the native library and through the component
//! in wasmtime (the gateway's own runtime): both must match every case.

use tokengate::policy as wit;
use tokengate_policy as native;
use tokengate_tests::{
    Canonical, DecisionInput, ExplainedLine, Field, Observed, Runner, Validated, assert_clean,
    run_all,
};

/// The library, called directly.
struct Native;

impl Runner for Native {
    fn decide(&mut self, input: &DecisionInput) -> Result<Observed, String> {
        let target = match native::canonicalize(&input.target, &input.public_base) {
            Ok(target) => target,
            Err(err) => return Ok(Observed::BadTarget(err.reason.as_str().to_owned())),
        };
        let rules = match native::Rules::compile(&input.limit_to, &input.ip) {
            Ok(rules) => rules,
            Err(err) => {
                let problems = err.limit_to.iter().chain(&err.ip);
                return Ok(Observed::CompileFailed(
                    problems.map(|p| p.message.clone()).collect(),
                ));
            }
        };
        let token = native::TokenFacts {
            user: input.token_user.clone(),
            valid_until: input.valid_until,
            valid_from: input.valid_from,
        };
        let request = native::RequestFacts {
            scheme: match input.scheme.as_str() {
                "bearer" => native::AuthScheme::Bearer,
                _ => native::AuthScheme::Basic,
            },
            presented_user: input.user.clone(),
            method: input.method.clone(),
            target: target.clone(),
            body: input.body.clone(),
            client_ip: input.client_ip.clone(),
            now_ms: input.now,
        };
        let settings = native::Settings {
            scope: match input.scope.as_str() {
                "extender" => native::Scope::Extender,
                _ => native::Scope::Rest,
            },
        };
        let decision = match rules.decide(&token, &request, &settings) {
            native::Decision::Allow(allowed) => Ok((allowed.line, allowed.user)),
            native::Decision::Deny(denied) => Err(denied.reason.as_str().to_owned()),
        };
        let explain = rules
            .explain(&request)
            .into_iter()
            .map(|line| ExplainedLine {
                line: line.line,
                method: line.method,
                url: line.url,
                conditions: line.conditions.iter().map(|c| c.matched).collect(),
                matched: line.matched,
            })
            .collect();
        Ok(Observed::Decided {
            canonical: Canonical {
                path: target.path,
                url: target.url,
                query: target.query,
                query_pairs: target.query_pairs,
            },
            decision,
            explain,
        })
    }

    fn validate(&mut self, field: Field, text: &str) -> Result<Validated, String> {
        let problems = match field {
            Field::LimitTo => native::validate_limit_to(text),
            Field::Ip => native::validate_ip(text),
        };
        let lines = match field {
            Field::LimitTo => native::Rules::compile(text, "")
                .ok()
                .map(|rules| rules.lines().into_iter().map(str::to_owned).collect()),
            Field::Ip => None,
        };
        Ok(Validated {
            problems: problems.into_iter().map(|p| (p.line, p.message)).collect(),
            lines,
        })
    }
}

/// The component, through the gateway's pooled wasmtime runtime.
struct Component {
    runtime: wit::PolicyRuntime,
    next_id: u64,
}

impl Runner for Component {
    /// Canonicalises and decides in two calls, and in one (`admit`, what the gateway runs
    /// per request): the two must agree on every case.
    fn decide(&mut self, input: &DecisionInput) -> Result<Observed, String> {
        let mut session = self.runtime.session().map_err(|err| err.to_string())?;
        if let Err(err) = session
            .check(&input.limit_to, &input.ip)
            .map_err(|err| err.to_string())?
        {
            let problems = err.limit_to.iter().chain(&err.ip);
            return Ok(Observed::CompileFailed(
                problems.map(|p| p.message.clone()).collect(),
            ));
        }
        // A fresh id per case: the runtime caches compiled rules by id.
        self.next_id += 1;
        let rules = wit::TokenRules {
            id: format!("vector-{}", self.next_id),
            limit_to: input.limit_to.clone(),
            ip: input.ip.clone(),
        };
        let scheme = match input.scheme.as_str() {
            "bearer" => native::AuthScheme::Bearer,
            _ => native::AuthScheme::Basic,
        };
        let scope = match input.scope.as_str() {
            "extender" => native::Scope::Extender,
            _ => native::Scope::Rest,
        };
        let admitted = session
            .admit(
                &rules,
                &native::TokenFacts {
                    user: input.token_user.clone(),
                    valid_until: input.valid_until,
                    valid_from: input.valid_from,
                },
                &native::RawRequest {
                    scheme,
                    presented_user: input.user.clone(),
                    method: input.method.clone(),
                    target: input.target.clone(),
                    body: input.body.clone(),
                    client_ip: input.client_ip.clone(),
                    now_ms: input.now,
                },
                native::Settings { scope },
                &input.public_base,
            )
            .map_err(|err| err.to_string())?;
        let target = match session
            .canonicalize(&input.target, &input.public_base)
            .map_err(|err| err.to_string())?
        {
            Ok(target) => target,
            Err(err) => {
                let reason = err.reason.as_str().to_owned();
                return match admitted {
                    Err(refused) if refused.reason.as_str() == reason => {
                        Ok(Observed::BadTarget(reason))
                    }
                    other => Err(format!(
                        "admit disagrees with canonicalize ({reason}): {other:?}"
                    )),
                };
            }
        };
        let token = wit::TokenFacts {
            user: input.token_user.clone(),
            valid_until: input.valid_until,
            valid_from: input.valid_from,
        };
        let request = wit::RequestFacts {
            scheme: match input.scheme.as_str() {
                "bearer" => wit::AuthScheme::Bearer,
                _ => wit::AuthScheme::Basic,
            },
            presented_user: input.user.clone(),
            method: input.method.clone(),
            target: target.clone(),
            body: input.body.clone(),
            client_ip: input.client_ip.clone(),
            now_ms: input.now,
        };
        let settings = wit::Settings {
            scope: match input.scope.as_str() {
                "extender" => wit::Scope::Extender,
                _ => wit::Scope::Rest,
            },
        };
        let decision = match session
            .decide(&rules, &token, &request, settings)
            .map_err(|err| err.to_string())?
        {
            wit::Decision::Allow(allowed) => Ok((allowed.line, allowed.user)),
            wit::Decision::Deny(denied) => Err(denied.reason.as_str().to_owned()),
        };
        let admission = admitted.map_err(|err| format!("admit refused the target: {err}"))?;
        let admitted_decision = match admission.decision {
            native::Decision::Allow(allowed) => Ok((allowed.line, allowed.user)),
            native::Decision::Deny(denied) => Err(denied.reason.as_str().to_owned()),
        };
        if (
            admission.path.as_str(),
            admission.query.as_deref(),
            &admitted_decision,
        ) != (target.path.as_str(), target.query.as_deref(), &decision)
        {
            return Err(format!(
                "admit disagrees with canonicalize and decide: {:?} {:?} {admitted_decision:?} \
                 against {:?} {:?} {decision:?}",
                admission.path, admission.query, target.path, target.query
            ));
        }
        let explain = session
            .explain(&rules, &request)
            .map_err(|err| err.to_string())?
            .into_iter()
            .map(|line| ExplainedLine {
                line: line.line,
                method: line.method,
                url: line.url,
                conditions: line.conditions.iter().map(|c| c.matched).collect(),
                matched: line.matched,
            })
            .collect();
        self.runtime.forget(&rules.id);
        Ok(Observed::Decided {
            canonical: Canonical {
                path: target.path,
                url: target.url,
                query: target.query,
                query_pairs: target.query_pairs,
            },
            decision,
            explain,
        })
    }

    fn validate(&mut self, field: Field, text: &str) -> Result<Validated, String> {
        let mut session = self.runtime.session().map_err(|err| err.to_string())?;
        let checked = match field {
            Field::LimitTo => session.check(text, ""),
            Field::Ip => session.check("", text),
        }
        .map_err(|err| err.to_string())?;
        Ok(match checked {
            Ok(lines) => Validated {
                problems: Vec::new(),
                lines: matches!(field, Field::LimitTo).then_some(lines),
            },
            Err(err) => Validated {
                problems: match field {
                    Field::LimitTo => err.limit_to,
                    Field::Ip => err.ip,
                }
                .into_iter()
                .map(|p| (p.line, p.message))
                .collect(),
                lines: None,
            },
        })
    }
}

#[test]
fn native_library_agrees_with_every_vector() -> Result<(), String> {
    let report = run_all(&mut Native)?;
    assert_clean("native", &report);
    Ok(())
}

#[test]
fn component_in_wasmtime_agrees_with_every_vector() -> Result<(), String> {
    let runtime = wit::PolicyRuntime::new().map_err(|err| err.to_string())?;
    let report = run_all(&mut Component {
        runtime,
        next_id: 0,
    })?;
    assert_clean("wasmtime", &report);
    Ok(())
}
