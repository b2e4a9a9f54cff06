// The interface: show the screen that fits this person's state, as the client reports changes.

import { EndView } from './ui/end.js';
import { JoinView } from './ui/join.js';
import { LobbyView } from './ui/lobby.js';
import { Participation } from './ui/participation.js';
import { RoomView } from './ui/room.js';
import { toast } from './ui/toast.js';
import { AppState } from './ui/state.js';

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

/** Show the page for `client` (null when the link carried no token); boot.js has started it. */
export function start(client, local, rejoin = null) {
  const root = document.getElementById('main');
  if (!client) {
    root.replaceChildren(new EndView({ kind: 'nolink' }).el);
    return;
  }
  const app = new AppState(client, local, new Participation());
  let view = null;

  const show = (next) => {
    view?.destroy?.();
    view = next;
    root.replaceChildren(view.el);
    view.focus?.();
  };

  const route = () => {
    const screen = app.screen();
    if (view?.screen === screen) return view.update();
    app.sentBack = screen === 'lobby' && view?.screen === 'room';
    if (screen === 'join') show(new JoinView(app, () => route()));
    else if (screen === 'lobby') show(new LobbyView(app));
    else if (screen === 'room') show(new RoomView(app));
    else if (screen === 'replaced') show(new EndView({ kind: screen, detail: app.replaced, onTakeBack: () => app.takeBack() }));
    else show(new EndView({ kind: screen, detail: app.endDetail }));
  };
  app.addEventListener('change', route);
  app.addEventListener('error', (e) => toast(e.detail, { kind: 'error' }));
  app.addEventListener('notice', (e) => toast(e.detail, { kind: 'info' }));

  const status = document.getElementById('connection-status');
  client.addEventListener('connection', (e) => {
    status.textContent = CONNECTION_LABELS[e.detail.status] ?? '';
    status.dataset.status = e.detail.status;
  });
  client.addEventListener('state', (e) => {
    const title = e.detail?.title;
    if (title) {
      document.getElementById('session-title').textContent = title;
      document.title = `${title} · Hearth`;
    }
  });
  setInterval(() => view?.tick?.(), 1000);
  globalThis.hearth = app; // for debugging and for the end-to-end tests' measurements
  status.textContent = CONNECTION_LABELS[client.status] ?? '';
  status.dataset.status = client.status;
  if (client.session) client.dispatchEvent(new CustomEvent('state', { detail: client.session }));
  if (rejoin) app.join(); // a reload of a tab that had joined: straight back in, same mic and camera
  route();
}
