"""What `adr_manager` does beside its input, output and tool class (in
`adr_manager_py.py`): a line-by-line port of `plugins/adr_manager/src/records.rs`,
in the same order, so the two read side by side."""

from typing import Dict, List, Tuple

from service_model import Finding
from service_model.adr import Adr

from adr_types import Record


def name_of(file: str) -> str:
    return file.rsplit("/", 1)[-1]


def manage(adrs: List[Adr]) -> Tuple[List[Record], List[Finding]]:
    problems: List[Finding] = []
    by_number: Dict[int, Adr] = {}
    for a in adrs:
        for line, m in a.problems:
            problems.append(Finding(a.file, f"{line}:1", m))
        if a.number in by_number:
            first = by_number[a.number]
            problems.append(Finding(a.file, "1:1", f"number {a.number:04} is also {first.file}"))
        else:
            by_number[a.number] = a
    superseded_by: Dict[int, List[int]] = {}
    for a in adrs:
        line = supersedes_line(a)
        for s in a.supersedes:
            if s == a.number:
                problems.append(Finding(a.file, f"{line}:1", f"supersedes itself ({s:04})"))
            elif s not in by_number:
                problems.append(Finding(a.file, f"{line}:1", f"supersedes {s:04}, which does not exist"))
            elif a.status != "rejected":
                superseded_by.setdefault(s, []).append(a.number)
    # A cycle (0003 supersedes 0004 supersedes 0003) leaves no decision standing.
    for a in adrs:
        seen = set()
        stack: List[int] = list(a.supersedes)
        while stack:
            n = stack.pop()
            if n == a.number and a.number not in a.supersedes:
                problems.append(Finding(a.file, f"{supersedes_line(a)}:1", "supersedes cycle back to this record"))
                break
            if n not in seen:
                seen.add(n)
                b = by_number.get(n)
                if b is not None:
                    stack.extend(b.supersedes)
    records = []
    for a in adrs:
        by = list(superseded_by.get(a.number, []))
        if not by:
            effective = "unknown" if not a.status else a.status
        else:
            effective = "superseded by " + ", ".join(f"{n:04}" for n in by)
        records.append(Record(
            number=a.number,
            file=a.file,
            title=a.title,
            status=a.status,
            effective_status=effective,
            item=a.item,
            supersedes=list(a.supersedes),
            superseded_by=by,
        ))
    problems.sort()
    problems = [p for i, p in enumerate(problems) if i == 0 or p != problems[i - 1]]  # `dedup`
    return records, problems


def supersedes_line(a: Adr) -> int:
    return a.supersedes_line


def cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def index_md(records: List[Record], problems: List[Finding]) -> str:
    def link(n: int) -> str:
        r = next((r for r in records if r.number == n), None)
        return f"[{n:04}]({name_of(r.file)})" if r is not None else f"{n:04}"

    md = "# Architecture decision records\n\n"
    if not records:
        md += "No decisions recorded yet.\n"
        return md
    accepted = sum(1 for r in records if r.effective_status == "accepted")
    superseded = sum(1 for r in records if r.superseded_by)
    md += (
        f"{len(records)} records: {accepted} accepted, {superseded} superseded. Records are never edited: a changed "
        "decision is a new record that supersedes the old one, and this index (written by `adr_manager`) shows the effect.\n\n"
    )
    md += "| ADR | Decision | Status | Backlog item | Supersedes |\n|---|---|---|---|---|\n"
    for r in records:
        if not r.superseded_by:
            status = cell(r.effective_status)
        else:
            status = "superseded by " + ", ".join(link(n) for n in r.superseded_by)
        md += "| [{:04}]({}) | {} | {} | {} | {} |\n".format(
            r.number,
            name_of(r.file),
            cell("(untitled)" if not r.title else r.title),
            status,
            f"`{r.item}`" if r.item is not None else "",
            ", ".join(link(n) for n in r.supersedes),
        )
    if problems:
        md += "\n## Problems\n\n"
        for p in problems:
            md += f"* `{name_of(p.file)}` line {p.location.split(':')[0]}: {p.message}\n"
    return md
