// Switchboard's supervisor view: a vanilla-JS client of the people API (docs/agents.md), no
// framework and no build step, built like the agent workspace (`/agent`).
//
// Signing in (`POST /api/v1/sessions`) sets an HttpOnly cookie that every same-origin call then
// carries. The page loads the ongoing conversations, the queues and the people from the API and
// follows the `GET /api/v1/events` WebSocket, which for a supervisor carries every conversation of
// the queues they oversee (an admin: all). On every (re)connect, and when the socket says it
// lagged, it loads everything again, so nothing missed while disconnected is lost. Wait and
// handle times tick in the page, from the conversations' milestones. The month's bot-session
// usage (`GET /api/v1/usage`) is read at sign-in, every minute and on a reconnect, for the
// banner shown from 80 % of the pool (docs/metering.md).
//
// Everything that came from a customer, a bot or an agent is put into the page as text
// (textContent, text nodes), never as HTML.
(() => {
  'use strict';

  // The hub's root, from this script's own URL (<hub>/supervisor/supervisor.js), so the page
  // also works behind a reverse proxy that mounts the hub under a path.
  const hub = new URL('../', document.currentScript.src);
  const api = new URL('api/v1/', hub);
  const ONGOING = ['open', 'waiting', 'active', 'wrap_up'];
  const STATE_LABELS = {
    open: 'Open', waiting: 'Waiting', active: 'Active', wrap_up: 'Wrap-up', closed: 'Closed',
  };
  const PRESENCE_LABELS = {
    available: 'Available', busy: 'Busy', busy_dnd: 'Do not disturb', away: 'Away', offline: 'Offline',
  };
  const SENTIMENT_LABELS = {
    very_negative: 'Very negative', negative: 'Negative', slightly_negative: 'Slightly negative',
    neutral: 'Neutral',
    slightly_positive: 'Slightly positive', positive: 'Positive', very_positive: 'Very positive',
  };
  const OUTCOME_LABELS = {
    resolved_by_bot: 'resolved by the bot', resolved_by_agent: 'resolved by an agent', abandoned: 'abandoned',
  };
  const SORT_ORDER = { waiting: 0, open: 1, active: 2, wrap_up: 3 };
  const ROLES = ['customer', 'bot', 'agent', 'system'];
  // A wait longer than this is shown as long.
  const LONG_WAIT_MS = 120000;
  // How often the bot-session usage is read again: the hub counts from the stored
  // conversations, so a minute is fresh enough for a monthly pool and cheap for the hub.
  const USAGE_EVERY_MS = 60000;
  // What the hub does once the month's pool is spent, by the policy's `when_spent`.
  const WHEN_SPENT = {
    serve: 'bots keep serving and the overage is reported',
    route_to_people: 'new conversations go to people, not bots, until the month ends',
  };

  const $ = id => document.getElementById(id);
  const transcriptList = $('transcript');
  const closeDialog = $('force-close-dialog');

  const state = {
    me: null,
    socket: null,
    attempts: 0,
    reconnectTimer: null,
    conversations: new Map(), // id → summary, of the ongoing conversations
    queues: [], // GET /queues
    people: [], // GET /agents
    bots: new Map(), // bot name → display name, from the queues' members
    selected: null, // id of the conversation shown
    shown: null, // its latest summary (kept after it closes, so the panel can say so)
    details: null, // GET /conversations/{id} of the selected one
    transcript: null, // { id, seqs: Set } of the selected one
    ticker: null,
    overviewTimer: null,
    overviewEvery: null,
    detailsTimer: null,
    flashTimer: null,
    usageEvery: null,
  };

  // ---- the API ----

  async function call(method, path, body) {
    const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(new URL(path, api), options);
    } catch (e) {
      throw apiError(0, 'network', 'The hub cannot be reached.');
    }
    const json = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const error = (json && json.error) || {};
      if (response.status === 401 && path !== 'sessions' && state.me) {
        showSignIn('Your session has ended. Sign in again.');
      }
      throw apiError(response.status, error.code, error.message || `The hub answered ${response.status}.`);
    }
    return json;
  }

  function apiError(status, code, message) {
    const error = new Error(message);
    error.status = status;
    error.code = code || '';
    return error;
  }

  const conversationPath = (id, action) =>
    `conversations/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;

  // ---- small helpers ----

  function make(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  // Text as text (never as HTML), with web links made clickable.
  function textInto(element, text) {
    const link = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
    let at = 0;
    for (const match of text.matchAll(link)) {
      element.append(text.slice(at, match.index));
      const a = make('a', '', match[0]);
      a.href = match[0];
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      element.append(a);
      at = match.index + match[0].length;
    }
    element.append(text.slice(at));
  }

  function time(timestamp) {
    const date = timestamp ? new Date(timestamp) : new Date();
    return Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  // 0:42, 12:05, 1:02:10.
  function duration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
  }

  // The end of the id: ids are UUIDv7, whose beginning is the time they were made.
  const shortId = id => (id ? `#${String(id).slice(-6)}` : '');
  const millis = timestamp => (timestamp ? Date.parse(timestamp) : NaN);
  const customerName = c => (c && c.customer && c.customer.name) || 'Customer';
  const stateLabel = s => STATE_LABELS[s] || s || '';
  const levelOf = c => (c && c.sentiment && c.sentiment.level) || 'neutral';
  const milestones = c => (c && c.milestones) || {};

  function personName(name) {
    const person = state.people.find(p => p.name === name);
    return (person && person.display_name) || state.bots.get(name) || name;
  }

  function ownerText(owner) {
    if (!owner) return '';
    return personName(owner.name);
  }

  function showError(element, message) {
    element.textContent = message || '';
    element.hidden = !message;
  }

  // A short message under the header: errors stay 8 s, information 5 s.
  function flash(message, kind = 'error') {
    const element = $('flash');
    element.textContent = message;
    element.dataset.kind = kind;
    element.hidden = false;
    clearTimeout(state.flashTimer);
    state.flashTimer = setTimeout(() => { element.hidden = true; }, kind === 'error' ? 8000 : 5000);
  }

  function setConnection(kind, text) {
    const element = $('connection');
    element.dataset.state = kind;
    element.textContent = text;
  }

  // ---- signing in and out ----

  function showSignIn(message) {
    teardown();
    $('app').hidden = true;
    $('denied').hidden = true;
    $('signin').hidden = false;
    showError($('signin-error'), message);
    $('signin-password').value = '';
    $('signin-name').focus();
  }

  function signedIn(me) {
    if (me.role !== 'supervisor' && me.role !== 'admin') {
      $('signin').hidden = true;
      $('app').hidden = true;
      $('denied').hidden = false;
      $('denied-text').textContent =
        `${me.display_name || me.name}, the supervisor view is for supervisors and admins. Agents work in the agent workspace.`;
      return;
    }
    state.me = me;
    $('signin').hidden = true;
    $('denied').hidden = true;
    $('app').hidden = false;
    showError($('signin-error'), '');
    $('me-name').textContent = me.display_name || me.name;
    $('me-role').textContent = me.role;
    renderAll();
    // Load at once too (not only when the socket opens): a proxy that drops WebSockets still
    // leaves a page that shows the state at load.
    resync();
    connect();
    state.ticker = setInterval(tick, 1000);
    // Capacity changes with offers, which supervisors get no event for: refresh now and then.
    state.overviewEvery = setInterval(() => refreshOverviewSoon(), 15000);
    // Usage has no event either; the socket's first open does not read it again (this just did).
    loadUsage();
    state.usageEvery = setInterval(loadUsage, USAGE_EVERY_MS);
  }

  function teardown() {
    state.me = null;
    const socket = state.socket;
    state.socket = null;
    if (socket) socket.close();
    for (const timer of [state.reconnectTimer, state.overviewTimer, state.detailsTimer]) clearTimeout(timer);
    clearInterval(state.ticker);
    clearInterval(state.overviewEvery);
    clearInterval(state.usageEvery);
    state.ticker = null;
    state.overviewEvery = null;
    state.usageEvery = null;
    state.attempts = 0;
    state.conversations.clear();
    state.queues = [];
    state.people = [];
    state.selected = null;
    state.shown = null;
    state.details = null;
    state.transcript = null;
    $('conversations').replaceChildren();
    $('queues').replaceChildren();
    $('agents').replaceChildren();
    transcriptList.replaceChildren();
    renderUsage(null);
    if (closeDialog.open) closeDialog.close();
  }

  $('signin-form').addEventListener('submit', async event => {
    event.preventDefault();
    const name = $('signin-name').value.trim();
    const password = $('signin-password').value;
    if (!name || !password) {
      showError($('signin-error'), 'Enter your name and password.');
      return;
    }
    const submit = $('signin-submit');
    submit.disabled = true;
    showError($('signin-error'), '');
    try {
      await call('POST', 'sessions', { name, password });
      $('signin-password').value = '';
      signedIn(await call('GET', 'me'));
    } catch (e) {
      showError($('signin-error'), e.message);
    } finally {
      submit.disabled = false;
    }
  });

  async function signOut() {
    try {
      await call('DELETE', 'sessions/current');
    } catch (e) {
      // Signed out locally either way; the session expires by itself.
    }
    showSignIn('');
  }

  $('signout').addEventListener('click', signOut);
  $('denied-signout').addEventListener('click', signOut);

  // ---- live events ----

  function connect() {
    clearTimeout(state.reconnectTimer);
    const url = new URL('events', api);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url);
    state.socket = socket;
    setConnection('connecting', state.attempts ? 'Reconnecting…' : 'Connecting…');
    socket.addEventListener('open', () => {
      if (state.socket !== socket) return;
      const reconnected = state.attempts > 0;
      state.attempts = 0;
      setConnection('online', 'Live');
      resync();
      if (reconnected) loadUsage();
    });
    socket.addEventListener('message', message => {
      if (state.socket !== socket || typeof message.data !== 'string' || !message.data) return;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      handleEvent(event);
    });
    socket.addEventListener('close', () => {
      if (state.socket !== socket) return;
      state.socket = null;
      reconnectSoon();
    });
  }

  // Exponential backoff with jitter, up to 30 s; `GET /me` first tells an expired session (the
  // call shows the sign-in form) from a hub that is down.
  function reconnectSoon() {
    const delay = Math.min(30000, 1000 * 2 ** state.attempts++) * (0.75 + Math.random() / 2);
    setConnection('offline', `Disconnected, retrying in ${Math.round(delay / 1000)} s`);
    state.reconnectTimer = setTimeout(async () => {
      if (!state.me) return;
      try {
        await call('GET', 'me');
      } catch (e) {
        if (e.status !== 401 && state.me) reconnectSoon();
        return;
      }
      connect();
    }, delay);
  }

  function handleEvent(event) {
    switch (event.type) {
      case 'conversation': conversationChanged(event.conversation); break;
      case 'activity': activityArrived(event.conversation_id, event.activity); break;
      case 'sentiment': sentimentChanged(event.conversation_id, event.sentiment); break;
      case 'presence': presenceChanged(event.user, event.presence); break;
      case 'lagged': resync(); break;
      default: break; // offers are for agents; newer hubs may send more
    }
  }

  // Everything again: after a (re)connect, a lag, or at sign-in.
  async function resync() {
    try {
      const [lists, queues, people] = await Promise.all([
        Promise.all(ONGOING.map(s => call('GET', `conversations?state=${s}`))),
        call('GET', 'queues'),
        call('GET', 'agents'),
      ]);
      setOverview(queues, people);
      replaceConversations(lists.flatMap(list => list.conversations || []));
      if (state.selected) {
        loadDetails(state.selected);
        loadTranscript(state.transcript);
      }
    } catch (e) {
      if (e.status !== 401) flash(`Could not load the conversations: ${e.message}`);
    }
  }

  // A snapshot from the API; a summary from an event newer than the snapshot is kept.
  function replaceConversations(list) {
    const next = new Map();
    for (const summary of list) {
      if (!ONGOING.includes(summary.state)) continue;
      const known = state.conversations.get(summary.id);
      next.set(summary.id, newer(known, summary) ? known : summary);
    }
    state.conversations = next;
    if (state.selected && next.has(state.selected)) state.shown = next.get(state.selected);
    renderAll();
  }

  const newer = (a, b) => Boolean(a && b && Date.parse(a.updated_at) > Date.parse(b.updated_at));

  function conversationChanged(summary) {
    if (!summary || !summary.id) return;
    const id = summary.id;
    const known = state.conversations.get(id);
    if (newer(known, summary)) return; // stale
    // The live sentiment comes in its own frames; a summary from before them does not undo it.
    if (known && known.sentiment && summary.sentiment && summary.updated_at === known.updated_at) {
      summary.sentiment = known.sentiment;
    }
    if (ONGOING.includes(summary.state)) state.conversations.set(id, summary);
    else state.conversations.delete(id);
    if (id === state.selected) {
      const before = state.shown;
      state.shown = summary;
      if (summary.state === 'closed' && before && before.state !== 'closed') {
        flash(`The conversation with ${customerName(summary)} closed (${OUTCOME_LABELS[summary.outcome] || summary.outcome || 'closed'}).`, 'info');
      }
      refreshDetailsSoon(id);
    }
    renderConversations();
    renderDetail();
    refreshOverviewSoon();
  }

  function sentimentChanged(id, sentiment) {
    if (!sentiment) return;
    const summary = state.conversations.get(id);
    if (summary) summary.sentiment = sentiment;
    if (state.shown && state.shown.id === id) state.shown.sentiment = sentiment;
    renderConversations();
    if (id === state.selected) renderDetail();
  }

  function presenceChanged(user, presence) {
    const person = state.people.find(p => p.name === user);
    if (person) person.presence = presence;
    renderOverview();
    if (state.selected) renderActions();
    refreshOverviewSoon();
  }

  // Queues and people: once per burst of events.
  function refreshOverviewSoon() {
    clearTimeout(state.overviewTimer);
    state.overviewTimer = setTimeout(async () => {
      if (!state.me) return;
      try {
        const [queues, people] = await Promise.all([call('GET', 'queues'), call('GET', 'agents')]);
        setOverview(queues, people);
      } catch (e) {
        // The next event or reconnect tries again.
      }
    }, 300);
  }

  function setOverview(queues, people) {
    state.queues = (queues && queues.queues) || [];
    state.people = (people && people.agents) || [];
    state.bots = new Map();
    for (const queue of state.queues) {
      for (const member of queue.members || []) {
        if (member.bot) state.bots.set(member.name, member.display_name || member.name);
      }
    }
    renderFilterOptions();
    renderOverview();
    renderConversations();
    if (state.selected) renderActions();
  }

  // ---- bot-session usage ----

  async function loadUsage() {
    let usage;
    try {
      usage = await call('GET', 'usage');
    } catch (e) {
      // The banner keeps what it last said; the next minute or reconnect tries again.
      return;
    }
    if (state.me) renderUsage(usage);
  }

  // The hub decides the level (`ok`, `warning` from 80 %, `exhausted`, `over`); the page only
  // words it. Without `[metering]` (`metered: false`, no level) or under 80 %, no banner. The
  // two live regions stay in the page, empty when there is nothing to say, so that a screen
  // reader follows them: the warning politely (`status`), a spent pool at once (`alert`).
  function renderUsage(usage) {
    const level = usage && usage.metered ? usage.level || 'ok' : 'unmetered';
    const spent = level === 'exhausted' || level === 'over';
    const text = level === 'warning' || spent ? usageText(usage, spent) : '';
    const box = $('usage');
    if (usage) box.dataset.level = level;
    else delete box.dataset.level;
    setText($('usage-warning'), level === 'warning' ? text : '');
    setText($('usage-spent'), spent ? text : '');
  }

  function usageText(u, spent) {
    const over = u.overage > 0 ? `, ${u.overage} past the pool` : '';
    const head = u.entitled > 0
      ? `Bot sessions: ${u.used} of ${u.entitled} used this month (${u.percent} %)${over}.`
      : `Bot sessions: ${u.used} used this month, with no sessions in the pool (no licences or add-ons).`;
    const after = WHEN_SPENT[u.when_spent];
    const next = spent
      ? `The pool is spent${after ? `: ${after}` : ''}.`
      : `${u.remaining} left${after ? `; then ${after}` : ''}.`;
    return `${head} ${next}`;
  }

  // Only when it changed: rewriting a live region makes a screen reader read it again.
  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  // ---- rendering: queues and agents ----

  function renderAll() {
    renderFilterOptions();
    renderOverview();
    renderConversations();
    renderDetail();
  }

  function renderFilterOptions() {
    const select = $('filter-queue');
    const chosen = select.value;
    const names = state.queues.map(q => q.name);
    const current = [...select.options].slice(1).map(o => o.value);
    if (names.join('\n') !== current.join('\n')) {
      const options = names.map(name => {
        const option = make('option', '', name);
        option.value = name;
        return option;
      });
      const all = make('option', '', 'All queues');
      all.value = '';
      select.replaceChildren(all, ...options);
      select.value = names.includes(chosen) ? chosen : '';
    }
  }

  function renderOverview() {
    renderQueues();
    renderAgents();
  }

  function humanMembers(queue) {
    return (queue.members || [])
      .filter(m => !m.bot)
      .map(m => state.people.find(p => p.name === m.name))
      .filter(Boolean);
  }

  // The conversations waiting in `queue`, longest first.
  function waitingIn(queue) {
    return [...state.conversations.values()]
      .filter(c => c.state === 'waiting' && c.queue === queue)
      .sort((a, b) => millis(milestones(a).waiting_since) - millis(milestones(b).waiting_since));
  }

  function renderQueues() {
    const list = $('queues');
    const cards = state.queues.map(queue => {
      const members = humanMembers(queue);
      const available = members.filter(p => p.presence === 'available');
      const free = available.reduce((sum, p) => sum + Math.max(0, (p.capacity || 0) - (p.used || 0)), 0);
      const waiting = waitingIn(queue.name);
      const count = Math.max(queue.waiting ?? 0, waiting.length);
      const longest = waiting.length ? millis(milestones(waiting[0]).waiting_since) : NaN;

      const li = make('li', 'queue');
      li.dataset.testid = 'queue-card';
      li.dataset.queue = queue.name;
      li.dataset.waiting = String(count);
      li.dataset.available = String(available.length);
      li.dataset.free = String(free);
      if (count > 0 && !free) li.dataset.alert = 'true';
      li.title = `Members: ${(queue.members || []).map(m => m.display_name || m.name).join(', ')} · ${queue.method}`;
      li.addEventListener('click', () => {
        $('filter-queue').value = $('filter-queue').value === queue.name ? '' : queue.name;
        renderConversations();
      });
      const name = make('h3', 'queue__name', queue.name);
      const stats = make('dl', 'queue__stats');
      const stat = (label, value, testid, since) => {
        const wrap = make('div', 'stat');
        const dd = make('dd', 'stat__value', value);
        dd.dataset.testid = testid;
        if (since !== undefined && !Number.isNaN(since)) {
          dd.dataset.since = String(since);
          if (Date.now() - since > LONG_WAIT_MS) dd.dataset.long = 'true';
        }
        wrap.append(make('dt', 'stat__label', label), dd);
        stats.append(wrap);
      };
      stat('Waiting', count, 'queue-waiting');
      stat('Longest wait', Number.isNaN(longest) ? '—' : duration(Date.now() - longest), 'queue-longest', longest);
      stat('Available', `${available.length}/${members.length}`, 'queue-available');
      stat('Free capacity', free, 'queue-free');
      li.append(name, stats);
      if ($('filter-queue').value === queue.name) li.setAttribute('aria-current', 'true');
      return li;
    });
    list.replaceChildren(...cards);
  }

  function renderAgents() {
    const owned = new Map();
    for (const c of state.conversations.values()) {
      if (c.owner && c.owner.kind === 'agent') owned.set(c.owner.name, (owned.get(c.owner.name) || 0) + 1);
    }
    const rows = state.people.map(person => {
      const li = make('li', 'agent');
      li.dataset.testid = 'agent-row';
      li.dataset.name = person.name;
      li.dataset.presence = person.presence || 'offline';
      const top = make('div', 'agent__top');
      const dot = make('span', 'presence-dot');
      dot.dataset.presence = person.presence || 'offline';
      top.append(dot, make('span', 'agent__name', person.display_name || person.name));
      const bottom = make('div', 'agent__bottom');
      const presence = PRESENCE_LABELS[person.presence] || person.presence || '';
      bottom.append(make('span', 'agent__presence',
        person.role && person.role !== 'agent' ? `${presence} · ${person.role}` : presence));
      const load = make('span', 'agent__load', `${person.used ?? 0}/${person.capacity ?? 0}`);
      load.dataset.testid = 'agent-load';
      load.title = `Capacity used / total · ${owned.get(person.name) || 0} conversation(s) held`;
      bottom.append(load);
      const bar = make('div', 'load');
      const fill = make('span', 'load__fill');
      const share = person.capacity ? Math.min(1, (person.used || 0) / person.capacity) : 0;
      fill.style.width = `${Math.round(share * 100)}%`;
      if ((person.used || 0) > (person.capacity || 0)) bar.dataset.over = 'true';
      bar.append(fill);
      li.append(top, bottom, bar);
      return li;
    });
    $('agents').replaceChildren(...rows);
  }

  // ---- rendering: the conversations ----

  function visibleConversations() {
    const queue = $('filter-queue').value;
    const wanted = $('filter-state').value;
    // Waiting first, longest wait first; then the others by state, oldest first.
    const since = c => (c.state === 'waiting' ? millis(milestones(c).waiting_since) : NaN) || Date.parse(c.created_at);
    return [...state.conversations.values()]
      .filter(c => (!queue || c.queue === queue) && (!wanted || c.state === wanted))
      .sort((a, b) => SORT_ORDER[a.state] - SORT_ORDER[b.state] || since(a) - since(b));
  }

  function renderConversations() {
    const rows = visibleConversations().map(row);
    $('conversations').replaceChildren(...rows);
    $('conversations-empty').hidden = rows.length > 0;
    const total = state.conversations.size;
    $('count').textContent = rows.length === total ? `(${total})` : `(${rows.length} of ${total})`;
    renderQueues();
  }

  function timeCell(since, extra, testid) {
    const td = make('td', 'num time');
    td.dataset.testid = testid;
    if (!Number.isNaN(since)) {
      td.dataset.since = String(since);
      td.textContent = duration(Date.now() - since);
      if (testid === 'wait' && Date.now() - since > LONG_WAIT_MS) td.dataset.long = 'true';
    } else if (extra) {
      // Not running: the time it waited in all.
      td.textContent = duration(extra);
      td.classList.add('time--total');
      td.title = 'Waited in all';
    } else {
      td.textContent = '—';
    }
    return td;
  }

  function sentimentPill(sentiment) {
    const level = (sentiment && sentiment.level) || 'neutral';
    const pill = make('span', 'sentiment');
    pill.dataset.level = level;
    pill.dataset.testid = 'sentiment';
    if (sentiment && typeof sentiment.score === 'number') pill.title = `Score ${sentiment.score.toFixed(2)}`;
    pill.append(make('span', 'sentiment__dot'), make('span', 'sentiment__label', SENTIMENT_LABELS[level] || level));
    return pill;
  }

  function ownerCell(owner) {
    const td = make('td', 'owner');
    td.dataset.testid = 'owner';
    if (!owner) {
      td.append(make('span', 'muted', '—'));
      return td;
    }
    if (owner.kind === 'bot') td.append(make('span', 'label label--bot', 'Bot'));
    td.append(make('span', 'owner__name', ownerText(owner)));
    return td;
  }

  function row(c) {
    const tr = make('tr', 'row');
    tr.dataset.testid = 'conversation-row';
    tr.dataset.id = c.id;
    tr.dataset.state = c.state;
    tr.dataset.queue = c.queue || '';
    tr.dataset.owner = c.owner ? c.owner.name : '';
    tr.dataset.ownerKind = c.owner ? c.owner.kind : '';
    tr.dataset.sentiment = levelOf(c);
    tr.tabIndex = 0;
    tr.setAttribute('aria-selected', String(c.id === state.selected));
    const m = milestones(c);

    const who = make('td', 'who');
    who.append(make('span', 'who__name', customerName(c)),
      make('span', 'who__sub', [c.workstream, shortId(c.id)].filter(Boolean).join(' · ')));
    const queue = make('td', 'queue-cell', c.queue || '—');
    queue.dataset.testid = 'queue';
    const status = make('td');
    const pill = make('span', `pill pill--${c.state}`, stateLabel(c.state));
    pill.dataset.testid = 'state';
    status.append(pill);
    const handleSince = m.agent_at && c.owner && c.owner.kind === 'agent' ? millis(m.agent_at) : NaN;
    const sentiment = make('td');
    sentiment.append(sentimentPill(c.sentiment));
    tr.append(
      who, queue, ownerCell(c.owner), status,
      timeCell(millis(m.waiting_since), m.wait_ms, 'wait'),
      timeCell(handleSince, 0, 'handle'),
      sentiment,
    );
    tr.addEventListener('click', () => select(c.id));
    tr.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        select(c.id);
      }
    });
    return tr;
  }

  // Every second: the times that run.
  function tick() {
    const now = Date.now();
    for (const cell of document.querySelectorAll('[data-since]')) {
      const since = Number(cell.dataset.since);
      cell.textContent = duration(now - since);
      if (cell.dataset.testid === 'wait' || cell.dataset.testid === 'queue-longest' || cell.dataset.testid === 'detail-wait') {
        if (now - since > LONG_WAIT_MS) cell.dataset.long = 'true';
      }
    }
  }

  $('filter-queue').addEventListener('change', renderConversations);
  $('filter-state').addEventListener('change', renderConversations);

  // ---- the selected conversation ----

  function select(id) {
    if (state.selected === id) return;
    state.selected = id;
    state.shown = state.conversations.get(id) || null;
    state.details = null;
    state.transcript = { id, seqs: new Set() };
    transcriptList.replaceChildren();
    showError($('action-error'), '');
    renderConversations();
    renderDetail();
    loadDetails(id);
    loadTranscript(state.transcript);
  }

  async function loadDetails(id) {
    try {
      const details = await call('GET', conversationPath(id));
      if (state.selected !== id) return;
      state.details = details;
      if (!newer(state.shown, details)) state.shown = details;
      renderDetail();
    } catch (e) {
      if (state.selected === id && e.status !== 401) flash(`Could not load the conversation: ${e.message}`);
    }
  }

  function refreshDetailsSoon(id) {
    clearTimeout(state.detailsTimer);
    state.detailsTimer = setTimeout(() => { if (state.selected === id) loadDetails(id); }, 250);
  }

  function renderDetail() {
    const c = state.shown;
    $('detail-empty').hidden = Boolean(c);
    $('detail').hidden = !c;
    if (!c) return;
    $('detail-title').textContent = customerName(c);
    $('detail-sub').textContent = [c.workstream, c.queue, shortId(c.id)].filter(Boolean).join(' · ');
    const pill = $('detail-state');
    pill.className = `pill pill--${c.state}`;
    pill.textContent = c.state === 'closed' && c.outcome
      ? `Closed · ${OUTCOME_LABELS[c.outcome] || c.outcome}` : stateLabel(c.state);
    pill.dataset.state = c.state;
    renderFacts(c);
    renderActions();
    renderRouting();
  }

  function renderFacts(c) {
    const m = milestones(c);
    const grid = $('detail-facts');
    const facts = [];
    const fact = (label, content, testid) => {
      const wrap = make('div', 'fact');
      const value = make('div', 'fact__value');
      if (testid) value.dataset.testid = testid;
      if (content instanceof Node) value.append(content);
      else value.textContent = content === undefined || content === null || content === '' ? '—' : String(content);
      wrap.append(make('div', 'fact__label', label), value);
      facts.push(wrap);
      return value;
    };
    const owner = c.owner ? `${ownerText(c.owner)}${c.owner.kind === 'bot' ? ' (bot)' : ''}` : '';
    fact('Owner', owner, 'detail-owner');
    fact('Sentiment', sentimentPill(c.sentiment), 'detail-sentiment');
    const waiting = millis(m.waiting_since);
    const wait = fact('Waiting', Number.isNaN(waiting) ? (m.wait_ms ? `${duration(m.wait_ms)} in all` : '') : duration(Date.now() - waiting), 'detail-wait');
    if (!Number.isNaN(waiting) && ONGOING.includes(c.state)) wait.dataset.since = String(waiting);
    const handled = millis(m.agent_at);
    const until = millis(m.closed_at);
    const handle = fact('Handle time',
      Number.isNaN(handled) ? '' : duration((Number.isNaN(until) ? Date.now() : until) - handled), 'detail-handle');
    if (!Number.isNaN(handled) && ONGOING.includes(c.state) && c.owner && c.owner.kind === 'agent') handle.dataset.since = String(handled);
    fact('Agents', (m.agents || []).map(personName).join(', '));
    fact('Transfers', m.transfers ?? 0);
    const offer = state.details && state.details.id === c.id ? state.details.offer : null;
    if (offer && c.state === 'waiting') fact('Offered to', `${personName(offer.agent)} until ${time(offer.expires_at)}`, 'detail-offer');
    const context = Object.entries(c.context || {});
    if (context.length) fact('Context', context.map(([k, v]) => `${k} = ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('\n'));
    fact('Started', c.created_at ? new Date(c.created_at).toLocaleString() : '');
    grid.replaceChildren(...facts);
  }

  // The assign list: the human members of the conversation's queue, with presence and load.
  function renderActions() {
    const c = state.shown;
    if (!c) return;
    const select = $('assign-agent');
    const chosen = select.value;
    const queue = state.queues.find(q => q.name === c.queue);
    const members = queue ? humanMembers(queue) : [];
    const options = members.map(person => {
      const presence = PRESENCE_LABELS[person.presence] || person.presence || '';
      const option = make('option', '', `${person.display_name || person.name} — ${presence}, ${person.used ?? 0}/${person.capacity ?? 0}`);
      option.value = person.name;
      option.disabled = person.presence === 'offline';
      return option;
    });
    if (!options.length) {
      const none = make('option', '', c.queue ? `Nobody in ${c.queue}` : 'No queue');
      none.value = '';
      options.push(none);
    }
    select.replaceChildren(...options);
    const usable = members.filter(p => p.presence !== 'offline').map(p => p.name);
    select.value = usable.includes(chosen) ? chosen : (usable[0] || '');
    const waiting = c.state === 'waiting';
    select.disabled = !waiting || !usable.length;
    $('assign').disabled = !waiting || !usable.length;
    $('force-close').disabled = c.state === 'closed';
    let hint = '';
    if (c.state === 'closed') hint = 'This conversation is closed.';
    else if (!waiting) hint = 'Only a waiting conversation can be assigned.';
    else if (!usable.length) hint = `Nobody in ${c.queue} is signed in.`;
    else hint = `Assign to a member of ${c.queue}; it becomes theirs at once, even past their capacity.`;
    $('assign-hint').textContent = hint;
  }

  // Each routing decision: when, why, where to and by which rule; the rule trace folds out.
  function renderRouting() {
    const box = $('routing');
    const routing = state.details && state.details.id === (state.shown && state.shown.id) ? state.details.routing : null;
    if (!routing) {
      box.replaceChildren(make('p', 'muted', 'Loading…'));
      return;
    }
    if (!routing.length) {
      box.replaceChildren(make('p', 'muted', 'Not routed yet.'));
      return;
    }
    const list = make('ol', 'routing');
    for (const record of routing) {
      const item = make('li', 'routing__item');
      item.dataset.testid = 'routing-entry';
      item.dataset.queue = record.queue || '';
      const head = make('div', 'routing__head');
      head.append(make('span', 'routing__time', time(record.at)),
        make('span', 'routing__what', `${record.cause || 'routed'} → ${record.queue || '?'}`));
      item.append(head, make('div', 'routing__rule', record.rule ? `Rule: ${record.rule}` : 'No rule matched (fallback queue)'));
      if (record.trace && record.trace.length) {
        const details = make('details', 'routing__trace');
        details.append(make('summary', '', `Trace (${record.trace.length})`));
        const rules = make('ul');
        for (const step of record.trace) {
          const line = make('li', step.matched ? 'trace trace--matched' : 'trace');
          line.append(make('strong', '', `${step.matched ? '✓' : '✗'} ${step.rule}`), make('span', '', step.reason || ''));
          rules.append(line);
        }
        details.append(rules);
        item.append(details);
      }
      list.append(item);
    }
    box.replaceChildren(list);
  }

  // ---- transcript ----

  async function loadTranscript(transcript) {
    if (!transcript) return;
    transcriptList.dataset.loading = String(transcript.seqs.size === 0);
    try {
      const answer = await call('GET', conversationPath(transcript.id, 'transcript'));
      if (state.transcript !== transcript) return;
      for (const item of answer.activities || []) addTranscriptItem(item, false);
      scrollDown();
    } catch (e) {
      if (state.transcript === transcript && e.status !== 401) flash(`Could not load the transcript: ${e.message}`);
    } finally {
      if (state.transcript === transcript) transcriptList.dataset.loading = 'false';
    }
  }

  function activityArrived(id, item) {
    if (item && state.transcript && state.transcript.id === id) addTranscriptItem(item, true);
  }

  // Inserted in seq order; a seq already shown (a replay after a reconnect) is skipped.
  function addTranscriptItem(item, live) {
    const transcript = state.transcript;
    if (!transcript || transcript.seqs.has(item.seq)) return;
    transcript.seqs.add(item.seq);
    const follow = !live || nearBottom();
    let before = null;
    for (let node = transcriptList.lastElementChild; node && Number(node.dataset.seq) > item.seq;
      node = node.previousElementSibling) {
      before = node;
    }
    transcriptList.insertBefore(transcriptItem(item), before);
    if (follow) scrollDown();
  }

  function transcriptItem(item) {
    const role = ROLES.includes(item.role) ? item.role : 'system';
    const note = item.note === true;
    const li = make('li', `item item--${role}${note ? ' item--note' : ''}`);
    li.dataset.testid = 'transcript-item';
    li.dataset.role = role;
    li.dataset.note = String(note);
    li.dataset.seq = String(item.seq);
    if (role === 'system' && !note) {
      li.append(make('span', 'item__notice', item.text || ''), make('span', 'item__time', time(item.timestamp)));
      if (item.agents_only) li.dataset.agentsOnly = 'true';
      return li;
    }
    const head = make('span', 'item__head');
    if (note) head.append(make('span', 'label label--note', 'Internal note'));
    if (role === 'bot') head.append(make('span', 'label label--bot', 'Bot'));
    head.append(make('span', 'item__name', item.name || item.sender || role));
    head.append(make('span', 'item__time', time(item.timestamp)));
    const bubble = make('div', 'item__bubble');
    textInto(bubble, item.text || '');
    li.append(head, bubble);
    return li;
  }

  function nearBottom() {
    return transcriptList.scrollHeight - transcriptList.scrollTop - transcriptList.clientHeight < 80;
  }

  function scrollDown() {
    transcriptList.scrollTop = transcriptList.scrollHeight;
  }

  // ---- the two actions ----

  $('assign').addEventListener('click', async () => {
    const id = state.selected;
    const agent = $('assign-agent').value;
    if (!id || !agent) return;
    const control = $('assign');
    control.disabled = true;
    showError($('action-error'), '');
    try {
      const summary = await call('POST', conversationPath(id, 'assign'), { agent });
      flash(`Assigned to ${personName(agent)}.`, 'info');
      conversationChanged(summary);
    } catch (e) {
      if (e.status !== 401 && state.selected === id) showError($('action-error'), `Not assigned: ${e.message}`);
    } finally {
      if (state.selected === id) renderActions();
    }
  });

  $('force-close').addEventListener('click', () => {
    const c = state.shown;
    if (!c || c.state === 'closed') return;
    $('force-close-text').textContent =
      `The conversation with ${customerName(c)} (${stateLabel(c.state)}${c.owner ? `, ${ownerText(c.owner)}` : ''}) ends now for everyone in it. The customer is told a supervisor closed it.`;
    $('force-close-reason').value = '';
    showError($('force-close-error'), '');
    closeDialog.showModal();
    $('force-close-reason').focus();
  });

  $('force-close-form').addEventListener('submit', async event => {
    event.preventDefault();
    const id = state.selected;
    if (!id) return;
    const reason = $('force-close-reason').value.trim();
    const confirm = $('force-close-confirm');
    confirm.disabled = true;
    showError($('force-close-error'), '');
    try {
      const summary = await call('POST', conversationPath(id, 'force-close'), reason ? { reason } : {});
      closeDialog.close();
      conversationChanged(summary);
    } catch (e) {
      showError($('force-close-error'), e.message);
    } finally {
      confirm.disabled = false;
    }
  });

  $('force-close-cancel').addEventListener('click', () => closeDialog.close());

  // ---- start ----

  async function boot() {
    try {
      signedIn(await call('GET', 'me'));
    } catch (e) {
      if (e.status === 403) {
        // The admin token in a header is not how a browser signs in; sign in as a person.
        showSignIn('');
      } else {
        showSignIn(e.status === 401 ? '' : `The hub did not answer: ${e.message}`);
      }
    }
  }

  boot();
})();
