"""`hsm-console admin ...`: the first administrator, departments, people, roles and sites.

Each command calls `services.admin` and prints one line of what changed (and the log entry
that records it), or a listing; listings take `--json` for scripts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from hsm_console.cli.terminal import out, to_json
from hsm_console.display import safe_text
from hsm_console.rules import administration
from hsm_console.rules.administration import APP_PLATFORMS
from hsm_console.rules.domain import Platform, Role

if TYPE_CHECKING:  # the parser is built at every start; the services load only when run
    from hsm_console.app import App
    from hsm_console.services.admin import AdminService, Change


def add_parser(commands: Any) -> None:
    """The `admin` command group, added to the main parser's subcommands."""
    group = commands.add_parser(
        "admin", help="set up departments, people, roles and sites (administrators)"
    )
    what = group.add_subparsers(dest="admin_what", metavar="WHAT", required=True)
    what.add_parser("init", help="on an empty database: become its first administrator")

    department = _group(what, "department", "the City's departments")
    _listing(department)
    add = department.add_parser("add", help="add a department")
    add.add_argument("code", metavar="CODE", help="short code, e.g. PARKS")
    add.add_argument("name", metavar="NAME", help='full name, e.g. "Parks & Recreation"')
    rename = department.add_parser("rename", help="change a department's name")
    rename.add_argument("code", metavar="CODE")
    rename.add_argument("name", metavar="NAME")

    account_help = r"operating-system account: DOMAIN\name or name"
    person = _group(what, "person", "the people who use the console")
    _listing(person)
    add = person.add_parser("add", help="add a person (then grant a role)")
    add.add_argument("account", metavar="ACCOUNT", help=account_help)
    add.add_argument("name", metavar="NAME", help="display name")
    login_help = "PostgreSQL: their database login (default: the account's name, lower case)"
    add.add_argument("--login", metavar="LOGIN", help=login_help)
    login = person.add_parser("login", help="PostgreSQL: create or map a person's database login")
    login.add_argument("account", metavar="ACCOUNT", help=account_help)
    login.add_argument("login", metavar="LOGIN", nargs="?", help=login_help)
    rename = person.add_parser("rename", help="change a person's display name")
    rename.add_argument("account", metavar="ACCOUNT")
    rename.add_argument("name", metavar="NAME")
    for verb, words in (
        ("deactivate", "stop a person using the console (kept, never deleted)"),
        ("reactivate", "let a deactivated person back in"),
    ):
        person.add_parser(verb, help=words).add_argument("account", metavar="ACCOUNT")

    role = _group(what, "role", "grant or take back a role")
    for verb, words in (("grant", "give a role"), ("revoke", "take a role back")):
        parser = role.add_parser(verb, help=words)
        parser.add_argument("account", metavar="ACCOUNT", help=account_help)
        parser.add_argument("role", metavar="ROLE", help=", ".join(r.value for r in Role))
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--department", metavar="CODE", help="for this department")
        scope.add_argument(
            "--all",
            action="store_true",
            help="supervisor (oversight group) or records officer (City Clerk) of all departments",
        )

    site = _group(what, "site", "the City's accounts on each platform")
    _listing(site)
    add = site.add_parser("add", help="add a site")
    add.add_argument("platform", metavar="PLATFORM", help=", ".join(p.value for p in Platform))
    add.add_argument("external_id", metavar="ID", help="the account's id on the platform")
    add.add_argument("--name", required=True, help="the site's name in the console")
    add.add_argument("--department", required=True, metavar="CODE", help="owning department")
    _site_options(add)
    change = site.add_parser("change", help="change a site's name, department, address, settings")
    change.add_argument("site", metavar="SITE", help="site number or name")
    change.add_argument("--name")
    change.add_argument("--department", metavar="CODE")
    _site_options(change)
    change.add_argument("--unset", action="append", default=[], metavar="KEY",
                        help="remove a setting (repeat)")  # fmt: skip
    for verb, words in (
        ("deactivate", "stop syncing and acting on a site (kept, never deleted)"),
        ("reactivate", "sync and act on a site again"),
    ):
        site.add_parser(verb, help=words).add_argument("site", metavar="SITE")
    settings = site.add_parser("settings", help="the settings a platform's sites take")
    settings.add_argument("platform", metavar="PLATFORM")
    settings.add_argument("--json", action="store_true")

    app = what.add_parser(
        "app",
        help="the City's app on a platform (client id and secret), kept in this computer's "
        "keyring; the secret is read without echo, or from a pipe",
    )
    app.add_argument("platform", metavar="PLATFORM", help=", ".join(p.value for p in APP_PLATFORMS))
    app.add_argument("--client-id", required=True, metavar="ID", help="the app's client id")

    connect = what.add_parser(
        "connect",
        help="connect a site to its platform: sign in in the browser (OAuth 2.0, Facebook "
        "Login), or a WordPress application password or Discourse API key, read without echo "
        "or from a pipe",
    )
    connect.add_argument("site", metavar="SITE", help="site number or name")
    connect.add_argument(
        "--timeout", type=float, default=300.0, metavar="SECONDS",
        help="how long to wait for the sign-in in the browser (default 300)",
    )  # fmt: skip
    connect.add_argument(
        "--no-browser", action="store_true",
        help="print the sign-in address instead of opening a browser (open it on this computer)",
    )  # fmt: skip
    connect.add_argument(
        "--page", metavar="ID",
        help="Facebook, Instagram: the Page to connect, when the site's is not among those "
        "you manage (they are listed)",
    )  # fmt: skip
    connect.add_argument(
        "--user", metavar="NAME",
        help="WordPress: the user name; Discourse: the user the key acts as",
    )  # fmt: skip


def _group(what: Any, name: str, words: str) -> Any:
    return what.add_parser(name, help=words).add_subparsers(
        dest="admin_do", metavar="ACTION", required=True
    )


def _listing(group: Any) -> None:
    group.add_parser("list", help="list them").add_argument("--json", action="store_true")


def _site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-url", metavar="URL",
        help="API address, if not the platform's own: a proxy or the sandbox ('default': the "
        "platform's own)",
    )  # fmt: skip
    parser.add_argument(
        "--setting", action="append", default=[], type=_key_value, metavar="KEY=VALUE",
        help="a site setting, e.g. api_version=v25.0 or active_days=30 (repeat)",
    )  # fmt: skip


def _key_value(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"write a setting as KEY=VALUE, not {text!r}")
    return key.strip(), value


def run(app: App, args: argparse.Namespace, read_secret: Callable[[str], str]) -> int:
    from hsm_console.services import admin

    if args.admin_what == "init":
        claimed = admin.init(app.db, app.username, app.login)
        out(
            f"{app.username} is now the first administrator of HSM Console (log entry "
            f"{claimed.entry_id}). Next: hsm-console admin department add CODE NAME"
        )
        return 0
    if args.admin_what == "app":
        return _app_credentials(app, args.platform, args.client_id, read_secret)
    if args.admin_what == "connect":
        return _connect(app, args, read_secret)
    if args.admin_do == "list":
        return _list(app, args.admin_what, args.json)
    if args.admin_what == "site" and args.admin_do == "settings":
        return _settings(args.platform, args.json)
    return _report(_change(app.admin, args))


def _change(service: AdminService, args: argparse.Namespace) -> Change:
    what, do = args.admin_what, args.admin_do
    if what == "department":
        if do == "add":
            return service.add_department(args.code, args.name)
        return service.rename_department(args.code, args.name)
    if what == "person":
        if do == "add":
            return service.add_person(args.account, args.name, args.login)
        if do == "login":
            return service.set_login(args.account, args.login)
        if do == "rename":
            return service.rename_person(args.account, args.name)
        return service.set_person_active(args.account, do == "reactivate")
    if what == "role":
        change = service.grant if do == "grant" else service.revoke
        return change(args.account, args.role, args.department, args.all)
    if do == "add":
        return service.add_site(
            args.platform, args.external_id, args.name, args.department, args.api_url,
            dict(args.setting),
        )  # fmt: skip
    if do == "change":
        return service.change_site(
            args.site, name=args.name, department=args.department, api_address=args.api_url,
            settings=dict(args.setting), unset=args.unset,
        )  # fmt: skip
    return service.set_site_active(args.site, do == "reactivate")


def _app_credentials(app: App, name: str, client_id: str, read_secret: Callable[[str], str]) -> int:
    from hsm_console.host.credentials import AppCredentials
    from hsm_console.services.access import require_administrator, resolve_actor

    platform = administration.app_platform(name)
    with app.db.session() as session:
        require_administrator(resolve_actor(session, app.username), "set up the City's apps")
    secret = read_secret(f"{platform.label} client secret (not shown): ")
    app.credentials.set_app(platform, AppCredentials(client_id, secret))
    out(
        safe_text(
            f"The City's {platform.label} app ({client_id.strip()}) is stored in this "
            "computer's keyring."
        )
    )
    return 0


def _connect(app: App, args: argparse.Namespace, read_secret: Callable[[str], str]) -> int:
    import webbrowser

    from hsm_console.errors import InvalidInput, NotPossible
    from hsm_console.services.connect import ConnectMethod, ConnectService, PageChoice

    service = ConnectService(
        app.db, app.username, app.credentials,
        open_browser=(lambda url: False) if args.no_browser else webbrowser.open,
        network=app.connector_overrides,
    )  # fmt: skip
    how = service.how(args.site)  # an administrator, and the site exists: before any prompt
    secret = None
    if how.method is ConnectMethod.PASSWORD:
        if not args.user:
            raise InvalidInput(
                "A WordPress site connects with a user name and an application password: "
                "give the user name with --user NAME."
            )
        secret = read_secret(f"Application password of {args.user} (not shown): ")
    elif how.method is ConnectMethod.API_KEY:
        secret = read_secret(f"Discourse API key for {args.user or how.user} (not shown): ")
    result = service.connect(
        args.site, progress=_say, timeout=args.timeout, user=args.user, secret=secret,
        page=args.page,
    )  # fmt: skip
    if isinstance(result, PageChoice):
        raise NotPossible(f"{result.message} Nothing was stored: run again with --page ID.")
    out(safe_text(result.message))
    return 0


def _say(words: str) -> None:
    out(safe_text(words))


def _report(change: Change) -> int:
    logged = f" Log entry {change.entry_id}." if change.entry_id else " Nothing was changed."
    out(safe_text(change.message + logged))
    if change.next_step:
        out(safe_text(f"Next, {change.next_step}"))
    return 0


def _list(app: App, what: str, as_json: bool) -> int:
    service = app.admin
    listers: dict[str, Callable[[], Sequence[Any]]] = {
        "department": service.departments, "person": service.people, "site": service.sites,
    }  # fmt: skip
    rows = listers[what]()
    if as_json:
        out(to_json([asdict(row) for row in rows]))
        return 0
    if not rows:
        out(f"No {what} yet.")
    for row in rows:
        out(_line(row))
    return 0


def _line(row: Any) -> str:
    from hsm_console.services import admin

    if isinstance(row, admin.DepartmentView):
        return f"{row.code:<12} {safe_text(row.name):<36} {row.sites} sites, {row.people} people"
    if isinstance(row, admin.PersonView):
        state = "" if row.active else "  [deactivated]"
        roles = "; ".join(row.roles) or "no role"
        return f"{safe_text(row.account):<28} {safe_text(row.display_name):<28} {roles}{state}"
    state = "" if row.active else "  [deactivated]"
    settings = ", ".join(f"{k}={v}" for k, v in sorted(row.settings.items()))
    return (
        f"{row.id:>4}  {row.platform:<10} {safe_text(row.name):<32} {row.department:<10} "
        f"{row.external_id}  {row.api_address}{'  ' + settings if settings else ''}{state}"
    )


def _settings(platform: str, as_json: bool) -> int:
    on = administration.platform(platform)
    known = administration.settings_of(on)
    if as_json:
        out(to_json({key: rule.words for key, rule in sorted(known.items())}))
        return 0
    default = administration.SITE_RULES[on].api_address or "the site's own address (required)"
    out(f"{on.label} sites: API address {default}; settings:")
    for key, rule in sorted(known.items()):
        out(f"  {key:<18} {rule.words}")
    return 0
