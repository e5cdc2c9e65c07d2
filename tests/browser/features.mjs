// One user in the browser, two others driven through the REST API: log in, chat list order and
// badges, history paging on scroll-up, search in a conversation, sending a file, pin / unpin,
// block / unblock, logout, a phone-sized screen, and the page without socket.io-client.
import { BASE_URL, chatRow, check, logIn, main, newUserPage, rest, restSignUp, RUN, screenshot, waitConnected } from './lib.mjs';

const HISTORY = 75; // messages from Pete: more than two pages of 30
const label = (n) => `Message ${String(n).padStart(3, '0')} from Pete`;

async function send(from, to, text) {
  return rest('POST', `/api/messages/send/${to.id}`, from.token, { text });
}

/** Pin, clear and block live in the conversation header's menu. */
async function menuItem(page, selector) {
  await page.click('#chat-menu-button');
  await page.click(selector);
}

async function firstRowName(page) {
  return page.locator('#sidebar-list .chat-item .chat-name').first().textContent();
}

async function bubbleTexts(page) {
  return page.locator('#messages .message .text').allTextContents();
}

await main(async (browser) => {
  const uma = await restSignUp('Uma', 'features');
  const quinn = await restSignUp('Quinn', 'features');
  const pete = await restSignUp('Pete', 'features');
  check((await send(quinn, uma, `Hi Uma, Quinn here`)).status === 201, 'Quinn could not send');
  for (let n = 1; n <= HISTORY; n += 1) {
    const { status } = await send(pete, uma, label(n));
    check(status === 201, `Pete's message ${n} was refused`);
  }

  // Log in through the form: chats newest first, with unread badges.
  const page = await newUserPage(browser, { name: 'Uma' });
  await page.goto(BASE_URL);
  await page.locator('#auth-view').waitFor({ state: 'visible' });
  await logIn(page, uma.email);
  await chatRow(page, pete.fullName).locator('.badge', { hasText: String(HISTORY) }).waitFor();
  await chatRow(page, quinn.fullName).locator('.badge', { hasText: /^1$/ }).waitFor();
  check((await firstRowName(page)) === pete.fullName, 'the most recent chat comes first');

  // History: the newest page first.
  await chatRow(page, pete.fullName).click();
  await page.locator('#messages .message', { hasText: label(HISTORY) }).waitFor();
  const firstPage = await page.locator('#messages .message').count();
  check(firstPage < HISTORY, `only the newest page is loaded at first (got ${firstPage})`);
  await chatRow(page, pete.fullName).locator('.badge').waitFor({ state: 'detached' });

  // Scrolling up loads the rest, once each, in order.
  for (let round = 0; round < 10 && !(await page.locator('.history-start', { hasText: 'beginning' }).count()); round += 1) {
    const before = await page.locator('#messages .message').count();
    await page.locator('#messages').evaluate((box) => {
      box.scrollTop = 0;
      box.dispatchEvent(new Event('scroll'));
    });
    await page.waitForFunction(
      (n) => document.querySelectorAll('#messages .message').length > n || document.querySelector('.history-start')?.textContent.includes('beginning'),
      before,
    );
  }
  const texts = await bubbleTexts(page);
  const expected = Array.from({ length: HISTORY }, (_, i) => label(i + 1));
  check(JSON.stringify(texts) === JSON.stringify(expected), `the whole history, oldest first, no repeats (got ${texts.length})`);

  // Search in a fresh view of the chat (newest page only): the hit is found by paging back.
  await chatRow(page, quinn.fullName).click();
  await page.locator('#peer-name', { hasText: quinn.fullName }).waitFor();
  await chatRow(page, pete.fullName).click();
  await page.locator('#messages .message', { hasText: label(HISTORY) }).waitFor();
  check((await page.locator('#messages .message').count()) === firstPage, 'reopening shows the newest page again');
  await page.click('#toggle-search');
  await page.fill('#search-input', 'message 01');
  await page.press('#search-input', 'Enter');
  const hits = page.locator('#search-results .search-hit');
  await hits.first().waitFor();
  const hitTexts = await hits.locator('.hit-text').allTextContents();
  check(hitTexts.length === 10, `ten messages contain "message 01" (got ${hitTexts.length})`);
  check(hitTexts[0] === label(19), `search results come newest first (got ${hitTexts[0]})`);
  check((await hits.first().locator('mark').textContent()) === 'Message 01', 'the match is highlighted');
  await hits.filter({ hasText: label(12) }).click();
  const target = page.locator('#messages .message', { hasText: label(12) });
  await target.waitFor();
  await page.waitForFunction((text) => {
    const box = document.querySelector('#messages').getBoundingClientRect();
    const bubble = [...document.querySelectorAll('#messages .message')].find((el) => el.textContent.includes(text));
    if (!bubble) return false;
    const rect = bubble.getBoundingClientRect();
    return rect.top >= box.top && rect.bottom <= box.bottom;
  }, label(12));
  await page.fill('#search-input', 'zebra');
  await page.press('#search-input', 'Enter');
  await page.locator('#search-results', { hasText: 'No messages contain' }).waitFor();
  await page.click('#toggle-search');
  await page.locator('#search-panel').waitFor({ state: 'hidden' });

  // Pin Quinn's chat: it moves to the top and stays there after a reload.
  await chatRow(page, quinn.fullName).click();
  await page.locator('#peer-name', { hasText: quinn.fullName }).waitFor();
  await menuItem(page, '#toggle-pin');
  await page.locator('#toggle-pin', { hasText: 'Unpin' }).waitFor({ state: 'attached' });
  await chatRow(page, quinn.fullName).locator('.pin').waitFor();
  check((await firstRowName(page)) === quinn.fullName, 'a pinned chat comes first');
  await page.reload();
  await waitConnected(page);
  await chatRow(page, quinn.fullName).locator('.pin').waitFor();
  check((await firstRowName(page)) === quinn.fullName, 'the pin is kept by the server');
  await chatRow(page, quinn.fullName).click();
  await menuItem(page, '#toggle-pin');
  await page.locator('#toggle-pin', { hasText: /^Pin$/ }).waitFor({ state: 'attached' });
  await chatRow(page, quinn.fullName).locator('.pin').waitFor({ state: 'detached' });
  check((await firstRowName(page)) === pete.fullName, 'unpinned, the chat goes back to its place');

  // Send a file (not an image): it shows as a download link that serves the same bytes.
  const notes = `Shopping list for ${RUN}\nmilk\neggs\n`;
  await page.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(notes) });
  await page.fill('#message-input', 'Here is the list');
  await page.click('#send');
  const fileLink = page.locator('#messages .message.mine a.file', { hasText: 'notes.txt' });
  await fileLink.waitFor();
  const href = await fileLink.getAttribute('href');
  const served = await page.evaluate(async (url) => (await fetch(url, { credentials: 'same-origin' })).text(), href);
  check(served === notes, 'the file link serves what was sent');
  const shownSize = await fileLink.locator('.file-size').textContent();
  check(shownSize === `${Buffer.byteLength(notes)} B`, `the file card shows the file's size (${shownSize})`);
  await page.locator('#messages .message.mine', { hasText: 'Here is the list' }).waitFor();

  // Block Quinn: no composer, Quinn's sends are refused; unblock: Quinn's next message arrives live.
  await menuItem(page, '#toggle-block');
  await page.click('#confirm-ok'); // blocking asks first
  await page.locator('#toggle-block', { hasText: 'Unblock' }).waitFor({ state: 'attached' });
  await page.locator('#composer-blocked', { hasText: `You blocked ${quinn.fullName}` }).waitFor();
  await page.locator('#composer').waitFor({ state: 'hidden' });
  const refused = await send(quinn, uma, 'Are you there?');
  check(refused.status === 403 && refused.body.code === 'blocked', `a blocked user cannot send (${refused.status})`);
  await menuItem(page, '#toggle-block');
  await page.locator('#toggle-block', { hasText: /^Block$/ }).waitFor({ state: 'attached' });
  await page.locator('#composer').waitFor({ state: 'visible' });
  check((await send(quinn, uma, 'Unblocked at last')).status === 201, 'Quinn can send again');
  await page.locator('#messages .message.theirs', { hasText: 'Unblocked at last' }).waitFor();
  const desktopShot = await screenshot(page, 'web-client-features.png');

  // Log out: back to the form, and a reload does not sign in again (the cookie is gone).
  await page.click('#logout');
  await page.locator('#auth-view').waitFor({ state: 'visible' });
  await page.reload();
  await page.locator('#auth-view').waitFor({ state: 'visible' });
  check(await page.locator('#app-view').isHidden(), 'still signed out after a reload');

  // A phone-sized screen: one pane at a time.
  const phone = await newUserPage(browser, { name: 'phone', viewport: { width: 390, height: 760 } });
  await phone.goto(BASE_URL);
  await logIn(phone, uma.email);
  await chatRow(phone, pete.fullName).waitFor();
  check(await phone.locator('#conversation').isHidden(), 'on a phone the chat list comes alone');
  await chatRow(phone, quinn.fullName).click();
  await phone.locator('#messages .message', { hasText: 'Unblocked at last' }).waitFor();
  check(await phone.locator('.sidebar').isHidden(), 'an open conversation takes the whole screen');
  const phoneShot = await screenshot(phone, 'web-client-phone.png');
  await phone.click('#back');
  await phone.locator('.sidebar').waitFor({ state: 'visible' });

  // Without its socket.io client bundle the page says what is missing.
  const bare = await newUserPage(browser, { name: 'no-socketio' });
  bare.expectedFailures.add('/web/vendor/socket.io.min.js');
  await bare.route('**/web/vendor/socket.io.min.js', (route) => route.fulfill({ status: 404, body: '' }));
  await bare.goto(BASE_URL);
  await bare.locator('#setup-notice', { hasText: 'socket.io.min.js' }).waitFor({ state: 'visible' });
  check(await bare.locator('#auth-view').isHidden(), 'no sign-in form without the socket client');

  const problems = [...page.problems, ...phone.problems, ...bare.problems];
  check(problems.length === 0, `the pages reported problems:\n${problems.join('\n')}`);
  return { history: texts.length, firstPage, screenshots: [desktopShot, phoneShot] };
});
