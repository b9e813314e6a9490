// The page's policy plumbing without a browser: the committed jco glue is what
// jco generates from the component today, the page's section walker finds the
// same core modules jco extracts, and the whole page fits its size budget.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, constants } from 'node:zlib';

import { componentBytes, componentPath, here, root, webDir } from './harness.mjs';
import { coreModuleIndex, coreModules, loadPolicy } from '../../web/component.js';

/** Size budget of the page, wasm included, gzip-compressed. */
const BUDGET_GZIP = 1.5 * 1024 * 1024;

function transpile() {
  const out = mkdtempSync(join(tmpdir(), 'tokengate-glue-'));
  // The same command as `npm run glue`, into a temp dir.
  execFileSync(
    join(here, 'node_modules', '.bin', 'jco'),
    ['transpile', componentPath, '--name', 'policy', '--instantiation', 'async', '--valid-lifting-optimization', '--quiet', '--out-dir', out],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return out;
}

test('the committed glue in web/policy/ is what jco generates from the component', () => {
  const out = transpile();
  try {
    const files = ['policy.js', 'policy.d.ts', 'interfaces/tokengate-policy-decide.d.ts'];
    for (const file of files) {
      assert.ok(
        readFileSync(join(out, file)).equals(readFileSync(join(webDir, 'policy', file))),
        `web/policy/${file} differs from jco's output: run \`npm run glue\` in tests/web and review the diff`,
      );
    }
    const generated = readdirSync(join(out, 'interfaces'));
    assert.deepEqual(generated, readdirSync(join(webDir, 'policy', 'interfaces')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the page extracts exactly the core modules jco extracts', () => {
  const out = transpile();
  try {
    const modules = coreModules(new Uint8Array(componentBytes()));
    const jcoModules = readdirSync(out).filter((name) => name.endsWith('.wasm'));
    assert.equal(modules.length, jcoModules.length, `jco wrote ${jcoModules.join(', ')}`);
    for (const name of jcoModules) {
      const extracted = Buffer.from(modules[coreModuleIndex(name)]);
      assert.ok(extracted.equals(readFileSync(join(out, name))), `${name} differs from the walker's module`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the walker refuses what is not a component', () => {
  const component = new Uint8Array(componentBytes());
  const core = coreModules(component)[0];
  assert.throws(() => coreModules(core), /not a WebAssembly component/);
  assert.throws(() => coreModules(component.subarray(0, 20)), /truncated/);
});

test('the page loader runs the component and reports its SHA-256', async () => {
  const bytes = new Uint8Array(componentBytes());
  const policy = await loadPolicy(bytes);
  const expected = execFileSync('sha256sum', [componentPath]).toString().split(' ')[0];
  assert.equal(policy.digest, expected);
  assert.deepEqual(policy.decide.validateLimitTo('.*/rest/api/space.*'), []);
});

test('the page, wasm included, is at most 1.5 MB gzip-compressed', () => {
  // Exactly the files host/src/web.rs embeds, plus the component it serves.
  const webRs = readFileSync(join(root, 'host', 'src', 'web.rs'), 'utf8');
  const files = [...webRs.matchAll(/include_bytes!\("\.\.\/\.\.\/web\/([^"]+)"\)/g)].map((m) => m[1]);
  const unique = [...new Set(files)];
  assert.ok(unique.includes('index.html') && unique.includes('policy/policy.js'));
  const sizes = unique.map((file) => readFileSync(join(webDir, file))).concat([componentBytes()]);
  const raw = sizes.reduce((sum, bytes) => sum + bytes.length, 0);
  const gzip = sizes.reduce((sum, bytes) => sum + gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION }).length, 0);
  const wasmGzip = gzipSync(componentBytes(), { level: 9 }).length;
  console.log(`page: ${unique.length} files + policy.wasm: ${raw} bytes raw, ${gzip} bytes gzip -9 (policy.wasm ${componentBytes().length} raw, ${wasmGzip} gzip)`);
  assert.ok(gzip <= BUDGET_GZIP, `${gzip} bytes gzip > ${BUDGET_GZIP}`);
});

test('every script the page embeds parses', () => {
  const webRs = readFileSync(join(root, 'host', 'src', 'web.rs'), 'utf8');
  const scripts = [...webRs.matchAll(/include_bytes!\("\.\.\/\.\.\/web\/([^"]+\.js)"\)/g)].map((m) => m[1]);
  assert.ok(scripts.length >= 10);
  for (const script of scripts) {
    const checked = spawnSync(process.execPath, ['--check', join(webDir, script)], { encoding: 'utf8' });
    assert.equal(checked.status, 0, `${script}: ${checked.stderr}`);
  }
});
