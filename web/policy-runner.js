// Runs the policy component for a page: in a Web Worker (policy-worker.js), so the page
// stays responsive while a long token compiles, or in the page where no worker starts.
//
// Both ways answer with promises, so a page does not know which it got. A page opened
// as a file may be refused the worker (Chromium without --allow-file-access-from-files
// refuses module scripts from file:// anyway); the page then runs the component itself.

import { loadPolicy } from './component.js';
import { Evaluator } from './evaluate.js';

/**
 * The policy running from the component `bytes`.
 * @param {Uint8Array} bytes the component, as served at policy.wasm
 * @returns {Promise<{digest: string, size: number, inWorker: boolean,
 *   evaluate: (state: object) => Promise<object>,
 *   validate: (limitTo: string, ip: string) => Promise<{limitTo: object[], ip: object[]}>}>}
 */
export async function startRunner(bytes) {
  let worker;
  try {
    worker = await startWorker();
  } catch {
    return startInPage(bytes);
  }
  return loadInWorker(worker, bytes);
}

/** A worker running policy-worker.js, once its module has loaded. */
function startWorker() {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./policy-worker.js', import.meta.url), { type: 'module' });
    const failed = (event) => {
      worker.terminate();
      reject(new Error(event.message || 'the policy worker did not start'));
    };
    worker.addEventListener('error', failed, { once: true });
    worker.addEventListener(
      'message',
      ({ data }) => {
        worker.removeEventListener('error', failed);
        if (data.type === 'ready') resolve(worker);
        else failed({ message: `unexpected first message ${data.type}` });
      },
      { once: true },
    );
  });
}

async function loadInWorker(worker, bytes) {
  const loaded = await new Promise((resolve) => {
    worker.addEventListener('message', ({ data }) => resolve(data), { once: true });
    worker.postMessage({ type: 'load', bytes });
  });
  if (loaded.type !== 'loaded') {
    worker.terminate();
    throw new Error(loaded.message ?? 'the policy worker did not load the component');
  }
  const pending = new Map();
  let next = 0;
  worker.addEventListener('message', ({ data }) => {
    const waiting = pending.get(data.id);
    pending.delete(data.id);
    if ('error' in data) waiting?.reject(new Error(data.error));
    else waiting?.resolve(data.ok);
  });
  worker.addEventListener('error', (event) => {
    for (const waiting of pending.values()) waiting.reject(new Error(event.message || 'the policy worker failed'));
    pending.clear();
  });
  const ask = (request) =>
    new Promise((resolve, reject) => {
      next += 1;
      pending.set(next, { resolve, reject });
      worker.postMessage({ ...request, id: next });
    });
  return {
    digest: loaded.digest,
    size: loaded.size,
    inWorker: true,
    evaluate: (state) => ask({ type: 'evaluate', state }),
    validate: (limitTo, ip) => ask({ type: 'validate', limitTo, ip }),
  };
}

async function startInPage(bytes) {
  const policy = await loadPolicy(bytes);
  const evaluator = new Evaluator(policy.decide);
  // A task of its own, as a worker's answer would be: input events queued meanwhile run first.
  const later = (work) =>
    new Promise((resolve, reject) => {
      setTimeout(() => {
        try {
          resolve(work());
        } catch (error) {
          reject(error);
        }
      });
    });
  return {
    digest: policy.digest,
    size: policy.size,
    inWorker: false,
    evaluate: (state) => later(() => evaluator.evaluate(state)),
    validate: (limitTo, ip) =>
      later(() => ({ limitTo: policy.decide.validateLimitTo(limitTo), ip: policy.decide.validateIp(ip) })),
  };
}

/**
 * `task` (async) run for the newest input only: called while a run is in progress, it
 * runs once more when that run ends, however many calls came in between. Typing then
 * costs one evaluation per answer, not one per keystroke.
 */
export function latestOnly(task) {
  let running = false;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await task();
      } while (again);
    } finally {
      running = false;
    }
  };
}
