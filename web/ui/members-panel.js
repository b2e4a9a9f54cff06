// Everyone in the room: who can be heard, their share of speaking time, and per-person actions.

import { h, reconcile, setText } from './dom.js';
import { clock } from './format.js';
import { confirmAction } from './confirm.js';
import { safetyBadge, setSafetyBadge } from './safety-panel.js';
import { FACILITATOR_ROLES } from './state.js';

/** Whether the group hears this person now: in strict mode only the holder and facilitators. */
export function audible(session, p) {
  if (p.audible === false || p.forced_mute || p.audio === false || p.connected === false) return false;
  if (session?.phase?.floor_mode !== 'strict') return true;
  return FACILITATOR_ROLES.has(p.role) || session?.floor?.holder === p.id;
}

function audibleLabel(session, p) {
  if (p.connected === false) return 'Reconnecting';
  if (p.forced_mute) return 'Muted by you';
  if (p.audio === false) return 'Mic off';
  return audible(session, p) ? 'Audible' : 'Not heard (strict)';
}

export class MembersPanel {
  constructor(app, notes) {
    this.app = app;
    this.notes = notes;
    this.list = h('ul', { className: 'rows members', 'data-testid': 'members-list' });
    this.el = h('section', { className: 'panel', 'aria-label': 'People and participation', 'data-testid': 'members-panel' },
      h('h3', {}, 'People and participation'), this.list);
  }

  people() {
    const { app } = this;
    return app.participants.filter((p) => p.status === 'admitted' && p.id !== app.you?.id);
  }

  update() {
    reconcile(this.list, this.people(), (p) => p.id, (p) => this.#row(p), (li, p) => this.#fill(li, p));
  }

  tick() {
    this.update();
  }

  #fill(li, p) {
    const { app } = this;
    const s = app.session;
    const share = app.participation.share(p.id);
    const hears = audible(s, p);
    li.dataset.name = p.name;
    li.dataset.participantId = p.id;
    setText(li.querySelector('.who'), `${p.name}${FACILITATOR_ROLES.has(p.role) ? ' (co-facilitator)' : ''}${p.hand_raised ? ' · hand raised' : ''}`);
    const badge = li.querySelector('[data-testid="audible"]');
    badge.dataset.audible = String(hears);
    badge.classList.toggle('on', hears);
    setText(badge, audibleLabel(s, p));
    const plan = li.querySelector('[data-testid="safety-badge"]');
    plan.hidden = FACILITATOR_ROLES.has(p.role) || (!s?.requires_safety_plan && !p.safety_shared);
    setSafetyBadge(plan, Boolean(p.safety_shared || app.safetyPlans.has(p.id)));
    const bar = li.querySelector('meter');
    bar.value = share;
    setText(li.querySelector('.share'), `${Math.round(share * 100)}% · ${clock(app.participation.secondsOf(p.id))}`);
    const mute = li.querySelector('.mute');
    setText(mute, p.forced_mute ? 'Allow unmute' : 'Mute');
    mute.setAttribute('aria-label', `${p.forced_mute ? 'Allow unmute for' : 'Mute'} ${p.name}`);
    li.querySelector('.floor').disabled = s?.floor?.holder === p.id;
    li.querySelector('.floor').setAttribute('aria-label', `Give floor to ${p.name}`);
    li.querySelector('[data-testid="message-button"]').setAttribute('aria-label', `Message ${p.name}`);
    li.querySelector('[data-testid="remove-button"]').setAttribute('aria-label', `Remove ${p.name}`);
    const toLobby = li.querySelector('.to-lobby');
    toLobby.hidden = FACILITATOR_ROLES.has(p.role);
    toLobby.setAttribute('aria-label', `To waiting room: ${p.name}`);
  }

  #row(p) {
    const { app } = this;
    const id = p.id;
    const name = () => app.participant(id)?.name ?? 'this person';
    const toggleMute = () => app.run(app.participant(id)?.forced_mute ? 'unmute.allow' : 'mute', { id });
    const remove = async () => {
      if (await confirmAction(`Remove ${name()} from the session? Their link will stop working.`, 'Remove')) {
        app.run('remove', { id });
      }
    };
    return h('li', { className: 'member', 'data-testid': 'member-row' },
      h('div', { className: 'member-head' }, h('span', { className: 'who' }),
        h('span', { className: 'badges' }, h('span', { className: 'badge', 'data-testid': 'audible' }), safetyBadge())),
      h('div', { className: 'share-row' },
        h('meter', { min: 0, max: 1, value: 0, 'aria-label': 'Share of speaking time' }), h('span', { className: 'share muted', 'data-testid': 'share' })),
      h('div', { className: 'actions' },
        h('button', { type: 'button', className: 'floor', 'data-testid': 'give-floor', 'on:click': () => app.run('floor.grant', { id }) }, 'Give floor'),
        h('button', { type: 'button', className: 'mute', 'data-testid': 'mute-button', 'on:click': toggleMute }, 'Mute'),
        h('button', { type: 'button', 'data-testid': 'message-button', 'on:click': () => this.notes.compose(id) }, 'Message'),
        h('button', { type: 'button', className: 'to-lobby', 'data-testid': 'lobby-send-button', 'on:click': () => app.run('lobby.send', { id }) }, 'To waiting room'),
        h('button', { type: 'button', className: 'danger', 'data-testid': 'remove-button', 'on:click': remove }, 'Remove')));
  }
}
