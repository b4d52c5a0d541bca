"""`hsm-console site-checks`: what fails of the policy's own checks on the City's sites
(Policy, Section 2), for the administrators and the supervisors of each department."""

from __future__ import annotations

from hsm_console.app import App
from hsm_console.cli.terminal import out, to_json
from hsm_console.display import local_time, one_line, safe_text
from hsm_console.rules.site_checks import CheckState
from hsm_console.services import site_checks


def site_checks_command(app: App, as_json: bool, include_passed: bool) -> int:
    rows = site_checks.listing(app.db, app.username, include_passed=include_passed)
    if as_json:
        out(to_json([
            {"site_id": r.site_id, "site": r.site_name, "platform": r.platform,
             "department": r.department, "check": r.check.value, "check_words": r.check.label,
             "state": r.state.value, "detail": r.detail, "failing": list(r.failing),
             "profile_text": r.seen, "checked_at": r.checked_at.isoformat()}
            for r in rows
        ]))  # fmt: skip
        return 0
    if not rows:
        out("Every checked site passes the policy's checks." if not include_passed else
            "No site has been checked yet: the checks run at each sync.")  # fmt: skip
        return 0
    failing = sum(r.state is not CheckState.PASSED for r in rows)
    out(f"Policy, Section 2: {failing} check(s) fail or cannot be checked.")
    for r in rows:
        out(f"{r.department} / {safe_text(r.site_name)} ({r.platform}): {r.check.label}: "
            f"{r.state.label.upper()} (checked {local_time(r.checked_at)})")  # fmt: skip
        if r.detail:
            out(f"    {safe_text(r.detail)}")
        for post in r.failing:
            out(f"    post: {one_line(post, 200)}")
        if r.seen and r.state is CheckState.FAILED:
            out(f"    the profile says: {one_line(r.seen, 200)}")
    return 0
