"""Drives a demo server with the Python client generated from api/openapi.json (package
`symbiont_client`, made by scripts/client-smoke) and checks each answer on the client's typed
models. Only the generated functions and models talk to the server: a step that needs anything
else means the document does not describe the API well enough for a client.

    python scripts/client_smoke.py http://127.0.0.1:8080

Exits 1 with the failing step and why on the first failure.

Anonymous reads pass a plain `Client`: the document declares them open (`security: [{}, ...]`),
but openapi-python-client annotates every operation that has a `security` list with
`AuthenticatedClient`. At run time both work the same. GeoJSON reads (`Accept:
application/geo+json`) are left out: the generator parses every answer of a status with the schema
of its first media type (application/json), so it cannot read the GeoJSON alternative.
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any, NoReturn, TypeVar

import httpx
from symbiont_client import AuthenticatedClient, Client
from symbiont_client.api.auth import login, me
from symbiont_client.api.businesses import create_business, get_business, list_businesses
from symbiont_client.api.categories import list_categories
from symbiont_client.api.flows import create_flow, get_flow, list_flows, update_flow
from symbiont_client.api.matches import (
    get_match,
    get_stats,
    list_business_matches,
    list_matches,
    update_match,
)
from symbiont_client.api.sites import create_site, list_business_sites, list_sites
from symbiont_client.models import (
    Business,
    BusinessCreated,
    BusinessDraft,
    BusinessPage,
    CategoryList,
    Contact,
    Direction,
    Flow,
    FlowDraft,
    FlowPage,
    FlowStatus,
    ListFlowsDirection,
    LoginRequest,
    Match,
    MatchPage,
    MatchStatus,
    MatchUpdate,
    Me,
    MergePatch,
    Problem,
    Quality,
    Quantity,
    Site,
    SiteDraft,
    SitePage,
    Stats,
    TokenPair,
)
from symbiont_client.types import Response

# The demo's documented login (README, "A tour with curl").
DEMO_EMAIL = "demo@symbiont.example"
DEMO_PASSWORD = "symbiont-demo"
# A flow write waits for its matches (`bus.read_your_writes_ms`) on a busy 2-core machine.
TIMEOUT = httpx.Timeout(30.0)

T = TypeVar("T")


class SmokeFailure(Exception):
    pass


# The steps taken so far, the last one running; failures name it.
STEPS: list[str] = []


def step(name: str) -> None:
    STEPS.append(name)
    print(f"  {len(STEPS):2}. {name}", flush=True)


def fail(message: str) -> NoReturn:
    raise SmokeFailure(message)


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def expect(response: Response[Any], status: int, model: type[T]) -> T:
    """The parsed body of `response`, which must have `status` and parse as `model`."""
    parsed = response.parsed
    if response.status_code != status:
        detail = parsed.detail if isinstance(parsed, Problem) else response.content[:300]
        fail(f"expected HTTP {status}, got {int(response.status_code)}: {detail!r}")
    if not isinstance(parsed, model):
        fail(f"expected a {model.__name__}, the client parsed {type(parsed).__name__}")
    return parsed


def main(base_url: str) -> None:
    anonymous = Client(base_url=base_url, timeout=TIMEOUT)

    step("list categories")
    categories = expect(list_categories.sync_detailed(client=anonymous), 200, CategoryList)
    codes = {c.code for c in categories.items}
    check("heat.ambient" in codes, f"no heat.ambient among {len(codes)} categories")
    check(
        all(c.max_distance_km > 0 for c in categories.items),
        "a category without a positive max_distance_km",
    )

    step("list businesses (a page of the default size, and the district-heating operators)")
    businesses = expect(list_businesses.sync_detailed(client=anonymous), 200, BusinessPage)
    check(
        len(businesses.items) == 50,
        f"the default page has {len(businesses.items)} businesses, not 50",
    )
    check(
        isinstance(businesses.next_cursor, uuid.UUID),
        "the first page of the demo has no next_cursor",
    )
    heating = expect(
        list_businesses.sync_detailed(client=anonymous, industry="D35.30", limit=1),
        200,
        BusinessPage,
    )
    check(len(heating.items) == 1, "the demo has no district-heating operator (industry D35.30)")
    district_heating = heating.items[0]
    check(
        district_heating.industry == "D35.30",
        f"industry filter returned {district_heating.industry}",
    )

    step("list flows without `near` (no radius_km is sent)")
    flows = expect(list_flows.sync_detailed(client=anonymous), 200, FlowPage)
    check(len(flows.items) == 50, f"the default page has {len(flows.items)} flows, not 50")
    needs = expect(
        list_flows.sync_detailed(client=anonymous, direction=ListFlowsDirection.NEED, limit=5),
        200,
        FlowPage,
    )
    check(
        len(needs.items) == 5 and all(f.direction == Direction.NEED for f in needs.items),
        "direction=need with limit=5 did not list 5 needs",
    )

    step("list sites without `near`, then sites near the district-heating operator")
    sites = expect(list_sites.sync_detailed(client=anonymous), 200, SitePage)
    check(len(sites.items) == 50, f"the default page has {len(sites.items)} sites, not 50")
    heating_sites = expect(
        list_business_sites.sync_detailed(district_heating.id, client=anonymous), 200, SitePage
    )
    check(len(heating_sites.items) >= 1, f"business {district_heating.id} has no site")
    location = heating_sites.items[0].location
    nearby = expect(
        list_sites.sync_detailed(
            client=anonymous, near=f"{location.lat},{location.lon}", radius_km=1
        ),
        200,
        SitePage,
    )
    check(
        any(s.id == heating_sites.items[0].id for s in nearby.items),
        "a site is not within 1 km of itself",
    )

    step("read one business and one flow")
    business = expect(
        get_business.sync_detailed(district_heating.id, client=anonymous), 200, Business
    )
    check(business.id == district_heating.id, "get_business answered another business")
    check(
        business.name == district_heating.name,
        "get_business and list_businesses disagree on the name",
    )
    first = flows.items[0]
    flow = expect(get_flow.sync_detailed(first.id, client=anonymous), 200, Flow)
    check(
        (flow.id, flow.category, flow.direction) == (first.id, first.category, first.direction),
        "get_flow and list_flows disagree",
    )
    check(
        len(flow.profile) == 168, f"a flow's profile has {len(flow.profile)} hourly values, not 168"
    )

    step("list the region's best matches, read one, and the platform's totals")
    best = expect(
        list_matches.sync_detailed(client=anonymous, limit=5, min_score=0.5), 200, MatchPage
    )
    check(len(best.items) >= 1, "the demo region has no match with a score of 0.5 or more")
    scores = [m.score for m in best.items]
    check(
        scores == sorted(scores, reverse=True) and scores[-1] >= 0.5,
        f"scores {scores} not by score, >= 0.5",
    )
    one = expect(get_match.sync_detailed(best.items[0].id, client=anonymous), 200, Match)
    check(
        (one.id, one.score) == (best.items[0].id, best.items[0].score),
        "get_match and list_matches disagree",
    )
    totals = expect(get_stats.sync_detailed(client=anonymous), 200, Stats)
    check(totals.businesses >= len(businesses.items), f"stats count {totals.businesses} businesses")

    step("sign in with the demo login")
    tokens = expect(
        login.sync_detailed(
            client=anonymous, body=LoginRequest(email=DEMO_EMAIL, password=DEMO_PASSWORD)
        ),
        200,
        TokenPair,
    )
    check(tokens.expires_in > 0 and tokens.refresh_token != "", "the token pair is incomplete")
    user = AuthenticatedClient(base_url=base_url, token=tokens.access_token, timeout=TIMEOUT)
    whoami = expect(me.sync_detailed(client=user), 200, Me)
    check(whoami.email == DEMO_EMAIL, f"signed in as {whoami.email}")

    step("create a business, a site next to the district-heating operator and a waste-heat offer")
    suffix = uuid.uuid4().hex[:8]
    mine = expect(
        create_business.sync_detailed(
            client=user,
            body=BusinessDraft(
                name=f"Client Smoke Data Centre {suffix}",
                industry="J63.11",
                contact=Contact(email="energy@example.com"),
            ),
        ),
        201,
        BusinessCreated,
    )
    check(
        mine.industry == "J63.11" and mine.contact.email == "energy@example.com",
        "the business differs from its draft",
    )
    check(
        any(f.category == "heat.ambient" for f in mine.suggested_flows),
        "a data centre is not suggested its waste-heat offer",
    )
    site = expect(
        create_site.sync_detailed(
            mine.id,
            client=user,
            body=SiteDraft(name="Hall 1", address="Hafenstraße 10", location=location),
        ),
        201,
        Site,
    )
    check(site.business_id == mine.id, "the site belongs to another business")
    check((site.location.lat, site.location.lon) == (location.lat, location.lon), "the site moved")
    offer = expect(
        create_flow.sync_detailed(
            client=user,
            body=FlowDraft(
                site_id=site.id,
                direction=Direction.OFFER,
                category="heat.ambient",
                quality=Quality(temperature_c=35.0),
                quantity=Quantity(value=1.2, unit="MW"),
                profile="24/7",
            ),
        ),
        201,
        Flow,
    )
    check(
        offer.business_id == mine.id and offer.site_id == site.id, "the flow is not on the new site"
    )
    # The draft's defaults as the document states them: active, not anonymous.
    check(offer.status == FlowStatus.ACTIVE, f"a new flow is {offer.status}, not active")
    check(offer.anonymous is not True, "a new flow is anonymous")
    check(
        offer.quantity.value == 1.2 and offer.quantity.unit == "MW",
        "the quantity differs from the draft",
    )

    step("patch the flow (JSON merge patch with If-Match)")
    patch = MergePatch.from_dict(
        {"description": "Server hall exhaust heat", "quantity": {"value": 1.5, "unit": "MW"}}
    )
    patched = expect(
        update_flow.sync_detailed(offer.id, client=user, body=patch, if_match=f'"{offer.version}"'),
        200,
        Flow,
    )
    check(
        patched.description == "Server hall exhaust heat", "the patch did not set the description"
    )
    check(patched.quantity.value == 1.5, "the patch did not set the quantity")
    check(
        patched.category == offer.category and patched.site_id == offer.site_id,
        "the patch changed other fields",
    )
    check(patched.version == offer.version + 1, f"version {offer.version} became {patched.version}")
    stale = update_flow.sync_detailed(
        offer.id,
        client=user,
        body=MergePatch.from_dict({"description": "x"}),
        if_match=f'"{offer.version}"',
    )
    expect(stale, 412, Problem)

    step("contact a match of the new offer")
    matches = expect(list_business_matches.sync_detailed(mine.id, client=user), 200, MatchPage)
    check(
        len(matches.items) >= 1,
        "the new waste-heat offer next to a district-heating operator has no match",
    )
    candidate = matches.items[0]
    check(candidate.status == MatchStatus.SUGGESTED, f"a new match is {candidate.status}")
    check(0.0 <= candidate.score <= 1.0, f"score {candidate.score} is outside 0..1")
    check(candidate.offer_flow_id == offer.id, "the match is not of the new offer")
    contacted = expect(
        update_match.sync_detailed(
            candidate.id,
            client=user,
            body=MatchUpdate(status=MatchStatus.CONTACTED, note="Called their energy manager"),
        ),
        200,
        Match,
    )
    check(
        contacted.status == MatchStatus.CONTACTED, f"the match is {contacted.status}, not contacted"
    )
    check(contacted.note == "Called their energy manager", "the note was not kept")
    check(
        contacted.decision_version > candidate.decision_version, "the decision version did not move"
    )

    step("a flow with a bad unit is a 422 problem naming the field")
    problem = expect(
        create_flow.sync_detailed(
            client=user,
            body=FlowDraft(
                site_id=site.id,
                direction=Direction.OFFER,
                category="heat.ambient",
                quality=Quality(temperature_c=35.0),
                quantity=Quantity(value=3.0, unit="t/day"),
            ),
        ),
        422,
        Problem,
    )
    check(
        problem.status == 422 and problem.type_ == "/problems/validation",
        f"problem {problem.type_} {problem.status}",
    )
    fields = [e.field for e in problem.errors] if problem.errors else []
    check("quantity.unit" in fields, f"the problem names {fields}, not quantity.unit")

    print(f"client smoke: {len(STEPS)} steps passed", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: client_smoke.py BASE_URL")
    started = time.monotonic()
    try:
        main(sys.argv[1])
    except SmokeFailure as failure:
        print(f"client smoke FAILED at step {len(STEPS)} ({STEPS[-1]}): {failure}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:
        # The generated models raise KeyError, TypeError or ValueError when an answer does not fit
        # the document; httpx raises on a connection failure or a timeout.
        at = f" at step {len(STEPS)} ({STEPS[-1]})" if STEPS else ""
        print(f"client smoke FAILED{at}: {type(error).__name__}: {error}", file=sys.stderr)
        raise
    print(f"client smoke: {time.monotonic() - started:.1f} s", flush=True)
