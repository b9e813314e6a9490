// Code snippets that call the gateway with a token, as the seed's REST API
// Tokens page offers: curl, JavaScript fetch, Python requests, and what to
// type into Postman's Basic Auth. The token replaces the password.

/** `'text'` for a POSIX shell. */
export function shellQuote(text) {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Base64 of the UTF-8 bytes of `text` (btoa alone takes Latin-1 only). */
export function base64Utf8(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The `Authorization` header value for `user` and `token`. */
export function basicAuthorization(user, token) {
  return `Basic ${base64Utf8(`${user}:${token}`)}`;
}

const withBody = (method) => !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(method);

/**
 * A request to try a token with, guessed from its first restriction line when
 * that line is a plain path: the seed's `.*` + `/rest/api/space` + `.*` gives GET /rest/api/space.
 */
export function sampleRequest(limitTo, fallbackPath = '/rest/api/space') {
  const first = (limitTo ?? '').split(/\r\n|\n|\r|\\n|<br *\/?>/i).map((l) => l.trim()).find(Boolean);
  if (!first) return { method: 'GET', path: fallbackPath };
  const tag = /^\[([a-z,\s]+)\]/i.exec(first);
  const methods = tag ? tag[1].split(',').map((m) => m.trim().toUpperCase()).filter(Boolean) : [];
  let pattern = tag ? first.slice(tag[0].length) : first;
  pattern = pattern.replace(/(\[(QueryParam|JsonData)::[^\]]*\])+$/, '');
  pattern = pattern.replace(/^(https?:\/\/[^/]+|\.\*|\^)/, '').replace(/(\.\*|\$)$/, '');
  const path = /^\/[A-Za-z0-9/_~-]*$/.test(pattern) ? pattern : fallbackPath;
  return { method: methods[0] ?? 'GET', path };
}

/**
 * Every snippet for one call.
 * @param {{base:string, path:string, method:string, user:string, token:string, body?:string}} call
 * @returns {{id:string, title:string, text:string}[]}
 */
export function snippets({ base, path, method, user, token, body = '{}' }) {
  const url = `${base.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`;
  const verb = method.toUpperCase();
  const sendsBody = withBody(verb);
  const curl = [
    `curl -s -u ${shellQuote(`${user}:${token}`)}`,
    verb === 'GET' ? null : `-X ${verb}`,
    sendsBody ? `-H 'Content-Type: application/json' --data ${shellQuote(body)}` : null,
    shellQuote(url),
  ]
    .filter(Boolean)
    .join(' ');

  const js = [
    `const response = await fetch(${JSON.stringify(url)}, {`,
    `  method: ${JSON.stringify(verb)},`,
    '  headers: {',
    `    Authorization: 'Basic ' + btoa(${JSON.stringify(`${user}:${token}`)}),`,
    sendsBody ? `    'Content-Type': 'application/json',` : null,
    '  },',
    sendsBody ? `  body: ${JSON.stringify(body)},` : null,
    '});',
    'console.log(response.status, await response.text());',
  ]
    .filter((line) => line !== null)
    .join('\n');

  const python = [
    'import requests',
    '',
    'response = requests.request(',
    `    ${JSON.stringify(verb)},`,
    `    ${JSON.stringify(url)},`,
    `    auth=(${JSON.stringify(user)}, ${JSON.stringify(token)}),`,
    sendsBody ? `    ${pythonBody(body)},` : null,
    ')',
    'print(response.status_code, response.text)',
  ]
    .filter((line) => line !== null)
    .join('\n');

  const postman = [
    `Request:        ${verb} ${url}`,
    'Authorization:  Type "Basic Auth"',
    `  Username:     ${user}`,
    `  Password:     ${token}`,
    sendsBody ? `Body:           raw, JSON: ${body}` : null,
    '',
    `The header Postman sends:  Authorization: ${basicAuthorization(user, token)}`,
  ]
    .filter((line) => line !== null)
    .join('\n');

  return [
    { id: 'curl', title: 'curl', text: curl },
    { id: 'fetch', title: 'JavaScript (fetch)', text: js },
    { id: 'python', title: 'Python (requests)', text: python },
    { id: 'postman', title: 'Postman (Basic Auth)', text: postman },
  ];
}

/** The keyword argument that sends `body`: `json=` with a Python literal when it parses. */
function pythonBody(body) {
  let value;
  try {
    value = JSON.parse(body);
  } catch {
    return `data=${JSON.stringify(body)}`;
  }
  const literal = (v) => {
    if (v === null) return 'None';
    if (v === true) return 'True';
    if (v === false) return 'False';
    if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
    if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${literal(x)}`).join(', ')}}`;
    return JSON.stringify(v);
  };
  return `json=${literal(value)}`;
}
