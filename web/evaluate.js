// What the policy says about a playground state: the problems of each text,
// and for each test request the decision and the per-line explanation.
//
// Runs where the component runs (policy-worker.js, or the page itself). Calls
// go through jco's glue exactly as tests/node does: options are `undefined`,
// s64 fields are BigInt, WIT `err` results are thrown with `.payload`.

/** Calls a function whose WIT `result` jco turns into a throw. */
function attempt(call) {
  try {
    return { ok: call() };
  } catch (error) {
    if (error && typeof error === 'object' && 'payload' in error) return { err: error.payload };
    throw error;
  }
}

const optional = (value) => (value === null ? undefined : value);

const SEPARATOR = /\r\n|\n|\r|\\n|<br *\/?>/gi;

/**
 * The pieces of a `limitTo` text as the policy numbers them (blank ones
 * counted): split on a line break, the two characters `\n`, or `<br>` (also
 * `<br/>`, `<br />`, any case), as policy/src/lines.rs does. Used only to show
 * each problem beside its line; the policy's own numbers are what is shown.
 */
export function limitToPieces(text) {
  return text.split(SEPARATOR).map((piece) => piece.trim());
}

/** The lines of an `ip` text (the policy numbers real line breaks only). */
export function ipPieces(text) {
  return text.split(/\r\n|\n|\r/).map((piece) => piece.trim());
}

/**
 * What the playground shows for its states, from one component instance.
 *
 * A token's texts are compiled once, by `rules.compile`, whose error lists
 * every problem of both texts (what `validate-limit-to` and `validate-ip`
 * return): calling those as well would compile every regex twice. The
 * compiled rules are kept while the texts stay the same, so editing a test
 * request does not recompile a 256-line token.
 */
export class Evaluator {
  #decide;
  #token = null;

  /** @param {object} decide the component's `decide` interface */
  constructor(decide) {
    this.#decide = decide;
  }

  /**
   * Everything the playground shows for `state` (see state.js), and how long
   * compiling its token took in milliseconds (0 when it was kept).
   */
  evaluate(state) {
    const { token, settings } = state;
    const started = performance.now();
    const compiled = this.#compile(token.limitTo, token.ip);
    const compileMs = compiled.fresh ? performance.now() - started : 0;
    const { rules, lines, limitToProblems, ipProblems } = compiled;
    const requests = state.requests.map((request) => evaluateRequest(this.#decide, rules, token, settings, request));
    return { limitToProblems, ipProblems, lines, compiles: Boolean(rules), requests, compileMs };
  }

  /** The token compiled from `limitTo` and `ip`, from the last call when they are the same. */
  #compile(limitTo, ip) {
    const kept = this.#token;
    if (kept && kept.limitTo === limitTo && kept.ip === ip) return { ...kept, fresh: false };
    // Rules live in the component's memory until dropped.
    kept?.rules?.[Symbol.dispose ?? Symbol.for('dispose')]?.();
    this.#token = null;
    const compiled = attempt(() => this.#decide.Rules.compile(limitTo, ip));
    const rules = compiled.ok ?? null;
    this.#token = {
      limitTo,
      ip,
      rules,
      lines: rules ? rules.lines() : null,
      limitToProblems: compiled.err?.limitTo ?? [],
      ipProblems: compiled.err?.ip ?? [],
    };
    return { ...this.#token, fresh: true };
  }
}

function evaluateRequest(decide, rules, token, settings, request) {
  const canonical = attempt(() => decide.canonicalize(request.target, settings.publicBase));
  if (canonical.err) {
    return { kind: 'bad-target', reason: canonical.err.reason, detail: canonical.err.detail };
  }
  const target = canonical.ok;
  if (!rules) return { kind: 'invalid', target };
  if (!Number.isSafeInteger(request.now)) return { kind: 'bad-input', target, detail: 'the request time is not set' };
  const facts = {
    scheme: request.scheme,
    presentedUser: request.scheme === 'bearer' ? undefined : optional(request.user),
    method: request.method,
    target,
    body: optional(request.body),
    clientIp: request.clientIp,
    nowMs: BigInt(request.now),
  };
  const tokenFacts = {
    user: optional(token.user),
    validUntil: token.validUntil === null ? undefined : BigInt(token.validUntil),
    validFrom: token.validFrom === null || token.validFrom === undefined ? undefined : BigInt(token.validFrom),
  };
  const decision = rules.decide(tokenFacts, facts, { scope: settings.scope });
  const explain = rules.explain(facts);
  if (decision.tag === 'allow') {
    return { kind: 'allow', user: decision.val.user, line: decision.val.line ?? null, target, explain };
  }
  return { kind: 'deny', reason: decision.val.reason, detail: decision.val.detail, target, explain };
}
