/**
 * `adr_manager_js`: the index of the architecture decision records, a
 * TypeScript port of the Rust `adr_manager` (plugins/adr_manager) that
 * answers byte for byte the same.
 *
 * Reads every `docs/adr/NNNN-*.md` of the workspace (MADR, as `adr_writer`
 * writes them: front matter `status`, `backlog-item`, `supersedes`) and
 * writes `docs/adr/index.md`: one row per record with its title (linked),
 * its effective status — `superseded by [NNNN](…)` when a later record
 * supersedes it, whatever its file says, since records are never edited —
 * its backlog item and what it supersedes, then the problems found (unknown
 * or self supersedes, a supersedes cycle, duplicate numbers, a missing title
 * or status, an unknown status), each with its file and line. Returns the
 * records and the problems; problems do not fail the tool (the index shows
 * them). Deterministic.
 *
 * The logic is in `adr_index.ts` (no I/O); this file does the I/O and the logs.
 */
import { z, defineTool, log, Level, listWorkspace, readWorkspaceBytes, writeOut, Failed, gateNames, type Context } from "@taylordash/sdk";
import { ADR_DIR, ADR_INDEX, adrFiles, cmpStr, decodeUtf8, runOn } from "./adr_index.ts";

const NAME = "adr_manager_js";

/** Any keys (the Rust input is a struct with only `#[serde(flatten)] other`); unknown ones are logged. */
export const Input = z.looseObject({});

const RecordSchema = z.object({
  number: z.number().int().min(0).max(0xffffffff),
  file: z.string(),
  title: z.string(),
  status: z.string().describe("As the file says."),
  effective_status: z.string().describe("What the index shows: `superseded by NNNN` when a later record says so."),
  item: z.string().nullable(),
  supersedes: z.array(z.number().int().min(0).max(0xffffffff)),
  superseded_by: z.array(z.number().int().min(0).max(0xffffffff)),
});

const FindingSchema = z.object({
  file: z.string(),
  location: z.string().describe("`line:col (json pointer)`, `line:col`, or a pointer; empty when the finding is about the file as a whole."),
  message: z.string(),
});

export const Output = z.object({
  index: z.string(),
  records: z.array(RecordSchema),
  problems: z.array(FindingSchema),
  files: z.array(z.string()),
});

/** `service_model::log_envelope`: a retry's gate feedback. */
function logEnvelope(tool: string, ctx: Context): void {
  const fb = ctx.envelope.feedback;
  if (fb !== undefined) {
    const gates = gateNames(fb);
    log(
      Level.Info,
      `${tool}: retry after failed gate(s) ${gates.length === 0 ? "(unnamed)" : gates.join(", ")}; outputs are derived from the backlog again`,
    );
  }
}

/** `service_model::log_ignored`: input keys the tool does not know, sorted as a BTreeMap sorts them. */
function logIgnored(tool: string, other: Record<string, unknown>): void {
  const keys = Object.keys(other).sort(cmpStr);
  if (keys.length > 0) log(Level.Debug, `${tool}: ignoring input key(s) ${keys.join(", ")}`);
}

/** `adr::read_all`'s I/O: the records of `docs/adr/` that read as UTF-8 text. */
function readAll(): { file: string; text: string }[] {
  let names: string[];
  try {
    names = listWorkspace(ADR_DIR);
  } catch {
    names = []; // no docs/adr: no records
  }
  const out: { file: string; text: string }[] = [];
  for (const file of adrFiles(names)) {
    let bytes: Uint8Array;
    try {
      bytes = readWorkspaceBytes(file);
    } catch {
      continue; // a directory or an unreadable file is skipped, as `read_workspace(..).ok()` does
    }
    const text = decodeUtf8(bytes); // keeps a BOM, as `read_to_string` does
    if (text !== null) out.push({ file, text });
  }
  return out;
}

export default defineTool({
  name: NAME,
  version: "0.1.0",
  description:
    "Writes docs/adr/index.md: every decision record with its effective status and supersedes links, and the problems found in the records.",
  input: Input,
  output: Output,
  run(input, ctx: Context) {
    logEnvelope(NAME, ctx);
    logIgnored(NAME, input);
    const { output, index, warnings, summary } = runOn(readAll());
    try {
      writeOut(ADR_INDEX, index);
    } catch (e) {
      throw new Failed(`cannot write ${ADR_INDEX} into the out dir: ${(e as Error).message}`);
    }
    for (const w of warnings) log(Level.Warn, w);
    log(Level.Info, summary);
    return output;
  },
});
