// The htmx flows, in Chromium with JavaScript on.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import {
  PASSWORD,
  assertNoProblems,
  documentWasKept,
  logIn,
  logOut,
  markDocument,
  newContext,
  seedPosts,
  signUp,
  suiteWithContextPerTest,
} from './lib.mjs';

describe('with JavaScript', () => {
  const suite = suiteWithContextPerTest({ before, after, afterEach }, assert);
  let page;

  async function freshPage() {
    suite.context = await newContext(suite.browser);
    page = await suite.context.newPage();
    return page;
  }

  it('signs up, logs out and logs in', async () => {
    await freshPage();
    await signUp(page, suite.server.base, 'alice');
    assert.match(await page.textContent('h1'), /Welcome, alice/);
    await logOut(page, suite.server.base);
    assert.equal(await page.isVisible('#login-form'), true);
    assert.match(await page.textContent('#messages'), /You are logged out\./);
    await logIn(page, suite.server.base, 'alice');
    assert.match(await page.textContent('h1'), /Welcome, alice/);
  });

  it('opens the composer inline and publishes to the top of the feed without a page load', async () => {
    await freshPage();
    await logIn(page, suite.server.base, 'alice');
    await seedPosts(suite.context, suite.server.base, 2, 'Older');
    await page.reload();
    await markDocument(page);

    await page.click('.create-post-btn');
    await page.waitForSelector('#composer #post-form');
    assert.equal(page.url(), `${suite.server.base}/`, 'the button opened the form in place');

    await page.fill('#post-title', 'Fresh from the composer');
    await page.fill('#post-body', 'Published with **htmx**.');
    await page.click('#post-form button[type=submit]');
    await page.waitForFunction(() =>
      document.querySelector('#feed article .post__title')?.textContent.includes('Fresh from the composer'),
    );
    assert.equal(await documentWasKept(page), true, 'the document was not reloaded');
    assert.equal(await page.inputValue('#post-title'), '', 'the composer is empty again');
    const titles = await page.$$eval('#feed article .post__title', (els) => els.map((e) => e.textContent.trim()));
    assert.deepEqual(titles.slice(0, 3), ['Fresh from the composer', 'Older 2', 'Older 1']);
    assert.equal(await page.textContent('#feed article:first-of-type .post__body strong'), 'htmx');
  });

  it('keeps the typed text when the form has an error', async () => {
    suite.expected = [422];
    await freshPage();
    await logIn(page, suite.server.base, 'alice');
    await markDocument(page);
    await page.click('.create-post-btn');
    await page.waitForSelector('#post-form');
    await page.fill('#post-body', 'A body without a title');
    await page.click('#post-form button[type=submit]');
    await page.waitForSelector('#post-title-error');
    assert.match(await page.textContent('#post-title-error'), /Give the post a title/);
    assert.equal(await page.inputValue('#post-body'), 'A body without a title');
    assert.equal(await documentWasKept(page), true);
  });

  it('edits a post in place and saves it', async () => {
    await freshPage();
    await logIn(page, suite.server.base, 'alice');
    await markDocument(page);
    const article = page.locator('#feed article').first();
    const id = await article.getAttribute('id');
    await article.locator('text=Edit').click();
    await page.waitForSelector(`form#${id}`);
    await page.fill(`form#${id} input[name=title]`, 'Edited in place');
    await page.click(`form#${id} button[type=submit]`);
    await page.waitForSelector(`article#${id}`);
    assert.equal((await page.textContent(`article#${id} .post__title`)).trim(), 'Edited in place');
    assert.match(await page.textContent(`article#${id} .post__meta`), /edited/);
    assert.equal(await documentWasKept(page), true);
  });

  it('deletes a post after confirmation and removes its element', async () => {
    await freshPage();
    await logIn(page, suite.server.base, 'alice');
    await markDocument(page);
    const id = await page.locator('#feed article').first().getAttribute('id');
    let asked = '';
    page.once('dialog', async (dialog) => {
      asked = dialog.message();
      await dialog.accept();
    });
    await page.click(`#${id} .post__actions a[href$="/delete"]`);
    await page.waitForSelector(`#${id}`, { state: 'detached' });
    assert.match(asked, /This cannot be undone/);
    assert.equal(await documentWasKept(page), true);
    const status = (await suite.context.request.get(`${suite.server.base}/posts/${id.replace('post-', '')}`)).status();
    assert.equal(status, 404);
  });

  it('appends the next page with Load more', async () => {
    await freshPage();
    await logIn(page, suite.server.base, 'alice');
    await seedPosts(suite.context, suite.server.base, 25, 'Paged');
    await page.reload();
    await markDocument(page);
    assert.equal(await page.locator('#feed article').count(), 20);
    assert.equal(await page.isVisible('#feed-more noscript'), false);
    await page.click('#feed-more button');
    await page.waitForFunction(() => document.querySelectorAll('#feed article').length > 20);
    const count = await page.locator('#feed article').count();
    assert.ok(count > 20 && count <= 40, `${count} posts after Load more`);
    assert.equal(await documentWasKept(page), true);
    const ids = await page.$$eval('#feed article', (els) => els.map((e) => e.id));
    assert.equal(new Set(ids).size, ids.length, 'no post twice');
  });

  it('logs out another session from the sessions page and its row goes', async () => {
    await freshPage();
    await logIn(page, suite.server.base, 'alice');
    const other = await newContext(suite.browser, { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0' });
    const otherPage = await other.newPage();
    await logIn(otherPage, suite.server.base, 'alice');
    const otherId = (await (await other.request.get(`${suite.server.base}/api/sessions`)).json()).find((s) => s.current).id;

    await page.goto(`${suite.server.base}/sessions`);
    await markDocument(page);
    assert.equal(await page.isVisible(`#session-${otherId}`), true);
    assert.match(await page.textContent(`#session-${otherId}`), /Firefox 128/);
    await page.click(`#session-${otherId} button`);
    await page.waitForSelector(`#session-${otherId}`, { state: 'detached' });
    assert.equal(await documentWasKept(page), true);
    assert.equal((await other.request.get(`${suite.server.base}/api/me`)).status(), 401);
    assertNoProblems(assert, other);
    await other.close();
  });

  it('sends an htmx request of an ended session to the login page as a whole page', async () => {
    await freshPage();
    await logIn(page, suite.server.base, 'alice');
    const id = (await (await suite.context.request.get(`${suite.server.base}/api/sessions`)).json()).find((s) => s.current).id;
    // The session is revoked from elsewhere while this page stays open.
    const elsewhere = await newContext(suite.browser);
    const elsewherePage = await elsewhere.newPage();
    await logIn(elsewherePage, suite.server.base, 'alice');
    const { token } = await (await elsewhere.request.get(`${suite.server.base}/api/session/csrf`)).json();
    const revoked = await elsewhere.request.delete(`${suite.server.base}/api/sessions/${id}`, {
      headers: { 'X-CSRF-Token': token },
    });
    assert.equal(revoked.status(), 204);
    await elsewhere.close();

    await Promise.all([page.waitForURL(/\/login\?next=/), page.click('.create-post-btn')]);
    assert.equal(await page.locator('html').count(), 1);
    assert.equal(await page.locator('#login-form').count(), 1, 'one login form, as the whole page');
    assert.equal(await page.locator('#composer').count(), 0, 'not pasted into the old page');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/posts/new');
  });

  it('remembers the person only when asked', async () => {
    await freshPage();
    await logIn(page, suite.server.base, 'alice', { remember: true });
    const remembered = (await suite.context.cookies()).find((c) => c.name === 'tangerine_session');
    assert.ok(remembered.expires > Date.now() / 1000 + 13 * 86400, 'a lasting cookie');
    const brief = await newContext(suite.browser);
    const briefPage = await brief.newPage();
    await logIn(briefPage, suite.server.base, 'alice');
    const cookie = (await brief.cookies()).find((c) => c.name === 'tangerine_session');
    assert.equal(cookie.expires, -1, 'a cookie that ends with the browser');
    await brief.close();
  });

  it('changes the password and stays logged in', async () => {
    await freshPage();
    await signUp(page, suite.server.base, 'carol');
    await page.goto(`${suite.server.base}/settings/password`);
    await page.fill('#current-password', PASSWORD);
    await page.fill('#new-password', 'another fine passphrase');
    await page.fill('#new-password-confirm', 'another fine passphrase');
    await Promise.all([page.waitForURL(`${suite.server.base}/sessions`), page.click('#password-form button')]);
    assert.match(await page.textContent('#messages'), /Your password is changed/);
  });
});
