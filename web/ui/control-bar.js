// The room's controls in one bar. On a phone it is fixed to the bottom of the screen, so "I need
// help" and the turn controls are never scrolled away; what is used less ("My safety plan",
// "Messages", "Leave") sits behind "More" there, and in the bar itself on wider screens. Above the
// bar, one line of words: whose turn it is and how to finish, why a button waits, help's answer.

import { h } from './dom.js';
import { setIconLabel } from './icons.js';

export class ControlBar {
  /** `primary`: always in the bar; `more`: behind "More" on a phone; `notes`: the line above; `panels`: above that (Devices). */
  /**
   * @param {{primary: (HTMLElement | null | undefined)[], more: (HTMLElement | null | undefined)[],
   *   notes?: HTMLElement | null, panels?: HTMLElement[]}} parts
   */
  constructor({ primary, more, notes = null, panels = [] }) {
    this.moreButton = h('button', {
      type: 'button', className: 'more-button', 'data-testid': 'more-button',
      'aria-expanded': 'false', 'aria-controls': 'more-panel', 'on:click': () => this.toggle(),
    });
    setIconLabel(this.moreButton, 'more', 'More');
    this.panel = h('div', { className: 'more-panel', id: 'more-panel', 'data-testid': 'more-panel' }, more);
    this.panel.addEventListener('click', (e) => { if (/** @type {Element} */ (e.target).closest('button')) this.toggle(false); });
    this.bar = h('div', { className: 'controls', role: 'group', 'aria-label': 'Controls', 'data-testid': 'control-bar' },
      primary, this.moreButton, this.panel);
    this.el = h('div', { className: 'dock' }, panels, notes, this.bar);
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.isOpen()) {
        this.toggle(false);
        this.moreButton.focus();
      }
    });
  }

  isOpen() {
    return this.moreButton.getAttribute('aria-expanded') === 'true';
  }

  /**
   * Open or close "More"; opening moves focus to its first item.
   * @param {boolean} [open]
   */
  toggle(open = !this.isOpen()) {
    this.moreButton.setAttribute('aria-expanded', String(open));
    this.panel.classList.toggle('open', open);
    if (open) /** @type {HTMLElement | null} */ (this.panel.querySelector('button:not([hidden])'))?.focus();
  }

  /**
   * A dot on "More" while something behind it wants attention (an unread message).
   * @param {boolean} on
   * @param {string} label what wants attention, in words
   */
  flag(on, label) {
    this.moreButton.classList.toggle('flagged', on);
    setIconLabel(this.moreButton, 'more', on ? `More (${label})` : 'More');
  }
}
