"""Drives Symbiont's gRPC API with Python's grpcio (a client written by others), against two
instances that share one database and one event bus (scripts/grpc-smoke starts them).

Checked:
- stubs generated at test time from the committed api/proto/symbiont/v1/matching.proto;
- grpc.health.v1 reports SERVING on both instances;
- unary calls: UpsertFlow (with a bearer token), GetFlow, ListMatches, GetMatch, Decide;
  a bad id is INVALID_ARGUMENT whose google.rpc.BadRequest detail names the field; a write
  without credentials is UNAUTHENTICATED;
- a write through instance one reaches a WatchMatches stream on instance two opened without
  credentials (a stranger), redacted exactly as REST shows that match to a stranger: the
  anonymous offer's business, site and flow appear nowhere in what the stream delivered.

usage: grpc_smoke.py PROTO_ROOT HTTP_ONE GRPC_ONE HTTP_TWO GRPC_TWO EMAIL PASSWORD
"""

import importlib
import json
import os
import queue
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from grpc_tools import protoc
from google.rpc import error_details_pb2


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def generate_stubs(proto_root):
    out = tempfile.mkdtemp(prefix="symbiont-grpc-stubs-")
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    code = protoc.main([
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        "symbiont/v1/matching.proto",
    ])
    check(code == 0, f"grpc_tools.protoc failed with {code}")
    sys.path.insert(0, out)
    pb = importlib.import_module("symbiont.v1.matching_pb2")
    stubs = importlib.import_module("symbiont.v1.matching_pb2_grpc")
    return pb, stubs


def rest(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def main():
    proto_root, http_one, grpc_one, http_two, grpc_two, email, password = sys.argv[1:8]
    pb, stubs = generate_stubs(proto_root)
    target = lambda url: url.split("://", 1)[1]
    one = grpc.insecure_channel(target(grpc_one))
    two = grpc.insecure_channel(target(grpc_two))
    matching_one = stubs.MatchingStub(one)
    matching_two = stubs.MatchingStub(two)

    for name, channel in (("one", one), ("two", two)):
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "symbiont.v1.Matching"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            check(answer.status == health_pb2.HealthCheckResponse.SERVING,
                  f"instance {name}: {service or 'server'} is not SERVING: {answer}")

    status, login = rest(http_one, "POST", "/api/v1/auth/login", {"email": email, "password": password})
    check(status == 200, f"login: {status} {login}")
    token = login["access_token"]
    auth = (("authorization", f"Bearer {token}"),)

    def business_with_site(name, lat, lon):
        status, business = rest(http_one, "POST", "/api/v1/businesses",
                                {"name": name, "industry": "C11.05"}, token)
        check(status == 201, f"business: {status} {business}")
        status, site = rest(http_one, "POST", f"/api/v1/businesses/{business['id']}/sites",
                            {"name": "Works", "location": {"lat": lat, "lon": lon}}, token)
        check(status == 201, f"site: {status} {site}")
        return business["id"], site["id"]

    hidden_business, hidden_site = business_with_site("Hidden Foundry", 52.40, 9.70)
    _, consumer_site = business_with_site("Dairy", 52.401, 9.701)

    # A stranger (no credentials) watches heat matches on instance two.
    received = queue.Queue()
    request = pb.WatchMatchesRequest(topics=[pb.Topic(category="heat")])
    stream = matching_two.WatchMatches(request, timeout=60)

    def read():
        try:
            for message in stream:
                received.put(message)
        except grpc.RpcError as error:
            received.put(error)

    threading.Thread(target=read, daemon=True).start()
    first = received.get(timeout=20)
    check(not isinstance(first, grpc.RpcError) and first.HasField("watching"),
          f"the stream opens with Watching: {first}")

    # Writes through instance one.
    offer_draft = pb.FlowDraft(
        site_id=hidden_site, direction=pb.DIRECTION_OFFER, category="heat.medium_temp",
        anonymous=True, quality=pb.Quality(temperature_c=120.0),
        quantity=pb.Quantity(value=900, unit="kW"), schedule="Mon-Fri 06:00-22:00")
    offer = matching_one.UpsertFlow(pb.UpsertFlowRequest(flow=offer_draft), metadata=auth, timeout=30)
    check(offer.version == 1 and offer.anonymous, f"the offer: {offer}")
    need_draft = pb.FlowDraft(
        site_id=consumer_site, direction=pb.DIRECTION_NEED, category="heat.low_temp",
        quality=pb.Quality(temperature_c=55.0), quantity=pb.Quantity(value=400, unit="kW"))
    need = matching_one.UpsertFlow(pb.UpsertFlowRequest(flow=need_draft), metadata=auth, timeout=30)

    read_back = matching_one.GetFlow(pb.GetFlowRequest(id=need.id), timeout=10)
    check(read_back.id == need.id and len(read_back.profile.hours) == 168, f"GetFlow: {read_back}")
    page = matching_one.ListMatches(pb.ListMatchesRequest(flow_id=need.id), metadata=auth, timeout=10)
    check(len(page.items) == 1, f"ListMatches: {page}")
    match_id = page.items[0].id
    got = matching_one.GetMatch(pb.GetMatchRequest(id=match_id), metadata=auth, timeout=10)
    check(got.need_flow_id == need.id and got.status == pb.MATCH_STATUS_SUGGESTED, f"GetMatch: {got}")

    try:
        matching_one.GetMatch(pb.GetMatchRequest(id="not-a-uuid"), timeout=10)
        fail("a malformed id was accepted")
    except grpc.RpcError as error:
        check(error.code() == grpc.StatusCode.INVALID_ARGUMENT, f"bad id: {error}")
        details = rpc_status.from_call(error)
        check(details is not None, "INVALID_ARGUMENT carries google.rpc.Status details")
        fields = []
        for detail in details.details:
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(bad_request):
                fields += [v.field for v in bad_request.field_violations]
        check(fields == ["id"], f"the violation names the field: {fields}")
    try:
        matching_one.UpsertFlow(pb.UpsertFlowRequest(flow=need_draft), timeout=10)
        fail("a write without credentials was accepted")
    except grpc.RpcError as error:
        check(error.code() == grpc.StatusCode.UNAUTHENTICATED, f"anonymous write: {error}")

    # The match reaches instance two's stream, redacted for the stranger.
    transcript = [str(first)]
    deadline = time.monotonic() + 20
    event = None
    while time.monotonic() < deadline:
        message = received.get(timeout=max(0.1, deadline - time.monotonic()))
        check(not isinstance(message, grpc.RpcError), f"the stream failed: {message}")
        transcript.append(str(message))
        if message.HasField("event") and message.event.match.id == match_id:
            event = message.event
            break
    check(event is not None, "the match written on instance one reached instance two's stream")
    check(event.kind == pb.MATCH_EVENT_KIND_PROPOSED, f"a proposal: {event}")
    seen = event.match
    check(list(seen.redacted) == [pb.SIDE_OFFER], f"the offer is redacted: {seen}")
    check(not seen.HasField("offer_business_id") and not seen.HasField("offer_flow_id"),
          f"no hidden ids: {seen}")
    for secret in (hidden_business, hidden_site, offer.id):
        for text in transcript:
            check(secret not in text, f"{secret} leaked on the stream: {text}")

    # Exactly what REST shows a stranger on instance two.
    status, shown = rest(http_two, "GET", f"/api/v1/matches/{match_id}")
    check(status == 200, f"REST view: {status} {shown}")
    for field in ("offer_business_id", "offer_flow_id", "distance_km", "savings_eur_per_year"):
        check(shown[field] is None and not seen.HasField(field), f"{field}: REST {shown[field]}, gRPC {seen}")
    for field in ("score", "distance_band", "savings_band", "co2_band", "quantity_band",
                  "explanation", "offer_category", "need_category", "need_business_id"):
        check(getattr(seen, field) == shown[field], f"{field}: REST {shown[field]!r}, gRPC {getattr(seen, field)!r}")

    decided = matching_one.Decide(pb.DecideRequest(match_id=match_id, status=pb.MATCH_STATUS_CONTACTED),
                                  metadata=auth, timeout=30)
    check(decided.status == pb.MATCH_STATUS_CONTACTED and decided.decision_version == 1, f"Decide: {decided}")
    stream.cancel()
    print("grpc smoke: health, unary calls, errors and a cross-instance redacted stream checked")


if __name__ == "__main__":
    main()
