// Nothing missed: Ann's tab goes offline; meanwhile Ben reads her message and writes three, and Ann pins
// Ben from another device. Back online, without a reload, Ann's open tab shows all of it (messages,
// read ticks, the pin) from the replayed event stream, not by refetching its lists; and its kept
// position is the server's. Prints a JSON summary; exits non-zero on failure.
import { chatRow, check, main, newUserPage, openChatWith, PASSWORD, rest, RUN, screenshot, signUp } from './lib.mjs';

const ANN = { name: `Ann ${RUN}`, email: `ann-${RUN}@example.com` };
const BEN = { name: `Ben ${RUN}`, email: `ben-${RUN}@example.com` };
const HELLO = `Hi Ben, Ann here (${RUN})`;
const AWAY = [1, 2, 3].map((n) => `While you were away ${n} (${RUN})`);

await main(async (browser) => {
  const ann = await newUserPage(browser, { name: 'Ann' });
  const ben = await newUserPage(browser, { name: 'Ben' });
  await signUp(ann, ANN.name, ANN.email);
  await signUp(ben, BEN.name, BEN.email);

  // Ann writes to Ben; Ben's client acknowledges delivery, but he has not opened the chat.
  await openChatWith(ann, BEN.name);
  await ann.fill('#message-input', HELLO);
  await ann.press('#message-input', 'Enter');
  const hello = ann.locator('#messages .message.mine', { hasText: HELLO });
  await hello.locator('.ticks[data-status="delivered"]').waitFor();
  await chatRow(ben, ANN.name).locator('.badge', { hasText: /^1$/ }).waitFor();

  // Ann's tab loses the network: its socket drops.
  await ann.evaluate(() => {
    window.stillTheSamePage = true;
  });
  await ann.context().setOffline(true);
  await ann.locator('#connection[data-status="offline"]').waitFor();
  const listLoads = [];
  ann.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (path === '/api/messages/chats' || path.startsWith('/api/messages/') || path === '/api/sync') listLoads.push(path);
  });

  // Meanwhile: Ben opens the chat (reading Ann's message) and writes three messages...
  await chatRow(ben, ANN.name).click();
  await ben.locator('#messages .message.theirs', { hasText: HELLO }).waitFor();
  for (const text of AWAY) {
    await ben.fill('#message-input', text);
    await ben.press('#message-input', 'Enter');
    await ben.locator('#messages .message.mine', { hasText: text }).locator('.ticks[data-status="sent"]').waitFor();
  }
  // ...and Ann pins Ben from her phone.
  const login = await rest('POST', '/api/auth/login', null, { email: ANN.email, password: PASSWORD });
  check(login.status === 200, `Ann's second device could not log in (${login.status})`);
  const pinned = await rest('POST', `/api/users/pin/${await userId(ben)}`, login.body.token);
  check(pinned.status === 200, `the pin from the other device failed (${pinned.status})`);
  const position = (await rest('GET', '/api/sync?limit=1', login.body.token)).body.position;

  // Back online: the same page catches up.
  await ann.context().setOffline(false);
  await ann.locator('#connection[data-status="online"]').waitFor();
  for (const text of AWAY) await ann.locator('#messages .message.theirs', { hasText: text }).waitFor();
  await hello.locator('.ticks[data-status="read"]').waitFor();
  await chatRow(ann, BEN.name).locator('.pin').waitFor();
  await ann.locator('#toggle-pin', { hasText: 'Unpin' }).waitFor({ state: 'attached' }); // in the header's menu
  check(await ann.evaluate(() => window.stillTheSamePage === true), 'the page was not reloaded');
  const theirs = await ann.locator('#messages .message.theirs .text').allTextContents();
  check(
    JSON.stringify(theirs) === JSON.stringify(AWAY),
    `each missed message shows once, in order: ${JSON.stringify(theirs)}`,
  );
  // Ann had the chat open, so Ben's messages became read when they reached her.
  for (const text of AWAY) {
    await ben.locator('#messages .message.mine', { hasText: text }).locator('.ticks[data-status="read"]').waitFor();
  }
  // Caught up from the stream, not by reloading lists; and the kept position is the server's.
  check(listLoads.length === 0, `no list was refetched on reconnect: ${listLoads.join(', ')}`);
  const kept = await ann.evaluate(
    (key) => Number(window.localStorage.getItem(key)),
    `chatbox.sync.${login.body._id}`,
  );
  check(kept === position, `the page keeps the stream position (${kept}, server ${position})`);

  const shot = await screenshot(ann, 'web-client-resumed.png');
  const problems = [...ann.problems, ...ben.problems];
  check(problems.length === 0, `the pages reported problems:\n${problems.join('\n')}`);
  return { missed: theirs.length, position, screenshots: [shot] };
});

async function userId(page) {
  return page.evaluate(async () => (await (await fetch('/api/auth/check', { credentials: 'same-origin' })).json())._id);
}
