// "I need help", both ways: the open requests a console shows until a facilitator says they are on
// it, and the member's own request and its acknowledgement. The server keeps a request open
// (`help_since`, in the facilitators' view only) until `help.ack`, so a reloaded console still
// shows it and every console's alert goes when one facilitator takes it up.

export class HelpRequests {
  constructor() {
    /** @type {Map<string, {from: string, at: number}>} facilitators: member id -> the request (server time) */
    this.open = new Map();
    /** @type {{at: number, ack: {name?: string, at?: number} | null} | null} members: my latest request */
    this.mine = null;
  }

  /** Open requests, oldest first. */
  list() {
    return [...this.open.values()].sort((a, b) => a.at - b.at);
  }

  /**
   * A `help` event: a new request, or a reminder of an open one.
   * @param {{from: string, at: number}} request
   */
  requested({ from, at }) {
    this.open.set(from, { from, at: this.open.get(from)?.at ?? at });
  }

  /**
   * A `help.acknowledged` event: to a console the request is closed; to the member it is answered.
   * @param {{id: string, name?: string, at?: number}} ack
   * @param {string} [you]
   */
  acknowledged({ id, name, at }, you) {
    this.open.delete(id);
    if (id === you && this.mine) this.mine = { ...this.mine, ack: { name, at } };
  }

  /**
   * The server's view of who has a request open (state participants and the lobby's waiting list).
   * @param {readonly {id: string, help_since?: number | null}[]} people
   */
  follow(people) {
    for (const p of people) {
      if (!('help_since' in p)) continue; // an older server: events alone
      if (p.help_since == null) this.open.delete(p.id);
      else this.open.set(p.id, { from: p.id, at: p.help_since });
    }
  }

  /**
   * I asked: the answer to any earlier request no longer applies.
   * @param {number} at
   */
  asked(at) {
    this.mine = { at, ack: null };
  }
}
