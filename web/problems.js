// Shows a `limitTo` or `ip` text line by line, each problem beside its line,
// and marks the field invalid for assistive technology.

import { h, patchChildren } from './dom.js';

/**
 * @param {HTMLElement} list   the `<ol>` under the field
 * @param {HTMLElement} field  the textarea (gets `aria-invalid`)
 * @param {string[]} pieces    the text's lines as the policy numbers them
 * @param {{line:number,message:string}[]} problems from the policy
 * @param {string} emptyText   what an empty text means
 */
export function renderProblems(list, field, pieces, problems, emptyText) {
  const byLine = new Map();
  for (const problem of problems) {
    if (!byLine.has(problem.line)) byLine.set(problem.line, []);
    byLine.get(problem.line).push(problem.message);
  }
  const items = [];
  const blankText = pieces.every((piece) => piece === '');
  if (blankText && problems.length === 0) {
    items.push({ empty: emptyText });
  } else {
    pieces.forEach((piece, index) => {
      const line = index + 1;
      items.push({ line, piece, messages: byLine.get(line) ?? [] });
      byLine.delete(line);
    });
    // A problem the page could not place (its line numbering differs): still shown.
    for (const [line, messages] of byLine) items.push({ line, piece: null, messages });
  }
  patchChildren(list, items, (item) => JSON.stringify(item), (item) =>
    item.empty === undefined ? lineItem(item.line, item.piece, item.messages) : h('li', { class: 'empty' }, item.empty),
  );
  field.setAttribute('aria-invalid', problems.length ? 'true' : 'false');
  list.dataset.problems = String(problems.length);
}

function lineItem(line, piece, messages) {
  const state = messages.length ? 'error' : piece ? 'ok' : 'blank';
  const mark = { error: '✗', ok: '✓', blank: '·' }[state];
  const label = { error: 'has a problem', ok: 'valid', blank: 'blank, ignored' }[state];
  return h(
    'li',
    { class: `line ${state}`, dataset: { line: String(line) } },
    h('span', { class: 'mark', 'aria-hidden': 'true' }, mark),
    h('span', { class: 'number' }, `${line}`),
    h('code', { class: 'text' }, piece === null ? '' : piece || '(blank)'),
    h('span', { class: 'visually-hidden' }, `: ${label}`),
    messages.map((message) => h('p', { class: 'problem', dataset: { line: String(line) } }, message)),
  );
}
