// The agent's side of a voice call, in headless Chromium: a customer calls from the hub's own
// `/chat` page (a WAV file as the microphone) and asks for an agent; AGENT, signed in on
// `/agent`, is offered the conversation, accepts it, joins the call audio from the workspace's
// call-audio bar and hears the caller (enough audio, and loud enough to be speech rather than
// silence); then the agent ends the conversation and the customer's call ends with it.
//
// Environment: HUB_URL (the hub's base URL), PASSWORD (the demo password), AGENT (e.g. "carol"),
// CALL_AUDIO (a .wav path: the microphone of both pages, one browser), CALL_THEN (the customer
// line that makes the bot escalate, e.g. "agent"; matched whole, ignoring case and trailing
// punctuation), SCREENSHOT (the agent's page, optional), TIMEOUT_MS (120000).
//
// stdout: CALL <conversation id> (the customer's call), OFFER <agent> <text>, CONVERSATION <id>,
// AGENT_HEARD_MS <n>, AGENT_PEAK <n>, AGENT_SENT_MS <n>, CALL_TRANSCRIPT <json>, SCREENSHOT
// <path>, then OK (exit 0) or FAIL <reason> (exit 1). stderr: the pages' console errors.

'use strict';

const fs = require('fs');
const { run, out, screenshot, until, openPhone, required } = require('./browser');
const { fakeMicrophone, audioBar, customerCall, said } = require('./call');
const { signIn, acceptOffer } = require('./workspace');

// Each step's own limit: speech recognition and synthesis are slower than text.
const STEP_MS = 40000;
// What the agent must have heard: two seconds of the caller, with speech in it (a peak sample
// well above a silent line's noise).
const HEARD_MS = 2000;
const PEAK = 2000;

run(
  async browser => {
    const hub = required('HUB_URL').replace(/\/+$/, '');
    const password = required('PASSWORD');
    const agentName = required('AGENT');
    const audio = required('CALL_AUDIO');
    if (!fs.existsSync(audio)) throw new Error(`CALL_AUDIO ${audio} does not exist`);
    const then = required('CALL_THEN');

    // The agent first, available, so the escalation has someone to offer the call to.
    const agent = await signIn(browser, hub, agentName, password);
    await agent.context().grantPermissions(['microphone'], { origin: hub });

    // The customer, on a phone, calling.
    const chat = await openPhone(browser, `${hub}/chat`, { microphone: true });
    await chat.locator('#call').click();

    const { panel, lines, live, connected } = customerCall(chat);
    const bar = () => agent.evaluate(audioBar);
    const describe = async () => `call panel: ${JSON.stringify(await panel().catch(() => null))}; ` +
      `call log: ${JSON.stringify(await lines().catch(() => []))}; ` +
      `agent audio: ${JSON.stringify(await bar().catch(() => null))}`;
    // Fails at once when the agent's audio failed or ended before its time.
    const joined = async () => {
      await live();
      const state = await bar();
      if (state.state === 'failed' || state.state === 'ended') {
        throw new Error(`the agent's call audio ${state.state}: "${state.status}"`);
      }
      return state;
    };

    try {
      await connected(STEP_MS, describe);
      await until(
        async () => {
          if ((await lines()).some(line => line.role === 'customer' && said(line.text) === said(then))) return true;
          await live();
          return false;
        },
        STEP_MS,
        `the customer line "${then}"`,
        describe,
      );

      // The agent takes it and joins the audio.
      await acceptOffer(agent, agentName);
      const item = agent.getByTestId('conversation-item').first();
      const id = await item.getAttribute('data-conversation-id');
      out(`CONVERSATION ${id}`);
      await item.click();
      await agent.locator('#call-audio').waitFor({ state: 'visible', timeout: STEP_MS });
      await until(() => agent.locator('#call-audio').isEnabled(), 10000, 'Join call audio being enabled', describe);
      await agent.locator('#call-audio').click();
      await until(async () => (await joined()).state === 'connected', STEP_MS, "the agent's call audio connecting", describe);
      await until(
        async () => {
          const state = await joined();
          return state.heardMs >= HEARD_MS && state.peak >= PEAK;
        },
        STEP_MS,
        `the agent hearing ${HEARD_MS} ms of the caller with a peak of ${PEAK}`,
        describe,
      );
    } finally {
      const state = await bar().catch(() => ({}));
      out(`AGENT_HEARD_MS ${state.heardMs}`);
      out(`AGENT_PEAK ${state.peak}`);
      out(`AGENT_SENT_MS ${state.sentMs}`);
      out(`CALL_TRANSCRIPT ${JSON.stringify(await lines().catch(() => []))}`);
      await screenshot(agent).catch(e => process.stderr.write(`screenshot failed: ${e}\n`));
    }

    // The agent ends the conversation: wrap-up for the agent, the end of the call for the customer.
    await agent.getByTestId('end').click();
    await agent.getByTestId('wrapup').waitFor({ state: 'visible', timeout: 10000 });
    await until(async () => (await panel()).state === 'ended', STEP_MS, "the customer's call ending after End", describe);
    await until(async () => (await bar()).state === 'ended', 10000, "the agent's call audio ending", describe);
  },
  {
    timeoutMs: 120000,
    // CALL_AUDIO as the microphone of both pages.
    args: fakeMicrophone(process.env.CALL_AUDIO),
  },
);
