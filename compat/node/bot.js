// A real, unmodified Bot Framework SDK bot (npm `botbuilder`, CloudAdapter) that Switchboard's
// compatibility tests run against the hub. It is wired exactly like Microsoft's samples; only
// its turn logic is ours, chosen to exercise the hub: greetings, context variables, Omnichannel
// style escalation and end-of-conversation tags, and an escalation the hub refuses.
//
// Protocol with the test harness (crates/switchboard/tests/common/compat.rs), on stdout:
//   LISTENING <port>        once, when the server accepts connections
//   ACTIVITY <json>         for every activity that reaches the turn logic, i.e. after the SDK
//                           authenticated the request, before the bot does anything else
// and `TURN_ERROR <message>` on stderr when a turn fails.
//
// Environment: PORT (0 = an ephemeral port), COMPAT_SILENT=1 (log only, never send: used in
// signed mode, where the bot cannot get an Entra token offline), and the SDK's own keys
// (MicrosoftAppId, MicrosoftAppPassword, ToBotFromChannelTokenIssuer, ...), read by
// ConfigurationBotFrameworkAuthentication from process.env unchanged. No MicrosoftAppId means
// anonymous.
'use strict';

const express = require('express');
const {
    ActivityHandler,
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    MessageFactory
} = require('botbuilder');

const SILENT = process.env.COMPAT_SILENT === '1';

function log(line) {
    process.stdout.write(line + '\n');
}

function taggedMessage(text, tags) {
    const reply = MessageFactory.text(text);
    // Omnichannel convention: `tags` is a JSON *string* inside channelData.
    reply.channelData = { tags: JSON.stringify(tags) };
    return reply;
}

class CompatBot extends ActivityHandler {
    constructor() {
        super();
        // Context variables from each conversation's `startConversation` event, by conversation id.
        this.contextByConversation = new Map();

        this.onTurn(async (context, next) => {
            const a = context.activity;
            log('ACTIVITY ' + JSON.stringify({
                type: a.type,
                id: a.id,
                name: a.name,
                text: a.text,
                channelId: a.channelId,
                serviceUrl: a.serviceUrl
            }));
            await next();
        });

        this.onMembersAdded(async (context, next) => {
            if (!SILENT) {
                for (const member of context.activity.membersAdded) {
                    if (member.id !== context.activity.recipient.id) {
                        await context.sendActivity(MessageFactory.text('Hello from the node bot'));
                    }
                }
            }
            await next();
        });

        this.onEvent(async (context, next) => {
            const a = context.activity;
            if (a.name === 'startConversation') {
                this.contextByConversation.set(a.conversation && a.conversation.id, a.value);
            }
            await next();
        });

        this.onMessage(async (context, next) => {
            if (!SILENT) {
                await this.answer(context);
            }
            await next();
        });
    }

    async answer(context) {
        const text = context.activity.text || '';
        const lower = text.toLowerCase();
        if (lower.includes('credit card')) {
            await context.sendActivity(taggedMessage('Customer asks about a credit card limit', {
                type: 'Escalate',
                context: { BotHandoffTopic: 'CreditCard' }
            }));
        } else if (lower.includes('bad topic')) {
            try {
                await context.sendActivity(taggedMessage('Customer asks about a credit card limit', {
                    type: 'Escalate',
                    context: { NoSuchVariable: 'x' }
                }));
            } catch (err) {
                await context.sendActivity(MessageFactory.text(`escalation refused: ${err.statusCode}`));
            }
        } else if (lower.trim() === 'bye') {
            await context.sendActivity(taggedMessage('Goodbye!', { type: 'EndConversation', context: {} }));
        } else if (lower.trim() === 'context?') {
            const id = context.activity.conversation && context.activity.conversation.id;
            const remembered = this.contextByConversation.get(id);
            await context.sendActivity(MessageFactory.text('Context: ' + JSON.stringify(remembered ?? {})));
        } else {
            await context.sendActivity(MessageFactory.text(`Echo: ${text}`));
        }
    }
}

const botFrameworkAuthentication = new ConfigurationBotFrameworkAuthentication(process.env);
const adapter = new CloudAdapter(botFrameworkAuthentication);

adapter.onTurnError = async (context, error) => {
    process.stderr.write(`TURN_ERROR ${error && error.message ? error.message : error}\n`);
};

const bot = new CompatBot();

const server = express();
server.use(express.json());
server.post('/api/messages', async (req, res, next) => {
    // Microsoft's samples use restify, which turns a rejected handler promise into a 500. Express 4
    // does not, and an activity without `type` makes `adapter.process` reject (botbuilder 4.23.3's
    // validateAndFixActivity throws before its own 400 check), which would end the process.
    try {
        await adapter.process(req, res, (context) => bot.run(context));
    } catch (err) {
        next(err);
    }
});

const listener = server.listen(Number(process.env.PORT || 3978), '127.0.0.1', () => {
    log(`LISTENING ${listener.address().port}`);
});
