// Small inline icons (SVG, drawn in currentColor): a picture beside each control's words, never
// instead of them. Decorative to screen readers: the button's text says what it does.

/** @type {Readonly<Record<string, string>>} */
const PATHS = {
  mic: 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM6 11a6 6 0 0 0 12 0M12 17v4M8 21h8',
  'mic-off': 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM6 11a6 6 0 0 0 12 0M12 17v4M8 21h8M4 4l16 16',
  camera: 'M3 7h11v10H3zM14 10l6-3v10l-6-3',
  'camera-off': 'M3 7h11v10H3zM14 10l6-3v10l-6-3M3 3l18 18',
  hand: 'M8 13V5a1.5 1.5 0 0 1 3 0v6M11 11V4a1.5 1.5 0 0 1 3 0v7M14 11V5.5a1.5 1.5 0 0 1 3 0V14a7 7 0 0 1-7 7h-.5A6.5 6.5 0 0 1 4 15l-1-3a1.5 1.5 0 0 1 2.6-1.4L8 13',
  heart: 'M12 20s-7-4.4-7-10a4 4 0 0 1 7-2.6A4 4 0 0 1 19 10c0 5.6-7 10-7 10z',
  help: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 8v5M12 16.5v.5',
  done: 'M5 12l5 5 9-10',
  pass: 'M5 12h12M13 7l5 5-5 5',
  leave: 'M10 4H5v16h5M14 8l4 4-4 4M18 12H9',
  plan: 'M12 3l7 3v5c0 5-3.5 8.5-7 10-3.5-1.5-7-5-7-10V6z',
  chat: 'M4 5h16v11H9l-5 4z',
  more: 'M5 12h.01M12 12h.01M19 12h.01',
  settings: 'M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM12 2v3M12 19v3M2 12h3M19 12h3M5 5l2 2M17 17l2 2M5 19l2-2M17 7l2-2',
};

/**
 * An <svg> for `name`, hidden from assistive technology.
 * @param {string} name
 */
export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', PATHS[name] ?? PATHS.more);
  svg.append(path);
  return svg;
}

/**
 * Put `name`'s icon and `text` in a button, changing only what differs (focus and layout stay).
 * @param {HTMLElement} button
 * @param {string} name
 * @param {string} text
 */
export function setIconLabel(button, name, text) {
  if (button.dataset.icon !== name) {
    button.dataset.icon = name;
    button.querySelector('svg.icon')?.remove();
    button.prepend(icon(name));
  }
  let label = button.querySelector('.label');
  if (!label) {
    label = document.createElement('span');
    label.className = 'label';
    button.append(label);
  }
  if (label.textContent !== text) label.textContent = text;
}
