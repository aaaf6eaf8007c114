"""Reads an export archive with Python's own zipfile, csv and json modules.

Prints JSON: the manifest, and per entity file its SHA-256 and its parsed rows (CSV records as
objects keyed by the header; JSON Lines as objects). The Swift tests compare these with the
stored rows, so the archive is checked by parsers the platform did not write.
"""
import csv
import hashlib
import io
import json
import sys

import zipfile

path = sys.argv[1]
out = {"files": {}}
with zipfile.ZipFile(path) as archive:
    bad = archive.testzip()
    if bad is not None:
        sys.exit("corrupt member: %s" % bad)
    out["names"] = sorted(archive.namelist())
    out["manifest"] = json.loads(archive.read("manifest.json"))
    for name in archive.namelist():
        if name == "manifest.json":
            continue
        data = archive.read(name)
        entry = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        text = data.decode("utf-8")
        if name.endswith(".csv"):
            entry["rows"] = list(csv.DictReader(io.StringIO(text, newline="")))
        else:
            entry["rows"] = [json.loads(line) for line in text.splitlines() if line]
        out["files"][name] = entry
print(json.dumps(out))
