"""`service_model::adr` (adr.rs): MADR decision records as `adr_writer` writes
them and `adr_manager` indexes them: `docs/adr/NNNN-title.md`, YAML front
matter (`status`, `decision-makers`, `backlog-item`, `supersedes`), a `# Title`."""

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from . import source
from .rust import lines, json_f64, split_whitespace, to_ascii_lowercase, trim
from .serde_yaml import YamlError, from_str_map
from . import paths

STATUSES = ("proposed", "accepted", "rejected", "deprecated", "superseded")
"""The statuses MADR knows (`superseded by …` is derived, see `adr_manager`)."""

U32_MAX = (1 << 32) - 1


@dataclass
class Adr:
    number: int
    file: str
    """Workspace-relative path."""
    title: str = ""
    status: str = ""
    """As written in the front matter (`accepted`, `superseded by …`)."""
    item: Optional[str] = None
    supersedes: List[int] = field(default_factory=list)
    supersedes_line: int = 1
    """The line of `supersedes:` (1 when there is none)."""
    problems: List[Tuple[int, str]] = field(default_factory=list)
    """What is wrong with the file: `(line, message)`."""


def number_of(file_name: str) -> Optional[int]:
    """`0007-some-title.md` → 7."""
    split = next((i for i, c in enumerate(file_name) if c not in "0123456789"), None)
    if split is None:
        return None
    digits, rest = file_name[:split], file_name[split:]
    if len(digits) != 4 or not rest.startswith("-") or not rest.endswith(".md"):
        return None
    return int(digits)


def _number_display(n: Any) -> str:
    """`serde_json::Number`'s `Display`."""
    return str(n) if isinstance(n, int) else json_f64(n)


def numbers(v: Any) -> List[int]:
    """`0002`, `2`, `"0002-title.md"`, `[1, "0003"]` → numbers; raises ValueError with the reason."""
    if v is None:
        return []
    if isinstance(v, bool):
        raise ValueError(f"{source.kind(v)} is not an ADR number")
    if isinstance(v, (int, float)):
        if isinstance(v, int) and 0 <= v <= U32_MAX:
            return [v]
        raise ValueError(f"`{_number_display(v)}` is not an ADR number")
    if isinstance(v, str):
        s = v
        while s.startswith("ADR-"):
            s = s[len("ADR-"):]
        digits = ""
        for c in s:
            if c not in "0123456789":
                break
            digits += c
        if not digits or int(digits) > U32_MAX:
            raise ValueError(f"`{v}` is not an ADR number")
        return [int(digits)]
    if isinstance(v, list):
        out: List[int] = []
        for i in v:
            out.extend(numbers(i))
        return out
    raise ValueError(f"{source.kind(v)} is not an ADR number")


def parse(file: str, text: str) -> Adr:
    """Parse one ADR file's text."""
    name = file.rsplit("/", 1)[-1]
    n = number_of(name)
    adr = Adr(number=n if n is not None else 0, file=file)
    body_start = 0
    ls = lines(text)
    if ls[:1] == ["---"]:
        end = next((i for i, l in enumerate(ls[1:]) if l == "---"), None)
        if end is not None:
            yaml = "\n".join(ls[1:end + 1])
            body_start = end + 2
            try:
                front = from_str_map(yaml)
            except YamlError as e:
                line = e.line + 1 if e.line is not None else 1
                adr.problems.append((line, f"front matter is not YAML: {e}"))
            else:
                def line_of(key: str) -> int:
                    return next((i + 1 for i, l in enumerate(ls) if l.startswith(f"{key}:")), 1)

                if "status" not in front:
                    adr.problems.append((1, "the front matter has no status"))
                elif isinstance(front["status"], str):
                    adr.status = trim(front["status"])
                else:
                    adr.problems.append((line_of("status"), "status must be text"))
                if isinstance(front.get("backlog-item"), str):
                    adr.item = front["backlog-item"]
                if "supersedes" in front:
                    adr.supersedes_line = line_of("supersedes")
                    try:
                        adr.supersedes = numbers(front["supersedes"])
                    except ValueError as e:
                        adr.problems.append((line_of("supersedes"), f"supersedes: {e}"))
        else:
            adr.problems.append((1, "front matter opened with `---` is never closed"))
    else:
        # MADR also allows `Status: accepted` lines in the body.
        found = next((l for l in ls if to_ascii_lowercase(l).startswith("status:")), None)
        if found is not None:
            adr.status = trim(found[7:])
        else:
            adr.problems.append((1, "no status (front matter `status:` or a `Status:` line)"))
    heading = next((l for l in ls[body_start:] if l.startswith("# ")), None)
    if heading is not None:
        adr.title = trim(heading[2:])
    else:
        adr.problems.append((body_start + 1, "no `# Title` heading"))
    words = split_whitespace(adr.status)
    base = to_ascii_lowercase(words[0]) if words else ""
    if adr.status and base not in STATUSES:
        adr.problems.append((1, f"status `{adr.status}` is not one of {', '.join(STATUSES)}"))
    return adr


def read_all() -> List[Adr]:
    """Every `NNNN-*.md` under `docs/adr/` of the workspace, by number."""
    out = []
    for f in source.list_files(paths.ADR_DIR, [".md"]):
        if f.count("/") != 2 or number_of(f.rsplit("/", 1)[-1]) is None:
            continue
        try:
            text = source.read_workspace("adr", f)
        except Exception:  # noqa: BLE001 (`filter_map(... .ok())`: an unreadable record is skipped)
            continue
        out.append(parse(f, text))
    out.sort(key=lambda a: (a.number, a.file))
    return out
