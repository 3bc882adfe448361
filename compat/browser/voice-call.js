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
const { run, out, screenshot, until, openPhone, required } = require('./browser');
const { fakeMicrophone, customerCall, said } = require('./call');

// Each step's own limit: speech recognition and synthesis are slower than text.
const STEP_MS = 40000;

run(
  async browser => {
    const hub = required('HUB_URL').replace(/\/+$/, '');
    const audio = required('CALL_AUDIO');
    if (!fs.existsSync(audio)) throw new Error(`CALL_AUDIO ${audio} does not exist`);
    const says = required('CALL_SAYS');
    const expected = required('CALL_EXPECT');
    const then = process.env.CALL_THEN || '';
    const thenExpected = process.env.CALL_THEN_EXPECT || '';

    const tab = await openPhone(browser, `${hub}/chat`, { microphone: true });
    await tab.locator('#call').click();

    const { panel, lines, live, connected } = customerCall(tab);
    const describe = async () => `call panel: ${JSON.stringify(await panel())}; call log: ${JSON.stringify(await lines())}`;
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
      await connected(STEP_MS, describe);
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
    // CALL_AUDIO as the microphone.
    args: fakeMicrophone(process.env.CALL_AUDIO),
  },
);
