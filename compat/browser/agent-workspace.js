// The agent workspace (`/agent`) end to end in headless Chromium, with a customer on the hub's
// own `/chat` page and the built-in demo bot answering first:
//
//   the customer asks about a credit card → the bot escalates → alice (CreditCardQueue) is
//   offered it, accepts, sees the bot's part, the summary and BotHandoffTopic = CreditCard → the
//   customer sends markup, which alice's page shows as text without running it → alice replies
//   and the customer sees it with her name → alice transfers to HomeLoanQueue → bob is offered
//   it, accepts and ends it → wrap-up → closed.
//
// Environment: HUB_URL, PASSWORD (the demo password), SCREENSHOT (the workspace, optional),
// SCREENSHOT_OFFER (alice's offer, optional), TIMEOUT_MS.
//
// stdout: CONVERSATION <id>, SCREENSHOT <path>…, then OK (exit 0) or FAIL <reason> (exit 1).

'use strict';

const { run, out, logPageErrors, until, required } = require('./browser');
const { chatTranscript, agentTranscript, signIn, acceptOffer } = require('./workspace');

const XSS = '<script>window.__xss = 1</script><img src="x" onerror="window.__xss = 2"> is my card safe?';

run(async browser => {
  const hub = required('HUB_URL').replace(/\/+$/, '');
  const password = required('PASSWORD');

  const alice = await signIn(browser, hub, 'alice', password);
  const bob = await signIn(browser, hub, 'bob', password);

  // The customer, on a phone.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, reducedMotion: 'reduce' });
  const chat = await phone.newPage();
  logPageErrors(chat);
  await chat.goto(`${hub}/chat`);
  const shown = () => chat.evaluate(chatTranscript);
  await until(async () => (await shown()).some(i => i.role === 'other'), 20000, 'the bot greeting', async () => JSON.stringify(await shown()));
  await until(() => chat.locator('#input').isEnabled(), 5000, 'the chat box being enabled');
  await chat.locator('#input').fill('My credit card was declined');
  await chat.locator('#input').press('Enter');

  // Alice is offered it, with the queue and the bot's summary.
  await alice.getByTestId('offer').first().waitFor({ timeout: 20000 });
  if (process.env.SCREENSHOT_OFFER) {
    await alice.screenshot({ path: process.env.SCREENSHOT_OFFER });
    out(`SCREENSHOT ${process.env.SCREENSHOT_OFFER}`);
  }
  const offerText = await acceptOffer(alice, 'alice');
  if (!offerText.includes('CreditCardQueue')) throw new Error(`the offer does not name CreditCardQueue: ${offerText}`);
  if (!offerText.includes('credit card')) throw new Error(`the offer does not show the bot's summary: ${offerText}`);
  const id = await alice.getByTestId('conversation-item').first().getAttribute('data-conversation-id');
  out(`CONVERSATION ${id}`);
  await alice.getByTestId('conversation-item').first().click();

  const aliceSees = () => alice.evaluate(agentTranscript);
  await until(async () => (await aliceSees()).some(i => i.role === 'bot'), 10000, "the bot's part in alice's transcript",
    async () => JSON.stringify(await aliceSees()));
  await until(async () => {
    const context = await alice.getByTestId('context').innerText();
    return context.includes('BotHandoffTopic') && context.includes('CreditCard');
  }, 10000, 'BotHandoffTopic = CreditCard in the context panel', async () => alice.getByTestId('context').innerText());

  // The customer sends markup: alice's page shows it as text and runs nothing.
  await chat.locator('#input').fill(XSS);
  await chat.locator('#input').press('Enter');
  await until(async () => (await aliceSees()).some(i => i.role === 'customer' && i.text.includes('<script>window.__xss = 1</script>')),
    10000, 'the markup shown as text', async () => JSON.stringify(await aliceSees()));
  const ran = await alice.evaluate(() => ({
    xss: window.__xss === undefined ? null : window.__xss,
    images: document.querySelectorAll('[data-testid="transcript"] img').length,
    scripts: document.querySelectorAll('[data-testid="transcript"] script').length,
  }));
  if (ran.xss !== null || ran.images || ran.scripts) throw new Error(`markup from a message became part of the page: ${JSON.stringify(ran)}`);

  // Alice answers; the customer sees her name.
  await alice.getByTestId('composer').fill('Hello, this is Alice. I can help with your card.');
  await alice.getByTestId('send').click();
  await alice.getByTestId('composer').fill('Customer verified by security questions');
  await alice.getByTestId('send-note').click();
  await until(async () => (await shown()).some(i => i.text === 'Hello, this is Alice. I can help with your card.' && i.name === 'Alice Park'),
    10000, "alice's reply on the customer's page with her name", async () => JSON.stringify(await shown()));
  await until(async () => (await aliceSees()).some(i => i.note === 'true'), 10000, 'the note in the transcript');
  if (process.env.SCREENSHOT) {
    await alice.screenshot({ path: process.env.SCREENSHOT });
    out(`SCREENSHOT ${process.env.SCREENSHOT}`);
  }
  if ((await shown()).some(i => i.text.includes('verified by security questions'))) throw new Error('the customer saw an internal note');

  // Transfer to HomeLoanQueue: bob gets it.
  await alice.getByTestId('transfer').click();
  await alice.getByTestId('transfer-dialog').waitFor({ state: 'visible' });
  await alice.getByTestId('transfer-target').selectOption('queue:HomeLoanQueue');
  await alice.getByTestId('transfer-confirm').click();
  await until(async () => (await alice.getByTestId('conversation-item').count()) === 0, 10000, 'the conversation leaving alice\'s list');

  await acceptOffer(bob, 'bob');
  await bob.getByTestId('conversation-item').first().click();
  await until(async () => (await bob.evaluate(agentTranscript)).some(i => i.text.includes('Hello, this is Alice')), 10000,
    "the whole transcript in bob's workspace");
  await bob.getByTestId('end').click();
  await bob.getByTestId('wrapup').waitFor({ state: 'visible', timeout: 10000 });
  await bob.getByTestId('close').click();
  await until(async () => (await bob.getByTestId('conversation-item').count()) === 0, 10000, "the conversation leaving bob's list");
  await until(async () => (await shown()).some(i => i.text.includes('Bob Silva ended the conversation')), 10000,
    'the end on the customer page', async () => JSON.stringify(await shown()));
});
