// The admin page against a running gateway (`tokengate demo`, its echo
// upstream, an admin token from the CLI), in headless Chromium: sign in,
// create a token and use it with curl, run the page's snippets, search, audit,
// revoke, quotas, rotation and expiry warnings; the page's component digest
// equals the gateway's.
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

/** The list's row of the token labelled `label` (the first, when a rotation made two). */
const tokenRow = (label) => page.locator('#tokens-body tr[data-id]', { hasText: label });

/** Creates a token through the page's form; resolves with the value it shows once. */
async function createThroughForm({ label, user, days, uses = '', validFrom = '' }) {
  const before = await page.inputValue('#created-token');
  await page.fill('#new-label', label);
  await page.fill('#new-user', user);
  await page.fill('#new-days', days);
  await page.fill('#new-uses', uses);
  await page.fill('#new-valid-from', validFrom);
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.waitForFunction((before) => {
    const value = document.getElementById('created-token').value;
    return value !== '' && value !== before;
  }, before);
  assert.equal(await page.textContent('#created-heading'), 'Token created: copy it now');
  await tokenRow(label).waitFor();
  return page.inputValue('#created-token');
}

/** Reloads the list until `selector` matches (uses are counted as the audit log commits). */
async function reloadUntil(selector) {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    await page.click('#reload-tokens');
    try {
      return await page.waitForSelector(selector, { timeout: 250 });
    } catch {
      // not yet
    }
  }
  throw new Error(`the list never showed ${selector}`);
}

/** The admin API as the test's administrator, past the page (a second admin's edits). */
async function adminApi(name, body) {
  const answer = await fetch(`${gateway.origin}/rest/extender/1.0/tokenTools/${name}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`admin:${gateway.adminToken}`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  return { status: answer.status, body: await answer.json() };
}

test('a quota set in the form counts down in the list; the token is refused when used up', { skip }, async () => {
  // Tokens made without a quota have unlimited uses.
  const admin = tokenRow('web test administrator').locator('td.uses-left');
  assert.equal(await admin.getAttribute('data-remaining'), '');
  assert.match(await admin.textContent(), /∞/);

  // A quota that is no whole number is refused before any request (not read as unlimited).
  await page.fill('#new-label', 'two uses');
  await page.fill('#new-uses', '1.5');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.waitForSelector('#create-error:not([hidden])');
  assert.match(await page.textContent('#create-error'), /uses allowed must be a whole number/);

  const token = await createThroughForm({ label: 'two uses', user: 'quotauser', days: '30', uses: '2' });
  const id = await tokenRow('two uses').getAttribute('data-id');
  const usesLeft = page.locator(`#tokens-body tr[data-id="${id}"] td.uses-left`);
  assert.equal(await usesLeft.getAttribute('data-remaining'), '2');
  assert.equal((await usesLeft.innerText()).trim(), '2');

  for (const use of [1, 2]) {
    const answer = await curl('quotauser', token, '/rest/api/space');
    assert.equal(answer.status, 200, `use ${use}: ${answer.body}`);
  }
  await reloadUntil(`#tokens-body tr[data-id="${id}"] td.uses-left[data-remaining="0"]`);
  assert.match(await usesLeft.innerText(), /^0\b/);
  assert.match(await usesLeft.innerText(), /used up/);
  const third = await curl('quotauser', token, '/rest/api/space');
  assert.equal(third.status, 403, third.body);
  assert.deepEqual(problems, []);
});

test('rotate with a grace period: the new value is shown once, both values work meanwhile', { skip }, async () => {
  const old = await createThroughForm({ label: 'nightly export', user: 'exporter', days: '30' });
  const oldId = await tokenRow('nightly export').getAttribute('data-id');
  const oldRow = page.locator(`#tokens-body tr[data-id="${oldId}"]`);
  const dialog = page.getByRole('dialog');

  // Cancel rotates nothing.
  await oldRow.getByRole('button', { name: 'Rotate nightly export' }).click();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await page.waitForSelector('#rotate-dialog', { state: 'hidden' });
  assert.equal(await tokenRow('nightly export').count(), 1);

  // A grace period over a day is refused in the dialog, which stays open.
  await oldRow.getByRole('button', { name: 'Rotate nightly export' }).click();
  assert.equal(await page.inputValue('#rotate-grace'), '0');
  await page.fill('#rotate-grace', '2000');
  await dialog.getByRole('button', { name: 'Rotate' }).click();
  await page.waitForSelector('#rotate-error:not([hidden])');
  assert.match(await page.textContent('#rotate-error'), /from 0 to 1440/);
  assert.equal(await page.locator('#rotate-dialog[open]').count(), 1);

  await page.fill('#rotate-grace', '5');
  const rotatedAt = Date.now();
  await dialog.getByRole('button', { name: 'Rotate' }).click();
  await page.waitForSelector('#rotate-dialog', { state: 'hidden' });
  await page.waitForSelector('#created:not([hidden]) #created-heading:text("Token rotated")');
  const value = await page.inputValue('#created-token');
  assert.match(value, /^tgk_/);
  assert.notEqual(value, old);
  assert.match(await page.textContent('#created-detail'), new RegExp(`\\(id ${oldId}\\) keeps working until`));

  // The list: the old token marked as rotated to the new one until its grace period ends.
  const badge = await reloadUntil(`#tokens-body tr[data-id="${oldId}"] .badge.rotated`);
  const newId = await badge.getAttribute('data-rotated-to');
  assert.ok(newId && newId !== oldId, newId);
  const mark = await badge.textContent();
  assert.ok(mark.startsWith(`rotated → ${newId}, ends `), mark);
  const ends = Date.parse(`${mark.slice(mark.indexOf('ends ') + 5).replace(' ', 'T')}:00Z`);
  assert.ok(ends >= rotatedAt + 4 * 60_000 && ends <= Date.now() + 5 * 60_000, `${mark}: not about 5 minutes from now`);
  assert.equal(await oldRow.getByRole('button', { name: 'Rotate nightly export' }).count(), 0);
  const newRow = page.locator(`#tokens-body tr[data-id="${newId}"]`);
  assert.match(await newRow.textContent(), new RegExp(`replaces ${oldId}`));
  // The snippets shown are the new value's.
  assert.ok((await page.textContent('[data-snippet="curl"] pre')).includes(value));

  for (const [which, token] of [['old', old], ['new', value]]) {
    const answer = await curl('exporter', token, '/rest/api/space');
    assert.equal(answer.status, 200, `${which} value: ${answer.body}`);
  }

  // The gateway's refusals show in the dialog as the form's do: here another
  // administrator rotated the new token after the page listed it.
  const elsewhere = await adminApi('rotate', { id: newId });
  assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
  await newRow.getByRole('button', { name: 'Rotate nightly export' }).click();
  await dialog.getByRole('button', { name: 'Rotate' }).click();
  await page.waitForSelector('#rotate-error:not([hidden]) li');
  assert.match(await page.textContent('#rotate-error'), new RegExp(`rotated already \\(to ${elsewhere.body.id}\\)`));
  await page.screenshot({ path: screenshotPath('admin-rotate-refused.png') });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  // The page kept showing the value it was given.
  assert.equal(await page.inputValue('#created-token'), value);
  assert.deepEqual(problems, []);
});

test('tokens expiring within the warning period are marked', { skip }, async () => {
  await createThroughForm({ label: 'short lived', user: 'temp', days: '3' });
  await createThroughForm({ label: 'month long', user: 'temp', days: '30' });
  const soon = tokenRow('short lived').locator('.badge.expires-soon');
  assert.equal(await soon.count(), 1);
  assert.equal(await soon.textContent(), 'expires soon');
  assert.equal(await tokenRow('month long').locator('.badge.expires-soon').count(), 0);
  // Nor do tokens without an expiry (the demo's) carry the mark.
  assert.equal(await page.locator('#tokens-body .badge.expires-soon').count(), 1);
  await page.screenshot({ path: screenshotPath('admin-lifecycle.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('a token valid from tomorrow is refused until then, and the list says from when', { skip }, async () => {
  // datetime-local, read as UTC: tomorrow, to the second.
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 19);
  const token = await createThroughForm({ label: 'from tomorrow', user: 'later', days: '30', validFrom: tomorrow });
  const refused = await curl('later', token, '/rest/api/space');
  assert.equal(refused.status, 401, refused.body);
  const from = tokenRow('from tomorrow').locator('.valid-from');
  assert.equal(await from.count(), 1);
  assert.match(await from.textContent(), /^valid from /);
  assert.deepEqual(problems, []);
});
