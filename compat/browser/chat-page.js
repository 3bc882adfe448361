// The hub's own customer chat page (`/chat`) in headless Chromium on a phone-sized screen: it
// waits for the bot's greeting, types a message, sends it, and waits until the bot's reply is
// shown and the message is marked sent.
//
// Environment: HUB_URL (the hub's base URL), CHAT_GREETING ("Hello from the node bot"),
// CHAT_SEND ("hi"), CHAT_EXPECT ("Echo: hi"), SCREENSHOT (a .png path, optional), TIMEOUT_MS.
//
// stdout: SENT <text>, TRANSCRIPT <json> (what the page shows: role, name, text, state), SCREENSHOT
// <path>, then OK (exit 0) or FAIL <reason> (exit 1). stderr: the page's console errors.

'use strict';

const { run, out, screenshot, until, openPhone, required } = require('./browser');

// What the page shows, read from its DOM: one entry per transcript item.
function transcript() {
  return [...document.querySelectorAll('#log > li')].map(li => ({
    role: li.dataset.role,
    name: (li.querySelector('.msg__name') || {}).textContent || null,
    text: ((li.querySelector('.msg__bubble') || li).innerText || '').trim(),
    state: li.dataset.state || null,
  }));
}

run(async browser => {
  const hub = required('HUB_URL').replace(/\/+$/, '');
  const greeting = process.env.CHAT_GREETING || 'Hello from the node bot';
  const send = process.env.CHAT_SEND || 'hi';
  const expected = process.env.CHAT_EXPECT || 'Echo: hi';

  const tab = await openPhone(browser, `${hub}/chat`);

  const rendered = () => tab.evaluate(transcript);
  const describe = async () => `shown: ${JSON.stringify(await rendered())}`;
  try {
    await until(
      async () => (await rendered()).some(i => i.role === 'other' && i.text === greeting),
      20000,
      `the greeting "${greeting}"`,
      describe,
    );
    await until(() => tab.locator('#input').isEnabled(), 5000, 'the message box being enabled');
    await tab.locator('#input').fill(send);
    await tab.locator('#input').press('Enter');
    out(`SENT ${send}`);
    await until(
      async () => {
        const items = await rendered();
        const failed = items.find(i => i.role === 'me' && i.state === 'failed');
        if (failed) throw new Error(`the page marked "${failed.text}" as not sent`);
        const sent = items.some(i => i.role === 'me' && i.text === send && i.state === 'sent');
        const replied = items.some(i => i.role === 'other' && i.text === expected);
        return sent && replied;
      },
      25000,
      `"${expected}" shown and "${send}" marked sent`,
      describe,
    );
  } finally {
    out(`TRANSCRIPT ${JSON.stringify(await rendered().catch(() => []))}`);
    await screenshot(tab).catch(e => process.stderr.write(`screenshot failed: ${e}\n`));
  }
});
