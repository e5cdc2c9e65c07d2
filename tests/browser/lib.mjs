// Helpers for the browser tests: Debian's Chromium driven by playwright-core (never a downloaded browser).
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { deflateSync } from 'node:zlib';

import { chromium } from 'playwright-core';

export const BASE_URL = required('BASE_URL');
export const ARTIFACTS = process.env.ARTIFACTS_DIR || 'test-artifacts';
export const RUN = process.env.RUN_ID || String(Date.now());
export const PASSWORD = 'correct horse battery';
export const TIMEOUT_MS = 15000; // upper bound for any single condition to become true
const openPages = [];

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

export async function launch() {
  mkdirSync(ARTIFACTS, { recursive: true });
  // launch() gives every run a fresh temporary profile (user-data-dir) of its own.
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    timeout: 60000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page in a context of its own (its own cookies: one user), recording what goes wrong. */
export async function newUserPage(browser, { viewport = { width: 1100, height: 720 }, name = 'page' } = {}) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`${name}: page error: ${error.message}`));
  page.on('console', (message) => {
    // Failed requests are judged below by status, where an expected 401 can be told apart.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`${name}: console error: ${message.text()}`);
    }
  });
  page.on('response', (response) => {
    const url = new URL(response.url());
    const expected = url.pathname === '/api/auth/check' && response.status() === 401; // signed out at boot
    if (response.status() >= 400 && !expected && !page.expectedFailures?.has(url.pathname)) {
      problems.push(`${name}: HTTP ${response.status()} for ${response.request().method()} ${url.pathname}`);
    }
  });
  page.problems = problems;
  page.expectedFailures = new Set();
  page.label = name;
  openPages.push(page);
  return page;
}

export async function signUp(page, fullName, email) {
  await page.goto(BASE_URL);
  await page.click('#tab-signup');
  const form = page.locator('#signup-form');
  await form.locator('input[name=fullName]').fill(fullName);
  await form.locator('input[name=email]').fill(email);
  await form.locator('input[name=password]').fill(PASSWORD);
  await form.locator('button[type=submit]').click();
  await waitConnected(page);
}

export async function logIn(page, email) {
  const form = page.locator('#login-form');
  await form.locator('input[name=email]').fill(email);
  await form.locator('input[name=password]').fill(PASSWORD);
  await form.locator('button[type=submit]').click();
  await waitConnected(page);
}

export async function waitConnected(page) {
  await page.locator('#app-view').waitFor({ state: 'visible' });
  await page.locator('#connection[data-status="online"]').waitFor();
}

/** Search people in the sidebar and open the conversation with the one called `fullName`. */
export async function openChatWith(page, fullName) {
  await page.fill('#people-search', fullName);
  await page.locator('#sidebar-list .chat-item', { hasText: fullName }).first().click();
  await page.locator('#peer-name', { hasText: fullName }).waitFor();
  await page.fill('#people-search', '');
}

export function chatRow(page, fullName) {
  return page.locator('#sidebar-list .chat-item', { hasText: fullName });
}

export async function screenshot(page, file) {
  const path = join(ARTIFACTS, file);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** Fail unless `condition` holds. */
export function check(condition, message) {
  if (!condition) throw new Error(message);
}

// --- a real PNG, made here (no image library): a colour gradient of width x height pixels ---

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

export function gradientPng(width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour RGB
  const rows = [];
  for (let y = 0; y < height; y += 1) {
    const row = Buffer.alloc(1 + width * 3); // filter byte 0, then RGB
    for (let x = 0; x < width; x += 1) {
      row[1 + x * 3] = Math.round((255 * x) / width);
      row[2 + x * 3] = Math.round((255 * y) / height);
      row[3 + x * 3] = 200;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const SCENARIO = basename(process.argv[1] || 'scenario', '.mjs');

/** Run `scenario(browser)`, print its JSON result on the last line, and always close the browser. */
export async function main(scenario) {
  const browser = await launch();
  for (const file of readdirSync(ARTIFACTS)) {
    if (file.startsWith(`failure-${SCENARIO}-`)) rmSync(join(ARTIFACTS, file)); // from an earlier run
  }
  let failed = false;
  try {
    const result = await scenario(browser);
    console.log(JSON.stringify(result));
  } catch (error) {
    failed = true;
    console.error(error && error.stack ? error.stack : String(error));
    for (const page of openPages) {
      // What each side showed when it failed, for whoever reads the CI output.
      await screenshot(page, `failure-${SCENARIO}-${page.label}.png`).catch(() => {});
      if (page.problems.length) console.error(page.problems.join('\n'));
    }
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
}

/** A REST call outside the browser (another user's device): {status, body}. */
export async function rest(method, path, token, body) {
  const response = await fetch(new URL(path, BASE_URL), {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Sign up `first` through REST; `tag` keeps the email apart from other scripts' users. */
export async function restSignUp(first, tag) {
  const user = { fullName: `${first} ${RUN}`, email: `${first.toLowerCase()}-${tag}-${RUN}@example.com` };
  const { status, body } = await rest('POST', '/api/auth/signup', null, { ...user, password: PASSWORD });
  check(status === 201, `signup of ${first} failed: ${JSON.stringify(body)}`);
  return { ...user, id: body._id, token: body.token };
}
