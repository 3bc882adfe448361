// Switchboard's agent workspace: a vanilla-JS client of the agent API (docs/agents.md), no
// framework and no build step.
//
// Signing in (`POST /api/v1/sessions`) sets an HttpOnly cookie; every call after that is a
// same-origin fetch carrying it, and the page never sees or stores the token. Live events come
// over the `GET /api/v1/events` WebSocket; on every (re)connect the page asks the API for the
// pending offers and for the conversations it owns, so nothing missed while disconnected is lost.
//
// Everything that came from a customer, a bot or another agent is put into the page as text
// (textContent, text nodes), never as HTML.
//
// A conversation that is a voice call in progress (its details say `call: true`) gets a call-audio
// bar: joining opens `GET /api/v1/conversations/{id}/audio` (a WebSocket carrying the caller's
// voice to the agent and the agent's microphone to the caller, as 8 kHz PCM), authenticated by
// the same session cookie as everything else.
(() => {
  'use strict';

  // The hub's root, from this script's own URL (<hub>/agent/agent.js), so the page also works
  // behind a reverse proxy that mounts the hub under a path.
  const hub = new URL('../', document.currentScript.src);
  const api = new URL('api/v1/', hub);
  const BASE_TITLE = document.title;
  const OPEN_STATES = ['active', 'wrap_up'];
  const PRESENCE_LABELS = {
    available: 'Available', busy: 'Busy', busy_dnd: 'Do not disturb', away: 'Away', offline: 'Offline',
  };
  const STATE_LABELS = {
    open: 'Open', waiting: 'Waiting', active: 'Active', wrap_up: 'Wrap-up', closed: 'Closed',
  };
  const ROLES = ['customer', 'bot', 'agent', 'system'];
  const WITHDRAWN = {
    declined: 'was declined', timed_out: 'timed out', taken: 'was taken by someone else', ended: 'ended',
  };

  const $ = id => document.getElementById(id);
  const composer = $('composer');
  const transcriptList = $('transcript');
  const suggestionList = $('suggestion-list');
  const transferDialog = $('transfer-dialog');
  const transferTarget = $('transfer-target');

  const state = {
    me: null,
    socket: null,
    attempts: 0,
    reconnectTimer: null,
    conversations: new Map(), // id → summary, of the conversations I own that are active or in wrap-up
    unread: new Map(), // id → items received while not selected
    drafts: new Map(), // id → unsent composer text
    offers: new Map(), // conversation id → { offer, card, expires, total }
    leaving: new Set(), // ids I transferred or closed myself (no "it left" notice for those)
    selected: null, // id of the conversation shown
    details: null, // GET /conversations/{id} of the selected one
    transcript: null, // { id, seqs: Set } of the selected one
    ticker: null,
    meTimer: null,
    detailsTimer: null,
    flashTimer: null,
    audio: null, // the call-audio session of the selected conversation (see "call audio")
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
      // An expired or deleted session: back to the sign-in form (not for the sign-in itself).
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

  // ---- small DOM helpers ----

  function make(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  function button(text, className, testid) {
    const element = make('button', className, text);
    element.type = 'button';
    if (testid) element.dataset.testid = testid;
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

  // A <dl> of [label, value] pairs; objects (nested context values) are shown as JSON text.
  function definitions(pairs) {
    const dl = make('dl', 'facts');
    for (const [label, value] of pairs) {
      const shown = value === null || value === undefined || value === '' ? '—'
        : typeof value === 'object' ? JSON.stringify(value) : String(value);
      dl.append(make('dt', '', label), make('dd', '', shown));
    }
    return dl;
  }

  function contextPairs(context) {
    return Object.entries(context || {});
  }

  function time(timestamp) {
    const date = timestamp ? new Date(timestamp) : new Date();
    return Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  const customerName = c => (c && c.customer && c.customer.name) || 'Customer';
  const stateLabel = s => STATE_LABELS[s] || s || '';

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
    $('signin').hidden = false;
    document.title = BASE_TITLE;
    showError($('signin-error'), message);
    $('signin-password').value = '';
    $('signin-name').focus();
  }

  function signedIn(me) {
    state.me = me;
    $('signin').hidden = true;
    $('app').hidden = false;
    showError($('signin-error'), '');
    renderMe(me);
    renderList();
    renderWork();
    // Load the work at once too (not only when the socket opens): a proxy that drops WebSockets
    // still leaves a usable page.
    resync();
    connect();
  }

  // Forgets everything of the signed-in person: socket, timers, conversations, offers.
  function teardown() {
    dropAudio();
    state.me = null;
    const socket = state.socket;
    state.socket = null;
    if (socket) socket.close();
    clearTimeout(state.reconnectTimer);
    clearTimeout(state.meTimer);
    clearTimeout(state.detailsTimer);
    clearInterval(state.ticker);
    state.ticker = null;
    state.attempts = 0;
    for (const map of [state.conversations, state.unread, state.drafts, state.offers]) map.clear();
    state.leaving.clear();
    state.selected = null;
    state.details = null;
    state.transcript = null;
    $('offers').replaceChildren();
    $('conversations').replaceChildren();
    if (transferDialog.open) transferDialog.close();
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

  $('signout').addEventListener('click', async () => {
    try {
      await call('DELETE', 'sessions/current');
    } catch (e) {
      // Signed out locally either way; the session expires by itself.
    }
    showSignIn('');
  });

  // ---- me: name, role, capacity, presence ----

  function renderMe(me) {
    if (!me || !state.me) return;
    state.me = me;
    $('me-name').textContent = me.display_name || me.name;
    const role = $('me-role');
    role.textContent = me.role || '';
    role.title = me.queues && me.queues.length ? `Queues: ${me.queues.join(', ')}` : '';
    $('capacity').textContent = `${me.used ?? 0} / ${me.capacity ?? 0}`;
    $('presence').value = me.presence || 'offline';
    $('presence').dataset.presence = me.presence || 'offline';
  }

  // Capacity changes with every offer, accept and close: refresh it once per burst of events.
  function refreshMeSoon() {
    clearTimeout(state.meTimer);
    state.meTimer = setTimeout(async () => {
      try {
        renderMe(await call('GET', 'me'));
      } catch (e) {
        // The next event or reconnect tries again.
      }
    }, 300);
  }

  $('presence').addEventListener('change', async event => {
    const presence = event.target.value;
    try {
      renderMe(await call('PUT', 'me/presence', { presence }));
    } catch (e) {
      if (state.me) renderMe(state.me); // back to what the hub knows
      if (e.status !== 401) flash(`Presence not changed: ${e.message}`);
    }
  });

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
      state.attempts = 0;
      setConnection('online', 'Live');
      resync();
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

  // Exponential backoff with jitter, up to 30 s. Before reconnecting, `GET /me` tells an expired
  // session (401: the call shows the sign-in form) from a hub that is down (try again later).
  function reconnectSoon() {
    const delay = Math.min(30000, 1000 * 2 ** state.attempts++) * (0.75 + Math.random() / 2);
    setConnection('offline', `Disconnected, retrying in ${Math.round(delay / 1000)} s`);
    state.reconnectTimer = setTimeout(async () => {
      if (!state.me) return;
      try {
        renderMe(await call('GET', 'me'));
      } catch (e) {
        if (e.status !== 401 && state.me) reconnectSoon();
        return;
      }
      connect();
    }, delay);
  }

  function handleEvent(event) {
    switch (event.type) {
      case 'offer': addOffer(event.offer); break;
      case 'offer_withdrawn': withdrawOffer(event.conversation_id, event.reason); break;
      case 'conversation': conversationChanged(event.conversation); break;
      case 'activity': activityArrived(event.conversation_id, event.activity); break;
      case 'presence': presenceChanged(event.user, event.presence); break;
      default: break; // newer hubs may send more
    }
  }

  // After a (re)connect: what happened while the socket was down.
  async function resync() {
    try {
      const [offers, active, wrapUp, me] = await Promise.all([
        call('GET', 'offers'),
        call('GET', 'conversations?state=active'),
        call('GET', 'conversations?state=wrap_up'),
        call('GET', 'me'),
      ]);
      renderMe(me);
      replaceConversations([...(active.conversations || []), ...(wrapUp.conversations || [])]);
      replaceOffers(offers.offers || []);
      if (state.selected && state.conversations.has(state.selected)) {
        loadDetails(state.selected);
        loadTranscript(state.transcript);
      } else if (state.selected) {
        deselect();
      }
    } catch (e) {
      if (e.status !== 401) flash(`Could not load your work: ${e.message}`);
    }
  }

  function presenceChanged(user, presence) {
    if (state.me && user === state.me.name) {
      state.me.presence = presence;
      renderMe(state.me);
      refreshMeSoon();
    }
  }

  // ---- my conversations ----

  function isMine(summary) {
    const owner = summary && summary.owner;
    return Boolean(owner && owner.kind === 'agent' && state.me && owner.name === state.me.name);
  }

  const isOpen = summary => isMine(summary) && OPEN_STATES.includes(summary.state);

  // A snapshot from the API; an event newer than the snapshot (by updated_at) is kept.
  function replaceConversations(list) {
    const next = new Map();
    for (const summary of list) {
      if (!isOpen(summary)) continue;
      const known = state.conversations.get(summary.id);
      const newer = known && Date.parse(known.updated_at) > Date.parse(summary.updated_at);
      next.set(summary.id, newer ? known : summary);
    }
    state.conversations = next;
    for (const id of state.unread.keys()) if (!next.has(id)) state.unread.delete(id);
    renderList();
  }

  function conversationChanged(summary) {
    if (!summary || !summary.id) return;
    const id = summary.id;
    const known = state.conversations.get(id);
    if (known && Date.parse(known.updated_at) > Date.parse(summary.updated_at)) return; // stale
    if (isOpen(summary)) {
      state.conversations.set(id, summary);
    } else if (known) {
      state.conversations.delete(id);
      state.unread.delete(id);
      state.drafts.delete(id);
      if (id === state.selected) {
        if (!state.leaving.has(id)) {
          const how = summary.state === 'closed' ? 'was closed' : 'is no longer yours';
          flash(`The conversation with ${customerName(summary)} ${how}.`, 'info');
        }
        deselect();
      }
      state.leaving.delete(id);
    }
    renderList();
    if (id === state.selected) {
      renderWork();
      refreshDetailsSoon(id);
    }
    refreshMeSoon();
  }

  // Active first, then wrap-up; oldest first within each.
  function sortedConversations() {
    return [...state.conversations.values()].sort((a, b) =>
      OPEN_STATES.indexOf(a.state) - OPEN_STATES.indexOf(b.state) ||
      Date.parse(a.created_at) - Date.parse(b.created_at));
  }

  function renderList() {
    const list = $('conversations');
    const items = sortedConversations().map(listItem);
    list.replaceChildren(...items);
    $('conversations-empty').hidden = items.length > 0;
    updateTitle();
  }

  function listItem(summary) {
    const li = make('li', 'list__item');
    const entry = button('', 'conversation', 'conversation-item');
    entry.dataset.conversationId = summary.id;
    entry.dataset.state = summary.state;
    if (summary.id === state.selected) entry.setAttribute('aria-current', 'true');
    const top = make('span', 'conversation__top');
    top.append(make('span', 'conversation__name', customerName(summary)));
    const unread = state.unread.get(summary.id) || 0;
    if (unread > 0) {
      const badge = make('span', 'badge', unread > 99 ? '99+' : unread);
      badge.dataset.testid = 'unread';
      badge.setAttribute('aria-label', `${unread} unread`);
      top.append(badge);
    }
    const bottom = make('span', 'conversation__bottom');
    bottom.append(make('span', 'conversation__queue', summary.queue || ''));
    bottom.append(make('span', `pill pill--${summary.state}`, stateLabel(summary.state)));
    entry.append(top, bottom);
    entry.addEventListener('click', () => select(summary.id));
    li.append(entry);
    return li;
  }

  // ---- the selected conversation ----

  function select(id) {
    if (state.selected === id) return;
    saveDraft();
    dropAudio();
    state.selected = id;
    state.unread.delete(id);
    state.details = null;
    state.transcript = { id, seqs: new Set() };
    transcriptList.replaceChildren();
    clearSuggestions();
    composer.value = state.drafts.get(id) || '';
    showError($('composer-error'), '');
    renderList();
    renderWork();
    loadDetails(id);
    loadTranscript(state.transcript);
    composer.focus();
  }

  function deselect() {
    saveDraft();
    dropAudio();
    state.selected = null;
    state.details = null;
    state.transcript = null;
    transcriptList.replaceChildren();
    clearSuggestions();
    renderList();
    renderWork();
  }

  function saveDraft() {
    if (!state.selected) return;
    if (composer.value) state.drafts.set(state.selected, composer.value);
    else state.drafts.delete(state.selected);
  }

  // The details (routing, escalation summaries) with the latest summary's fields over them.
  function current() {
    if (!state.selected) return null;
    return Object.assign({}, state.details || {}, state.conversations.get(state.selected) || {});
  }

  async function loadDetails(id) {
    try {
      const details = await call('GET', conversationPath(id));
      if (state.selected !== id) return;
      state.details = details;
      renderWork();
    } catch (e) {
      if (state.selected === id && e.status !== 401) flash(`Could not load the conversation: ${e.message}`);
    }
  }

  function refreshDetailsSoon(id) {
    clearTimeout(state.detailsTimer);
    state.detailsTimer = setTimeout(() => { if (state.selected === id) loadDetails(id); }, 250);
  }

  function renderWork() {
    const conversation = current();
    $('work-empty').hidden = Boolean(conversation);
    $('work').hidden = !conversation;
    renderContext(conversation);
    renderCallAudio(conversation);
    if (!conversation) return;
    const wrapUp = conversation.state === 'wrap_up';
    $('work-title').textContent = customerName(conversation);
    $('work-sub').textContent = [conversation.queue, stateLabel(conversation.state)].filter(Boolean).join(' · ');
    $('wrapup').hidden = !wrapUp;
    $('transfer').disabled = wrapUp;
    $('end').disabled = wrapUp;
    // In wrap-up the customer is gone: notes only.
    $('send').disabled = wrapUp;
    $('composer-form').dataset.wrapUp = String(wrapUp);
    composer.placeholder = wrapUp
      ? 'Add an internal note…'
      : 'Reply to the customer… (Enter sends, Shift+Enter for a new line)';
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
    if (!item) return;
    if (state.transcript && state.transcript.id === id) {
      addTranscriptItem(item, true);
    } else if (state.conversations.has(id) && !fromMe(item) && item.suggestion !== true) {
      state.unread.set(id, (state.unread.get(id) || 0) + 1);
      renderList();
    }
  }

  const fromMe = item => item.role === 'agent' && state.me && item.sender === state.me.name;

  // Inserted in seq order; a seq already shown (a replay after a reconnect) is skipped.
  function addTranscriptItem(item, live) {
    const transcript = state.transcript;
    if (!transcript || transcript.seqs.has(item.seq)) return;
    transcript.seqs.add(item.seq);
    if (item.suggestion === true) {
      addSuggestion(item);
      return;
    }
    const follow = !live || fromMe(item) || nearBottom();
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
    const li = make('li', `item item--${role}${note ? ' item--note' : ''}${fromMe(item) ? ' item--mine' : ''}`);
    li.dataset.testid = 'transcript-item';
    li.dataset.role = role;
    li.dataset.note = String(note);
    li.dataset.seq = String(item.seq);
    if (role === 'system' && !note) {
      li.append(make('span', 'item__notice', item.text || ''), make('span', 'item__time', time(item.timestamp)));
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

  // ---- smart-assist suggestions ----
  //
  // A smart-assist bot's reply (docs/bots.md, "Smart-assist bots"): text, an Adaptive Card, or
  // both. The card's text blocks and links are shown as text; Insert puts the reply's text (or
  // the card's text) into the composer, where the agent can edit it before sending.

  function clearSuggestions() {
    suggestionList.replaceChildren();
    $('suggestions').hidden = true;
  }

  function cardTexts(item) {
    const texts = [];
    const links = [];
    const walk = element => {
      if (!element || typeof element !== 'object') return;
      if (element.type === 'TextBlock' && typeof element.text === 'string') texts.push(element);
      if (element.type === 'Action.OpenUrl' && typeof element.url === 'string' && /^https?:/i.test(element.url)) {
        links.push({ title: element.title || element.url, url: element.url });
      }
      for (const key of ['body', 'items', 'columns', 'actions']) {
        if (Array.isArray(element[key])) element[key].forEach(walk);
      }
    };
    for (const attachment of item.attachments || []) {
      if (attachment.contentType === 'application/vnd.microsoft.card.adaptive') walk(attachment.content);
    }
    return { texts, links };
  }

  function addSuggestion(item) {
    const { texts, links } = cardTexts(item);
    const li = make('li', 'suggestion');
    li.dataset.testid = 'suggestion';
    li.dataset.seq = String(item.seq);
    const head = make('span', 'suggestion__head');
    head.append(make('span', 'item__name', item.name || item.sender || 'Bot'), make('span', 'item__time', time(item.timestamp)));
    li.append(head);
    for (const block of texts) {
      const p = make('p', `suggestion__text${block.weight === 'Bolder' ? ' suggestion__text--title' : ''}${block.isSubtle ? ' suggestion__text--subtle' : ''}`);
      p.textContent = block.text;
      li.append(p);
    }
    if (!texts.length && item.text) li.append(make('p', 'suggestion__text', item.text));
    const insertText = item.text || texts.map(b => b.text).join(' ');
    const buttons = make('div', 'suggestion__buttons');
    for (const link of links) {
      const a = make('a', 'button', link.title);
      a.href = link.url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      buttons.append(a);
    }
    if (insertText) {
      const insert = button('Insert', 'button button--primary', 'suggestion-insert');
      insert.title = 'Put this suggestion into the message box';
      insert.addEventListener('click', () => {
        if (composer.readOnly) return;
        composer.value = composer.value.trim() ? `${composer.value.trimEnd()} ${insertText}` : insertText;
        composer.focus();
        composer.setSelectionRange(composer.value.length, composer.value.length);
      });
      buttons.append(insert);
    }
    li.append(buttons);
    // In the order the bot sent them (its best first within a turn), the newest at the bottom.
    let before = null;
    for (let node = suggestionList.lastElementChild; node && Number(node.dataset.seq) > item.seq;
      node = node.previousElementSibling) {
      before = node;
    }
    suggestionList.insertBefore(li, before);
    $('suggestions').hidden = false;
    suggestionList.scrollTop = suggestionList.scrollHeight;
  }

  // ---- composer ----

  async function send(asNote) {
    const id = state.selected;
    const text = composer.value.trim();
    const conversation = current();
    if (!id || !text) return;
    if (!asNote && conversation && conversation.state === 'wrap_up') asNote = true;
    setComposerBusy(true);
    showError($('composer-error'), '');
    try {
      const answer = await call('POST', conversationPath(id, asNote ? 'notes' : 'messages'), { text });
      if (state.selected === id) composer.value = '';
      state.drafts.delete(id);
      // The item comes back as an `activity` event; if it does not (socket down), reload.
      const transcript = state.transcript;
      setTimeout(() => {
        if (state.transcript === transcript && transcript && answer && !transcript.seqs.has(answer.seq)) {
          loadTranscript(transcript);
        }
      }, 2000);
    } catch (e) {
      if (state.selected === id) showError($('composer-error'), `${asNote ? 'Note' : 'Message'} not sent: ${e.message}`);
    } finally {
      setComposerBusy(false);
      if (state.selected === id) composer.focus();
    }
  }

  function setComposerBusy(busy) {
    composer.readOnly = busy;
    $('send-note').disabled = busy;
    const conversation = current();
    $('send').disabled = busy || Boolean(conversation && conversation.state === 'wrap_up');
  }

  $('composer-form').addEventListener('submit', event => {
    event.preventDefault();
    send(false);
  });

  $('send-note').addEventListener('click', () => send(true));

  composer.addEventListener('keydown', event => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!composer.readOnly) send(false);
    }
  });

  // ---- context panel ----

  function section(title, ...content) {
    const element = make('section', 'context__section');
    element.append(make('h3', 'context__title', title), ...content);
    return element;
  }

  function renderContext(conversation) {
    const panel = $('context');
    if (!conversation) {
      panel.replaceChildren(make('p', 'context__empty', 'No conversation selected.'));
      return;
    }
    const customer = conversation.customer || {};
    const owner = conversation.owner ? `${conversation.owner.name} (${conversation.owner.kind})` : '';
    const sections = [
      section('Customer', definitions([['Name', customer.name], ['Email', customer.email], ['ID', customer.id]])),
      section('Conversation', definitions([
        ['Workstream', conversation.workstream], ['Queue', conversation.queue],
        ['State', stateLabel(conversation.state)], ['Owner', owner],
        ['Started', conversation.created_at ? new Date(conversation.created_at).toLocaleString() : ''],
      ])),
    ];
    const context = contextPairs(conversation.context);
    sections.push(section('Context variables',
      context.length ? definitions(context) : make('p', 'context__none', 'None.')));
    sections.push(section('Escalation summaries', summaryList(conversation.escalation_summaries)));
    if (state.details) sections.push(section('Routing', routingList(conversation.routing)));
    panel.replaceChildren(...sections);
  }

  function summaryList(summaries) {
    const texts = (summaries || []).filter(Boolean);
    if (!texts.length) return make('p', 'context__none', state.details ? 'None.' : 'Loading…');
    const list = make('ul', 'summaries');
    for (const text of texts) list.append(make('li', 'summary', text));
    return list;
  }

  // Each routing decision: when, why, where to and by which rule; the rule trace folds out.
  function routingList(routing) {
    if (!routing || !routing.length) return make('p', 'context__none', 'None.');
    const list = make('ol', 'routing');
    for (const record of routing) {
      const item = make('li', 'routing__item');
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
    return list;
  }

  // ---- offers ----

  let offerCount = 0;

  function addOffer(offer) {
    if (!offer || !offer.conversation) return;
    const id = offer.conversation.id;
    removeOffer(id);
    const expires = Date.parse(offer.expires_at);
    const card = offerCard(offer);
    state.offers.set(id, { offer, card, expires, total: Math.max(1000, expires - Date.now()) });
    $('offers').append(card);
    tick();
    if (!state.ticker) state.ticker = setInterval(tick, 250);
    updateTitle();
    refreshMeSoon();
  }

  function replaceOffers(offers) {
    const ids = new Set(offers.map(o => o.conversation && o.conversation.id));
    for (const id of [...state.offers.keys()]) if (!ids.has(id)) removeOffer(id);
    for (const offer of offers) if (!state.offers.has(offer.conversation.id)) addOffer(offer);
  }

  function offerCard(offer) {
    const conversation = offer.conversation;
    const n = ++offerCount;
    const card = make('section', 'offer');
    card.setAttribute('role', 'alertdialog');
    card.setAttribute('aria-labelledby', `offer-title-${n}`);
    card.setAttribute('aria-describedby', `offer-info-${n}`);
    card.dataset.testid = 'offer';
    card.dataset.conversationId = conversation.id;

    const top = make('div', 'offer__top');
    const countdown = make('span', 'offer__countdown');
    countdown.dataset.testid = 'offer-countdown';
    top.append(make('span', 'offer__kicker', 'Incoming conversation'), countdown);
    const progress = make('progress', 'offer__progress');
    progress.max = 1;
    progress.value = 1;

    const title = make('h2', 'offer__title', customerName(conversation));
    title.id = `offer-title-${n}`;
    const info = make('div', 'offer__info');
    info.id = `offer-info-${n}`;
    info.append(make('p', 'offer__queue', [offer.queue || conversation.queue, conversation.workstream].filter(Boolean).join(' · ')));
    const context = contextPairs(conversation.context);
    if (context.length) info.append(definitions(context));
    const summaries = (offer.summaries || []).filter(Boolean);
    if (summaries.length) {
      info.append(make('h3', 'offer__subtitle', 'Bot summary'));
      const list = make('ul', 'summaries');
      for (const text of summaries) list.append(make('li', 'summary', text));
      info.append(list);
    }

    const error = make('p', 'error');
    error.setAttribute('role', 'alert');
    error.hidden = true;
    const decline = button('Decline', 'button', 'decline');
    const accept = button('Accept', 'button button--primary', 'accept');
    decline.addEventListener('click', () => respond(conversation.id, false));
    accept.addEventListener('click', () => respond(conversation.id, true));
    const buttons = make('div', 'offer__buttons');
    buttons.append(decline, accept);

    card.append(top, progress, title, info, error, buttons);
    return card;
  }

  async function respond(id, accept) {
    const entry = state.offers.get(id);
    if (!entry) return;
    const { card } = entry;
    card.querySelectorAll('button').forEach(b => { b.disabled = true; });
    card.dataset.busy = 'true';
    try {
      const summary = await call('POST', conversationPath(id, accept ? 'accept' : 'decline'));
      removeOffer(id);
      if (accept) {
        conversationChanged(summary);
        if (state.conversations.has(id)) select(id);
      }
    } catch (e) {
      if (e.status === 401) return;
      card.dataset.busy = 'false';
      const error = card.querySelector('.error');
      showError(error, e.message);
      // Gone (taken, timed out, ended): leave the message a moment, then the card.
      if (e.status === 404 || e.status === 409) setTimeout(() => removeOffer(id), 4000);
      else card.querySelectorAll('button').forEach(b => { b.disabled = false; });
    }
    refreshMeSoon();
  }

  function withdrawOffer(id, reason) {
    const entry = state.offers.get(id);
    if (!entry) return;
    // An accept in flight answers for itself ("taken" is also what my own accept causes).
    if (entry.card.dataset.busy === 'true') return;
    removeOffer(id);
    if (reason !== 'declined') {
      flash(`The offer of ${customerName(entry.offer.conversation)} ${WITHDRAWN[reason] || 'was withdrawn'}.`, 'info');
    }
    refreshMeSoon();
  }

  function removeOffer(id) {
    const entry = state.offers.get(id);
    if (!entry) return;
    entry.card.remove();
    state.offers.delete(id);
    if (!state.offers.size) {
      clearInterval(state.ticker);
      state.ticker = null;
    }
    updateTitle();
  }

  // Countdowns; an offer past its expiry waits a few seconds for the hub's withdrawal, then goes.
  function tick() {
    const now = Date.now();
    for (const [id, entry] of state.offers) {
      const left = entry.expires - now;
      const countdown = entry.card.querySelector('.offer__countdown');
      entry.card.querySelector('.offer__progress').value = Math.max(0, left / entry.total);
      if (Number.isNaN(left)) {
        countdown.textContent = '';
      } else if (left > 0) {
        countdown.textContent = `${Math.ceil(left / 1000)} s`;
        entry.card.dataset.urgent = String(left < 10000);
      } else {
        countdown.textContent = 'Expired';
        if (entry.card.dataset.busy !== 'true') {
          entry.card.querySelectorAll('button').forEach(b => { b.disabled = true; });
        }
        if (left < -5000) removeOffer(id);
      }
    }
  }

  function updateTitle() {
    const unread = [...state.unread.values()].reduce((a, b) => a + b, 0);
    if (state.offers.size) document.title = `(${state.offers.size}) Incoming · ${BASE_TITLE}`;
    else if (unread) document.title = `(${unread}) ${BASE_TITLE}`;
    else document.title = BASE_TITLE;
  }

  // ---- call audio ----
  //
  // While the selected conversation is a voice call in progress, the agent can join its audio:
  // the caller's voice arrives on the socket as binary frames of 16-bit little-endian mono PCM at
  // 8000 Hz (20 ms each) and is played through Web Audio; the agent's microphone goes back the
  // same way. That audio is the /chat page's (`chat/call-audio.js`, loaded before this script,
  // with its capture worklet); this section keeps the socket's protocol and the bar. Switching
  // conversation, ending it or signing out closes the audio. The bar keeps `data-*` attributes
  // for tests: the state, the audio heard and sent (ms), and the loudest sample heard
  // (`data-peak`, 0..32767).

  const CallAudio = window.SwitchboardCallAudio;

  const audioBar = $('call-audio-bar');
  const audioButton = $('call-audio');
  const audioMute = $('call-audio-mute');

  // Each socket and audio callback holds its own session and ignores everything once that session
  // is over, so a late event of an old session cannot touch a new one.
  function newAudioSession(id) {
    const session = { id, over: false, connected: false, socket: null, line: null };
    session.line = CallAudio.line({
      unsupported: 'this browser can only join calls from a secure (https) page',
      onChunk: chunk => sendAudio(session, chunk),
      onHeard: line => {
        if (state.audio !== session) return;
        audioBar.dataset.heardMs = String(Math.round(line.heardMs));
        audioBar.dataset.peak = String(line.peak);
      },
    });
    return session;
  }

  const callInProgress = conversation => Boolean(conversation && isMine(conversation) &&
    conversation.state === 'active' && conversation.call === true);

  const audioLive = session => Boolean(session && !session.over);

  function renderCallAudio(conversation) {
    const session = state.audio;
    // Ended (wrap-up) or no longer mine: the audio goes too.
    if (audioLive(session) && !(conversation && isMine(conversation) && conversation.state === 'active')) {
      endAudio(session, 'ended', 'Call ended');
    }
    const callable = callInProgress(conversation);
    audioBar.hidden = !(callable || (session && session.id === state.selected));
    const live = audioLive(state.audio);
    audioButton.textContent = live ? 'Leave call audio' : 'Join call audio';
    audioButton.setAttribute('aria-pressed', String(live));
    audioButton.disabled = !live && !callable;
    audioMute.disabled = !live;
    const muted = live && state.audio.line.muted;
    audioMute.textContent = muted ? 'Unmute' : 'Mute';
    audioMute.setAttribute('aria-pressed', String(muted));
  }

  function setAudioState(session, kind, text) {
    if (state.audio !== session) return;
    audioBar.dataset.state = kind;
    $('call-audio-status').textContent = text;
    renderCallAudio(current());
  }

  function resetAudioBar() {
    audioBar.dataset.state = 'idle';
    audioBar.dataset.heardMs = '0';
    audioBar.dataset.sentMs = '0';
    audioBar.dataset.peak = '0';
    $('call-audio-status').textContent = 'Not joined';
  }

  // Closes the audio at once (leaving, switching, signing out) and forgets it.
  function dropAudio() {
    const session = state.audio;
    if (!session) return;
    state.audio = null;
    session.over = true;
    releaseAudio(session);
    resetAudioBar();
    renderCallAudio(current());
  }

  audioButton.addEventListener('click', () => {
    if (audioLive(state.audio)) dropAudio();
    else joinAudio();
  });

  audioMute.addEventListener('click', () => {
    const session = state.audio;
    if (!audioLive(session)) return;
    session.line.mute(!session.line.muted);
    renderCallAudio(current());
  });

  async function joinAudio() {
    const id = state.selected;
    if (!id || !callInProgress(current())) return;
    if (state.audio) dropAudio();
    const session = newAudioSession(id);
    state.audio = session;
    resetAudioBar();
    setAudioState(session, 'connecting', 'Connecting…');
    // Before the socket: without a microphone the agent cannot talk to the caller.
    const problem = await session.line.open();
    if (problem) endAudio(session, 'failed', `Audio failed: ${problem}`);
    // Failed, or left while the browser was asking for the microphone.
    if (session.over) releaseAudio(session);
    else openAudioSocket(session);
  }

  function openAudioSocket(session) {
    const url = new URL(conversationPath(session.id, 'audio'), api);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    session.socket = socket;
    socket.addEventListener('message', event => {
      if (session.over) return;
      const message = session.line.receive(event.data);
      if (!message) return;
      if (message.type === 'connected') {
        session.connected = true;
        setAudioState(session, 'connected', 'On the call');
      } else if (message.type === 'ended') {
        endAudio(session, 'ended', 'Call ended');
      } else if (message.type === 'error') {
        if (!session.connected) endAudio(session, 'failed', `Audio failed: ${message.message || 'the hub refused'}`);
        else console.warn('call audio: the hub said:', message.message);
      }
    });
    // A close without `ended` is the line dropping, or (before `connected`) the hub refusing: the
    // call is over, or not mine, or not on this hub.
    socket.addEventListener('close', () => {
      if (session.over) return;
      if (session.connected) endAudio(session, 'ended', 'Call ended');
      else endAudio(session, 'failed', 'Audio failed: the hub did not connect the call audio');
    });
  }

  // The microphone goes out only once the hub has said the audio is connected.
  function sendAudio(session, chunk) {
    if (session.over || !session.connected) return;
    if (session.line.send(session.socket, chunk) && state.audio === session) {
      audioBar.dataset.sentMs = String(Math.round(session.line.sentMs));
    }
  }

  // Ends the session once, whoever ended it; the bar shows why until the agent moves on.
  function endAudio(session, kind, text) {
    if (session.over) return;
    session.over = true;
    // The caller's last words are already scheduled: let them play out.
    releaseAudio(session, kind === 'ended' ? session.line.tailMs() : 0);
    setAudioState(session, kind, text);
  }

  // Safe to call again: joinAudio does, when the session ended while the microphone was opening.
  function releaseAudio(session, lingerMs = 0) {
    session.line.close(lingerMs);
    const socket = session.socket;
    if (socket && socket.readyState < WebSocket.CLOSING) socket.close(1000);
  }

  // ---- transfer, end, close ----

  $('transfer').addEventListener('click', openTransfer);

  async function openTransfer() {
    const id = state.selected;
    if (!id) return;
    const confirm = $('transfer-confirm');
    transferTarget.replaceChildren(make('option', '', 'Loading…'));
    transferTarget.disabled = true;
    confirm.disabled = true;
    showError($('transfer-error'), '');
    transferDialog.showModal();
    try {
      const [queues, agents] = await Promise.all([call('GET', 'queues'), call('GET', 'agents')]);
      const queueGroup = make('optgroup');
      queueGroup.label = 'Queues';
      for (const queue of queues.queues || []) {
        const option = make('option', '', `${queue.name} (${queue.waiting ?? 0} waiting)`);
        option.value = `queue:${queue.name}`;
        queueGroup.append(option);
      }
      const agentGroup = make('optgroup');
      agentGroup.label = 'Agents';
      for (const agent of agents.agents || []) {
        if (state.me && agent.name === state.me.name) continue;
        const presence = PRESENCE_LABELS[agent.presence] || agent.presence || '';
        const option = make('option', '',
          `${agent.display_name || agent.name} (${presence}, ${agent.used ?? 0}/${agent.capacity ?? 0})`);
        option.value = `agent:${agent.name}`;
        agentGroup.append(option);
      }
      transferTarget.replaceChildren(...[queueGroup, agentGroup].filter(g => g.childElementCount));
      transferTarget.disabled = false;
      confirm.disabled = !transferTarget.value;
    } catch (e) {
      transferTarget.replaceChildren();
      showError($('transfer-error'), `Could not load queues and agents: ${e.message}`);
    }
  }

  $('transfer-form').addEventListener('submit', async event => {
    event.preventDefault();
    const id = state.selected;
    const value = transferTarget.value;
    const colon = value.indexOf(':');
    if (!id || colon < 0) return;
    const kind = value.slice(0, colon);
    const name = value.slice(colon + 1);
    const confirm = $('transfer-confirm');
    confirm.disabled = true;
    showError($('transfer-error'), '');
    state.leaving.add(id);
    try {
      const summary = await call('POST', conversationPath(id, 'transfer'), kind === 'queue' ? { queue: name } : { agent: name });
      transferDialog.close();
      const label = transferTarget.selectedOptions[0] ? transferTarget.selectedOptions[0].textContent : name;
      flash(`Transferred to ${label}.`, 'info');
      conversationChanged(summary);
    } catch (e) {
      state.leaving.delete(id);
      showError($('transfer-error'), e.message);
    } finally {
      confirm.disabled = false;
    }
  });

  $('transfer-cancel').addEventListener('click', () => transferDialog.close());

  $('end').addEventListener('click', () => act('end', 'End'));
  $('close').addEventListener('click', () => act('close', 'Close'));

  // End (→ wrap-up) or close (→ closed, leaves the list) the selected conversation.
  async function act(action, label) {
    const id = state.selected;
    if (!id) return;
    const control = $(action);
    control.disabled = true;
    if (action === 'close') state.leaving.add(id);
    try {
      conversationChanged(await call('POST', conversationPath(id, action)));
    } catch (e) {
      state.leaving.delete(id);
      if (e.status !== 401) flash(`${label} failed: ${e.message}`);
    } finally {
      control.disabled = false;
      if (state.selected === id) renderWork();
    }
  }

  // ---- start ----

  async function boot() {
    try {
      const me = await call('GET', 'me');
      signedIn(me);
    } catch (e) {
      showSignIn(e.status === 401 ? '' : `The hub did not answer: ${e.message}`);
    }
  }

  boot();
})();
