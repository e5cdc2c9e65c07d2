// Message lifecycle in two browser contexts (Alice and Bob), with Carol driven through the REST API:
// edit by arrow-up and from the menu, the "edited" mark, reply with a quoted preview and a jump to
// the quoted message, reactions with counts, forward to a picked chat, delete for me and for everyone
// with a confirmation, and the "This message was deleted" tombstone. Each change shows on the other
// side live; a message taken back while unread leaves the other chat's unread badge. Prints a JSON
// summary; exits non-zero on failure.
import { chatRow, check, main, newUserPage, openChatWith, PASSWORD, rest, RUN, screenshot, signUp } from './lib.mjs';

const ALICE = { name: `Alice ${RUN}`, email: `alice-lc-${RUN}@example.com` };
const BOB = { name: `Bob ${RUN}`, email: `bob-lc-${RUN}@example.com` };

/** The bubble whose own text is exactly `text` (not one that merely quotes it). */
function bubble(page, text) {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.locator('#messages .message').filter({ has: page.locator('p.text', { hasText: exact }) });
}

/** Open a bubble's menu and click one of its items (or an emoji of its reaction row). */
async function fromMenu(page, text, action) {
  const target = bubble(page, text);
  await target.hover();
  await target.locator('.msg-menu-button').click();
  const menu = target.locator('.msg-menu');
  await menu.waitFor();
  if (action.emoji) await menu.locator(`.emoji-row button[data-emoji="${action.emoji}"]`).click();
  else await menu.locator(`button[data-action="${action}"]`).click();
}

async function send(page, text) {
  await page.fill('#message-input', text);
  await page.press('#message-input', 'Enter');
  await bubble(page, text).locator('.ticks[data-status="sent"], .ticks[data-status="delivered"], .ticks[data-status="read"]').waitFor();
}

await main(async (browser) => {
  const a = await newUserPage(browser, { name: 'A' });
  const b = await newUserPage(browser, { name: 'B' });
  await signUp(a, ALICE.name, ALICE.email);
  await signUp(b, BOB.name, BOB.email);
  const carolSignup = await rest('POST', '/api/auth/signup', null, {
    fullName: `Carol ${RUN}`,
    email: `carol-lc-${RUN}@example.com`,
    password: PASSWORD,
  });
  const carol = carolSignup.body;
  const aliceId = (await a.evaluate(async () => (await fetch('/api/auth/check')).json()))._id;
  const carolHello = await rest('POST', `/api/messages/send/${aliceId}`, carol.token, { text: 'Hi Alice, Carol here' });
  check(carolHello.status === 201, 'Carol could not write');

  // Alice writes to Bob; Bob opens the chat.
  await openChatWith(a, BOB.name);
  await send(a, 'Helo Bob');
  await send(a, 'Second thought');
  await chatRow(b, ALICE.name).click();
  await bubble(b, 'Second thought').waitFor();

  // Edit with arrow-up in the empty composer: the last message of mine.
  await a.press('#message-input', 'ArrowUp');
  await a.locator('#composer-context', { hasText: 'Editing' }).waitFor();
  check((await a.inputValue('#message-input')) === 'Second thought', 'arrow-up puts my last message in the composer');
  await a.fill('#message-input', 'Second thought, edited');
  await a.press('#message-input', 'Enter');
  await bubble(a, 'Second thought, edited').locator('.edited').waitFor();
  await bubble(b, 'Second thought, edited').locator('.edited').waitFor();
  await a.locator('#composer-context').waitFor({ state: 'hidden' });

  // Edit from the menu: the typo in the first message.
  await fromMenu(a, 'Helo Bob', 'Edit');
  await a.fill('#message-input', 'Hello Bob');
  await a.press('#message-input', 'Enter');
  await bubble(b, 'Hello Bob').locator('.edited').waitFor();
  check((await bubble(b, 'Helo Bob').count()) === 0, 'the old text is gone on the other side');

  // Bob replies to the first message: the quote shows in the composer, then in both bubbles.
  await fromMenu(b, 'Hello Bob', 'Reply');
  await b.locator('#composer-context', { hasText: 'Replying to' }).waitFor();
  await send(b, 'Hi Alice!');
  await bubble(b, 'Hi Alice!').locator('.quote', { hasText: 'Hello Bob' }).waitFor();
  const quoteOnA = bubble(a, 'Hi Alice!').locator('.quote', { hasText: 'Hello Bob' });
  await quoteOnA.waitFor();
  // Clicking the quote jumps to the quoted message.
  await quoteOnA.click();
  await a.locator('#messages .message.flash', { hasText: 'Hello Bob' }).first().waitFor();

  // Reactions: Alice picks 👍 on Bob's reply; Bob adds his by clicking the count; Alice takes hers back.
  await fromMenu(a, 'Hi Alice!', { emoji: '👍' });
  await bubble(b, 'Hi Alice!').locator('.reaction', { hasText: '👍 1' }).waitFor();
  await bubble(b, 'Hi Alice!').locator('.reaction[data-emoji="👍"]').click();
  await bubble(a, 'Hi Alice!').locator('.reaction.mine', { hasText: '👍 2' }).waitFor();
  await bubble(a, 'Hi Alice!').locator('.reaction[data-emoji="👍"]').click();
  await bubble(b, 'Hi Alice!').locator('.reaction', { hasText: '👍 1' }).waitFor();
  await fromMenu(b, 'Second thought, edited', { emoji: '😂' });
  await bubble(a, 'Second thought, edited').locator('.reaction', { hasText: '😂 1' }).waitFor();

  // Forward Bob's reply to Carol, picked from the chat list.
  await fromMenu(a, 'Hi Alice!', 'Forward');
  await a.locator('#forward-dialog').waitFor({ state: 'visible' });
  await a.locator('#forward-list .chat-item', { hasText: `Carol ${RUN}` }).click();
  await a.locator('#toast', { hasText: `Forwarded to Carol ${RUN}` }).waitFor();
  const carolHistory = await rest('GET', `/api/messages/${aliceId}`, carol.token);
  const forwarded = carolHistory.body.find((m) => m.text === 'Hi Alice!');
  check(forwarded && forwarded.forwarded === true, 'Carol has the forwarded message');
  await chatRow(a, `Carol ${RUN}`).locator('.chat-preview', { hasText: 'Hi Alice!' }).waitFor();

  // Delete for me (Bob, after confirming): gone for him only.
  await fromMenu(b, 'Second thought, edited', 'Delete for me');
  await b.locator('#confirm-dialog', { hasText: 'Delete this message for you' }).waitFor({ state: 'visible' });
  await b.click('#confirm-ok');
  await bubble(b, 'Second thought, edited').waitFor({ state: 'detached' });
  check((await bubble(a, 'Second thought, edited').count()) === 1, 'deleting for me leaves the other side alone');

  // Delete for everyone (Alice): a cancelled confirmation changes nothing; a confirmed one leaves a
  // tombstone on both sides, and Bob's quote of it says so.
  await fromMenu(a, 'Hello Bob', 'Delete for everyone');
  await a.locator('#confirm-dialog', { hasText: 'for everyone' }).waitFor({ state: 'visible' });
  await a.click('#confirm-cancel');
  await a.locator('#confirm-dialog').waitFor({ state: 'hidden' });
  check((await bubble(a, 'Hello Bob').count()) >= 1, 'cancelled: still there');
  await fromMenu(a, 'Hello Bob', 'Delete for everyone');
  await a.click('#confirm-ok');
  const tombstonesOnB = b.locator('#messages .message.deleted .tombstone', { hasText: 'This message was deleted' });
  await tombstonesOnB.waitFor();
  await a.locator('#messages .message.deleted .tombstone', { hasText: 'This message was deleted' }).waitFor();
  await bubble(b, 'Hi Alice!').locator('.quote', { hasText: 'This message was deleted' }).waitFor();
  check((await bubble(b, 'Hello Bob').count()) === 0, 'the deleted text is gone on the other side');

  // Carol takes back her unread message: Alice's badge for that chat goes, live.
  await chatRow(a, `Carol ${RUN}`).locator('.badge', { hasText: /^1$/ }).waitFor();
  const takeBack = await rest('DELETE', `/api/messages/${carolHello.body._id}?for=everyone`, carol.token);
  check(takeBack.status === 200, 'Carol could not delete her message');
  await chatRow(a, `Carol ${RUN}`).locator('.badge').waitFor({ state: 'detached' });

  const shots = [await screenshot(a, 'lifecycle-a.png'), await screenshot(b, 'lifecycle-b.png')];
  const problems = [...a.problems, ...b.problems];
  check(problems.length === 0, `the pages reported problems:\n${problems.join('\n')}`);
  return { tombstones: await tombstonesOnB.count(), screenshots: shots };
});
