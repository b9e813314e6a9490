// Builds DOM elements from plain values; text always goes in as text, never as HTML.

/**
 * `h('p', { class: 'x', dataset: { line: 1 } }, 'text', child)`.
 * Attributes that are `null`, `undefined` or `false` are left out.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'value' || name === 'checked') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

// What each element `patchChildren` built was built from.
const builtFrom = new WeakMap();

/**
 * Makes `parent`'s children the elements `build(item, index)` makes for `items`, keeping
 * each child whose `key(item, index)` (a string) is what it was built from. A list of 256
 * lines re-rendered as someone types then changes only the entries that changed, and the
 * browser lays out only those, instead of thousands of new elements per answer.
 */
export function patchChildren(parent, items, key, build) {
  items.forEach((item, index) => {
    const wanted = key(item, index);
    const current = parent.children[index];
    if (current && builtFrom.get(current) === wanted) return;
    const element = build(item, index);
    builtFrom.set(element, wanted);
    if (current) current.replaceWith(element);
    else parent.append(element);
  });
  while (parent.children.length > items.length) parent.lastElementChild.remove();
}

/** Shorthand for `document.getElementById` that fails loudly on a typo. */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element;
}

/** Epoch ms as the value of a `datetime-local` input read as UTC. */
export function msToInput(ms) {
  if (ms === null || !Number.isFinite(ms)) return '';
  return new Date(ms).toISOString().slice(0, 23);
}

/** A `datetime-local` value read as UTC, as epoch ms; null when empty or invalid. */
export function inputToMs(value) {
  if (!value) return null;
  const ms = Date.parse(`${value}Z`);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Copies `text`; falls back to selecting a field's text where the clipboard API
 * is missing (plain http on another host). Returns whether it copied.
 */
export async function copyText(text, field) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (field && 'select' in field) {
      field.focus();
      field.select();
      return document.execCommand?.('copy') ?? false;
    }
    return false;
  }
}
