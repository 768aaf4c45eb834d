"""``python -m sandbox.nettskjema [serve options]`` or ``python -m sandbox.nettskjema submit ...``.

Fill in a form from the command line (what a user does in the demo)::

    python -m sandbox.nettskjema submit --url http://127.0.0.1:8704 --form laptop \\
        feide=sigkva@oslomet.no model=thinkpad-t14 location=pilestredet \\
        needed_by=01.12.2026 accessories=dock:yes,headset:yes
    python -m sandbox.nettskjema submit --form fritak name="Kari Ås" courses=DATA1100,DATA1200 \\
        level=bachelor:yes,master:no --attach attachment_1=vitnemål.pdf

CHECKBOX values are comma-separated option ids; matrix values are ``row:option`` pairs
separated by commas (several options in one row: ``row:a|b``). Prints the new submission id.

The sandbox's control routes need its control token: ``--control-token``, else
``$HUB_SANDBOX_TOKEN``, else the running demo's ``var/sandbox/control-token`` (or
``var/sandbox/nettskjema/control-token`` of a sandbox started alone) is used.
"""

from __future__ import annotations

import argparse
import base64
import mimetypes
import sys
from pathlib import Path
from typing import Any

import httpx

from sandbox.common import MissingControlToken, control_headers, find_control_token
from sandbox.nettskjema.forms import CHECKBOX, FORMS, MATRIX_TYPES, Form, form_by_ref
from sandbox.nettskjema.process import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PORT,
    DEFAULT_TOKEN_TTL,
)

__all__ = ["main", "parse_answers"]


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID,
                        help="The hub's API client; <id>@apiclient is granted the hub forms.")
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET, help="Its client secret.")
    parser.add_argument("--token-ttl", type=int, default=DEFAULT_TOKEN_TTL,
                        help="Access-token lifetime in seconds (expires_in).")


def _split(value: str, sep: str) -> list[str]:
    return [part.strip() for part in value.split(sep) if part.strip()]


def parse_answers(form: Form, pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` arguments → the control route's ``answers`` object."""
    answers: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"expected KEY=VALUE, got {key!r}")
        element = form.element(key.strip())
        if element is None:
            known = ", ".join(str(e.external_id) for e in form.questions)
            raise ValueError(f"form {form.form_id} has no element {key!r}; elements: {known}")
        if element.element_type == CHECKBOX:
            answers[key] = _split(value, ",")
        elif element.element_type in MATRIX_TYPES:
            rows: dict[str, Any] = {}
            for cell in _split(value, ","):
                row, _, options = cell.partition(":")
                chosen = _split(options, "|")
                rows[row.strip()] = chosen[0] if len(chosen) == 1 else chosen
            answers[key] = rows
        else:
            answers[key] = value
    return answers


def _attachments(specs: list[str]) -> dict[str, list[dict[str, str]]]:
    files: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        key, sep, name = spec.partition("=")
        if not sep:
            raise ValueError(f"expected --attach KEY=path, got {spec!r}")
        path = Path(name)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files.setdefault(key.strip(), []).append({
            "filename": path.name, "mediaType": media_type,
            "contentBase64": base64.b64encode(path.read_bytes()).decode("ascii")})
    return files


def _submit_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.nettskjema submit",
                                     description="Fill in one sandbox form; print the submission id.")
    parser.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="Sandbox root URL.")
    parser.add_argument("--form", required=True, help="laptop, fritak, rooms, rooms-cancel or a form id.")
    parser.add_argument("--attach", action="append", default=[], metavar="KEY=PATH",
                        help="Attach a file to an ATTACHMENT element (repeatable).")
    parser.add_argument("--created", default=None, help="createdDate (ISO 8601); default: now.")
    parser.add_argument("--name", default=None, help="Respondent name (person.name).")
    parser.add_argument("--email", default=None, help="Respondent e-mail (person.email).")
    parser.add_argument("--control-token", default=None, help="The sandbox's control token (default: "
                        "$HUB_SANDBOX_TOKEN, else var/sandbox/control-token of the running demo).")
    parser.add_argument("answers", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    form = form_by_ref(args.form)
    if form is None:
        known = ", ".join(f"{f.aliases[0]} ({f.form_id})" for f in FORMS.values() if f.aliases)
        print(f"unknown form {args.form!r}; the sandbox has: {known}", file=sys.stderr)
        return 2
    try:
        body: dict[str, Any] = {"answers": parse_answers(form, args.answers),
                                "attachments": _attachments(args.attach),
                                "person": {"name": args.name, "email": args.email}}
    except (ValueError, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.created:
        body["createdDate"] = args.created
    try:
        headers = control_headers(args.control_token, sandbox="nettskjema")
    except MissingControlToken as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        response = httpx.post(f"{args.url.rstrip('/')}/_sandbox/forms/{form.form_id}/submissions",
                              json=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        print(f"sandbox unreachable: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 2
    if response.status_code == 401:
        found = find_control_token("nettskjema") if not args.control_token else None
        used = f"the token from {found[1]}" if found else "the token given"
        print(f"the sandbox refused {used} (401): pass the running sandbox's token with --control-token "
              f"or HUB_SANDBOX_TOKEN (the demo keeps it in var/sandbox/control-token)", file=sys.stderr)
        return 2
    if response.status_code != 201:
        print(f"{response.status_code}: {response.text}", file=sys.stderr)
        return 1
    print(response.json()["submissionId"])
    print(f"submission {response.json()['submissionId']} stored in form {form.form_id} ({form.title}); the hub "
          f"picks it up within a minute: Prefect UI → Runs, or `hub items`", file=sys.stderr)
    return 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "submit":
        raise SystemExit(_submit_cli(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        del sys.argv[1]
    from sandbox.common import serve_main
    from sandbox.nettskjema.app import create_app

    serve_main("nettskjema", lambda a: create_app(a.data_dir, a.client_id, a.client_secret, a.token_ttl,
                                                 a.control_token),
               default_port=DEFAULT_PORT, extra=_serve_options)


if __name__ == "__main__":
    main()
