"""Checks the local issuer's output with the IMS Global Open Badges validator.

Usage: validate_openbadges.py ASSERTION_URL RECIPIENT_EMAIL

Verifies the hosted assertion (with the recipient's e-mail), verifies the baked PNG, and
checks that the unbaked assertion equals the hosted one. The JSON-LD context is served from
the copy inside the validator package (CI has no internet); everything else is fetched
from the running Accolade instance. Exits non-zero on any error.
"""

import json
import sys
import tempfile
from urllib.parse import urlsplit

import requests
import responses
from openbadges.verifier import verify
from openbadges.verifier.openbadges_context import OPENBADGES_CONTEXT_V2_DICT
from openbadges_bakery import unbake

CONTEXT_URL = "https://w3id.org/openbadges/v2"


def report(name, result):
    rep = result["report"]
    errors = [m for m in rep["messages"] if m["messageLevel"] == "ERROR"]
    print(f"{name}: valid={rep['valid']} errors={rep['errorCount']} warnings={rep['warningCount']}")
    for message in rep["messages"]:
        print(f"  {message['messageLevel']} {message.get('name')}: {message.get('result')}")
    return rep["valid"] and not errors


def main():
    assertion_url, email = sys.argv[1], sys.argv[2]
    parts = urlsplit(assertion_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    hosted = requests.get(assertion_url, headers={"Accept": "application/ld+json"}, timeout=10)
    hosted.raise_for_status()
    if not hosted.headers["Content-Type"].startswith("application/ld+json"):
        sys.exit(f"assertion served as {hosted.headers['Content-Type']}")
    hosted_json = hosted.json()
    image = requests.get(hosted_json["image"], timeout=10)
    image.raise_for_status()

    ok = True
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, CONTEXT_URL, json=OPENBADGES_CONTEXT_V2_DICT, status=200)
        mock.add_passthru(origin)
        ok &= report("hosted assertion", verify(assertion_url, recipient_profile={"email": email}, use_cache=False))
        with tempfile.NamedTemporaryFile(suffix=".png") as baked:
            baked.write(image.content)
            baked.flush()
            with open(baked.name, "rb") as handle:
                ok &= report("baked PNG", verify(handle, recipient_profile={"email": email}, use_cache=False))
            with open(baked.name, "rb") as handle:
                embedded = json.loads(unbake(handle))
    if embedded != hosted_json:
        print("the baked assertion differs from the hosted one")
        ok = False
    else:
        print("baked PNG: unbakes to the hosted assertion")
    if not ok:
        sys.exit(1)
    print("Open Badges validation passed.")


if __name__ == "__main__":
    main()
