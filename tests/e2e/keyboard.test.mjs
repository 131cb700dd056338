// Keyboard-only runs (sign-up, composing with an error, deleting, Load
// more), checking where focus lands after each htmx swap and what is
// announced; and times shown in the reader's clock.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { PASSWORD, assertNoProblems, newContext, seedPosts, signUp, suiteWithContextPerTest } from './lib.mjs';

describe('with the keyboard alone', () => {
  const suite = suiteWithContextPerTest({ before, after, afterEach }, assert);

  /** Presses Tab until `predicate(arg)` holds in the page (at most 250 times). */
  async function tabTo(page, description, predicate, arg) {
    for (let i = 0; i < 250; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(predicate, arg)) return;
    }
    assert.fail(`Tab never reached ${description}`);
  }
  const focusedText = (page) => page.evaluate(() => document.activeElement?.textContent.trim());

  async function freshPage() {
    suite.context = await newContext(suite.browser);
    return suite.context.newPage();
  }

  it('signs up, fixing an error, with focus landing on the field in error', async () => {
    suite.expected = [422];
    const page = await freshPage();
    await page.goto(`${suite.server.base}/`);
    await tabTo(page, 'the Sign up link', () => document.activeElement.matches('.site-nav a[href="/signup"]'));
    await Promise.all([page.waitForURL(/\/signup$/), page.keyboard.press('Enter')]);
    await tabTo(page, 'the username', () => document.activeElement.id === 'signup-username');
    await page.keyboard.type('keyboarder');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Tab');
    await page.keyboard.type('a different passphrase');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#signup-errors');
    // Focus goes to the field in error, which names its error.
    await page.waitForFunction(() => document.activeElement?.id === 'signup-password-confirm');
    const field = await page.$eval('#signup-password-confirm', (el) => ({
      invalid: el.getAttribute('aria-invalid'),
      describedBy: document.getElementById(el.getAttribute('aria-describedby'))?.textContent,
    }));
    assert.equal(field.invalid, 'true');
    assert.equal(field.describedBy, 'The two passwords differ.');
    assert.equal(await page.getAttribute('#signup-errors', 'role'), 'alert', 'the errors are announced');
    // Passwords are never sent back: both again.
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'signup-password');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await Promise.all([page.waitForURL(`${suite.server.base}/`), page.keyboard.press('Enter')]);
    assert.match(await page.textContent('h1'), /Welcome, keyboarder/);
  });

  it('composes a post with an error: focus on the title, on the field in error, then on the new post', async () => {
    suite.expected = [422];
    const page = await freshPage();
    await signUp(page, suite.server.base, 'composer');
    await tabTo(page, 'Create Post', () => document.activeElement.matches('.create-post-btn'));
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'post-title');
    // No title: Tab to the body, write, Tab to Publish.
    await page.keyboard.press('Tab');
    await page.keyboard.type('A body without a title.');
    await page.keyboard.press('Tab');
    assert.equal(await focusedText(page), 'Publish');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#post-title-error');
    await page.waitForFunction(() => document.activeElement?.id === 'post-title');
    const title = await page.$eval('#post-title', (el) => [el.getAttribute('aria-invalid'), el.getAttribute('aria-describedby')]);
    assert.deepEqual(title, ['true', 'post-title-error']);
    assert.equal(await page.getAttribute('#post-errors', 'role'), 'alert', 'the error is announced');
    assert.equal(await page.inputValue('#post-body'), 'A body without a title.');
    // The summary before the fields leads to the field in error.
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), '#post-title');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'post-title');
    await page.keyboard.type('Typed by keyboard');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() =>
      document.activeElement?.closest('article')?.querySelector('.post__title')?.textContent.includes('Typed by keyboard'),
    );
  });

  it('deletes posts: the deletion is announced, focus goes to the next post, else the previous, else the heading', async () => {
    const page = await freshPage();
    await signUp(page, suite.server.base, 'deleter');
    await seedPosts(suite.context, suite.server.base, 3, 'Doomed');
    await page.goto(`${suite.server.base}/u/deleter`);
    page.on('dialog', (dialog) => dialog.accept());
    const titles = await page.$$eval('#feed article .post__title', (els) => els.map((e) => e.textContent.trim()));
    assert.deepEqual(titles, ['Doomed 3', 'Doomed 2', 'Doomed 1']);

    const deleteByKeyboard = async (title) => {
      await tabTo(
        page,
        `the Delete of ${title}`,
        (t) => {
          const a = document.activeElement;
          return a.matches('.post__actions a[href$="/delete"]') && a.closest('article').querySelector('.post__title').textContent.trim() === t;
        },
        title,
      );
      await page.keyboard.press('Enter');
      await page.waitForFunction((t) => ![...document.querySelectorAll('#feed .post__title')].some((e) => e.textContent.trim() === t), title);
      await page.waitForFunction((t) => document.querySelector('#messages').textContent.includes(`Your post “${t}” is deleted.`), title);
      assert.equal(await page.getAttribute('#messages', 'aria-live'), 'polite');
    };
    const focusedPost = () =>
      page.evaluate(() => document.activeElement.closest('article')?.querySelector('.post__title').textContent.trim() ?? document.activeElement.id);

    await page.focus('#main');
    await deleteByKeyboard('Doomed 2');
    assert.equal(await focusedPost(), 'Doomed 1', 'the next post');
    await deleteByKeyboard('Doomed 1');
    assert.equal(await focusedPost(), 'Doomed 3', 'the previous post');
    await deleteByKeyboard('Doomed 3');
    assert.equal(await focusedPost(), 'feed-title', "the feed's heading");
  });

  it('loads more posts and lands on the first new one each time, until the end of the feed', async () => {
    const page = await freshPage();
    await signUp(page, suite.server.base, 'pager');
    await seedPosts(suite.context, suite.server.base, 45, 'Paged');
    await page.goto(`${suite.server.base}/u/pager`);
    const focusedIndex = () =>
      page.evaluate(() =>
        document.activeElement.matches('.post__title a')
          ? [...document.querySelectorAll('#feed article')].indexOf(document.activeElement.closest('article'))
          : -1,
      );
    for (const first of [20, 40]) {
      await tabTo(page, 'Load more', () => document.activeElement.matches('#feed-more button'));
      await page.keyboard.press('Enter');
      await page.waitForFunction((n) => document.querySelectorAll('#feed article').length > n, first);
      await page.waitForFunction(() => document.activeElement.matches('.post__title a'));
      assert.equal(await focusedIndex(), first, 'the first new post');
    }
    assert.equal(await page.locator('#feed-more').count(), 0);
    assert.equal((await page.textContent('#feed-end')).trim(), "You've reached the end.");
  });
});

describe("times in the reader's clock", () => {
  const suite = suiteWithContextPerTest({ before, after, afterEach }, assert);

  it('shows HH:MM in the local time zone with JavaScript, UTC without', async () => {
    suite.context = await newContext(suite.browser, { timezoneId: 'Asia/Kathmandu' });
    const page = await suite.context.newPage();
    await signUp(page, suite.server.base, 'clock');
    await seedPosts(suite.context, suite.server.base, 1, 'Timed');
    await page.goto(`${suite.server.base}/u/clock`);
    const time = await page.$eval('#feed article time', (el) => ({ iso: el.getAttribute('datetime'), text: el.textContent, title: el.title }));
    // Kathmandu is UTC+05:45 all year.
    const local = new Date(Date.parse(time.iso) + (5 * 60 + 45) * 60_000);
    const hhmm = `${String(local.getUTCHours()).padStart(2, '0')}:${String(local.getUTCMinutes()).padStart(2, '0')}`;
    assert.ok(time.text.endsWith(`, ${hhmm}`), `${time.text} ends with ${hhmm}`);
    assert.doesNotMatch(time.text, /UTC/);
    assert.match(time.title, / UTC$/, 'the UTC time stays at hand');

    const withoutJs = await newContext(suite.browser, { javaScriptEnabled: false, timezoneId: 'Asia/Kathmandu' });
    const plain = await withoutJs.newPage();
    await plain.goto(`${suite.server.base}/u/clock`);
    assert.match(await plain.textContent('#feed article time'), /^\d{1,2} \w{3} \d{4}, \d\d:\d\d UTC$/);
    assertNoProblems(assert, withoutJs);
    await withoutJs.close();
  });
});
