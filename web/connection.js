// The client's connection as one explicit state machine: the states `HearthClient.status` takes, and
// which may follow which. `protocol.js` asks `canMove` before every change and keeps its state when
// the answer is no, so a late event of a socket already given up (a `disconnect` after `close()`,
// after a removal or after another tab took the seat) can never start a reconnection.
//
//   idle ──► connecting ──► connected ◄──► reconnecting
//                │  ▲            │               │
//                ▼  └── (moved: the next node) ──┘
//   refused (the server said no)       closed (this page, or the server, ended the connection)
//   removed, ended: final              replaced: another tab has the seat, until `connect()`

/** @typedef {'idle' | 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'closed' | 'removed' | 'ended' | 'replaced'} Status */

/** While a connection is wanted: anything the server or the network can say. */
const LIVE = /** @type {Status[]} */ (['connecting', 'connected', 'reconnecting', 'refused', 'closed', 'removed', 'ended', 'replaced']);

/** @type {Readonly<Record<Status, readonly Status[]>>} */
export const TRANSITIONS = Object.freeze({
  idle: ['connecting', 'closed'],
  connecting: LIVE,
  connected: LIVE.filter((s) => s !== 'connected'), // a connection is announced once
  reconnecting: LIVE,
  // Refused after connecting (the session ended meanwhile, or is full): the server then drops the
  // socket (closed); if the network drops it first, socket.io retries, and the server answers again.
  refused: ['connecting', 'reconnecting', 'connected', 'closed'],
  closed: ['connecting', 'closed'],
  removed: ['closed'], // the session's own ends: nothing brings the page back but a reload
  ended: ['closed'],
  replaced: ['connecting', 'closed'], // "Use this tab instead"
});

/** Every state the client can be in. */
export const STATUSES = /** @type {Status[]} */ (Object.keys(TRANSITIONS));

/**
 * Whether the connection may go from `from` to `to`.
 * @param {Status} from
 * @param {Status} to
 */
export function canMove(from, to) {
  return TRANSITIONS[from].includes(to);
}
