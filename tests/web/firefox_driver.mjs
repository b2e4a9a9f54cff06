// One person in Firefox ESR (Debian's firefox-esr), driven over WebDriver BiDi by puppeteer-core,
// for the Python tests: `node tests/web/firefox_driver.mjs`. It prints {"ready": true} once Firefox
// runs, then answers one JSON request a line on stdin with one JSON line on stdout:
//   {"id": 1, "op": "goto", "url": "..."}              -> {"id": 1, "ok": true}
//   {"id": 2, "op": "click", "testid": "join-button"}  (waits until it is there and enabled)
//   {"id": 3, "op": "wait", "js": "() => ..."}         (until the function returns something truthy)
//   {"id": 4, "op": "eval", "js": "() => ..."}         -> {"id": 4, "ok": true, "result": ...}
//   {"id": 5, "op": "screenshot", "path": "..."}
//   {"id": 6, "op": "viewport", "width": 390, "height": 844}
//   {"id": 7, "op": "axe"}                             -> every axe-core finding, whatever its impact
// Failures answer {"id", "ok": false, "error"}. Closing stdin closes Firefox.
//
// Why puppeteer-core over BiDi: Debian has no geckodriver and Playwright's Firefox is a patched build
// it would download; puppeteer-core speaks WebDriver BiDi to the stock Firefox ESR, which the
// Puppeteer and Firefox teams maintain together (the PyPI marionette-driver is the older path).

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import puppeteer from '../../web/node_modules/puppeteer-core/lib/esm/puppeteer/puppeteer-core.js';

const FIREFOX = process.env.HEARTH_FIREFOX ?? '/usr/bin/firefox-esr';
const TIMEOUT_MS = 30_000;
// The page keeps its app out of reach of other scripts; the test asks for it before the page loads.
const TEST_HOOK = 'window.hearthTestHook = (app) => { window.hearth = app; };';

const AXE = new URL('../../web/node_modules/axe-core/axe.min.js', import.meta.url);
// The rules tests/web/people.py runs in Chromium (WCAG 2.x A/AA and best practices), every impact.
const AXE_RUN = `(async () => (await axe.run(document, {runOnly:
  ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']})).violations
  .map((v) => \`\${v.id}: \${v.help} at \${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}\`))()`;

const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: FIREFOX,
  headless: true,
  protocol: 'webDriverBiDi',
  defaultViewport: { width: 1280, height: 800 }, // a laptop, as the Chromium pages (at_sizes adds a phone)
  extraPrefsFirefox: {
    'media.navigator.streams.fake': true, // a test pattern and a tone instead of a camera and a microphone
    'media.navigator.permission.disabled': true,
    'media.peerconnection.ice.loopback': true,
    'media.peerconnection.ice.obfuscate_host_addresses': false,
    'media.autoplay.default': 0,
    'media.autoplay.blocking_policy': 0,
  },
});
const context = await browser.createBrowserContext();
const page = await context.newPage();
page.setDefaultTimeout(TIMEOUT_MS);
await page.evaluateOnNewDocument(TEST_HOOK);
page.on('pageerror', (err) => console.error(`page error: ${err.message}`));

const ops = {
  goto: ({ url }) => page.goto(url).then(() => undefined),
  click: async ({ testid }) => {
    const selector = `[data-testid="${testid}"]`;
    await page.waitForFunction((s) => {
      const el = document.querySelector(s);
      return el && !el.disabled && el.getAttribute('aria-disabled') !== 'true' && el.offsetParent !== null;
    }, { timeout: TIMEOUT_MS }, selector);
    await page.click(selector);
  },
  // `js` is a function's source: called in the page (a bare string would be evaluated, not called).
  wait: ({ js, timeout = TIMEOUT_MS }) => page.waitForFunction(`(${js})()`, { timeout, polling: 100 }).then(() => undefined),
  eval: ({ js }) => page.evaluate(`(${js})()`),
  screenshot: ({ path }) => page.screenshot({ path, fullPage: true }).then(() => undefined),
  // Resolved once the page has laid itself out at the new size (Firefox resizes after setViewport
  // answers: a click straight after could land where a button was before the resize).
  viewport: async ({ width, height }) => {
    await page.setViewport({ width, height });
    await page.waitForFunction((w, h) => innerWidth === w && innerHeight === h, { polling: 'raf' }, width, height);
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(undefined)))));
  },
  axe: async () => {
    if (!(await page.evaluate('"axe" in window'))) await page.evaluate(`${readFileSync(AXE, 'utf8')}\n;0`);
    return page.evaluate(AXE_RUN);
  },
};

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
send({ ready: true, version: await browser.version() });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { id, op, ...args } = JSON.parse(line);
  try {
    const result = await ops[op](args);
    send({ id, ok: true, result: result ?? null });
  } catch (err) {
    send({ id, ok: false, error: String(err?.message ?? err) });
  }
}
await browser.close();
