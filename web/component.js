// Runs the policy component the gateway runs: the very bytes it serves at
// policy.wasm, digested, split into their core modules and given to jco's glue.
//
// The glue (policy/policy.js) is `jco transpile --instantiation async` output;
// it asks for each core module by name and we hand it the ones found in the
// component, so the page needs no other file derived from the policy.

import { instantiate } from './policy/policy.js';
import { sha256Hex } from './sha256.js';

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
// Version 0x0d and layer 1: the component encoding (a core module has 1, 0, 0, 0).
const COMPONENT_HEADER = [0x0d, 0x00, 0x01, 0x00];
const CORE_MODULE_SECTION = 1;

/**
 * The core modules of a component binary, in the order they appear at its top
 * level (jco names them policy.core.wasm, policy.core2.wasm, …, in this order).
 * @param {Uint8Array} bytes
 * @returns {Uint8Array[]}
 */
export function coreModules(bytes) {
  const header = [...MAGIC, ...COMPONENT_HEADER];
  if (bytes.length < header.length || header.some((byte, i) => bytes[i] !== byte)) {
    throw new Error('not a WebAssembly component (wrong header)');
  }
  const modules = [];
  let at = header.length;
  const leb128 = () => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5; i += 1) {
      if (at >= bytes.length) throw new Error('truncated component (section size)');
      const byte = bytes[at];
      at += 1;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new Error('bad component (section size too long)');
  };
  while (at < bytes.length) {
    const id = bytes[at];
    at += 1;
    const size = leb128();
    if (at + size > bytes.length) throw new Error('truncated component (section body)');
    if (id === CORE_MODULE_SECTION) modules.push(bytes.subarray(at, at + size));
    at += size;
  }
  return modules;
}

/** Index of a core module from jco's name for it: `x.core.wasm` is 0, `x.core2.wasm` is 1. */
export function coreModuleIndex(name) {
  const match = /\.core(\d*)\.wasm$/.exec(name);
  if (!match) throw new Error(`unexpected core module name ${name}`);
  return match[1] === '' ? 0 : Number(match[1]) - 1;
}

/**
 * Instantiates the policy from component bytes.
 * @param {Uint8Array} bytes the component, as served at policy.wasm
 * @returns {Promise<{decide: object, digest: string, size: number}>}
 */
export async function loadPolicy(bytes) {
  const digest = await sha256Hex(bytes);
  const modules = coreModules(bytes);
  const compiled = new Map();
  const getCoreModule = (name) => {
    const index = coreModuleIndex(name);
    if (index >= modules.length) throw new Error(`the component has no core module ${name}`);
    if (!compiled.has(index)) compiled.set(index, WebAssembly.compile(modules[index]));
    return compiled.get(index);
  };
  const root = await instantiate(getCoreModule, {});
  return { decide: root.decide, digest, size: bytes.length };
}

/** Fetches the component next to the page. */
export async function fetchComponent(url = 'policy.wasm') {
  const response = await fetch(url, { credentials: 'omit' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * The gateway's component digest from /healthz, or null when there is no
 * gateway (static file) or it does not say.
 */
export async function gatewayDigest() {
  try {
    const response = await fetch('../healthz', { credentials: 'omit', cache: 'no-store' });
    if (!response.ok && response.status !== 503) return null;
    const health = await response.json();
    const digest = health.componentDigest ?? health.component;
    return typeof digest === 'string' ? digest : null;
  } catch {
    return null;
  }
}
