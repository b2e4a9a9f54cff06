// The console's roster: one compact row per person in the room. Who has the floor comes first, then
// raised hands in queue order (this is the queue: one place for hands, each row one click from the
// floor), then everyone else as they joined. Each row: name, connection, whether the group hears
// them, microphone and camera, place in line, share of speaking time; "Give floor", and the rarer
// actions (take aside or bring back, mute, message, waiting room, remove) in a menu. Someone in a side
// room or a breakout group says so in their row.

import { h, reconcile, setAvailable, setText, unavailable, within } from './dom.js';
import { clock, ordinal } from './format.js';
import { confirmAction } from './confirm.js';
import { icon } from './icons.js';
import { ActionMenu } from './menu.js';
import { safetyBadge, setSafetyBadge } from './safety-panel.js';
import { FACILITATOR_ROLES } from './state.js';

/** @typedef {import('../wire').SessionStateOut | null | undefined} Session */
/** @typedef {import('../wire').ParticipantOut} Participant */
/** @typedef {HTMLLIElement & {menu: ActionMenu}} Row a person's row, with its menu of rarer actions */

/**
 * Whether the group hears this person now: in strict mode only the holder and facilitators.
 * @param {Session} session
 * @param {Participant} p
 */
export function audible(session, p) {
  if (p.audible === false || p.forced_mute || p.audio === false || p.connected === false) return false;
  if (session?.phase?.floor_mode !== 'strict') return true;
  return FACILITATOR_ROLES.has(p.role) || session?.floor?.holder === p.id;
}

/**
 * @param {Session} session
 * @param {Participant} p
 */
function audibleLabel(session, p) {
  if (p.connected === false) return 'Reconnecting';
  if (p.forced_mute) return 'Muted by you';
  if (p.audio === false) return 'Mic off';
  return audible(session, p) ? 'Audible' : 'Not heard (strict)';
}

/**
 * Holder, then the queue in order, then the rest in the session's order.
 * @template {{id: string}} P
 * @param {Session} session
 * @param {P[]} people
 * @returns {P[]}
 */
export function rosterOrder(session, people) {
  const queue = session?.queue ?? [];
  const rank = (/** @type {P} */ p) => (session?.floor?.holder === p.id ? -1 : queue.includes(p.id) ? queue.indexOf(p.id) : queue.length);
  return people.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i).map(({ p }) => p);
}

export class Roster {
  /**
   * @param {import('./state.js').AppState} app
   * @param {import('./notes.js').NotesPanel} notes where "Write to" and "Message" open a message
   */
  constructor(app, notes) {
    this.app = app;
    this.notes = notes;
    // Speaking shares move with every speaking level: they are counted anew once a second (tick).
    /** @type {readonly import('./changes.js').Part[]} what this panel shows: it updates when one of them changed */
    this.follows = ['participants', 'floor', 'agenda', 'places', 'session', 'quality', 'media', 'safety'];
    this.heading = h('h3', { id: 'roster-heading' }, 'People');
    this.list = h('ul', { className: 'roster', 'data-testid': 'members-list', 'aria-labelledby': 'roster-heading' });
    this.empty = h('p', { className: 'muted' }, 'Nobody is in the room yet.');
    this.el = h('section', { className: 'panel', 'aria-labelledby': 'roster-heading', 'data-testid': 'members-panel' },
      this.heading, this.empty, this.list);
  }

  people() {
    const { app } = this;
    const here = app.participants.filter((p) => p.status === 'admitted' && p.id !== app.you?.id);
    return rosterOrder(app.session, here);
  }

  update() {
    const people = this.people();
    const hands = (this.app.session?.queue ?? []).length;
    setText(this.heading, `People (${people.length})${hands ? ` · ${hands} hand${hands > 1 ? 's' : ''} raised` : ''}`);
    this.empty.hidden = people.length > 0;
    reconcile(this.list, people, (p) => p.id, (p) => this.#row(p), (li, p) => this.#fill(li, p));
  }

  tick() {
    this.update(); // speaking shares and connection quality move on their own
  }

  /**
   * @param {Row} li
   * @param {Participant} p
   */
  #fill(li, p) {
    const { app } = this;
    const s = app.session;
    const lead = FACILITATOR_ROLES.has(p.role);
    const place = (s?.queue ?? []).indexOf(p.id);
    li.dataset.name = p.name;
    li.dataset.participantId = p.id;
    li.dataset.queuePosition = place >= 0 ? String(place + 1) : '';
    li.classList.toggle('holder', s?.floor?.holder === p.id);
    li.classList.toggle('away', p.connected === false);
    setText(within(li, '.who'), `${p.name}${lead ? ' (co-facilitator)' : ''}`);
    this.#place(li, p, lead);
    const hand = within(li, '[data-testid="hand-position"]');
    hand.hidden = place < 0 && s?.floor?.holder !== p.id;
    setText(hand, s?.floor?.holder === p.id ? 'Speaking' : place >= 0 ? `Hand ${ordinal(place + 1)}` : '');
    const hears = audible(s, p);
    const badge = within(li, '[data-testid="audible"]');
    badge.dataset.audible = String(hears);
    badge.hidden = hears; // said only when the group does not hear them: the usual case takes no room
    setText(badge, audibleLabel(s, p));
    this.#devices(li, p);
    const quality = app.qualityOf(p);
    const connection = within(li, '[data-testid="connection"]');
    connection.dataset.quality = quality ?? '';
    const link = app.weakLinks?.get(p.id); // facilitators: what the server holds back from this member's link
    connection.className = `connection badge${quality === 'weak' || quality === 'frozen' || link ? ' warn-badge' : ''}`;
    // How their media reaches this console, and what the server holds back from their link: both count.
    const seen = quality === 'frozen' ? 'Video frozen' : quality === 'weak' ? 'Weak connection' : p.audio_only ? 'Audio only' : '';
    const held = link?.audio_only ? 'Audio only (weak link)' : link ? 'Video paused (weak link)' : '';
    setText(connection, p.connected === false ? '' : [seen, held].filter(Boolean).join(' · '));
    connection.dataset.weakLink = link ? (link.audio_only ? 'audio-only' : 'paused') : '';
    const plan = within(li, '[data-testid="safety-badge"]');
    const shared = Boolean(p.safety_shared || app.safetyPlans.has(p.id));
    plan.hidden = lead || !(s?.requires_safety_plan || shared); // only when the session asks for plans, or one came
    setSafetyBadge(plan, shared);
    const share = app.participation.share(p.id);
    within(li, 'meter').value = share;
    setText(within(li, '.share'), `${Math.round(share * 100)}% · ${clock(app.participation.secondsOf(p.id))}`);
    const floor = within(li, '[data-testid="give-floor"]');
    const away = (p.place ?? 'main') !== 'main'; // the floor is the main room's: the place badge says where they are
    setAvailable(floor, s?.floor?.holder !== p.id && !away, away ? `place-${p.id}` : hand.id); // stays in the tab order; the badge says "Speaking"
    floor.setAttribute('aria-label', `Give floor to ${p.name}`);
    li.menu.setLabel(`More actions for ${p.name}`);
    const mute = within(li, '[data-testid="mute-button"]');
    setText(mute, p.forced_mute ? 'Allow unmute' : 'Mute');
    mute.hidden = lead;
    within(li, '[data-testid="lobby-send-button"]').hidden = lead;
  }

  /**
   * Where they are when not in the main room; "Take aside" for a member, "Bring back" once aside.
   * @param {Row} li
   * @param {Participant} p
   * @param {boolean} lead a facilitator's row
   */
  #place(li, p, lead) {
    const { app } = this;
    const place = p.place ?? 'main';
    const room = (app.session?.side_rooms ?? []).find((r) => r.member === p.id);
    const badge = within(li, '[data-testid="place-badge"]');
    badge.hidden = place === 'main';
    setText(badge, place.startsWith('side:')
      ? (room && !lead ? `Aside with ${room.lead === app.you?.id ? 'you' : app.nameOf(room.lead)}` : 'In a side room')
      : place.startsWith('group:') ? `Group ${Number(place.slice(6)) + 1}${p.listen_only ? ', listening' : ''}` : '');
    const aside = within(li, '[data-testid="side-start"]');
    aside.hidden = lead;
    setText(aside, room ? `Bring ${p.name} back` : `Take ${p.name} aside`);
    aside.dataset.aside = String(Boolean(room));
  }

  /**
   * Microphone and camera as the person set them: icons, with their words for screen readers.
   * @param {Row} li
   * @param {Participant} p
   */
  #devices(li, p) {
    const cell = within(li, '.devices');
    const key = `${p.audio}|${p.video}`;
    if (cell.dataset.key === key) return;
    cell.dataset.key = key;
    cell.replaceChildren(icon(p.audio ? 'mic' : 'mic-off'), icon(p.video ? 'camera' : 'camera-off'),
      h('span', { className: 'visually-hidden' }, `${p.audio ? 'microphone on' : 'microphone off'}, ${p.video ? 'camera on' : 'camera off'}`));
  }

  /** @param {Participant} p */
  #row(p) {
    const { app } = this;
    const id = p.id;
    const name = () => app.participant(id)?.name ?? 'this person';
    const toggleMute = () => app.run(app.participant(id)?.forced_mute ? 'unmute.allow' : 'mute', { id });
    const aside = () => {
      const inSide = (app.session?.side_rooms ?? []).some((r) => r.member === id);
      app.run(inSide ? 'side.end' : 'side.start', { id });
    };
    const remove = async () => {
      const question = `Remove ${name()} from the session? Their link will stop working.`;
      if (await confirmAction(question, 'Remove', { returnTo: menu.button })) {
        app.run('remove', { id });
      }
    };
    const menu = new ActionMenu({
      label: 'More actions', testid: 'member-menu', items: [
        h('button', { type: 'button', className: 'mute', 'data-testid': 'mute-button', 'on:click': toggleMute }, 'Mute'),
        h('button', { type: 'button', 'data-testid': 'side-start', 'on:click': aside }, 'Take aside'),
        h('button', { type: 'button', 'data-testid': 'message-button', 'on:click': () => this.notes.compose(id) }, 'Write privately'),
        h('button', { type: 'button', 'data-testid': 'lobby-send-button', 'on:click': () => app.run('lobby.send', { id }) }, 'Move to waiting room'),
        h('button', { type: 'button', className: 'danger', 'data-testid': 'remove-button', 'on:click': remove }, 'Remove from session'),
      ],
    });
    const li = /** @type {Row} */ (h('li', { className: 'roster-row', 'data-testid': 'member-row' },
      h('div', { className: 'roster-main' },
        h('span', { className: 'who' }),
        h('span', { className: 'badge place', id: `place-${id}`, 'data-testid': 'place-badge', hidden: true }),
        h('span', { className: 'badge hand', id: `hand-${id}`, 'data-testid': 'hand-position', hidden: true }),
        h('span', { className: 'connection', 'data-testid': 'connection' }),
        h('span', { className: 'devices' }),
        h('span', { className: 'badge warn-badge', 'data-testid': 'audible' }),
        safetyBadge(),
        h('span', { className: 'roster-share' },
          h('meter', { min: 0, max: 1, value: 0, 'aria-label': `Share of speaking time: ${p.name}` }),
          h('span', { className: 'share muted', 'data-testid': 'share' }))),
      h('div', { className: 'roster-actions' },
        h('button', { type: 'button', className: 'floor', 'data-testid': 'give-floor', 'on:click': (/** @type {MouseEvent & {currentTarget: HTMLButtonElement}} */ e) => unavailable(e.currentTarget) || app.run('floor.grant', { id }) }, 'Give floor'),
        menu.el)));
    li.menu = menu;
    return li;
  }
}
