// The web client fixes, step by step: people search gives way to the chat list, the unread count in the
// tab title, read ticks unlike delivered ones, block asks first, the blocked side sees a neutral notice
// that goes away after an unblock, the header on a 390 px phone, profile and password editing, clear
// chat, and the blocked people list. Uma is in the browser; Vic and Wes act through REST and sockets.
import { io } from 'socket.io-client';

import { BASE_URL, chatRow, check, logIn, main, newUserPage, PASSWORD, rest, restSignUp, RUN, screenshot, waitConnected } from './lib.mjs';

function connect(user) {
  return new Promise((resolve, reject) => {
    const socket = io(BASE_URL, { auth: { token: user.token }, transports: ['websocket'], reconnection: false });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function menuItem(page, selector) {
  await page.click('#chat-menu-button');
  await page.click(selector);
}

function rgb(color) {
  return color.match(/\d+/g).slice(0, 3).map(Number);
}

await main(async (browser) => {
  const uma = await restSignUp('Uma', 'fix');
  const vic = await restSignUp('Vic', 'fix');
  const wes = await restSignUp('Wes', 'fix');
  const page = await newUserPage(browser, { name: 'Uma' });
  await page.goto(BASE_URL);
  // 0. The account inputs are sized by the server's limits (GET /api/limits), not numbers copied into the page.
  const limits = (await rest('GET', '/api/limits')).body;
  await page.waitForFunction((max) => document.querySelector('#signup-form input[name=fullName]').maxLength === max, limits.fullNameMax);
  const minimum = await page.evaluate(() => document.querySelector('#signup-form input[name=password]').minLength);
  check(minimum === limits.passwordMin, `the new password's minimum is ${minimum}, not the server's ${limits.passwordMin}`);
  await logIn(page, uma.email);

  // 1. Opening a chat from people-search results brings back the chat list, and the new chat joins it live.
  await page.fill('#people-search', 'Vic');
  await page.locator('#sidebar-list .list-title', { hasText: 'People' }).waitFor();
  await page.locator('#sidebar-list .chat-item', { hasText: vic.fullName }).click();
  await page.locator('#peer-name', { hasText: vic.fullName }).waitFor();
  check((await page.inputValue('#people-search')) === '', 'the search box is emptied');
  await page.locator('#sidebar-list .list-title').waitFor({ state: 'detached' });
  await page.fill('#message-input', 'Hello Vic');
  await page.click('#send');
  await chatRow(page, vic.fullName).waitFor();

  // 2. The tab title counts unread messages of the other chats.
  await rest('POST', `/api/messages/send/${uma.id}`, wes.token, { text: 'Wes says hi' });
  await page.waitForFunction(() => document.title === '(1) ChatBox');
  await chatRow(page, wes.fullName).click();
  await page.waitForFunction(() => document.title === 'ChatBox');

  // 3. Read ticks are plainly unlike delivered ones (not a faint shade).
  await page.fill('#message-input', 'first to Wes');
  await page.click('#send');
  await page.locator('#messages .message.mine', { hasText: 'first to Wes' }).locator('.ticks[data-status="sent"]').waitFor();
  await page.fill('#message-input', 'second to Wes');
  await page.click('#send');
  await page.locator('#messages .message.mine', { hasText: 'second to Wes' }).locator('.ticks[data-status="sent"]').waitFor();
  const wesSocket = await connect(wes); // Wes comes online: both become delivered
  await page.locator('#messages .message.mine .ticks[data-status="delivered"]').nth(1).waitFor();
  const ids = await page.locator('#messages .message.mine').evaluateAll((els) => els.map((el) => el.dataset.id));
  check((await rest('PUT', `/api/messages/read/${ids[0]}`, wes.token)).status === 200, 'Wes reads the first');
  const read = page.locator('#messages .message.mine .ticks[data-status="read"]');
  await read.waitFor();
  const delivered = page.locator('#messages .message.mine .ticks[data-status="delivered"]');
  const [readColor, deliveredColor] = await Promise.all(
    [read, delivered].map((l) => l.evaluate((el) => getComputedStyle(el).color)),
  );
  const distance = Math.hypot(...rgb(readColor).map((c, i) => c - rgb(deliveredColor)[i]));
  check(distance > 120, `read (${readColor}) and delivered (${deliveredColor}) ticks differ plainly`);
  const ticksShot = await screenshot(page, 'client-fixes-ticks.png');

  // 4. Block asks first: dismissed, nothing changes.
  await menuItem(page, '#toggle-block');
  await page.locator('#confirm-text', { hasText: `Block ${wes.fullName}?` }).waitFor();
  await page.click('#confirm-cancel');
  await page.locator('#toggle-block', { hasText: /^Block$/ }).waitFor({ state: 'attached' });
  const stillUnblocked = await rest('GET', '/api/users/blocked', uma.token);
  check(stillUnblocked.body.length === 0, 'a dismissed confirmation blocks nobody');

  // 5. The blocked side sees a neutral notice, and it goes away when the block ends.
  const vicSocket = await connect(vic);
  await chatRow(page, vic.fullName).click();
  await page.locator('#peer-name', { hasText: vic.fullName }).waitFor();
  check((await rest('POST', `/api/users/block/${uma.id}`, vic.token)).status === 200, 'Vic blocks Uma');
  await page.locator('#composer-blocked', { hasText: "You can't send messages to this chat." }).waitFor();
  await page.fill('#message-input', 'Are you there?');
  await page.click('#send');
  await page.locator('#messages .message.failed', { hasText: 'Are you there?' }).waitFor();
  const shown = await page.locator('body').innerText();
  check(!/has blocked you|blocked you/i.test(shown), 'nothing says who blocked whom');
  check((await rest('POST', `/api/users/unblock/${uma.id}`, vic.token)).status === 200, 'Vic unblocks Uma');
  await page.locator('#composer-blocked').waitFor({ state: 'hidden' });

  // 6. Clear chat: asks first, empties the conversation for Uma only, and stays so after a reload.
  await menuItem(page, '#clear-chat');
  await page.click('#confirm-ok');
  await page.locator('#messages .message').first().waitFor({ state: 'detached' });
  await page.reload();
  await waitConnected(page);
  const history = page.waitForResponse((r) => r.url().includes(`/api/messages/${vic.id}?`));
  await chatRow(page, vic.fullName).click();
  await page.locator('#peer-name', { hasText: vic.fullName }).waitFor();
  check((await (await history).json()).length === 0, 'the server hides the cleared messages from Uma');
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  check((await page.locator('#messages .message').count()) === 0, 'the cleared chat stays empty');
  const vicHistory = await rest('GET', `/api/messages/${uma.id}`, vic.token);
  check(vicHistory.body.some((m) => m.text === 'Hello Vic'), 'Vic still has the messages');

  // 7. Blocked people: block Wes (confirmed), then unblock him from the list in the profile dialog.
  await chatRow(page, wes.fullName).click();
  await page.locator('#peer-name', { hasText: wes.fullName }).waitFor();
  await menuItem(page, '#toggle-block');
  await page.click('#confirm-ok');
  await page.locator('#composer-blocked', { hasText: `You blocked ${wes.fullName}` }).waitFor();
  await page.click('#open-profile');
  const row = page.locator('#blocked-list li', { hasText: wes.fullName });
  await row.waitFor();
  await row.locator('button', { hasText: 'Unblock' }).click();
  await page.locator('#blocked-list li', { hasText: 'Nobody.' }).waitFor();
  check((await rest('GET', '/api/users/blocked', uma.token)).body.length === 0, 'unblocked on the server');

  // 8. Profile and password: a new name shows at once and after a reload; the new password signs in.
  const newName = `Uma Renamed ${RUN}`;
  await page.fill('#profile-form input[name=fullName]', newName);
  await page.click('#profile-form button[type=submit]');
  await page.locator('#me-name', { hasText: newName }).waitFor();
  await page.fill('#password-form input[name=currentPassword]', PASSWORD);
  await page.fill('#password-form input[name=newPassword]', 'a brand new secret');
  await page.click('#password-form button[type=submit]');
  await page.locator('#toast', { hasText: 'Password changed.' }).waitFor();
  await page.click('#close-profile');
  await page.locator('#connection[data-status="online"]').waitFor(); // the socket signed in again
  await page.reload();
  await waitConnected(page);
  await page.locator('#me-name', { hasText: newName }).waitFor();
  const oldToken = await rest('GET', '/api/auth/check', uma.token);
  check(oldToken.status === 401, 'the old token stopped working');
  await page.click('#logout');
  await page.locator('#login-form').waitFor();
  const form = page.locator('#login-form');
  await form.locator('input[name=email]').fill(uma.email);
  await form.locator('input[name=password]').fill('a brand new secret');
  await form.locator('button[type=submit]').click();
  await waitConnected(page);

  // 9. On a 390 px phone the peer's name is not cut by the header's buttons, which all fit.
  const phone = await newUserPage(browser, { viewport: { width: 390, height: 780 }, name: 'phone' });
  await phone.goto(BASE_URL);
  const phoneForm = phone.locator('#login-form');
  await phoneForm.locator('input[name=email]').fill(uma.email);
  await phoneForm.locator('input[name=password]').fill('a brand new secret');
  await phoneForm.locator('button[type=submit]').click();
  await waitConnected(phone);
  await chatRow(phone, wes.fullName).click();
  await phone.locator('#peer-name', { hasText: wes.fullName }).waitFor();
  const fits = await phone.evaluate(() => {
    const name = document.querySelector('#peer-name');
    const inside = (el) => {
      const r = el.getBoundingClientRect();
      return r.left >= 0 && r.right <= window.innerWidth && r.width > 0;
    };
    return {
      nameWhole: name.scrollWidth <= name.clientWidth,
      buttons: ['#back', '#toggle-search', '#chat-menu-button'].every((s) => inside(document.querySelector(s))),
    };
  });
  check(fits.nameWhole, 'the peer name shows whole on a phone');
  check(fits.buttons, 'the header buttons fit on a phone');
  await phone.click('#chat-menu-button');
  for (const item of ['#toggle-pin', '#clear-chat', '#toggle-block']) {
    const box = await phone.locator(item).boundingBox();
    check(box && box.x >= 0 && box.x + box.width <= 390, `${item} shows within the screen`);
  }
  const phoneShot = await screenshot(phone, 'client-fixes-phone.png');

  wesSocket.close();
  vicSocket.close();
  const problems = [...page.problems, ...phone.problems];
  check(problems.length === 0, `the pages reported problems:\n${problems.join('\n')}`);
  return { screenshots: [ticksShot, phoneShot] };
});
