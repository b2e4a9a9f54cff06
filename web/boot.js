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

/** Choices made before a reload of this tab (joined, mic, camera), so a reload goes straight back in. */
function readRejoin() {
  try {
    return JSON.parse(sessionStorage.getItem(`hearth.rejoin.${location.pathname}`) ?? 'null');
  } catch {
    return null;
  }
}

const token = readToken();
const client = token ? new HearthClient({ token }) : null;
const local = new LocalMedia();
const rejoin = readRejoin();
if (client) {
  client.connect();
  local.open(rejoin ?? {}).catch(() => {});
}
const { start } = await import('./app.js');
start(client, local, rejoin);
