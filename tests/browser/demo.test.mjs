// The demo page (examples/demo.rs) in headless Chromium, as a person drives it:
// only clicks, typing and the pages' own links and forms, never a field set
// by script. A failed login says so in words; log in; the page says who is
// logged in and when the token was issued and expires; post the protected
// form natively, see the data, follow its link back (the token survives it);
// change the token, post again, see the HTML error page and follow its link
// back; call the route from the page's script; log out, come back by the
// link, see the token revoked, post the form again and see it refused; log
// out everywhere, and see an earlier token of the user refused too.
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
const TOKEN_FIELD = '#protected textarea[name=token]';

let browser;
let page;
let token; // the token the login returned
const responses = []; // every response the page received: "status url"

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
  page.on('response', (response) => responses.push(`${response.status()} ${response.url()}`));
});

after(async () => {
  await browser?.close();
});

// The claims of a token (not verified: the test reads what it was given).
function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

// The demo's way of writing a time: "2026-12-02 17:39:00 UTC".
function utc(unix) {
  return new Date(unix * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

// navigate(action): runs `action` (a click) and returns the response of the
// navigation it starts.
async function navigate(action) {
  const [response] = await Promise.all([page.waitForNavigation(), action()]);
  return response;
}

// submit(button, path): clicks a form's submit button (a native form post, no
// script) and returns the response of the navigation it starts.
async function submit(button, path) {
  const response = await navigate(() => page.click(button));
  assert.equal(response.request().method(), 'POST');
  assert.equal(new URL(response.url()).pathname, path);
  return response;
}

const submitProtectedForm = () => submit('#protected button[type=submit]', '/api/me');

// backToTheDemo(state): follows the answer page's own "Back to the demo" link
// and waits until the demo page has asked the server about the token it keeps
// and shows `state` (valid, revoked, refused or none).
async function backToTheDemo(state) {
  const response = await navigate(() => page.click('a#back'));
  assert.equal(response.status(), 200);
  assert.equal(new URL(response.url()).pathname, '/');
  await page.waitForSelector(`#session[data-state=${state}]`);
}

// logIn(): logs in through the login form and returns the new token, which the
// page put into its forms.
async function logIn() {
  const previous = await page.inputValue(TOKEN_FIELD);
  await page.fill('#login input[name=username]', USER.username);
  await page.fill('#login input[name=password]', USER.password);
  await page.click('#login button[type=submit]');
  // The login is a fetch: wait for the page's script to take the new token.
  await page.waitForFunction(
    ([field, old]) =>
      document.querySelector(field).value !== old &&
      document.getElementById('session').dataset.state === 'valid',
    [TOKEN_FIELD, previous],
  );
  const jwt = await page.inputValue(TOKEN_FIELD);
  assert.match(jwt, JWT, `login did not return a token: ${jwt}`);
  assert.equal(await page.inputValue('#logout input[name=token]'), jwt);
  return jwt;
}

// fetchMe(): clicks the script's GET /api/me button and returns what it shows.
async function fetchMe() {
  const before = await page.textContent('#me-out');
  await page.click('#fetch-me');
  // A new answer: the click starts a fetch whose output replaces the old one.
  await page.waitForFunction(
    (old) => {
      const out = document.getElementById('me-out').textContent;
      return out !== '' && out !== old;
    },
    before,
  );
  return page.textContent('#me-out');
}

// tamper(token): the token with the first character of its signature changed
// (not the last: its low bits may be padding and not change the bytes).
function tamper(jwt) {
  const dot = jwt.lastIndexOf('.') + 1;
  const replacement = jwt[dot] === 'A' ? 'B' : 'A';
  return jwt.slice(0, dot) + replacement + jwt.slice(dot + 1);
}

// assertRefusalPage(response, status, headline, reason): the demo's HTML
// error page, with the layer's own status and challenge.
async function assertRefusalPage(response, status, headline, reason) {
  assert.equal(response.status(), status);
  const headers = response.headers();
  assert.match(headers['content-type'] ?? '', /^text\/html/);
  assert.match(headers['www-authenticate'] ?? '', /error="invalid_token"/);
  assert.equal(await page.title(), 'tower-jwt-auth demo: refused');
  assert.equal(await page.textContent('#headline'), headline);
  const text = await page.textContent('#message');
  assert.match(text, new RegExp(`${status} Unauthorized: ${reason}`), text);
  // Words, not the JSON an API client gets; and nobody's claims.
  assert.doesNotMatch(await page.content(), /"error":/);
  assert.doesNotMatch(text, new RegExp(USER.name), text);
}

test('a failed login says so in words', { timeout: TEST_TIMEOUT_MS }, async () => {
  const response = await page.goto(`${BASE}/`);
  assert.equal(response.status(), 200);
  await page.waitForSelector('#session[data-state=none]');
  assert.match(await page.textContent('#status'), /Not logged in/);
  await page.fill('#login input[name=password]', 'not-the-password');
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => /failed/.test(document.getElementById('login-out').textContent));
  assert.equal(await page.textContent('#login-out'), 'Login failed: wrong username or password.');
  assert.equal(await page.inputValue(TOKEN_FIELD), '');
});

test('log in through the login form', { timeout: TEST_TIMEOUT_MS }, async () => {
  token = await logIn();
  assert.match(await page.textContent('#login-out'), /^Logged in/);
});

test('the page says who is logged in and when the token expires', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { iat, exp } = claimsOf(token);
  assert.equal(
    await page.textContent('#status'),
    `Logged in as ${USER.name} (${USER.username}): the token is valid.`,
  );
  assert.match(await page.textContent('#issued'), new RegExp(`^${utc(iat)} \\((now|\\d+ s ago)\\)$`));
  // The demo's tokens live 15 minutes.
  assert.match(
    await page.textContent('#expires'),
    new RegExp(`^${utc(exp)} \\(in 1[45] min \\d+ s\\)$`),
  );
});

test('the favicon is there, not a 404', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.equal(await page.getAttribute('link[rel=icon]', 'href'), '/favicon.ico');
  const response = await page.request.get(`${BASE}/favicon.ico`);
  assert.equal(response.status(), 200);
  assert.equal(response.headers()['content-type'], 'image/svg+xml');
});

test('the header-based fetch shows the claims', { timeout: TEST_TIMEOUT_MS }, async () => {
  const out = await fetchMe();
  assert.match(out, /^200 /, out);
  assert.match(out, new RegExp(`"sub": "${USER.username}"`), out);
  assert.match(out, new RegExp(`"name": "${USER.name}"`), out);
});

test('the form post shows the data, and its link leads back with the token', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.fill('#protected input[name=note]', 'sent by <the browser test>');
  const response = await submitProtectedForm();
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'tower-jwt-auth demo: protected data');
  assert.equal(await page.textContent('#who'), `Logged in as ${USER.name} (${USER.username}).`);
  const claims = await page.$$eval('#claims tr', (rows) =>
    Object.fromEntries(rows.map((row) => [row.cells[0].textContent, row.cells[1].textContent])),
  );
  assert.equal(claims.sub, USER.username);
  assert.equal(claims.name, USER.name);
  const { exp } = claimsOf(token);
  assert.match(claims.exp, new RegExp(`^${utc(exp)} \\(${exp}, in 1[45] min \\d+ s\\)$`));
  // The handler parsed the same body again; the note shows as text, not markup.
  assert.equal(await page.textContent('#note'), 'sent by <the browser test>');
  if (SCREENSHOT) {
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  }

  await backToTheDemo('valid');
  assert.equal(await page.inputValue(TOKEN_FIELD), token);
  assert.equal(await page.inputValue('#logout input[name=token]'), token);
  assert.match(await page.textContent('#status'), new RegExp(`Logged in as ${USER.name}`));
});

test('a changed token shows the HTML error page, and its link leads back', { timeout: TEST_TIMEOUT_MS }, async () => {
  // As a person would: edit the token in the form, then post it.
  await page.fill(TOKEN_FIELD, tamper(token));
  const response = await submitProtectedForm();
  await assertRefusalPage(response, 401, "The token's signature does not match", 'invalid signature');

  // Back to the demo: the good token again, from the tab's storage.
  await backToTheDemo('valid');
  assert.equal(await page.inputValue(TOKEN_FIELD), token);
});

test('the logout form revokes the token, and the page says so', { timeout: TEST_TIMEOUT_MS }, async () => {
  const response = await submit('#log-out', '/logout');
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'tower-jwt-auth demo: logged out');
  assert.match(await page.textContent('#logged-out'), /Your token is revoked/);

  // The page's advice: go back and post the form again to see it refused.
  await backToTheDemo('revoked');
  assert.match(await page.textContent('#status'), new RegExp(`^Logged out: the token of ${USER.username} is revoked`));
  // Still the same token, with its times (read from the token itself).
  assert.equal(await page.inputValue(TOKEN_FIELD), token);
  assert.match(await page.textContent('#expires'), new RegExp(`^${utc(claimsOf(token).exp)} `));
  const refused = await submitProtectedForm();
  await assertRefusalPage(refused, 401, 'This token is revoked', 'token revoked');
  assert.match(refused.headers()['www-authenticate'], /error_description="token revoked"/);

  // And in the header, from the script.
  await backToTheDemo('revoked');
  const out = await fetchMe();
  assert.match(out, /^401 /, out);
  assert.match(out, /error_description="token revoked"/, out);
});

test('logging out everywhere revokes the other tokens of the user', { timeout: TEST_TIMEOUT_MS }, async () => {
  const earlier = await logIn();
  const latest = await logIn();
  assert.notEqual(earlier, latest);
  assert.match(await fetchMe(), /^200 /);

  const response = await submit('#log-out-everywhere', '/logout');
  assert.equal(response.status(), 200);
  assert.match(await page.textContent('#logged-out'), /Every token of yours/);
  await backToTheDemo('revoked');

  // The earlier token, never presented to /logout, pasted into the form by
  // hand: refused too.
  await page.fill(TOKEN_FIELD, earlier);
  const refused = await submitProtectedForm();
  await assertRefusalPage(refused, 401, 'This token is revoked', 'token revoked');
  await backToTheDemo('revoked');
  assert.equal(await page.inputValue(TOKEN_FIELD), latest);
});

test('forgetting the token empties the page, for good', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.click('#forget');
  await page.waitForSelector('#session[data-state=none]');
  assert.equal(await page.inputValue(TOKEN_FIELD), '');
  await page.reload();
  await page.waitForSelector('#session[data-state=none]');
  assert.equal(await page.inputValue('#logout input[name=token]'), '');
});

test('no page or resource of the demo answered 404', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.ok(responses.length > 10, responses.join('\n'));
  const missing = responses.filter((line) => line.startsWith('404 '));
  assert.deepEqual(missing, []);
});
