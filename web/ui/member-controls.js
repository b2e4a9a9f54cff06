// A member's controls: hand, pass, "I relate", and a private "I need help".

import { announce, h, setText } from './dom.js';
import { ordinal } from './format.js';
import { toast } from './toast.js';

export class MemberControls {
  constructor(app) {
    this.app = app;
    this.hand = h('button', { type: 'button', 'data-testid': 'hand-button', 'aria-pressed': 'false', 'on:click': () => this.toggleHand() }, 'Raise hand');
    this.position = h('span', { className: 'queue-position', 'data-testid': 'queue-position', hidden: true });
    this.pass = h('button', { type: 'button', 'data-testid': 'pass-button', hidden: true, 'on:click': () => this.passTurn() }, 'Pass my turn');
    this.nod = h('button', { type: 'button', 'data-testid': 'nod-button', 'on:click': () => this.sendNod() }, 'I relate');
    this.help = h('button', { type: 'button', className: 'help', 'data-testid': 'help-button', 'on:click': () => this.askHelp() }, 'I need help');
    this.helpSent = h('span', { className: 'muted', role: 'status', 'data-testid': 'help-sent' });
    this.release = h('button', { type: 'button', 'data-testid': 'release-button', hidden: true, 'on:click': () => app.run('floor.release') }, 'I am done speaking');
    this.el = h('div', { className: 'member-controls', role: 'group', 'aria-label': 'Take part' },
      this.hand, this.position, this.release, this.pass, this.nod, this.help, this.helpSent);
  }

  me() {
    return this.app.participants.find((p) => p.id === this.app.you?.id) ?? {};
  }

  update() {
    const { app } = this;
    const s = app.session ?? {};
    const me = this.me();
    const raised = Boolean(me.hand_raised) || (s.queue ?? []).includes(app.you?.id);
    const holder = s.floor?.holder === app.you?.id;
    this.hand.setAttribute('aria-pressed', String(raised));
    setText(this.hand, raised ? 'Lower hand' : 'Raise hand');
    this.hand.disabled = holder && !raised;
    const place = (s.queue ?? []).indexOf(app.you?.id);
    const line = place >= 0 ? (place === 0 ? 'You are next in line' : `You are ${ordinal(place + 1)} in line`) : '';
    if (line && line !== this.position.textContent) announce(line);
    setText(this.position, line);
    this.position.hidden = !line;
    const g = s.go_around;
    this.pass.hidden = !(g && g.order?.[g.position] === app.you?.id);
    this.release.hidden = !holder;
    const speaker = s.floor?.holder;
    this.nod.disabled = !speaker || holder;
    this.nod.title = speaker ? `Show ${app.nameOf(speaker)} you relate, without interrupting` : 'Available while someone has the floor';
  }

  async toggleHand() {
    const raised = this.hand.getAttribute('aria-pressed') === 'true';
    if (await this.app.run(raised ? 'hand.lower' : 'hand.raise')) announce(raised ? 'Hand lowered' : 'Hand raised');
  }

  async passTurn() {
    if (await this.app.run('turn.pass')) announce('You passed your turn');
  }

  async sendNod() {
    if (!(await this.app.run('nod'))) return;
    this.nod.classList.add('sent');
    setTimeout(() => this.nod.classList.remove('sent'), 1500);
    toast('Sent: you relate', { ms: 2000 });
  }

  async askHelp() {
    this.help.disabled = true;
    if (await this.app.run('help')) {
      setText(this.helpSent, 'A facilitator has been told, privately. They will reach out to you.');
    }
    setTimeout(() => { this.help.disabled = false; }, 5000);
  }
}
