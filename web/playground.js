// The restriction playground: a token's texts, the gateway's settings and test
// requests in; problems, decisions and per-line explanations out, on every keystroke.
//
// The state lives in the URL fragment (see state.js); editing replaces it in
// place, and a changed fragment (a pasted link, back/forward) is loaded.

import { startPolicy } from './loader.js';
import { byId, copyText, h, inputToMs, msToInput } from './dom.js';
import { defaultRequest, defaultState, decodeFragment, encodeFragment } from './state.js';
import { evaluate, ipPieces, limitToPieces } from './evaluate.js';
import { renderProblems } from './problems.js';
import { EXAMPLES } from './examples.js';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

let decide = null;
let state = decodeFragment(location.hash) ?? defaultState();

const fields = {
  limitTo: byId('limit-to'),
  ip: byId('ip'),
  user: byId('token-user'),
  validUntil: byId('valid-until'),
  scope: byId('scope'),
  publicBase: byId('public-base'),
};

/** Puts the state into the token and settings fields, and rebuilds the request cards. */
function fillFields() {
  fields.limitTo.value = state.token.limitTo;
  fields.ip.value = state.token.ip;
  fields.user.value = state.token.user ?? '';
  fields.validUntil.value = msToInput(state.token.validUntil);
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

/** After an edit: remember the state in the fragment and show its results. */
function changed() {
  history.replaceState(null, '', encodeFragment(state));
  render();
}

const mark = (value, yes, no) => (value ? h('span', { class: 'ok' }, '✓', h('span', { class: 'visually-hidden' }, ` ${yes}`)) : h('span', { class: 'error' }, '✗', h('span', { class: 'visually-hidden' }, ` ${no}`)));

function explainTable(explain) {
  if (explain.length === 0) {
    return h('p', { class: 'hint' }, 'The token has no restriction lines: every path in scope is allowed.');
  }
  return h(
    'table',
    { class: 'explain' },
    h('caption', {}, 'How each line fared'),
    h('thead', {}, h('tr', {}, ['Line', 'Method', 'URL', 'Conditions', 'Line matches'].map((name) => h('th', { scope: 'col' }, name)))),
    h(
      'tbody',
      {},
      explain.map((check) =>
        h(
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
        ),
      ),
    ),
  );
}

const REASONS = {
  'method-not-allowed': 'the method is not one REST APIs use (GET HEAD POST PUT PATCH DELETE OPTIONS, exact case)',
  expired: 'the token has expired',
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
  if (result.explain) parts.push(explainTable(result.explain));
  element.replaceChildren(...parts);
}

function render() {
  if (!decide) return;
  const result = evaluate(decide, state);
  renderProblems(byId('limit-to-lines'), fields.limitTo, limitToPieces(state.token.limitTo), result.limitToProblems, 'No restriction lines: the token reaches every path in scope.');
  renderProblems(byId('ip-lines'), fields.ip, ipPieces(state.token.ip), result.ipProblems, 'No IP rules: any client address.');
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
  document.documentElement.dataset.renderedHash = location.hash;
}

function loadFragment() {
  const loaded = decodeFragment(location.hash);
  if (loaded) {
    state = loaded;
    fillFields();
  }
  render();
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
startPolicy().then((loaded) => {
  decide = loaded;
  render();
});
