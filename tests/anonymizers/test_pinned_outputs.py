"""Every transformer's outputs pinned for one key and a varied input set: a changed output would stop staging
from joining with earlier releases, so any change here must be deliberate (and announced as a key rotation)."""

from __future__ import annotations

import hashlib
import json

import pytest

from prodlike.anonymizers import registry
from prodlike.anonymizers.base import ColumnInfo, Transformer

KEY = b"pinned-outputs-key-0123456789-0123456789"

TEXT = (["", " ", "a", "A", "\t", "\\", "\\N", "tab\there", "back\\slash", "new\nline", "ß", "İstanbul", "ǅ", "日本語",
         "🎉", "e\u0301", "Zoë Ñúñez-Łukasz", "x" * 5000, "+49 " + "1" * 300, "a@b", "@", "USER@Example.COM",
         "名前@例え.jp", "2001:db8::1", "10.1.2.3", "SKU-0012345", "-42", "007", "9" * 30, "12.5", "{}", "null"]
        + [f"user{i}@mail{i % 97}.example.org" for i in range(200)]
        + [f"+49 30 {i * 7919 % 10_000_000:07d}" for i in range(200)]  # one prefix and shape: the vector paths
        + [f"{('', ' ', '+1 ', '0049-', '+353', '(555) ')[i % 6]}{i * 104729 % 10 ** (3 + i % 11)}" for i in range(300)]
        + [f"SKU-{i * 31:07d}" for i in range(100)] + [f"Name{i} Surname{i * 7 % 101}" for i in range(100)])
DATES = [f"{1950 + i % 70}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(100)] + ["2020-02-29", "1999-12-31"]
NUMBERS = ["0", "-0", "1", "-1", "007", "12.50", "-3.25", "1e5", "99999999999999999999"] + [
    str(i * 7919) for i in range(100)]
IPS = ["10.0.0.1", "192.168.1.254", "2001:db8::1", "::1", "fe80::1%eth0", "256.1.1.1", "x"] + [
    f"10.{i % 256}.{i * 7 % 256}.{i * 13 % 256}" for i in range(100)]
JSON = ['{"contact": {"email": "a@b.example"}, "n": 1}', '{"items": [{"phone": "+1 555 0100"}]}', "[]", "null",
        '"mail me at x@y.example"', '{"note": "call +49 30 1234567"}']
INPUTS = {"S": TEXT, "D": DATES, "N": NUMBERS, "I": IPS, "U": JSON}

CATEGORY = {"date_shift": "D", "birth_date": "D", "numeric_noise": "N", "ip": "I", "json": "U"}
PARAMS = {"constant": {"value": "x"}, "json": {"paths": {"contact.email": "email", "items.*.phone": "phone"}}}
VARIANTS = [(name, PARAMS.get(name, {}), CATEGORY.get(name, "S")) for name in registry.names()] + [
    ("tokenize", {}, "N"), ("email", {"keep_domain": True}, "S"), ("email", {"domain": "corp.test"}, "S"),
    ("hash", {"length": 17}, "S"), ("hash", {"length": 64}, "S"), ("hash", {"encoding": "base64", "length": 43}, "S")]

# sha256 of the JSON of transform(INPUTS[category] + [None]), computed before the vectorized fast paths of
# November 2026 were added; they must not move.
PINNED = {
    'address {} S': '8ef6279666c706b19acc0924ecca95bb4b22b6f4e19f96a4f8e67a965e4010de',
    'birth_date {} D': 'b8220e12a74e4050fd57239bf61cb54f5d7b7a49ac8d80eca423df8420afccb5',
    'city {} S': '208ad2c5a0ab5a34a7024dd0d774bd78ebdefbcfe0de44d1717a483f2fa9848d',
    'constant {"value": "x"} S': '2c54f4e29a43575d3c97002a8316aa432051b152044652e4f10df8443b1ca8d1',
    'date_shift {} D': '34bec63509e7bffb2577316c1b1c9df82557f9714f4a46389561d13db12eda46',
    'email {} S': '658ffedc1e8ecbcf0bed854996c3782b194afef17fb544880783e39ac5de9417',
    'first_name {} S': '58fd2001be06ee99ed018e4673f4f19aeb73bc5fc1d9ac38135f8333fddb0f29',
    'full_name {} S': 'bbaf2462cc32f09f1623d530648a76515e64a86d63dcf56412d02b2372e74e7c',
    'hash {} S': '70b4bb601151bd8a8fc03728a42fbfb693e6a6a9b3bc882a03714d1c3e481dc8',
    'ip {} I': '14c1921828ab42d68008c2cb7ee104915d78edcf26985f56f73356f02ad6ee43',
    'json {"paths": {"contact.email": "email", "items.*.phone": "phone"}} U':
        '3d976a2b19b5adeac5ff2dba378a66d4fd00c6ef43f5183bdf7e4fb0b34927d4',
    'keep {} S': 'e5a32e1d566dbdb8caf98a738f4707bc6dec02c9877ec0959bba2b6db3f8f1f2',
    'last_name {} S': 'dddc13d6ca686a6d1ff2e2d37d74c040575b982f2a2d9c2c39410fdb753de4fe',
    'mask {} S': '74e802d6b10a57d6386d0fd09803e67d049eb2fefe6d915b0c0ac5325906a34a',
    'null {} S': '7a9ca3f7dce87ba2161df35a78ef384a2b8cc225c6e2ff0296a839a3ea1f334c',
    'numeric_noise {} N': 'edc5481ba57081698b972a5227a20a3fffa5d87d3b8d9d31db77b6c87149c3f9',
    # changed on purpose (issue 16): phones keep their area code (json and regex_redact write phones too); and
    # (December 2026) letters and digits of other scripts are permuted, not copied (fpe.SCRIPT_RANGES): phone's
    # fallback for what is no phone number, postcode and tokenize of text
    'phone {} S': '3ab6a7e8bee8b8818c28c8fa382e716a721f9dfc2269f944c212f8ab0e9e3417',
    'postcode {} S': '29e038c7410fc6cb320bdcca21523fecf91d743b255df4a2f26a040044dde05b',
    # changed on purpose (issue 16): phones found by libphonenumber (national formats too), person names replaced
    'regex_redact {} S': '92ca2557c9b003d56426f57d9ab88145c9565e9f91f638abe577f8a850a139e3',
    'street {} S': '1a189cc342998672cc5532dda808a280d571f9cfe7434ac405304c7094a728df',
    'tokenize {} S': '45257424838d8cc6722711278d3085a01dacb31a9009ab1462c9f2798dfe9b44',
    'tokenize {} N': '6336052fbd0785c226b08ff48377a0eaad4cf6a4e3ef7badb51d6575be409ba7',
    'email {"keep_domain": true} S': '7c97277594b9110b3e938718ea0fe36ed1639cd3b1fc47be93e108ed4450d21f',
    'email {"domain": "corp.test"} S': '38373bf0c01a6a1a44e5a213cfc36f9f6da55e682dddbf43dda44e4179892b13',
    'hash {"length": 17} S': '6c318811ab86797519a3c699b91dfaa45af7785f08715975a33205a9bfc5c53b',
    'hash {"length": 64} S': '43dde9cea4f81af1ab7bf00ab9544df84449aa5abd02ce8b0df9f84eca0db250',
    'hash {"encoding": "base64", "length": 43} S': '864688994de1230b6c8ea71f6fc7063b90f19ac00ef953e1c10f62c34a0ea3f4',
}


def _digest(name: str, params: dict, category: str) -> str:
    t = registry.get(name)(params, KEY, ColumnInfo(type_category=category))
    out = t.transform(INPUTS[category] + [None])
    assert out[-1] is None or name == "null"
    first = INPUTS[category][:40]
    if type(t).one is not Transformer.one:  # one value at a time (free text, json): the same outputs
        assert [t.one(v) for v in first] == out[:len(first)]
    return hashlib.sha256(json.dumps(out).encode()).hexdigest()


@pytest.mark.parametrize("name, params, category", VARIANTS,
                         ids=[f"{n}-{json.dumps(p, sort_keys=True)}-{c}" for n, p, c in VARIANTS])
def test_outputs_are_pinned(name, params, category):
    assert _digest(name, params, category) == PINNED[_key(name, params, category)]


def test_every_variant_is_pinned():
    assert {_key(*variant) for variant in VARIANTS} == set(PINNED)


def _key(name: str, params: dict, category: str) -> str:
    return f"{name} {json.dumps(params, sort_keys=True)} {category}"


if __name__ == "__main__":  # prints the PINNED table (only ever for a deliberate, announced change)
    for variant in VARIANTS:
        line = f"    {_key(*variant)!r}: {_digest(*variant)!r},"
        print(line if len(line) <= 120 else line.replace(": ", ":\n        ", 1))
