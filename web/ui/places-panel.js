// The console's places: side rooms (a private word; "Take aside" is in each member's row) and
// breakouts (members shuffled into pairs or threes for a few minutes). While a breakout runs: its
// time left, each group with who is in it and who is visiting, "Listen" or "Join" to visit a group
// and "Leave group" to come back, moving a member to another group (a latecomer from the main room
// into one), one message to every group, and "End breakout". The timer ends it by itself on the
// server, as the session's other timers do.

import { confirmAction } from './confirm.js';
import { h, reconcile, setText, within } from './dom.js';
import { clock, listNames, secondsUntil } from './format.js';
import { placeKey } from './places.js';
import { FACILITATOR_ROLES } from './state.js';

const DEFAULT_MINUTES = 5;

/** @typedef {import('../wire').ParticipantOut} Participant */

export class PlacesPanel {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.app = app;
    /** @type {readonly import('./changes.js').Part[]} what this panel shows: it updates when one of them changed */
    this.follows = ['places', 'participants', 'session'];
    this.heading = h('h3', { id: 'places-heading' }, 'Side rooms and breakouts');
    this.sides = h('ul', { className: 'rows', 'data-testid': 'side-rooms' });
    // Not running: how to start one.
    this.size = h('select', { id: 'breakout-size', 'data-testid': 'breakout-size', 'on:change': () => this.update() },
      h('option', { value: '2' }, 'Pairs'), h('option', { value: '3' }, 'Threes'),
      h('option', { value: 'choose' }, 'Groups I choose'));
    // "Groups I choose": a group for each member, one labelled <select> each (keyboard and screen
    // reader friendly, where dragging is not); a member left in the main room stays there.
    this.assign = h('ul', { className: 'rows breakout-assign', 'data-testid': 'breakout-assign', 'aria-label': 'Choose each member\'s group', hidden: true });
    this.minutes = h('input', {
      type: 'number', id: 'breakout-minutes', 'data-testid': 'breakout-minutes', min: 0.5, max: 60, step: 0.5,
      value: DEFAULT_MINUTES, inputMode: 'decimal',
    });
    this.startHint = h('p', { className: 'muted', id: 'breakout-hint', 'data-testid': 'breakout-hint' });
    this.start = h('button', { type: 'button', className: 'primary', 'data-testid': 'breakout-start', 'aria-describedby': 'breakout-hint', 'on:click': () => this.startBreakout() }, 'Start breakout');
    this.setup = h('div', { className: 'breakout-setup' },
      h('div', { className: 'row' },
        h('label', { htmlFor: 'breakout-size' }, 'Groups of'), this.size,
        h('label', { htmlFor: 'breakout-minutes' }, 'Minutes'), this.minutes, this.start),
      this.assign, this.startHint);
    // Running: the timer, the groups, a message to all, the end.
    this.status = h('p', { 'data-testid': 'breakout-status' });
    this.groups = h('ul', { className: 'rows breakout-groups', 'data-testid': 'breakout-groups', 'aria-label': 'Breakout groups' });
    this.leave = h('button', { type: 'button', 'data-testid': 'breakout-leave', 'on:click': () => app.run('breakout.leave') }, 'Leave group: back to the main room');
    this.text = h('input', { type: 'text', id: 'broadcast-text', 'data-testid': 'broadcast-text', maxLength: 2000, autocomplete: 'off' });
    this.send = h('button', { type: 'submit', 'data-testid': 'broadcast-send' }, 'Send to all groups');
    this.broadcast = h('form', { className: 'row broadcast-form', 'on:submit': (/** @type {SubmitEvent} */ e) => { e.preventDefault(); this.sendBroadcast(); } },
      h('label', { htmlFor: 'broadcast-text' }, 'Message to all groups'), this.text, this.send);
    // Move a member: a latecomer into a group, or someone to another group or back to the main room.
    this.movePerson = h('select', { id: 'move-person', 'data-testid': 'move-person' });
    this.moveTo = h('select', { id: 'move-to', 'data-testid': 'move-to' });
    this.move = h('form', { className: 'row move-form', 'on:submit': (/** @type {SubmitEvent} */ e) => { e.preventDefault(); this.moveMember(); } },
      h('label', { htmlFor: 'move-person' }, 'Move'), this.movePerson,
      h('label', { htmlFor: 'move-to' }, 'to'), this.moveTo,
      h('button', { type: 'submit', 'data-testid': 'move-button' }, 'Move'));
    this.end = h('button', { type: 'button', className: 'danger', 'data-testid': 'breakout-end', 'on:click': () => this.endBreakout() }, 'End breakout: everyone back');
    this.running = h('div', { className: 'breakout-running', hidden: true },
      this.status, this.groups, h('div', { className: 'row' }, this.leave), this.move, this.broadcast,
      h('div', { className: 'row' }, this.end));
    this.el = h('section', { className: 'panel compact', 'aria-labelledby': 'places-heading', 'data-testid': 'places-panel' },
      this.heading, this.sides, this.setup, this.running);
  }

  me() {
    return this.app.participants.find((p) => p.id === this.app.you?.id);
  }

  update() {
    const { app } = this;
    const s = app.session ?? /** @type {Partial<import('../wire').SessionStateOut>} */ ({});
    const rooms = s.side_rooms ?? [];
    reconcile(this.sides, rooms, (r) => r.member, (r) => this.#sideRow(r), (li, r) => {
      const lead = r.lead === app.you?.id ? 'you' : app.nameOf(r.lead);
      setText(within(li, '.who'), `${app.nameOf(r.member)} is in a side room with ${lead}`);
      li.dataset.member = r.member;
      setText(within(li, 'button'), `Bring ${app.nameOf(r.member)} back`);
    });
    const b = s.breakout;
    this.setup.hidden = Boolean(b);
    this.running.hidden = !b;
    const members = this.#membersInMain();
    const inMain = members.length;
    const choosing = this.size.value === 'choose';
    this.assign.hidden = !choosing || Boolean(b);
    if (choosing && !b) this.#assignChoices(members);
    setText(this.startHint, inMain < 2 ? 'A breakout needs at least two members in the main room.'
      : choosing ? 'Give each member a group; anyone left in the main room stays there.'
        : `${inMain} members in the main room are shuffled into groups.`);
    const mine = placeKey(s, app.you?.id);
    this.leave.hidden = !mine.startsWith('group:');
    reconcile(this.groups, b?.groups ?? [], (g) => g.index, (g) => this.#groupRow(g), (li, g) => this.#fillGroup(li, g, mine));
    if (b) this.#moveChoices(b);
    this.tick();
  }

  tick() {
    const b = this.app.session?.breakout;
    if (!b) return;
    const left = secondsUntil(b.ends_at);
    setText(this.status, `${b.count} group${b.count === 1 ? '' : 's'} · ${clock(left ?? 0)} left${b.warned ? ' (they have been told: one minute)' : ''}`);
  }

  /**
   * Who can be moved (members not aside) and where to: each group, or the main room.
   * @param {import('../wire').BreakoutOut} b
   */
  #moveChoices(b) {
    const { app } = this;
    const movable = app.participants.filter((p) => p.status === 'admitted' && !FACILITATOR_ROLES.has(p.role)
      && !(p.place ?? '').startsWith('side:'));
    const where = (/** @type {Participant} */ p) => ((p.place ?? 'main') === 'main' ? 'main room' : `group ${Number(p.place?.slice(6)) + 1}`);
    fillOptions(this.movePerson, movable.map((p) => [p.id, `${p.name} (${where(p)})`]));
    fillOptions(this.moveTo, [...Array.from({ length: b.count }, (_, i) => [String(i), `Group ${i + 1}`]), ['main', 'Main room']]);
  }

  moveMember() {
    const id = this.movePerson.value;
    if (!id) return;
    const to = this.moveTo.value;
    this.app.run('breakout.move', { id, group: to === 'main' ? null : Number(to) });
  }

  /**
   * One row per member in the main room: their name and a select of groups (or "stays").
   * @param {Participant[]} members
   */
  #assignChoices(members) {
    const count = Math.max(1, Math.floor(members.length / 2));
    const options = [['', 'Stays in the main room'], ...Array.from({ length: count }, (_, i) => [String(i), `Group ${i + 1}`])];
    reconcile(this.assign, members, (p) => p.id, (p) => {
      const id = `assign-${p.id}`;
      const select = h('select', { id, 'data-testid': 'assign-group' });
      // Pairs in order to start with: the facilitator changes what needs changing.
      const index = members.indexOf(p);
      select.dataset.initial = String(Math.min(Math.floor(index / 2), count - 1));
      return h('li', { 'data-member': p.id }, h('label', { htmlFor: id }), select);
    }, (li, p) => {
      setText(within(li, 'label'), `Group for ${p.name}`);
      const select = within(li, 'select');
      fillOptions(select, options);
      if (select.dataset.initial !== undefined) {
        select.value = select.dataset.initial;
        delete select.dataset.initial;
      }
    });
  }

  /** The chosen groups, in group order, empty groups dropped; null (and said why) when unusable. */
  chosenGroups() {
    /** @type {Map<string, string[]>} group -> member ids */
    const groups = new Map();
    for (const li of this.assign.querySelectorAll('li')) {
      const value = /** @type {HTMLSelectElement} */ (li.querySelector('select')).value;
      if (value === '') continue;
      if (!groups.has(value)) groups.set(value, []);
      groups.get(value)?.push(/** @type {string} */ (li.dataset.member)); // each row has its member's id
    }
    const chosen = [...groups.entries()].sort(([a], [b]) => Number(a) - Number(b)).map(([, ids]) => ids);
    if (!chosen.length || chosen.some((g) => g.length < 2)) {
      this.app.dispatchEvent(new CustomEvent('error', { detail: 'Each group needs at least two members.' }));
      return null;
    }
    return chosen;
  }

  #membersInMain() {
    return this.app.participants.filter((p) => p.status === 'admitted' && !FACILITATOR_ROLES.has(p.role) && (p.place ?? 'main') === 'main');
  }

  /** @param {import('../wire').SideRoomOut} r */
  #sideRow(r) {
    return h('li', { className: 'row', 'data-testid': 'side-room' }, h('span', { className: 'who' }),
      h('button', { type: 'button', 'data-testid': 'side-end', 'on:click': () => this.app.run('side.end', { id: r.member }) }, 'Bring back'));
  }

  /** @param {import('../wire').GroupOut} g */
  #groupRow(g) {
    const visit = (/** @type {'listen' | 'speak'} */ mode) => this.app.run('breakout.visit', { group: g.index, mode });
    return h('li', { className: 'row breakout-group', 'data-testid': 'breakout-group' },
      h('span', { className: 'who' }),
      h('span', { className: 'actions' },
        h('button', { type: 'button', 'data-testid': 'visit-listen', 'on:click': () => visit('listen') }, 'Listen'),
        h('button', { type: 'button', 'data-testid': 'visit-speak', 'on:click': () => visit('speak') }, 'Join')));
  }

  /**
   * @param {HTMLLIElement} li
   * @param {import('../wire').GroupOut} g
   * @param {string} mine where this console is (`placeKey`)
   */
  #fillGroup(li, g, mine) {
    const { app } = this;
    const here = mine === `group:${g.index}`;
    const visitors = g.visitors.map((id) => {
      const p = app.participant(id);
      return `${id === app.you?.id ? 'you' : app.nameOf(id)}${p?.listen_only ? ' listening' : ''}`;
    });
    setText(within(li, '.who'), `Group ${g.index + 1}: ${listNames(g.members.map((id) => app.nameOf(id)))}`
      + `${visitors.length ? ` (with ${listNames(visitors)})` : ''}`);
    li.dataset.group = String(g.index);
    li.dataset.members = g.members.join(' ');
    li.classList.toggle('visiting', here);
    const me = this.me();
    const [listen, speak] = li.querySelectorAll('button');
    listen.setAttribute('aria-label', `Listen to group ${g.index + 1}`);
    speak.setAttribute('aria-label', `Join group ${g.index + 1} and speak`);
    listen.setAttribute('aria-pressed', String(here && Boolean(me?.listen_only)));
    speak.setAttribute('aria-pressed', String(here && !me?.listen_only));
  }

  startBreakout() {
    const minutes = Number(this.minutes.value);
    if (!(minutes > 0 && minutes <= 60)) {
      this.app.dispatchEvent(new CustomEvent('error', { detail: 'A breakout lasts from half a minute to 60 minutes.' }));
      return;
    }
    if (this.size.value === 'choose') {
      const groups = this.chosenGroups();
      if (groups) this.app.run('breakout.start', { groups, minutes });
      return;
    }
    const size = /** @type {2 | 3} */ (Number(this.size.value)); // the select offers pairs and threes
    this.app.run('breakout.start', { size, minutes });
  }

  async sendBroadcast() {
    const text = this.text.value.trim();
    if (!text) return;
    if (await this.app.run('breakout.broadcast', { text })) this.text.value = '';
  }

  async endBreakout() {
    if (await confirmAction('End the breakout now and bring everyone back to the main room?', 'End breakout')) {
      this.app.run('breakout.end');
    }
  }
}

/**
 * Make a <select>'s options match `[value, label]` pairs, keeping the chosen value when it is still there.
 * @param {HTMLSelectElement} select
 * @param {string[][]} pairs
 */
function fillOptions(select, pairs) {
  const key = JSON.stringify(pairs);
  if (select.dataset.options === key) return;
  const chosen = select.value;
  select.dataset.options = key;
  select.replaceChildren(...pairs.map(([value, label]) => h('option', { value }, label)));
  if (pairs.some(([value]) => value === chosen)) select.value = chosen;
}
