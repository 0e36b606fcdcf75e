"""Application API routes: authentication (A, I), account scope and one small handler per endpoint."""

import copy
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from . import handlers as h
from .handlers import NOT_AUTHORIZED, Call
from .state import ApiError, Store

SIGN_IN = {"errors": ["You need to sign in or sign up before continuing."]}
BOTS_REFUSED = {"error": "Access to this endpoint is not authorized for bots"}
ACCOUNT_PREFIX = "/api/v1/accounts/{account_id}/"
NO_ROUTE = object()  # Rails answers unknown routes with its HTML 404 page


@dataclass
class Route:
    method: str
    path: str  # swagger's path template
    handler: object
    bot: bool = False  # A.2: BOT_ACCESSIBLE_ENDPOINTS
    admin: bool = False

    def __post_init__(self):
        self.regex = re.compile("^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$")


def parse_params(query: str, raw: bytes) -> dict:
    """Rails merges query and JSON body params; `key[]` collects a list."""
    params = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.endswith("[]"):
            params.setdefault(key[:-2], []).append(value)
        else:
            params[key] = value
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError as error:
            raise ApiError(400, {"status": 400, "error": "Bad Request"}) from error
        params.update(body if isinstance(body, dict) else {"_json": body})
    return params


def authenticate(store: Store, headers) -> tuple:
    """A.1: `api_access_token` or `Api-Access-Token`; Authorization: Bearer is not a Chatwoot API token."""
    token = headers.get("api_access_token") or headers.get("api-access-token")
    if not token:
        raise ApiError(401, SIGN_IN)
    owner = store.tokens.get(token)
    if owner is None:
        raise ApiError(401, {"error": "Invalid Access Token"})
    kind, owner_id = owner
    return (kind, store.bot) if kind == "bot" else (kind, store.user(owner_id))


def dispatch(store: Store, method: str, path: str, query: str, raw: bytes, headers) -> tuple[int, object]:
    """Answer one API request as (status, JSON-able body), or (404, NO_ROUTE)."""
    route, args = route_match(method, path)
    if route is None:
        return 404, NO_ROUTE
    try:
        actor = authenticate(store, headers)
        if actor[0] == "bot" and not route.bot:
            raise ApiError(401, BOTS_REFUSED)
        if "account_id" in args and str(args["account_id"]) != str(store.account["id"]):
            raise ApiError(404, {"error": "Resource could not be found"})
        if route.admin and actor[1].get("role") != "administrator":
            raise ApiError(401, NOT_AUTHORIZED)
        call = Call(store, parse_params(query, raw), args, actor)
        with store.transaction():
            return 200, copy.deepcopy(route.handler(call))  # serialised after the lock is released
    except ApiError as error:
        return error.status, error.body


def route_match(method: str, path: str):
    for route in ROUTES:
        match = route.regex.match(path)
        if match and route.method == method:
            return route, match.groupdict()
    return None, {}


A = ACCOUNT_PREFIX
C = A + "conversations/{conversation_id}"
ROUTES = [
    Route("GET", "/api/v1/profile", h.profile_get),
    Route("GET", A + "contacts", h.contacts_index),
    Route("POST", A + "contacts", h.contacts_post),
    Route("GET", A + "contacts/search", h.contacts_search_get),
    Route("POST", A + "contacts/filter", h.contacts_filter_post),
    Route("GET", A + "contacts/{id}", h.contact_get),
    Route("PUT", A + "contacts/{id}", h.contact_put),
    Route("PATCH", A + "contacts/{id}", h.contact_put),
    Route("POST", A + "contacts/{id}/contact_inboxes", h.contact_inboxes_post),
    Route("GET", A + "contacts/{id}/conversations", h.contact_conversations_get),
    Route("POST", A + "conversations", h.conversations_post, bot=True),
    Route("GET", C, h.conversation_get, bot=True),
    Route("POST", C + "/toggle_status", h.toggle_status_post, bot=True),
    Route("GET", C + "/labels", h.labels_get, bot=True),
    Route("POST", C + "/labels", h.labels_post, bot=True),
    Route("POST", C + "/custom_attributes", h.custom_attributes_post, bot=True),
    Route("POST", C + "/assignments", h.assignments_post, bot=True),
    Route("GET", C + "/messages", h.messages_get),
    Route("POST", C + "/messages", h.messages_post, bot=True),
    Route("GET", A + "agents", h.agents_get),
    Route("GET", A + "inbox_members/{inbox_id}", h.inbox_members_get, admin=True),
    Route("GET", A + "assignable_agents", h.assignable_agents_get),
    Route("GET", A + "teams", h.teams_get),
    Route("GET", A + "teams/{team_id}", h.team_get),
    Route("GET", A + "teams/{team_id}/team_members", h.team_members_get),
    Route("GET", A + "inboxes", h.inboxes_get),
    Route("GET", A + "inboxes/{id}", h.inbox_get),
]
