// Drives the hub's Connector API with the real, unmodified generated client of npm
// `botframework-connector` 4.23 — the ConnectorClient that botbuilder's CloudAdapter builds for
// every bot turn — as an anonymous bot would: send, update, the member queries, upload and read
// back an attachment, delete, and one operation the hub refuses. It proves that the client
// accepts the hub's statuses and bodies (a 204 or an unexpected shape would throw).
//
// Protocol with the test (crates/switchboard/tests/connector_ops.rs), on stdout:
//   RESULT <name> <json>    once per operation, in order
//   DONE                    when every operation ran
// An operation that throws unexpectedly prints `FAILED <name> <statusCode> <message>` on stderr
// and exits with status 1.
//
// Environment: SERVICE_URL (the hub's serviceUrl), CONVERSATION_ID (a conversation the bot
// named BOT_ID owns).
'use strict';

const { ConnectorClient, MicrosoftAppCredentials } = require('botframework-connector');

function result(name, value) {
    process.stdout.write(`RESULT ${name} ${JSON.stringify(value)}\n`);
}

async function step(name, run) {
    try {
        return await run();
    } catch (err) {
        process.stderr.write(`FAILED ${name} ${err.statusCode} ${err.message}\n`);
        process.exit(1);
    }
}

async function readAll(stream) {
    const chunks = [];
    for await (const chunk of stream) {
        chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
}

async function main() {
    // No app id: the credentials add no Authorization header (anonymous mode).
    const client = new ConnectorClient(new MicrosoftAppCredentials('', ''), { baseUri: process.env.SERVICE_URL });
    const conversations = client.conversations;
    const conversation = process.env.CONVERSATION_ID;
    const bot = { id: process.env.BOT_ID, name: 'Compat' };
    const message = (text) => ({ type: 'message', text, from: bot, conversation: { id: conversation } });

    const sent = await step('send', () => conversations.sendToConversation(conversation, message('v1')));
    result('send', { id: sent.id });

    const updated = await step('update', () =>
        conversations.updateActivity(conversation, sent.id, { ...message('v2'), id: sent.id })
    );
    result('update', { id: updated.id });

    const members = await step('members', () => conversations.getConversationMembers(conversation));
    result('members', members.map((m) => ({ id: m.id, name: m.name, role: m.role })));

    const member = await step('member', () => conversations.getConversationMember(conversation, bot.id));
    result('member', { id: member.id, name: member.name });

    const first = await step('paged', () => conversations.getConversationPagedMembers(conversation, { pageSize: 1 }));
    const rest = await step('paged next', () =>
        conversations.getConversationPagedMembers(conversation, {
            pageSize: 1,
            continuationToken: first.continuationToken
        })
    );
    result('paged', [
        { ids: first.members.map((m) => m.id), token: first.continuationToken ?? null },
        { ids: rest.members.map((m) => m.id), token: rest.continuationToken ?? null }
    ]);

    const ofActivity = await step('activity members', () => conversations.getActivityMembers(conversation, sent.id));
    result('activity members', ofActivity.map((m) => m.id));

    const original = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
    const thumbnail = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1]);
    const uploaded = await step('upload', () =>
        conversations.uploadAttachment(conversation, {
            type: 'application/octet-stream',
            name: 'data.bin',
            originalBase64: original,
            thumbnailBase64: thumbnail
        })
    );
    const info = await step('attachment info', () => client.attachments.getAttachmentInfo(uploaded.id));
    const view = await step('attachment view', () => client.attachments.getAttachment(uploaded.id, 'original'));
    const bytes = await readAll(view.readableStreamBody);
    result('attachment', {
        info: { name: info.name, type: info.type, views: info.views },
        sameBytes: Buffer.compare(bytes, Buffer.from(original)) === 0
    });

    await step('delete', () => conversations.deleteActivity(conversation, sent.id));
    result('delete', { ok: true });

    try {
        await conversations.createConversation({ bot, members: [{ id: 'someone' }], isGroup: false });
        result('create', { accepted: true });
    } catch (err) {
        // The client reads the Connector error body into the RestError it throws.
        result('create', { statusCode: err.statusCode, code: err.code ?? null, message: err.message });
    }

    process.stdout.write('DONE\n');
}

main().catch((err) => {
    process.stderr.write(`FAILED main ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
});
