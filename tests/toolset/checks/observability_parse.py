"""Parse observability/prometheus/rules.yml (YAML) and grafana/dashboard.json
(JSON) and every PromQL expression in them with promql-parser (a Rust PromQL
parser). Run from the workspace root."""
import json
import sys

import promql_parser
import yaml

rules = yaml.safe_load(open("observability/prometheus/rules.yml", encoding="utf-8"))
n = 0
for g in rules["groups"]:
    assert isinstance(g["name"], str) and g["rules"], g
    for r in g["rules"]:
        assert ("record" in r) != ("alert" in r), r
        try:
            promql_parser.parse(r["expr"])
        except Exception as e:  # the parser raises ValueError subclasses
            sys.exit(f"rules.yml: group {g['name']}: {r.get('record') or r.get('alert')}: {e}: {r['expr']}")
        n += 1
dash = json.load(open("observability/grafana/dashboard.json", encoding="utf-8"))
m = 0
for p in dash["panels"]:
    for t in p.get("targets", []):
        try:
            promql_parser.parse(t["expr"])
        except Exception as e:
            sys.exit(f"dashboard.json: panel {p['id']} {p['title']}: {e}: {t['expr']}")
        m += 1
print(f"rules.yml: {len(rules['groups'])} groups, {n} PromQL expressions parse; "
      f"dashboard.json: {len(dash['panels'])} panels, {m} queries parse")
