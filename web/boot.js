// First module to run: start connecting and warming the camera while the interface still loads.

import { LocalMedia } from './devices.js';
import { HearthClient } from './protocol.js';

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

const token = readToken();
const client = token ? new HearthClient({ token }) : null;
const local = new LocalMedia();
if (client) {
  client.connect();
  local.open().catch(() => {});
}
const { start } = await import('./app.js');
start(client, local);
