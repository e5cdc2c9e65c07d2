// Three users in three browser contexts and one group: A creates it from the sidebar (name, picks B and
// C), everyone sees it live; sender names on bubbles; "Alice is typing…"; B and C read, and A's message
// info says "Read by 2 of 2"; A promotes B, B renames the group, A removes C (C is left read-only),
// A mutes the group. Prints a JSON summary; exits non-zero on failure.
import { RUN, check, main, newUserPage, screenshot, signUp } from './lib.mjs';

const ALICE = { name: `Alice ${RUN}`, email: `g-alice-${RUN}@example.com` };
const BOB = { name: `Bob ${RUN}`, email: `g-bob-${RUN}@example.com` };
const CAROL = { name: `Carol ${RUN}`, email: `g-carol-${RUN}@example.com` };
const GROUP = `Trip ${RUN}`;
const RENAMED = `Trip planning ${RUN}`;
const HELLO = `Hello both, packing list soon (${RUN})`;

function groupRow(page, name) {
  return page.locator('#sidebar-list .chat-item.group', { hasText: name });
}

await main(async (browser) => {
  const a = await newUserPage(browser, { name: 'A' });
  const b = await newUserPage(browser, { name: 'B' });
  const c = await newUserPage(browser, { name: 'C' });
  await signUp(a, ALICE.name, ALICE.email);
  await signUp(b, BOB.name, BOB.email);
  await signUp(c, CAROL.name, CAROL.email);

  // A creates the group: a name, B and C picked from the contacts.
  await a.click('#new-group');
  const form = a.locator('#new-group-form');
  await form.locator('input[name=name]').fill(GROUP);
  await form.locator('label.pick', { hasText: BOB.name }).locator('input').check();
  await form.locator('label.pick', { hasText: CAROL.name }).locator('input').check();
  await form.locator('button[type=submit]').click();
  await a.locator('#peer-name', { hasText: GROUP }).waitFor();
  await a.locator('#peer-status', { hasText: '3 members' }).waitFor();
  await a.locator('#messages .system-message', { hasText: `created the group “${GROUP}”` }).waitFor();

  // B and C get it live (new-chat), with the created message as preview.
  for (const page of [b, c]) await groupRow(page, GROUP).locator('.chat-preview', { hasText: 'created the group' }).waitFor();

  // A writes; B sees it with A's name on the bubble and a badge.
  await a.fill('#message-input', HELLO);
  await a.press('#message-input', 'Enter');
  const mine = a.locator('#messages .message.mine', { hasText: HELLO });
  await mine.waitFor();
  await groupRow(b, GROUP).locator('.badge', { hasText: /^1$/ }).waitFor();
  await groupRow(b, GROUP).click();
  const onB = b.locator('#messages .message.theirs', { hasText: HELLO });
  await onB.locator('.sender', { hasText: ALICE.name }).waitFor();

  // Typing: A types, B sees "Alice … is typing…" in the group header line.
  await a.type('#message-input', 'Also');
  await b.locator('#typing', { hasText: `${ALICE.name} is typing…` }).waitFor();
  await a.fill('#message-input', '');

  // B has read it (open group); C opens it too: everyone has read it.
  await groupRow(c, GROUP).click();
  await c.locator('#messages .message.theirs', { hasText: HELLO }).waitFor();
  await mine.locator('.ticks[data-status="read"]').waitFor();
  await mine.locator('button.info').click();
  await a.locator('#panel .read-by', { hasText: 'Read by 2 of 2' }).waitFor();
  const info = await screenshot(a, `group-info-${RUN}.png`);
  await a.click('#panel-close');

  // A promotes B to admin in the members panel.
  await a.click('#show-members');
  const bobRow = a.locator('#panel .member', { hasText: BOB.name });
  await bobRow.locator('button', { hasText: 'Make admin' }).click();
  await a.locator('#panel .member[data-role="admin"]', { hasText: BOB.name }).waitFor();
  await a.click('#panel-close');
  await b.locator('#messages .system-message', { hasText: 'an admin' }).waitFor();

  // B, now an admin, renames the group; all three see the new name.
  await b.click('#show-members');
  await b.locator('#rename-form input[name=name]').fill(RENAMED);
  await b.locator('#rename-form button[type=submit]').click();
  await b.click('#panel-close');
  for (const page of [a, b, c]) await page.locator('#peer-name', { hasText: RENAMED }).waitFor();
  await c.locator('#messages .system-message', { hasText: `renamed the group to “${RENAMED}”` }).waitFor();

  // A removes C: C keeps the history, read-only, and cannot write any more.
  await a.click('#show-members');
  await a.locator('#panel .member', { hasText: CAROL.name }).locator('button', { hasText: 'Remove' }).click();
  await a.locator('#panel .member', { hasText: CAROL.name }).waitFor({ state: 'detached' });
  await a.click('#panel-close');
  await a.locator('#peer-status', { hasText: '2 members' }).waitFor();
  await c.locator('#composer-blocked', { hasText: 'no longer a member' }).waitFor();
  check(await c.locator('#composer').isHidden(), "a former member's composer is hidden");
  check(await c.locator('#messages .message', { hasText: HELLO }).count() === 1, 'the former member keeps the history');

  // A mutes the group (in the conversation header's menu).
  await a.click('#chat-menu-button');
  await a.click('#toggle-mute');
  await a.locator('#toggle-mute', { hasText: 'Unmute' }).waitFor({ state: 'attached' });
  await groupRow(a, RENAMED).locator('.muted-mark').waitFor();
  const shots = [info, await screenshot(a, `group-a-${RUN}.png`), await screenshot(c, `group-c-${RUN}.png`)];

  // C, a former member, clears the group: it leaves C's list.
  await c.click('#chat-menu-button');
  await c.click('#clear-chat');
  await c.click('#confirm-ok');
  await groupRow(c, RENAMED).waitFor({ state: 'detached' });

  const problems = [...a.problems, ...b.problems, ...c.problems];
  check(problems.length === 0, problems.join('\n'));
  return { readBy: 'Read by 2 of 2', renamed: RENAMED, screenshots: shots };
});
