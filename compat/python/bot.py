"""A real, unmodified Bot Framework SDK bot (PyPI ``botbuilder-core`` + ``botbuilder-integration-aiohttp``,
CloudAdapter) that Switchboard's compatibility tests run against the hub.

It is wired exactly like Microsoft's Python samples; only its turn logic is ours, the same as the
Node bot's (compat/node/bot.js): greetings, context variables, Omnichannel-style escalation and
end-of-conversation tags, and an escalation the hub refuses.

Protocol with the test harness (crates/switchboard/tests/common/compat.rs), on stdout:
  LISTENING <port>   once, when the server accepts connections
  ACTIVITY <json>    for every activity that reaches the turn logic (after the SDK authenticated the
                     request), before the bot does anything else
and ``TURN_ERROR <message>`` on stderr when a turn fails.

Environment: PORT (0 = an ephemeral port) and COMPAT_SILENT=1 (log only, never send). The bot is
anonymous: APP_ID is empty and none of the TO_* / OAUTH_URL / CALLER_ID keys are set, because with
any of them set and an empty APP_ID the Python SDK validates even an absent Authorization header
and fails (docs: botframework-protocol §4.5).
"""

import asyncio
import json
import os
import sys

from aiohttp import web
from aiohttp.web import Request, Response
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.core.integration import aiohttp_error_middleware
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import ChannelAccount, ErrorResponseException

SILENT = os.environ.get("COMPAT_SILENT") == "1"


class DefaultConfig:
    """Bot configuration, as in Microsoft's samples' config.py: anonymous."""

    PORT = int(os.environ.get("PORT", "3978"))
    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


def log(line: str) -> None:
    print(line, flush=True)


def tagged_message(text: str, tags: dict):
    reply = MessageFactory.text(text)
    # Omnichannel convention: `tags` is a JSON *string* inside channelData.
    reply.channel_data = {"tags": json.dumps(tags)}
    return reply


def status_of(error: ErrorResponseException):
    response = error.response
    return getattr(response, "status_code", None) or getattr(response, "status", None)


class CompatBot(ActivityHandler):
    def __init__(self):
        # Context variables from each conversation's `startConversation` event, by conversation id.
        self.context_by_conversation = {}

    async def on_turn(self, turn_context: TurnContext):
        a = turn_context.activity
        log(
            "ACTIVITY "
            + json.dumps(
                {
                    "type": a.type,
                    "id": a.id,
                    "name": a.name,
                    "text": a.text,
                    "channelId": a.channel_id,
                    "serviceUrl": a.service_url,
                }
            )
        )
        await super().on_turn(turn_context)

    async def on_members_added_activity(self, members_added: [ChannelAccount], turn_context: TurnContext):
        if SILENT:
            return
        for member in members_added:
            if member.id != turn_context.activity.recipient.id:
                await turn_context.send_activity(MessageFactory.text("Hello from the python bot"))

    async def on_event(self, turn_context: TurnContext):
        a = turn_context.activity
        if a.name == "startConversation":
            self.context_by_conversation[a.conversation.id if a.conversation else None] = a.value

    async def on_message_activity(self, turn_context: TurnContext):
        if SILENT:
            return
        text = turn_context.activity.text or ""
        lower = text.lower()
        if "credit card" in lower:
            await turn_context.send_activity(
                tagged_message(
                    "Customer asks about a credit card limit",
                    {"type": "Escalate", "context": {"BotHandoffTopic": "CreditCard"}},
                )
            )
        elif "bad topic" in lower:
            try:
                await turn_context.send_activity(
                    tagged_message(
                        "Customer asks about a credit card limit",
                        {"type": "Escalate", "context": {"NoSuchVariable": "x"}},
                    )
                )
            except ErrorResponseException as error:
                await turn_context.send_activity(MessageFactory.text(f"escalation refused: {status_of(error)}"))
        elif lower.strip() == "bye":
            await turn_context.send_activity(tagged_message("Goodbye!", {"type": "EndConversation", "context": {}}))
        elif lower.strip() == "context?":
            conversation = turn_context.activity.conversation
            remembered = self.context_by_conversation.get(conversation.id if conversation else None)
            await turn_context.send_activity(
                MessageFactory.text("Context: " + json.dumps(remembered if remembered is not None else {}))
            )
        else:
            await turn_context.send_activity(MessageFactory.text(f"Echo: {text}"))


CONFIG = DefaultConfig()

ADAPTER = CloudAdapter(ConfigurationBotFrameworkAuthentication(CONFIG))


async def on_error(context: TurnContext, error: Exception):
    print(f"TURN_ERROR {error}", file=sys.stderr, flush=True)


ADAPTER.on_turn_error = on_error

BOT = CompatBot()


async def messages(req: Request) -> Response:
    return await ADAPTER.process(req, BOT)


APP = web.Application(middlewares=[aiohttp_error_middleware])
APP.router.add_post("/api/messages", messages)


async def main():
    runner = web.AppRunner(APP)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", CONFIG.PORT)
    await site.start()
    port = runner.addresses[0][1]
    log(f"LISTENING {port}")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
