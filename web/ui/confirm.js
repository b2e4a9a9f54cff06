// A modal question for irreversible actions (remove, end). Keyboard: Enter confirms, Escape cancels.

import { h } from './dom.js';

/**
 * `returnTo`: where focus goes when the dialog closes (default: what had focus, if it is still shown).
 * @param {string} question
 * @param {string} confirmLabel
 * @param {{returnTo?: HTMLElement | null}} [options]
 * @returns {Promise<boolean>}
 */
export function confirmAction(question, confirmLabel, { returnTo = /** @type {HTMLElement | null} */ (document.activeElement) } = {}) {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'submit', value: 'yes', className: 'danger', 'data-testid': 'confirm-yes' }, confirmLabel);
    const no = h('button', { type: 'submit', value: 'no', 'data-testid': 'confirm-no' }, 'Cancel');
    const dialog = h('dialog', { className: 'confirm', 'aria-label': confirmLabel },
      h('form', { method: 'dialog' }, h('p', {}, question), h('div', { className: 'row' }, no, yes)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'yes');
      dialog.remove();
      if (returnTo?.isConnected && returnTo.getClientRects().length) returnTo.focus();
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}
