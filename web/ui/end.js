// The calm last screen: removed, ended, or a link that no longer works.

import { h } from './dom.js';

/** @type {Readonly<Record<string, {title: string, text: string}>>} */
const SCREENS = {
  left: {
    title: 'You have left the session',
    text: 'Your place is kept for a little while. You can come back now, or later with your link.',
  },
  removed: {
    title: 'You are no longer in this session',
    text: 'A facilitator has removed you from this session. If this feels wrong or you need support, '
      + 'please contact your care team.',
  },
  ended: {
    title: 'The session has ended',
    text: 'Thank you for being here today. Take a moment for yourself before you move on.',
  },
  denied: {
    title: 'You were not admitted this time',
    text: 'The facilitator did not admit you to this session. If you think this is a mistake, '
      + 'please contact your care team.',
  },
  invalid: {
    title: 'This link no longer works',
    text: 'Your invitation has expired or was withdrawn. Please ask your care team for a new link.',
  },
  refused: {
    title: 'We could not connect you',
    text: 'The session could not be reached. Please try again in a moment.',
  },
  replaced: {
    title: 'You joined from another tab or device',
    text: 'This tab has stepped back so that you are in the group only once; the other one has your place now. '
      + 'To take part from here instead, use this tab: the other one will step back.',
  },
  e2ee: {
    title: 'This browser cannot join this session',
    text: 'The audio and video of this session are end-to-end encrypted, so that nobody but the group can see '
      + 'or hear them, and this browser cannot encrypt them. Please open your link in a current version of '
      + 'Chrome, Edge, Firefox or Safari. This page waits here meanwhile.',
  },
  nolink: {
    title: 'This link is incomplete',
    text: 'Please open the full invitation link you were sent; it carries your personal key.',
  },
};

export class EndView {
  /**
   * `onTakeBack`: for `replaced`, connect this tab again in place of the other one.
   * @param {{kind: string, detail?: any, onTakeBack?: (() => void) | null}} options
   */
  constructor({ kind, detail, onTakeBack = null }) {
    this.screen = kind;
    const denied = kind === 'removed' && detail?.reason === 'denied';
    const s = SCREENS[denied ? 'denied' : kind] ?? SCREENS.refused;
    const reason = kind === 'removed' && !denied && detail?.reason && detail.reason !== 'removed' ? h('p', { 'data-testid': 'end-reason' }, `Reason given: ${detail.reason}`) : null;
    this.heading = h('h2', { tabIndex: -1 }, s.title);
    let back = null;
    if (kind === 'left') {
      back = h('button', { type: 'button', className: 'primary', 'data-testid': 'rejoin-button', 'on:click': () => location.reload() }, 'Rejoin the group');
    } else if (kind === 'replaced' && onTakeBack) {
      back = h('button', { type: 'button', className: 'primary', 'data-testid': 'take-back-button', 'on:click': onTakeBack }, 'Use this tab instead');
    }
    this.el = h('section', { className: 'end card', 'data-testid': `end-${kind}`, 'aria-labelledby': 'end-title' },
      this.heading, h('p', {}, s.text), reason, back);
    this.heading.id = 'end-title';
  }

  focus() { this.heading.focus(); }
  update() {}
}
