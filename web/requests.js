// Commands to the server and their answers (Socket.IO acks). A command resolves with its ack or
// rejects with a HearthError carrying the protocol's error code, so a caller can tell a refusal
// (`forbidden`, `invalid`, ...) from an answer that never came (`timeout`) without reading words.

/** @typedef {import('./wire').ClientEvents} ClientEvents */
/** @typedef {import('./wire').ClientEvent} ClientEvent */
/** @typedef {import('./wire').Ack} Ack */

const ACK_TIMEOUT_MS = 10_000;

/** An `{ok:false}` ack, or a timeout, as an Error with the protocol's `code`. */
export class HearthError extends Error {
  /**
   * @param {string} code the protocol's error code (`ErrorCode`), or 'timeout'
   * @param {string} [message]
   */
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/**
 * Send a command on `socket`; resolves with the ack's result, rejects with HearthError.
 * @template {ClientEvent} K
 * @param {import('./protocol.js').WireSocket | null} socket none: not connected
 * @param {K} event
 * @param {ClientEvents[K]} [payload] none for events that carry nothing
 * @returns {Promise<Ack>}
 */
export async function request(socket, event, payload) {
  /** @type {Ack} */
  let ack;
  try {
    if (!socket) throw new Error('not connected'); // answered as a timeout, as a lost socket is
    // The payload's type is checked at `request`; socket.io-client's own types cannot follow a generic event.
    const timed = /** @type {any} */ (socket.timeout(ACK_TIMEOUT_MS));
    ack = await timed.emitWithAck(event, payload ?? {});
  } catch {
    throw new HearthError('timeout', 'The server did not answer. Check your connection.');
  }
  if (!ack?.ok) throw new HearthError(ack?.error?.code ?? 'internal', ack?.error?.message);
  return ack;
}
