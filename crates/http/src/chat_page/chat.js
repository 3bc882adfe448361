// Switchboard's customer chat page: a small Direct Line 3.0 client, no framework.
//
// It gets a token from the hub's `POST /chat/token`, starts the conversation
// (`POST /v3/directline/conversations`), reads the WebSocket `streamUrl` (ActivitySets, and empty
// keep-alive frames), posts messages with `channelData.clientActivityID` and shows one as sent
// when its echo (same clientActivityID, with the hub's id) comes back. When the socket closes it
// reconnects with `GET /conversations/{id}?watermark=` and carries on after the last activity it
// saw. The conversation id and token live in sessionStorage, so a reload resumes the chat.
//
// "Call" starts a voice call, a conversation of its own beside the chat, over the hub's
// WebSocket `/chat/call`: the microphone (with the browser's echo cancellation) goes through an
// AudioWorklet (`call-worklet.js`) that turns it into 16-bit 8 kHz PCM in 20 ms binary
// messages; the hub's binary messages (the same PCM) are played through Web Audio, scheduled
// only a little ahead, so when the hub stops talking (the customer barged in) the speaker stops
// almost at once. That audio is `call-audio.js`'s (loaded before this script, and shared with
// the agent workspace); this page keeps the call's protocol and its panel. The hub's text messages say when the call is connected, carry the transcript
// (what the bot or agent said, what the hub heard the customer say, notices) and say when and
// why the call ended; the page sends keypad presses as `dtmf` and `hangup` when the customer
// hangs up. The call panel's data attributes (state, ms heard and sent) are for tests.
(() => {
  'use strict';

  // The hub's root, from this script's own URL (<hub>/chat/chat.js), so the page also works
  // behind a reverse proxy that mounts the hub under a path.
  const hub = new URL('../', document.currentScript.src);
  const directLine = new URL('v3/directline/', hub);
  const SAVED = 'switchboard.chat';
  const SYSTEM = 'switchboard';
  const SEND_TIMEOUT_MS = 20000;
  const TYPING_MS = 6000;

  const $ = id => document.getElementById(id);
  const log = $('log');
  const input = $('input');
  const sendButton = $('send');
  const status = $('status');
  const typing = $('typing');
  const suggestions = $('suggestions');

  const chat = {
    token: null,
    conversationId: null,
    userId: null,
    watermark: '',
    socket: null,
    attempts: 0,
    ended: false,
    refreshTimer: null,
  };
  // Activity ids already shown: a replay after a reconnect must not show anything twice.
  const shown = new Set();
  // My messages not yet echoed, by clientActivityID.
  const pending = new Map();
  let typingTimer = null;

  // ---- Direct Line over HTTP ----

  async function call(method, path, body) {
    const headers = { Authorization: `Bearer ${chat.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(new URL(path, directLine), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return answer(response);
  }

  async function answer(response) {
    const json = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((json && json.error && json.error.message) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return json;
  }

  // The user id is the token's `user` claim; the hub stamps it on everything this page sends.
  function userOf(token) {
    try {
      const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(payload)).user || null;
    } catch (e) {
      return null;
    }
  }

  function adopt(conversation) {
    if (conversation.token) chat.token = conversation.token;
    if (conversation.conversationId) chat.conversationId = conversation.conversationId;
    chat.userId = userOf(chat.token) || chat.userId;
    sessionStorage.setItem(SAVED, JSON.stringify({ token: chat.token, conversationId: chat.conversationId }));
    scheduleRefresh(conversation.expires_in);
  }

  // Tokens expire (30 minutes by default); refresh well before.
  function scheduleRefresh(expiresIn) {
    if (!expiresIn) return;
    clearTimeout(chat.refreshTimer);
    const seconds = Math.max(30, Math.min(expiresIn - 120, expiresIn / 2));
    chat.refreshTimer = setTimeout(async () => {
      try {
        adopt(await call('POST', 'tokens/refresh'));
      } catch (e) {
        scheduleRefresh(60 + 120);
      }
    }, seconds * 1000);
  }

  async function start() {
    setStatus('connecting', 'Connecting…');
    const saved = JSON.parse(sessionStorage.getItem(SAVED) || 'null');
    if (saved && saved.token && saved.conversationId) {
      chat.token = saved.token;
      chat.conversationId = saved.conversationId;
      try {
        // An empty watermark replays the whole conversation into the empty page.
        return await resume();
      } catch (e) {
        if (e.status !== 403 && e.status !== 404) throw e;
        sessionStorage.removeItem(SAVED);
      }
    }
    const token = await answer(await fetch(new URL('chat/token', hub), { method: 'POST' }));
    chat.token = token.token;
    const conversation = await call('POST', 'conversations', {});
    adopt(conversation);
    open(conversation.streamUrl);
  }

  async function resume() {
    const id = encodeURIComponent(chat.conversationId);
    const conversation = await call('GET', `conversations/${id}?watermark=${encodeURIComponent(chat.watermark)}`);
    adopt(conversation);
    open(conversation.streamUrl);
  }

  // ---- the WebSocket stream ----

  function open(streamUrl) {
    const socket = new WebSocket(streamUrl);
    chat.socket = socket;
    enableComposer(true);
    socket.onopen = () => {
      chat.attempts = 0;
      if (!chat.ended) setStatus('online', 'Online');
    };
    socket.onmessage = event => {
      if (!event.data) return; // keep-alive
      const set = JSON.parse(event.data);
      if (set.watermark) chat.watermark = set.watermark;
      (set.activities || []).forEach(receive);
    };
    socket.onclose = () => {
      if (chat.socket !== socket) return;
      chat.socket = null;
      if (!chat.ended) reconnectSoon();
    };
  }

  function reconnectSoon() {
    setStatus('connecting', 'Reconnecting…');
    const delay = Math.min(15000, 500 * 2 ** chat.attempts++);
    setTimeout(async () => {
      if (chat.socket || chat.ended) return;
      try {
        await resume();
      } catch (e) {
        if (e.status === 404) conversationEnded();
        else if (e.status === 403) failed('Your session has expired. Start a new chat to continue.');
        else reconnectSoon();
      }
    }, delay);
  }

  // ---- receiving ----

  function mine(activity) {
    const from = activity.from || {};
    return from.role === 'user' || (chat.userId && from.id === chat.userId);
  }

  function receive(activity) {
    if (activity.id && shown.has(activity.id)) return;
    if (activity.id) shown.add(activity.id);
    if (activity.type === 'typing') {
      if (!mine(activity)) showTyping(activity.from);
      return;
    }
    if (activity.type === 'endOfConversation') {
      conversationEnded();
      return;
    }
    if (activity.type !== 'message') return;
    const clientId = activity.channelData && activity.channelData.clientActivityID;
    if (clientId && pending.has(clientId)) {
      markSent(clientId, activity);
      return;
    }
    if (mine(activity)) {
      // Sent before a reload, or from another tab.
      const item = outgoing(activity.text || '');
      setSent(item, activity);
      return;
    }
    hideTyping();
    const from = activity.from || {};
    if (from.id === SYSTEM) notice(activity.text || '');
    else incoming(activity);
    showSuggestions(activity.suggestedActions);
  }

  // ---- rendering ----

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function time(timestamp) {
    const date = timestamp ? new Date(timestamp) : new Date();
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  // Text as text (never as HTML), with web links made clickable.
  function textInto(element, text) {
    const link = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
    let at = 0;
    for (const match of text.matchAll(link)) {
      element.append(text.slice(at, match.index));
      const a = document.createElement('a');
      a.href = match[0];
      a.textContent = match[0];
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      element.append(a);
      at = match.index + match[0].length;
    }
    element.append(text.slice(at));
  }

  function make(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function notice(text) {
    const item = make('li', 'notice', text);
    item.dataset.role = 'system';
    log.append(item);
    scrollDown();
  }

  function incoming(activity) {
    const from = activity.from || {};
    const name = from.name || 'Assistant';
    const last = log.lastElementChild;
    const continued =
      last && last.dataset.role === 'other' && last.dataset.sender === (from.id || '') &&
      Date.parse(activity.timestamp || 0) - Number(last.dataset.at || 0) < 120000;
    const item = make('li', continued ? 'msg msg--in msg--cont' : 'msg msg--in');
    item.dataset.role = 'other';
    item.dataset.sender = from.id || '';
    item.dataset.at = String(Date.parse(activity.timestamp || '') || Date.now());
    if (!continued) {
      item.append(make('span', 'msg__avatar', name.trim().charAt(0).toUpperCase() || '?'));
      item.append(make('span', 'msg__name', name));
    }
    const bubble = make('div', 'msg__bubble');
    textInto(bubble, activity.text || '');
    attachments(bubble, activity.attachments);
    item.append(bubble);
    item.append(make('span', 'msg__meta', time(activity.timestamp)));
    log.append(item);
    scrollDown();
  }

  // Files as links, cards by their title and text; a richer renderer is Web Chat's job.
  function attachments(bubble, list) {
    for (const attachment of list || []) {
      const content = attachment.content || {};
      if (attachment.contentUrl && /^https?:/.test(attachment.contentUrl)) {
        const a = make('a', 'msg__attachment', attachment.name || attachment.contentUrl);
        a.href = attachment.contentUrl;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        bubble.append(a);
      } else if (content.title || content.text) {
        const card = make('div', 'msg__attachment');
        if (content.title) card.append(make('strong', '', content.title));
        if (content.text) card.append(make('span', '', content.text));
        bubble.append(card);
      }
    }
  }

  function outgoing(text) {
    const item = make('li', 'msg msg--out');
    item.dataset.role = 'me';
    item.dataset.state = 'sending';
    const bubble = make('div', 'msg__bubble');
    textInto(bubble, text);
    item.append(bubble, make('span', 'msg__meta', 'Sending…'));
    log.append(item);
    scrollDown();
    return item;
  }

  function setSent(item, activity) {
    item.dataset.state = 'sent';
    item.querySelector('.msg__meta').textContent = time(activity.timestamp);
  }

  function markSent(clientId, activity) {
    const { item, timer } = pending.get(clientId);
    clearTimeout(timer);
    pending.delete(clientId);
    setSent(item, activity);
  }

  function markFailed(clientId, reason) {
    const entry = pending.get(clientId);
    if (!entry || entry.item.dataset.state !== 'sending') return;
    clearTimeout(entry.timer);
    entry.item.dataset.state = 'failed';
    const meta = entry.item.querySelector('.msg__meta');
    meta.textContent = 'Not sent.';
    meta.title = reason || '';
    if (!chat.ended) {
      const retry = make('button', 'msg__retry', 'Retry');
      retry.type = 'button';
      retry.addEventListener('click', () => {
        pending.delete(clientId);
        post(entry.text, entry.item);
      });
      meta.append(retry);
    }
  }

  function showTyping(from) {
    typing.querySelector('#typing-text').textContent = `${(from && from.name) || 'Someone'} is typing…`;
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_MS);
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    typing.hidden = true;
  }

  function showSuggestions(suggested) {
    suggestions.replaceChildren();
    const actions = ((suggested && suggested.actions) || []).filter(a => a.type === 'imBack' || a.type === 'messageBack');
    for (const action of actions) {
      const text = action.type === 'imBack' ? String(action.value || action.title || '') : action.text || action.displayText || action.title || '';
      if (!text) continue;
      const button = make('button', '', action.title || text);
      button.type = 'button';
      button.addEventListener('click', () => send(text));
      suggestions.append(button);
    }
    suggestions.hidden = suggestions.childElementCount === 0;
  }

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function enableComposer(enabled) {
    input.disabled = !enabled;
    sendButton.disabled = !enabled || !input.value.trim();
  }

  function conversationEnded() {
    if (chat.ended) return;
    chat.ended = true;
    sessionStorage.removeItem(SAVED);
    clearTimeout(chat.refreshTimer);
    setStatus('ended', 'Conversation ended');
    notice('This conversation has ended. Press “New chat” to start another.');
    enableComposer(false);
    hideTyping();
    showSuggestions(null);
    if (chat.socket) chat.socket.close();
  }

  function failed(message) {
    setStatus('error', 'Not connected');
    notice(message);
  }

  // ---- sending ----

  function newClientId() {
    return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  }

  function send(text) {
    text = text.trim();
    if (!text || chat.ended || !chat.conversationId) return;
    showSuggestions(null);
    post(text, outgoing(text));
  }

  async function post(text, item) {
    const clientId = newClientId();
    item.dataset.state = 'sending';
    item.querySelector('.msg__meta').textContent = 'Sending…';
    // Like Web Chat: without an echo in time, the message is shown as not sent.
    const timer = setTimeout(() => markFailed(clientId, 'no answer from the hub'), SEND_TIMEOUT_MS);
    pending.set(clientId, { item, text, timer });
    const activity = {
      type: 'message',
      text,
      from: { id: chat.userId, role: 'user' },
      locale: navigator.language,
      localTimestamp: new Date().toISOString(),
      channelData: { clientActivityID: clientId },
    };
    try {
      await call('POST', `conversations/${encodeURIComponent(chat.conversationId)}/activities`, activity);
    } catch (e) {
      // 502: stored, but the bot did not take it; the echo still comes and an agent will see it.
      if (e.status === 502) return;
      if (e.status === 404) conversationEnded();
      markFailed(clientId, e.message);
    }
  }

  $('composer').addEventListener('submit', event => {
    event.preventDefault();
    const text = input.value;
    input.value = '';
    grow();
    send(text);
    input.focus();
  });

  input.addEventListener('keydown', event => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer').requestSubmit();
    }
  });

  function grow() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 140)}px`;
    sendButton.disabled = input.disabled || !input.value.trim();
  }
  input.addEventListener('input', grow);

  // "New chat" leaves the current conversation for good: the hub is told (endOfConversation), so
  // a conversation nobody answered yet counts as abandoned and an agent who has it wraps up.
  $('restart').addEventListener('click', async () => {
    if (chat.conversationId && chat.token) {
      await call('POST', `conversations/${encodeURIComponent(chat.conversationId)}/activities`, {
        type: 'endOfConversation',
        from: { id: chat.userId, role: 'user' },
      }).catch(() => {});
    }
    sessionStorage.removeItem(SAVED);
    location.reload();
  });

  // ---- the voice call ----

  // The microphone and the speaker (call-audio.js).
  const CallAudio = window.SwitchboardCallAudio;
  const CALL_ROLES = ['bot', 'agent', 'customer', 'system'];

  const callButton = $('call');
  const panel = $('call-panel');
  const callStatus = $('call-status');
  const callLog = $('call-log');
  const keypad = $('keypad');
  const keypadKeys = $('keypad-keys');
  const keypadToggle = $('keypad-toggle');
  const muteButton = $('mute');

  // The current (or last) call; each socket and audio callback holds its own call and ignores
  // everything once that call is over, so a late event of an old call cannot touch a new one.
  let phone = null;

  function callUrl() {
    const url = new URL('chat/call', hub);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url;
  }

  async function startCall() {
    if (phone && !phone.over) return;
    const current = {
      over: false,
      connected: false,
      socket: null,
      line: null,
      connectedAt: 0,
      clock: null,
    };
    current.line = CallAudio.line({
      unsupported: 'this browser can only call from a secure (https) page',
      onChunk: chunk => sendAudio(current, chunk),
      onHeard: line => (panel.dataset.heardMs = String(Math.round(line.heardMs))),
    });
    phone = current;
    callLog.replaceChildren();
    keypadKeys.textContent = '';
    showKeypad(false);
    setMuted(current, false);
    panel.dataset.conversationId = '';
    panel.dataset.heardMs = '0';
    panel.dataset.sentMs = '0';
    delete panel.dataset.endReason;
    $('call-controls').hidden = false;
    $('call-after').hidden = true;
    panel.hidden = false;
    callButton.disabled = true;
    setCallStatus(current, 'connecting', 'Connecting…');
    panel.focus();
    // Before the socket: a customer who refuses the microphone has not called anyone.
    const problem = await current.line.open();
    if (problem) endCall(current, 'failed', `Call failed: ${problem}`);
    // Failed, or hung up while the browser was asking for the microphone (which it may have
    // given since).
    if (current.over) release(current);
    else dial(current);
  }

  function dial(current) {
    const socket = new WebSocket(callUrl());
    socket.binaryType = 'arraybuffer';
    current.socket = socket;
    socket.onmessage = event => {
      if (current.over) return;
      const message = current.line.receive(event.data);
      if (!message) return;
      if (message.type === 'call') connected(current, message.conversationId);
      else if (message.type === 'message') callLine(message);
      else if (message.type === 'ended') {
        panel.dataset.endReason = String(message.reason || '');
        endCall(current, 'ended', 'Call ended');
      } else if (message.type === 'error') {
        // Before the call is connected it is the reason it cannot be (the hub closes next);
        // during the call, the hub refusing one message, which ends nothing.
        if (!current.connected) endCall(current, 'failed', `Call failed: ${message.message || 'the call could not start'}`);
        else console.warn('call: the hub said:', message.message);
      }
    };
    // After an `ended` or `error` the call is already over; a close without one is the line
    // dropping (or, before the call was connected, the hub not taking calls).
    socket.onclose = () => {
      if (current.over) return;
      if (current.connected) {
        callLine({ role: 'system', text: 'The line dropped.' });
        endCall(current, 'ended', 'Call ended');
      } else {
        endCall(current, 'failed', 'Call failed: the call could not be connected');
      }
    };
  }

  function connected(current, conversationId) {
    if (current.connected) return;
    current.connected = true;
    current.connectedAt = Date.now();
    panel.dataset.conversationId = conversationId || '';
    setCallStatus(current, 'connected', 'Connected');
    current.clock = setInterval(() => setCallStatus(current, 'connected', 'Connected'), 1000);
  }

  function sendAudio(current, chunk) {
    if (current.over) return;
    if (current.line.send(current.socket, chunk)) panel.dataset.sentMs = String(Math.round(current.line.sentMs));
  }

  function callLine(message) {
    const text = String(message.text || '');
    if (!text) return;
    const role = CALL_ROLES.includes(message.role) ? message.role : 'system';
    const name = message.name || (role === 'agent' ? 'Agent' : role === 'bot' ? 'Assistant' : '');
    let item;
    if (role === 'system') {
      item = make('li', 'notice', text);
    } else if (role === 'customer') {
      item = make('li', 'msg msg--out');
      item.append(bubbleOf(text));
    } else {
      const last = callLog.lastElementChild;
      const continued = last && last.dataset.role === role && last.dataset.name === name;
      item = make('li', continued ? 'msg msg--in msg--cont' : 'msg msg--in');
      if (!continued) {
        item.append(make('span', 'msg__avatar', name.trim().charAt(0).toUpperCase() || '?'));
        item.append(make('span', 'msg__name', name));
      }
      item.append(bubbleOf(text));
    }
    item.dataset.role = role;
    item.dataset.name = message.name || '';
    callLog.append(item);
    callLog.scrollTop = callLog.scrollHeight;
  }

  function bubbleOf(text) {
    const bubble = make('div', 'msg__bubble');
    textInto(bubble, text);
    return bubble;
  }

  // "Connected · 1:05": the running time is left out of what a screen reader hears, which would
  // otherwise announce the status every second.
  function setCallStatus(current, state, text) {
    panel.dataset.state = state;
    callStatus.replaceChildren(text);
    if (state === 'connected') {
      const seconds = Math.floor((Date.now() - current.connectedAt) / 1000);
      const clock = make('span', '', ` · ${duration(seconds)}`);
      clock.setAttribute('aria-hidden', 'true');
      callStatus.append(clock);
    }
  }

  function duration(seconds) {
    const pad = n => String(n).padStart(2, '0');
    const h = Math.floor(seconds / 3600);
    const m = Math.floor(seconds / 60) % 60;
    return h ? `${h}:${pad(m)}:${pad(seconds % 60)}` : `${m}:${pad(seconds % 60)}`;
  }

  // Ends the call once, whoever ended it. The panel stays, showing the transcript, until closed.
  function endCall(current, state, text) {
    if (current.over) return;
    current.over = true;
    // The hub's last words (a goodbye) are already scheduled: let them play out.
    release(current, state === 'ended' ? current.line.tailMs() : 0);
    if (phone !== current) return;
    setCallStatus(current, state, text);
    // Focus on the controls (or on the panel, where the call put it) moves to Close, not to the page.
    const focused = panel.contains(document.activeElement);
    $('call-controls').hidden = true;
    showKeypad(false);
    $('call-after').hidden = false;
    callButton.disabled = false;
    if (focused) $('call-close').focus();
  }

  function release(current, lingerMs = 0) {
    clearInterval(current.clock);
    current.line.close(lingerMs);
    const socket = current.socket;
    if (socket && socket.readyState < WebSocket.CLOSING) socket.close(1000);
  }

  function hangUp() {
    const current = phone;
    if (!current || current.over) return;
    const socket = current.socket;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'hangup' }));
    endCall(current, 'ended', 'Call ended');
  }

  function setMuted(current, muted) {
    current.line.mute(muted);
    muteButton.setAttribute('aria-pressed', String(muted));
  }

  function showKeypad(shown) {
    keypad.hidden = !shown;
    keypadToggle.setAttribute('aria-expanded', String(shown));
  }

  function pressKey(key) {
    const current = phone;
    if (!current || current.over || !current.socket || current.socket.readyState !== WebSocket.OPEN) return;
    current.socket.send(JSON.stringify({ type: 'dtmf', keys: key }));
    keypadKeys.textContent = (keypadKeys.textContent + key).slice(-24);
  }

  callButton.addEventListener('click', startCall);
  $('hangup').addEventListener('click', hangUp);
  muteButton.addEventListener('click', () => phone && !phone.over && setMuted(phone, !phone.line.muted));
  keypadToggle.addEventListener('click', () => showKeypad(keypad.hidden));
  keypad.addEventListener('click', event => {
    const button = event.target.closest('button[data-key]');
    if (button) pressKey(button.dataset.key);
  });
  // With the keypad open, the keyboard's digits, * and # dial too.
  keypad.addEventListener('keydown', event => {
    if (/^[0-9*#]$/.test(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      pressKey(event.key);
    }
  });
  $('call-close').addEventListener('click', () => {
    panel.hidden = true;
    callButton.focus();
  });
  // Leaving or reloading the page (also "New chat") hangs up rather than dropping the line.
  window.addEventListener('pagehide', hangUp);

  start().catch(e => failed(`The chat could not start: ${e.message}`));
})();
