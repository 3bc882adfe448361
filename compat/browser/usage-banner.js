// The bot-session usage banner of the supervisor view (`/supervisor`) in headless Chromium,
// against three hubs the Rust test started:
//
//   PLAIN_URL, no `[metering]` → sam signs in: the page read the usage and shows no banner →
//   HUB_URL, a pool of 50 with 39 used (78 %) → no banner either → a customer starts one more
//   conversation (40, 80 %): a minute later, without a reload, a polite warning (role status) →
//   ten more (50, all of it): a minute later the warning gives way to an alert (role alert), and
//   after a reload the page opens with it → ROUTE_URL, an empty pool with `when_spent =
//   "route_to_people"` → the alert says new conversations go to people.
//
// The page's clock is Playwright's fake one, so "a minute later" is a jump, not a wait.
//
// Environment: HUB_URL, PLAIN_URL, ROUTE_URL, PASSWORD (the demo password), DL_TOKENS (eleven
// Direct Line tokens of HUB_URL's website channel, comma-separated), SCREENSHOT (optional),
// TIMEOUT_MS.
//
// stdout: WARNING <text>, SPENT <text>, ROUTE <text>, SCREENSHOT <path>, then OK (exit 0) or
// FAIL <reason> (exit 1).

'use strict';

const { run, out, logPageErrors, screenshot, until, required } = require('./browser');

const MINUTE_MS = 60000;

// Starts the conversation of a Direct Line token, as a customer's client would; the hub's bot
// takes it, which is a bot session.
async function startConversation(hub, token) {
  const response = await fetch(`${hub}/v3/directline/conversations`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
  });
  if (response.status !== 201) throw new Error(`a Direct Line conversation did not start: ${response.status}`);
}

// A signed-in supervisor view of `hub`, with the fake clock installed before the page runs.
async function samOn(browser, hub, password) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'light', reducedMotion: 'reduce' });
  await context.clock.install();
  const page = await context.newPage();
  logPageErrors(page);
  await page.goto(`${hub}/supervisor`);
  await page.getByTestId('signin-name').fill('sam');
  await page.getByTestId('signin-password').fill(password);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('me-name').filter({ hasText: 'Sam Supervisor' }).waitFor({ timeout: 10000 });
  return page;
}

// Waits until the page has read the usage and found `level` (`unmetered` without metering).
async function usageRead(page, level) {
  const box = page.getByTestId('usage');
  await until(async () => (await box.getAttribute('data-level')) === level, 10000, `the usage read as ${level}`,
    async () => `data-level=${await box.getAttribute('data-level')}: ${await box.innerText()}`);
}

// The banners that speak of bot sessions, by their role, as an assistive technology finds them.
function banners(page) {
  return {
    status: page.getByRole('status').filter({ hasText: 'Bot sessions' }),
    alert: page.getByRole('alert').filter({ hasText: 'Bot sessions' }),
  };
}

async function noBanner(page, what) {
  const { status, alert } = banners(page);
  const shown = (await status.count()) + (await alert.count());
  const visible = await page.getByTestId('usage').locator('p:not(:empty)').count();
  if (shown || visible) throw new Error(`${what}: a usage banner is shown: ${await page.getByTestId('usage').innerText()}`);
}

// The one visible banner of `role`; the other role has none. Returns its text.
async function onlyBanner(page, role, what) {
  const { status, alert } = banners(page);
  const [wanted, other] = role === 'alert' ? [alert, status] : [status, alert];
  await until(async () => (await wanted.count()) === 1 && (await wanted.isVisible()), 10000, what,
    async () => page.getByTestId('usage').innerText());
  if (await other.count()) throw new Error(`${what}: a ${role === 'alert' ? 'status' : 'alert'} banner too: ${await other.innerText()}`);
  return (await wanted.innerText()).trim();
}

run(async browser => {
  const password = required('PASSWORD');
  const hub = required('HUB_URL').replace(/\/+$/, '');
  const plain = required('PLAIN_URL').replace(/\/+$/, '');
  const route = required('ROUTE_URL').replace(/\/+$/, '');
  const tokens = required('DL_TOKENS').split(',');
  if (tokens.length !== 11) throw new Error(`DL_TOKENS has ${tokens.length} tokens, not 11`);

  // No metering: no banner.
  const unmetered = await samOn(browser, plain, password);
  await usageRead(unmetered, 'unmetered');
  await noBanner(unmetered, 'without [metering]');
  await unmetered.context().close();

  // 39 of 50 (78 %): no banner.
  const sam = await samOn(browser, hub, password);
  await until(async () => (await sam.getByTestId('connection').getAttribute('data-state')) === 'online', 10000, "sam's events socket");
  await usageRead(sam, 'ok');
  await noBanner(sam, 'under 80 %');

  // 40 of 50: the warning, at the next minute's refresh.
  await startConversation(hub, tokens[0]);
  await sam.clock.fastForward(MINUTE_MS);
  await usageRead(sam, 'warning');
  out(`WARNING ${await onlyBanner(sam, 'status', 'the 80 % warning')}`);

  // 50 of 50: spent, at the next refresh and after a reload.
  for (const token of tokens.slice(1)) await startConversation(hub, token);
  await sam.clock.fastForward(MINUTE_MS);
  await usageRead(sam, 'exhausted');
  const live = await onlyBanner(sam, 'alert', 'the spent alert replacing the warning');
  await sam.reload();
  await sam.getByTestId('me-name').filter({ hasText: 'Sam Supervisor' }).waitFor({ timeout: 10000 });
  await usageRead(sam, 'exhausted');
  const reloaded = await onlyBanner(sam, 'alert', 'the spent alert after a reload');
  if (reloaded !== live) throw new Error(`the alert after a reload (${reloaded}) is not the one shown live (${live})`);
  out(`SPENT ${reloaded}`);
  await screenshot(sam);

  // An empty pool that routes to people once spent.
  const routed = await samOn(browser, route, password);
  await usageRead(routed, 'exhausted');
  out(`ROUTE ${await onlyBanner(routed, 'alert', 'the spent alert with route_to_people')}`);
});
