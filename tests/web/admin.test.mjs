// The admin page against a running gateway (`tokengate demo`, its echo
// upstream, an admin token from the CLI), in headless Chromium: sign in,
// create a token and use it with curl, run the page's snippets, search, audit,
// revoke; the page's component digest equals the gateway's.
//
// Skipped when target/debug/tokengate has not been built (cargo build -p tokengate).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { gatewayBuilt, launchChromium, pageOrigin, screenshotPath, startGateway } from './harness.mjs';

// Asynchronous only: the page server may run in this process and must keep answering.
const run = async (file, args) => (await promisify(execFile)(file, args, { encoding: 'utf8' })).stdout;

// Skipped only when run by hand without the binary; in CI (.ci/run builds it) a
// missing binary fails the run instead of passing it silently.
if (process.env.CI && !gatewayBuilt()) throw new Error('CI: the gateway binary is not built (cargo build -p tokengate)');
const skip = gatewayBuilt() ? false : 'the gateway binary is not built (cargo build -p tokengate)';

let gateway;
let served;
let browser;
let page;
const problems = [];

before(async () => {
  if (skip) return;
  gateway = await startGateway();
  served = await pageOrigin(gateway.origin);
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('dialog', (dialog) => problems.push(`unexpected browser dialog: ${dialog.message()}`));
});

after(async () => {
  await browser?.close();
  await served?.close();
  await gateway?.stop();
});

/** curl, as a script would call the gateway: status and body. */
async function curl(user, token, path) {
  const out = await run('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', '-u', `${user}:${token}`, `${gateway.origin}${path}`]);
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
}

async function signIn(user, token) {
  await page.fill('#admin-user', user);
  await page.fill('#admin-token', token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('the page runs the same component as the gateway', { skip }, async () => {
  await page.goto(`${served.origin}/tokengate/admin.html`);
  await page.waitForFunction(() => document.documentElement.dataset.gatewayDigest !== undefined);
  const health = await (await fetch(`${gateway.origin}/healthz`)).json();
  const gatewayDigest = health.componentDigest ?? health.component;
  assert.match(gatewayDigest, /^[0-9a-f]{64}$/);
  assert.equal(await page.textContent('#digest'), gatewayDigest);
  assert.equal(await page.textContent('#digest-match'), '✓ same as the gateway');
  // The gateway's headers (its CSP included) let the component run in a worker.
  assert.equal(served.servedByGateway, true);
  assert.equal(await page.evaluate(() => document.documentElement.dataset.policyRunsIn), 'worker');
});

test('a wrong credential is refused in place; the credential is never stored', { skip }, async () => {
  await page.goto(`${served.origin}/tokengate/admin.html`);
  await signIn('admin', 'tgk_not_a_real_token_0000000000');
  await page.waitForSelector('#signin-error:not([hidden])');
  assert.match(await page.textContent('#signin-error'), /refused the credential/);
  assert.equal(await page.isHidden('#workspace'), true);

  await signIn('admin', gateway.adminToken);
  await page.waitForSelector('#workspace:not([hidden])');
  const stored = await page.evaluate(() => ({
    local: localStorage.length,
    session: sessionStorage.length,
    cookie: document.cookie,
    field: document.getElementById('admin-token').value,
  }));
  assert.deepEqual(stored, { local: 0, session: 0, cookie: '', field: '' });
  // The demo's two tokens and ours.
  assert.equal(await page.locator('#tokens-body tr[data-id]').count(), 3);
});

test('create a token with live validation, use it with curl, run its snippets', { skip }, async () => {
  await page.fill('#new-label', 'deploy script');
  await page.fill('#new-user', 'jankowalski');
  await page.fill('#new-days', '30');
  const limitTo = page.locator('#new-limit-to');
  await limitTo.pressSequentially('.*/rest/api/space.*\n.*(?=x)');
  await page.waitForSelector('#new-limit-to-lines li.error[data-line="2"]');
  assert.match(await page.textContent('#new-limit-to-lines .problem'), /line 2: look-around/);
  // Refused locally, before any request.
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.waitForSelector('#create-error:not([hidden])');
  assert.match(await page.textContent('#create-error'), /limitTo line 2: look-around/);
  await limitTo.fill('.*/rest/api/space.*');
  // The policy answers from its worker.
  await page.waitForSelector('#new-limit-to-lines li.line.ok[data-line="1"]:only-child');
  assert.equal(await limitTo.getAttribute('aria-invalid'), 'false');

  // The server's own validation is shown too (a chosen token value that is too short).
  await page.fill('#new-value', 'short');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.waitForSelector('#create-error:not([hidden]) li');
  assert.match(await page.textContent('#create-error'), /token/i);
  await page.fill('#new-value', '');

  await page.getByRole('button', { name: 'Create token' }).click();
  await page.waitForSelector('#created:not([hidden])');
  const token = await page.inputValue('#created-token');
  assert.match(token, /^tgk_/);
  await page.waitForSelector('#tokens-body tr[data-id]:has-text("deploy script")');

  const allowed = await curl('jankowalski', token, '/rest/api/space?limit=5');
  assert.equal(allowed.status, 200, allowed.body);
  assert.equal(JSON.parse(allowed.body).path, '/rest/api/space');
  assert.equal((await curl('jankowalski', token, '/rest/api/content')).status, 403);
  assert.equal((await curl('someoneelse', token, '/rest/api/space')).status, 401);

  // The snippets for the new token, shown at creation, work as written.
  await page.waitForSelector('#snippets-section:not([hidden]) [data-snippet="curl"]');
  const snippet = async (id) => page.textContent(`[data-snippet="${id}"] pre`);
  const curlSnippet = await snippet('curl');
  assert.ok(curlSnippet.includes(token) && curlSnippet.includes("'jankowalski:"), curlSnippet);
  const fromCurl = JSON.parse(await run('bash', ['-c', curlSnippet]));
  assert.equal(fromCurl.path, '/rest/api/space');
  assert.equal(fromCurl.headers['x-forwarded-user'] ?? 'jankowalski', 'jankowalski');

  const dir = mkdtempSync(join(tmpdir(), 'tokengate-snippets-'));
  try {
    const js = join(dir, 'snippet.mjs');
    writeFileSync(js, await snippet('fetch'));
    const fromNode = await run(process.execPath, [js]);
    assert.match(fromNode, /^200 /);
    assert.equal(JSON.parse(fromNode.slice(4)).path, '/rest/api/space');

    const hasRequests = await run('python3', ['-c', 'import requests']).then(() => true, () => false);
    if (hasRequests) {
      const py = join(dir, 'snippet.py');
      writeFileSync(py, await snippet('python'));
      assert.match(await run('python3', [py]), /^200 /);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const postman = await snippet('postman');
  assert.match(postman, /Basic Auth/);
  assert.ok(postman.includes(`Authorization: Basic ${Buffer.from(`jankowalski:${token}`).toString('base64')}`));

  // Edited method and path flow into every snippet.
  await page.fill('#snippet-method', 'POST');
  await page.fill('#snippet-path', '/rest/api/space/EXTENDER/property');
  const posted = JSON.parse(await run('bash', ['-c', await snippet('curl')]));
  assert.equal(posted.method, 'POST');
  assert.equal(posted.body, '{}');

  await page.screenshot({ path: screenshotPath('admin-created.png'), fullPage: true });
});

test('search, snippets of a listed token, and the audit log with filters', { skip }, async () => {
  await page.fill('#token-search', 'deploy');
  assert.equal(await page.locator('#tokens-body tr[data-id]').count(), 1);
  const row = page.locator('#tokens-body tr[data-id]', { hasText: 'deploy script' });
  const id = await row.getAttribute('data-id');
  await row.getByRole('button', { name: 'Code snippets for deploy script' }).click();
  assert.match(await page.textContent('[data-snippet="curl"] pre'), /'jankowalski:TOKEN'/);

  await row.getByRole('button', { name: 'Audit of deploy script' }).click();
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('#audit-body tr[data-decision]')];
    return rows.length >= 4 && document.getElementById('audit-token').value === id;
  }, id);
  const decisions = await page.locator('#audit-body tr[data-decision]').evaluateAll((rows) => rows.map((r) => r.dataset.decision));
  assert.ok(decisions.includes('allow') && decisions.includes('deny'), JSON.stringify(decisions));

  await page.selectOption('#audit-decision', 'deny');
  await page.getByRole('button', { name: 'Show records', exact: true }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('#audit-body tr[data-decision]')].every((r) => r.dataset.decision === 'deny'));
  const denied = await page.textContent('#audit-body');
  assert.match(denied, /no-matching-rule/);
  await page.fill('#token-search', '');
  await page.screenshot({ path: screenshotPath('admin-audit.png'), fullPage: true });
});

test('revoke with confirmation: the token stops working at once', { skip }, async () => {
  const create = await fetch(`${gateway.origin}/rest/extender/1.0/tokenTools/get`, {
    headers: { authorization: `Basic ${Buffer.from(`admin:${gateway.adminToken}`).toString('base64')}` },
  });
  const listed = (await create.json()).tokens.find((t) => t.label === 'deploy script');
  assert.ok(listed);
  await page.click('#reload-tokens');
  const row = page.locator('#tokens-body tr[data-id]', { hasText: 'deploy script' });

  // Cancel keeps it.
  await row.getByRole('button', { name: 'Revoke deploy script' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await row.count(), 1);

  await row.getByRole('button', { name: 'Revoke deploy script' }).click();
  await page.screenshot({ path: screenshotPath('admin-revoke.png') });
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await page.waitForSelector('#tokens-body tr[data-id]:has-text("deploy script")', { state: 'detached' });
  assert.match(await page.textContent('#tokens-range'), /Revoked deploy script/);

  const token = await page.inputValue('#created-token');
  assert.equal((await curl('jankowalski', token, '/rest/api/space')).status, 401);
  assert.deepEqual(problems, []);
});
