// The playground's whole state, and its form in the URL fragment (`#v1=…`,
// base64url of UTF-8 JSON), so a link carries it and no server ever sees it.
//
// Field names are those of tests/vectors (token / request / settings), so a
// vector case is a state with one request.

const PREFIX = 'v1=';

/** A request as the playground starts it. */
export function defaultRequest(now = Date.now()) {
  return {
    method: 'GET',
    target: '/rest/api/space',
    body: null,
    clientIp: '192.0.2.10',
    user: 'admin',
    scheme: 'basic',
    now: Math.floor(now / 1000) * 1000,
  };
}

/** The state of a fresh playground. */
export function defaultState(now = Date.now()) {
  return {
    token: { limitTo: '', ip: '', user: 'admin', validUntil: null, validFrom: null },
    settings: { scope: 'rest', publicBase: 'https://wiki.example.com' },
    requests: [defaultRequest(now)],
  };
}

const text = (value, fallback) => (typeof value === 'string' ? value : fallback);
const textOrNull = (value, fallback) => (value === null || typeof value === 'string' ? value : fallback);
const msOrNull = (value, fallback) => (value === null || Number.isSafeInteger(value) ? value : fallback);

/** Fills what a (possibly hand-written or older) state leaves out. */
export function normalize(input) {
  const base = defaultState();
  const token = { ...base.token, ...(input?.token ?? {}) };
  const settings = { ...base.settings, ...(input?.settings ?? {}) };
  const requests = Array.isArray(input?.requests) ? input.requests : base.requests;
  return {
    token: {
      limitTo: text(token.limitTo, ''),
      ip: text(token.ip, ''),
      user: textOrNull(token.user, null),
      validUntil: msOrNull(token.validUntil, null),
      validFrom: msOrNull(token.validFrom, null),
    },
    settings: {
      scope: settings.scope === 'extender' ? 'extender' : 'rest',
      publicBase: text(settings.publicBase, base.settings.publicBase),
    },
    requests: requests.map((request) => {
      const merged = { ...defaultRequest(), ...request };
      return {
        method: text(merged.method, 'GET'),
        target: text(merged.target, '/'),
        body: textOrNull(merged.body, null),
        clientIp: text(merged.clientIp, ''),
        user: textOrNull(merged.user, null),
        scheme: merged.scheme === 'bearer' ? 'bearer' : 'basic',
        now: msOrNull(merged.now, null) ?? defaultRequest().now,
      };
    }),
  };
}

function toBase64Url(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/** The fragment (with `#`) that carries `state`. */
export function encodeFragment(state) {
  return `#${PREFIX}${toBase64Url(new TextEncoder().encode(JSON.stringify(state)))}`;
}

/** The state a fragment carries, or null when it carries none (or a broken one). */
export function decodeFragment(fragment) {
  const body = fragment.replace(/^#/, '');
  if (!body.startsWith(PREFIX)) return null;
  try {
    const json = new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(body.slice(PREFIX.length)));
    return normalize(JSON.parse(json));
  } catch {
    return null;
  }
}
