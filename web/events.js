// The page's own events are CustomEvents with their payload in `detail`; listeners are typed for
// plain Events (the DOM's EventTarget), so they read the payload through this one cast.

/**
 * The payload of one of the page's own events (a CustomEvent's `detail`).
 * @param {Event} event
 * @returns {any}
 */
export function detail(event) {
  return /** @type {CustomEvent} */ (event).detail;
}
