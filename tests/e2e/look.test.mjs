// The look: the orange button, its pulse, motion preferences, focus, phones.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { newContext, signUp, suiteWithContextPerTest } from './lib.mjs';

describe('the look', () => {
  const suite = suiteWithContextPerTest({ before, after, afterEach }, assert);

  async function loggedInPage(options = {}) {
    suite.context = await newContext(suite.browser, options);
    const page = await suite.context.newPage();
    await signUp(page, suite.server.base, `look${Math.floor(Math.random() * 1e9)}`);
    return page;
  }

  it('has an orange Create Post button with white bold text and a pulsing +', async () => {
    const page = await loggedInPage();
    const style = await page.$eval('.create-post-btn', (el) => {
      const s = getComputedStyle(el);
      return { background: s.backgroundColor, color: s.color, weight: s.fontWeight, radius: s.borderRadius, shadow: s.boxShadow };
    });
    assert.equal(style.background, 'rgb(255, 140, 0)');
    assert.equal(style.color, 'rgb(255, 255, 255)');
    assert.ok(Number(style.weight) >= 700, `bold: ${style.weight}`);
    assert.notEqual(style.radius, '0px');
    assert.notEqual(style.shadow, 'none');

    const icon = await page.$eval('.create-post-btn__icon', (el) => ({
      text: el.textContent,
      name: getComputedStyle(el).animationName,
      duration: getComputedStyle(el).animationDuration,
      running: el.getAnimations().some((a) => a.animationName === 'pulse' && a.playState === 'running'),
    }));
    assert.deepEqual(icon, { text: '+', name: 'pulse', duration: '1s', running: true });
  });

  it('lifts the button on hover', async () => {
    const page = await loggedInPage();
    const before = await page.$eval('.create-post-btn', (el) => el.getBoundingClientRect().top);
    await page.hover('.create-post-btn');
    await page.waitForTimeout(400); // the transition takes 0.15 s
    const lifted = await page.$eval('.create-post-btn', (el) => ({
      top: el.getBoundingClientRect().top,
      transform: getComputedStyle(el).transform,
    }));
    assert.equal(lifted.transform, 'matrix(1, 0, 0, 1, 0, -2)');
    assert.ok(Math.abs(before - lifted.top - 2) < 0.01, `${before} -> ${lifted.top}`);
  });

  it('does not pulse when the person prefers reduced motion', async () => {
    const page = await loggedInPage({ reducedMotion: 'reduce' });
    const icon = await page.$eval('.create-post-btn__icon', (el) => ({
      name: getComputedStyle(el).animationName,
      animations: el.getAnimations().length,
    }));
    assert.deepEqual(icon, { name: 'none', animations: 0 });
  });

  it('shows where the keyboard focus is', async () => {
    const page = await loggedInPage();
    await page.focus('#main');
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement?.classList.contains('create-post-btn'))) break;
    }
    const outline = await page.evaluate(() => {
      const el = document.activeElement;
      const s = getComputedStyle(el);
      return { cls: el.className, style: s.outlineStyle, width: s.outlineWidth };
    });
    assert.equal(outline.cls, 'create-post-btn');
    assert.notEqual(outline.style, 'none');
    assert.notEqual(outline.width, '0px');
  });

  it('fits a 390 px phone without sideways scrolling', async () => {
    suite.expected = [404]; // the themed 404 page is visited on purpose
    const page = await loggedInPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    for (const path of ['/', '/posts/new', '/sessions', '/settings', '/settings/password', '/login', '/signup', '/nowhere']) {
      await page.goto(`${suite.server.base}${path}`);
      const { scroll, client } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      assert.ok(scroll <= client, `${path}: ${scroll} > ${client}`);
    }
  });

  it('serves its favicon, so no page asks for a missing one', async () => {
    suite.context = await newContext(suite.browser);
    const page = await suite.context.newPage();
    const resp = await page.goto(`${suite.server.base}/favicon.ico`);
    assert.equal(resp.status(), 200);
    await page.goto(`${suite.server.base}/`);
    await page.waitForLoadState('networkidle');
  });
});
