// The decision vectors through the policy component transpiled by jco, loaded
// exactly as the web page loads it (web/component.js: the component's bytes,
// split into core modules, given to the committed jco glue), in Node.
//
// `gen/policy.wasm` is the gateway's component (see .ci/run); the checker
// mirrors tests/lib.rs and the format in tests/vectors/README.md.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import { loadPolicy } from '../../web/component.js';

const here = dirname(fileURLToPath(import.meta.url));
const vectorsDir = join(here, '..', 'vectors');
const { decide: policy } = await loadPolicy(new Uint8Array(readFileSync(join(here, 'gen', 'policy.wasm'))));

function loadVectors() {
  return readdirSync(vectorsDir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => [name.replace(/\.json$/, ''), JSON.parse(readFileSync(join(vectorsDir, name), 'utf8'))]);
}

/** Calls a function whose WIT result jco turns into a throw. */
function attempt(call) {
  try {
    return { ok: call() };
  } catch (error) {
    if (error && 'payload' in error) return { err: error.payload };
    throw error;
  }
}

const opt = (value) => (value === null ? undefined : value);
const optBig = (value) => (value === null || value === undefined ? undefined : BigInt(value));
const orNull = (value) => (value === undefined ? null : value);

function decideCase(input) {
  const canonical = attempt(() => policy.canonicalize(input.request.target, input.settings.publicBase));
  if (canonical.err) return { kind: 'bad-target', reason: canonical.err.reason };
  const target = canonical.ok;
  const compiled = attempt(() => policy.Rules.compile(input.token.limitTo ?? '', input.token.ip ?? ''));
  if (compiled.err) {
    return { kind: 'compile-failed', problems: [...compiled.err.limitTo, ...compiled.err.ip].map((p) => p.message) };
  }
  const rules = compiled.ok;
  const request = {
    scheme: input.request.scheme,
    presentedUser: opt(input.request.user),
    method: input.request.method,
    target,
    body: opt(input.request.body),
    clientIp: input.request.clientIp,
    nowMs: BigInt(input.request.now),
  };
  const token = {
    user: opt(input.token.user),
    validUntil: optBig(input.token.validUntil),
    validFrom: optBig(input.token.validFrom),
  };
  const decision = rules.decide(token, request, { scope: input.settings.scope });
  const explain = rules.explain(request).map((line) => ({
    line: line.line,
    method: orNull(line.method),
    url: line.url,
    conditions: line.conditions.map((c) => c.matched),
    matched: line.matched,
  }));
  return { kind: decision.tag, decision: decision.val, target, explain };
}

function checkDecision(expect, got) {
  const wrong = [];
  const same = (what, expected, actual) => {
    if (expected !== undefined && !isDeepStrictEqual(expected, actual)) {
      wrong.push(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
  };
  if (expect.decision === 'bad-target' || got.kind === 'bad-target' || got.kind === 'compile-failed') {
    if (expect.decision !== got.kind) wrong.push(`expected ${expect.decision}, got ${JSON.stringify(got)}`);
    else same('reason', expect.reason, got.reason);
    return wrong;
  }
  if (expect.decision !== got.kind) {
    wrong.push(`decision: expected ${expect.decision}, got ${got.kind} ${JSON.stringify(got.decision)}`);
  } else if (got.kind === 'allow') {
    same('line', expect.line, orNull(got.decision.line));
    same('user', expect.user, got.decision.user);
  } else {
    same('reason', expect.reason, got.decision.reason);
  }
  same('path', expect.path, got.target.path);
  same('url', expect.url, got.target.url);
  same('query', expect.query, orNull(got.target.query));
  same('queryPairs', expect.queryPairs, got.target.queryPairs);
  same('explain', expect.explain, got.explain);
  return wrong;
}

function checkValidation(testCase) {
  const problems = testCase.field === 'limitTo' ? policy.validateLimitTo(testCase.text) : policy.validateIp(testCase.text);
  const expect = testCase.expect;
  const wrong = [];
  if (expect.valid) {
    if (problems.length) wrong.push(`expected valid, got ${JSON.stringify(problems)}`);
    if (expect.lines !== undefined) {
      const lines = policy.Rules.compile(testCase.text, '').lines();
      if (!isDeepStrictEqual(lines, expect.lines)) wrong.push(`lines: expected ${JSON.stringify(expect.lines)}, got ${JSON.stringify(lines)}`);
    }
    return wrong;
  }
  const wanted = expect.problems ?? [];
  if (wanted.length !== problems.length) wrong.push(`expected ${wanted.length} problems, got ${JSON.stringify(problems)}`);
  wanted.forEach((want, i) => {
    const got = problems[i];
    if (!got) return;
    if (got.line !== want.line || !got.message.toLowerCase().includes(want.contains.toLowerCase())) {
      wrong.push(`expected line ${want.line} containing ${JSON.stringify(want.contains)}, got line ${got.line}: ${JSON.stringify(got.message)}`);
    }
  });
  return wrong;
}

test('the jco-transpiled component agrees with every vector', () => {
  const mismatches = [];
  let decisions = 0;
  let validations = 0;
  for (const [name, file] of loadVectors()) {
    const defaults = file.defaults ?? {};
    for (const testCase of file.cases) {
      const id = `${name}:${testCase.id}`;
      let wrong;
      if (file.kind === 'decisions') {
        decisions += 1;
        const input = {};
        for (const section of ['token', 'request', 'settings']) {
          input[section] = { ...(defaults[section] ?? {}), ...(testCase[section] ?? {}) };
        }
        wrong = checkDecision(testCase.expect, decideCase(input));
      } else {
        validations += 1;
        wrong = checkValidation(testCase);
      }
      if (wrong.length) mismatches.push(`${id}: ${wrong.join('; ')}`);
    }
  }
  assert.deepEqual(mismatches, [], `${mismatches.length} cases disagree:\n${mismatches.join('\n')}`);
  assert.ok(decisions >= 250 && validations >= 60, `too few vectors: ${decisions} decisions, ${validations} validations`);
});
