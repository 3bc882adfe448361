// What the browser scripts in this directory share: launching Debian's Chromium through the
// pinned npm `playwright-core` (never a downloaded browser), one overall deadline, and the
// `OK` / `FAIL <reason>` ending the Rust harness reads.

'use strict';

const { chromium } = require('playwright-core');

// Debian's `chromium` package puts its wrapper here.
const EXECUTABLE = '/usr/bin/chromium';

// The background-networking flags matter: without them Chromium keeps trying outbound
// connections that the sandbox refuses. `--disable-dev-shm-usage` for small /dev/shm.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

let finished = false;
let browser;

function out(line) {
  process.stdout.write(`${line}\n`);
}

async function finish(code, lastLine) {
  if (finished) return;
  finished = true;
  if (browser) {
    // Bounded: a wedged browser must not keep the script past its deadline.
    await Promise.race([browser.close().catch(() => {}), new Promise(r => setTimeout(r, 5000))]);
  }
  process.stdout.write(`${lastLine}\n`, () => process.exit(code));
}

function fail(reason) {
  return finish(1, `FAIL ${String(reason).replace(/\s+/g, ' ')}`);
}

// Runs `main(browser)` within TIMEOUT_MS: `OK` and exit 0 when it resolves, `FAIL <reason>` and
// exit 1 when it throws or the deadline passes. Options: `args`, Chromium flags added to FLAGS (a
// fake microphone, say); `timeoutMs`, the deadline when TIMEOUT_MS is unset (60 s by default).
function run(main, options = {}) {
  process.on('uncaughtException', e => fail(`uncaught exception: ${e && e.stack ? e.stack : e}`));
  process.on('unhandledRejection', e => fail(`unhandled rejection: ${e && e.stack ? e.stack : e}`));
  const totalMs = Number(process.env.TIMEOUT_MS || options.timeoutMs || 60000);
  setTimeout(() => fail(`not done within ${totalMs} ms`), totalMs).unref();
  (async () => {
    browser = await chromium.launch({ executablePath: EXECUTABLE, args: [...FLAGS, ...(options.args || [])] });
    await main(browser);
  })().then(
    () => finish(0, 'OK'),
    e => fail(e && e.message ? e.message : e),
  );
}

// Sends the page's console errors, uncaught exceptions and failed requests to stderr, where a failed run's
// report shows them.
function logPageErrors(page) {
  page.on('console', message => {
    if (message.type() === 'error' || message.type() === 'warning') {
      process.stderr.write(`page console.${message.type()}: ${message.text()}\n`);
    }
  });
  page.on('pageerror', error => process.stderr.write(`page error: ${error.stack || error}\n`));
  // Which request failed, which the console message above does not say.
  page.on('response', response => {
    if (response.status() >= 400) {
      process.stderr.write(`page request: ${response.request().method()} ${response.url()} -> ${response.status()}\n`);
    }
  });
  page.on('requestfailed', request => {
    process.stderr.write(`page request: ${request.method()} ${request.url()} failed: ${request.failure().errorText}\n`);
  });
}

// Saves a screenshot to SCREENSHOT when it is set.
async function screenshot(page) {
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: false });
    out(`SCREENSHOT ${process.env.SCREENSHOT}`);
  }
}

// Calls `check` every 100 ms until it returns a truthy value (which `until` returns) or throws
// (a failure to report at once); after `timeoutMs` it throws with `what` and `describe()`.
async function until(check, timeoutMs, what, describe = () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) {
      const detail = await describe();
      throw new Error(`${what} did not happen within ${timeoutMs} ms${detail ? `; ${detail}` : ''}`);
    }
    await new Promise(r => setTimeout(r, 100));
  }
}

// A new tab on a phone-sized screen (a new browser context: cookies and storage of its own) with
// its console going to stderr, at `url`; `microphone: true` allows the microphone without a prompt.
async function openPhone(browser, url, { microphone = false } = {}) {
  const context = await browser.newContext({
    locale: 'en-US',
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    colorScheme: 'light',
    // No entry animations: a screenshot shows settled bubbles.
    reducedMotion: 'reduce',
    permissions: microphone ? ['microphone'] : [],
  });
  const tab = await context.newPage();
  logPageErrors(tab);
  await tab.goto(url);
  return tab;
}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

module.exports = { run, out, logPageErrors, screenshot, until, openPhone, required };
