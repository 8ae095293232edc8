"""Drives the live feed of a running server with third-party clients: the `websockets` library
from PyPI on GET /api/v1/ws and the standard library's HTTP client reading GET /api/v1/events.

Usage: feed_smoke.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD

Checks, each on what the server sent:
  1. a stranger's WebSocket (no credentials) and SSE stream hear of a match with an anonymous
     offer, redacted: no id of the hidden business, site or flow in anything they receive;
  2. the same match reaches an admin who authenticated in the first WebSocket message, whole;
  3. a client that reconnects with its last event id gets the events it missed, in order;
  4. a bad subscription gets an `error` message naming the field, and the connection stays open;
  5. credentials that are not valid close the connection with code 4401.
"""

import asyncio
import http.client
import json
import sys
import threading
import urllib.parse
import urllib.request

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

BASE = sys.argv[1].rstrip("/")
WS = BASE.replace("http://", "ws://", 1) + "/api/v1/ws"
WAIT = 10


def call(method, path, body=None, token=None):
    request = urllib.request.Request(BASE + path, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(request, data, timeout=WAIT) as response:
        return json.loads(response.read() or b"null")


def create(path, body, token):
    return call("POST", path, body, token)["id"]


class SseReader(threading.Thread):
    """Reads an SSE stream in the background into a list of (id, event, data) tuples."""

    def __init__(self, path, headers=None):
        super().__init__(daemon=True)
        parts = urllib.parse.urlsplit(BASE)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.connection.request("GET", path, headers=headers or {})
        self.response = self.connection.getresponse()
        assert self.response.status == 200, (self.response.status, self.response.read())
        assert self.response.getheader("content-type").startswith("text/event-stream")
        self.events = []
        self.raw = []
        self.changed = threading.Condition()

    def run(self):
        event = {}
        try:
            for line in self.response:
                line = line.decode().rstrip("\n")
                self.raw.append(line)
                if line == "":
                    if "event" in event:
                        with self.changed:
                            self.events.append(event)
                            self.changed.notify_all()
                    event = {}
                elif line.startswith(":"):
                    continue
                else:
                    field, _, value = line.partition(":")
                    event[field] = value[1:] if value.startswith(" ") else value
        except Exception:
            pass

    def wait_for(self, predicate):
        with self.changed:
            ok = self.changed.wait_for(lambda: any(predicate(e) for e in self.events), timeout=WAIT)
        assert ok, f"no such SSE event; got {self.events}"
        return next(e for e in self.events if predicate(e))

    def close(self):
        self.connection.close()


async def next_message(socket, predicate=lambda m: True, transcript=None):
    while True:
        text = await asyncio.wait_for(socket.recv(), WAIT)
        if transcript is not None:
            transcript.append(text)
        message = json.loads(text)
        if predicate(message):
            return message


async def main():
    token = call("POST", "/api/v1/auth/login",
                 {"email": sys.argv[2], "password": sys.argv[3]})["access_token"]
    hidden_business = create("/api/v1/businesses", {
        "name": "Hidden Works", "industry": "C24.10", "contact": {"email": "h@example.com"}}, token)
    hidden_site = create(f"/api/v1/businesses/{hidden_business}/sites", {
        "name": "Works", "address": "Hafenstraße 1", "location": {"lat": 51.3123, "lon": 7.1234}}, token)
    buyer = create("/api/v1/businesses", {
        "name": "Pool", "industry": "R93.11", "contact": {"email": "p@example.com"}}, token)
    buyer_site = create(f"/api/v1/businesses/{buyer}/sites", {
        "name": "Pool", "address": "Badstraße 2", "location": {"lat": 51.318, "lon": 7.131}}, token)

    stranger_transcript = []
    async with connect(WS) as stranger, connect(WS) as admin:
        welcome = json.loads(await stranger.recv())
        assert welcome["type"] == "welcome" and welcome["authenticated"] is False, welcome
        await next_message(admin)
        await admin.send(json.dumps({"type": "auth", "token": token}))
        assert (await next_message(admin))["type"] == "authenticated"
        for socket in (stranger, admin):
            await socket.send(json.dumps({"type": "subscribe", "id": "heat", "category": "heat"}))
            assert (await next_message(socket))["type"] == "subscribed"
        # A bad subscription names its field; the connection stays usable.
        await stranger.send(json.dumps({"type": "subscribe", "bbox": [9, 50, 8, 51]}))
        error = await next_message(stranger)
        assert error["type"] == "error" and error["field"] == "bbox", error
        sse = SseReader("/api/v1/events?category=heat")
        sse.start()

        offer = {"site_id": hidden_site, "direction": "offer", "category": "heat.low_temp",
                 "anonymous": True, "quality": {"temperature_c": 85},
                 "quantity": {"value": 400, "unit": "kW"}}
        hidden_flow = create("/api/v1/flows", offer, token)
        need = {"site_id": buyer_site, "direction": "need", "category": "heat.low_temp",
                "quality": {"temperature_c": 60}, "quantity": {"value": 200, "unit": "kW"}}
        create("/api/v1/flows", need, token)

        seen = await next_message(stranger, lambda m: m["type"] == "match.proposed", stranger_transcript)
        assert seen["data"]["offer_business_id"] is None, seen
        assert seen["data"]["redacted"] == ["offer"], seen
        whole = await next_message(admin, lambda m: m["type"] == "match.proposed")
        assert whole["data"]["offer_business_id"] == hidden_business, whole
        assert whole["id"] == seen["id"], (whole["id"], seen["id"])
        event = sse.wait_for(lambda e: e["event"] == "match.proposed")
        assert json.loads(event["data"]) == seen["data"], event
        assert event["id"] == seen["id"]
        last_id = seen["id"]
        # Anything else that came, then the leak check over everything the strangers received.
        try:
            while True:
                stranger_transcript.append(await asyncio.wait_for(stranger.recv(), 0.5))
        except asyncio.TimeoutError:
            pass
        for secret in (hidden_business, hidden_site, hidden_flow):
            for text in stranger_transcript + sse.raw:
                assert secret not in text, f"{secret} leaked in {text}"
        sse.close()

    # Away: two public offers are written. Back: resume after the last id seen.
    missed = [create("/api/v1/flows", dict(need, direction="offer", quality={"temperature_c": 90},
                                           description=f"missed {i}"), token) for i in range(2)]
    async with connect(WS) as again:
        await next_message(again)
        await again.send(json.dumps({"type": "subscribe", "category": "heat"}))
        await next_message(again, lambda m: m["type"] == "subscribed")
        await again.send(json.dumps({"type": "resume", "last_event_id": last_id}))
        assert (await next_message(again))["type"] == "resumed"
        created = []
        while len(created) < 2:
            message = await next_message(again)
            if message["type"] == "flow.created":
                created.append(message["data"]["id"])
        assert created == missed, (created, missed)
    sse = SseReader("/api/v1/events?category=heat", {"Last-Event-ID": last_id})
    sse.start()
    sse.wait_for(lambda e: e["event"] == "flow.created" and missed[1] in e["data"])
    sse.close()

    # Invalid credentials in the first message close the connection with 4401.
    async with connect(WS) as refused:
        await next_message(refused)
        await refused.send(json.dumps({"type": "auth", "token": "not-a-token"}))
        try:
            await asyncio.wait_for(refused.recv(), WAIT)
            raise AssertionError("the connection stayed open")
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4401, closed
    print("feed smoke: WebSocket and SSE checks passed")


asyncio.run(main())
