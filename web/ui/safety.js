// The emergency plan, without the DOM: what a member typed (kept in this page's memory only, never
// in storage), re-sent when a facilitator asks again; and what admission still waits for.

import { ago } from './format.js';

export const PLAN_MAX_CHARS = 200; // the wire's limit for a location and for a contact
const RETRY_MS = 2100; // the server takes one plan per member every 2 s

/** @typedef {import('../wire').SafetySharePayload} Plan what the wire carries */
/** @typedef {{location: string, name: string, phone: string, callback: string}} Fields what the member typed */
/** @typedef {{code: string, message?: string, field?: keyof Fields}} Failure */

/**
 * The form's fields ({location, name, phone, callback}) as the wire's {location, contact, callback?},
 * or the first problem to show and the field it concerns. `callback`, the member's own number for a
 * dropped call, is optional.
 * @param {Partial<Fields>} [fields]
 * @returns {{plan?: Plan, error?: string, field?: keyof Fields}}
 */
export function planFrom({ location = '', name = '', phone = '', callback = '' } = {}) {
  const where = location.trim();
  const who = name.trim();
  const tel = phone.trim();
  const back = callback.trim();
  if (!where) return { error: 'Please say where you are right now.', field: 'location' };
  if (where.length > PLAN_MAX_CHARS) return { error: `Please describe where you are in ${PLAN_MAX_CHARS} characters or fewer.`, field: 'location' };
  if (!who) return { error: 'Please give the name of someone we can call.', field: 'name' };
  if ((tel.match(/\d/g) ?? []).length < 3) return { error: 'Please give their phone number.', field: 'phone' };
  const contact = `${who}, ${tel}`;
  if (contact.length > PLAN_MAX_CHARS) return { error: 'Please shorten the name or the phone number.', field: 'name' };
  if (!back) return { plan: { location: where, contact } };
  if ((back.match(/\d/g) ?? []).length < 3) return { error: 'Please give a phone number to call you back on, or leave it empty.', field: 'callback' };
  if (back.length > PLAN_MAX_CHARS) return { error: 'Please shorten your phone number.', field: 'callback' };
  return { plan: { location: where, contact, callback: back } };
}

/**
 * What a facilitator needs at once when a member's connection drops: how long ago (a clock time
 * would need working out), and how to reach them. `at`: the server's time of the drop, in seconds;
 * `gone`: the seat's grace period ran out without them coming back; `asked`: the session asks for
 * safety plans (when it does not and none came, the missing plan is no news: nothing is said of it).
 * @param {number} at
 * @param {{contact: string, callback?: string} | null | undefined} plan
 * @param {{gone?: boolean}} [drop]
 * @param {boolean} [asked]
 */
export function droppedText(at, plan, { gone = false } = {}, asked = true) {
  const when = `Connection dropped ${ago(at)}${gone ? ' and did not come back' : ''}.`;
  if (plan?.callback) return `${when} Call back on ${plan.callback}.`;
  if (plan) return `${when} No call-back number given; emergency contact: ${plan.contact}.`;
  return asked ? `${when} No safety plan on this page.` : when;
}

/**
 * What a failed safety.share means to the member, by the protocol's error code.
 * @param {{code?: string, message?: string} | null | undefined} err
 */
export function shareErrorText(err) {
  switch (err?.code) {
    case 'rate_limited': return 'You just sent your plan, and the facilitators have it. To send a change, wait a few seconds and try again.';
    case 'invalid': return 'The plan was not accepted: please check your answers and try again.';
    case 'forbidden': return 'Your safety plan cannot be sent from here.';
    case 'timeout': return 'The server did not answer, so your plan may not have arrived. Please try again.';
    default: return err?.message || 'Your plan could not be sent. Please try again.';
  }
}

/**
 * The group agreement is accepted, or the session does not ask for it.
 * @param {Partial<import('../wire').SessionStateOut> | null | undefined} session
 * @param {{agreed?: boolean}} waiting
 */
export function hasAgreed(session, waiting) {
  return waiting.agreed !== false || session?.requires_agreement === false;
}

/**
 * What a waiting member still has to do before a facilitator may admit them (the server checks
 * the same: the agreement and the emergency plan, for whichever the session requires).
 * @param {Partial<import('../wire').SessionStateOut> | null | undefined} session
 * @param {{agreed?: boolean, safety_shared?: boolean | null}} waiting
 * @returns {string[]}
 */
export function admissionMissing(session, waiting) {
  const missing = [];
  if (!hasAgreed(session, waiting)) missing.push('agreed to the guidelines');
  if (session?.requires_safety_plan && !waiting.safety_shared) missing.push('shared a safety plan');
  return missing;
}

/**
 * A member's plan for this session: shares it, keeps what was typed in memory, and answers a
 * facilitator's `safety.asked` by sending it again. Fires 'change' whenever its state moves.
 */
export class SafetyPlanKeeper extends EventTarget {
  /**
   * @param {import('../wire').Send} send rejects with an Error that has a `code` (a HearthError)
   * @param {{retryMs?: number, wait?: (ms: number) => Promise<unknown>}} [options]
   */
  constructor(send, { retryMs = RETRY_MS, wait = (ms) => new Promise((r) => setTimeout(r, ms)) } = {}) {
    super();
    this.send = send;
    this.retryMs = retryMs;
    this.wait = wait;
    /** @type {Fields | null} as typed: memory only */
    this.fields = null;
    /** @type {number | null} Date.now() when the server last acknowledged the plan */
    this.sentAt = null;
    this.asked = false; // a facilitator asked, and there was nothing to send or sending failed
    this.sending = false;
    /** @type {Failure | null} the last failure */
    this.error = null;
  }

  /**
   * Share what the member typed; false (with `error` set) when it is incomplete or refused.
   * @param {Partial<Fields>} fields
   */
  async share(fields) {
    const { plan, error, field } = planFrom(fields);
    if (error || !plan) {
      this.#fail({ code: 'invalid', message: error, field: field ?? 'location' });
      return false;
    }
    this.fields = { location: fields.location ?? '', name: fields.name ?? '', phone: fields.phone ?? '', callback: fields.callback ?? '' };
    return this.#send(plan);
  }

  /**
   * A facilitator asked: send again what is in memory, or ask the member (nothing in memory).
   * @returns {Promise<'form' | 'resent' | 'failed'>}
   */
  async onAsked() {
    const plan = this.fields && planFrom(this.fields).plan;
    if (!plan) {
      this.asked = true;
      this.#changed();
      return 'form';
    }
    if (await this.#send(plan)) return 'resent';
    this.asked = true;
    this.#changed();
    return 'failed';
  }

  /** The session is over for this page: drop the plan. */
  forget() {
    this.fields = null;
    this.sentAt = null;
    this.asked = false;
    this.error = null;
    this.#changed();
  }

  /**
   * @param {Plan} plan
   * @param {{retry?: boolean}} [options]
   * @returns {Promise<boolean>}
   */
  async #send(plan, { retry = true } = {}) {
    this.sending = true;
    this.error = null;
    this.#changed();
    try {
      await this.send('safety.share', plan);
      this.sentAt = Date.now();
      this.asked = false;
      return true;
    } catch (caught) {
      const err = /** @type {import('../protocol.js').HearthError | undefined} */ (caught);
      // A correction, or an answer to "ask again", right after sharing: the server takes one plan
      // every 2 s, so wait that out once rather than tell the member to.
      if (retry && err?.code === 'rate_limited') {
        await this.wait(this.retryMs);
        return this.#send(plan, { retry: false });
      }
      this.error = { code: err?.code ?? 'internal', message: err?.message };
      return false;
    } finally {
      this.sending = false;
      this.#changed();
    }
  }

  /** @param {Failure} error */
  #fail(error) {
    this.error = error;
    this.#changed();
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}
