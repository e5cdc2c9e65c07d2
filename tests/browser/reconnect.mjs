// A refused socket is tried again: Rae already holds MAX_SOCKETS_PER_USER sockets (opened here with
// socket.io-client), so her page's socket is refused with "Too many connections" and shows offline.
// When one of the others closes, the page connects by itself (no reload) and gets messages live.
import { io } from 'socket.io-client';

import { BASE_URL, PASSWORD, check, main, newUserPage, rest, restSignUp, screenshot } from './lib.mjs';

/** One more socket of `user`: resolves once connected, or to the refusal's message. */
function connect(user) {
  return new Promise((resolve) => {
    const socket = io(BASE_URL, { auth: { token: user.token }, transports: ['websocket'], reconnection: false });
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (error) => {
      socket.close();
      resolve({ refused: error.message });
    });
  });
}

await main(async (browser) => {
  const rae = await restSignUp('Rae', 'rc');
  const sam = await restSignUp('Sam', 'rc');
  check((await rest('POST', `/api/messages/send/${rae.id}`, sam.token, { text: 'Hi Rae' })).status === 201, 'Sam could not write');
  const others = [];
  for (;;) {
    const attempt = await connect(rae);
    if (attempt.refused) {
      check(attempt.refused === 'Too many connections', `an extra socket was refused with "${attempt.refused}"`);
      break;
    }
    others.push(attempt.socket);
    check(others.length <= 1000, 'the server never refused a socket');
  }

  const page = await newUserPage(browser, { name: 'Rae' });
  // A refused socket is still on long-polling; when its session closes, the server may answer the
  // poll still pending with 400 "Session is disconnected" (a race of the transport, not of the page).
  page.expectedFailures.add('/socket.io/');
  await page.goto(BASE_URL);
  const form = page.locator('#login-form');
  await form.locator('input[name=email]').fill(rae.email);
  await form.locator('input[name=password]').fill(PASSWORD);
  await form.locator('button[type=submit]').click();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  await page.locator('#connection[data-status="offline"]').waitFor(); // refused: over the limit
  await page.locator('#sidebar-list .chat-item', { hasText: sam.fullName }).waitFor(); // REST still works

  others.pop().close(); // one tab of hers closes: a slot is free
  await page.locator('#connection[data-status="online"]').waitFor();
  check((await rest('POST', `/api/messages/send/${rae.id}`, sam.token, { text: 'Are you back?' })).status === 201, 'Sam could not write');
  await page.locator('#sidebar-list .chat-item', { hasText: sam.fullName }).locator('.chat-preview', { hasText: 'Are you back?' }).waitFor();
  const shot = await screenshot(page, 'web-client-reconnected.png');

  for (const socket of others) socket.close();
  check(page.problems.length === 0, `the page reported problems:\n${page.problems.join('\n')}`);
  return { held: others.length + 1, screenshots: [shot] };
});
