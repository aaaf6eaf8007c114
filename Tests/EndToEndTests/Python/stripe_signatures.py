"""Stripe webhook signature vectors from Stripe's own library (stripe-python).

Prints JSON: the time the vectors were made at, and cases of payload, Stripe-Signature header and
secret with the library's verdict (`stripe.WebhookSignature.verify_header`, tolerance 300 s) as of
that time. The Swift verifier must reach the same verdict on every case.
"""
import json
import time
from unittest import mock

import stripe
from stripe import WebhookSignature

SECRET = "whsec_test_current_0123456789abcdef"
OLD_SECRET = "whsec_test_previous_fedcba9876543210"
TOLERANCE = 300

now = int(time.time())
payload = json.dumps({
    "id": "evt_1QvectorA",
    "object": "event",
    "type": "customer.subscription.updated",
    "created": now,
    "data": {"object": {"object": "subscription", "id": "sub_1Qvector", "customer": "cus_Qvector", "status": "active"}},
}, separators=(",", ":"))
other_payload = payload.replace('"active"', '"canceled"')
unicode_payload = payload.replace("sub_1Qvector", "sub_1Qvéctor ✓")


def signature(body, secret, timestamp):
    return WebhookSignature._compute_signature("%d.%s" % (timestamp, body), secret)


def header(timestamp, *signatures, extra=""):
    parts = ["t=%d" % timestamp] + ["v1=%s" % s for s in signatures]
    return ",".join(parts) + extra


cases = [
    ("signed now", payload, WebhookSignature.generate_signature_header(payload, SECRET, now), SECRET),
    ("signed 299 s ago", payload, header(now - 299, signature(payload, SECRET, now - 299)), SECRET),
    ("signed 301 s ago", payload, header(now - 301, signature(payload, SECRET, now - 301)), SECRET),
    ("signed an hour ago", payload, header(now - 3600, signature(payload, SECRET, now - 3600)), SECRET),
    ("wrong secret", payload, header(now, signature(payload, OLD_SECRET, now)), SECRET),
    ("payload changed after signing", other_payload, header(now, signature(payload, SECRET, now)), SECRET),
    ("timestamp changed after signing", payload, header(now - 5, signature(payload, SECRET, now)), SECRET),
    ("rotation: old then current v1", payload, header(now, signature(payload, OLD_SECRET, now), signature(payload, SECRET, now)), SECRET),
    ("rotation: verified with the old secret", payload, header(now, signature(payload, OLD_SECRET, now), signature(payload, SECRET, now)), OLD_SECRET),
    ("v0 scheme only", payload, "t=%d,v0=%s" % (now, signature(payload, SECRET, now)), SECRET),
    ("v0 beside a valid v1", payload, header(now, signature(payload, SECRET, now), extra=",v0=deadbeef"), SECRET),
    ("no v1 at all", payload, "t=%d" % now, SECRET),
    ("truncated signature", payload, header(now, signature(payload, SECRET, now)[:-2]), SECRET),
    ("non-ASCII payload", unicode_payload, header(now, signature(unicode_payload, SECRET, now)), SECRET),
]

out = {"now": now, "tolerance": TOLERANCE, "cases": []}
# The library reads the clock itself (time.time()). It is held at `now`, the time the Swift side
# checks against, so a slow run cannot carry a case near the tolerance's edge across it.
with mock.patch.object(time, "time", return_value=float(now)):
    for name, body, sig_header, secret in cases:
        try:
            WebhookSignature.verify_header(body, sig_header, secret, tolerance=TOLERANCE)
            valid = True
        except stripe.SignatureVerificationError:
            valid = False
        out["cases"].append({"name": name, "payload": body, "header": sig_header, "secret": secret, "valid": valid})
print(json.dumps(out))
