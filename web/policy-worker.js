// Runs the policy component in a Web Worker, so that compiling a long token never
// holds up typing on the page: the page posts requests, the worker answers each.
//
// Messages in: `{ type: 'load', bytes }` once, then `{ id, type: 'evaluate', state }`
// or `{ id, type: 'validate', limitTo, ip }`. Out: `{ type: 'ready' }` when this
// module has loaded, `{ type: 'loaded', digest, size }` or `{ type: 'failed',
// message }`, then `{ id, ok }` or `{ id, error }` per request, in order.

import { loadPolicy } from './component.js';
import { Evaluator } from './evaluate.js';

let policy = null;
let evaluator = null;

async function load(bytes) {
  try {
    policy = await loadPolicy(bytes);
    evaluator = new Evaluator(policy.decide);
    self.postMessage({ type: 'loaded', digest: policy.digest, size: policy.size });
  } catch (error) {
    self.postMessage({ type: 'failed', message: error.message });
  }
}

function answer(request) {
  if (request.type === 'evaluate') return evaluator.evaluate(request.state);
  if (request.type === 'validate') {
    return { limitTo: policy.decide.validateLimitTo(request.limitTo), ip: policy.decide.validateIp(request.ip) };
  }
  throw new Error(`unknown request ${request.type}`);
}

self.addEventListener('message', ({ data }) => {
  if (data.type === 'load') {
    load(data.bytes);
    return;
  }
  try {
    self.postMessage({ id: data.id, ok: answer(data) });
  } catch (error) {
    self.postMessage({ id: data.id, error: error.message });
  }
});

self.postMessage({ type: 'ready' });
