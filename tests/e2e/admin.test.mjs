// The staff pages, with JavaScript (htmx swaps the fragments) and without
// (plain forms, 303 back to the page): people, a person's page, suspending
// and reinstating, roles, a report and its queue, invites and the logs.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { PASSWORD, createUser, logIn, newContext, seedPosts, signUp, suiteWithContextPerTest } from './lib.mjs';

for (const javaScriptEnabled of [true, false]) {
  describe(`admin pages, JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, () => {
    const suite = suiteWithContextPerTest({ before, after, afterEach }, assert);
    const name = (n) => `${n}${javaScriptEnabled ? 'js' : 'nojs'}`;
    const submit = (page, selector) =>
      javaScriptEnabled
        ? page.click(`${selector} button[type=submit]`)
        : Promise.all([page.waitForNavigation(), page.click(`${selector} button[type=submit]`)]);

    it('an admin suspends, reinstates and promotes a member', async () => {
      const { base } = suite.server;
      createUser(suite.server, name('root'), 'admin');
      const member = await newContext(suite.browser, { javaScriptEnabled });
      await signUp(await member.newPage(), base, name('alice'));
      await member.close();

      suite.context = await newContext(suite.browser, { javaScriptEnabled });
      // A refused action (422, shown on the page) is provoked on purpose below.
      suite.expected = [422];
      const page = await suite.context.newPage();
      await logIn(page, base, name('root'));
      await page.click('.site-nav a[href="/admin"]');
      await page.waitForSelector(`#person-${name('alice')}`);

      await page.fill('#admin-q', name('alice'));
      await submit(page, '.admin-search');
      await page.waitForSelector(`#person-${name('alice')}`);
      assert.equal(await page.locator(`#person-${name('root')}`).count(), 0, 'the search keeps matching names only');

      await Promise.all([page.waitForURL(`${base}/admin/users/${name('alice')}`), page.click(`#person-${name('alice')} a`)]);
      await page.fill('#suspend-reason', 'spam links');
      await submit(page, `form[action$="/suspend"]`);
      await page.waitForFunction(() => document.querySelector('#person-status')?.textContent.includes('suspended'));
      assert.match(await page.textContent('#person-status'), /spam links/);

      await submit(page, `form[action$="/reinstate"]`);
      await page.waitForFunction(() => document.querySelector('#person-status')?.textContent.trim() === 'active');

      await page.selectOption('#person-new-role', 'moderator');
      await submit(page, `form[action$="/role"]`);
      await page.waitForFunction(() => document.querySelector('#person-role')?.textContent === 'moderator');

      // The last admin is refused, on the page itself.
      await page.goto(`${base}/admin/users/${name('root')}`);
      await page.selectOption('#person-new-role', 'member');
      await submit(page, `form[action$="/role"]`);
      await page.waitForSelector('#person-error');
      assert.match(await page.textContent('#person-error'), /their own role|last active admin/);

      await page.click('.admin-nav a[href="/admin/log"]');
      await page.waitForSelector('.log-entry');
      assert.match(await page.textContent('#log'), /suspended/);
    });

    it('a report reaches the queue and a moderator dismisses it', async () => {
      const { base } = suite.server;
      createUser(suite.server, name('mod'), 'moderator');
      const author = await newContext(suite.browser);
      await signUp(await author.newPage(), base, name('writer'));
      await seedPosts(author, base, 1, 'Reported post');
      await author.close();

      suite.context = await newContext(suite.browser, { javaScriptEnabled });
      const page = await suite.context.newPage();
      await signUp(page, base, name('reader'));
      await page.click('#feed article .post__title a');
      await page.click('.post__report a');
      await page.fill('#report-reason', 'This is spam.');
      await submit(page, '#report-form');
      await page.waitForFunction(() => /moderator will look/.test(document.body.textContent));

      const staff = await newContext(suite.browser, { javaScriptEnabled });
      const mod = await staff.newPage();
      await logIn(mod, base, name('mod'));
      await mod.goto(`${base}/admin/reports`);
      assert.match(await mod.textContent('#reports'), /This is spam\./);
      await submit(mod, 'form[action$="/dismiss"]');
      await mod.waitForFunction(() => /No open reports/.test(document.querySelector('#reports')?.textContent ?? ''));
      await staff.close();
    });

    it('an admin makes an invite link and sees the public moderation log', async () => {
      const { base } = suite.server;
      createUser(suite.server, name('boss'), 'admin');
      suite.context = await newContext(suite.browser, { javaScriptEnabled });
      const page = await suite.context.newPage();
      await logIn(page, base, name('boss'));
      await page.goto(`${base}/admin/invites`);
      await Promise.all([page.waitForNavigation(), page.click('form[action="/admin/invites"] button')]);
      const link = await page.inputValue('#new-invite');
      assert.match(link, /\/signup\?invite=[A-Za-z0-9_-]{43}$/);
      await page.goto(`${base}/moderation`);
      assert.match(await page.textContent('#log'), /created an invite/);
      assert.ok(!(await page.textContent('#log')).includes('PASSWORD'), PASSWORD.length > 0);
    });
  });
}
