// The same core flows with JavaScript off: plain forms, links and redirects.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { PASSWORD, assertNoProblems, launchBrowser, newContext, startServer } from './lib.mjs';

describe('without JavaScript', () => {
  let server;
  let browser;
  let context;
  let page;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    context = await newContext(browser, { javaScriptEnabled: false });
    page = await context.newPage();
  });
  after(async () => {
    const problems = context;
    await browser?.close();
    await server?.stop();
    // A form error is a 422 page, which Chromium reports as a failed load.
    if (problems) assertNoProblems(assert, problems, { expected: [422] });
  });

  const submit = (form) =>
    Promise.all([page.waitForNavigation(), page.click(`${form} button[type=submit]`)]);

  it('signs up with the plain form', async () => {
    await page.goto(`${server.base}/`);
    await Promise.all([page.waitForNavigation(), page.click('.hero a[href="/signup"]')]);
    await page.fill('#signup-username', 'nojs');
    await page.fill('#signup-password', PASSWORD);
    await page.fill('#signup-password-confirm', PASSWORD);
    await submit('#signup-form');
    assert.equal(page.url(), `${server.base}/`);
    assert.match(await page.textContent('h1'), /Welcome, nojs/);
  });

  it('follows the Create Post button to its page and publishes', async () => {
    await Promise.all([page.waitForNavigation(), page.click('.create-post-btn')]);
    assert.equal(page.url(), `${server.base}/posts/new`, 'the button is a plain link');
    await page.fill('#post-title', 'Written without JavaScript');
    await page.fill('#post-body', 'Plain *forms* work.');
    await submit('#post-form');
    assert.match(page.url(), /\/posts\/[0-9a-f-]{36}$/);
    assert.equal((await page.textContent('.post__title')).trim(), 'Written without JavaScript');
    assert.equal(await page.textContent('.post__body em'), 'forms');
  });

  it('shows form errors inline, keeping the typed text', async () => {
    await page.goto(`${server.base}/posts/new`);
    await page.fill('#post-body', 'No title here');
    await submit('#post-form');
    assert.match(await page.textContent('#post-title-error'), /Give the post a title/);
    assert.equal(await page.inputValue('#post-body'), 'No title here');
  });

  it('pages to older posts by a link', async () => {
    for (let i = 1; i <= 21; i++) {
      await page.goto(`${server.base}/posts/new`);
      await page.fill('#post-title', `Filler ${i}`);
      await page.fill('#post-body', 'x');
      await submit('#post-form');
    }
    await page.goto(`${server.base}/`);
    assert.equal(await page.locator('#feed article').count(), 20);
    assert.equal(await page.isVisible('#feed-more button'), false, 'the htmx button hides without JavaScript');
    const older = page.locator('#feed-more a[rel=next]');
    assert.equal((await older.textContent()).trim(), 'Older posts');
    await Promise.all([page.waitForNavigation(), older.click()]);
    assert.match(page.url(), /\/\?before=/);
    const titles = await page.$$eval('#feed article .post__title', (els) => els.map((e) => e.textContent.trim()));
    assert.deepEqual(titles, ['Filler 1', 'Written without JavaScript']);
    assert.equal(await page.locator('#feed-more').count(), 0, 'the last page has no link');
  });

  it('deletes a post after confirming on a page of its own', async () => {
    await page.goto(`${server.base}/`);
    const first = page.locator('#feed article').first();
    const id = await first.getAttribute('id');
    await Promise.all([page.waitForNavigation(), first.locator('.post__actions a[href$="/delete"]').click()]);
    assert.equal(page.url(), `${server.base}/posts/${id.replace('post-', '')}/delete`);
    assert.match(await page.textContent('#delete-form'), /cannot be undone/);
    await Promise.all([page.waitForNavigation(), page.click('#delete-form button[type=submit]')]);
    assert.equal(page.url(), `${server.base}/`);
    assert.equal(await page.locator(`#${id}`).count(), 0);
    assert.match(await page.textContent('#messages'), /is deleted/);
  });

  it('logs out and in again', async () => {
    await Promise.all([page.waitForNavigation(), page.click('.site-nav form[action="/logout"] button')]);
    assert.equal(page.url(), `${server.base}/login?logged_out=1`);
    assert.match(await page.textContent('#messages'), /You are logged out\./);
    await page.fill('#login-username', 'NOJS');
    await page.fill('#login-password', PASSWORD);
    await submit('#login-form');
    assert.match(await page.textContent('h1'), /Welcome, nojs/);
  });
});
