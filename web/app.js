// Entry point: read the join link, connect, and show the screen that fits this person's state.

import { LocalMedia } from './devices.js';
import { HearthClient } from './protocol.js';
import { EndView } from './ui/end.js';
import { JoinView } from './ui/join.js';
import { LobbyView } from './ui/lobby.js';
import { Participation } from './ui/participation.js';
import { RoomView } from './ui/room.js';
import { toast } from './ui/toast.js';
import { AppState } from './ui/state.js';

/** The token travels in the fragment (never sent to servers); keep it for reloads of this tab only. */
function readToken() {
  const sessionId = location.pathname.match(/^\/s\/([^/]+)/)?.[1] ?? 'default';
  const key = `hearth.token.${sessionId}`;
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token) {
    sessionStorage.setItem(key, token);
    history.replaceState(null, '', location.pathname + location.search);
    return token;
  }
  return sessionStorage.getItem(key);
}

const CONNECTION_LABELS = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  refused: 'Not connected',
  closed: 'Disconnected',
  removed: 'Disconnected',
  ended: 'Session ended',
};

function main() {
  const root = document.getElementById('main');
  const token = readToken();
  if (!token) {
    root.replaceChildren(new EndView({ kind: 'nolink' }).el);
    return;
  }
  const client = new HearthClient({ token });
  const app = new AppState(client, new LocalMedia(), new Participation());
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
    if (screen === 'join') show(new JoinView(app, () => route()));
    else if (screen === 'lobby') show(new LobbyView(app));
    else if (screen === 'room') show(new RoomView(app));
    else show(new EndView({ kind: screen, detail: app.endDetail }));
  };
  app.addEventListener('change', route);
  app.addEventListener('error', (e) => toast(e.detail, { kind: 'error' }));

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
  client.connect();
  globalThis.hearth = app; // for debugging and for the end-to-end tests' measurements
}

main();
