// Tiny DOM helpers: build elements, keep keyed lists in place (so focus and <video> survive updates).

/**
 * Build an element. attrs: props like className/textContent, `on:click` handlers, others as attributes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node | string | null | undefined | false | (Node | string | null | undefined | false)[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on:')) el.addEventListener(key.slice(3), value);
    else if (key in el && !key.includes('-') && key !== 'list') Reflect.set(el, key, value); // a property (className, hidden, value…)
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/**
 * An element index.html always has, by id: a missing one is a broken page, said at once.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el;
}

/**
 * The element of a row or panel that `selector` finds: one its builder always puts there, so a
 * missing one is a broken row, said at once (as `byId` does for the page).
 * @template {keyof HTMLElementTagNameMap} K
 * @overload
 * @param {ParentNode} root
 * @param {K} selector a tag name
 * @returns {HTMLElementTagNameMap[K]}
 */
/**
 * @overload
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {HTMLElement}
 */
/**
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {Element}
 */
export function within(root, selector) {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`${selector} is missing from its row`);
  return el;
}

/**
 * Set text only when it changed (avoids needless screen-reader chatter and layout).
 * @param {Node} el
 * @param {string} text
 */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * @param {HTMLElement} el
 * @param {boolean} visible
 */
export function show(el, visible) {
  el.hidden = !visible;
}

const FOCUSABLE = 'button:not([disabled]):not([hidden]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

/**
 * Focus that was in a removed row goes to the row now in its place (or the one before), else to the
 * nearest heading of the list's section: a keyboard user who admitted or removed someone stays
 * where they were instead of being sent back to the top of the page.
 * @param {Element} parent
 * @param {number} index where the row that held focus was
 */
function refocus(parent, index) {
  const row = parent.children[index] ?? parent.children[index - 1];
  const target = row?.matches?.(FOCUSABLE) ? row : row?.querySelector(FOCUSABLE);
  if (target instanceof HTMLElement) return target.focus();
  /** @type {HTMLElement | null | undefined} */
  let heading = parent.closest('section')?.querySelector('h2, h3');
  if (!heading?.getClientRects().length) heading = document.querySelector('main h2'); // the section went too
  if (!heading) return undefined;
  if (!heading.hasAttribute('tabindex')) heading.tabIndex = -1;
  return heading.focus();
}

/**
 * Make parent's children match items, keyed by keyOf(item): existing nodes are reused and updated,
 * new ones created, stale ones removed. Order follows items; of items sharing a key (someone
 * briefly both waiting and admitted between two events), the first wins. A removed row that held
 * focus hands it on (see refocus).
 * @template T
 * @template {HTMLElement} E
 * @param {HTMLElement} parent
 * @param {readonly T[]} items
 * @param {(item: T) => string | number} keyOf
 * @param {(item: T) => E} create
 * @param {(node: E, item: T) => void} update
 */
export function reconcile(parent, items, keyOf, create, update) {
  /** @type {Map<string | undefined, E>} */
  const existing = new Map();
  for (const child of /** @type {E[]} */ ([...parent.children])) {
    if (child.dataset.key !== undefined && existing.has(child.dataset.key)) child.remove();
    else existing.set(child.dataset.key, child);
  }
  const placed = new Set();
  let cursor = parent.firstElementChild;
  for (const item of items) {
    const key = String(keyOf(item));
    if (placed.has(key)) continue;
    placed.add(key);
    let node = existing.get(key);
    if (node) existing.delete(key);
    else {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    if (node !== cursor) {
      const had = node.contains(document.activeElement) ? /** @type {HTMLElement} */ (document.activeElement) : null;
      parent.insertBefore(node, cursor); // moving a node blurs what it holds: give the focus back
      if (had && document.activeElement !== had) had.focus();
    } else {
      cursor = cursor.nextElementSibling;
    }
  }
  let lostFocusAt = -1;
  for (const stale of existing.values()) {
    if (stale.contains(document.activeElement)) lostFocusAt = [...parent.children].indexOf(stale);
    stale.remove();
  }
  if (lostFocusAt >= 0) refocus(parent, lostFocusAt);
}

/**
 * A button that cannot be used now stays in the tab order and says why: `whyId` names the visible
 * words that explain it (aria-describedby), and pressing it anyway shows them as a notice, since a
 * touch screen shows no tooltip. Click handlers check `unavailable(button)` first.
 * @param {Element} button
 * @param {boolean} available
 * @param {string} whyId
 */
export function setAvailable(button, available, whyId) {
  if (available) {
    button.removeAttribute('aria-disabled');
    button.removeAttribute('aria-describedby');
  } else {
    button.setAttribute('aria-disabled', 'true');
    button.setAttribute('aria-describedby', whyId);
  }
}

/** @param {Element} button */
export function unavailable(button) {
  return button.getAttribute('aria-disabled') === 'true';
}

/** @type {HTMLElement | null} */
let announcer = null;
/** @type {string[]} */
let pending = [];
/**
 * Say something to screen-reader users without moving focus (the polite live region). What is said
 * within the same moment (a floor change and a nod) is said together, once, instead of the last
 * overwriting the others.
 * @param {string} text
 */
export function announce(text) {
  announcer ??= document.getElementById('announcer');
  if (!announcer || !text) return;
  if (!pending.includes(text)) pending.push(text);
  if (pending.length > 1) return;
  const region = announcer;
  region.textContent = '';
  setTimeout(() => {
    region.textContent = pending.map((t) => (/[.!?]$/.test(t) ? t : `${t}.`)).join(' ');
    pending = [];
  }, 50);
}
