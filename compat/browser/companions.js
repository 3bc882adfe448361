// The survey and smart-assist bots of the sample in headless Chromium, with a customer on the
// hub's `/chat` page, the built-in demo, survey and knowledge bots, alice on `/agent` and sam on
// the analytics page:
//
//   the customer asks about a declined credit card → the demo bot escalates → alice accepts →
//   the customer asks about a card fee → alice's Suggestions panel shows the card-fees article,
//   which the customer's page never shows → Insert fills alice's composer → alice sends it →
//   alice ends the conversation → the customer's chat passes to the survey bot: the rating
//   question with buttons 1–5 → the customer taps 5 and leaves a comment → the chat ends → sam's
//   analytics page shows the CSAT of 5.
//
// Environment: HUB_URL, PASSWORD (the demo password), SCREENSHOT (alice's workspace with the
// suggestion, optional), TIMEOUT_MS.
//
// stdout: CONVERSATION <id>, SUGGESTION <text>, CSAT <kpi>, SCREENSHOT <path>…, then OK (exit 0)
// or FAIL <reason> (exit 1).

'use strict';

const { run, out, logPageErrors, until, required } = require('./browser');
const { chatTranscript, signIn, acceptOffer } = require('./workspace');

// What alice's Suggestions panel shows.
function suggestions() {
  return [...document.querySelectorAll('[data-testid="suggestion"]')].map(li => (li.innerText || '').trim());
}

run(async browser => {
  const hub = required('HUB_URL').replace(/\/+$/, '');
  const password = required('PASSWORD');
  const alice = await signIn(browser, hub, 'alice', password);

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, reducedMotion: 'reduce' });
  const chat = await phone.newPage();
  logPageErrors(chat);
  await chat.goto(`${hub}/chat`);
  const shown = () => chat.evaluate(chatTranscript);
  const describeChat = async () => JSON.stringify(await shown());
  await until(async () => (await shown()).some(i => i.role === 'other'), 20000, 'the bot greeting', describeChat);
  await until(() => chat.locator('#input').isEnabled(), 5000, 'the chat box being enabled');
  const say = async text => {
    await chat.locator('#input').fill(text);
    await chat.locator('#input').press('Enter');
  };
  await say('My credit card was declined');

  await acceptOffer(alice, 'alice');
  const id = await alice.getByTestId('conversation-item').first().getAttribute('data-conversation-id');
  out(`CONVERSATION ${id}`);
  await alice.getByTestId('conversation-item').first().click();
  await until(async () => (await shown()).some(i => i.text.includes('Alice Park')), 10000, 'alice joining on the customer page', describeChat);

  // Smart assist: a question about a card fee brings the card-fees article to alice only.
  await say('How much is the annual fee on my credit card?');
  const panel = alice.getByTestId('suggestions');
  await panel.waitFor({ state: 'visible', timeout: 20000 });
  await until(async () => (await alice.evaluate(suggestions)).some(t => /fee/i.test(t)), 20000, 'a card-fee article in the Suggestions panel',
    async () => JSON.stringify(await alice.evaluate(suggestions)));
  const first = alice.getByTestId('suggestion').filter({ hasText: /fees/i }).first();
  const suggestion = await first.innerText();
  out(`SUGGESTION ${JSON.stringify(suggestion)}`);
  if (!/Knowledge article/i.test(suggestion)) throw new Error(`the suggestion does not show its card: ${suggestion}`);
  if ((await alice.getByTestId('transcript').innerText()).includes('This article should help')) {
    throw new Error('the suggestion was shown in the transcript, not in the panel');
  }
  if (process.env.SCREENSHOT) {
    await alice.screenshot({ path: process.env.SCREENSHOT });
    out(`SCREENSHOT ${process.env.SCREENSHOT}`);
  }
  await first.getByTestId('suggestion-insert').click();
  const inserted = await alice.getByTestId('composer').inputValue();
  if (!inserted.startsWith('This article should help: ') || !/fee/i.test(inserted)) {
    throw new Error(`Insert did not fill the composer with the suggestion: ${JSON.stringify(inserted)}`);
  }
  // The customer has not seen it; only once alice sends it.
  if ((await shown()).some(i => i.text.includes('This article should help'))) throw new Error('the customer saw a suggestion');
  await alice.getByTestId('send').click();
  await until(async () => (await shown()).some(i => i.text === inserted && i.name === 'Alice Park'), 10000,
    "alice's inserted reply on the customer page", describeChat);
  const customerTexts = (await shown()).map(i => i.text).join('\n');
  if (/Knowledge article/i.test(customerTexts)) throw new Error(`the customer saw the suggestion card: ${customerTexts}`);

  // Alice ends it: the customer is surveyed instead of the chat ending.
  await alice.getByTestId('end').click();
  await alice.getByTestId('wrapup').waitFor({ state: 'visible', timeout: 10000 });
  await until(async () => (await shown()).some(i => i.text.includes('How satisfied were you')), 20000, 'the survey question', describeChat);
  const buttons = chat.locator('#suggestions button');
  await until(async () => (await buttons.count()) === 5, 5000, 'the five rating buttons');
  if (!(await chat.locator('#input').isEnabled())) throw new Error('the chat box closed before the survey');
  await buttons.filter({ hasText: /^5$/ }).click();
  await until(async () => (await shown()).some(i => i.text.includes("Anything you'd like to add")), 10000, 'the comment question', describeChat);
  await say('Alice was quick and kind');
  await until(async () => (await shown()).some(i => i.text.includes('Thank you for your feedback')), 10000, 'the thanks', describeChat);
  await until(async () => !(await chat.locator('#input').isEnabled()), 10000, 'the chat ending after the survey');

  // The score in analytics.
  const sam = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const signedIn = await sam.request.post(`${hub}/api/v1/sessions`, { data: { name: 'sam', password } });
  if (signedIn.status() !== 201) throw new Error(`sam could not sign in: ${signedIn.status()}`);
  const page = await sam.newPage();
  logPageErrors(page);
  let csat = '';
  await until(async () => {
    await page.goto(`${hub}/supervisor/analytics`);
    csat = (await page.getByTestId('kpi-csat').innerText()).trim();
    return csat === '5.00';
  }, 15000, 'CSAT 5.00 on the analytics page', async () => `kpi-csat: ${csat}`);
  out(`CSAT ${csat}`);
  const responses = (await page.getByTestId('kpi-survey-responses').innerText()).trim();
  if (responses !== '1 of 1') throw new Error(`survey responses: ${responses}`);
});
