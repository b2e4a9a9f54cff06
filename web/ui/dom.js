// Tiny DOM helpers: build elements, keep keyed lists in place (so focus and <video> survive updates).

/** Build an element. attrs: props like className/textContent, `on:click` handlers, others as attributes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on:')) el.addEventListener(key.slice(3), value);
    else if (key in el && !key.includes('-') && key !== 'list') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** Set text only when it changed (avoids needless screen-reader chatter and layout). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export function show(el, visible) {
  el.hidden = !visible;
}

/**
 * Make parent's children match items, keyed by keyOf(item): existing nodes are reused and updated,
 * new ones created, stale ones removed. Order follows items; of items sharing a key (someone
 * briefly both waiting and admitted between two events), the first wins.
 */
export function reconcile(parent, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of [...parent.children]) {
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
    if (node !== cursor) parent.insertBefore(node, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const stale of existing.values()) stale.remove();
}

let announcer = null;
/** Say something to screen-reader users without moving focus. */
export function announce(text) {
  announcer ??= document.getElementById('announcer');
  if (!announcer) return;
  announcer.textContent = '';
  setTimeout(() => { announcer.textContent = text; }, 50);
}
