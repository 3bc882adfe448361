// The botbuilder echo bot of the side-by-side benchmark (docs/benchmarks.md, "Switchboard vs
// offline-directline"): npm `botbuilder`'s CloudAdapter, anonymous (no app id), wired like
// Microsoft's samples, answering every message with `Echo: <text>`, the reply the load tool
// (`switchboard-bench run`) waits for. Nothing else: no greeting, no per-activity log, so the
// channels in front of it are what the benchmark compares. compat/node/bot.js is the bot of the
// compatibility tests; it logs every activity and greets, which a benchmark would pay for.
//
// Usage: PORT=3979 node bench/echo-bot.js   (prints `LISTENING <port>` once it accepts)
'use strict';

const express = require('express');
const {
    ActivityHandler,
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    MessageFactory
} = require('botbuilder');

class EchoBot extends ActivityHandler {
    constructor() {
        super();
        this.onMessage(async (context, next) => {
            await context.sendActivity(MessageFactory.text(`Echo: ${context.activity.text || ''}`));
            await next();
        });
    }
}

// Anonymous whatever the caller's environment holds: the benchmark needs no tokens either side.
const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}));
adapter.onTurnError = async (context, error) => {
    process.stderr.write(`TURN_ERROR ${error && error.message ? error.message : error}\n`);
};
const bot = new EchoBot();

const server = express();
server.use(express.json());
server.post('/api/messages', async (req, res, next) => {
    // Express 4 does not catch a rejected handler (compat/node/bot.js explains when it happens).
    try {
        await adapter.process(req, res, (context) => bot.run(context));
    } catch (err) {
        next(err);
    }
});

const listener = server.listen(Number(process.env.PORT || 3979), '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${listener.address().port}\n`);
});
