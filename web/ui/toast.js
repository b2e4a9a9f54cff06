// Short messages at the edge of the screen; errors are announced assertively.

import { h } from './dom.js';

/**
 * Show `text` for `ms` milliseconds; `kind` 'error' is said at once (role alert), others politely.
 * @param {string} text
 * @param {{kind?: 'info' | 'error', ms?: number}} [options]
 */
export function toast(text, { kind = 'info', ms = 6000 } = {}) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const item = h('div', {
    className: `toast toast-${kind}`,
    role: kind === 'error' ? 'alert' : 'status',
    'data-testid': `toast-${kind}`,
  }, text);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}
