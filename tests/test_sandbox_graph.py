"""The sandbox answers like the Graph API for Pages: real HTTP over loopback, no mocks."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
import requests

from hsm_console.host.resources import resource_path
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer, seed
from tests.sandbox_fixtures import PARKS, POLICE

pytest_plugins = ["tests.sandbox_fixtures"]

V = "v25.0"
COMMENT_FIELDS = "id,message,from,created_time,permalink_url,parent,is_hidden,attachment"
ALL_CODES = {
    "PRF",
    "THR",
    "HAR",
    "DSC",
    "SEX",
    "ILL",
    "SAF",
    "PII",
    "COM",
    "SPM",
    "OFT",
    "IPR",
    "IMP",
    "FOI",
    "EMG",
}


def first_post(page_id: str = PARKS) -> seed.SeedPost:
    return next(p for p in seed.DEMO.posts if p.page_id == page_id)


def graph_error(response: requests.Response) -> dict[str, Any]:
    error = response.json()["error"]
    assert isinstance(error, dict)
    return error


def stream(
    session: requests.Session, url: str, post_id: str, **params: Any
) -> list[dict[str, Any]]:
    """Every comment of a post, following `paging.next` URLs as Graph hands them out."""
    items: list[dict[str, Any]] = []
    response = session.get(
        f"{url}/{V}/{post_id}/comments",
        params={"filter": "stream", "fields": COMMENT_FIELDS, **params},
    )
    while True:
        body = response.json()
        items.extend(body["data"])
        next_url = body.get("paging", {}).get("next")
        if not next_url:
            return items
        response = session.get(next_url)


# --- seed data ------------------------------------------------------------------------


def test_seed_has_two_city_pages_with_posts_and_about_200_comments() -> None:
    names = {p.id: p.name for p in seed.DEMO.pages}
    assert names == {PARKS: "Highland Parks & Recreation", POLICE: "Highland Police Department"}
    for page_id in names:
        posts = [p for p in seed.DEMO.posts if p.page_id == page_id]
        assert 3 <= len(posts) <= 4
        assert all(p.link.startswith("https://www.highlandil.gov/") for p in posts)
    assert 190 <= len(seed.SEEDED_COMMENTS) <= 220
    assert len({c.id for c in seed.SEEDED_COMMENTS}) == len(seed.SEEDED_COMMENTS)


def test_seed_covers_every_reason_code_and_mostly_clean_comments() -> None:
    codes = Counter(c.expected_code for c in seed.SEEDED_COMMENTS)
    assert set(codes) - {None} == ALL_CODES
    assert codes[None] > len(seed.SEEDED_COMMENTS) / 2


def test_seed_has_replies_inside_their_own_post() -> None:
    by_id = {c.id: c for c in seed.SEEDED_COMMENTS}
    replies = [c for c in seed.SEEDED_COMMENTS if c.parent_id]
    assert len(replies) > 30
    for reply in replies:
        parent = by_id[reply.parent_id or ""]
        assert parent.post_id == reply.post_id
        assert parent.created_time < reply.created_time


def test_seed_has_hostile_text() -> None:
    texts = "\n".join(c.message for c in seed.SEEDED_COMMENTS)
    for needle in (
        "<img src=x onerror=alert(1)>",
        "<script>",
        "<b>",
        "\u202e",
        "=HYPERLINK(",
        "+1",
        "@SUM",
        "🎉",
    ):
        assert needle in texts
    (long,) = seed.DEMO.tagged("long")
    assert 19_000 <= len(long.message.encode("utf-8")) <= 25_000


def test_seed_is_deterministic_and_in_the_past() -> None:
    assert seed.build() == seed.DEMO
    assert all(c.created_time <= seed.BASE_TIME for c in seed.SEEDED_COMMENTS)
    assert all(c.created_time.tzinfo is not None for c in seed.SEEDED_COMMENTS)


def test_seed_templates_are_a_resource_file() -> None:
    path = resource_path("demo", "seed-comments.json")
    assert path.is_file()
    assert "pages" in json.loads(path.read_text(encoding="utf-8"))


# --- auth and headers -----------------------------------------------------------------


def test_missing_or_wrong_token_is_graph_error_190(sandbox_server: SandboxServer) -> None:
    url = f"{sandbox_server.url}/{V}/{PARKS}/published_posts"
    with requests.Session() as anonymous:
        missing = anonymous.get(url)
        wrong = anonymous.get(url, headers={"Authorization": "Bearer not-the-token"})
        by_param = anonymous.get(url, params={"access_token": SANDBOX_TOKEN})
    assert (missing.status_code, graph_error(missing)["code"]) == (400, 190)
    assert (wrong.status_code, graph_error(wrong)["code"]) == (400, 190)
    assert graph_error(wrong)["type"] == "OAuthException"
    assert by_param.status_code == 200


def test_token_of_another_page_is_a_permission_error(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    sandbox_server.state.facebook.set_token(POLICE, "police-only-token")
    response = graph.get(f"{sandbox_server.url}/{V}/{POLICE}/published_posts")
    assert (response.status_code, graph_error(response)["code"]) == (403, 200)


def test_every_answer_carries_usage_headers(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    sandbox_server.faults.add("server_error", path="/comments")
    answers = [
        graph.get(f"{sandbox_server.url}/{V}/{PARKS}/published_posts"),
        graph.get(f"{sandbox_server.url}/{V}/no-such-object"),
        graph.get(f"{sandbox_server.url}/{V}/{first_post().id}/comments"),
    ]
    assert [a.status_code for a in answers] == [200, 400, 500]
    for answer in answers:
        app = json.loads(answer.headers["X-App-Usage"])
        buc = json.loads(answer.headers["X-Business-Use-Case-Usage"])
        assert {"call_count", "total_cputime", "total_time"} <= set(app)
        (entries,) = buc.values()
        assert entries[0]["type"] == "pages"
        assert "estimated_time_to_regain_access" in entries[0]


# --- posts and comments ---------------------------------------------------------------


def test_published_posts_newest_first_with_paging(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    url = f"{sandbox_server.url}/{V}/{PARKS}/published_posts"
    first = graph.get(
        url, params={"fields": "id,message,created_time,permalink_url", "limit": "3"}
    ).json()
    assert len(first["data"]) == 3
    assert set(first["data"][0]) == {"id", "message", "created_time", "permalink_url"}
    second = graph.get(url, params={"limit": 3, "after": first["paging"]["cursors"]["after"]})
    rest = second.json()
    assert "next" not in rest["paging"]
    ids = [p["id"] for p in first["data"] + rest["data"]]
    expected = sorted(
        (p for p in seed.DEMO.posts if p.page_id == PARKS),
        key=lambda p: p.created_time,
        reverse=True,
    )
    assert ids == [p.id for p in expected]


def test_stream_lists_every_comment_once_with_parents(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    for post in seed.DEMO.posts:
        items = stream(graph, sandbox_server.url, post.id, limit=7)
        expected = seed.DEMO.comments_on(post.id)
        assert [i["id"] for i in items] == [c.id for c in expected]
        for item, comment in zip(items, expected, strict=True):
            assert item.get("parent", {}).get("id") == comment.parent_id
            assert "expected_code" not in json.dumps(item)


def test_toplevel_filter_leaves_out_replies_and_replies_edge_has_them(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    post = first_post()
    top = graph.get(f"{sandbox_server.url}/{V}/{post.id}/comments", params={"limit": 100}).json()[
        "data"
    ]
    expected_top = [c.id for c in seed.DEMO.comments_on(post.id) if c.parent_id is None]
    assert [c["id"] for c in top] == expected_top
    parent = next(c for c in seed.DEMO.comments_on(post.id) if c.parent_id)
    replies = graph.get(f"{sandbox_server.url}/{V}/{parent.parent_id}/comments").json()["data"]
    assert parent.id in [r["id"] for r in replies]


def test_limit_cursors_and_last_page(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    post = first_post()
    url = f"{sandbox_server.url}/{V}/{post.id}/comments"
    total = len(seed.DEMO.comments_on(post.id))
    page = graph.get(url, params={"filter": "stream", "limit": "5"}).json()
    assert len(page["data"]) == 5
    assert set(page["paging"]["cursors"]) == {"before", "after"}
    assert "next" in page["paging"]
    back = graph.get(
        url, params={"filter": "stream", "limit": 5, "before": page["paging"]["cursors"]["after"]}
    ).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in page["data"][:4]]
    last = graph.get(
        url,
        params={
            "filter": "stream",
            "limit": total - 1,
            "after": page["paging"]["cursors"]["before"],
        },
    ).json()
    assert len(last["data"]) == total - 1
    assert "next" not in last["paging"]


def test_since_and_reverse_order(sandbox_server: SandboxServer, graph: requests.Session) -> None:
    post = first_post()
    comments = seed.DEMO.comments_on(post.id)
    since = comments[10].created_time
    items = stream(graph, sandbox_server.url, post.id, since=int(since.timestamp()))
    assert [i["id"] for i in items] == [c.id for c in comments if c.created_time >= since]
    newest = graph.get(
        f"{sandbox_server.url}/{V}/{post.id}/comments",
        params={"filter": "stream", "order": "reverse_chronological", "limit": "3"},
    ).json()["data"]
    assert [c["id"] for c in newest] == [c.id for c in reversed(comments[-3:])]


def test_bad_fields_cursor_and_order_are_graph_error_100(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    url = f"{sandbox_server.url}/{V}/{first_post().id}/comments"
    for params in (
        {"fields": "id,no_such_field"},
        {"after": "!!!"},
        {"order": "random"},
        {"limit": "-3"},
    ):
        response = graph.get(url, params=params)
        assert (response.status_code, graph_error(response)["code"]) == (400, 100), params


def test_get_one_comment_with_fields(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    comment = next(c for c in seed.SEEDED_COMMENTS if c.attachment)
    body = graph.get(
        f"{sandbox_server.url}/{V}/{comment.id}",
        params={"fields": "id,message,from{id,name},attachment"},
    ).json()
    assert body["message"] == comment.message
    assert body["from"] == {"id": comment.author_id, "name": comment.author_name}
    assert body["attachment"]["media"]["image"]["src"] == comment.attachment.image_src  # type: ignore[union-attr]
    assert set(body) == {"id", "message", "from", "attachment"}


# --- moderation -----------------------------------------------------------------------


def test_hide_and_unhide_hold_state(sandbox_server: SandboxServer, graph: requests.Session) -> None:
    comment_id = seed.SEEDED_COMMENTS[3].id
    url = f"{sandbox_server.url}/{V}/{comment_id}"
    assert graph.post(url, data={"is_hidden": "true"}).json() == {"success": True}
    assert sandbox_server.state.facebook.is_hidden(comment_id)
    assert graph.get(url, params={"fields": "id,is_hidden"}).json() == {
        "id": comment_id,
        "is_hidden": True,
    }
    assert graph.post(url, json={"is_hidden": False}).json() == {"success": True}
    assert not sandbox_server.state.facebook.is_hidden(comment_id)
    bad = graph.post(url, data={"is_hidden": "maybe"})
    assert graph_error(bad)["code"] == 100


def test_delete_then_get_is_error_100_subcode_33(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    post = first_post()
    parent = next(c for c in seed.DEMO.comments_on(post.id) if c.parent_id).parent_id or ""
    url = f"{sandbox_server.url}/{V}/{parent}"
    assert graph.delete(url).json() == {"success": True}
    for answer in (graph.get(url), graph.delete(url), graph.post(url, data={"is_hidden": "true"})):
        error = graph_error(answer)
        assert (answer.status_code, error["code"], error["error_subcode"]) == (400, 100, 33)
    listed = {i["id"] for i in stream(graph, sandbox_server.url, post.id, limit=100)}
    replies = {c.id for c in seed.DEMO.comments_on(post.id) if c.parent_id == parent}
    assert parent not in listed
    assert not replies & listed  # Facebook deletes the replies with their comment


# --- faults ---------------------------------------------------------------------------


def test_faults_over_http_fire_n_times_then_clear(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    base = sandbox_server.url
    added = graph.post(
        f"{base}/_sandbox/faults",
        json={"kind": "server_error", "method": "GET", "path": "/comments", "times": 2},
    )
    assert added.status_code == 201
    url = f"{base}/{V}/{first_post().id}/comments"
    assert [graph.get(url).status_code for _ in range(3)] == [500, 500, 200]

    graph.post(f"{base}/_sandbox/faults", json={"kind": "server_error", "times": None})
    assert len(graph.get(f"{base}/_sandbox/faults").json()["data"]) == 1
    assert graph.delete(f"{base}/_sandbox/faults").json() == {"success": True}
    assert graph.get(url).status_code == 200
    bad = graph.post(f"{base}/_sandbox/faults", json={"kind": "no-such-kind"})
    assert bad.status_code == 400


def test_fault_matches_method_and_regex(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    sandbox_server.faults.add(
        "server_error", method="DELETE", path=r"/v\d+\.\d+/\d+_\d+$", regex=True, times=None
    )
    comment_url = f"{sandbox_server.url}/{V}/{seed.SEEDED_COMMENTS[0].id}"
    assert graph.get(comment_url).status_code == 200
    assert graph.delete(comment_url).status_code == 500
    assert graph.delete(comment_url).status_code == 500
    assert not sandbox_server.state.facebook.is_deleted(seed.SEEDED_COMMENTS[0].id)


def test_reset_restores_seed_and_clears_faults(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    comment_id = seed.SEEDED_COMMENTS[0].id
    sandbox_server.state.facebook.delete_comment(comment_id)
    sandbox_server.faults.add("server_error", times=None, path="/comments")
    assert graph.post(f"{sandbox_server.url}/_sandbox/reset").json() == {"success": True}
    assert not sandbox_server.state.facebook.is_deleted(comment_id)
    assert sandbox_server.faults.active() == []
    assert sandbox_server.requests_seen() == []


def test_rate_limit_faults_have_graph_shape(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    url = f"{sandbox_server.url}/{V}/{PARKS}/published_posts"
    sandbox_server.faults.add("too_many_requests", seconds=30)
    sandbox_server.faults.add("rate_limit", seconds=600)
    sandbox_server.faults.add("rate_limit", code=4, status=403, seconds=60)
    too_many, buc, app = graph.get(url), graph.get(url), graph.get(url)
    assert (too_many.status_code, too_many.headers["Retry-After"]) == (429, "30")
    assert "X-Business-Use-Case-Usage" in too_many.headers
    assert (buc.status_code, graph_error(buc)["code"]) == (400, 80001)
    usage = json.loads(buc.headers["X-Business-Use-Case-Usage"])[PARKS][0]
    assert usage["estimated_time_to_regain_access"] == 10
    assert (app.status_code, graph_error(app)["code"]) == (403, 4)


def test_token_permission_malformed_and_slow_faults(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    url = f"{sandbox_server.url}/{V}/{PARKS}/published_posts"
    sandbox_server.faults.add("revoked_token")
    sandbox_server.faults.add("permission")
    sandbox_server.faults.add("malformed")
    sandbox_server.faults.add("slow", seconds=0.3)
    revoked, denied, malformed = graph.get(url), graph.get(url), graph.get(url)
    assert graph_error(revoked)["code"] == 190
    assert graph_error(denied)["code"] == 200
    assert malformed.status_code == 200
    with pytest.raises(ValueError):  # noqa: PT011 (any JSON decoding error)
        malformed.json()
    started = time.monotonic()
    assert graph.get(url).status_code == 200
    assert time.monotonic() - started >= 0.25


def test_requests_are_logged_without_control_calls(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    graph.get(f"{sandbox_server.url}/{V}/{PARKS}/published_posts")
    graph.get(f"{sandbox_server.url}/_sandbox/faults")
    (seen,) = sandbox_server.requests_seen()
    assert (seen.method, seen.path) == ("GET", f"/{V}/{PARKS}/published_posts")
    assert seen.headers["authorization"] == f"Bearer {SANDBOX_TOKEN}"


def test_sandbox_binds_to_loopback_only() -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.org"):  # noqa: S104 (refused, never bound)
        with pytest.raises(ValueError, match="127"):
            SandboxServer(host=host)


def test_any_api_version_is_answered(
    sandbox_server: SandboxServer, graph: requests.Session
) -> None:
    response = graph.get(f"{sandbox_server.url}/v26.0/{PARKS}", params={"fields": "id,name"})
    assert response.json() == {"id": PARKS, "name": "Highland Parks & Recreation"}
