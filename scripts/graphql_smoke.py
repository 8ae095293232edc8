"""Drives /graphql of two running instances that share one database and one event bus with a
client written by others: Python's `gql`, its requests transport for queries and mutations and
its websockets transport speaking graphql-transport-ws for subscriptions.

Usage: graphql_smoke.py BASE_URL_ONE BASE_URL_TWO ADMIN_EMAIL ADMIN_PASSWORD

Checks, each on what the servers sent:
  1. a query answers (stats, categories) and a bad argument is an error naming its field;
  2. mutations create businesses, sites and flows for the admin, and a stranger's mutation on
     another's business is refused with extensions.code FORBIDDEN;
  3. a write on instance one reaches subscriptions on instance two: a stranger's sees the
     anonymous offer redacted exactly as GET /api/v1/matches/{id} shows it to them (no id of the
     hidden business, site or flow anywhere in what it received), the admin's sees it whole;
  4. credentials in connection_init that are not valid are refused;
  5. the same write reaches the stranger's WebSocket (`websockets`, GET /api/v1/ws) and SSE
     (the standard library's HTTP client, GET /api/v1/events) feeds on instance two, each event
     equal to the GraphQL one and to the REST view, with no hidden id in what either received.
"""

import asyncio
import http.client
import json
import sys
import threading
import urllib.parse
import urllib.request
import uuid

import websockets

from gql import Client, gql
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.requests import RequestsHTTPTransport
from gql.transport.websockets import WebsocketsTransport

ONE = sys.argv[1].rstrip("/")
TWO = sys.argv[2].rstrip("/")
WAIT = 15


def rest(base, method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(request, data, timeout=WAIT) as response:
        return json.loads(response.read() or b"null")


def login(base, email, password):
    return rest(base, "POST", "/api/v1/auth/login", {"email": email, "password": password})["access_token"]


def http_client(base, token=None):
    headers = {"authorization": "Bearer " + token} if token else {}
    transport = RequestsHTTPTransport(url=base + "/graphql", headers=headers, timeout=WAIT)
    return Client(transport=transport, fetch_schema_from_transport=False)


def ws_client(base, token=None):
    transport = WebsocketsTransport(
        url=base.replace("http://", "ws://", 1) + "/graphql",
        init_payload={"authorization": "Bearer " + token} if token else {},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        ack_timeout=WAIT,
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


def refused_with(client, query, variables, code):
    try:
        client.execute(gql(query), variable_values=variables)
    except TransportQueryError as error:
        codes = [e.get("extensions", {}).get("code") for e in error.errors or []]
        assert code in codes, (code, error.errors)
        return error.errors[0]
    raise AssertionError(f"expected {code}")


FEED = gql("""
subscription Heat {
  feed(category: "heat") { id type data match { id offerBusinessId offerBusiness { name } redacted } }
}
""")


async def first_proposal(client, found):
    """Reads the subscription until a match.proposed event; every event's text goes to `found`."""
    async with client as session:
        async for result in session.subscribe(FEED):
            event = result["feed"]
            found.append(json.dumps(event))
            if event["type"] == "match.proposed":
                return event


class SseReader(threading.Thread):
    """Reads the SSE feed of `base` in the background; `text` is everything received."""

    def __init__(self, base, path, token):
        super().__init__(daemon=True)
        parts = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        self.response = self.connection.getresponse()
        assert self.response.status == 200, (self.response.status, self.response.read())
        self.text, self.proposed = [], None
        self.done = threading.Event()

    def run(self):
        event = {}
        try:
            for line in self.response:
                line = line.decode().rstrip("\n")
                self.text.append(line)
                if line == "":
                    if event.get("event") == "match.proposed" and self.proposed is None:
                        self.proposed = event
                        self.done.set()
                    event = {}
                elif not line.startswith(":"):
                    field, _, value = line.partition(":")
                    event[field] = value[1:] if value.startswith(" ") else value
        except Exception:
            pass


async def websocket_proposal(base, token, transcript):
    """Subscribes to heat on `base`'s WebSocket feed with `token`; the first match.proposed."""
    async with websockets.connect(base.replace("http://", "ws://", 1) + "/api/v1/ws") as socket:
        async def next_message(predicate):
            while True:
                text = await asyncio.wait_for(socket.recv(), WAIT)
                transcript.append(text)
                message = json.loads(text)
                if predicate(message):
                    return message
        await next_message(lambda m: m["type"] == "welcome")
        await socket.send(json.dumps({"type": "auth", "token": token}))
        await next_message(lambda m: m["type"] == "authenticated")
        await socket.send(json.dumps({"type": "subscribe", "id": "heat", "category": "heat"}))
        await next_message(lambda m: m["type"] == "subscribed")
        return await next_message(lambda m: m["type"] == "match.proposed")


async def main():
    admin_token = login(ONE, sys.argv[3], sys.argv[4])
    stranger_email = f"stranger-{uuid.uuid4().hex[:8]}@symbiont.test"
    rest(ONE, "POST", "/api/v1/auth/register", {"email": stranger_email, "password": "stranger-password"})
    stranger_token = login(TWO, stranger_email, "stranger-password")
    admin = http_client(ONE, admin_token)
    stranger = http_client(TWO, stranger_token)

    # 1. A query; a bad argument names its field.
    answer = stranger.execute(gql('{ stats { businesses liveMatches } categories(group: "heat") { code group } }'))
    assert all(c["group"] == "heat" for c in answer["categories"]) and answer["categories"], answer
    error = refused_with(stranger, "{ businesses(first: 0) { nodes { id } } }", {}, "BAD_USER_INPUT")
    assert error["extensions"]["field"] == "first", error

    # 2. Mutations, allowed and refused.
    create_business = gql("mutation($input: JSON!) { createBusiness(input: $input) { id name } }")
    create_site = gql("mutation($b: UUID!, $input: JSON!) { createSite(businessId: $b, input: $input) { id } }")
    create_flow = gql("mutation($input: JSON!) { createFlow(input: $input) { id anonymous } }")
    hidden = admin.execute(create_business, variable_values={"input": {
        "name": "Hidden Works", "industry": "C24.10", "contact": {"email": "h@example.com"}}})["createBusiness"]["id"]
    hidden_site = admin.execute(create_site, variable_values={"b": hidden, "input": {
        "name": "Works", "address": "Hafenstraße 1", "location": {"lat": 51.3123, "lon": 7.1234}}})["createSite"]["id"]
    buyer = admin.execute(create_business, variable_values={"input": {
        "name": "Pool", "industry": "R93.11", "contact": {"email": "p@example.com"}}})["createBusiness"]["id"]
    buyer_site = admin.execute(create_site, variable_values={"b": buyer, "input": {
        "name": "Pool", "address": "Badstraße 2", "location": {"lat": 51.318, "lon": 7.131}}})["createSite"]["id"]
    refused_with(stranger, "mutation($id: UUID!) { updateBusiness(id: $id, patch: {name: \"Mine\"}) { name } }",
                 {"id": hidden}, "FORBIDDEN")

    # 3. Subscriptions on instance two, the write through instance one.
    stranger_seen, admin_seen = [], []
    stranger_feed = asyncio.create_task(first_proposal(ws_client(TWO, stranger_token), stranger_seen))
    admin_feed = asyncio.create_task(first_proposal(ws_client(TWO, admin_token), admin_seen))
    websocket_seen = []
    websocket_feed = asyncio.create_task(websocket_proposal(TWO, stranger_token, websocket_seen))
    sse = SseReader(TWO, "/api/v1/events?category=heat", stranger_token)
    sse.start()
    await asyncio.sleep(1.0)  # both subscriptions are registered before the write
    offer = admin.execute(create_flow, variable_values={"input": {
        "site_id": hidden_site, "direction": "offer", "category": "heat.low_temp", "anonymous": True,
        "quality": {"temperature_c": 85}, "quantity": {"value": 400, "unit": "kW"}}})["createFlow"]
    assert offer["anonymous"] is True, offer
    admin.execute(create_flow, variable_values={"input": {
        "site_id": buyer_site, "direction": "need", "category": "heat.low_temp",
        "quality": {"temperature_c": 60}, "quantity": {"value": 200, "unit": "kW"}}})
    seen = await asyncio.wait_for(stranger_feed, WAIT)
    whole = await asyncio.wait_for(admin_feed, WAIT)

    view = rest(TWO, "GET", f"/api/v1/matches/{seen['data']['id']}", token=stranger_token)
    assert seen["data"] == view, ("the event is not the REST view", seen["data"], view)
    assert seen["data"]["offer_business_id"] is None and seen["data"]["redacted"] == ["offer"], seen
    assert seen["match"]["offerBusinessId"] is None and seen["match"]["offerBusiness"] is None, seen
    assert seen["match"]["redacted"] == ["OFFER"], seen
    for secret in (hidden, hidden_site, offer["id"]):
        for text in stranger_seen:
            assert secret not in text, f"{secret} leaked in {text}"
    assert whole["data"]["offer_business_id"] == hidden, whole
    assert whole["match"]["offerBusiness"]["name"] == "Hidden Works", whole
    assert whole["id"] == seen["id"], (whole["id"], seen["id"])

    # 5. The stranger's WebSocket and SSE feeds on instance two carry the same redacted event.
    on_websocket = await asyncio.wait_for(websocket_feed, WAIT)
    assert on_websocket["data"] == view, ("the WebSocket event is not the REST view", on_websocket, view)
    assert sse.done.wait(WAIT), f"no match.proposed on the SSE feed; got {sse.text}"
    assert json.loads(sse.proposed["data"]) == view, ("the SSE event is not the REST view", sse.proposed, view)
    assert sse.proposed["id"] == on_websocket["id"] == seen["id"], (sse.proposed["id"], on_websocket["id"], seen["id"])
    for secret in (hidden, hidden_site, offer["id"]):
        for text in websocket_seen + sse.text:
            assert secret not in text, f"{secret} leaked in {text}"
    sse.connection.close()

    # 4. Bad credentials in connection_init are refused.
    try:
        async with ws_client(TWO, "not-a-token") as session:
            await session.execute(gql("{ stats { businesses } }"))
        raise AssertionError("bad credentials were accepted")
    except (TransportError, ConnectionError, asyncio.TimeoutError) as refused:
        assert not isinstance(refused, TransportQueryError) or refused.errors, refused
    print("graphql smoke: query, mutations, and a cross-instance redacted GraphQL subscription, WebSocket and SSE feed passed")


asyncio.run(main())
