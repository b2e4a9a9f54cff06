// The interface: show the screen that fits this person's state, as the client reports changes.

import { EndView } from './ui/end.js';
import { JoinView } from './ui/join.js';
import { LobbyView } from './ui/lobby.js';
import { Participation } from './ui/participation.js';
import { RoomView } from './ui/room.js';
import { detail } from './events.js';
import { byId } from './ui/dom.js';
import { toast } from './ui/toast.js';
import { AppState } from './ui/state.js';

/** @type {Record<string, string>} */
const CONNECTION_LABELS = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  refused: 'Not connected',
  closed: 'Disconnected',
  removed: 'Disconnected',
  ended: 'Session ended',
  replaced: 'Open in another tab',
};

/**
 * Show the page for `client` (null when the link carried no token); boot.js has started it.
 * @param {import('./protocol.js').HearthClient | null} client
 * @param {import('./devices.js').LocalMedia} local
 * @param {boolean} [rejoin] a reload of a tab that had joined: straight back in
 */
export function start(client, local, rejoin = false) {
  const root = byId('main');
  if (!client) {
    root.replaceChildren(new EndView({ kind: 'nolink' }).el);
    return;
  }
  const app = new AppState(client, local, new Participation());
  /**
   * The screen shown: a view with its element and `update`; the room's and the lobby's also tick,
   * and say whether something waits for a facilitator.
   * @typedef {{screen: string, el: HTMLElement, update: (changes?: import('./ui/changes.js').Changes) => void,
   *   focus?: () => void, destroy?: () => void, tick?: () => void, needsAttention?: () => boolean}} View
   */
  /** @type {View | null} */
  let view = null;

  /** @param {View} next */
  const show = (next) => {
    view?.destroy?.();
    view = next;
    root.replaceChildren(view.el);
    view.focus?.();
  };

  /**
   * The screen that fits now; the same screen updates what `changes` touch (changes.js), a new one
   * is built whole.
   * @param {import('./ui/changes.js').Changes} [changes]
   */
  const route = (changes = null) => {
    const screen = app.screen();
    if (view?.screen === screen) return view.update(changes);
    app.sentBack = screen === 'lobby' && view?.screen === 'room';
    if (screen === 'join') show(new JoinView(app, () => route()));
    else if (screen === 'lobby') show(new LobbyView(app));
    else if (screen === 'room') show(new RoomView(app));
    else if (screen === 'replaced') show(new EndView({ kind: screen, detail: app.replaced, onTakeBack: () => app.takeBack() }));
    else show(new EndView({ kind: screen, detail: app.endDetail ?? app.removedBefore })); // e2ee too: it waits
  };
  app.addEventListener('change', (e) => route(detail(e)));
  app.addEventListener('error', (e) => toast(detail(e), { kind: 'error' }));
  app.addEventListener('notice', (e) => toast(detail(e), { kind: 'info' }));

  const status = byId('connection-status');
  client.addEventListener('connection', (e) => {
    const { status: now } = detail(e);
    status.textContent = CONNECTION_LABELS[now] ?? '';
    status.dataset.status = now;
  });
  // One place writes the tab title: the session's name, flagged "(!)" while a help request or a
  // dropped member waits for a facilitator, so it is seen from another window.
  let title = 'Hearth';
  const retitle = () => {
    const next = `${view?.needsAttention?.() ? '(!) ' : ''}${title}`;
    if (document.title !== next) document.title = next;
  };
  client.addEventListener('state', (e) => {
    const session = detail(e);
    if (!session?.title) return;
    byId('session-title').textContent = session.title;
    title = `${session.title} · Hearth`;
  });
  app.addEventListener('change', retitle);
  setInterval(() => {
    view?.tick?.();
    retitle();
  }, 1000);
  // No global: the app (safety plans included) is out of reach of other scripts. A test harness or
  // the join bench may ask for it by defining this hook before the page loads (Playwright's
  // add_init_script); the page's Content-Security-Policy admits no script that could define it first.
  /** @type {{hearthTestHook?: (app: AppState) => void}} */ (globalThis).hearthTestHook?.(app);
  status.textContent = CONNECTION_LABELS[client.status] ?? '';
  status.dataset.status = client.status;
  if (client.session) client.dispatchEvent(new CustomEvent('state', { detail: client.session }));
  if (rejoin) app.join(); // a reload of a tab that had joined: straight back in, same mic and camera
  route();
  retitle();
}
