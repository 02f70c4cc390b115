"""schemathesis hooks for scripts/api-fuzz.sh: how to generate the document's own string format.

`enrollment-id` is Entrust's enrollment reference, the Base64 of a JSON object; a random string
is almost never one, so without this the fuzzer would only ever send invalid ids (a 400).
"""

import base64
import json
import string

import schemathesis
from hypothesis import strategies as st

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
