// The playground in headless Chromium: every decision vector injected through
// the page's state link, every validation vector typed into its field, the
// share link round trip, the component digest, and a screenshot.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';

import { componentBytes, componentPath, launchChromium, loadVectors, pageOrigin, screenshotPath, webDir } from './harness.mjs';
import { encodeFragment, decodeFragment } from '../../web/state.js';

let browser;
let server;
let page;

before(async () => {
  server = await pageOrigin(null);
  browser = await launchChromium();
  page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.errors = errors;
  await page.goto(`${server.origin}/tokengate/`);
  await page.waitForFunction(() => document.documentElement.dataset.renderedHash !== undefined);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Sets the fragment and reads what the page shows for request 1. */
async function showCase(fragment) {
  return page.evaluate(async (fragment) => {
    location.hash = fragment;
    const deadline = Date.now() + 5000;
    while (document.documentElement.dataset.renderedHash !== fragment) {
      if (Date.now() > deadline) throw new Error('the page did not render the fragment');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const result = document.getElementById('request-0-result');
    const rows = [...result.querySelectorAll('table.explain tbody tr')];
    return {
      ...result.dataset,
      text: result.textContent,
      explain: rows.map((row) => ({
        line: Number(row.dataset.line),
        method: JSON.parse(row.dataset.method),
        url: row.dataset.url === 'true',
        conditions: JSON.parse(row.dataset.conditions),
        matched: row.dataset.matched === 'true',
      })),
    };
  }, fragment);
}

function compare(expect, shown) {
  const wrong = [];
  const same = (what, expected, actual) => {
    if (expected !== undefined && !isDeepStrictEqual(expected, actual)) {
      wrong.push(`${what}: expected ${JSON.stringify(expected)}, shown ${JSON.stringify(actual)}`);
    }
  };
  if (expect.decision !== shown.decision) {
    return [`decision: expected ${expect.decision}, shown ${shown.decision} (${shown.text.slice(0, 200)})`];
  }
  same('reason', expect.reason, shown.reason);
  if (expect.decision === 'bad-target') return wrong;
  if (expect.decision === 'allow') {
    same('line', expect.line, JSON.parse(shown.line));
    same('user', expect.user, shown.user);
  }
  same('path', expect.path, shown.path);
  same('url', expect.url, shown.url);
  same('query', expect.query, shown.query ?? null);
  same('queryPairs', expect.queryPairs, JSON.parse(shown.queryPairs));
  same('explain', expect.explain, shown.explain);
  return wrong;
}

test('the playground shows the expected decision for every decision vector', async () => {
  const mismatches = [];
  let cases = 0;
  for (const [name, file] of loadVectors()) {
    if (file.kind !== 'decisions') continue;
    const defaults = file.defaults ?? {};
    for (const testCase of file.cases) {
      cases += 1;
      const merged = {};
      for (const section of ['token', 'request', 'settings']) {
        merged[section] = { ...(defaults[section] ?? {}), ...(testCase[section] ?? {}) };
      }
      const state = { token: merged.token, settings: merged.settings, requests: [merged.request] };
      const fragment = encodeFragment(state);
      // The link carries the case exactly (no field lost or defaulted).
      assert.deepEqual(decodeFragment(fragment).requests[0], { ...merged.request, body: merged.request.body ?? null });
      const wrong = compare(testCase.expect, await showCase(fragment));
      if (wrong.length) mismatches.push(`${name}:${testCase.id}: ${wrong.join('; ')}`);
    }
  }
  assert.deepEqual(mismatches, [], `${mismatches.length} cases disagree:\n${mismatches.join('\n')}`);
  assert.ok(cases >= 250, `too few decision vectors: ${cases}`);
  assert.deepEqual(page.errors, []);
});

test('validation vectors typed into the limitTo and ip fields show their line errors', async () => {
  await page.goto(`${server.origin}/tokengate/`);
  await page.waitForFunction(() => document.documentElement.dataset.renderedHash !== undefined);
  const mismatches = [];
  let cases = 0;
  for (const [name, file] of loadVectors()) {
    if (file.kind !== 'validation') continue;
    for (const testCase of file.cases) {
      cases += 1;
      const field = testCase.field === 'limitTo' ? '#limit-to' : '#ip';
      await page.fill(field, testCase.text);
      const shown = await page.evaluate((field) => {
        const list = document.getElementById(`${field.slice(1)}-lines`);
        return {
          invalid: document.querySelector(field).getAttribute('aria-invalid'),
          problems: [...list.querySelectorAll('.problem')].map((p) => ({ line: Number(p.dataset.line), message: p.textContent })),
          valid: [...list.querySelectorAll('li.line.ok .text')].map((code) => code.textContent),
        };
      }, field);
      const expect = testCase.expect;
      const wrong = [];
      if (expect.valid) {
        if (shown.problems.length || shown.invalid !== 'false') wrong.push(`expected valid, shown ${JSON.stringify(shown.problems)}`);
        if (expect.lines && !isDeepStrictEqual(shown.valid, expect.lines)) {
          wrong.push(`lines: expected ${JSON.stringify(expect.lines)}, shown ${JSON.stringify(shown.valid)}`);
        }
      } else {
        const wanted = expect.problems ?? [];
        if (shown.invalid !== 'true') wrong.push('the field is not marked invalid');
        if (wanted.length !== shown.problems.length) wrong.push(`expected ${wanted.length} problems, shown ${JSON.stringify(shown.problems)}`);
        wanted.forEach((want, i) => {
          const got = shown.problems[i];
          if (got && (got.line !== want.line || !got.message.toLowerCase().includes(want.contains.toLowerCase()))) {
            wrong.push(`expected line ${want.line} containing ${JSON.stringify(want.contains)}, shown line ${got.line}: ${JSON.stringify(got.message)}`);
          }
        });
      }
      if (wrong.length) mismatches.push(`${name}:${testCase.id}: ${wrong.join('; ')}`);
    }
    await page.fill('#limit-to', '');
    await page.fill('#ip', '');
  }
  assert.deepEqual(mismatches, [], `${mismatches.length} cases disagree:\n${mismatches.join('\n')}`);
  assert.ok(cases >= 60, `too few validation vectors: ${cases}`);
});

test('typing shows problems as you type, and the share link restores the page', async () => {
  await page.goto(`${server.origin}/tokengate/`);
  await page.waitForFunction(() => document.documentElement.dataset.renderedHash !== undefined);
  await page.getByRole('button', { name: 'Both seed lines' }).click();
  const limitTo = page.getByLabel('Restriction lines (limitTo)');
  await limitTo.press('End');
  await limitTo.pressSequentially('\n.*(?=x)');
  await page.waitForSelector('#limit-to-lines li.error[data-line="3"] .problem');
  assert.match(await page.textContent('#limit-to-lines li.error .problem'), /line 3: look-around/);
  assert.equal(await limitTo.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#request-0-result', 'data-decision'), 'invalid');
  await limitTo.press('Backspace');
  for (let i = 0; i < 7; i += 1) await limitTo.press('Backspace');
  assert.equal(await limitTo.getAttribute('aria-invalid'), 'false');
  assert.equal(await page.getAttribute('#request-0-result', 'data-decision'), 'allow');

  const link = await page.inputValue('#share-link');
  const restored = await browser.context.newPage();
  await restored.goto(link);
  await restored.waitForFunction(() => document.documentElement.dataset.renderedHash !== undefined);
  assert.equal(await restored.inputValue('#limit-to'), await limitTo.inputValue());
  for (const index of [0, 1, 2]) {
    assert.equal(
      await restored.getAttribute(`#request-${index}-result`, 'data-decision'),
      await page.getAttribute(`#request-${index}-result`, 'data-decision'),
    );
  }
  await restored.close();
});

test('the page shows the SHA-256 of the component it runs; screenshots', async () => {
  await page.goto(`${server.origin}/tokengate/`);
  await page.waitForFunction(() => document.documentElement.dataset.componentDigest !== undefined);
  const expected = createHash('sha256').update(componentBytes()).digest('hex');
  assert.equal(await page.textContent('#digest'), expected);
  await page.getByRole('button', { name: 'Both seed lines' }).click();
  await page.screenshot({ path: screenshotPath('playground.png'), fullPage: true });
  await page.getByRole('button', { name: 'Query and JSON conditions' }).click();
  await page.fill('#ip', '10.0.0.0/8, !10.0.0.13\n10.0.0.1/8');
  await page.screenshot({ path: screenshotPath('playground-conditions.png'), fullPage: true });
});

test('opened as a file, the playground asks for the component and then works', async () => {
  // Chromium loads ES modules from file:// only with this flag (Firefox does by default).
  const local = await launchChromium(['--allow-file-access-from-files']);
  try {
    const filePage = await local.context.newPage();
    await filePage.goto(`file://${webDir}/index.html`);
    await filePage.waitForSelector('#load-picker:not([hidden])');
    await filePage.setInputFiles('#wasm-file', componentPath);
    await filePage.waitForFunction(() => document.documentElement.dataset.componentDigest !== undefined);
    await filePage.getByRole('button', { name: 'All space endpoints' }).click();
    assert.equal(await filePage.getAttribute('#request-0-result', 'data-decision'), 'allow');
    assert.equal(await filePage.getAttribute('#request-2-result', 'data-decision'), 'deny');
    assert.equal(await filePage.textContent('#digest'), createHash('sha256').update(componentBytes()).digest('hex'));
  } finally {
    await local.close();
  }
});
