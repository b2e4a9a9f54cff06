import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, clock, initials, now, ordinal, secondsUntil, syncClock, timeOfDay } from '../ui/format.js';
import { Participation } from '../ui/participation.js';

test('speaking time goes to whoever was active during each interval', () => {
  const p = new Participation();
  p.onSpeaking({ active: 'a' }, 0);
  p.onSpeaking({ active: 'a' }, 0.2);
  p.onSpeaking({ active: 'b' }, 0.4);
  p.onSpeaking({ active: null }, 0.6);
  p.onSpeaking({ active: 'b' }, 10); // a long silence is credited to nobody
  assert.equal(p.secondsOf('a').toFixed(1), '0.4');
  assert.equal(p.secondsOf('b').toFixed(1), '0.2');
  assert.equal(p.share('a').toFixed(2), '0.67');
});

test('a gap in events credits at most one second', () => {
  const p = new Participation();
  p.onSpeaking({ active: 'a' }, 0);
  p.onSpeaking({ active: 'a' }, 30);
  assert.equal(p.secondsOf('a'), 1);
});

test('display formats', () => {
  assert.equal(clock(65), '1:05');
  assert.equal(clock(-3), '0:00');
  assert.equal(ordinal(2), '2nd');
  assert.equal(ordinal(11), '11th');
  assert.equal(ordinal(23), '23rd');
  assert.equal(initials('Mary Ann Lee'), 'MA');
  const evening = new Date(2026, 10, 28, 18, 2, 7).getTime() / 1000;
  assert.equal(timeOfDay(evening), '18:02:07');
  assert.equal(timeOfDay(evening - 18 * 3600), '00:02:07');
});

test('server times are read on the server clock, however wrong this device\'s clock is', () => {
  const local = Date.now() / 1000;
  syncClock(local - 3600, local); // this device runs an hour fast
  try {
    assert.equal(Math.round(secondsUntil(local - 3600 + 90)), 90); // a turn ending 90 s from now, server time
    assert.equal(ago(local - 3600 - 12), '12 s ago');
    assert.equal(ago(local - 3600 - 1), 'just now');
    assert.equal(ago(local - 3600 - 185), '3 min ago');
    syncClock(undefined); // a state without `now` leaves the offset alone
    assert.ok(Math.abs(now() - (Date.now() / 1000 - 3600)) < 1);
  } finally {
    syncClock(Date.now() / 1000);
  }
});

test('index.html preloads every module of the page, so the graph is fetched at once', async () => {
  const { readdir, readFile } = await import('node:fs/promises');
  const web = new URL('..', import.meta.url);
  const html = await readFile(new URL('index.html', web), 'utf8');
  const preloaded = new Set([...html.matchAll(/rel="modulepreload" href="\/web\/([^"]+)"/g)].map((m) => m[1]));
  // A worker's module is fetched by the worker, not the page: preloading it would load it twice.
  // eslint.config.js is the linter's, not the page's (never served).
  const top = (await readdir(web)).filter((f) => f.endsWith('.js') && !['boot.js', 'eslint.config.js'].includes(f) && !f.endsWith('-worker.js'));
  const ui = (await readdir(new URL('ui/', web))).filter((f) => f.endsWith('.js')).map((f) => `ui/${f}`);
  for (const module of [...top, ...ui]) assert.ok(preloaded.has(module), `${module} is not preloaded`);
});
