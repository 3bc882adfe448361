// A scripted Direct Line 3.0 client built on Microsoft's unmodified `botframework-directlinejs`
// (pinned in ../package.json), for the compatibility tests. It plays what a Web Chat page does
// over the wire: start or resume a conversation, receive over a WebSocket or by polling, post
// messages with `channelData.clientActivityID` and wait for their echo. See ../README.md.
//
// Environment: DL_DOMAIN, DL_TOKEN or DL_SECRET, DL_MODE (websocket | polling),
// DL_CONVERSATION_ID, DL_WATERMARK, DL_USER_ID, DL_USER_NAME, DL_SCRIPT, DL_TOTAL_TIMEOUT_MS.
//
// stdout, one line per event: STATUS <n>, CONVERSATION <id>, RECEIVED <json>, POSTED <id>,
// ECHO <id>, and at the end WATERMARK <w> (when known), then DONE (exit 0) or FAIL <reason>
// (exit 1).

'use strict';

// directlinejs does its REST calls with rxjs 5's Observable.ajax, which needs a browser-style
// XMLHttpRequest.
global.XMLHttpRequest = require('xhr2');
const WS = require('ws');
// directlinejs 0.15.x constructs sockets with `options.WebSocket`, but decides whether to use a
// WebSocket at all from the *global* `WebSocket` (`typeof WebSocket !== 'undefined'`). Node 20
// has none, and without one a `webSocket: true` client silently polls instead.
if (typeof global.WebSocket === 'undefined') {
  global.WebSocket = WS;
}
const { DirectLine, ConnectionStatus } = require('botframework-directlinejs');

const DEFAULT_STEP_TIMEOUT_MS = 20000;
const TERMINAL = new Set([ConnectionStatus.FailedToConnect, ConnectionStatus.Ended]);

let finished = false;
let directLine;
let activitySubscription;
let statusSubscription;

function out(line) {
  process.stdout.write(`${line}\n`);
}

function finish(code, lastLine) {
  if (finished) return;
  finished = true;
  if (activitySubscription) activitySubscription.unsubscribe();
  if (statusSubscription) statusSubscription.unsubscribe();
  // stdout is a pipe: let the last line drain before exiting (the token refresh timer of a
  // token-based DirectLine would otherwise keep the process alive for 15 minutes).
  process.stdout.write(`${lastLine}\n`, () => process.exit(code));
}

function fail(reason) {
  finish(1, `FAIL ${String(reason).replace(/\s+/g, ' ')}`);
}

function describeError(error) {
  if (!error) return 'unknown error';
  if (error.status !== undefined) {
    // An rxjs AjaxError: `response` is the parsed JSON body (an ErrorResponse, if any).
    const body = error.response ? ` ${JSON.stringify(error.response)}` : '';
    return `HTTP ${error.status}${body}`;
  }
  return error.message || String(error);
}

process.on('uncaughtException', e => fail(`uncaught exception: ${e && e.stack ? e.stack : e}`));
process.on('unhandledRejection', e => fail(`unhandled rejection: ${e && e.stack ? e.stack : e}`));

function config() {
  const env = process.env;
  if (!env.DL_DOMAIN) throw new Error('DL_DOMAIN is not set');
  if (!env.DL_TOKEN === !env.DL_SECRET) throw new Error('set exactly one of DL_TOKEN and DL_SECRET');
  const mode = env.DL_MODE || 'websocket';
  if (mode !== 'websocket' && mode !== 'polling') throw new Error(`DL_MODE must be websocket or polling, not ${mode}`);
  let script;
  try {
    script = JSON.parse(env.DL_SCRIPT || '[]');
  } catch (e) {
    throw new Error(`DL_SCRIPT is not JSON: ${e.message}`);
  }
  if (!Array.isArray(script)) throw new Error('DL_SCRIPT must be a JSON array');
  const totalTimeout = Number(env.DL_TOTAL_TIMEOUT_MS || 60000);
  return {
    domain: env.DL_DOMAIN,
    token: env.DL_TOKEN,
    secret: env.DL_SECRET,
    mode,
    conversationId: env.DL_CONVERSATION_ID || undefined,
    watermark: env.DL_WATERMARK || undefined,
    userId: env.DL_USER_ID || 'dl_compat_user',
    userName: env.DL_USER_NAME || undefined,
    script,
    totalTimeout: Number.isFinite(totalTimeout) && totalTimeout > 0 ? totalTimeout : 60000,
  };
}

// Everything received, in order. `used` marks an activity that already satisfied an expect step.
const inbox = [];
const statuses = [];
let endedByScript = false;
// Set when activity$ errors on its own (for example, reconnecting gave up).
let streamError = null;
// Called (and cleared) on every new activity, status or failure; each waiter re-checks its state.
let wakers = [];

function wake() {
  const now = wakers;
  wakers = [];
  now.forEach(w => w());
}

// Resolves with `check()`'s first truthy result, re-checked on every event; rejects after
// `timeoutMs`, or when the connection reaches a terminal status the script did not ask for.
function waitFor(what, check, timeoutMs) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const attempt = () => {
      // A timed-out wait must not claim an activity a later step could use.
      if (settled) return;
      let result;
      try {
        result = check();
      } catch (e) {
        clearTimeout(timer);
        return reject(e);
      }
      if (result) {
        clearTimeout(timer);
        return resolve(result);
      }
      if (streamError) {
        clearTimeout(timer);
        return reject(new Error(`activity$ failed (${streamError}) while waiting for ${what}`));
      }
      const status = statuses[statuses.length - 1];
      if (TERMINAL.has(status) && !endedByScript) {
        clearTimeout(timer);
        return reject(new Error(`connection is ${ConnectionStatus[status]} (${status}) while waiting for ${what}`));
      }
      wakers.push(attempt);
    };
    attempt();
  });
}

// clientActivityIDs of the messages this client sent. Their echoes never satisfy an expect, even
// when the service rewrote `from.id` (for example, to the user id bound into a token).
const sentIds = new Set();

function fromOthers(entry, userId) {
  const activity = entry.activity;
  if (entry.used) return false;
  if (activity.from && activity.from.id === userId) return false;
  return !(activity.channelData && sentIds.has(activity.channelData.clientActivityID));
}

function claim(pred, userId) {
  return () => {
    const entry = inbox.find(e => fromOthers(e, userId) && pred(e.activity));
    if (!entry) return null;
    entry.used = true;
    return entry.activity;
  };
}

let sent = 0;

async function runStep(step, cfg) {
  const timeoutMs = step.timeout_ms !== undefined ? Number(step.timeout_ms) : DEFAULT_STEP_TIMEOUT_MS;
  if (step.expect !== undefined) {
    const text = String(step.expect);
    await waitFor(`an activity with text ${JSON.stringify(text)}`, claim(a => a.text === text, cfg.userId), timeoutMs);
  } else if (step.expectPrefix !== undefined) {
    const prefix = String(step.expectPrefix);
    await waitFor(
      `an activity whose text starts with ${JSON.stringify(prefix)}`,
      claim(a => typeof a.text === 'string' && a.text.startsWith(prefix), cfg.userId),
      timeoutMs
    );
  } else if (step.expectStatus !== undefined) {
    const wanted = Number(step.expectStatus);
    await waitFor(`connection status ${wanted}`, () => statuses.includes(wanted), timeoutMs);
  } else if (step.send !== undefined) {
    sent += 1;
    const clientActivityID = `dlcompat-${process.pid}-${Date.now()}-${sent}`;
    sentIds.add(clientActivityID);
    const from = { id: cfg.userId };
    if (cfg.userName) from.name = cfg.userName;
    const activity = { type: 'message', from, text: String(step.send), channelData: { clientActivityID } };
    const id = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`postActivity gave no id within ${timeoutMs} ms`)), timeoutMs);
      directLine.postActivity(activity).subscribe(
        posted => {
          clearTimeout(timer);
          resolve(posted);
        },
        error => {
          clearTimeout(timer);
          reject(new Error(`postActivity failed: ${describeError(error)}`));
        }
      );
    });
    // directlinejs turns a 5xx (and a 403) into the id "retry" instead of an error.
    if (id === 'retry') throw new Error(`postActivity returned "retry" for ${JSON.stringify(step.send)}`);
    if (!id) throw new Error(`postActivity returned no id for ${JSON.stringify(step.send)}`);
    out(`POSTED ${id}`);
    // Web Chat's rule for "sent": an incoming activity with the same clientActivityID and an id.
    const echo = await waitFor(
      `the echo of clientActivityID ${clientActivityID}`,
      () =>
        inbox
          .map(e => e.activity)
          .find(a => a.id && a.channelData && a.channelData.clientActivityID === clientActivityID),
      timeoutMs
    );
    out(`ECHO ${echo.id}`);
  } else if (step.sleep !== undefined) {
    await new Promise(resolve => setTimeout(resolve, Number(step.sleep)));
  } else if (step.end) {
    endedByScript = true;
    directLine.end();
  } else {
    throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
}

function summary(activity) {
  const from = activity.from ? { id: activity.from.id, name: activity.from.name, role: activity.from.role } : undefined;
  return {
    id: activity.id,
    type: activity.type,
    text: activity.text,
    from,
    replyToId: activity.replyToId,
    name: activity.name,
    value: activity.value,
    timestamp: activity.timestamp,
    attachments: activity.attachments,
    channelData: activity.channelData,
    // directlinejs stores an ActivitySet's watermark before it emits the set's activities.
    watermark: directLine.watermark || undefined,
  };
}

async function main() {
  const cfg = config();
  setTimeout(() => fail(`overall timeout of ${cfg.totalTimeout} ms`), cfg.totalTimeout).unref();

  const options = { domain: cfg.domain, webSocket: cfg.mode === 'websocket', WebSocket: WS };
  if (cfg.token) options.token = cfg.token;
  if (cfg.secret) options.secret = cfg.secret;
  if (cfg.mode === 'polling') options.pollingInterval = 200;
  if (cfg.conversationId) options.conversationId = cfg.conversationId;
  if (cfg.watermark) options.watermark = cfg.watermark;
  directLine = new DirectLine(options);
  if (directLine.webSocket !== (cfg.mode === 'websocket')) {
    throw new Error(`directlinejs chose webSocket=${directLine.webSocket} for DL_MODE=${cfg.mode}`);
  }

  let conversationPrinted = false;
  statusSubscription = directLine.connectionStatus$.subscribe(status => {
    if (statuses[statuses.length - 1] !== status) out(`STATUS ${status}`);
    statuses.push(status);
    if (status === ConnectionStatus.Online && !conversationPrinted && directLine.conversationId) {
      conversationPrinted = true;
      out(`CONVERSATION ${directLine.conversationId}`);
    }
    wake();
  });

  activitySubscription = directLine.activity$.subscribe(
    activity => {
      out(`RECEIVED ${JSON.stringify(summary(activity))}`);
      inbox.push({ activity, used: false });
      wake();
    },
    error => {
      // After end() (ours or the status machine's), activity$ errors with "conversation ended".
      if (endedByScript) return;
      streamError = describeError(error);
      process.stderr.write(`activity$ error: ${streamError}\n`);
      wake();
    },
    () => process.stderr.write('activity$ completed\n')
  );

  for (const step of cfg.script) {
    await runStep(step, cfg);
  }
  if (directLine.watermark) out(`WATERMARK ${directLine.watermark}`);
  finish(0, 'DONE');
}

main().catch(e => fail(e && e.message ? e.message : e));
