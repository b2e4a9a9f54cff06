// What people tell each other through the page, kept in its memory only and each said in the live
// region as it comes: private notes, nods ("relates"), help requests and their acknowledgement, and
// the facilitators' messages to every breakout group. Split from state.js, which hands each of these
// events here and keeps the names, the commands and the `change` event they use.

import { announce } from './dom.js';
import { now } from './format.js';
import { HelpRequests } from './help.js';

/**
 * A private message as this page keeps it (`at`: this page's clock, ms); `sender`: its sender's
 * name as shown, from the note itself.
 * @typedef {{from: string | undefined, to: string | undefined, text: string, at: number, mine: boolean,
 *   unread?: boolean, name?: string, sender?: string}} Note
 */
/** @typedef {{from: string, at: number}} NodSeen someone relates (`at`: this page's clock, ms) */
/** @typedef {import('../wire').BreakoutBroadcastOut} Broadcast */

export class Signals {
  /**
   * @param {import('./state.js').AppState} app whose names, commands (`run`) and `changed` these use
   * @param {ReadonlySet<string | undefined>} leads the facilitators' roles (a note from one says so)
   */
  constructor(app, leads) {
    this.app = app;
    this.leads = leads;
    this.help = new HelpRequests(); // facilitators: open requests; members: mine and its answer
    /** @type {Note[]} */
    this.notes = [];
    /** @type {NodSeen[]} */
    this.nods = [];
    /** @type {Broadcast[]} the facilitators' messages to every breakout group, while it runs */
    this.broadcasts = [];
  }

  /** Open help requests, oldest first, with names ({from, at, name}). */
  get helps() {
    return this.help.list().map((h) => ({ ...h, name: this.app.nameOf(h.from) }));
  }

  /** @param {import('../wire').HelpOut} detail */
  onHelp(detail) {
    this.help.requested(detail);
    announce(`${this.app.nameOf(detail.from)} is asking for help`);
  }

  /** @param {import('../wire').HelpAcknowledgedOut} detail */
  onHelpAcknowledged(detail) {
    const you = this.app.you?.id;
    this.help.acknowledged(detail, you);
    if (detail.id === you) announce(`${detail.name} has seen your request for help and will reach out to you.`);
  }

  /**
   * The sender's name comes with the note: a waiting member sees no roster to look it up in.
   * @param {import('../wire').NoteOut} note
   */
  onNote({ from, text, name, role }) {
    const sender = name ? `${name}${this.leads.has(role) ? ' (facilitator)' : ''}` : this.app.nameOf(from);
    this.notes = [...this.notes, { from, to: this.app.you?.id, text, at: Date.now(), mine: false, unread: true, name, sender }];
    announce(`Private message from ${sender}: ${text}`);
  }

  /**
   * A facilitator's message to every breakout group: shown while the breakout runs, and said.
   * @param {Broadcast} broadcast
   */
  onBroadcast({ from, name, text, at }) {
    this.broadcasts = [...this.broadcasts, { from, name, text, at }].slice(-3);
    announce(`Message to all groups from ${from === this.app.you?.id ? 'you' : name}: ${text}`);
  }

  /** @param {import('../wire').NodOut} nod */
  onNod({ from }) {
    const at = Date.now();
    this.nods = [...this.nods.filter((n) => at - n.at < 8000), { from, at }];
    announce(`${this.app.nameOf(from)} relates`);
  }

  /**
   * A private message; true when the server took it.
   * @param {string} to
   * @param {string} text
   */
  async sendNote(to, text) {
    const ok = await this.app.run('note', { to, text });
    if (ok) this.notes = [...this.notes, { from: this.app.you?.id, to, text, at: Date.now(), mine: true }];
    this.app.changed(['notes']);
    return Boolean(ok);
  }

  markNotesRead() {
    if (!this.notes.some((n) => n.unread)) return;
    this.notes = this.notes.map((n) => ({ ...n, unread: false }));
    this.app.changed(['notes']);
  }

  /**
   * "I am on it": the member is told, and every console's alert goes (help.acknowledged).
   * @param {string} from
   */
  async acknowledgeHelp(from) {
    if (await this.app.run('help.ack', { id: from })) this.help.acknowledged({ id: from }, this.app.you?.id);
    this.app.changed(['help']);
  }

  /** "I need help": sent privately to the facilitators; true when the server took it. */
  async askHelp() {
    const ok = Boolean(await this.app.run('help'));
    if (ok) this.help.asked(now());
    this.app.changed(['help']);
    return ok;
  }
}
