// WCAG 2.2 AA: axe-core over every page and state, in the light and the
// dark scheme; each page's outline; the contrast of what axe does not
// measure (field borders, focus rings). keyboard.test.mjs has the
// keyboard-only runs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';

import { AXE_PATH, AXE_VERSION, CONTRAST_EXCEPTION, TAGS, axeCheck, outlineProblems } from './axe.mjs';
import {
  PASSWORD,
  assertNoProblems,
  createUser,
  launchBrowser,
  logIn,
  mailedLink,
  newContext,
  seedPosts,
  signUp,
  startServer,
  suiteWithContextPerTest,
} from './lib.mjs';

/** A post whose body uses most of what Markdown offers, headings included. */
async function publishRichPost(context, base) {
  const { token } = await (await context.request.get(`${base}/api/session/csrf`)).json();
  const resp = await context.request.post(`${base}/api/posts`, {
    headers: { 'X-CSRF-Token': token },
    data: {
      title: 'Marmalade, the honest way',
      body: [
        '# Ingredients',
        '',
        'Seville oranges, sugar and *patience*; see [the long version](https://example.org/marmalade).',
        '',
        '## Method',
        '',
        '1. Simmer the fruit whole.',
        '2. Cut, then boil with the sugar.',
        '',
        '> Never stir once it sets.',
        '',
        '```',
        'jars = fruit / 450',
        '```',
        '',
        '###### A note that was written far too deep',
      ].join('\n'),
    },
  });
  assert.equal(resp.status(), 201);
  return (await resp.json()).id;
}

/** Submits a form as a browser without JavaScript would: no htmx. */
async function submitWithoutHtmx(page, form) {
  await Promise.all([page.waitForNavigation(), page.$eval(form, (f) => f.submit())]);
}

describe('accessibility', () => {
  for (const scheme of ['light', 'dark']) {
    describe(`axe-core ${AXE_VERSION} (${TAGS.join(', ')}), ${scheme} scheme`, () => {
      let server;
      let browser;
      const violations = [];
      const outline = [];
      const incomplete = [];
      const checked = [];

      before(async () => {
        server = await startServer();
        browser = await launchBrowser();
      });
      after(async () => {
        await browser?.close();
        await server?.stop();
      });

      /** Checks the page as it stands now, under `label`. */
      async function check(page, label) {
        const name = `${label} [${scheme}]`;
        const result = await axeCheck(page, name);
        violations.push(...result.violations);
        incomplete.push(...result.incomplete);
        outline.push(...(await outlineProblems(page, name)));
        checked.push(label);
      }

      it('finds no violation on any page or state', async () => {
        const { base } = server;
        const visitor = await newContext(browser, { colorScheme: scheme });
        const page = await visitor.newPage();
        await page.goto(`${base}/`);
        await check(page, 'homepage, logged out, empty feed');
        await page.goto(`${base}/login`);
        await check(page, 'login');
        await page.fill('#login-username', 'nobody');
        await page.fill('#login-password', 'wrong password');
        await page.click('#login-form button[type=submit]');
        await page.waitForSelector('#login-errors');
        await check(page, 'login with an error (htmx)');
        await page.goto(`${base}/login`);
        await page.fill('#login-username', 'nobody');
        await page.fill('#login-password', 'wrong password');
        await submitWithoutHtmx(page, '#login-form');
        await check(page, 'login with an error (no JavaScript)');
        await page.goto(`${base}/signup`);
        await check(page, 'sign-up');
        // Errors the server finds (the browser's own checks pass).
        await page.fill('#signup-username', 'reader');
        await page.fill('#signup-password', 'password');
        await page.fill('#signup-password-confirm', 'other');
        await page.click('#signup-form button[type=submit]');
        await page.waitForSelector('#signup-errors');
        await check(page, 'sign-up with errors (htmx)');
        await submitWithoutHtmx(page, '#signup-form');
        await check(page, 'sign-up with errors (no JavaScript)');
        await page.goto(`${base}/nowhere`);
        await check(page, 'the 404 page');
        await page.goto(`${base}/password/forgot`);
        await check(page, 'forgot password');
        await page.fill('#forgot-login', 'nobody');
        await page.click('#forgot-form button[type=submit]');
        await page.waitForSelector('#forgot-sent');
        await check(page, 'forgot password, sent (htmx)');
        await page.goto(`${base}/password/reset/${'A'.repeat(43)}`);
        await check(page, 'a reset link that does not work (410)');

        const context = await newContext(browser, { colorScheme: scheme });
        const me = await context.newPage();
        await signUp(me, base, 'reader');
        await check(me, 'homepage, logged in, empty feed, with the welcome message');
        await me.click('.create-post-btn');
        await me.waitForSelector('#composer #post-form');
        await check(me, 'composer open');
        await me.click('#post-form button[type=submit]');
        await me.waitForSelector('#post-errors');
        await check(me, 'composer with a 422');

        const rich = await publishRichPost(context, base);
        await seedPosts(context, base, 21, 'Orange note');
        await me.goto(`${base}/`);
        await check(me, 'homepage with posts');
        await me.click('#feed-more button');
        await me.waitForSelector('#feed-end');
        await check(me, 'after Load more, at the end of the feed');
        await me.goto(`${base}/`);
        const olderHref = await me.getAttribute('#feed-more button', 'hx-get');
        await me.goto(`${base}${olderHref}`);
        await me.waitForSelector('a[rel=prev]');
        await check(me, 'an older page, with Newer posts');

        await me.goto(`${base}/posts/${rich}`);
        await check(me, 'a post');
        await me.click(`#post-${rich} .post__actions a:text("Edit")`);
        await me.waitForSelector(`form#post-${rich}`);
        await check(me, 'a post edited in place');
        await me.goto(`${base}/posts/${rich}/edit`);
        await check(me, 'the edit page');
        await me.fill(`#edit-title-${rich}`, '');
        await submitWithoutHtmx(me, `form#post-${rich}`);
        await check(me, 'the edit page with an error');
        await me.goto(`${base}/posts/${rich}/delete`);
        await check(me, 'delete confirmation');

        await me.goto(`${base}/`);
        me.once('dialog', (dialog) => dialog.accept());
        const first = await me.locator('#feed article').first().getAttribute('id');
        await me.click(`#${first} .post__actions a:text("Delete")`);
        await me.waitForSelector(`#${first}`, { state: 'detached' });
        await me.waitForFunction(() => document.querySelector('#messages')?.textContent.includes('deleted'));
        await check(me, 'after a deletion (htmx)');

        await me.goto(`${base}/posts/new`);
        await check(me, 'the new-post page');
        await submitWithoutHtmx(me, '#post-form');
        await check(me, 'the new-post form with errors (no JavaScript)');

        await me.goto(`${base}/u/reader`);
        await check(me, 'profile');
        const elsewhere = await newContext(browser, { colorScheme: scheme });
        await logIn(await elsewhere.newPage(), base, 'reader');
        await me.goto(`${base}/sessions`);
        await check(me, 'sessions');
        await me.goto(`${base}/settings`);
        await check(me, 'settings');
        await me.goto(`${base}/settings/tokens`);
        await check(me, 'tokens');
        await me.fill('#token-name', '   ');
        await me.click('#token-form button[type=submit]');
        await me.waitForSelector('#token-errors');
        await check(me, 'tokens form with errors (htmx)');
        await me.fill('#token-name', 'a script');
        await me.selectOption('#token-scope', 'write');
        await me.click('#token-form button[type=submit]');
        await me.waitForSelector('#token-secret');
        await check(me, 'a token just made, its secret shown once');
        await me.goto(`${base}/sessions`);
        await check(me, 'sessions with a token');
        await me.goto(`${base}/settings/password`);
        await check(me, 'password change');
        await me.fill('#current-password', 'not my password');
        await me.fill('#new-password', 'password');
        await me.fill('#new-password-confirm', 'other');
        await me.click('#password-form button[type=submit]');
        await me.waitForSelector('#password-errors');
        await check(me, 'password change with errors (htmx)');
        await me.goto(`${base}/settings/password`);
        await me.fill('#current-password', PASSWORD);
        await me.fill('#new-password', 'a new fine passphrase');
        await me.fill('#new-password-confirm', 'not the same');
        await submitWithoutHtmx(me, '#password-form');
        await check(me, 'password change with errors (no JavaScript)');
        await me.goto(`${base}/settings/email`);
        await check(me, 'email address, none yet');
        await me.fill('#email-address', 'reader@example.com');
        await me.fill('#email-current-password', 'not my password');
        await me.click('#email-form button[type=submit]');
        await me.waitForSelector('#email-errors');
        await check(me, 'email address with an error (htmx)');
        await me.goto(`${base}/settings/email`);
        await me.fill('#email-address', 'reader@example.com');
        await me.fill('#email-current-password', PASSWORD);
        await submitWithoutHtmx(me, '#email-form');
        await check(me, 'email address, not confirmed yet');
        const verify = await mailedLink(server.mailDir, 'reader@example.com', '/email/verify/');
        await me.goto(`${base}${verify}`);
        await check(me, 'confirming an address');
        await submitWithoutHtmx(me, '#verify-form');
        await check(me, 'address confirmed');
        await me.goto(`${base}/settings/delete`);
        await check(me, 'delete account');
        await me.fill('#delete-current-password', PASSWORD);
        await me.fill('#delete-confirm', 'someone else');
        await submitWithoutHtmx(me, '#delete-form');
        await check(me, 'delete account with an error (no JavaScript)');
        await me.goto(`${base}/password/forgot`);
        await me.fill('#forgot-login', 'reader');
        await submitWithoutHtmx(me, '#forgot-form');
        const reset = await mailedLink(server.mailDir, 'reader@example.com', '/password/reset/');
        await me.goto(`${base}${reset}`);
        await check(me, 'choosing a new password');
        await me.fill('#reset-password', 'short');
        await me.fill('#reset-password-confirm', 'short');
        await submitWithoutHtmx(me, '#reset-form');
        await check(me, 'choosing a new password with an error (no JavaScript)');
        await me.goto(`${base}/`);
        await Promise.all([me.waitForURL(/logged_out/), me.click('.site-nav form[action="/logout"] button')]);
        await check(me, 'logged out');

        // The staff pages, and the public moderation log.
        const staff = await newContext(browser, { colorScheme: scheme });
        const admin = await staff.newPage();
        createUser(server, `root${scheme}`, 'admin');
        await logIn(admin, base, `root${scheme}`);
        await admin.goto(`${base}/admin`);
        await check(admin, 'admin: people');
        await admin.goto(`${base}/admin/users/reader`);
        await check(admin, 'admin: a person');
        await admin.fill('#suspend-reason', 'x'.repeat(10));
        await admin.click('form[action$="/suspend"] button[type=submit]');
        await admin.waitForFunction(() => document.querySelector('#person-status')?.textContent.includes('suspended'));
        await check(admin, 'admin: a suspended person (htmx)');
        await admin.goto(`${base}/posts/${rich}/report`);
        await check(admin, 'report form');
        await admin.fill('#report-reason', 'checking');
        await admin.click('#report-form button[type=submit]');
        await admin.waitForFunction(() => /moderator will look/.test(document.body.textContent));
        await admin.goto(`${base}/admin/reports`);
        await check(admin, 'admin: reports');
        await admin.goto(`${base}/posts/${rich}/remove`);
        await check(admin, 'remove confirmation');
        await admin.goto(`${base}/admin/log`);
        await check(admin, 'admin: moderation log');
        await admin.goto(`${base}/admin/invites`);
        await check(admin, 'admin: invites');
        await Promise.all([admin.waitForNavigation(), admin.click('form[action="/admin/invites"] button')]);
        await check(admin, 'admin: a new invite link');
        await admin.goto(`${base}/moderation`);
        await check(admin, 'the public moderation log');
        assertNoProblems(assert, staff);
        console.log(`axe ${AXE_VERSION}, ${scheme}: ${checked.length} pages and states checked`);
        for (const line of incomplete) console.log(`for review (incomplete): ${line}`);
        assertNoProblems(assert, visitor, { expected: [404, 410, 422] });
        assertNoProblems(assert, context, { expected: [422] });
        await Promise.all([visitor.close(), context.close(), elsewhere.close()]);
        assert.deepEqual(violations, [], `axe violations:\n${violations.join('\n')}`);
        assert.deepEqual(outline, [], `outline problems:\n${outline.join('\n')}`);
      });
    });
  }
});

/** WCAG's relative luminance and contrast ratio, of CSS rgb() colours. */
function contrast(a, b) {
  const lum = (rgb) => {
    const [r, g, b2] = rgb
      .match(/[\d.]+/g)
      .slice(0, 3)
      .map((v) => {
        const c = Number(v) / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b2;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe('contrast that axe does not measure', () => {
  const suite = suiteWithContextPerTest({ before, after, afterEach }, assert);

  for (const scheme of ['light', 'dark']) {
    it(`gives field borders and focus rings at least 3:1 (${scheme})`, async () => {
      suite.context = await newContext(suite.browser, { colorScheme: scheme });
      const page = await suite.context.newPage();
      await signUp(page, suite.server.base, `contrast${scheme}`);
      await page.goto(`${suite.server.base}/posts/new`);
      const measured = [];
      // The colour of `property` on `selector` against the first opaque
      // background at or above `ground` (the element, or its parent for
      // what is drawn around it).
      const measure = async (what, selector, property, ground) => {
        const colours = await page.$eval(
          selector,
          (el, [prop, where]) => {
            for (let n = where === 'parent' ? el.parentElement : el; n; n = n.parentElement) {
              const bg = getComputedStyle(n).backgroundColor;
              if (!/rgba\(.*, 0\)$/.test(bg) && bg !== 'transparent') return [getComputedStyle(el)[prop], bg];
            }
            return [getComputedStyle(el)[prop], 'rgb(255, 255, 255)'];
          },
          [property, ground],
        );
        const ratio = contrast(...colours);
        measured.push(`${scheme}: ${what}: ${colours[0]} on ${colours[1]} = ${ratio.toFixed(2)}:1`);
        return ratio;
      };
      assert.ok((await measure('a field border', '#post-title', 'borderTopColor', 'parent')) >= 3);
      await page.focus('#post-title');
      assert.ok((await measure('a focused field ring', '#post-title', 'outlineColor', 'parent')) >= 3);
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Publish');
      assert.ok((await measure('a button focus ring', '#post-form button[type=submit]', 'outlineColor', 'parent')) >= 3);
      await page.focus('.site-nav .brand');
      assert.ok((await measure('a focus ring in the header', '.site-nav .brand', 'outlineColor', 'self')) >= 3);
      // Text, for the record (axe checks every text element).
      await measure('a filled button', '#post-form .btn--primary', 'color', 'self');
      await measure('a field hint', '#post-body-hint', 'color', 'self');
      await page.goto(`${suite.server.base}/`);
      await page.focus('.create-post-btn');
      assert.ok((await measure('the Create Post focus ring', '.create-post-btn', 'outlineColor', 'parent')) >= 3);
      await measure('a link', '.site-footer a', 'color', 'self');
      await measure('secondary text', '.hero__lead', 'color', 'self');
      await measure('the header', '.site-nav__link', 'color', 'self');
      await measure('the Create Post button (the exception)', '.create-post-btn', 'color', 'self');
      console.log(measured.join('\n'));
    });
  }

  it('leaves out the Create Post button alone, which axe would flag and nothing else', async () => {
    suite.context = await newContext(suite.browser);
    const page = await suite.context.newPage();
    await signUp(page, suite.server.base, 'exception');
    await page.evaluate(readFileSync(AXE_PATH, 'utf8'));
    const flagged = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: { type: 'rule', values: ['color-contrast'] } });
      return r.violations.flatMap((v) => v.nodes.map((n) => n.target.join(' ')));
    });
    assert.deepEqual(flagged, [CONTRAST_EXCEPTION]);
  });
});
