// The analytics page (`/supervisor/analytics`) in headless Chromium: sam signs in (the session
// cookie the page uses), opens the report for today and finds its four server-rendered charts,
// each with data in it, and the per-bot table.
//
// Environment: HUB_URL, PASSWORD (the demo password), SCREENSHOT (optional), ANALYTICS_QUERY
// (optional, e.g. `?from=2026-11-01&to=2026-11-07`), TIMEOUT_MS.
//
// stdout: SERIES <chart> <n>…, SCREENSHOT <path>, then OK (exit 0) or FAIL <reason> (exit 1).

'use strict';

const { run, out, logPageErrors, required } = require('./browser');

run(async browser => {
  const hub = required('HUB_URL');
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  const signedIn = await context.request.post(`${hub}/api/v1/sessions`, {
    data: { name: 'sam', password: required('PASSWORD') },
  });
  if (signedIn.status() !== 201) throw new Error(`sam could not sign in: ${signedIn.status()}`);
  const tab = await context.newPage();
  logPageErrors(tab);
  const response = await tab.goto(`${hub}/supervisor/analytics${process.env.ANALYTICS_QUERY || ''}`);
  if (response.status() !== 200) throw new Error(`the page answered ${response.status()}`);
  for (const chart of ['outcomes', 'rates', 'sentiment', 'agents']) {
    const svg = tab.getByTestId(`chart-${chart}`);
    await svg.waitFor({ timeout: 5000 });
    const box = await svg.boundingBox();
    if (!box || box.width < 200 || box.height < 50) throw new Error(`chart ${chart} is not drawn: ${JSON.stringify(box)}`);
    const series = await svg.locator('[data-series]').count();
    out(`SERIES ${chart} ${series}`);
    if (series === 0) throw new Error(`chart ${chart} has no data`);
  }
  const bots = await tab.getByTestId('by-bot').locator('tr').count();
  if (bots < 3) throw new Error(`the per-bot table has ${bots} rows`);
  const shot = process.env.SCREENSHOT;
  if (shot) {
    await tab.screenshot({ path: shot, fullPage: true });
    out(`SCREENSHOT ${shot}`);
  }
});
