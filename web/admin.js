// The token admin page: sign in with an administrator's own token, list,
// search, create, rotate and revoke tokens, read the audit log, and get code snippets.
//
// The credential lives in this module's memory only (never in storage), and
// every call goes to the admin API at the seed's paths on this gateway.

import { startPolicy } from './loader.js';
import { latestOnly } from './policy-runner.js';
import { byId, copyText, h, inputToMs } from './dom.js';
import { limitToPieces, ipPieces } from './evaluate.js';
import { renderProblems } from './problems.js';
import { basicAuthorization, sampleRequest, snippets } from './snippets.js';

const API = '../rest/extender/1.0/tokenTools/';
/** The gateway's public URL: where this page is served, without /tokengate/. */
const PUBLIC_BASE = new URL('..', location.href).href.replace(/\/$/, '');

let credential = null;
let policy = null;
const tokens = { startAt: 0, total: 0, rows: [] };
const audit = { startAt: 0, total: 0, exact: true };
const AUDIT_PAGE = 25;
/** The longest grace period of a rotation the gateway accepts (a day). */
const MAX_GRACE_MINUTES = 1440;

class ApiError extends Error {
  constructor(status, body) {
    const messages = Array.isArray(body?.errors) ? body.errors : [body?.message ?? `HTTP ${status}`];
    super(messages.join('\n'));
    this.status = status;
    this.messages = messages;
  }
}

/** Calls the admin API as the signed-in administrator. */
async function api(method, name, { query, body } = {}) {
  const url = new URL(API + name, location.href);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, String(value));
  }
  const response = await fetch(url, {
    method,
    // 'omit': a refused credential must not make the browser prompt for another.
    credentials: 'omit',
    cache: 'no-store',
    headers: {
      Authorization: basicAuthorization(credential.user, credential.token),
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json().catch(() => null);
  if (!response.ok || payload?.status === 'error') throw new ApiError(response.status, payload);
  return payload;
}

function explainFailure(error) {
  if (error.status === 401) return 'The gateway refused the credential: check the user name and token (expired or revoked tokens are refused too).';
  if (error.status === 403) return 'This token may not use the admin API: it must be bound to a user listed as an administrator, and its restrictions must allow the tokenTools paths.';
  if (error.status === 429) return 'Too many requests with this token; wait a moment.';
  return error.message;
}

/** Epoch ms as `2024-05-01 12:34` (UTC, as the column headers say); `none` for none. */
function when(ms, none = 'never') {
  if (ms === null || ms === undefined || ms === 0) return none;
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

// Sign in and out

async function signIn(event) {
  event.preventDefault();
  const error = byId('signin-error');
  error.hidden = true;
  credential = { user: byId('admin-user').value.trim(), token: byId('admin-token').value.trim() };
  try {
    await loadTokens(0);
  } catch (failure) {
    credential = null;
    error.textContent = explainFailure(failure);
    error.hidden = false;
    return;
  }
  byId('admin-token').value = '';
  byId('signed-in-user').textContent = credential.user;
  byId('signin-section').hidden = true;
  byId('workspace').hidden = false;
  document.documentElement.dataset.signedIn = 'true';
  byId('tokens-heading').focus();
  loadAudit(0).catch(showAuditError);
}

function signOut() {
  credential = null;
  tokens.rows = [];
  byId('tokens-body').replaceChildren();
  byId('audit-body').replaceChildren();
  byId('created').hidden = true;
  byId('created-token').value = '';
  created = null;
  byId('snippets-section').hidden = true;
  byId('workspace').hidden = true;
  byId('signin-section').hidden = false;
  delete document.documentElement.dataset.signedIn;
  byId('admin-token').focus();
}

// Tokens

async function loadTokens(startAt) {
  const size = Number(byId('page-size').value);
  const answer = await api('GET', 'get', { query: { startAt, maxResults: size } });
  tokens.rows = answer.tokens ?? [];
  tokens.startAt = answer.startAt ?? startAt;
  tokens.total = answer.total ?? tokens.rows.length;
  renderTokens();
}

function matches(row, search) {
  if (!search) return true;
  const haystack = [row.id, row.label, row.user, row.token, row.hint, row.limitTo, row.ip, row.createdBy, row.rotatedFrom, row.rotatedTo]
    .filter((v) => v !== null && v !== undefined)
    .join('\n')
    .toLowerCase();
  return search
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => haystack.includes(word));
}

function restrictionCell(row) {
  const lines = (row.limitTo ?? '').split(/<br *\/?>|\n/i).filter((line) => line.trim() !== '');
  const parts = [];
  if (lines.length) parts.push(h('ul', { class: 'conditions' }, lines.map((line) => h('li', {}, h('code', {}, line)))));
  else parts.push(h('span', { class: 'muted' }, 'any path'));
  if (row.ip) parts.push(h('p', {}, 'IP ', h('code', {}, row.ip)));
  return h('td', {}, parts);
}

/** The label, the id, and where the token stands in a rotation. */
function labelCell(row) {
  const notes = [];
  if (row.rotatedTo) {
    // Rotated tokens stay listed (and counted in the audit log) after their grace period.
    const ended = row.retireAt !== null && row.retireAt !== undefined && row.retireAt <= Date.now();
    const end = `${ended ? 'ended' : 'ends'} ${when(row.retireAt, 'now')}`;
    notes.push(h('span', { class: 'badge rotated', dataset: { rotatedTo: row.rotatedTo } }, `rotated → ${row.rotatedTo}, ${end}`));
  }
  if (row.rotatedFrom) notes.push(h('small', { class: 'muted mono' }, `replaces ${row.rotatedFrom}`));
  return h('td', {}, row.label, h('br'), h('small', { class: 'muted mono' }, `id ${row.id}`), notes.map((note) => [h('br'), note]));
}

function validUntilCell(row) {
  const soon = row.expiresSoon ? [h('br'), h('span', { class: 'badge expires-soon' }, 'expires soon')] : null;
  const from = row.validFrom ? [h('br'), h('small', { class: 'muted valid-from' }, `valid from ${when(row.validFrom)}`)] : null;
  return h('td', { class: 'date' }, when(row.validUntil), soon, from);
}

function usesLeftCell(row) {
  const left = row.remainingUses;
  if (left === null || left === undefined) {
    return h('td', { class: 'uses-left', dataset: { remaining: '' } }, h('span', { class: 'muted', 'aria-hidden': 'true' }, '∞'), h('span', { class: 'visually-hidden' }, 'unlimited'));
  }
  return h('td', { class: 'uses-left', dataset: { remaining: String(left) } }, String(left), left === 0 ? [h('br'), h('span', { class: 'badge deny' }, 'used up')] : null);
}

/** The last use, and the client addresses seen lately when there were others. */
function lastUsedCell(row) {
  const seen = Array.isArray(row.lastIps) ? row.lastIps : [];
  const others = seen.some((entry) => entry.ip !== row.lastIp);
  const list = others
    ? h(
        'details',
        { class: 'ips' },
        h('summary', {}, `${seen.length} recent addresses`),
        h('ul', {}, seen.map((entry) => h('li', {}, h('code', {}, entry.ip), ' ', h('small', { class: 'muted' }, when(entry.lastSeen, '—'))))),
      )
    : null;
  return h('td', { class: 'date' }, when(row.lastUsed, 'not yet'), row.lastIp ? [h('br'), h('small', { class: 'muted' }, `from ${row.lastIp}`)] : null, list);
}

function renderTokens() {
  const search = byId('token-search').value.trim();
  const shown = tokens.rows.filter((row) => matches(row, search));
  const body = byId('tokens-body');
  body.replaceChildren(
    ...shown.map((row) =>
      h(
        'tr',
        { dataset: { id: String(row.id) } },
        labelCell(row),
        h('td', {}, row.user ? row.user : h('span', { class: 'muted' }, 'any user')),
        h('td', {}, h('code', {}, row.hint ?? row.token ?? '')),
        restrictionCell(row),
        validUntilCell(row),
        h('td', { class: 'date' }, when(row.dateCreated, '—'), row.createdBy ? [h('br'), h('small', { class: 'muted' }, `by ${row.createdBy}`)] : null),
        h('td', {}, String(row.counter ?? 0)),
        usesLeftCell(row),
        lastUsedCell(row),
        h(
          'td',
          { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', 'aria-label': `Code snippets for ${row.label}`, onclick: () => showSnippets(row, null) }, 'Snippets'),
          // A rotated token has its successor already; rotate that one instead.
          row.rotatedTo ? null : h('button', { type: 'button', class: 'secondary', 'aria-label': `Rotate ${row.label}`, onclick: () => confirmRotate(row) }, 'Rotate'),
          h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${row.label}`, onclick: () => confirmRevoke(row) }, 'Revoke'),
          h('button', { type: 'button', class: 'secondary', 'aria-label': `Audit of ${row.label}`, onclick: () => auditOf(row) }, 'Audit'),
        ),
      ),
    ),
  );
  if (shown.length === 0) {
    body.append(h('tr', {}, h('td', { colspan: '10', class: 'muted' }, tokens.rows.length ? 'No token on this page matches the search.' : 'No tokens yet.')));
  }
  const first = tokens.rows.length ? tokens.startAt + 1 : 0;
  const last = tokens.startAt + tokens.rows.length;
  const filtered = search ? ` (${shown.length} match the search)` : '';
  byId('tokens-range').textContent = `Tokens ${first}–${last} of ${tokens.total}${filtered}`;
  byId('tokens-prev').disabled = tokens.startAt === 0;
  byId('tokens-next').disabled = last >= tokens.total;
}

async function pageTokens(direction) {
  const size = Number(byId('page-size').value);
  try {
    await loadTokens(Math.max(0, tokens.startAt + direction * size));
  } catch (error) {
    showTokensError(error);
  }
}

function showTokensError(error) {
  byId('tokens-range').textContent = explainFailure(error);
}

// Revoke

function confirmRevoke(row) {
  const dialog = byId('revoke-dialog');
  byId('revoke-text').replaceChildren('Token ', h('strong', {}, row.label), ` (id ${row.id}`, row.user ? `, user ${row.user}` : '', ').');
  dialog.returnValue = '';
  dialog.onclose = async () => {
    if (dialog.returnValue !== 'revoke') return;
    try {
      await api('DELETE', 'delete', { body: { id: row.id } });
      await loadTokens(tokens.startAt);
      byId('tokens-range').textContent += ` Revoked ${row.label}.`;
    } catch (error) {
      showTokensError(error);
    }
  };
  dialog.showModal();
}

// Rotate

/** The row the rotate dialog is open for. */
let rotating = null;

function confirmRotate(row) {
  rotating = row;
  byId('rotate-text').replaceChildren('Token ', h('strong', {}, row.label), ` (id ${row.id}`, row.user ? `, user ${row.user}` : '', ').');
  byId('rotate-grace').value = '0';
  byId('rotate-grace').setAttribute('aria-invalid', 'false');
  byId('rotate-error').hidden = true;
  byId('rotate-dialog').showModal();
}

async function rotateToken(event) {
  // The dialog stays open until the gateway answers, to show why it refused.
  event.preventDefault();
  const row = rotating;
  if (!row) return;
  const field = byId('rotate-grace');
  const text = field.value.trim();
  const grace = text === '' ? 0 : Number(text);
  const valid = !field.validity.badInput && Number.isInteger(grace) && grace >= 0 && grace <= MAX_GRACE_MINUTES;
  field.setAttribute('aria-invalid', String(!valid));
  if (!valid) return showRotateError([`grace minutes must be a whole number from 0 to ${MAX_GRACE_MINUTES}`]);
  byId('rotate-confirm').disabled = true;
  let answer;
  try {
    answer = await api('POST', 'rotate', { body: { id: row.id, graceMinutes: grace } });
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 404) showRotateError([`no token has the id ${row.id} any more: reload the list`]);
    else showRotateError(failure instanceof ApiError && failure.status === 400 ? failure.messages : [explainFailure(failure)]);
    return;
  } finally {
    byId('rotate-confirm').disabled = false;
  }
  byId('rotate-dialog').close('rotate');
  const old = `The old value (id ${answer.rotatedFrom ?? row.id})`;
  const token = { value: answer.token, id: answer.id, label: row.label, user: row.user || null, limitTo: row.limitTo ?? '' };
  showNewValue(
    token,
    'Token rotated: copy the new value now',
    grace > 0 ? `${old} keeps working until ${when(answer.retireAt, 'now')} UTC, then is refused.` : `${old} is refused from now on.`,
  );
  showSnippets(token, token.value, false);
  try {
    await loadTokens(tokens.startAt);
    byId('tokens-range').textContent += ` Rotated ${row.label}: new id ${answer.id}.`;
  } catch (failure) {
    showTokensError(failure);
  }
}

function showRotateError(messages) {
  const error = byId('rotate-error');
  error.replaceChildren(h('p', {}, 'The token was not rotated:'), h('ul', {}, messages.map((m) => h('li', {}, m))));
  error.hidden = false;
}

// Create

/** Shows the problems of the new token's texts as typed (the newest answer only). */
const validateNew = latestOnly(async () => {
  if (!policy) return;
  const limitTo = byId('new-limit-to').value;
  const ip = byId('new-ip').value;
  const problems = await policy.validate(limitTo, ip);
  renderProblems(byId('new-limit-to-lines'), byId('new-limit-to'), limitToPieces(limitTo), problems.limitTo, 'No restriction lines: any path in scope.');
  renderProblems(byId('new-ip-lines'), byId('new-ip'), ipPieces(ip), problems.ip, 'Any client address.');
});

/** The token whose value is on show (made or rotated just now), for its snippets. */
let created = null;

/** Shows a token's value the one time the gateway tells it. */
function showNewValue(token, heading, detail) {
  created = token;
  byId('created-heading').textContent = heading;
  byId('created-detail').textContent = detail ?? '';
  byId('created-detail').hidden = !detail;
  byId('created-token').value = token.value;
  byId('copy-created-status').textContent = '';
  byId('created').hidden = false;
  byId('created').focus();
}

async function createToken(event) {
  event.preventDefault();
  const error = byId('create-error');
  error.hidden = true;
  const label = byId('new-label').value.trim();
  const daysField = byId('new-days');
  const days = daysField.value.trim();
  const usesField = byId('new-uses');
  const uses = usesField.value.trim();
  const validFromField = byId('new-valid-from');
  const validFrom = inputToMs(validFromField.value);
  const request = {
    label,
    userName: byId('new-user').value.trim() || undefined,
    limitTo: byId('new-limit-to').value || undefined,
    ip: byId('new-ip').value.trim() || undefined,
    daysUntilExpiry: days === '' ? 0 : Number(days),
    token: byId('new-value').value.trim() || undefined,
    // Absent: unlimited.
    remainingUses: uses === '' ? undefined : Number(uses),
    // A datetime-local value, read as UTC (as the playground reads its fields).
    validFrom: validFrom ?? undefined,
  };
  const local = [];
  if (!label) local.push('label is required');
  // A number field reads as empty when what was typed is no number: that must not mean unlimited.
  if (daysField.validity.badInput) local.push('days until expiry must be a whole number (or empty: never)');
  if (validFromField.validity.badInput || (validFromField.value !== '' && validFrom === null)) {
    local.push('valid from must be a date and time (or empty: at once)');
  }
  if (usesField.validity.badInput || (uses !== '' && !(Number.isInteger(request.remainingUses) && request.remainingUses >= 0))) {
    local.push('uses allowed must be a whole number from 0 up (or empty: unlimited)');
  }
  if (policy) {
    const problems = await policy.validate(byId('new-limit-to').value, byId('new-ip').value);
    local.push(...problems.limitTo.map((p) => `limitTo ${p.message}`));
    local.push(...problems.ip.map((p) => `ip ${p.message}`));
  }
  if (local.length) return showCreateError(local);
  byId('create-button').disabled = true;
  try {
    const answer = await api('POST', 'set', { body: request });
    showNewValue({ value: answer.token, id: answer.id, label, user: request.userName ?? null, limitTo: request.limitTo ?? '' }, 'Token created: copy it now');
    byId('create-form').reset();
    validateNew();
    await loadTokens(0);
    showSnippets({ label, user: created.user, limitTo: created.limitTo }, created.value, false);
  } catch (failure) {
    showCreateError(failure instanceof ApiError && failure.status === 400 ? failure.messages : [explainFailure(failure)]);
  } finally {
    byId('create-button').disabled = false;
  }
}

function showCreateError(messages) {
  const error = byId('create-error');
  error.replaceChildren(h('p', {}, 'The token was not created:'), h('ul', {}, messages.map((m) => h('li', {}, m))));
  error.hidden = false;
}

// Snippets

let snippetFor = null;

function showSnippets(row, value, focus = true) {
  const sample = sampleRequest(row.limitTo);
  snippetFor = { user: row.user || 'USER', token: value ?? 'TOKEN' };
  byId('snippets-heading').textContent = `Call the API with “${row.label}”`;
  byId('snippets-hint').textContent = [
    `The token replaces the password in Basic authentication, against ${PUBLIC_BASE}.`,
    value ? 'These snippets contain the new token: treat them as a password.' : 'Replace TOKEN with the token’s value (shown only when it was created).',
    row.user ? '' : 'The token is not bound to a user: any user name works, and the request runs as that user.',
  ]
    .filter(Boolean)
    .join(' ');
  byId('snippet-method').value = sample.method;
  byId('snippet-path').value = sample.path;
  renderSnippets();
  const section = byId('snippets-section');
  section.hidden = false;
  if (focus) section.focus();
}

function renderSnippets() {
  if (!snippetFor) return;
  const list = snippets({
    base: PUBLIC_BASE,
    path: byId('snippet-path').value || '/',
    method: byId('snippet-method').value || 'GET',
    user: snippetFor.user,
    token: snippetFor.token,
  });
  byId('snippets').replaceChildren(
    ...list.map((snippet) => {
      const code = h('code', {}, snippet.text);
      const status = h('span', { class: 'hint', role: 'status' });
      return h(
        'div',
        { class: 'snippet', dataset: { snippet: snippet.id } },
        h(
          'div',
          { class: 'snippet-head' },
          h('h3', {}, snippet.title),
          h('button', {
            type: 'button',
            class: 'secondary',
            'aria-label': `Copy the ${snippet.title} snippet`,
            onclick: async () => {
              status.textContent = (await copyText(snippet.text)) ? ' Copied.' : ' Select the text to copy it.';
            },
          }, 'Copy'),
        ),
        h('pre', {}, code),
        status,
      );
    }),
  );
}

// Audit

function auditOf(row) {
  byId('audit-token').value = row.id;
  byId('audit-user').value = '';
  loadAudit(0).catch(showAuditError);
  byId('audit-heading').scrollIntoView();
}

async function loadAudit(startAt) {
  const answer = await api('GET', 'audit', {
    query: {
      tokenId: byId('audit-token').value.trim(),
      user: byId('audit-user').value.trim(),
      from: inputToMs(byId('audit-from').value),
      to: inputToMs(byId('audit-to').value),
      decision: byId('audit-decision').value,
      startAt,
      maxResults: AUDIT_PAGE,
    },
  });
  const records = answer.records ?? answer.entries ?? [];
  audit.startAt = answer.startAt ?? startAt;
  audit.total = answer.total ?? records.length;
  // The gateway stops counting past a cap: "more than N", and paging goes on.
  audit.exact = answer.totalExact ?? true;
  byId('audit-body').replaceChildren(
    ...records.map((record) =>
      h(
        'tr',
        { dataset: { decision: record.decision } },
        h('td', { class: 'date' }, when(record.time, '—')),
        h('td', {}, h('span', { class: `badge ${record.decision === 'allow' ? 'allow' : 'deny'}` }, record.decision)),
        h('td', {}, h('code', {}, `${record.method} ${record.url}`)),
        h('td', {}, record.user ?? '—'),
        h('td', { class: 'mono' }, record.tokenId ?? '—'),
        h('td', {}, record.clientIp ?? ''),
        h(
          'td',
          {},
          record.reason ?? (record.line ? `line ${record.line}` : record.action ?? ''),
          record.lineText ? [' ', h('code', {}, record.lineText)] : null,
          record.detail ? [h('br'), h('small', { class: 'muted' }, record.detail)] : null,
        ),
        h('td', {}, record.upstreamStatus ?? record.status ?? ''),
      ),
    ),
  );
  if (records.length === 0) byId('audit-body').append(h('tr', {}, h('td', { colspan: '8', class: 'muted' }, 'No records match.')));
  const last = audit.startAt + records.length;
  const total = audit.exact ? `${audit.total}` : `more than ${audit.total - 1}`;
  byId('audit-range').textContent = `Records ${records.length ? audit.startAt + 1 : 0}–${last} of ${total}`;
  byId('audit-prev').disabled = audit.startAt === 0;
  byId('audit-next').disabled = audit.exact ? last >= audit.total : records.length < AUDIT_PAGE;
}

function showAuditError(error) {
  byId('audit-range').textContent = explainFailure(error);
}

// Wiring

byId('signin-form').addEventListener('submit', signIn);
byId('sign-out').addEventListener('click', signOut);
byId('token-search').addEventListener('input', renderTokens);
byId('tokens-toolbar').addEventListener('submit', (event) => event.preventDefault());
byId('page-size').addEventListener('change', () => loadTokens(0).catch(showTokensError));
byId('reload-tokens').addEventListener('click', () => loadTokens(tokens.startAt).catch(showTokensError));
byId('tokens-prev').addEventListener('click', () => pageTokens(-1));
byId('tokens-next').addEventListener('click', () => pageTokens(1));
byId('create-form').addEventListener('submit', createToken);
byId('rotate-form').addEventListener('submit', rotateToken);
byId('rotate-cancel').addEventListener('click', () => byId('rotate-dialog').close('cancel'));
byId('rotate-dialog').addEventListener('close', () => (rotating = null));
byId('new-limit-to').addEventListener('input', validateNew);
byId('new-ip').addEventListener('input', validateNew);
byId('copy-created').addEventListener('click', async () => {
  const copied = await copyText(byId('created-token').value, byId('created-token'));
  byId('copy-created-status').textContent = copied ? 'Copied.' : 'Select the token and copy it.';
});
byId('created-snippets').addEventListener('click', () => {
  if (created) showSnippets({ label: created.label, user: created.user, limitTo: created.limitTo }, created.value);
});
byId('snippet-method').addEventListener('input', renderSnippets);
byId('snippet-path').addEventListener('input', renderSnippets);
byId('audit-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadAudit(0).catch(showAuditError);
});
byId('audit-prev').addEventListener('click', () => loadAudit(Math.max(0, audit.startAt - AUDIT_PAGE)).catch(showAuditError));
byId('audit-next').addEventListener('click', () => loadAudit(audit.startAt + AUDIT_PAGE).catch(showAuditError));

startPolicy().then((loaded) => {
  policy = loaded;
  validateNew();
  document.documentElement.dataset.policyReady = 'true';
});
