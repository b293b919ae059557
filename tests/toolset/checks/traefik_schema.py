"""Check conf_snippets/traefik/dynamic.yml (traefik_hsts) as Traefik would take it.

    python traefik_schema.py [WORKSPACE]     (default: the current directory)

1. It validates against Traefik v3's published JSON Schema for the file
   provider (vendored: tests/toolset/schemas/traefik-v3-file-provider.json,
   source in tests/toolset/schemas/README.md).
2. What the schema leaves open is asserted: every TLS router on `websecure`
   goes through a `headers` middleware with HSTS (stsSeconds at least one
   year, stsIncludeSubdomains, stsPreload, forceSTSHeader), every router and
   middleware reference resolves, the rule is a Host() rule, and
   tls.options.default has minVersion VersionTLS12/13 and sniStrict.
3. Negatives: copies of the file with stsSeconds removed, stsSeconds below a
   year or a string, and a misspelt key (stsIncludeSubDomains) must each be
   reported, by the schema or by the HSTS assertions.

Prints one line per assertion (`PASS …` / `FAIL …`); exits 1 on any failure.
"""

import copy
import json
import pathlib
import re
import sys

import jsonschema
import yaml

HERE = pathlib.Path(__file__).resolve().parent
SCHEMA = HERE.parent / "schemas" / "traefik-v3-file-provider.json"
FILE = "conf_snippets/traefik/dynamic.yml"
ONE_YEAR = 31_536_000
TLS_VERSIONS = {"VersionTLS12", "VersionTLS13"}

failures = 0


def report(ok, what, evidence):
    global failures
    if not ok:
        failures += 1
    print(f"{'PASS' if ok else 'FAIL'}  {what}: {evidence}")


def schema_errors(validator, doc):
    """`path: message` per schema error (for oneOf branches, the most relevant one)."""
    out = []
    for e in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        best = jsonschema.exceptions.best_match([e])
        path = "/".join(str(p) for p in best.absolute_path) or "(root)"
        out.append(f"{path}: {best.message}")
    return out


def hsts_problems(doc):
    """What is wrong with HSTS, TLS and references: `(area, message)` pairs
    (area `hsts`, `tls` or `routing`; empty: all good)."""
    problems = []
    if not isinstance(doc, dict):
        return [("routing", "the document is not a mapping")]
    http = doc.get("http") or {}
    routers = http.get("routers") or {}
    services = http.get("services") or {}
    middlewares = http.get("middlewares") or {}
    tls_routers = [n for n, r in routers.items() if isinstance(r, dict) and "tls" in r and "websecure" in (r.get("entryPoints") or [])]
    if not tls_routers:
        problems.append(("tls", "no TLS router on the websecure entry point"))
    for name, r in routers.items():
        if not isinstance(r, dict):
            problems.append(("routing", f"router {name} is not a mapping"))
            continue
        if r.get("service") not in services:
            problems.append(("routing", f"router {name}: service {r.get('service')!r} is not defined"))
        for m in r.get("middlewares") or []:
            if m not in middlewares:
                problems.append(("routing", f"router {name}: middleware {m!r} is not defined"))
        if not re.fullmatch(r"Host\(`[A-Za-z0-9.-]+`\)", str(r.get("rule", ""))):
            problems.append(("routing", f"router {name}: rule {r.get('rule')!r} is not a Host() rule"))
    for name in tls_routers:
        r = routers[name]
        headers = [middlewares[m]["headers"] for m in r.get("middlewares") or []
                   if isinstance(middlewares.get(m), dict) and isinstance(middlewares[m].get("headers"), dict)]
        hsts = [h for h in headers if "stsSeconds" in h]
        if not hsts:
            problems.append(("hsts", f"router {name}: no headers middleware sets stsSeconds (HSTS)"))
            continue
        for h in hsts:
            sts = h.get("stsSeconds")
            if not isinstance(sts, int) or isinstance(sts, bool) or sts < ONE_YEAR:
                problems.append(("hsts", f"router {name}: stsSeconds {sts!r} is not an integer of at least one year ({ONE_YEAR})"))
            for key in ("stsIncludeSubdomains", "stsPreload", "forceSTSHeader"):
                if h.get(key) is not True:
                    problems.append(("hsts", f"router {name}: {key} is {h.get(key)!r}, not true"))
        opts = (r.get("tls") or {}).get("options", "default")
        if opts != "default":
            problems.append(("tls", f"router {name}: TLS options {opts!r} instead of default"))
    default = ((doc.get("tls") or {}).get("options") or {}).get("default") or {}
    if default.get("minVersion") not in TLS_VERSIONS:
        problems.append(("tls", f"tls.options.default.minVersion is {default.get('minVersion')!r}, not one of {sorted(TLS_VERSIONS)}"))
    if default.get("sniStrict") is not True:
        problems.append(("tls", "tls.options.default.sniStrict is not true"))
    return problems


def hsts_middleware(doc):
    """The name of the headers middleware that sets stsSeconds."""
    for name, m in (doc.get("http", {}).get("middlewares") or {}).items():
        if isinstance(m, dict) and isinstance(m.get("headers"), dict) and "stsSeconds" in m["headers"]:
            return name
    return None


def main():
    ws = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    text = (ws / FILE).read_text()
    doc = yaml.safe_load(text)

    errors = schema_errors(validator, doc)
    report(not errors, "schema", f"{FILE} is valid against {SCHEMA.name} ({cls.__name__})" if not errors else "; ".join(errors))
    problems = hsts_problems(doc)
    mw = hsts_middleware(doc)
    if mw:
        h = doc["http"]["middlewares"][mw]["headers"]
        evidence = f"middleware {mw}: " + ", ".join(f"{k} {json.dumps(h.get(k))}" for k in
                                                    ("stsSeconds", "stsIncludeSubdomains", "stsPreload", "forceSTSHeader"))
    else:
        evidence = "no headers middleware with stsSeconds"
    by_area = lambda area: [m for a, m in problems if a == area]
    hsts_only = by_area("hsts")
    report(not hsts_only, "hsts", evidence if not hsts_only else "; ".join(hsts_only))
    tls = ((doc.get("tls") or {}).get("options") or {}).get("default") or {}
    tls_problems = by_area("tls")
    report(not tls_problems, "tls",
           f"tls.options.default minVersion {tls.get('minVersion')}, sniStrict {json.dumps(tls.get('sniStrict'))}, "
           f"{len(tls.get('cipherSuites') or [])} cipher suites" if not tls_problems else "; ".join(tls_problems))
    rest = by_area("routing")
    routers = doc.get("http", {}).get("routers") or {}
    report(not rest, "routing",
           ", ".join(f"{n}: {r.get('rule')} on {','.join(r.get('entryPoints') or [])} → {r.get('service')}" for n, r in routers.items())
           if not rest else "; ".join(rest))

    # Negatives: each broken copy must be reported.
    if mw is None:
        report(False, "negatives", "no HSTS middleware to break")
        return
    def broken(edit):
        d = copy.deepcopy(doc)
        edit(d["http"]["middlewares"][mw]["headers"])
        return d
    cases = [
        ("stsSeconds removed", broken(lambda h: h.pop("stsSeconds"))),
        ("stsSeconds 86400", broken(lambda h: h.update(stsSeconds=86400))),
        ("stsSeconds as a string", broken(lambda h: h.update(stsSeconds=str(h["stsSeconds"])))),
        ("misspelt key stsIncludeSubDomains", broken(lambda h: h.update(stsIncludeSubDomains=h.pop("stsIncludeSubdomains")))),
    ]
    tls_gone = copy.deepcopy(doc)
    tls_gone["tls"]["options"]["default"]["minVersion"] = "VersionTLS10"
    cases.append(("minVersion VersionTLS10", tls_gone))
    for what, d in cases:
        found = [f"by the schema: {m}" for m in schema_errors(validator, d)] + \
                [f"by the {area} assertion: {m}" for area, m in hsts_problems(d)]
        report(bool(found), f"negative ({what})", f"reported {found[0]}" if found else "NOT reported")


if __name__ == "__main__":
    main()
    sys.exit(1 if failures else 0)
