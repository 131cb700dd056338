// Pictures of Tangerine at a desktop and a phone width, in the light and the
// dark scheme, into a folder this test prints (target/e2e-screenshots unless
// SCREENSHOTS_DIR says otherwise). Dark ones end in -dark.png.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ROOT, assertNoProblems, launchBrowser, logIn, newContext, seedPosts, signUp, startServer } from './lib.mjs';

const OUT = process.env.SCREENSHOTS_DIR ?? path.join(ROOT, 'target/e2e-screenshots');
const SIZES = {
  desktop: { viewport: { width: 1280, height: 900 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};
const SCHEMES = { light: '', dark: '-dark' };

describe('screenshots', () => {
  let server;
  let browser;

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
    // A few posts by two people, and a second session for the sessions page.
    const setup = await newContext(browser);
    const page = await setup.newPage();
    await signUp(page, server.base, 'bob');
    await seedPosts(setup, server.base, 1, 'Marmalade, the honest way');
    await signUp(await (await newContext(browser)).newPage(), server.base, 'alice');
    await setup.close();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    console.log(`screenshots written to ${OUT}`);
  });

  const runs = Object.entries(SCHEMES).flatMap(([scheme, suffix]) =>
    Object.entries(SIZES).map(([size, sizeOptions]) => ({ scheme, suffix, size, sizeOptions })),
  );
  for (const { scheme, suffix, size, sizeOptions } of runs) {
    const options = { ...sizeOptions, colorScheme: scheme };
    const shot = (name) => path.join(OUT, `${name}-${size}${suffix}.png`);
    it(`takes the ${size} pictures (${scheme})`, async () => {
      const anonymous = await newContext(browser, options);
      const visitor = await anonymous.newPage();
      await visitor.goto(`${server.base}/`);
      await visitor.screenshot({ path: shot('home-logged-out'), fullPage: true });

      const context = await newContext(browser, {
        ...options,
        userAgent:
          'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36',
      });
      const page = await context.newPage();
      await logIn(page, server.base, 'alice', { remember: true });
      if (size === 'desktop' && scheme === 'light') {
        await seedPosts(context, server.base, 2, 'Orange notes');
      }
      await page.goto(`${server.base}/`);
      await page.screenshot({ path: shot('home-logged-in'), fullPage: true });

      await page.click('#feed article .post__title a');
      await page.waitForURL(/\/posts\//);
      await page.screenshot({ path: shot('post'), fullPage: true });

      await page.goto(`${server.base}/sessions`);
      await page.screenshot({ path: shot('sessions'), fullPage: true });

      // A form sent back with errors: the summary first, the fields marked.
      await page.goto(`${server.base}/posts/new`);
      await Promise.all([page.waitForNavigation(), page.$eval('#post-form', (f) => f.submit())]);
      await page.screenshot({ path: shot('form-errors'), fullPage: true });

      assertNoProblems(assert, anonymous);
      assertNoProblems(assert, context, { expected: [422] });
      await anonymous.close();
      await context.close();
    });
  }
});
