"""`adr_manager_py`: the Python port of the Rust tool `adr_manager`
(`plugins/adr_manager`), byte for byte: the same input, output JSON,
`docs/adr/index.md` and log lines.

The index of the architecture decision records — the `documentation` stage's
second tool, after `mkdocs_writer`. Reads every `docs/adr/NNNN-*.md` of the
workspace (MADR, as `adr_writer` writes them: front matter `status`,
`backlog-item`, `supersedes`) and writes `docs/adr/index.md`: one row per
record with its title (linked), its effective status — `superseded by
[NNNN](…)` when a later record supersedes it, whatever its file says, since
records are never edited — its backlog item and what it supersedes, then the
problems found (unknown or self supersedes, a supersedes cycle, duplicate
numbers, a missing title or status, an unknown status), each with its file and
line. Returns the records and the problems; problems do not fail the tool.

Where the Rust is: `lib.rs` → this module and `adr_types.py`; `records.rs` →
`records.py`; `toolkit/service_model` → the `service_model` package.
"""

from taylordash_sdk import Context, Level, Tool, export, log
from taylordash_sdk import tool as _sdk_tool

import records
from adr_types import AdrManagerInput, AdrManagerOutput
from service_model import log_envelope, log_ignored, paths
from service_model import adr
from service_model.source import Out

RUST_NAME = "adr_manager"
"""The name the Rust tool logs under (`Self::NAME`); the port logs the same lines."""


class AdrManagerPy(Tool):
    name = "adr_manager_py"
    version = "0.1.0"
    description = ("Writes docs/adr/index.md: every decision record with its effective status and supersedes links, "
                   "and the problems found in the records.")

    def run(self, input: AdrManagerInput, ctx: Context) -> AdrManagerOutput:
        log_envelope(RUST_NAME, ctx.envelope)
        log_ignored(RUST_NAME, input.other)
        adrs = adr.read_all()
        found, problems = records.manage(adrs)
        out = Out()
        out.write(paths.ADR_INDEX, records.index_md(found, problems))
        for p in problems:
            log(Level.WARN, f"{p.file}:{p.location}: {p.message}")
        superseded = sum(1 for r in found if r.superseded_by)
        log(Level.INFO, f"{paths.ADR_INDEX}: {len(found)} records, {superseded} superseded, {len(problems)} problem(s)")
        return AdrManagerOutput(index=paths.ADR_INDEX, records=found, problems=problems, files=out.files)


# The SDK parses an input into its declared fields only; Rust's `#[serde(flatten)]
# other` keeps every key. Wrap the SDK's parse so `AdrManagerInput.other` gets them.
_parse = _sdk_tool.from_json


def _parse_keeping_other_keys(tp, value, path=""):
    parsed = _parse(tp, value, path)
    if tp is AdrManagerInput:  # `value` is an object, or `_parse` raised
        parsed.other = dict(value)
    return parsed


_sdk_tool.from_json = _parse_keeping_other_keys

export(AdrManagerPy)
