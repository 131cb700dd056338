// axe-core (pinned in package-lock.json) run inside a page, and the checks
// of a page's outline that axe leaves to best practice.
//
// The file node_modules/axe-core/axe.min.js is evaluated in the page through
// the DevTools protocol: page.addScriptTag would add an inline <script>,
// which Tangerine's Content-Security-Policy rightly refuses, and bypassing
// the policy for the test would hide the violations the suites look for.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const AXE_PATH = require.resolve('axe-core/axe.min.js');
const AXE_SOURCE = readFileSync(AXE_PATH, 'utf8');
export const AXE_VERSION = JSON.parse(readFileSync(require.resolve('axe-core/package.json'), 'utf8')).version;

/** WCAG 2.0, 2.1 and 2.2, levels A and AA. */
export const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * The one exception, the owner's: the Create Post button keeps white on
 * pure orange. It is left out of the colour-contrast rule alone.
 */
export const CONTRAST_EXCEPTION = '.create-post-btn';

/**
 * Runs axe on the page as it is: every rule of TAGS on the whole document,
 * then colour contrast again on everything but CONTRAST_EXCEPTION. Returns
 * the violations (as lines naming rule, element and page) and the
 * "incomplete" results (for review).
 */
export async function axeCheck(page, label) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(AXE_SOURCE);
  }
  const results = await page.evaluate(
    async ({ tags, exception }) => {
      const everything = await window.axe.run(document, {
        runOnly: { type: 'tag', values: tags },
        rules: { 'color-contrast': { enabled: false } },
        resultTypes: ['violations', 'incomplete'],
      });
      const contrast = await window.axe.run(
        { include: [document], exclude: [[exception]] },
        { runOnly: { type: 'rule', values: ['color-contrast'] }, resultTypes: ['violations', 'incomplete'] },
      );
      const brief = (list) =>
        list.map((r) => ({
          id: r.id,
          impact: r.impact,
          help: r.help,
          nodes: r.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
        }));
      return {
        violations: brief([...everything.violations, ...contrast.violations]),
        incomplete: brief([...everything.incomplete, ...contrast.incomplete]),
        passes: everything.passes.length + contrast.passes.length,
      };
    },
    { tags: TAGS, exception: CONTRAST_EXCEPTION },
  );
  const lines = (list) =>
    list.flatMap((r) => r.nodes.map((n) => `${label}: ${r.id} (${r.impact}) at ${n.target}: ${r.help}; ${n.summary ?? ''}`.trim()));
  return { violations: lines(results.violations), incomplete: lines(results.incomplete) };
}

/**
 * What axe keeps for best practice but the issue asks of every page: one
 * h1, and it is the first heading; no heading more than one level below the
 * one before; the landmarks; the skip link. Returns the problems found.
 */
export async function outlineProblems(page, label) {
  const found = await page.evaluate(() => {
    const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
    const levels = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(visible).map((h) => Number(h.tagName[1]));
    const landmarks = {
      banner: document.querySelectorAll('body > header').length,
      navigation: document.querySelectorAll('nav').length,
      main: document.querySelectorAll('main').length,
      contentinfo: document.querySelectorAll('body > footer').length,
    };
    const skip = document.querySelector('a.skip-link[href="#main"]') !== null;
    return { levels, landmarks, skip };
  });
  const problems = [];
  const { levels, landmarks, skip } = found;
  if (levels.filter((l) => l === 1).length !== 1) problems.push(`${label}: ${levels.filter((l) => l === 1).length} h1 (${levels})`);
  if (levels[0] !== 1) problems.push(`${label}: the first heading is an h${levels[0]} (${levels})`);
  levels.forEach((l, i) => {
    if (i > 0 && l > levels[i - 1] + 1) problems.push(`${label}: h${levels[i - 1]} then h${l} (${levels})`);
  });
  for (const [name, count] of Object.entries(landmarks)) {
    if (count < 1 || (name !== 'navigation' && count > 1)) problems.push(`${label}: ${count} ${name} landmarks`);
  }
  if (!skip) problems.push(`${label}: no skip link`);
  return problems;
}
