import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admissionMissing, droppedText, planFrom, SafetyPlanKeeper, shareErrorText } from '../ui/safety.js';

const FIELDS = { location: ' 12 Elm Street, Leeds ', name: ' Dana ', phone: '+44 7700 900123' };

/** A stand-in for HearthClient.send: answers from `answers` in turn and records what was sent. */
function fakeSend(...answers) {
  const sent = [];
  const send = async (event, payload) => {
    sent.push({ event, payload });
    const answer = answers.shift();
    if (answer) throw Object.assign(new Error(answer.message ?? answer.code), { code: answer.code });
    return { ok: true };
  };
  return { send, sent };
}

test('the form becomes the wire plan, trimmed, with name and phone as one contact', () => {
  assert.deepEqual(planFrom(FIELDS), { plan: { location: '12 Elm Street, Leeds', contact: 'Dana, +44 7700 900123' } });
});

test('an incomplete form names the field to fix', () => {
  assert.equal(planFrom({ ...FIELDS, location: '  ' }).field, 'location');
  assert.equal(planFrom({ ...FIELDS, name: '' }).field, 'name');
  assert.equal(planFrom({ ...FIELDS, phone: 'my mum' }).field, 'phone');
  assert.equal(planFrom({ ...FIELDS, location: 'x'.repeat(201) }).field, 'location');
  assert.equal(planFrom({ ...FIELDS, name: 'x'.repeat(190) }).field, 'name');
  assert.ok(planFrom({ ...FIELDS, location: 'x'.repeat(200) }).plan);
});

test('a number to call back on if the call drops is optional, and must be a number when given', () => {
  assert.equal(planFrom(FIELDS).plan.callback, undefined);
  assert.equal(planFrom({ ...FIELDS, callback: '   ' }).plan.callback, undefined);
  assert.equal(planFrom({ ...FIELDS, callback: ' 07700 900456 ' }).plan.callback, '07700 900456');
  assert.equal(planFrom({ ...FIELDS, callback: 'ring me' }).field, 'callback');
});

test('a dropped connection says how long ago, and how to reach the member', () => {
  const at = Date.now() / 1000 - 12;
  const plan = { location: 'home', contact: 'Dana, 0113 496 0000', callback: '07700 900456' };
  assert.equal(droppedText(at, plan), 'Connection dropped 12 s ago. Call back on 07700 900456.');
  assert.match(droppedText(at, { ...plan, callback: '' }), /No call-back number given; emergency contact: Dana, 0113 496 0000\.$/);
  assert.match(droppedText(at, undefined), /No safety plan on this page\.$/);
  assert.equal(droppedText(at, undefined, {}, false), 'Connection dropped 12 s ago.'); // the session asks for no plans
  assert.match(droppedText(at - 120, plan, { gone: true }), /^Connection dropped 2 min ago and did not come back\. Call back on/);
});

test('share errors are explained by their protocol code', () => {
  assert.match(shareErrorText({ code: 'rate_limited' }), /just sent/);
  assert.match(shareErrorText({ code: 'timeout' }), /did not answer/);
  assert.equal(shareErrorText({ code: 'internal', message: 'Boom' }), 'Boom');
});

test('admission waits for the agreement and the plan, as the session requires', () => {
  const both = { requires_agreement: true, requires_safety_plan: true };
  assert.deepEqual(admissionMissing(both, { agreed: false, safety_shared: false }), ['agreed to the guidelines', 'shared a safety plan']);
  assert.deepEqual(admissionMissing(both, { agreed: true, safety_shared: true }), []);
  assert.deepEqual(admissionMissing({ requires_agreement: true }, { agreed: true, safety_shared: false }), []);
  assert.deepEqual(admissionMissing({ requires_agreement: false, requires_safety_plan: true }, { agreed: false }), ['shared a safety plan']);
});

test('a shared plan is kept in memory and sent again when a facilitator asks', async () => {
  const { send, sent } = fakeSend();
  const keeper = new SafetyPlanKeeper(send);
  assert.equal(await keeper.share(FIELDS), true);
  assert.ok(keeper.sentAt);
  assert.equal(await keeper.onAsked(), 'resent');
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1], sent[0]);
  assert.equal(sent[1].event, 'safety.share');
});

test('asked with nothing in memory, the member is asked to fill the form', async () => {
  const { send, sent } = fakeSend();
  const keeper = new SafetyPlanKeeper(send);
  assert.equal(await keeper.onAsked(), 'form');
  assert.equal(keeper.asked, true);
  assert.equal(sent.length, 0);
  await keeper.share(FIELDS);
  assert.equal(keeper.asked, false);
});

test('asked right after sharing, the resend waits out the rate limit once', async () => {
  const { send, sent } = fakeSend(undefined, { code: 'rate_limited' });
  const waits = [];
  const keeper = new SafetyPlanKeeper(send, { wait: async (ms) => { waits.push(ms); } });
  await keeper.share(FIELDS);
  assert.equal(await keeper.onAsked(), 'resent');
  assert.equal(sent.length, 3);
  assert.deepEqual(waits, [2100]);
});

test('a correction sent right after the first plan waits out the rate limit once', async () => {
  const { send, sent } = fakeSend(undefined, { code: 'rate_limited' });
  const keeper = new SafetyPlanKeeper(send, { wait: async () => {} });
  await keeper.share(FIELDS);
  assert.equal(await keeper.share({ ...FIELDS, location: 'Upstairs' }), true);
  assert.equal(sent.length, 3);
  assert.equal(sent[2].payload.location, 'Upstairs');
});

test('refused twice in a row, the rate limit is shown', async () => {
  const { send } = fakeSend({ code: 'rate_limited' }, { code: 'rate_limited' });
  const keeper = new SafetyPlanKeeper(send, { wait: async () => {} });
  assert.equal(await keeper.share(FIELDS), false);
  assert.equal(keeper.error.code, 'rate_limited');
});

test('a refused share keeps the typed error and the fields', async () => {
  const { send } = fakeSend({ code: 'timeout', message: 'The server did not answer.' });
  const keeper = new SafetyPlanKeeper(send);
  assert.equal(await keeper.share(FIELDS), false);
  assert.equal(keeper.error.code, 'timeout');
  assert.equal(keeper.sentAt, null);
  assert.equal(keeper.fields.phone, FIELDS.phone);
  assert.equal(await keeper.share({ ...FIELDS, phone: '' }), false);
  assert.equal(keeper.error.field, 'phone');
});

test('forget drops everything typed', async () => {
  const keeper = new SafetyPlanKeeper(fakeSend().send);
  await keeper.share(FIELDS);
  keeper.forget();
  assert.equal(keeper.fields, null);
  assert.equal(keeper.sentAt, null);
});
