// A forgotten password, end to end in the browser, with JavaScript on and
// off: sign up with an address, confirm it from the mailed link, ask for a
// reset from the login page, follow the mailed link, choose a new password,
// and land logged in. Mail is read from the .eml files the server writes
// without SMTP.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { PASSWORD, assertNoProblems, launchBrowser, mailedLink, newContext, startServer } from './lib.mjs';

const NEW_PASSWORD = 'a fresh orange passphrase';

for (const javaScriptEnabled of [true, false]) {
  describe(`forgot → reset → logged in, JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, () => {
    let server;
    let browser;

    before(async () => {
      server = await startServer();
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await server?.stop();
    });

    it('resets a forgotten password from the login page and logs in', async () => {
      const { base, mailDir } = server;
      const name = javaScriptEnabled ? 'withjs' : 'nojs';
      const email = `${name}@example.com`;
      const context = await newContext(browser, { javaScriptEnabled });
      const page = await context.newPage();

      await page.goto(`${base}/signup`);
      await page.fill('#signup-username', name);
      await page.fill('#signup-email', email);
      await page.fill('#signup-password', PASSWORD);
      await page.fill('#signup-password-confirm', PASSWORD);
      await Promise.all([page.waitForURL(`${base}/`), page.click('#signup-form button[type=submit]')]);

      const verify = await mailedLink(mailDir, email, '/email/verify/');
      await page.goto(`${base}${verify}`);
      await Promise.all([page.waitForNavigation(), page.click('#verify-form button[type=submit]')]);
      assert.match(await page.textContent('#email-verified'), new RegExp(`${email} is now the address`));

      await Promise.all([page.waitForURL(/logged_out/), page.click('.site-nav form[action="/logout"] button')]);
      await page.goto(`${base}/login`);
      await Promise.all([page.waitForURL(`${base}/password/forgot`), page.click('text=Forgot your password?')]);
      await page.fill('#forgot-login', name);
      if (javaScriptEnabled) {
        await page.click('#forgot-form button[type=submit]');
        await page.waitForSelector('#forgot-sent');
      } else {
        await Promise.all([page.waitForNavigation(), page.click('#forgot-form button[type=submit]')]);
      }
      assert.match(await page.textContent('#forgot-sent'), /a link is on its way/);

      const reset = await mailedLink(mailDir, email, '/password/reset/');
      await page.goto(`${base}${reset}`);
      await page.fill('#reset-password', NEW_PASSWORD);
      await page.fill('#reset-password-confirm', NEW_PASSWORD);
      await Promise.all([page.waitForURL(`${base}/`), page.click('#reset-form button[type=submit]')]);
      assert.match(await page.textContent('#messages'), /Your password is reset/);
      assert.match(await page.textContent('.site-nav'), new RegExp(name));

      // The link worked once.
      const again = await page.goto(`${base}${reset}`);
      assert.equal(again.status(), 410);
      assert.match(await page.textContent('#link-gone'), /This link no longer works/);

      await context.close();
      assertNoProblems(assert, context, { expected: [410] });
    });
  });
}
