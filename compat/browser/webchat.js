// Microsoft's real Web Chat (npm `botframework-webchat`, its own `dist/webchat.js` bundle, pinned
// in ../package.json) in headless Chromium, against a hub's Direct Line: a tiny loopback server
// serves a test page that renders Web Chat with `createDirectLine({domain, token})` (or
// `{domain, secret}`, as Microsoft's quickstarts do; `webSocket: false` to poll); Playwright
// types a message into Web Chat's send box, sends it, and waits until the bot's reply is rendered
// and the message is marked sent (neither "Sending" nor "Send failed").
//
// Environment: HUB_URL (the hub's base URL), DL_TOKEN (a Direct Line token) or DL_SECRET (the
// channel's secret), DL_MODE (websocket | polling; websocket), WEBCHAT_SEND ("hi"),
// WEBCHAT_EXPECT ("Echo: hi"), SCREENSHOT (a .png path, optional), TIMEOUT_MS (60000).
//
// stdout: CONNECTED, WEBSOCKET <url> (its token elided), SENT <text>, TRANSCRIPT <json> (what Web Chat rendered, once done or failed),
// SCREENSHOT <path>, then OK (exit 0) or FAIL <reason> (exit 1). stderr: the page's console errors
// and Web Chat's Direct Line actions (`webchat <action> …`).

'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const { run, out, logPageErrors, screenshot, until, required } = require('./browser');

// The package's `exports` do not list its browser bundle, so it is found by path.
const BUNDLE = path.join(__dirname, '..', 'node_modules', 'botframework-webchat', 'dist', 'webchat.js');

// The config goes into the page as JSON in a script element; `<` is escaped so no value can end
// the element early.
function page(config) {
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Web Chat against Switchboard</title>
  <link rel="icon" href="data:,">
  <style>html, body { height: 100%; margin: 0; } #webchat { height: 100%; }</style>
</head>
<body>
  <div id="webchat" role="main"></div>
  <script id="config" type="application/json">${json}</script>
  <script src="/webchat.js"></script>
  <script>
    const config = JSON.parse(document.getElementById('config').textContent);
    // Web Chat's store, with a middleware that logs its Direct Line actions: a failed run then
    // says which step (connect, post, incoming echo) went wrong.
    const store = window.WebChat.createStore({}, () => next => action => {
      if (action.type.startsWith('DIRECT_LINE/')) {
        const { activity, connectionStatus } = action.payload || action.meta || {};
        const detail = activity
          ? JSON.stringify({ id: activity.id, type: activity.type, role: activity.from && activity.from.role,
                             text: activity.text, clientActivityID: activity.channelData && activity.channelData.clientActivityID })
          : connectionStatus !== undefined ? 'status ' + connectionStatus : '';
        console.info('webchat ' + action.type + ' ' + detail);
      }
      if (action.type === 'DIRECT_LINE/CONNECT_FULFILLED') window.webchatConnected = true;
      return next(action);
    });
    window.WebChat.renderWebChat({
      directLine: window.WebChat.createDirectLine({
        domain: config.domain, token: config.token, secret: config.secret, webSocket: config.webSocket,
      }),
      store,
      locale: 'en-US',
    }, document.getElementById('webchat'));
  </script>
</body>
</html>`;
}

// Serves the page at / and Web Chat's bundle at /webchat.js, from node_modules: no CDN.
function serve(html) {
  const server = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html);
    } else if (req.url === '/webchat.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      fs.createReadStream(BUNDLE).pipe(res);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// What Web Chat rendered, read from its DOM: one entry per transcript activity. A message being
// sent carries `.webchat__activity-status--sending` ("Sending", or "Send failed. Retry" once
// `sendTimeout` passed); a sent one shows its time instead.
function transcript() {
  return [...document.querySelectorAll('.webchat__basic-transcript__activity')].map(el => {
    const status = el.querySelector('.webchat__activity-status');
    return {
      fromUser: !!el.querySelector('.webchat__stacked-layout--from-user, .webchat__bubble--from-user'),
      text: [...el.querySelectorAll('.webchat__text-content')].map(t => t.innerText.trim()).join('\n'),
      pending: !!el.querySelector('.webchat__activity-status--sending'),
      status: status ? status.innerText.trim() : '',
    };
  });
}

run(async browser => {
  const hub = required('HUB_URL').replace(/\/+$/, '');
  const token = process.env.DL_TOKEN || undefined;
  const secret = process.env.DL_SECRET || undefined;
  if (!token === !secret) throw new Error('set exactly one of DL_TOKEN and DL_SECRET');
  const mode = process.env.DL_MODE || 'websocket';
  if (mode !== 'websocket' && mode !== 'polling') throw new Error(`DL_MODE must be websocket or polling, not ${mode}`);
  const send = process.env.WEBCHAT_SEND || 'hi';
  const expected = process.env.WEBCHAT_EXPECT || 'Echo: hi';

  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm ci in compat/`);
  const server = await serve(page({ domain: `${hub}/v3/directline`, token, secret, webSocket: mode === 'websocket' }));
  try {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 480, height: 720 } });
    const tab = await context.newPage();
    logPageErrors(tab);
    // Proof that Web Chat took the WebSocket `streamUrl` rather than polling (token elided).
    tab.on('websocket', socket => out(`WEBSOCKET ${socket.url().replace(/([?&]t=)[^&]*/, '$1…')}`));
    tab.on('console', message => {
      if (message.type() === 'info' && message.text().startsWith('webchat ')) {
        process.stderr.write(`${message.text()}\n`);
      }
    });
    await tab.goto(`http://127.0.0.1:${server.address().port}/`);

    await until(() => tab.evaluate(() => window.webchatConnected === true), 20000, 'Web Chat connecting');
    out('CONNECTED');

    const input = tab.locator('[data-id="webchat-sendbox-input"]');
    await input.fill(send);
    await input.press('Enter');
    out(`SENT ${send}`);

    const rendered = () => tab.evaluate(transcript);
    try {
      await until(
        async () => {
          const items = await rendered();
          const failed = items.find(i => i.fromUser && /send failed/i.test(i.status));
          if (failed) throw new Error(`Web Chat marked "${failed.text}" as failed: ${failed.status}`);
          const sent = items.some(i => i.fromUser && i.text === send && !i.pending);
          const replied = items.some(i => !i.fromUser && i.text === expected);
          return sent && replied;
        },
        30000,
        `"${expected}" rendered and "${send}" marked sent`,
        async () => `rendered: ${JSON.stringify(await rendered())}`,
      );
      // Web Chat debounces its connectivity notice, so "Connecting…" may still show for a moment
      // after a fast exchange; a notice that stays (reconnecting, failed to connect) is a failure.
      const notice = () => tab.evaluate(() => {
        const status = document.querySelector('.webchat__connectivityStatus');
        return status ? status.innerText.trim() : '';
      });
      await until(async () => (await notice()) === '', 10000, 'Web Chat clearing its connectivity notice', async () =>
        `it still says "${await notice()}"`);
    } finally {
      out(`TRANSCRIPT ${JSON.stringify(await rendered().catch(() => []))}`);
      await screenshot(tab).catch(e => process.stderr.write(`screenshot failed: ${e}\n`));
    }
  } finally {
    server.close();
  }
});
