'use strict';

// What the agent workspace and the customer's chat page show, and how an agent signs in and takes
// an offer: shared by the browser scripts that drive /agent and /chat.

const { out, logPageErrors, until } = require('./browser');

// What the customer's /chat page shows.
function chatTranscript() {
  return [...document.querySelectorAll('#log > li')].map(li => ({
    role: li.dataset.role,
    name: (li.querySelector('.msg__name') || {}).textContent || null,
    text: ((li.querySelector('.msg__bubble') || li).innerText || '').trim(),
  }));
}

// What an agent's workspace shows in its transcript.
function agentTranscript() {
  return [...document.querySelectorAll('[data-testid="transcript-item"]')].map(li => ({
    role: li.dataset.role,
    note: li.dataset.note,
    text: (li.innerText || '').trim(),
  }));
}

async function signIn(browser, hub, name, password) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, colorScheme: 'light', reducedMotion: 'reduce' });
  const tab = await context.newPage();
  logPageErrors(tab);
  await tab.goto(`${hub}/agent`);
  await tab.getByTestId('signin-name').fill(name);
  await tab.getByTestId('signin-password').fill(password);
  await tab.getByTestId('signin-submit').click();
  await tab.getByTestId('me-name').filter({ hasText: /\S/ }).waitFor({ timeout: 10000 });
  await until(async () => (await tab.getByTestId('connection').getAttribute('data-state')) === 'online', 10000, `${name}'s events socket`,
    async () => `connection: ${await tab.getByTestId('connection').getAttribute('data-state')}`);
  await tab.getByTestId('presence').selectOption('available');
  await until(async () => (await (await fetchMe(tab)).presence) === 'available', 5000, `${name} available`);
  return tab;
}

async function fetchMe(tab) {
  return tab.evaluate(async () => (await fetch('/api/v1/me', { credentials: 'same-origin' })).json());
}

async function acceptOffer(tab, who) {
  const offer = tab.getByTestId('offer').first();
  await offer.waitFor({ timeout: 20000 });
  const text = await offer.innerText();
  await offer.getByTestId('accept').click();
  await tab.getByTestId('conversation-item').first().waitFor({ timeout: 10000 });
  out(`OFFER ${who} ${JSON.stringify(text)}`);
  return text;
}

module.exports = { chatTranscript, agentTranscript, signIn, fetchMe, acceptOffer };
