// Two users in two browser contexts: A sends a text and an image, B sees them live, B reading turns
// A's ticks to read, typing shows on both sides. Prints a JSON summary; exits non-zero on failure.
import {
  RUN,
  chatRow,
  check,
  gradientPng,
  main,
  newUserPage,
  openChatWith,
  screenshot,
  signUp,
} from './lib.mjs';

const ALICE = { name: `Alice ${RUN}`, email: `alice-${RUN}@example.com` };
const BOB = { name: `Bob ${RUN}`, email: `bob-${RUN}@example.com` };
const HELLO = `Hello Bob, this is Alice (${RUN})`;

async function tickStatuses(page) {
  return page.locator('#messages .message.mine').evaluateAll((els) => els.map((el) => el.dataset.status));
}

await main(async (browser) => {
  const a = await newUserPage(browser, { name: 'A' });
  const b = await newUserPage(browser, { name: 'B' });
  await signUp(a, ALICE.name, ALICE.email);
  await signUp(b, BOB.name, BOB.email);

  // A finds B through the people search and sends a text.
  await openChatWith(a, BOB.name);
  await a.fill('#message-input', HELLO);
  await a.press('#message-input', 'Enter');
  const helloBubble = a.locator('#messages .message.mine', { hasText: HELLO });
  await helloBubble.waitFor();
  check((await a.inputValue('#message-input')) === '', 'the composer is cleared after sending');

  // B sees the new chat live: A's name, the text as last message, one unread, A online.
  const rowOnB = chatRow(b, ALICE.name);
  await rowOnB.locator('.chat-preview', { hasText: HELLO }).waitFor();
  await rowOnB.locator('.badge', { hasText: /^1$/ }).waitFor();
  await rowOnB.locator('.avatar .dot').waitFor();

  // B's client acknowledged delivery: A's tick turns to delivered (B has not opened the chat).
  await helloBubble.locator('.ticks[data-status="delivered"]').waitFor();

  // A sends an image through the attach button; bubbles show its thumbnail (longer side 320 px).
  await a.setInputFiles('#file-input', { name: `sunset-${RUN}.png`, mimeType: 'image/png', buffer: gradientPng(800, 500) });
  await a.locator('#attachments .chip', { hasText: 'sunset' }).waitFor();
  await a.click('#send');
  const imageOnA = a.locator('#messages .message.mine img');
  await imageOnA.waitFor();
  await a.waitForFunction(() => {
    const img = document.querySelector('#messages .message.mine img');
    return img && img.complete && img.naturalWidth === 320 && img.src.endsWith('/thumb');
  });
  await a.locator('#attachments .chip').waitFor({ state: 'detached' });

  // B's chat row updates live: two unread, the photo as last message.
  await rowOnB.locator('.badge', { hasText: /^2$/ }).waitFor();
  await rowOnB.locator('.chat-preview', { hasText: 'Photo' }).waitFor();

  // B opens the conversation: both messages are there and the image really loads (cookie auth).
  await rowOnB.click();
  await b.locator('#peer-name', { hasText: ALICE.name }).waitFor();
  await b.locator('#messages .message.theirs', { hasText: HELLO }).waitFor();
  await b.waitForFunction(() => {
    const img = document.querySelector('#messages .message.theirs img');
    return img && img.complete && img.naturalWidth === 320 && img.naturalHeight === 200 && img.src.endsWith('/thumb');
  });
  await rowOnB.locator('.badge').waitFor({ state: 'detached' });

  // A click on the thumbnail opens the full image, with its size; Escape closes it.
  await b.click('#messages .message.theirs a.image');
  await b.locator('#viewer').waitFor({ state: 'visible' });
  await b.waitForFunction(() => {
    const img = document.querySelector('#viewer-image');
    return img && img.complete && img.naturalWidth === 800 && img.naturalHeight === 500 && !img.src.endsWith('/thumb');
  });
  const viewerCaption = await b.locator('#viewer-caption').textContent();
  check(viewerCaption.includes('sunset') && viewerCaption.includes('800×500'), `the viewer names the image: ${viewerCaption}`);
  const viewerShot = await screenshot(b, 'web-client-viewer.png');
  await b.keyboard.press('Escape');
  await b.locator('#viewer').waitFor({ state: 'hidden' });

  // Opening the chat read both messages: A's ticks turn to read, live.
  await a.waitForFunction(() => {
    const mine = [...document.querySelectorAll('#messages .message.mine')];
    return mine.length === 2 && mine.every((el) => el.dataset.status === 'read');
  });
  const statusesOnA = await tickStatuses(a);
  check(
    (await a.locator('#messages .message.mine .ticks[data-status="read"]').count()) === 2,
    'both ticks show read',
  );

  // Typing: while A types, B sees the indicator; it goes when A sends.
  const typingOnB = b.locator('#typing', { hasText: `${ALICE.name} is typing` });
  await Promise.all([
    typingOnB.waitFor({ state: 'visible' }),
    a.locator('#message-input').pressSequentially('Do you like the picture?', { delay: 40 }),
  ]);
  await b.locator('#peer-status', { hasText: 'typing' }).waitFor();
  await a.press('#message-input', 'Enter');
  await b.locator('#messages .message.theirs', { hasText: 'Do you like the picture?' }).waitFor();
  await typingOnB.waitFor({ state: 'hidden' });
  // B has the chat open, so this one is read on arrival.
  await a.locator('#messages .message.mine', { hasText: 'Do you like the picture?' }).locator('.ticks[data-status="read"]').waitFor();

  // And the other way round: B types, A sees it, B's reply arrives and is read by A's open chat.
  const typingOnA = a.locator('#typing', { hasText: `${BOB.name} is typing` });
  await Promise.all([
    typingOnA.waitFor({ state: 'visible' }),
    b.locator('#message-input').pressSequentially('Yes, lovely colours!', { delay: 40 }),
  ]);
  await b.press('#message-input', 'Enter');
  await a.locator('#messages .message.theirs', { hasText: 'Yes, lovely colours!' }).waitFor();
  await b.locator('#messages .message.mine', { hasText: 'Yes, lovely colours!' }).locator('.ticks[data-status="read"]').waitFor();
  await typingOnA.waitFor({ state: 'hidden' });

  // A's chat list shows B's reply as the last message, with no unread badge (the chat is open).
  const rowOnA = chatRow(a, BOB.name);
  await rowOnA.locator('.chat-preview', { hasText: 'Yes, lovely colours!' }).waitFor();
  check((await rowOnA.locator('.badge').count()) === 0, 'no unread badge for the open chat');

  // For the screenshots: B starts another message, so A shows the typing indicator too.
  await Promise.all([
    typingOnA.waitFor({ state: 'visible' }),
    b.locator('#message-input').pressSequentially('Send me another', { delay: 40 }),
  ]);
  const shots = [await screenshot(a, 'web-client-a.png'), await screenshot(b, 'web-client-b.png'), viewerShot];
  const problems = [...a.problems, ...b.problems];
  check(problems.length === 0, `the pages reported problems:\n${problems.join('\n')}`);
  return { statusesOnA, viewerCaption, screenshots: shots };
});
