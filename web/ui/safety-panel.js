// The facilitators' emergency plans: each member's location and contact as they shared it this
// session, and the plan for a dropped call: when a member's connection drops, their row says so with
// the number they gave to be called back on. Kept in this page's memory only (app.safetyPlans);
// after a reload, ask again.

import { announce, h, reconcile, setText, within } from './dom.js';
import { timeOfDay } from './format.js';
import { droppedText } from './safety.js';
import { FACILITATOR_ROLES } from './state.js';

/**
 * The "shared a plan or not" badge of the waiting room, the roster and this panel.
 * @param {HTMLElement} badge
 * @param {boolean} shared
 */
export function setSafetyBadge(badge, shared) {
  badge.dataset.shared = String(shared);
  badge.classList.toggle('on', shared);
  setText(badge, shared ? 'Safety plan shared' : 'No safety plan yet');
}

export function safetyBadge() {
  return h('span', { className: 'badge safety', 'data-testid': 'safety-badge' });
}

/** @typedef {ReturnType<SafetyPanel['people']>[number]} Person someone this panel may show a row for */

export class SafetyPanel {
  /** @param {import('./state.js').AppState} app */
  constructor(app) {
    this.app = app;
    /** @type {readonly import('./changes.js').Part[]} what this panel shows: it updates when one of them changed */
    this.follows = ['participants', 'lobby', 'safety', 'session'];
    this.asks = new Map(); // member id -> {at: when this console last asked, count: plans received by then}
    this.askAll = h('button', { type: 'button', 'data-testid': 'safety-ask-all', 'on:click': () => this.ask(null) }, 'Ask everyone');
    this.list = h('ul', { className: 'rows safety-list', 'data-testid': 'safety-list' });
    this.empty = h('p', { className: 'muted' }, 'No members yet.');
    this.el = h('section', { className: 'panel', 'aria-label': 'Safety plans', 'data-testid': 'safety-panel' },
      h('div', { className: 'panel-head' }, h('h3', {}, 'Safety plans'), this.askAll),
      this.about = h('details', { className: 'about' }, h('summary', {}, 'What this holds'),
        h('p', { className: 'muted' }, 'Where each member is today, whom to call, and how to reach them if their call '
          + 'drops. Only facilitators see this; it is kept in this page until the session ends. After a reload, ask again.')),
      this.empty, this.list);
  }

  /** Members waiting or in the room, then anyone whose plan this page holds who has gone. */
  people() {
    const { app } = this;
    const seated = app.participants.filter((p) => p.status === 'admitted' && !FACILITATOR_ROLES.has(p.role));
    const ids = new Set(seated.map((p) => p.id)); // just admitted: the lobby event may still list them
    const present = [
      ...seated.map((p) => ({ ...p, where: 'room' })),
      ...(app.lobby.waiting ?? []).filter((w) => !ids.has(w.id)).map((w) => ({ ...w, where: 'waiting' })),
    ];
    for (const w of present) ids.add(w.id);
    const gone = [...app.safetyPlans.values()].filter((plan) => !ids.has(plan.from))
      .map((plan) => ({ id: plan.from, name: plan.name, safety_shared: true, where: 'gone' }));
    return [...present, ...gone];
  }

  /**
   * Everyone, when the session asks for plans; otherwise only whom there is something to show for
   * (a plan, a dropped connection, an ask): no row of "No safety plan yet" for a group that needs none.
   */
  update() {
    const { app } = this;
    const people = this.people();
    const required = Boolean(app.session?.requires_safety_plan);
    const shown = required ? people
      : people.filter((p) => p.safety_shared || app.safetyPlans.has(p.id) || app.drops.has(p.id) || this.asks.has(p.id));
    this.empty.hidden = shown.length > 0;
    this.about.hidden = !required && shown.length === 0;
    setText(this.empty, required ? 'No members yet.'
      : 'This session does not ask for safety plans. A member may share one, and you can ask everyone.');
    this.askAll.disabled = !people.some((p) => p.where !== 'gone');
    reconcile(this.list, shown, (p) => p.id, (p) => this.#row(p), (li, p) => this.#fill(li, p));
  }

  /** @param {Person} p */
  #row(p) {
    return h('li', { className: 'safety-row', 'data-testid': 'safety-row' },
      h('div', { className: 'member-head' }, h('span', { className: 'who' }), safetyBadge()),
      h('p', { className: 'warn', 'data-testid': 'safety-dropped', hidden: true }),
      h('dl', { className: 'plan', 'data-testid': 'safety-plan' }),
      h('p', { className: 'muted state', 'data-testid': 'safety-state' }),
      h('div', { className: 'actions' },
        h('button', { type: 'button', 'data-testid': 'safety-ask', 'on:click': () => this.ask(p.id) }, 'Ask again')));
  }

  /**
   * @param {HTMLLIElement} li
   * @param {Person} p
   */
  #fill(li, p) {
    const plan = this.app.safetyPlans.get(p.id);
    const shared = Boolean(plan || p.safety_shared);
    li.dataset.name = p.name;
    li.dataset.participantId = p.id;
    li.dataset.at = plan ? String(plan.at) : '';
    setText(within(li, '.who'), `${p.name}${p.where === 'waiting' ? ' · waiting' : p.where === 'gone' ? ' · has left' : ''}`);
    const badge = within(li, '[data-testid="safety-badge"]');
    setSafetyBadge(badge, shared);
    badge.hidden = !shared && !this.app.session?.requires_safety_plan;
    const dl = within(li, 'dl');
    dl.hidden = !plan;
    const rows = plan
      ? [['Location', plan.location], ['Emergency contact', plan.contact], ['If the call drops', plan.callback || 'No number given'], ['Received', timeOfDay(plan.at)]]
      : [];
    if (dl.textContent !== rows.flat().join('')) dl.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    const dropped = this.app.drops.get(p.id);
    li.classList.toggle('dropped', Boolean(dropped));
    const drop = within(li, '[data-testid="safety-dropped"]');
    drop.hidden = !dropped;
    setText(drop, dropped ? droppedText(dropped.at, plan, dropped, Boolean(this.app.session?.requires_safety_plan)) : '');
    const asked = this.asks.get(p.id);
    const waitingForAnswer = asked != null && (plan?.count ?? 0) <= asked.count;
    setText(within(li, '.state'), waitingForAnswer
      ? `Asked at ${timeOfDay(asked.at / 1000)}; waiting for their answer.`
      : plan ? '' : shared ? 'Shared before this page opened: ask again to see it here.' : 'Not shared yet.');
    const button = within(li, '[data-testid="safety-ask"]');
    button.hidden = p.where === 'gone';
    setText(button, shared ? 'Ask again' : 'Ask');
    button.setAttribute('aria-label', `${shared ? 'Ask again' : 'Ask'}: ${p.name}'s safety plan`);
  }

  /**
   * safety.ask to one member, or (id null) to every member present.
   * @param {string | null} id
   */
  async ask(id) {
    if (!(await this.app.run('safety.ask', id ? { id } : {}))) return;
    const at = Date.now();
    const ids = id ? [id] : this.people().filter((p) => p.where !== 'gone').map((p) => p.id);
    for (const one of ids) this.asks.set(one, { at, count: this.app.safetyPlans.get(one)?.count ?? 0 });
    announce(id ? `Asked ${this.app.nameOf(id)} for their safety plan` : 'Asked every member for their safety plan');
    this.update();
  }
}
