// The session's structure: the phase now, its rules (one click to make it one voice at a time), and
// "Next phase"; changing the whole agenda (each phase's rules and minutes, or a jump) is folded away,
// so its many controls come last for the keyboard and take no room until wanted.

import { h, reconcile, setText, within } from './dom.js';
import { clock, FLOOR_MODES, phaseLeft } from './format.js';

/** @typedef {import('../wire').PhaseIn['floor_mode']} FloorMode */

/**
 * The value of the <select> or <input> an event came from.
 * @param {Event} e
 */
const valueOf = (e) => /** @type {HTMLSelectElement | HTMLInputElement} */ (e.target).value;

/**
 * The floor mode a mode <select> was set to: its options are FLOOR_MODES' names.
 * @param {Event} e
 */
const modeOf = (e) => /** @type {FloorMode} */ (valueOf(e));

export class AgendaPanel {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.app = app;
    /** @type {readonly import('./changes.js').Part[]} what this panel shows: it updates when one of them changed */
    this.follows = ['agenda'];
    this.current = h('p', { 'data-testid': 'console-phase' });
    this.next = h('button', { type: 'button', className: 'primary', 'data-testid': 'phase-next', 'on:click': () => app.run('phase.next') }, 'Next phase');
    this.list = h('ol', { className: 'rows agenda', 'data-testid': 'agenda-list' });
    this.mode = h('select', { id: 'current-mode', 'data-testid': 'current-mode', 'on:change': (/** @type {Event} */ e) => this.edit(this.app.session?.phase?.index ?? 0, { floor_mode: modeOf(e) }) },
      Object.entries(FLOOR_MODES).map(([value, label]) => h('option', { value }, label)));
    this.editor = h('details', { className: 'agenda-edit', 'data-testid': 'agenda-edit' },
      h('summary', {}, 'Change the agenda'), this.list);
    this.el = h('section', { className: 'panel', 'aria-label': 'Agenda', 'data-testid': 'agenda-panel' },
      h('div', { className: 'panel-head' }, h('h3', {}, 'Agenda'), this.next), this.current,
      h('div', { className: 'agenda-now' }, h('label', { htmlFor: 'current-mode' }, 'Speaking now'), this.mode),
      this.editor);
  }

  update() {
    const s = this.app.session ?? /** @type {Partial<import('../wire').SessionStateOut>} */ ({});
    const agenda = s.agenda ?? [];
    this.tick();
    this.next.disabled = (s.phase?.index ?? 0) >= agenda.length - 1;
    // "Practice in pairs" starts its breakout when a phase is entered, not when the current phase's
    // mode is changed: the current phase offers it only while it is that phase's mode already.
    const pairs = /** @type {HTMLOptionElement | null} */ (this.mode.querySelector('option[value="pairs"]'));
    if (pairs) pairs.hidden = pairs.disabled = s.phase?.floor_mode !== 'pairs';
    if (document.activeElement !== this.mode && s.phase) this.mode.value = s.phase.floor_mode;
    reconcile(this.list, agenda.map((p, i) => ({ ...p, i })), (p) => p.i, (p) => this.#row(p.i), (li, p) => {
      const isCurrent = p.i === s.phase?.index;
      li.classList.toggle('current', isCurrent);
      li.dataset.index = String(p.i);
      if (isCurrent) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
      setText(within(li, '.who'), `${p.i + 1}. ${p.name}`);
      const select = within(li, 'select');
      if (document.activeElement !== select) select.value = p.floor_mode;
      const minutes = within(li, 'input');
      if (document.activeElement !== minutes) minutes.value = String(p.minutes);
      /** @type {HTMLButtonElement} */ (within(li, '.goto')).disabled = isCurrent;
    });
  }

  tick() {
    const s = this.app.session ?? /** @type {Partial<import('../wire').SessionStateOut>} */ ({});
    const left = phaseLeft(s);
    const time = left != null ? ` · ${clock(left)} left`
      : s.phase?.started_at == null ? ' · its clock starts when you let the first member in' : '';
    setText(this.current, s.phase ? `Now: ${s.phase.name} · ${FLOOR_MODES[s.phase.floor_mode] ?? s.phase.floor_mode}${time}` : '');
    this.current.classList.toggle('warn', left != null && left < 60);
  }

  /** @param {number} i the phase's index in the agenda */
  #row(i) {
    const modeId = `phase-mode-${i}`;
    const minutesId = `phase-minutes-${i}`;
    const select = h('select', { id: modeId, 'data-testid': 'phase-mode', 'on:change': (/** @type {Event} */ e) => this.edit(i, { floor_mode: modeOf(e) }) },
      Object.entries(FLOOR_MODES).map(([value, label]) => h('option', { value }, label)));
    const minutes = h('input', { id: minutesId, type: 'number', min: 1, max: 240, 'data-testid': 'phase-minutes',
      'on:change': (/** @type {Event} */ e) => this.edit(i, { minutes: Number(valueOf(e)) }) });
    return h('li', { className: 'row phase', 'data-testid': 'agenda-phase' },
      h('span', { className: 'who' }),
      h('label', { htmlFor: modeId, className: 'visually-hidden' }, 'Floor mode'), select,
      h('label', { htmlFor: minutesId, className: 'visually-hidden' }, 'Minutes'), minutes, h('span', { 'aria-hidden': 'true' }, 'min'),
      h('button', { type: 'button', className: 'goto', 'data-testid': 'phase-goto', 'on:click': () => this.app.run('phase.set', { index: i }) }, 'Go to'));
  }

  /**
   * agenda.set replaces the whole agenda, so send every phase with the one change applied.
   * @param {number} i
   * @param {Partial<import('../wire').PhaseIn>} change
   */
  edit(i, change) {
    const phases = (this.app.session?.agenda ?? []).map((p, j) => ({
      name: p.name, minutes: p.minutes, floor_mode: /** @type {FloorMode} */ (p.floor_mode), ...(j === i ? change : {}),
    }));
    this.app.run('agenda.set', { phases });
  }
}
