// The supervisor view (`/supervisor`) end to end in headless Chromium, with customers on the
// hub's own `/chat` page, the built-in demo bot answering first and alice in her workspace:
//
//   sam opens /supervisor → a customer opens a chat: the conversation appears, owned by the bot
//   → they say something angry about their credit card: without a reload it moves to
//   CreditCardQueue, waiting (nobody is available), its sentiment negative, its wait ticking →
//   sam opens it: the bot's part, the routing through BotQueue and CreditCardQueue, and the
//   customer's next message arriving live → sam assigns it to alice (away): it is hers, her
//   workspace shows it and the customer is told she joined → a second customer chats with the
//   bot; sam force-closes that one with a reason: it leaves the board and that customer sees
//   the notice and the end → alice, an agent, opening /supervisor is told it is not for her.
//
// Environment: HUB_URL, PASSWORD (the demo password), SCREENSHOT (optional), TIMEOUT_MS.
//
// stdout: ASSIGNED <id>, CLOSED <id>, SCREENSHOT <path>, then OK (exit 0) or FAIL <reason> (exit 1).

'use strict';

const { run, out, logPageErrors, screenshot, until, required } = require('./browser');

const ANGRY = 'This is terrible, I am really angry. I want a human about my credit card.';
const AGAIN = 'Hello? Is anyone there? This is ridiculous.';
const HAPPY = 'Hi! Thanks so much, you are great';
const REASON = 'Closing a duplicate chat; we are helping you in your other one.';

// What the customer's /chat page shows.
function chatTranscript() {
  return [...document.querySelectorAll('#log > li')].map(li => ({
    role: li.dataset.role,
    text: ((li.querySelector('.msg__bubble') || li).innerText || '').trim(),
  }));
}

// The rows of the supervisor's board.
function boardRows() {
  return [...document.querySelectorAll('[data-testid="conversation-row"]')].map(tr => ({
    id: tr.dataset.id,
    state: tr.dataset.state,
    queue: tr.dataset.queue,
    owner: tr.dataset.owner,
    ownerKind: tr.dataset.ownerKind,
    sentiment: tr.dataset.sentiment,
    wait: (tr.querySelector('[data-testid="wait"]') || {}).textContent,
    text: tr.innerText.replace(/\s+/g, ' ').trim(),
  }));
}

function transcriptItems() {
  return [...document.querySelectorAll('[data-testid="transcript"] [data-testid="transcript-item"]')].map(li => ({
    role: li.dataset.role,
    text: (li.innerText || '').trim(),
  }));
}

async function newContext(browser, options = {}) {
  return browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'light', reducedMotion: 'reduce', ...options });
}

async function signIn(tab, hub, path, name, password) {
  await tab.goto(`${hub}/${path}`);
  await tab.getByTestId('signin-name').fill(name);
  await tab.getByTestId('signin-password').fill(password);
  await tab.getByTestId('signin-submit').click();
}

async function customer(browser, hub) {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, reducedMotion: 'reduce' });
  const chat = await phone.newPage();
  logPageErrors(chat);
  await chat.goto(`${hub}/chat`);
  const shown = () => chat.evaluate(chatTranscript);
  await until(async () => (await shown()).some(i => i.role === 'other'), 20000, 'the bot greeting', async () => JSON.stringify(await shown()));
  await until(() => chat.locator('#input').isEnabled(), 5000, 'the chat box being enabled');
  return { chat, shown };
}

async function say(chat, text) {
  await chat.locator('#input').fill(text);
  await chat.locator('#input').press('Enter');
}

run(async browser => {
  const hub = required('HUB_URL').replace(/\/+$/, '');
  const password = required('PASSWORD');

  // Sam's view.
  const sam = await (await newContext(browser)).newPage();
  logPageErrors(sam);
  await signIn(sam, hub, 'supervisor', 'sam', password);
  await sam.getByTestId('me-name').filter({ hasText: 'Sam Supervisor' }).waitFor({ timeout: 10000 });
  await until(async () => (await sam.getByTestId('connection').getAttribute('data-state')) === 'online', 10000, "sam's events socket");
  await sam.locator('[data-testid="queue-card"][data-queue="CreditCardQueue"]').waitFor({ timeout: 10000 });
  const rows = () => sam.evaluate(boardRows);
  const describe = async () => JSON.stringify(await rows());

  // Alice is signed in to her workspace, but away: nobody is offered the escalation.
  const aliceContext = await newContext(browser);
  const alice = await aliceContext.newPage();
  logPageErrors(alice);
  await signIn(alice, hub, 'agent', 'alice', password);
  await alice.getByTestId('me-name').filter({ hasText: /\S/ }).waitFor({ timeout: 10000 });
  await until(async () => (await alice.getByTestId('connection').getAttribute('data-state')) === 'online', 10000, "alice's events socket");
  await alice.getByTestId('presence').selectOption('away');
  await until(async () => (await sam.locator('[data-testid="agent-row"][data-name="alice"]').getAttribute('data-presence')) === 'away',
    10000, "alice away on sam's view");

  // A customer starts: the bot has it.
  const first = await customer(browser, hub);
  const withBot = await until(async () => (await rows()).find(r => r.ownerKind === 'bot' && r.owner === 'DemoBot' && r.state === 'active'),
    10000, 'the new conversation on the board, owned by the bot', describe);
  const id = withBot.id;
  if (withBot.queue !== 'BotQueue') throw new Error(`the bot's conversation is not in BotQueue: ${JSON.stringify(withBot)}`);
  if (!withBot.text.includes('Contoso Assistant')) throw new Error(`the owner is not shown by name: ${withBot.text}`);

  // Angry, about a credit card: escalated, waiting in CreditCardQueue, negative.
  await say(first.chat, ANGRY);
  const waiting = await until(async () => (await rows()).find(r => r.id === id && r.state === 'waiting' && r.queue === 'CreditCardQueue'),
    20000, 'the escalation waiting in CreditCardQueue', describe);
  if (waiting.owner) throw new Error(`a waiting conversation has an owner: ${JSON.stringify(waiting)}`);
  await until(async () => ['negative', 'very_negative'].includes((await rows()).find(r => r.id === id).sentiment), 10000,
    'a negative sentiment', describe);
  const row = sam.locator(`[data-testid="conversation-row"][data-id="${id}"]`);
  const sentimentText = await row.getByTestId('sentiment').innerText();
  if (!/negative/i.test(sentimentText)) throw new Error(`the sentiment is not named: ${sentimentText}`);
  const card = sam.locator('[data-testid="queue-card"][data-queue="CreditCardQueue"]');
  await until(async () => (await card.getAttribute('data-waiting')) === '1', 10000, 'one waiting in CreditCardQueue',
    async () => card.innerText());
  if ((await card.getAttribute('data-available')) !== '0') throw new Error(`nobody is available in CreditCardQueue: ${await card.innerText()}`);
  // The wait ticks.
  const waitBefore = await row.getByTestId('wait').innerText();
  await until(async () => (await row.getByTestId('wait').innerText()) !== waitBefore, 5000, 'the wait time ticking');
  if (!/^\d+:\d\d$/.test(await row.getByTestId('wait').innerText())) throw new Error(`a wait reads m:ss: ${await row.getByTestId('wait').innerText()}`);

  // Filters: by queue, by state.
  await sam.getByTestId('filter-queue').selectOption('HomeLoanQueue');
  await until(async () => (await rows()).length === 0, 5000, 'the HomeLoanQueue filter hiding it', describe);
  await sam.getByTestId('filter-queue').selectOption('CreditCardQueue');
  await sam.getByTestId('filter-state').selectOption('active');
  await until(async () => (await rows()).length === 0, 5000, 'the active filter hiding it', describe);
  await sam.getByTestId('filter-state').selectOption('waiting');
  await until(async () => (await rows()).some(r => r.id === id), 5000, 'the waiting filter showing it', describe);
  await sam.getByTestId('filter-queue').selectOption('');
  await sam.getByTestId('filter-state').selectOption('');

  // Sam opens it: the bot's part and the routing; the customer's next message arrives live.
  await row.click();
  const samSees = () => sam.evaluate(transcriptItems);
  await until(async () => (await samSees()).some(i => i.role === 'customer' && i.text.includes('really angry')), 10000,
    "the customer's message in sam's transcript", async () => JSON.stringify(await samSees()));
  await until(async () => (await samSees()).some(i => i.role === 'bot'), 10000, "the bot's part", async () => JSON.stringify(await samSees()));
  await until(async () => {
    const queues = await sam.locator('[data-testid="routing-entry"]').evaluateAll(els => els.map(e => e.dataset.queue));
    return queues.join(',') === 'BotQueue,CreditCardQueue';
  }, 10000, 'the routing through BotQueue and CreditCardQueue', async () => sam.getByTestId('routing').innerText());
  await say(first.chat, AGAIN);
  await until(async () => (await samSees()).some(i => i.role === 'customer' && i.text.includes('Is anyone there?')), 10000,
    'the next message arriving live', async () => JSON.stringify(await samSees()));

  // A second customer, happy, with the bot.
  const second = await customer(browser, hub);
  await say(second.chat, HAPPY);
  const other = await until(async () => (await rows()).find(r => r.id !== id && r.ownerKind === 'bot' && r.sentiment.includes('positive')),
    20000, 'the second conversation, positive, with the bot', describe);
  await screenshot(sam);

  // Assign the first to alice, who is away: it is hers at once.
  await until(async () => (await sam.getByTestId('assign').isEnabled()), 5000, 'the assign button enabled for a waiting conversation');
  await sam.getByTestId('assign-agent').selectOption('alice');
  await sam.getByTestId('assign').click();
  await until(async () => {
    const r = (await rows()).find(x => x.id === id);
    return r && r.state === 'active' && r.owner === 'alice' && r.ownerKind === 'agent';
  }, 10000, 'the conversation owned by alice on the board', describe);
  await until(async () => (await sam.getByTestId('detail-owner').innerText()).includes('Alice Park'), 5000, "alice as the owner in sam's panel");
  await alice.locator(`[data-testid="conversation-item"][data-conversation-id="${id}"]`).waitFor({ timeout: 10000 });
  await until(async () => (await first.shown()).some(i => i.text.includes('Alice Park joined the conversation.')), 10000,
    'the customer told alice joined', async () => JSON.stringify(await first.shown()));
  await until(async () => (await sam.locator('[data-testid="agent-row"][data-name="alice"] [data-testid="agent-load"]').innerText()) === '1/3',
    10000, "alice's load on sam's view");
  await until(async () => /^\d+:\d\d$/.test(await sam.locator(`[data-testid="conversation-row"][data-id="${id}"] [data-testid="handle"]`).innerText()),
    5000, 'a handle time for alice');
  out(`ASSIGNED ${id}`);
  await alice.locator(`[data-testid="conversation-item"][data-conversation-id="${id}"]`).click();
  await alice.getByTestId('composer').fill('Hello, this is Alice. I am sorry about your card, let me look.');
  await alice.getByTestId('send').click();
  await until(async () => (await samSees()).some(i => i.role === 'agent' && i.text.includes('this is Alice')), 10000,
    "alice's reply in sam's transcript", async () => JSON.stringify(await samSees()));

  // Force-close the second one, with a reason.
  await sam.locator(`[data-testid="conversation-row"][data-id="${other.id}"]`).click();
  await until(async () => (await sam.getByTestId('detail-owner').innerText()).includes('Contoso Assistant'), 5000, 'the second conversation in the panel');
  if (await sam.getByTestId('assign').isEnabled()) throw new Error('assign is offered for a conversation that is not waiting');
  await sam.getByTestId('force-close').click();
  await sam.getByTestId('force-close-dialog').waitFor({ state: 'visible' });
  await sam.getByTestId('force-close-reason').fill(REASON);
  await sam.getByTestId('force-close-confirm').click();
  await until(async () => !(await rows()).some(r => r.id === other.id), 10000, 'the closed conversation leaving the board', describe);
  await until(async () => (await sam.getByTestId('detail-state').getAttribute('data-state')) === 'closed', 5000, 'the panel saying closed');
  await until(async () => (await second.shown()).some(i => i.text.includes(`A supervisor closed this conversation. Reason: ${REASON}`)), 10000,
    'the notice on the customer page', async () => JSON.stringify(await second.shown()));
  await until(async () => (await second.shown()).some(i => i.text.includes('This conversation has ended')), 10000,
    'the end on the customer page', async () => JSON.stringify(await second.shown()));
  out(`CLOSED ${other.id}`);

  // An agent is turned away.
  const aliceTriesIt = await aliceContext.newPage();
  logPageErrors(aliceTriesIt);
  await aliceTriesIt.goto(`${hub}/supervisor`);
  await aliceTriesIt.getByTestId('denied').filter({ hasText: 'for supervisors and admins' }).waitFor({ timeout: 10000 });
  if (await aliceTriesIt.locator('#app').isVisible()) throw new Error('an agent sees the supervisor view');
});
