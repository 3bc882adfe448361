// A voice call from the hub's own customer chat page (`/chat`) in headless Chromium on a
// phone-sized screen, with a WAV file as the microphone (Chromium's fake capture device plays it
// once, from when the page opens the microphone): it presses Call, waits until the call is
// connected, until the hub has recognised what the file says and the bot has answered, and until
// at least a second of the hub's speech has arrived; then, optionally, for a further utterance
// and what follows it (a queue notice, say); then it hangs up.
//
// Environment: HUB_URL (the hub's base URL), CALL_AUDIO (a .wav path: the microphone), CALL_SAYS
// (what the hub should hear, e.g. "check my balance"; matched whole, ignoring case and trailing
// punctuation), CALL_EXPECT (a substring of a bot line), CALL_THEN (optional: a later customer
// line, matched like CALL_SAYS), CALL_THEN_EXPECT (optional: a substring of a line of any role
// after that one), SCREENSHOT (a .png path, optional), TIMEOUT_MS (90000).
//
// stdout: CALL <conversation id>, CALL_TRANSCRIPT <json> (the call panel's lines: role, name,
// text), HEARD_MS <n> and SENT_MS <n> (audio received from and sent to the hub), SCREENSHOT
// <path>, then OK (exit 0) or FAIL <reason> (exit 1). stderr: the page's console errors.

'use strict';

const fs = require('fs');
const { run, out, logPageErrors, screenshot, until, required } = require('./browser');

// Each step's own limit: speech recognition and synthesis are slower than text.
const STEP_MS = 40000;

// What the call panel shows, read from its DOM: one entry per transcript line.
function callLog() {
  return [...document.querySelectorAll('#call-log > li')].map(li => ({
    role: li.dataset.role,
    name: li.dataset.name || null,
    text: ((li.querySelector('.msg__bubble') || li).innerText || '').trim(),
  }));
}

// The call panel's state, from the data attributes the page keeps for tests.
function callPanel() {
  const panel = document.getElementById('call-panel');
  return {
    state: panel.dataset.state,
    conversationId: panel.dataset.conversationId || null,
    heardMs: Number(panel.dataset.heardMs || 0),
    sentMs: Number(panel.dataset.sentMs || 0),
    status: document.getElementById('call-status').textContent,
  };
}

// Recognisers differ in capitals and in a closing full stop; the words must match exactly.
function said(text) {
  return text.trim().toLowerCase().replace(/[.!?,;:]+$/, '').trim();
}

run(
  async browser => {
    const hub = required('HUB_URL').replace(/\/+$/, '');
    const audio = required('CALL_AUDIO');
    if (!fs.existsSync(audio)) throw new Error(`CALL_AUDIO ${audio} does not exist`);
    const says = required('CALL_SAYS');
    const expected = required('CALL_EXPECT');
    const then = process.env.CALL_THEN || '';
    const thenExpected = process.env.CALL_THEN_EXPECT || '';

    const context = await browser.newContext({
      locale: 'en-US',
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      colorScheme: 'light',
      reducedMotion: 'reduce',
      permissions: ['microphone'],
    });
    const tab = await context.newPage();
    logPageErrors(tab);
    await tab.goto(`${hub}/chat`);
    await tab.locator('#call').click();

    const panel = () => tab.evaluate(callPanel);
    const lines = () => tab.evaluate(callLog);
    const describe = async () => `call panel: ${JSON.stringify(await panel())}; call log: ${JSON.stringify(await lines())}`;
    // Fails at once when the call is over before its time.
    const live = async () => {
      const state = await panel();
      if (state.state === 'failed' || state.state === 'ended') throw new Error(`the call ${state.state} early: "${state.status}"`);
      return state;
    };
    // The first line after index `from` that `matches`, as `{ index }`; null while there is none.
    // A line already shown counts even if the call has ended since.
    const find = async (from, matches) => {
      const index = (await lines()).findIndex((line, i) => i > from && matches(line));
      if (index >= 0) return { index };
      await live();
      return null;
    };
    const customerSaid = text => line => line.role === 'customer' && said(line.text) === said(text);
    const contains = text => line => line.text.toLowerCase().includes(text.toLowerCase());

    try {
      const connected = await until(
        async () => {
          const state = await live();
          return state.state === 'connected' && state;
        },
        STEP_MS,
        'the call being connected',
        describe,
      );
      out(`CALL ${connected.conversationId}`);
      const first = await until(() => find(-1, customerSaid(says)), STEP_MS, `the customer line "${says}"`, describe);
      await until(
        () => find(-1, line => line.role === 'bot' && contains(expected)(line)),
        STEP_MS,
        `a bot line with "${expected}"`,
        describe,
      );
      await until(
        async () => {
          if ((await panel()).heardMs >= 1000) return true;
          await live();
          return false;
        },
        STEP_MS,
        'a second of the hub speaking',
        describe,
      );
      if (then) {
        const next = await until(() => find(first.index, customerSaid(then)), STEP_MS, `the customer line "${then}"`, describe);
        if (thenExpected) {
          await until(() => find(next.index, contains(thenExpected)), STEP_MS, `a line with "${thenExpected}" after "${then}"`, describe);
        }
      }
    } finally {
      const state = await panel().catch(() => ({}));
      out(`CALL_TRANSCRIPT ${JSON.stringify(await lines().catch(() => []))}`);
      out(`HEARD_MS ${state.heardMs}`);
      out(`SENT_MS ${state.sentMs}`);
      await screenshot(tab).catch(e => process.stderr.write(`screenshot failed: ${e}\n`));
    }

    // The hub may have hung up already (a bot that says goodbye); then there is nothing to press.
    if ((await panel()).state === 'connected') await tab.locator('#hangup').click();
    await until(async () => (await panel()).state === 'ended', STEP_MS, 'the call ending after Hang up', describe);
  },
  {
    timeoutMs: 90000,
    // A fake microphone playing CALL_AUDIO once, allowed without a prompt; and the hub's speech
    // played whatever Chromium thinks of the gesture that started the call.
    args: [
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${process.env.CALL_AUDIO || ''}%noloop`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  },
);
