"""Check `docker-compose config`'s resolved output (check_healthcheck.sh).

    python3 healthcheck_compose.py RESOLVED_YAML

Every service has a healthcheck with a CMD/CMD-SHELL test, interval,
timeout, retries and start_period; every depends_on entry is a mapping
whose condition is service_healthy and whose target exists and has a
healthcheck. Prints one summary line; exit 1 with the problems otherwise.
"""

from __future__ import annotations

import sys

import yaml


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    services = doc.get("services") or {}
    problems: list[str] = []
    edges: list[str] = []
    for name, svc in sorted(services.items()):
        hc = svc.get("healthcheck")
        if not hc:
            problems.append(f"{name}: no healthcheck")
        else:
            test = hc.get("test")
            if not (isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL")):
                problems.append(f"{name}: healthcheck.test {test!r} is not a CMD list")
            for key in ("interval", "timeout", "retries", "start_period"):
                if key not in hc:
                    problems.append(f"{name}: healthcheck.{key} missing")
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on is a list (no condition)")
            continue
        for dep, spec in sorted(deps.items()):
            cond = (spec or {}).get("condition")
            if cond != "service_healthy":
                problems.append(f"{name} -> {dep}: condition {cond!r}")
            if dep not in services:
                problems.append(f"{name} -> {dep}: no such service")
            elif not services[dep].get("healthcheck"):
                problems.append(f"{name} -> {dep}: {dep} has no healthcheck")
            edges.append(f"{name}->{dep}")
    if not edges:
        problems.append("no depends_on at all")
    if problems:
        print("; ".join(problems))
        return 1
    print(f"{len(services)} services all with healthchecks; {len(edges)} depends_on all service_healthy: {' '.join(edges)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
