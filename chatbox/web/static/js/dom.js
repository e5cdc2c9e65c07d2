/*
 * DOM building blocks for the views. Nothing here runs at import time: only the functions touch
 * `document`, when a view calls them.
 */

import { avatarHue, initials } from './format.js';

export const $ = (selector) => document.querySelector(selector);

/** Children as DOM nodes: arrays are flattened; null, undefined, false and '' are left out. */
export function nodes(children) {
  return children
    .flat(Infinity)
    .filter((child) => child !== null && child !== undefined && child !== false && child !== '')
    .map((child) => (child instanceof Node ? child : document.createTextNode(String(child))));
}

/** h('div', {class: 'x', onclick: fn, dataset: {id: 1}}, 'text', child) builds an element. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  el.append(...nodes(children));
  return el;
}

/** Replace an element's content (same rules for children as h()). */
export function setChildren(el, ...children) {
  el.replaceChildren(...nodes(children));
}

export function show(el, visible) {
  el.hidden = !visible;
}

/** Set a text only when it differs (a view runs on every update). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// Line icons drawn as SVG (no icon font, no emoji font needed): name -> path data on a 24x24 grid.
const ICONS = {
  photo: 'M4 5h16v14H4z M4 16l5-5 4 4 2-2 5 5 M15.5 9.5a1.5 1.5 0 1 0 0.01 0',
  file: 'M6 3h8l5 5v13H6z M14 3v5h5',
  pin: 'M9 3h6 M10 3v6l-3 4h10l-3-4V3 M12 13v8',
  clock: 'M12 3a9 9 0 1 0 0.01 0 M12 7v5l3 2',
};

export function icon(name, label = '') {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon-svg icon-${name}`);
  svg.setAttribute('aria-hidden', label ? 'false' : 'true');
  if (label) svg.setAttribute('aria-label', label);
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

/** A round avatar: the profile picture, or initials on a colour picked from the id. Redrawn only on change. */
export function fillAvatar(el, user) {
  const signature = JSON.stringify([user._id || '', user.profilePic || '', user.fullName || '']);
  if (el.dataset.avatar === signature) return el;
  el.dataset.avatar = signature;
  el.replaceChildren();
  el.style.setProperty('--hue', avatarHue(user._id));
  if (user.profilePic) {
    // Avatars are small: the picture's thumbnail (`<profilePic>/thumb`), or the picture itself for
    // pictures stored before thumbnails existed.
    const full = user.profilePic;
    el.append(h('img', { src: `${full}/thumb`, alt: '', onerror: (e) => { if (e.target.src.endsWith('/thumb')) e.target.src = full; } }));
  } else el.textContent = initials(user.fullName);
  return el;
}

export function avatar(user, online) {
  const el = fillAvatar(h('span', { class: 'avatar' }), user);
  if (online) el.append(h('span', { class: 'dot', title: 'Online', 'aria-label': 'online' }));
  return el;
}

/**
 * Draw a list from items `{key, data, build(data), patch?(node, data, before)}`: an item whose `data`
 * (plain JSON) is unchanged keeps its node (images stay loaded, hover and focus stay put); a changed
 * one is patched when `patch` says it could, else rebuilt. The container is only touched on change.
 */
export function renderList(container, items, cache) {
  const next = new Map();
  const list = items.map((item) => {
    const signature = JSON.stringify(item.data);
    const known = cache.get(item.key);
    let node;
    if (known && known.signature === signature) node = known.node;
    else if (known && item.patch && item.patch(known.node, item.data, known.data)) node = known.node;
    else node = item.build(item.data);
    next.set(item.key, { signature, node, data: item.data });
    return node;
  });
  cache.clear();
  for (const [key, value] of next) cache.set(key, value);
  const current = container.children;
  if (current.length !== list.length || list.some((node, i) => current[i] !== node)) container.replaceChildren(...list);
}
