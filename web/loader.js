// Loads the policy component for a page and shows its digest in the header,
// next to the gateway's (from /healthz) when a gateway serves the page.
//
// Opened as a file, `fetch` cannot read policy.wasm, so the page asks for the
// file instead. The component runs in a worker where one starts (policy-runner.js).

import { fetchComponent, gatewayDigest } from './component.js';
import { startRunner } from './policy-runner.js';
import { byId } from './dom.js';

function showDigest(policy) {
  const digest = byId('digest');
  digest.textContent = policy.digest;
  digest.title = `SHA-256 of the ${policy.size.toLocaleString('en')}-byte component this page runs`;
  document.documentElement.dataset.componentDigest = policy.digest;
  document.documentElement.dataset.policyRunsIn = policy.inWorker ? 'worker' : 'page';
  const match = byId('digest-match');
  if (location.protocol === 'file:') {
    match.textContent = '(from a file)';
    return;
  }
  gatewayDigest().then((gateway) => {
    document.documentElement.dataset.gatewayDigest = gateway ?? '';
    if (gateway === null) {
      match.textContent = '';
    } else if (gateway === policy.digest) {
      match.textContent = '✓ same as the gateway';
      match.className = 'ok';
    } else {
      match.textContent = `✗ the gateway runs ${gateway.slice(0, 12)}…`;
      match.className = 'error';
    }
  });
}

function showFailure(error) {
  const status = byId('load-status');
  status.hidden = false;
  status.classList.add('error');
  status.textContent = `The policy component could not be loaded: ${error.message}`;
  byId('digest').textContent = 'not loaded';
}

/**
 * Resolves with the running policy (see `startRunner`) once it is loaded (from
 * policy.wasm next to the page, or from a file the person picks).
 */
export function startPolicy() {
  return new Promise((resolve) => {
    const ready = async (bytes) => {
      try {
        const policy = await startRunner(bytes);
        byId('load-status').hidden = true;
        byId('load-picker').hidden = true;
        showDigest(policy);
        resolve(policy);
      } catch (error) {
        showFailure(error);
      }
    };
    fetchComponent().then(ready, (error) => {
      if (location.protocol !== 'file:') {
        showFailure(error);
        return;
      }
      byId('digest').textContent = 'not loaded';
      const picker = byId('load-picker');
      picker.hidden = false;
      byId('wasm-file').addEventListener('change', async (event) => {
        const file = event.target.files?.[0];
        if (file) ready(new Uint8Array(await file.arrayBuffer()));
      });
    });
  });
}
