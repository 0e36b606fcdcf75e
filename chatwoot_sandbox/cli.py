"""Serve the sandbox until interrupted: `python -m chatwoot_sandbox --port 3000` (or `manage.py chatwoot_sandbox`)."""

import argparse
import signal
import threading

from .channels import KIND_LABELS, inbox_kind, inbox_number
from .faults import KINDS
from .sandbox import Sandbox
from .state import PHONE_FILTER_RULES


def parser_build(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="chatwoot_sandbox", description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--token", default="sandbox-token", help="API token of the administrator Ana Costa.")
    parser.add_argument("--account-id", type=int, default=1)
    parser.add_argument("--inbox-id", type=int, default=1)
    parser.add_argument("--latency-ms", type=int, default=0, help="Added to every /api/ request.")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="Share of /api/ requests that fail, 0..1.")
    parser.add_argument("--faults", default=",".join(KINDS), help="Comma-separated fault kinds to draw from.")
    parser.add_argument("--fault-seed", type=int, default=None)
    parser.add_argument("--rate-limit", type=int, default=None, help="Requests per minute before 429.")
    parser.add_argument("--webhook-url", default=None, help="Where to post signed account webhooks.")
    parser.add_argument("--webhook-secret", default=None, help="Webhook secret (default: a random one).")
    parser.add_argument(
        "--webhook-events", default=None, help="Comma-separated events the webhook subscribes to (default: Chatwoot's)."
    )
    parser.add_argument(
        "--evolution-inbox", action="append", metavar="INSTANCE=+55NUMBER", help=EVOLUTION_HELP, default=None
    )
    parser.add_argument("--whatsapp-inbox", action="append", metavar="+55NUMBER", help=WHATSAPP_HELP, default=None)
    parser.add_argument("--phone-filter", choices=PHONE_FILTER_RULES, default="v4.15", help=PHONE_FILTER_HELP)
    parser.add_argument(
        "--whatsapp-everyone",
        action="store_true",
        help="Treat every number of 10 to 15 digits as on WhatsApp (a demo's leads never wrote to the sandbox).",
    )
    return parser


DESCRIPTION = "Serve a faithful in-memory Chatwoot v4.15.1 API (contacts, conversations, messages, agents, webhooks)."
EVOLUTION_HELP = (
    "Add an API inbox served by an in-process Evolution API instance for that WhatsApp number (repeatable)."
)
WHATSAPP_HELP = "Add a native WhatsApp (Cloud API) inbox for that business number (repeatable)."
PHONE_FILTER_HELP = "How contacts/filter reads a phone value: v4.15 (strip '+', add one) or legacy (only add '+')."


def sandbox_from_options(options: dict) -> Sandbox:
    """The sandbox the options describe; ValueError for fault kinds it does not know."""
    sandbox = Sandbox(
        token=options["token"],
        account_id=options["account_id"],
        inbox_id=options["inbox_id"],
        latency_ms=options["latency_ms"],
        webhook_url=options["webhook_url"],
        webhook_secret=options["webhook_secret"],
        rate_limit_per_minute=options["rate_limit"],
        phone_filter=options.get("phone_filter") or "v4.15",
        webhook_events=[e.strip() for e in events.split(",")] if (events := options.get("webhook_events")) else None,
    )
    kinds = tuple(k.strip() for k in options["faults"].split(",") if k.strip())
    sandbox.set_faults(rate=options["fault_rate"], kinds=kinds, seed=options["fault_seed"])
    for value in options.get("evolution_inbox") or ():
        instance, equals, number = value.partition("=")
        if not equals:
            raise ValueError(f"--evolution-inbox takes INSTANCE=+55NUMBER; got {value!r}")
        sandbox.add_evolution_inbox(instance.strip(), number.strip())
    for number in options.get("whatsapp_inbox") or ():
        sandbox.add_whatsapp_inbox(number.strip())
    sandbox.world.everyone = bool(options.get("whatsapp_everyone"))
    return sandbox


def sandbox_summary(sandbox: Sandbox) -> str:
    account_id = sandbox.state.account["id"]
    lines = [
        f"Chatwoot sandbox listening on {sandbox.base_url} (page: {sandbox.base_url}/)",
        f"API base: {sandbox.base_url}/api/v1/accounts/{account_id}/  header: api_access_token: {sandbox.token}",
        "Agent tokens: " + ", ".join(f"{i}={t}" for i, t in sandbox.agent_tokens.items()),
        f"Bot token: {sandbox.bot_token}",
    ]
    if sandbox.webhooks:
        lines.append(f"Webhooks → {sandbox.webhooks.url} (secret: {sandbox.webhook_secret})")
    lines += [f"Inbox {inbox['id']}: {inbox_line(sandbox, inbox)}" for inbox in sandbox.state.inboxes]
    if sandbox.evolution_user_id is not None:
        user = sandbox.state.user(sandbox.evolution_user_id)
        lines.append(f"Evolution integration user {user['id']} (token {user['access_token']})")
    return "\n".join(lines)


def inbox_line(sandbox: Sandbox, inbox: dict) -> str:
    kind = KIND_LABELS[inbox_kind(sandbox.world, inbox)]
    number = inbox_number(sandbox.world, inbox)
    webhook = inbox["channel"].get("webhook_url")
    return f"{inbox['name']} ({kind}{', ' + number if number else ''}{', webhook ' + webhook if webhook else ''})"


def serve(sandbox: Sandbox, *, host: str, port: int, say=print) -> None:
    """Listen until Ctrl-C or SIGTERM (how `make run` stops it); OSError when the port cannot be taken."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as Ctrl-C does: the finally below runs
    sandbox.start(host=host, port=port)
    say(sandbox_summary(sandbox))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        say("Stopping the Chatwoot sandbox.")
    finally:
        sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    parser = parser_build()
    options = vars(parser.parse_args(argv))
    try:
        sandbox = sandbox_from_options(options)
        serve(sandbox, host=options["host"], port=options["port"])
    except (ValueError, OSError) as error:
        parser.exit(1, f"chatwoot_sandbox: {error}\n")
