// The restriction playground: a token's texts, the gateway's settings and test
// requests in; problems, decisions and per-line explanations out, as you type.
//
// The state lives in the URL fragment (see state.js); editing replaces it in
// place (once typing pauses), and a changed fragment (a pasted link,
// back/forward) is loaded. The policy answers from a worker (policy-runner.js):
// a keystroke only records the state, and the page shows the newest answer.
// `data-settled` on <html> is "true" once the page shows its current state.

import { startPolicy } from './loader.js';
import { latestOnly } from './policy-runner.js';
import { byId, copyText, h, inputToMs, msToInput, patchChildren } from './dom.js';
import { defaultRequest, defaultState, decodeFragment, encodeFragment } from './state.js';
import { ipPieces, limitToPieces } from './evaluate.js';
import { renderProblems } from './problems.js';
import { EXAMPLES } from './examples.js';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

// How long typing must pause before the fragment follows: browsers limit how often a
// page may replace its URL (Safari and Firefox throw past 100 times in 10 to 30 s).
const FRAGMENT_DELAY_MS = 300;

let policy = null;
let state = decodeFragment(location.hash) ?? defaultState();
// Counts edits, so an answer can tell whether the state changed while it was computed.
let edits = 0;
let fragmentTimer = null;

const fields = {
  limitTo: byId('limit-to'),
  ip: byId('ip'),
  user: byId('token-user'),
  validUntil: byId('valid-until'),
  validFrom: byId('valid-from'),
  scope: byId('scope'),
  publicBase: byId('public-base'),
};

/** Puts the state into the token and settings fields, and rebuilds the request cards. */
function fillFields() {
  fields.limitTo.value = state.token.limitTo;
  fields.ip.value = state.token.ip;
  fields.user.value = state.token.user ?? '';
  fields.validUntil.value = msToInput(state.token.validUntil);
  fields.validFrom.value = msToInput(state.token.validFrom);
  fields.scope.value = state.settings.scope;
  fields.publicBase.value = state.settings.publicBase;
  buildRequests();
}

function buildRequests() {
  const list = byId('requests');
  list.replaceChildren(...state.requests.map((request, index) => requestCard(request, index)));
}

function requestCard(request, index) {
  const id = (name) => `request-${index}-${name}`;
  const edit = (change) => (event) => {
    change(state.requests[index], event.target);
    changed();
  };
  const field = (name, label, control) =>
    h('div', { class: `field ${name}` }, h('label', { for: id(name) }, label), control);
  const userInput = h('input', {
    id: id('user'),
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    value: request.user ?? '',
    disabled: request.scheme === 'bearer',
    oninput: edit((r, el) => (r.user = el.value)),
  });
  const card = h(
    'li',
    { class: 'request', dataset: { index: String(index) } },
    h(
      'fieldset',
      {},
      h('legend', {}, `Request ${index + 1}`),
      state.requests.length > 1
        ? h(
            'button',
            {
              type: 'button',
              class: 'secondary remove',
              'aria-label': `Remove request ${index + 1}`,
              onclick: () => {
                state.requests.splice(index, 1);
                buildRequests();
                changed();
                byId('add-request').focus();
              },
            },
            'Remove',
          )
        : null,
      h(
        'div',
        { class: 'request-grid' },
        field(
          'method',
          'Method',
          h('input', {
            id: id('method'),
            type: 'text',
            list: 'methods',
            autocomplete: 'off',
            spellcheck: 'false',
            value: request.method,
            oninput: edit((r, el) => (r.method = el.value)),
          }),
        ),
        field(
          'target',
          'Path and query',
          h('input', {
            id: id('target'),
            type: 'text',
            autocomplete: 'off',
            spellcheck: 'false',
            value: request.target,
            oninput: edit((r, el) => (r.target = el.value)),
          }),
        ),
        field(
          'scheme',
          'Authorization',
          h(
            'select',
            {
              id: id('scheme'),
              onchange: edit((r, el) => {
                r.scheme = el.value;
                r.user = el.value === 'bearer' ? null : userInput.value;
                userInput.disabled = el.value === 'bearer';
              }),
            },
            h('option', { value: 'basic', selected: request.scheme === 'basic' }, 'Basic'),
            h('option', { value: 'bearer', selected: request.scheme === 'bearer' }, 'Bearer'),
          ),
        ),
        field('user', 'Presented user', userInput),
        field(
          'ip',
          'Client IP',
          h('input', {
            id: id('ip'),
            type: 'text',
            autocomplete: 'off',
            spellcheck: 'false',
            value: request.clientIp,
            oninput: edit((r, el) => (r.clientIp = el.value)),
          }),
        ),
        field(
          'now',
          'Time (UTC)',
          h('input', {
            id: id('now'),
            type: 'datetime-local',
            step: '0.001',
            value: msToInput(request.now),
            oninput: edit((r, el) => (r.now = inputToMs(el.value))),
          }),
        ),
        field(
          'body',
          'JSON body (empty: none)',
          h('textarea', {
            id: id('body'),
            rows: '1',
            spellcheck: 'false',
            value: request.body ?? '',
            oninput: edit((r, el) => (r.body = el.value === '' ? null : el.value)),
          }),
        ),
      ),
    ),
    h('div', { class: 'result', id: id('result'), 'aria-label': `Decision for request ${index + 1}` }),
  );
  return card;
}

/** After an edit: ask for its results, and remember the state in the fragment soon. */
function changed() {
  edits += 1;
  document.documentElement.dataset.settled = 'false';
  clearTimeout(fragmentTimer);
  fragmentTimer = setTimeout(writeFragment, FRAGMENT_DELAY_MS);
  refresh();
}

function writeFragment() {
  clearTimeout(fragmentTimer);
  fragmentTimer = null;
  history.replaceState(null, '', encodeFragment(state));
}

const mark = (value, yes, no) => (value ? h('span', { class: 'ok' }, '✓', h('span', { class: 'visually-hidden' }, ` ${yes}`)) : h('span', { class: 'error' }, '✗', h('span', { class: 'visually-hidden' }, ` ${no}`)));

function explainRow(check) {
  return h(
    'tr',
    {
      class: check.matched ? 'matched' : '',
      dataset: {
        line: String(check.line),
        method: String(check.method ?? null),
        url: String(check.url),
        conditions: JSON.stringify(check.conditions.map((c) => c.matched)),
        matched: String(check.matched),
      },
    },
    h('th', { scope: 'row' }, h('span', { class: 'number' }, `${check.line}`), ' ', h('code', {}, check.text)),
    h('td', {}, check.method === undefined ? h('span', { class: 'muted' }, '—', h('span', { class: 'visually-hidden' }, ' no method tag')) : mark(check.method, 'method admitted', 'method refused')),
    h('td', {}, mark(check.url, 'URL matches', 'URL does not match')),
    h(
      'td',
      {},
      check.conditions.length === 0
        ? h('span', { class: 'muted' }, 'none')
        : h('ul', { class: 'conditions' }, check.conditions.map((c) => h('li', {}, mark(c.matched, 'holds', 'does not hold'), ' ', h('code', {}, c.text)))),
    ),
    h('td', {}, mark(check.matched, 'yes', 'no')),
  );
}

// Tokens with more lines than this show their per-line tables closed: a 256-line
// token's tables are hundreds of rows per request to build and lay out on every answer.
const EXPLAIN_OPEN_LINES = 20;
// The newest explanation of a closed table, shown when someone opens it.
const unshown = new WeakMap();

function showRows(details, explain) {
  unshown.delete(details);
  patchChildren(details.querySelector('tbody'), explain, (check) => JSON.stringify(check), explainRow);
}

/** A click on a table's summary: its open state is now the person's choice. */
function chooseOpen(event) {
  const details = event.currentTarget.parentElement;
  details.dataset.chosen = 'true';
  // Before the toggle, so the table opens with the newest answer's rows.
  if (!details.open && unshown.has(details)) showRows(details, unshown.get(details));
}

/**
 * The per-line table of a result, in a `<details>` that is open for short tokens,
 * or the sentence for a token without lines. An existing table is patched where
 * its rows changed, never rebuilt, and keeps the open state someone chose.
 */
function explainPart(details, explain) {
  if (explain.length === 0) {
    return h('p', { class: 'hint' }, 'The token has no restriction lines: every path in scope is allowed.');
  }
  const kept =
    details ??
    h(
      'details',
      { class: 'explain' },
      h('summary', { onclick: chooseOpen }),
      h(
        'table',
        { class: 'explain' },
        // The summary shows the title; the caption names the table for screen readers.
        h('caption', { class: 'visually-hidden' }, 'How each line fared'),
        h('thead', {}, h('tr', {}, ['Line', 'Method', 'URL', 'Conditions', 'Line matches'].map((name) => h('th', { scope: 'col' }, name)))),
        h('tbody'),
      ),
    );
  if (!kept.dataset.chosen) kept.open = explain.length <= EXPLAIN_OPEN_LINES;
  kept.querySelector('summary').textContent = `How each line fared (${explain.length} ${explain.length === 1 ? 'line' : 'lines'})`;
  if (kept.open) showRows(kept, explain);
  else unshown.set(kept, explain);
  return kept;
}

const REASONS = {
  'method-not-allowed': 'the method is not one REST APIs use (GET HEAD POST PUT PATCH DELETE OPTIONS, exact case)',
  expired: 'the token has expired',
  'not-yet-valid': 'the token is not valid yet (before its validFrom)',
  'missing-user': 'the Basic credential has no user name',
  'bad-user-name': 'the user name holds a control character or surrounding whitespace',
  'user-mismatch': 'the presented user is not the token’s user',
  'bearer-needs-user': 'Bearer needs a token bound to a user',
  'ip-not-allowed': 'the client address is not allowed',
  'out-of-scope': 'the path is outside the gateway’s scope',
  'no-matching-rule': 'no restriction line matches',
};

function renderResult(element, result, lines) {
  const data = element.dataset;
  for (const key of Object.keys(data)) delete data[key];
  data.decision = result.kind;
  const parts = [];
  const target = result.target;
  if (result.kind === 'allow') {
    data.user = result.user;
    data.line = String(result.line ?? null);
    const line = result.line === null ? null : lines?.[result.line - 1];
    parts.push(
      h('p', { class: 'verdict' }, h('strong', { class: 'badge allow' }, 'Allowed'), ' ', `runs upstream as `, h('code', {}, result.user), result.line === null ? ' (the token has no restriction lines)' : [', admitted by line ', `${result.line}`, line ? [': ', h('code', {}, line)] : null]),
    );
  } else if (result.kind === 'deny') {
    data.reason = result.reason;
    parts.push(h('p', { class: 'verdict' }, h('strong', { class: 'badge deny' }, 'Denied'), ' ', REASONS[result.reason] ?? result.reason, ' ', h('code', { class: 'reason' }, result.reason)));
    parts.push(h('p', { class: 'detail' }, result.detail));
  } else if (result.kind === 'bad-target') {
    data.reason = result.reason;
    parts.push(h('p', { class: 'verdict' }, h('strong', { class: 'badge deny' }, 'Bad request target'), ' ', h('code', { class: 'reason' }, result.reason)));
    parts.push(h('p', { class: 'detail' }, result.detail, ' The gateway answers 400 before any token check.'));
  } else if (result.kind === 'invalid') {
    parts.push(h('p', { class: 'verdict' }, h('strong', { class: 'badge invalid' }, 'No decision'), ' fix the token’s problems above first.'));
  } else {
    parts.push(h('p', { class: 'verdict' }, h('strong', { class: 'badge invalid' }, 'No decision'), ` ${result.detail}.`));
  }
  if (target) {
    data.path = target.path;
    data.url = target.url;
    if (target.query !== undefined) data.query = target.query;
    data.queryPairs = JSON.stringify(target.queryPairs);
    parts.push(
      h(
        'p',
        { class: 'checked' },
        'Checked URL ',
        h('code', {}, target.url),
        target.query === undefined ? null : [' · query ', h('code', {}, target.query)],
      ),
    );
  }
  // The table stays in place (moving it would lay out every row again); the rest is rebuilt.
  const details = element.querySelector(':scope > details.explain');
  const explain = result.explain ? explainPart(details, result.explain) : null;
  for (const child of [...element.children]) if (child !== explain) child.remove();
  if (details && explain === details) details.before(...parts);
  else element.append(...parts, ...(explain ? [explain] : []));
}

/** Shows the policy's answer for the newest state; runs again if an edit came meanwhile. */
const refresh = latestOnly(async () => {
  if (!policy) return;
  const asked = edits;
  const texts = { limitTo: state.token.limitTo, ip: state.token.ip };
  // The fragment of the state asked about: the URL's, or what it becomes once typing pauses.
  const hash = fragmentTimer === null ? location.hash : encodeFragment(state);
  let result;
  try {
    result = await policy.evaluate(state);
  } catch (error) {
    byId('summary').textContent = `The policy component failed: ${error.message}`;
    return;
  }
  render(result, texts, hash);
  document.documentElement.dataset.settled = String(asked === edits);
});

function render(result, texts, hash) {
  renderProblems(byId('limit-to-lines'), fields.limitTo, limitToPieces(texts.limitTo), result.limitToProblems, 'No restriction lines: the token reaches every path in scope.');
  renderProblems(byId('ip-lines'), fields.ip, ipPieces(texts.ip), result.ipProblems, 'No IP rules: any client address.');
  const cards = byId('requests').children;
  result.requests.forEach((request, index) => {
    const element = cards[index]?.querySelector('.result');
    if (element) renderResult(element, request, result.lines);
  });
  const count = (kind) => result.requests.filter((r) => r.kind === kind).length;
  const total = result.requests.length;
  byId('summary').textContent = result.compiles
    ? `${total} ${total === 1 ? 'request' : 'requests'}: ${count('allow')} allowed, ${count('deny') + count('bad-target')} refused.`
    : 'The token has problems: no decisions until they are fixed.';
  const link = new URL(location.href);
  link.hash = encodeFragment(state);
  byId('share-link').value = link.href;
  document.documentElement.dataset.compileMs = String(result.compileMs);
  document.documentElement.dataset.renderedHash = hash;
}

function loadFragment() {
  // The new fragment wins over an edit not yet written to the URL.
  clearTimeout(fragmentTimer);
  fragmentTimer = null;
  const loaded = decodeFragment(location.hash);
  if (loaded) {
    state = loaded;
    fillFields();
  }
  edits += 1;
  document.documentElement.dataset.settled = 'false';
  refresh();
}

function bind() {
  const token = (name, read) => fields[name].addEventListener('input', () => {
    state.token[name] = read(fields[name].value);
    changed();
  });
  token('limitTo', (v) => v);
  token('ip', (v) => v);
  token('user', (v) => (v.trim() === '' ? null : v));
  token('validUntil', inputToMs);
  token('validFrom', inputToMs);
  fields.scope.addEventListener('change', () => {
    state.settings.scope = fields.scope.value;
    changed();
  });
  fields.publicBase.addEventListener('input', () => {
    state.settings.publicBase = fields.publicBase.value;
    changed();
  });
  byId('add-request').addEventListener('click', () => {
    const last = state.requests.at(-1);
    state.requests.push(last ? { ...last } : defaultRequest());
    buildRequests();
    changed();
    byId(`request-${state.requests.length - 1}-target`).focus();
  });
  byId('copy-link').addEventListener('click', async () => {
    const copied = await copyText(byId('share-link').value, byId('share-link'));
    byId('copy-link-status').textContent = copied ? 'Link copied.' : 'Select the link and copy it.';
  });
  window.addEventListener('hashchange', loadFragment);
  // Leaving within FRAGMENT_DELAY_MS of an edit still keeps it in the history entry.
  window.addEventListener('pagehide', () => {
    if (fragmentTimer !== null) writeFragment();
  });

  const examples = byId('examples');
  for (const example of EXAMPLES) {
    examples.append(
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            title: example.description,
            onclick: () => {
              state = example.state();
              fillFields();
              changed();
            },
          },
          example.name,
        ),
      ),
    );
  }
  document.body.append(h('datalist', { id: 'methods' }, METHODS.map((m) => h('option', { value: m }))));
}

bind();
fillFields();
document.documentElement.dataset.settled = 'false';
startPolicy().then((loaded) => {
  policy = loaded;
  refresh();
});
