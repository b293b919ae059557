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


export(AdrManagerPy)
