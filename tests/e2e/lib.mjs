// Shared helpers for the browser tests: a real Tangerine server on a random
// port with a fresh SQLite file, Debian's Chromium through playwright-core,
// and contexts that record every console error, page error and
// Content-Security-Policy violation.

import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.TANGERINE_BIN ?? path.join(ROOT, 'target/debug/tangerine');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const PASSWORD = 'correct horse battery';

/** Starts the binary; resolves once it serves, with its address. */
export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tangerine-e2e-'));
  const child = spawn(
    BIN,
    // The tests sign up more people from 127.0.0.1, and write more posts per
    // person, than a public site allows.
    // Mail (no SMTP server) is written as .eml files into the test's folder.
    ['--addr', '127.0.0.1:0', '--database-url', `sqlite://${dir}/e2e.db`, '--signup-limit', '0', '--post-limit', '0', '--mail-dir', path.join(dir, 'mail'), ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'info', NO_COLOR: '1' } },
  );
  const log = [];
  const base = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      log.push(line);
      const serving = line.includes('Tangerine is serving') && line.match(/addr=(\S+)/);
      if (serving) resolve(`http://${serving[1]}`);
    });
    child.once('exit', (code) => reject(new Error(`tangerine exited (${code}):\n${log.join('\n')}`)));
    child.once('error', reject);
  });
  return {
    base,
    log,
    databaseUrl: `sqlite://${dir}/e2e.db`,
    mailDir: path.join(dir, 'mail'),
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless, with nothing that reaches out to the network. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * A browser context whose pages report problems into `context.problems`:
 * console errors (Chromium reports CSP violations and failed loads there),
 * uncaught page errors, and `securitypolicyviolation` events.
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  context.problems = [];
  const watch = (page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') context.problems.push(`${page.url()} console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => context.problems.push(`${page.url()} error: ${err.message}`));
  };
  context.on('page', watch);
  if (options.javaScriptEnabled !== false) {
    // Runs before any page script, outside the page's CSP.
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
  }
  return context;
}

/**
 * Fails with every problem the context's pages reported. Chromium logs every
 * 4xx answer to a script's request as "Failed to load resource"; the statuses
 * a test provokes on purpose (a form error is a 422) are passed in `expected`.
 */
/**
 * A suite's server and browser (started before its tests, stopped after) and
 * a fresh context per test, checked for console errors and CSP violations
 * when the test ends. A test sets `suite.context` to the context it opens and
 * lists in `suite.expected` the failed statuses it provokes on purpose.
 */
export function suiteWithContextPerTest({ before, after, afterEach }, assert) {
  const suite = { server: undefined, browser: undefined, context: undefined, expected: [] };
  before(async () => {
    suite.server = await startServer();
    suite.browser = await launchBrowser();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.server?.stop();
  });
  afterEach(async () => {
    const [done, expected] = [suite.context, suite.expected];
    suite.context = undefined;
    suite.expected = [];
    await done?.close();
    if (done) assertNoProblems(assert, done, { expected });
  });
  return suite;
}

export function assertNoProblems(assert, context, { expected = [] } = {}) {
  const unexpected = context.problems.filter(
    (p) => !expected.some((status) => p.includes(`the server responded with a status of ${status}`)),
  );
  assert.deepStrictEqual(unexpected, [], 'no console errors and no CSP violations');
}

/** Makes an account with `tangerine user create` on the server's database. */
export function createUser(server, username, role = 'member') {
  execFileSync(BIN, ['user', 'create', username, '--role', role, '--password-stdin', '--database-url', server.databaseUrl], {
    input: `${PASSWORD}\n`,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
}

export async function signUp(page, base, username) {
  await page.goto(`${base}/signup`);
  await page.fill('#signup-username', username);
  await page.fill('#signup-password', PASSWORD);
  await page.fill('#signup-password-confirm', PASSWORD);
  await Promise.all([page.waitForURL(`${base}/`), page.click('#signup-form button[type=submit]')]);
}

export async function logIn(page, base, username, { remember = false, next } = {}) {
  await page.goto(next ? `${base}/login?next=${encodeURIComponent(next)}` : `${base}/login`);
  await page.fill('#login-username', username);
  await page.fill('#login-password', PASSWORD);
  if (remember) await page.check('#login-remember');
  await Promise.all([page.waitForURL(`${base}${next ?? '/'}`), page.click('#login-form button[type=submit]')]);
}

export async function logOut(page, base) {
  await Promise.all([page.waitForURL(`${base}/login?logged_out=1`), page.click('.site-nav form[action="/logout"] button')]);
}

/** Publishes posts through the API with the context's own session cookie. */
export async function seedPosts(context, base, count, prefix = 'Seeded post') {
  const { token } = await (await context.request.get(`${base}/api/session/csrf`)).json();
  for (let i = 1; i <= count; i++) {
    const resp = await context.request.post(`${base}/api/posts`, {
      headers: { 'X-CSRF-Token': token },
      data: {
        title: `${prefix} ${i}`,
        body: `Number **${i}** of ${count}: a few words about oranges, [a link](https://example.org/) and \`code\`.`,
      },
    });
    if (resp.status() !== 201) throw new Error(`seeding failed: ${resp.status()} ${await resp.text()}`);
  }
}

/** Marks the document, to tell later whether it was replaced by a navigation. */
export async function markDocument(page) {
  await page.evaluate(() => {
    window.__tangerineMark = 'still here';
  });
}

export async function documentWasKept(page) {
  return page.evaluate(() => window.__tangerineMark === 'still here');
}

/** The mail written so far into `mailDir`, oldest first. */
export function mails(mailDir) {
  let names = [];
  try {
    names = readdirSync(mailDir).filter((n) => n.endsWith('.eml')).sort();
  } catch {
    return [];
  }
  return names.map((n) => readFileSync(path.join(mailDir, n), 'utf8'));
}

/**
 * Waits (up to 10 s) for a message to `to` holding a link under `prefix`
 * (such as `/password/reset/`) and returns the link's path; a link already
 * in one of the `seen` messages does not count.
 */
export async function mailedLink(mailDir, to, prefix, seen = []) {
  const pattern = new RegExp(`https?://[^\\s/]+(${prefix.replace(/\//g, '\\/')}[A-Za-z0-9_-]{43})`);
  for (let i = 0; i < 200; i += 1) {
    for (const mail of mails(mailDir).reverse()) {
      const found = mail.includes(`To: ${to}`) && mail.match(pattern);
      if (found && !seen.includes(found[1])) return found[1];
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${prefix} link to ${to} in ${mailDir}`);
}
