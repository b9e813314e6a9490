// What the browser tests share: paths, the component, a page server, the
// gateway process and a headless Chromium.
//
// The page is served by the gateway itself when its binary serves /tokengate/.
// Until the gateway routes to host/src/web.rs (or without a gateway binary), a
// small server here serves web/ exactly as web.rs does (same files, same
// headers) and forwards everything else to the gateway when one runs.

import { spawn, execFileSync } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
export const webDir = join(root, 'web');
export const vectorsDir = join(root, 'tests', 'vectors');
export const screenshotDir = join(root, 'target', 'screenshots');
export const componentPath = join(here, 'gen', 'policy.wasm');
export const gatewayBinary =
  process.env.TOKENGATE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'debug', 'tokengate');

/** The component bytes (written by `write-policy-component`, see .ci/run). */
export function componentBytes() {
  if (!existsSync(componentPath)) {
    throw new Error(`${componentPath} is missing: run cargo run -p tokengate-policy-artifact --bin write-policy-component -- tests/web/gen/policy.wasm`);
  }
  return readFileSync(componentPath);
}

/** The decision and validation vectors, as [name, file] pairs. */
export function loadVectors() {
  return execFileSync('ls', [vectorsDir])
    .toString()
    .split('\n')
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => [name.replace(/\.json$/, ''), JSON.parse(readFileSync(join(vectorsDir, name), 'utf8'))]);
}

// Mirrors host/src/web.rs: the same content types and headers.
const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

function serveWeb(path, response) {
  if (path === '/tokengate') {
    response.writeHead(308, { location: 'tokengate/' });
    return response.end();
  }
  let file = path.slice('/tokengate/'.length) || 'index.html';
  const full = normalize(join(webDir, file));
  const bytes =
    file === 'policy.wasm'
      ? componentBytes()
      : full.startsWith(webDir + sep) && existsSync(full) && !file.endsWith('.d.ts') && !file.endsWith('.md')
        ? readFileSync(full)
        : null;
  const type = CONTENT_TYPES[file.slice(file.lastIndexOf('.'))];
  if (!bytes || !type) {
    response.writeHead(404, { 'content-type': 'text/plain' });
    return response.end('not found');
  }
  response.writeHead(200, {
    'content-type': type,
    'cache-control': 'no-cache',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  response.end(bytes);
}

/**
 * Serves web/ under /tokengate/ and forwards other paths to `upstream` (the
 * gateway), if given. Resolves with its origin and a close function.
 */
export function startPageServer(upstream = null) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/tokengate' || path.startsWith('/tokengate/')) return serveWeb(path, res);
    if (!upstream) {
      res.writeHead(404);
      return res.end();
    }
    const target = new URL(upstream);
    const forwarded = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(forwarded);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ origin: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

async function waitFor(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Whether the gateway binary has been built. */
export const gatewayBuilt = () => existsSync(gatewayBinary);

/**
 * Starts `tokengate demo` (the gateway in front of its built-in echo upstream,
 * `admin` as administrator) on a free port with a temp data dir, and creates an
 * admin token with the CLI. Resolves with { origin, adminToken, cli, stop }.
 */
export async function startGateway() {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokengate-web-'));
  const env = { ...process.env, RUST_LOG: 'warn' };
  const cli = (...args) => execFileSync(gatewayBinary, [...args, '--data-dir', dataDir], { env, encoding: 'utf8' }).trim();
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(gatewayBinary, ['demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (chunk) => (log += chunk));
  child.stderr.on('data', (chunk) => (log += chunk));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // A debug build compiles the component with an unoptimised Cranelift: allow minutes.
    await waitFor(async () => (await fetch(`${origin}/healthz`)).ok, `the gateway on ${origin}`, 240_000);
    const adminToken = cli('token', 'create', '--label', 'web test administrator', '--user', 'admin');
    // The running gateway picks up tokens the CLI creates within a second or so.
    const authorization = `Basic ${Buffer.from(`admin:${adminToken}`).toString('base64')}`;
    await waitFor(
      async () => (await fetch(`${origin}/rest/extender/1.0/tokenTools/get`, { headers: { authorization } })).ok,
      'the admin token to work',
    );
    return { origin, adminToken, cli, log: () => log, stop };
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\n${log}`);
  }
}

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Where the page is: the gateway's own /tokengate/ when it serves it, else ours. */
export async function pageOrigin(gatewayOrigin) {
  if (gatewayOrigin) {
    const answer = await fetch(`${gatewayOrigin}/tokengate/`).catch(() => null);
    if (answer?.ok && (answer.headers.get('content-type') ?? '').startsWith('text/html')) {
      return { origin: gatewayOrigin, servedByGateway: true, close: async () => {} };
    }
  }
  const server = await startPageServer(gatewayOrigin);
  return { origin: server.origin, servedByGateway: false, close: server.close };
}

/** Headless Debian Chromium through playwright-core, with a fresh profile. */
export async function launchChromium(extraArgs = []) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'tokengate-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function screenshotPath(name) {
  mkdirSync(screenshotDir, { recursive: true });
  return join(screenshotDir, name);
}
