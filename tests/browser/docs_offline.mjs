// /api/docs (Swagger UI) and /api/events render with no network beyond the ChatBox server itself:
// every request to another host is aborted and recorded, and the test fails if there is any.
import { BASE_URL, check, main, newUserPage, screenshot } from './lib.mjs';

await main(async (browser) => {
  const page = await newUserPage(browser, { name: 'docs' });
  const origin = new URL(BASE_URL).origin;
  const elsewhere = [];
  await page.context().route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    elsewhere.push(url);
    return route.abort('internetdisconnected');
  });

  await page.goto(`${BASE_URL}/api/docs`);
  // Swagger UI renders one block per operation once it has loaded the document.
  await page.locator('.opblock').first().waitFor();
  const operations = await page.locator('.opblock').count();
  await page.locator('.opblock-summary-path', { hasText: '/api/messages/send/{userId}' }).first().waitFor();
  const docsShot = await screenshot(page, 'docs-offline.png');

  await page.goto(`${BASE_URL}/api/events`);
  await page.locator('section.event#client-new-message').waitFor();
  const events = await page.locator('section.event').count();
  const serverEvents = await page.locator('section.event[id^="server-"]').count();
  const eventsShot = await screenshot(page, 'events-offline.png');

  check(elsewhere.length === 0, `the pages asked for other hosts: ${elsewhere.join(', ')}`);
  check(page.problems.length === 0, page.problems.join('\n'));
  return { operations, events, serverEvents, screenshots: [docsShot, eventsShot] };
});
