"""X-Twilio-Signature vectors computed by Twilio's own library (`twilio` from PyPI), so the bridge's
verifier is checked against the vendor's code rather than against a second copy of ours.

For each case Twilio "signs" `signed_url` with `compute_signature`, then `validate` says whether a
request that arrived at `request_url` with that signature is accepted; the two URLs differ where a
case checks the default-port rules. Repeated parameters go in as a MultiDict-like object (the shape
Flask hands the library), because a plain dict cannot repeat a name.

usage: twilio_signatures.py   (prints one JSON document on stdout)
"""
import hashlib
import json

from twilio.request_validator import HMAC_SHA256, RequestValidator

TOKEN = "12345678901234567890123456789012"


class MultiDict:
    """The part of werkzeug's MultiDict that RequestValidator uses: iteration over names, getall."""

    def __init__(self, pairs):
        self.pairs = pairs

    def __iter__(self):
        return iter([name for name, _ in self.pairs])

    def __bool__(self):
        return bool(self.pairs)

    def getall(self, name):
        return [value for key, value in self.pairs if key == name]


SMS = [
    ("ToCountry", "US"),
    ("SmsMessageSid", "SM0123456789abcdef0123456789abcdef"),
    ("NumMedia", "0"),
    ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
    ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
    ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
    ("From", "+15551230001"),
    ("To", "+15559870002"),
    ("Body", "Hi, do you have time on Friday? 50% off & free wax?"),
    ("ApiVersion", "2010-04-01"),
]
DIGITS = [
    ("CallSid", "CA0123456789abcdef0123456789abcdef"),
    ("Digits", "1"),
    ("From", "+15551230001"),
    ("To", "+15559870002"),
    ("FinishedOnKey", ""),
]

# name, signed_url, request_url, params (pairs), repeated names?
CASES = [
    ("plain", "https://bridge.example.com/sms", None, SMS),
    ("query string", "https://bridge.example.com/twilio/voice/gather?attempt=2&lang=en-US", None, DIGITS),
    ("https signed with :443, received without", "https://bridge.example.com:443/sms", "https://bridge.example.com/sms", SMS),
    ("https signed without port, received with :443", "https://bridge.example.com/sms", "https://bridge.example.com:443/sms", SMS),
    ("http signed with :80, received without", "http://bridge.example.com:80/twilio/status?x=1", "http://bridge.example.com/twilio/status?x=1", DIGITS),
    ("http signed without port, received with :80", "http://bridge.example.com/twilio/status", "http://bridge.example.com:80/twilio/status", DIGITS),
    ("custom port", "http://127.0.0.1:8080/twilio/voice/incoming", None, DIGITS),
    ("custom port signed, received without it", "https://bridge.example.com:8443/sms", "https://bridge.example.com/sms", SMS),
    ("signed without port, received with a custom port", "https://bridge.example.com/sms", "https://bridge.example.com:8443/sms", SMS),
    ("https signed with :80 is another URL", "https://bridge.example.com:80/sms", "https://bridge.example.com/sms", SMS),
    ("repeated parameters", "https://bridge.example.com/sms",
     None, [("Tag", "b"), ("From", "+15551230001"), ("Tag", "a"), ("Tag", "b"), ("Tag", "A"), ("To", "")]),
    ("names in code point order", "https://bridge.example.com/sms",
     None, [("b", "1"), ("B", "2"), ("a", "3"), ("To", "4"), ("ToCity", "5"), ("_", "6"), ("Z", "7")]),
    ("unicode values", "https://bridge.example.com/sms",
     None, [("Body", "Grüße 👋 — café, ¿qué tal? 日本語"), ("From", "+15551230001"), ("FromCity", "MÜNCHEN")]),
    ("precomposed and decomposed values are different strings", "https://bridge.example.com/sms",
     None, [("Body", "caf\u00e9"), ("Body", "cafe\u0301"), ("Body", "caf\u00e9")]),
    ("reserved characters in values", "https://bridge.example.com/sms",
     None, [("Body", "a=b&c=d + e%20f <x> \"q\" 'r'\nnew line\ttab")]),
    ("empty parameters", "https://bridge.example.com/twilio/voice/incoming?attempt=1", None, []),
    ("percent-encoded query", "https://bridge.example.com/twilio/voice/ai?attempt=1&note=caf%C3%A9%20ok", None, DIGITS),
    ("path prefix from a proxy", "https://example.com/servicepro/bridge/twilio/voice/ai?attempt=3", None, DIGITS),
]


def params_for(pairs):
    names = [name for name, _ in pairs]
    return MultiDict(pairs) if len(names) != len(set(names)) else dict(pairs)


def form_case(validator, name, signed_url, request_url, pairs, algorithm=None):
    params = params_for(pairs)
    signature = validator.compute_signature(signed_url, params, algorithm)
    request_url = request_url or signed_url
    return {
        "name": name,
        "signedURL": signed_url,
        "requestURL": request_url,
        "parameters": [[k, v] for k, v in pairs],
        "algorithm": algorithm or "HMAC_SHA1",
        "signature": signature,
        "valid": validator.validate(request_url, params, signature, algorithm),
    }


def json_case(validator, name, body, url_body=None):
    """A JSON webhook: the URL carries bodySHA256 of the body and is signed without parameters."""
    digest = hashlib.sha256((url_body if url_body is not None else body).encode("utf-8")).hexdigest()
    url = f"https://bridge.example.com/twilio/events?attempt=1&bodySHA256={digest}"
    signature = validator.compute_signature(url, {})
    return {
        "name": name,
        "url": url,
        "body": body,
        "signature": signature,
        "valid": validator.validate(url, body, signature),
    }


def main():
    validator = RequestValidator(TOKEN)
    form = [form_case(validator, *case) for case in CASES]
    form.append(form_case(validator, "HMAC-SHA256 (SharedKey)", "https://bridge.example.com/sms", None, SMS, HMAC_SHA256))
    form.append(form_case(validator, "HMAC-SHA256 with :443", "https://bridge.example.com:443/sms",
                          "https://bridge.example.com/sms", DIGITS, HMAC_SHA256))
    body = json.dumps({"CallSid": "CA0123456789abcdef0123456789abcdef", "Note": "café & <tea>"})
    bodies = [
        json_case(validator, "JSON body", body),
        json_case(validator, "JSON body changed after signing", body + " ", url_body=body),
    ]
    print(json.dumps({"token": TOKEN, "form": form, "json": bodies}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
