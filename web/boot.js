// First module to run: start connecting and warming the camera while the interface still loads.

import { LocalMedia } from './devices.js';
import { detail } from './events.js';
import { HearthClient } from './protocol.js';
import { tabMemory } from './ui/memory.js';

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

/**
 * After `moved`, the client connects to the other node directly. When this page's Content-Security-
 * Policy does not list that node, the browser blocks the connection: open the page from that node
 * instead (the token travels in the fragment again, since storage is per origin).
 */
/** @param {HearthClient} client */
function followMoves(client) {
  /** @type {URL | null} */
  let target = null;
  client.addEventListener('moved', (e) => { target = new URL(detail(e).url); });
  document.addEventListener('securitypolicyviolation', (e) => {
    if (!target || e.effectiveDirective !== 'connect-src') return;
    let blocked = null;
    try {
      blocked = new URL(e.blockedURI);
    } catch {
      return;
    }
    if (blocked.host !== target.host) return;
    client.close();
    const fragment = new URLSearchParams({ token: client.token });
    location.replace(`${target.href.replace(/\/$/, '')}${location.pathname}#${fragment}`);
  });
}

const token = readToken();
const client = token ? new HearthClient({ token }) : null;
const local = new LocalMedia();
const rejoin = tabMemory.joined; // a reload of a tab that had joined goes straight back in
if (client) {
  followMoves(client); // before connecting: a refusal can come before the interface has loaded
  client.connect();
  local.open(tabMemory.devices ?? {}).catch(() => {}); // a camera turned off stays off
}
const { start } = await import('./app.js');
start(client, local, rejoin);
