// A small actions menu (a disclosure: a button that opens a list of buttons). Keyboard: Enter or
// Space opens it and moves focus to the first action, Escape closes it and returns to the button;
// choosing an action, or clicking elsewhere, closes it.

import { h } from './dom.js';
import { setIconLabel } from './icons.js';

let count = 0;

export class ActionMenu {
  /**
   * `items`: buttons (each closes the menu when pressed); `label`: the menu button's accessible name.
   * @param {{label: string, testid: string, items: HTMLElement[]}} options
   */
  constructor({ label, testid, items }) {
    const id = `menu-${++count}`;
    this.button = h('button', {
      type: 'button', className: 'menu-button', 'data-testid': testid, 'aria-label': label,
      'aria-expanded': 'false', 'aria-controls': id, 'on:click': () => this.toggle(),
    });
    setIconLabel(this.button, 'more', '');
    this.list = h('div', { className: 'menu-list', id, hidden: true }, items);
    // After an action, focus returns to the menu's button, unless the action took it elsewhere (a dialog).
    this.list.addEventListener('click', (e) => {
      if (!/** @type {Element} */ (e.target).closest('button')) return;
      const returnFocus = this.list.contains(document.activeElement);
      this.toggle(false);
      if (returnFocus) this.button.focus();
    });
    this.el = h('div', { className: 'menu' }, this.button, this.list);
    this.el.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' || this.list.hidden) return;
      e.stopPropagation();
      this.toggle(false);
      this.button.focus();
    });
    /** @param {Event} e */
    this.onOutside = (e) => { if (!this.el.contains(/** @type {Node | null} */ (e.target))) this.toggle(false); };
  }

  /** @param {string} label */
  setLabel(label) {
    if (this.button.getAttribute('aria-label') !== label) this.button.setAttribute('aria-label', label);
  }

  /** @param {boolean} [open] */
  toggle(open = Boolean(this.list.hidden)) {
    this.list.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) {
      document.addEventListener('pointerdown', this.onOutside);
      /** @type {HTMLElement | null} */ (this.list.querySelector('button:not([hidden])'))?.focus();
    } else {
      document.removeEventListener('pointerdown', this.onOutside);
    }
  }
}
