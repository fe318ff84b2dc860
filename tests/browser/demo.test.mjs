// The demo page (examples/demo.rs) in headless Chromium, as a user drives it:
// log in, post the protected form natively (token in a hidden field), see the
// data; tamper the token, post again, see the error; call the route from the
// page's script with the Authorization header; log out with the logout form,
// then see the token refused as revoked by the form and by the script; log out
// everywhere, and see another token of the user refused too.
//
// Run by scripts/browser_test.sh, which starts the demo and sets:
//   DEMO_URL    the demo's base URL, e.g. http://127.0.0.1:40123
//   SCREENSHOT  where to save a screenshot of the data page (optional)
//   CHROMIUM    the browser binary (default /usr/bin/chromium)
// The tests share one page and run in order: each builds on the one before.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const BASE = process.env.DEMO_URL;
const SCREENSHOT = process.env.SCREENSHOT;
const STEP_TIMEOUT_MS = 15_000; // any one browser action
const TEST_TIMEOUT_MS = 60_000; // any one test

// The demo's first user (it prints both; the page lists them too).
const USER = { username: 'ada', password: 'lovelace', name: 'Ada Lovelace' };

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

let browser;
let page;
let token; // the token the login returned

before(async () => {
  assert.ok(BASE, 'DEMO_URL must be set');
  // launch() gives every run a fresh temporary profile (user-data-dir).
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 60_000,
    args: [
      '--no-sandbox', // CI runs as root, where Chromium's sandbox cannot start
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
});

after(async () => {
  await browser?.close();
});

// submitProtectedForm(): clicks the protected form's submit button (a native
// form post, no script) and returns the response of the navigation it starts.
async function submitProtectedForm() {
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click('#protected button[type=submit]'),
  ]);
  assert.equal(response.request().method(), 'POST');
  assert.equal(new URL(response.url()).pathname, '/api/me');
  return response;
}

// submitLogoutForm(button): clicks one of the logout form's buttons (a native
// form post) and returns the response of the navigation it starts.
async function submitLogoutForm(button) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(button)]);
  assert.equal(response.request().method(), 'POST');
  assert.equal(new URL(response.url()).pathname, '/logout');
  return response;
}

// backToTheDemo(jwt): back to the demo page, with `jwt` in both hidden token
// fields (whether the browser restored them does not matter).
async function backToTheDemo(jwt) {
  await page.goBack();
  await page.waitForSelector('#logout');
  await page.evaluate((value) => {
    for (const field of document.querySelectorAll('input[name=token]')) field.value = value;
  }, jwt);
}

// logIn(): logs in through the login form and returns the new token.
async function logIn() {
  await page.evaluate(() => {
    document.getElementById('token-out').textContent = '';
  });
  await page.fill('#login input[name=username]', USER.username);
  await page.fill('#login input[name=password]', USER.password);
  await page.click('#login button[type=submit]');
  // The login is a fetch: wait for the page's script to show the token.
  await page.waitForFunction(() => document.getElementById('token-out').textContent !== '');
  const jwt = await page.textContent('#token-out');
  assert.match(jwt, JWT, `login did not return a token: ${jwt}`);
  return jwt;
}

// fetchMe(): clicks the script's GET /api/me button and returns what it shows.
async function fetchMe() {
  await page.evaluate(() => {
    document.getElementById('me-out').textContent = '';
  });
  await page.click('#fetch-me');
  await page.waitForFunction(() => document.getElementById('me-out').textContent !== '');
  return page.textContent('#me-out');
}

// tamper(token): the token with the first character of its signature changed
// (not the last: its low bits may be padding and not change the bytes).
function tamper(jwt) {
  const dot = jwt.lastIndexOf('.') + 1;
  const replacement = jwt[dot] === 'A' ? 'B' : 'A';
  return jwt.slice(0, dot) + replacement + jwt.slice(dot + 1);
}

const bodyText = () => page.textContent('body');

test('log in through the login form', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.goto(`${BASE}/`);
  token = await logIn();
  assert.equal(await page.inputValue('#protected input[name=token]'), token);
  assert.equal(await page.inputValue('#logout input[name=token]'), token);
});

test('the header-based fetch shows the claims', { timeout: TEST_TIMEOUT_MS }, async () => {
  const out = await fetchMe();
  assert.match(out, /^200 /, out);
  assert.match(out, new RegExp(`"sub": "${USER.username}"`), out);
  assert.match(out, new RegExp(`"name": "${USER.name}"`), out);
});

test('the form post with the token shows the data', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.fill('#protected input[name=note]', 'sent by <the browser test>');
  const response = await submitProtectedForm();
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'tower-jwt-auth demo: protected data');
  const claims = await page.$$eval('#claims tr', (rows) =>
    Object.fromEntries(rows.map((row) => [row.cells[0].textContent, row.cells[1].textContent])),
  );
  assert.equal(claims.sub, USER.username);
  assert.equal(claims.name, USER.name);
  // The handler parsed the same body again; the note shows as text, not markup.
  assert.equal(await page.textContent('#note'), 'sent by <the browser test>');
  if (SCREENSHOT) {
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  }
});

test('the form post with a tampered token shows the error', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.goBack();
  await page.waitForSelector('#protected');
  // Set the field outright: whether the browser restored it on the way back
  // does not matter here.
  await page.evaluate((bad) => {
    document.querySelector('#protected input[name=token]').value = bad;
  }, tamper(token));
  const response = await submitProtectedForm();
  assert.equal(response.status(), 401);
  assert.match(response.headers()['www-authenticate'] ?? '', /error="invalid_token"/);
  const text = await bodyText();
  assert.match(text, /"error":"invalid_token"/, text);
  // The signature, not some other part, was what failed.
  assert.match(text, /"error_description":"invalid signature"/, text);
  assert.doesNotMatch(text, new RegExp(USER.name), text);
});

test('the logout form revokes the token on every route', { timeout: TEST_TIMEOUT_MS }, async () => {
  await backToTheDemo(token);
  const response = await submitLogoutForm('#log-out');
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'tower-jwt-auth demo: logged out');
  assert.match(await page.textContent('#logged-out'), /Your token is revoked/);

  // The same token in the protected form: refused as revoked.
  await backToTheDemo(token);
  const refused = await submitProtectedForm();
  assert.equal(refused.status(), 401);
  assert.match(refused.headers()['www-authenticate'] ?? '', /error_description="token revoked"/);
  const text = await bodyText();
  assert.match(text, /"error_description":"token revoked"/, text);
  assert.doesNotMatch(text, new RegExp(USER.name), text);

  // And in the header, from the script.
  await backToTheDemo(token);
  const out = await fetchMe();
  assert.match(out, /^401 /, out);
  assert.match(out, /error_description="token revoked"/, out);
});

test('logging out everywhere revokes the other tokens of the user', { timeout: TEST_TIMEOUT_MS }, async () => {
  // Still on the demo page, where the test before ended.
  await page.waitForSelector('#login');
  const earlier = await logIn();
  const latest = await logIn();
  assert.notEqual(earlier, latest);
  // Both good before.
  assert.match(await fetchMe(), /^200 /);

  const response = await submitLogoutForm('#log-out-everywhere');
  assert.equal(response.status(), 200);
  assert.match(await page.textContent('#logged-out'), /Every token of yours/);

  // The earlier token, never presented to /logout, is refused too.
  await backToTheDemo(earlier);
  const out = await fetchMe();
  assert.match(out, /^401 /, out);
  assert.match(out, /error_description="token revoked"/, out);
});
