// The API explorer (/api/docs) in Chromium: Swagger UI under the site's
// strict Content-Security-Policy, used by clicking — logging in through
// "Try it out", writing with the CSRF header added by our start-up script,
// and "Authorize" with a bearer token.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, afterEach, before, describe, it } from 'node:test';

import { PASSWORD, newContext, suiteWithContextPerTest } from './lib.mjs';

/** Expands an operation, presses "Try it out", optionally replaces its JSON body, and executes it; returns the status shown. */
async function tryOperation(page, id, body) {
  const op = page.locator(`#${id}`);
  await op.locator('.opblock-summary').first().click();
  await op.locator('.try-out__btn').click();
  if (body !== undefined) {
    await op.locator('textarea.body-param__text').fill(JSON.stringify(body));
  }
  await op.locator('button.execute').click();
  const status = op.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor();
  return {
    status: Number((await status.textContent()).trim()),
    body: (await op.locator('.live-responses-table .response-col_description pre').first().textContent()) ?? '',
    curl: (await op.locator('.request-snippets pre, .curl-command pre').first().textContent().catch(() => '')) ?? '',
  };
}

async function openExplorer(page, base) {
  const resp = await page.goto(`${base}/api/docs`);
  assert.equal(resp.status(), 200);
  const csp = resp.headers()['content-security-policy'];
  assert.ok(!csp.includes('unsafe-inline') && csp.includes("script-src 'self'"), csp);
  await page.locator('#operations-Session-login').waitFor();
}

describe('the API explorer', () => {
  const suite = suiteWithContextPerTest({ before, after, afterEach }, assert);

  it('is a standards-mode page with a way back to the site', async () => {
    suite.context = await newContext(suite.browser);
    const page = await suite.context.newPage();
    await openExplorer(page, suite.server.base);
    assert.equal(await page.evaluate(() => document.compatMode), 'CSS1Compat', 'a doctype: no quirks mode');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await page.title(), 'Tangerine API');
    assert.equal(await page.getAttribute('.api-docs__home', 'href'), '/');
    // Every operation is there, grouped by tag.
    for (const id of ['Session-login', 'Posts-create_post', 'Tokens-create_token', 'Session-list_sessions']) {
      assert.equal(await page.locator(`#operations-${id}`).count(), 1, id);
    }
  });

  it('logs in by clicking, then publishes a post by clicking with no token pasted', async () => {
    suite.context = await newContext(suite.browser);
    const { base } = suite.server;
    const signup = await suite.context.request.post(`${base}/api/users`, {
      data: { username: 'clicker', password: PASSWORD },
    });
    assert.equal(signup.status(), 201);
    const page = await suite.context.newPage();
    await openExplorer(page, base);

    const login = await tryOperation(page, 'operations-Session-login', { username: 'clicker', password: PASSWORD, remember: true });
    assert.equal(login.status, 200, login.body);
    assert.match(login.body, /"username": "clicker"/);

    const created = await tryOperation(page, 'operations-Posts-create_post', {
      title: 'Clicked into being',
      body: 'Published from the *explorer*.',
    });
    assert.equal(created.status, 201, created.body);
    assert.match(created.body, /"author": "clicker"/);
    const feed = await (await suite.context.request.get(`${base}/api/posts`)).json();
    assert.equal(feed.posts[0].title, 'Clicked into being');
  });

  it('authorizes with a bearer token and lists the caller\'s sessions', async () => {
    const { base } = suite.server;
    // A token made by someone logged in elsewhere, pasted into a browser that has no cookie.
    const maker = await newContext(suite.browser);
    await maker.request.post(`${base}/api/users`, { data: { username: 'scripter', password: PASSWORD } });
    const login = await maker.request.post(`${base}/api/session`, { data: { username: 'scripter', password: PASSWORD } });
    assert.equal(login.status(), 200);
    const { token: csrf } = await (await maker.request.get(`${base}/api/session/csrf`)).json();
    const made = await maker.request.post(`${base}/api/tokens`, {
      headers: { 'X-CSRF-Token': csrf },
      data: { name: 'explorer', scope: 'read', expires_in_days: 7 },
    });
    assert.equal(made.status(), 201);
    const { token } = await made.json();
    await maker.close();

    suite.context = await newContext(suite.browser);
    const page = await suite.context.newPage();
    await openExplorer(page, base);
    await page.click('.auth-wrapper .authorize');
    const dialog = page.locator('.modal-ux');
    await dialog.waitFor();
    const bearer = dialog.locator('.auth-container').filter({ hasText: 'token' }).filter({ hasText: 'Bearer' });
    await bearer.locator('input').fill(token);
    await bearer.locator('button.authorize').click();
    await dialog.locator('button.btn-done').first().click();

    const listed = await tryOperation(page, 'operations-Session-list_sessions');
    assert.equal(listed.status, 200, listed.body);
    const sessions = JSON.parse(listed.body);
    assert.equal(sessions.length, 1, 'scripter\'s one session');
    assert.equal(sessions[0].current, false, 'the token is not a session');
    assert.ok(listed.curl.includes(`Authorization: Bearer ${token}`), `the curl line carries the token: ${listed.curl}`);
    // The curl line works when pasted into a shell.
    const pasted = JSON.parse(execFileSync('sh', ['-c', listed.curl], { encoding: 'utf8' }));
    assert.deepEqual(pasted.map((s) => s.id), sessions.map((s) => s.id));
    const me = await tryOperation(page, 'operations-Session-me');
    assert.equal(me.status, 200);
    assert.match(me.body, /"username": "scripter"/);
    const cookies = await suite.context.cookies();
    assert.ok(!cookies.some((c) => c.name.includes('tangerine_session')), 'no session cookie was set');
  });
});
