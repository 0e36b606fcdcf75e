"""The sandbox's own HTML page: conversations, messages and notes, with forms to act as a Chatwoot agent."""

from html import escape

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1f2933;background:#f5f7fa}
section{background:#fff;border:1px solid #d9e2ec;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
h2{font-size:1rem;margin:0 0 .4rem}.meta{color:#52606d}.label{background:#e3f8ff;border-radius:3px;padding:0 .3rem}
.msg{margin:.2rem 0;padding:.3rem .5rem;border-radius:4px;background:#f0f4f8;white-space:pre-wrap}
.in{background:#fffbea}.out{background:#e3fcec}.note{background:#fff3c4;border-left:3px solid #f0b429}
.activity{color:#7b8794;font-style:italic;background:none}form{display:inline-block;margin:.4rem .6rem 0 0}
"""
KIND_CLASS = {0: "in", 1: "out", 2: "activity", 3: "out"}


def page_html(sandbox) -> str:
    with sandbox.state.lock:
        store = sandbox.state
        agents = [(u["id"], u["name"]) for u in store.users]
        sections = [conversation_html(store, c, agents) for c in reversed(store.conversations)]
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


def conversation_html(store, conversation: dict, agents: list) -> str:
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
    thread = "".join(message_html(store, m) for m in messages)
    return f"<section>{heading}{thread}{forms_html(conversation, agents)}</section>"


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
    else:
        raise KeyError(action)
