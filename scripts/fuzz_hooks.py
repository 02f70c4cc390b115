"""schemathesis hooks for scripts/api-fuzz.sh: how to generate the document's own string format,
three changes to generated requests, and a wait for each job a call creates (so that a run is
repeatable).

`enrollment-id` is Entrust's enrollment reference, the Base64 of a JSON object; a random string
is almost never one, so without this the fuzzer would only ever send invalid ids (a 400).
"""

import base64
import json
import string
import time
import urllib.parse

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation

_attribute = st.text(alphabet=string.ascii_uppercase + string.digits + "_", min_size=1, max_size=24)
_value = st.one_of(st.text(min_size=0, max_size=24), st.integers(min_value=0, max_value=10**9))


def _encode(workflow, clause, url_safe, padded):
    raw = json.dumps({"workflowId": str(workflow), "whereClause": clause}).encode()
    text = (base64.urlsafe_b64encode if url_safe else base64.b64encode)(raw).decode()
    return text if padded else text.rstrip("=")


schemathesis.openapi.format(
    "enrollment-id",
    st.builds(
        _encode,
        st.uuids(),
        st.dictionaries(_attribute, _value, min_size=1, max_size=3),
        st.booleans(),
        st.booleans(),
    ),
)


# Before each call: two changes to what schemathesis generated, each for a reason below.
@schemathesis.hook
def before_call(context, case, kwargs):
    _no_idempotency_key_in_stateful_phase(case)
    _whole_upload_index(case)
    _no_made_up_cursor(case)


# An Idempotency-Key binds the first body sent with it for 24 hours; the same key with another
# body is then answered 422. Hypothesis replays a scenario's steps and expects the answers it
# had: a key bound meanwhile by another scenario answers 422 where it answered 200, and
# Hypothesis ends the stateful phase as flaky ("Inconsistent data generation") after a few
# dozen of its scenarios. So the stateful phase sends none; the other phases fuzz the key.
def _no_idempotency_key_in_stateful_phase(case):
    if case.meta is not None and case.meta.phase.name == "stateful" and case.headers:
        case.headers.pop("Idempotency-Key", None)


# JSON Schema counts 229.0 as an integer (it is the number 229), and schemathesis sends such
# whole floats for `type: integer`; the server takes an account's uploadIndex only as a JSON
# integer and answers 400 to 229.0 (the document's description says so; no schema can). Until
# that is decided, an upload's whole-float uploadIndex is sent as the integer it equals.
def _whole_upload_index(case):
    if case.method.upper() != "POST" or case.operation.path != "/PasswordVault/API/BulkActions/Accounts":
        return
    accounts = case.body.get("accountsList") if isinstance(case.body, dict) else None
    for account in accounts if isinstance(accounts, list) else []:
        index = account.get("uploadIndex") if isinstance(account, dict) else None
        if isinstance(index, float) and index.is_integer():
            account["uploadIndex"] = int(index)


# A rows page's cursor is a value only the server makes (a position in one job's rows): any
# other value is refused with 400, however well it fits the document. So a rows call whose
# query was generated valid is sent without its made-up cursor (tests/rows.rs and
# tests/accounts_rows.rs follow real ones); a query generated invalid keeps it, to be refused.
def _no_made_up_cursor(case):
    if not case.operation.path.endswith("/rows") or not isinstance(case.query, dict):
        return
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.QUERY):
        return
    case.query.pop("cursor", None)


# Jobs run in the server's workers, at their own pace. A call that depends on how far a job
# got (a cancel answers 200 before the job is final and 409 after; a retry 409 before and 200
# after) would answer by a race, and schemathesis follows different paths after different
# answers (after a 200 it runs more checks), so no two runs would be alike. Every call that
# creates a job therefore waits here until that job is final: all later calls find it
# COMPLETED, FAILED or CANCELLED (an upload completed or failed), and a run is repeatable.
# A cancel of a job that is still running is thus never fuzzed (tests/mfp_flow.rs has one).
_FINAL_FLASH_PASS = {"COMPLETED", "CANCELLED", "FAILED"}
_FINAL_UPLOAD = {"completedSuccessfully", "completedWithErrors", "failed"}
_WAIT_SECONDS = 30


def _created_job(case, response):
    """(URL of the job's status, its status field, final values) of a job the call created."""
    if case.method.upper() != "POST" or response.status_code not in (200, 202):
        return None
    request = urllib.parse.urlsplit(response.request.url)
    origin = f"{request.scheme}://{request.netloc}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    # A flash pass create or retry answers the BulkOperation; an upload create its bare id.
    # A staged create's job (with its `upload` target) waits for a file the fuzzer never
    # sends: nothing of it runs, so there is nothing to wait for.
    if isinstance(body, dict) and "upload" in body:
        return None
    if response.status_code == 200 and isinstance(body, dict) and "state" in body:
        return f"{origin}/api/web/v1/mobileFlashPass/{body['id']}", "state", _FINAL_FLASH_PASS
    if response.status_code == 202 and isinstance(body, int) and not isinstance(body, bool):
        return f"{origin}/PasswordVault/API/BulkActions/Accounts/{body}", "Status", _FINAL_UPLOAD
    return None


@schemathesis.hook
def after_call(context, case, response):
    """Waits until the job the call created, if any, is final."""
    created = _created_job(case, response)
    if created is None:
        return
    url, field, final = created
    headers = {"Authorization": response.request.headers["Authorization"]}
    deadline = time.monotonic() + _WAIT_SECONDS
    while True:
        answer = requests.get(url, headers=headers, timeout=_WAIT_SECONDS)
        if answer.status_code != 200 or answer.json().get(field) in final:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} is not final after {_WAIT_SECONDS} s: {answer.text}")
        time.sleep(0.005)
