"""The sandbox's own HTML page: conversations, messages and notes, with forms to act as a Chatwoot agent."""

from html import escape

from .channels import KIND_LABELS, inbox_kind, inbox_number

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1f2933;background:#f5f7fa}
section{background:#fff;border:1px solid #d9e2ec;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
h2{font-size:1rem;margin:0 0 .4rem}.meta{color:#52606d}.label{background:#e3f8ff;border-radius:3px;padding:0 .3rem}
.msg{margin:.2rem 0;padding:.3rem .5rem;border-radius:4px;background:#f0f4f8;white-space:pre-wrap}
.in{background:#fffbea}.out{background:#e3fcec}.note{background:#fff3c4;border-left:3px solid #f0b429}
.activity{color:#7b8794;font-style:italic;background:none}form{display:inline-block;margin:.4rem .6rem 0 0}
.wa{border-top:1px dashed #d9e2ec;margin-top:.5rem;padding-top:.3rem}
.sent{background:#dcf8c6}.failed{background:#ffe3e3}
"""
KIND_CLASS = {0: "in", 1: "out", 2: "activity", 3: "out"}


def page_html(sandbox) -> str:
    with sandbox.state.lock:
        store = sandbox.state
        agents = [(u["id"], u["name"]) for u in store.users]
        sections = [conversation_html(store, sandbox.world, c, agents) for c in reversed(store.conversations)]
        account = escape(store.account["name"])
    body = "".join(sections) or "<p>No conversations yet.</p>"
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Chatwoot sandbox — {account}</title>"
        f"<style>{STYLE}</style></head><body><h1>Chatwoot sandbox — {account}</h1>"
        f"<p class='meta'>Agents: {agents_html(store)} · <a href='/sandbox/state'>state (JSON)</a></p>"
        f"{body}</body></html>"
    )


def agents_html(store) -> str:
    return ", ".join(f"{escape(u['name'])} ({u['role']}, {u['availability']})" for u in store.users)


def conversation_html(store, world, conversation: dict, agents: list) -> str:
    display_id = conversation["display_id"]
    contact = store.contact(conversation["contact_id"])
    assignee = store.user(conversation["assignee_id"])
    labels = " ".join(f"<span class='label'>{escape(label)}</span>" for label in conversation["labels"])
    messages = [m for m in store.messages if m["conversation_id"] == display_id]
    heading = (
        f"<h2 id='conversation-{display_id}'>#{display_id} · {escape(contact['name'] or '(no name)')} "
        f"{escape(contact['phone_number'] or '')}</h2><div class='meta'>status <b>{conversation['status']}</b> · "
        f"assignee {escape(assignee['name']) if assignee else '—'} · {labels}</div>"
    )
    inbox = store.inbox(conversation["inbox_id"])
    thread = "".join(message_html(store, m) for m in messages)
    whatsapp = whatsapp_html(world, inbox, display_id)
    return f"<section>{heading}{inbox_html(world, inbox)}{thread}{whatsapp}{forms_html(conversation, agents)}</section>"


def inbox_html(world, inbox: dict) -> str:
    """CHANNELS §1, §5: which inbox, which kind, which business number the lead talks to."""
    number = inbox_number(world, inbox)
    parts = [escape(inbox["name"]), KIND_LABELS[inbox_kind(world, inbox)]] + ([escape(number)] if number else [])
    return f"<div class='meta'>inbox #{inbox['id']} · {' · '.join(parts)}</div>"


def whatsapp_html(world, inbox: dict, display_id: int) -> str:
    """What the lead actually received on WhatsApp from this conversation, and the replies that never reached them."""
    if inbox_kind(world, inbox) not in ("evolution", "whatsapp"):
        return ""
    key = (inbox["id"], display_id)
    sent = [(e, None) for e in world.received if (e["inbox_id"], e["conversation_id"]) == key]
    failed = [(e, e["reason"]) for e in world.failures if (e["inbox_id"], e["conversation_id"]) == key]
    rows = "".join(delivery_html(e, reason) for e, reason in sent + failed) or "<div class='meta'>nothing yet</div>"
    writes = "<input name='content' size='40' placeholder='The lead writes on WhatsApp' required> <button>Send</button>"
    lead_form = form(f"/sandbox/conversations/{display_id}/lead_writes", writes)
    return f"<div class='wa'><b>WhatsApp</b> (what the lead received){rows}{lead_form}</div>"


def delivery_html(entry: dict, reason: str | None) -> str:
    if reason is None:
        route = f"{escape(entry['from_number'])} → {escape(entry['to'])} via {escape(entry['via'])}"
        return f"<div class='msg sent'>✓ {route}: {escape(entry['content'] or '')}</div>"
    text = f"✗ not delivered to {escape(entry['to'] or '?')} via {escape(entry['via'])}: {escape(reason)}"
    return f"<div class='msg failed'>{text}<br>{escape(entry['content'] or '')}</div>"


def message_html(store, message: dict) -> str:
    css = "note" if message["private"] else KIND_CLASS[message["message_type"]]
    who = ""
    if message["sender_type"] == "User":
        who = store.user(message["sender_id"])["name"]
    elif message["sender_type"] == "Contact":
        who = store.contact(message["sender_id"])["name"]
    elif message["sender_type"] == "AgentBot":
        who = store.bot["name"]
    prefix = "🔒 private note · " if message["private"] else ""
    heading = f"<b>{escape(prefix + who)}</b> " if prefix or who else ""
    return f"<div class='msg {css}'>{heading}{escape(message['content'] or '')}</div>"


def forms_html(conversation: dict, agents: list) -> str:
    base = f"/sandbox/conversations/{conversation['display_id']}"
    picker = agent_picker(agents, conversation["assignee_id"])
    status_action = "reopen" if conversation["status"] == "resolved" else "resolve"
    reply = (
        f"{picker} <input name='content' size='50' placeholder='Reply as this agent' required> "
        "<label><input type='checkbox' name='private' value='1'> private note</label> <button>Send</button>"
    )
    contact = "<input name='content' size='30' placeholder='Message from the contact' required> "
    contact += "<button>Send as contact</button>"
    forms = [
        form(f"{base}/reply", reply),
        form(f"{base}/{status_action}", f"<button>{status_action.capitalize()}</button>"),
        form(f"{base}/assign", f"{picker} <button>Assign</button>"),
        form(f"{base}/contact_message", contact),
    ]
    return f"<div>{''.join(forms)}</div>"


def form(action: str, inner: str) -> str:
    return f"<form method='post' action='{action}'>{inner}</form>"


def agent_picker(agents: list, selected_id) -> str:
    options = "".join(
        f"<option value='{i}'{' selected' if i == selected_id else ''}>{escape(n)}</option>" for i, n in agents
    )
    return f"<select name='agent_id'>{options}</select>"


def page_action(sandbox, display_id: int, action: str, form: dict) -> None:
    """Run one agent action from a page form; unknown actions raise KeyError."""
    agent_id = int(form["agent_id"]) if form.get("agent_id") else None
    if action == "reply" and form.get("private"):
        sandbox.add_private_note(display_id, agent_id, form["content"])
    elif action == "reply":
        sandbox.agent_reply(display_id, agent_id, form["content"])
    elif action == "resolve":
        sandbox.resolve(display_id)
    elif action == "reopen":
        sandbox.reopen(display_id)
    elif action == "assign":
        sandbox.assign(display_id, agent_id)
    elif action == "contact_message":
        sandbox.contact_message(display_id, form["content"])
    elif action == "lead_writes":
        lead_writes(sandbox, display_id, form["content"])
    else:
        raise KeyError(action)


def lead_writes(sandbox, display_id: int, content: str) -> None:
    """The conversation's contact writes on WhatsApp to the inbox's number; Evolution or Chatwoot picks the thread."""
    with sandbox.state.lock:
        conversation = sandbox.state.conversation(display_id)
        phone = sandbox.state.contact(conversation["contact_id"])["phone_number"]
        if not phone:
            raise ValueError("the contact has no phone number")
        jid_digits = sandbox.world.jid_digits(phone)
    sandbox.lead_writes(conversation["inbox_id"], phone, content, jid_digits=jid_digits)
