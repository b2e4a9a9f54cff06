// A facilitator's watch over the members' safety: the newest plan each member shared, and whose
// connection dropped (the one to call, with their plan's number). Split from state.js so the rules
// for noting, keeping and clearing a drop read on their own. In this page's memory only: the plans
// live as long as the session does for this page (see web/README.md, "Nothing is stored").

import { now } from './format.js';

/** @typedef {{from: string, name: string, location: string, contact: string, callback: string, at: number, count: number}} SafetyPlan */
/** @typedef {{at: number, gone: boolean, dismissed: boolean}} Drop a member's dropped connection (`at`: the server's time) */

export class SafetyWatch {
  constructor() {
    /** @type {Map<string, SafetyPlan>} member id -> the newest plan */
    this.plans = new Map();
    /** @type {Map<string, Drop>} member id -> their drop, while the connection is not back */
    this.drops = new Map();
  }

  /**
   * A member's connection dropped (admitted, not connected): noted when first seen, kept when the
   * seat's grace period runs out without them (they are the one to call), cleared when they are back.
   * A member who leaves on purpose was connected when they left, so is never noted.
   * @param {readonly import('../wire').ParticipantOut[]} participants the session's, as a facilitator sees them
   * @param {ReadonlySet<string | undefined>} leads the roles that are no member's (no drop is noted of them)
   */
  track(participants, leads) {
    for (const p of participants) {
      if (leads.has(p.role)) continue;
      const drop = this.drops.get(p.id);
      if (p.status === 'admitted' && p.connected === false) {
        // The server's time of the drop when it says (a reloaded console), else when this page saw it.
        const at = p.disconnected_at ?? now();
        if (!drop) this.drops.set(p.id, { at, gone: false, dismissed: false });
      } else if (drop && p.status === 'left') {
        drop.gone = true;
      } else if (drop) {
        this.drops.delete(p.id);
      }
    }
  }

  /**
   * Newest plan per member, counting how many came.
   * @param {import('../wire').SafetySharedOut} plan
   * @param {string} name the member's name as this page shows it
   */
  shared({ from, location, contact, callback = '', at }, name) {
    const count = (this.plans.get(from)?.count ?? 0) + 1;
    this.plans.set(from, { from, name, location, contact, callback, at, count });
  }

  /**
   * "I am on it" for a dropped connection: the alert goes; the Safety plans row keeps its flag.
   * @param {string} id
   */
  dismiss(id) {
    const drop = this.drops.get(id);
    if (drop) drop.dismissed = true;
  }

  /** The session is over for this page: every plan and drop is forgotten. */
  clear() {
    this.plans.clear();
    this.drops.clear();
  }
}
