// Where the client connects, and how it gets back after a node lets it go: following `moved`,
// coming back to the first address, giving up on moves that go round. Split from protocol.js so the
// rules for finding the node that holds the session read on their own; it changes the client's
// status only through the client (as connection.js allows) and knows nothing of media or the page.
//
// A node tells its clients `moved` before it drops them: refusing a connection (another node holds
// the session), handing a session over at runtime (url of the new holder), or stopping (url "":
// whichever node serves this address next takes the session). None of these ends the session.

const MAX_MOVES = 3; // consecutive moves without a connection: two nodes pointing at each other
const RETURN_DELAY_MS = 500; // after a node stops: time for it to release its leases to the others
// Failed attempts to reach a node we were sent to before we go back to our first address: a node
// that died (kill -9, a crashed host) never answers again, and whichever node answers at home (a
// balancer's address, or the node the link was made on) takes the session once its lease runs out.
const AWAY_ATTEMPTS = 2;

/**
 * What only the client may do: change its status (false when connection.js does not allow it from
 * where it is), and tell the page it moved.
 * @typedef {{
 *   setStatus: (status: import('./connection.js').Status, error?: import('./protocol.js').Failure) => boolean,
 *   moved: (url: string) => void,
 * }} ClientHooks
 */

export class Reconnection {
  /**
   * @param {import('./protocol.js').HearthClient} client whose `status` it reads and whose `connect()` it calls
   * @param {string} home the first address
   * @param {ClientHooks} hooks
   */
  constructor(client, home, hooks) {
    this.client = client;
    this.hooks = hooks;
    this.home = home; // where to come back to when the node we were sent to stops
    this.url = home; // where the client connects next
    this.moves = 0;
    /** @type {string | null} the url of a runtime `moved`, until the server drops the socket */
    this.moving = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.returning = undefined; // a timer: back to the home node after the node we were sent to stopped
    this.awayFailures = 0; // failed attempts at a node other than home since the last connection
  }

  /** A new socket: a pending return is called off, and a `moved` said to the socket before is forgotten. */
  starting() {
    clearTimeout(this.returning);
    this.moving = null;
  }

  /** Connected: moves and failed attempts count from nothing again. */
  connected() {
    this.moves = 0;
    this.awayFailures = 0;
  }

  /**
   * The server said where the session goes (`moved`) before it drops this socket.
   * @param {string} url "" for whichever node serves the first address next
   */
  announced(url) {
    this.moving = url;
  }

  /** The client closed: no return is pending any more. */
  cancel() {
    clearTimeout(this.returning);
  }

  /**
   * A server-side disconnect is deliberate: after `moved`, go where it said (or come back once the
   * stopping node has let go of the session); otherwise it ends this connection for good (say,
   * another tab took the seat). Anything else, socket.io retries by itself.
   * @param {string} reason Socket.IO's
   */
  onDisconnect(reason) {
    const moving = this.moving;
    this.moving = null;
    const status = this.client.status;
    if (status === 'removed' || status === 'ended' || status === 'replaced') return;
    const deliberate = reason === 'io server disconnect';
    if (moving) this.#follow(moving, 'The session moved too many times.');
    else if (moving === '' && deliberate) this.#comeBack();
    else this.hooks.setStatus(deliberate ? 'closed' : 'reconnecting');
  }

  /** @param {Error & {data?: {code?: string, message?: string, url?: string}}} err a refusal carries the server's `data` */
  onConnectError(err) {
    const data = err?.data ?? {};
    if (data.code === 'moved' && data.url) {
      this.#follow(data.url, data.message);
    } else if (data.code === 'moved') {
      this.#comeBack(); // a stopping node refused us and nobody holds the session yet: try again shortly
    } else if (data.code) {
      this.hooks.setStatus('refused', { code: data.code, message: data.message });
    } else if (this.url !== this.home && ++this.awayFailures >= AWAY_ATTEMPTS) {
      this.awayFailures = 0;
      this.#comeBack(); // the node we were sent to is gone: home sends us to whoever holds the session
    } else {
      this.hooks.setStatus('reconnecting', { code: 'network', message: err?.message });
    }
  }

  /**
   * Connect to the node that holds the session now, unless moves go round without ever connecting.
   * @param {string} url
   * @param {string} [message] what to say if it gives up
   */
  #follow(url, message) {
    if (++this.moves > MAX_MOVES) {
      this.hooks.setStatus('refused', { code: 'moved', message });
      return;
    }
    this.url = url;
    this.hooks.moved(url); // before connecting: boot.js reopens the page there if CSP blocks it
    this.client.connect();
  }

  /**
   * Our node stopped. Whichever node answers at our first address (a load balancer's, or this node
   * restarted) takes the session once the stopping node has released it: wait a moment, with jitter
   * so a whole group does not arrive at once; socket.io then retries with backoff until one answers.
   */
  #comeBack() {
    this.hooks.setStatus('reconnecting');
    this.url = this.home;
    this.returning = setTimeout(() => this.client.connect(), RETURN_DELAY_MS * (1 + Math.random()));
  }
}
