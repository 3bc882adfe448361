'use strict';

// What the browser scripts that make voice calls share: Chromium's fake microphone, and reading
// the customer's call panel (on /chat) and the agent's call-audio bar (on /agent) from the data
// attributes the pages keep for tests.

const { out, until } = require('./browser');

// Chromium flags for `run`'s `args`: a fake microphone playing the WAV file `wav` once (from when
// a page opens the microphone), allowed without a prompt; and the call's audio played whatever
// Chromium thinks of the gesture that started the call.
function fakeMicrophone(wav) {
  return [
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav || ''}%noloop`,
    '--autoplay-policy=no-user-gesture-required',
  ];
}

// The customer's call panel, from the DOM of /chat (evaluated in the page).
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

// The call panel's transcript, from the DOM of /chat (evaluated in the page): one entry per line.
function callLog() {
  return [...document.querySelectorAll('#call-log > li')].map(li => ({
    role: li.dataset.role,
    name: li.dataset.name || null,
    text: ((li.querySelector('.msg__bubble') || li).innerText || '').trim(),
  }));
}

// The agent's call-audio bar, from the DOM of /agent (evaluated in the page).
function audioBar() {
  const bar = document.getElementById('call-audio-bar');
  return {
    hidden: bar.hidden,
    state: bar.dataset.state,
    heardMs: Number(bar.dataset.heardMs || 0),
    sentMs: Number(bar.dataset.sentMs || 0),
    peak: Number(bar.dataset.peak || 0),
    status: document.getElementById('call-audio-status').textContent,
  };
}

// The customer's call on the /chat tab `tab`: `panel()` and `lines()` read it; `live()` is the
// panel too, but throws at once when the call is over before its time (so a wait fails early);
// `connected(timeoutMs, describe)` waits for the call to be connected and prints
// `CALL <conversation id>`.
function customerCall(tab) {
  const panel = () => tab.evaluate(callPanel);
  const lines = () => tab.evaluate(callLog);
  const live = async () => {
    const state = await panel();
    if (state.state === 'failed' || state.state === 'ended') throw new Error(`the call ${state.state} early: "${state.status}"`);
    return state;
  };
  const connected = async (timeoutMs, describe) => {
    const state = await until(
      async () => {
        const current = await live();
        return current.state === 'connected' && current;
      },
      timeoutMs,
      'the call being connected',
      describe,
    );
    out(`CALL ${state.conversationId}`);
    return state;
  };
  return { panel, lines, live, connected };
}

// Recognisers differ in capitals and in a closing full stop; the words must match exactly.
function said(text) {
  return text.trim().toLowerCase().replace(/[.!?,;:]+$/, '').trim();
}

module.exports = { fakeMicrophone, callPanel, callLog, audioBar, customerCall, said };
