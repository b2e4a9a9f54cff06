// A member's emergency plan: where they are now and whom to call, for the facilitators' eyes only.
// What is typed stays in this page's memory (app.safety); the browser is told not to remember it.

import { announce, h, setText } from './dom.js';
import { timeOfDay } from './format.js';
import { setIconLabel } from './icons.js';
import { shareErrorText } from './safety.js';

/**
 * @param {string} id
 * @param {string} label
 * @param {Record<string, unknown>} attrs
 * @param {string | null} [hint] a line under the field, which the input is described by
 * @param {{required?: boolean}} [options]
 */
function field(id, label, attrs, hint = null, { required = true } = {}) {
  const hintEl = hint ? h('p', { id: `${id}-hint`, className: 'hint muted' }, hint) : null;
  const input = h('input', { id, autocomplete: 'off', required, 'data-hint': hint ? `${id}-hint` : null, ...attrs });
  input.spellcheck = false; // a browser's online spell-checking would send the text away
  return { input, el: h('div', { className: 'field' }, h('label', { htmlFor: id }, label), hintEl, input) };
}

export class SafetyForm {
  /**
   * `inRoom`: the room's version opens and closes from a "My safety plan" button; the waiting room's is always shown.
   * @param {import('./state.js').AppState} app
   */
  constructor(app, { inRoom = false } = {}) {
    this.app = app;
    this.inRoom = inRoom;
    this.editing = false;
    this.open = !inRoom;
    this.wasAsked = false;
    const location = field('safety-location', 'Where are you right now?', { maxLength: 200, 'data-testid': 'safety-location' },
      'A street address and town, or a place where help could find you today.');
    const name = field('safety-contact-name', 'Their name', { maxLength: 100, 'data-testid': 'safety-contact-name' });
    const phone = field('safety-contact-phone', 'Their phone number', { type: 'tel', maxLength: 40, 'data-testid': 'safety-contact-phone' });
    const callback = field('safety-callback', 'Your phone number, if the call drops (optional)',
      { type: 'tel', maxLength: 40, 'data-testid': 'safety-callback' },
      'If your connection drops, a facilitator can call you here to check you are all right.', { required: false });
    this.inputs = { location: location.input, name: name.input, phone: phone.input, callback: callback.input };
    this.error = h('p', { id: 'safety-error', className: 'error', role: 'alert', 'data-testid': 'safety-error', hidden: true });
    this.send = h('button', { type: 'submit', className: 'primary', 'data-testid': 'safety-send' }, 'Share with the facilitators');
    this.form = h('form', { className: 'safety-fields', autocomplete: 'off', noValidate: true, 'on:submit': (/** @type {SubmitEvent} */ e) => this.submit(e) },
      location.el,
      h('fieldset', {}, h('legend', {}, 'Who should we call in an emergency?'), name.el, phone.el),
      callback.el, this.error, this.send);
    this.sentText = h('p', {});
    this.sentPlan = h('dl', { className: 'plan' });
    this.change = h('button', { type: 'button', 'data-testid': 'safety-change', 'on:click': () => this.edit() }, 'Change my plan');
    this.sent = h('div', { className: 'safety-sent', role: 'status', 'data-testid': 'safety-sent' }, this.sentText, this.sentPlan, this.change);
    this.asked = h('p', { className: 'warn', 'data-testid': 'safety-asked', hidden: true },
      'A facilitator asked for your plan. Please fill it in.');
    this.heading = h('h3', { id: 'safety-heading', tabIndex: -1 }, 'Your safety plan for today');
    this.close = inRoom ? h('button', { type: 'button', 'data-testid': 'safety-close', 'on:click': () => this.toggle(false) }, 'Close') : null;
    this.el = h('section', { id: 'safety-form', className: 'panel safety-form', 'aria-labelledby': 'safety-heading', 'data-testid': 'safety-form' },
      h('div', { className: 'panel-head' }, this.heading, this.close),
      h('p', { className: 'muted', 'data-testid': 'safety-privacy' },
        'Only the facilitators see this, so they can send help if you need it. Hearth does not keep it.'),
      this.asked, this.form, this.sent);
    /** The room's "My safety plan" control (not shown in the waiting room). */
    this.opener = inRoom
      ? h('button', { type: 'button', 'data-testid': 'safety-open', 'aria-controls': 'safety-form', 'aria-expanded': 'false', 'on:click': () => this.toggle() })
      : null;
    if (this.opener) setIconLabel(this.opener, 'plan', 'My safety plan');
    this.update();
  }

  /** Offered when the session asks for plans, a facilitator asked, or the member shared one. */
  wanted() {
    const { app } = this;
    return Boolean(app.session?.requires_safety_plan || app.safety.asked || app.safety.fields);
  }

  update() {
    const keeper = this.app.safety;
    if (keeper.asked && !this.wasAsked && this.inRoom) this.open = true; // asked with nothing to resend
    this.wasAsked = keeper.asked;
    // After a reload the page has no plan, but the server says one was shared this session: no need to ask.
    const earlier = !keeper.sentAt && Boolean(this.app.you?.safety_shared);
    const editing = this.editing || keeper.asked || (!keeper.sentAt && !earlier);
    this.el.hidden = this.inRoom ? !this.open : !this.wanted();
    if (this.opener) {
      this.opener.hidden = !this.wanted();
      this.opener.setAttribute('aria-expanded', String(this.open));
    }
    this.asked.hidden = !keeper.asked;
    this.form.hidden = !editing;
    this.sent.hidden = editing;
    this.send.disabled = keeper.sending;
    setText(this.send, keeper.sending ? 'Sending…' : 'Share with the facilitators');
    const error = keeper.error;
    this.error.hidden = !error;
    this.error.dataset.code = error?.code ?? '';
    setText(this.error, error ? (error.field ? error.message ?? '' : shareErrorText(error)) : '');
    for (const [name, input] of Object.entries(this.inputs)) {
      const invalid = error?.field === name;
      input.setAttribute('aria-invalid', String(invalid));
      const described = [input.dataset.hint, invalid ? 'safety-error' : null].filter(Boolean).join(' ');
      if (described) input.setAttribute('aria-describedby', described);
      else input.removeAttribute('aria-describedby');
    }
    if (keeper.sentAt) this.#showSent(keeper);
    else if (earlier) this.#showSharedEarlier();
  }

  #showSharedEarlier() {
    setText(this.sentText, 'You shared your safety plan earlier in this session; the facilitators have it. They can ask you for it again.');
    if (this.sentPlan.childElementCount) this.sentPlan.replaceChildren();
  }

  /** @param {import('./safety.js').SafetyPlanKeeper} keeper one that has sent the plan (`sentAt` is set) */
  #showSent(keeper) {
    const at = timeOfDay(/** @type {number} */ (keeper.sentAt) / 1000);
    setText(this.sentText, `Shared with the facilitators at ${at}. They can ask you for it again during the session.`);
    const { location = '', name = '', phone = '', callback = '' } = keeper.fields ?? {};
    const rows = [['Where you are', location.trim()], ['Whom to call', `${name.trim()}, ${phone.trim()}`]];
    if (callback.trim()) rows.push(['If the call drops', callback.trim()]);
    if (this.sentPlan.textContent !== rows.flat().join('')) {
      this.sentPlan.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    }
  }

  /** Open or close the room's panel; opening moves focus into it. */
  toggle(open = !this.open) {
    this.open = open;
    this.update();
    if (open) (this.form.hidden ? this.heading : this.inputs.location).focus();
    else this.opener?.focus();
  }

  edit() {
    /** @type {Partial<Record<string, string>>} */
    const fields = this.app.safety.fields ?? {};
    for (const [name, input] of Object.entries(this.inputs)) input.value = fields[name] ?? '';
    this.editing = true;
    this.update();
    this.inputs.location.focus();
  }

  /** @param {SubmitEvent} event */
  async submit(event) {
    event.preventDefault();
    const fields = Object.fromEntries(Object.entries(this.inputs).map(([name, input]) => [name, input.value]));
    if (await this.app.safety.share(fields)) {
      this.editing = false;
      for (const input of Object.values(this.inputs)) input.value = ''; // the page keeps it in memory only
      this.update();
      announce('Your safety plan was shared with the facilitators.');
      this.heading.focus();
    } else {
      this.inputs[this.app.safety.error?.field ?? 'location'].focus();
    }
  }
}
