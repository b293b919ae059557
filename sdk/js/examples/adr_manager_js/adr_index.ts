// The pure logic of `adr_manager_js`, a port of the Rust `adr_manager`:
//
//   toolkit/service_model/src/adr.rs   -> numberOf, numbers, parse, (readAll: adrFiles, sortAdrs)
//   plugins/adr_manager/src/records.rs -> nameOf, manage, supersedesLine, cell, indexMd
//
// Same functions, same order, same messages. No I/O and no SDK imports; the
// YAML front matter goes through `yaml.ts`, a port of what serde_yaml_ng
// (libyaml) does with it, so that errors read the same too.
//
// Where Rust's standard library and JavaScript's differ, the Rust behaviour
// is spelled out here: `str::lines`, `trim`/`split_whitespace` (Unicode
// White_Space, not JS's set), ASCII-only lowercasing, byte-wise (code point)
// string order, `{:04}`, strict UTF-8 decoding that keeps a BOM, and the JSON
// text serde_json writes.

import { fromStrMap, rustF64Display, type JsonValue } from "./yaml.ts";

// ---------------------------------------------------------------------------
// Rust std behaviour

/** `str::lines`: split at `\n`, drop one `\r` before it, no empty last line. */
export function rustLines(text: string): string[] {
  if (text === "") return [];
  const parts = text.split("\n");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts.map((l, i) => (i < parts.length - 1 || text.endsWith("\n") ? (l.endsWith("\r") ? l.slice(0, -1) : l) : l));
}

/** `char::is_whitespace` (Unicode White_Space). */
export function isRustWhitespace(c: string): boolean {
  const n = c.codePointAt(0)!;
  return (
    (n >= 0x09 && n <= 0x0d) ||
    n === 0x20 ||
    n === 0x85 ||
    n === 0xa0 ||
    n === 0x1680 ||
    (n >= 0x2000 && n <= 0x200a) ||
    n === 0x2028 ||
    n === 0x2029 ||
    n === 0x202f ||
    n === 0x205f ||
    n === 0x3000
  );
}

/** `str::trim`. */
export function rustTrim(s: string): string {
  const cs = Array.from(s);
  let a = 0;
  let b = cs.length;
  while (a < b && isRustWhitespace(cs[a]!)) a++;
  while (b > a && isRustWhitespace(cs[b - 1]!)) b--;
  return cs.slice(a, b).join("");
}

/** `str::split_whitespace().next()`. */
export function firstWord(s: string): string | undefined {
  let word = "";
  for (const c of s) {
    if (isRustWhitespace(c)) {
      if (word !== "") return word;
    } else word += c;
  }
  return word === "" ? undefined : word;
}

/** `str::to_ascii_lowercase`. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** Rust's `str` order (UTF-8 bytes = code points), not JS's UTF-16 order. */
export function cmpStr(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (code points above U+FFFF) sort after U+E000..U+FFFF.
      x = x >= 0xe000 ? x - 0x800 : x >= 0xd800 ? x + 0x2000 : x;
      y = y >= 0xe000 ? y - 0x800 : y >= 0xd800 ? y + 0x2000 : y;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** `format!("{n:04}")` for a u32. */
export function fmt04(n: number): string {
  return String(n).padStart(4, "0");
}

type Decoder = { decode(bytes: Uint8Array): string };
let strict: Decoder | null | undefined;

/** A `TextDecoder` that refuses what `from_utf8` refuses and keeps a BOM, if the engine has one. */
function strictDecoder(): Decoder | null {
  if (strict === undefined) {
    strict = null;
    try {
      const d = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
      let refuses = false;
      try {
        d.decode(new Uint8Array([0xed, 0xa0, 0x80])); // a surrogate
      } catch {
        refuses = true;
      }
      if (refuses && d.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])) === "\uFEFFA") strict = d;
    } catch {
      // no TextDecoder, or no options: decode below
    }
  }
  return strict;
}

/**
 * `String::from_utf8` / `fs::read_to_string`: the text, or null when the
 * bytes are not UTF-8. Unlike a default `TextDecoder`, a leading BOM is kept.
 */
export function decodeUtf8(bytes: Uint8Array): string | null {
  const d = strictDecoder();
  if (d !== null) {
    try {
      return d.decode(bytes);
    } catch {
      return null;
    }
  }
  return decodeUtf8Slow(bytes);
}

/** `decodeUtf8` without a `TextDecoder`. */
export function decodeUtf8Slow(bytes: Uint8Array): string | null {
  let out = "";
  let chunk: number[] = [];
  const flush = () => {
    out += String.fromCodePoint(...chunk);
    chunk = [];
  };
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let n: number;
    let min: number;
    let v: number;
    if (b < 0x80) {
      chunk.push(b);
      i++;
      if (chunk.length >= 4096) flush();
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [n, min, v] = [1, 0x80, b & 0x1f];
    else if (b >= 0xe0 && b <= 0xef) [n, min, v] = [2, 0x800, b & 0x0f];
    else if (b >= 0xf0 && b <= 0xf4) [n, min, v] = [3, 0x10000, b & 0x07];
    else return null;
    if (i + n >= bytes.length) return null;
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return null;
      v = (v << 6) | (c & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return null;
    chunk.push(v);
    i += n + 1;
    if (chunk.length >= 4096) flush();
  }
  flush();
  return out;
}

/** A JSON string as serde_json writes it. */
export function jsonString(s: string): string {
  if (!/["\\\u0000-\u001f]/.test(s)) return `"${s}"`;
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

/** `serde_json::to_string` of the output: compact, struct field order, `null` for None. */
export function toJson(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return jsonString(v);
  if (typeof v === "number") return String(v);
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "[" + v.map(toJson).join(",") + "]";
  return "{" + Object.entries(v as object).map(([k, x]) => jsonString(k) + ":" + toJson(x)).join(",") + "}";
}

// ---------------------------------------------------------------------------
// service_model::paths, Finding

export const ADR_DIR = "docs/adr";
export const ADR_INDEX = "docs/adr/index.md";

/** A gate's finding: which file, where in it, what is wrong (field order as in Rust). */
export interface Finding {
  file: string;
  location: string;
  message: string;
}

export function finding(file: string, location: string, message: string): Finding {
  return { file, location, message };
}

/** `#[derive(Ord)]` on Finding: file, then location, then message. */
export function cmpFinding(a: Finding, b: Finding): number {
  return cmpStr(a.file, b.file) || cmpStr(a.location, b.location) || cmpStr(a.message, b.message);
}

// ---------------------------------------------------------------------------
// adr.rs

/** The statuses MADR knows (`superseded by …` is derived, see `adr_manager`). */
export const STATUSES = ["proposed", "accepted", "rejected", "deprecated", "superseded"];

export interface Adr {
  number: number;
  /** Workspace-relative path. */
  file: string;
  title: string;
  /** As written in the front matter (`accepted`, `superseded by …`). */
  status: string;
  item: string | null;
  supersedes: number[];
  /** The line of `supersedes:` (1 when there is none). */
  supersedesLine: number;
  /** What is wrong with the file: `[line, message]`. */
  problems: [number, string][];
}

const U32_MAX = 0xffffffff;

/** `0007-some-title.md` → 7. */
export function numberOf(fileName: string): number | null {
  const at = fileName.search(/[^0-9]/);
  if (at < 0) return null;
  const digits = fileName.slice(0, at);
  const rest = fileName.slice(at);
  if (digits.length !== 4 || !rest.startsWith("-") || !rest.endsWith(".md")) return null;
  return Number(digits);
}

/** `source::kind`. */
export function kind(v: JsonValue): string {
  switch (v.t) {
    case "null":
      return "null";
    case "bool":
      return "a boolean";
    case "posint":
    case "negint":
    case "float":
      return "a number";
    case "string":
      return "a string";
    case "array":
      return "an array";
    case "object":
      return "an object";
  }
}

/** `Display` of a serde_json Number (floats as zmij writes them). */
export function numberDisplay(v: JsonValue & { t: "posint" | "negint" | "float" }): string {
  if (v.t !== "float") return v.v.toString();
  const f = v.v;
  if (f === 0) return Object.is(f, -0) ? "-0.0" : "0.0";
  const [mant, expS] = Math.abs(f).toExponential().split("e") as [string, string];
  const exp = Number(expS);
  const sign = f < 0 ? "-" : "";
  if (exp >= -5 && exp <= 15) {
    const s = rustF64Display(Math.abs(f));
    return sign + (s.includes(".") ? s : s + ".0");
  }
  return `${sign}${mant}e${exp < 0 ? "-" : "+"}${Math.abs(exp)}`;
}

/** `0002`, `2`, `"0002-title.md"`, `[1, "0003"]` → numbers. */
export function numbers(v: JsonValue): { ok: number[] } | { err: string } {
  switch (v.t) {
    case "null":
      return { ok: [] };
    case "posint":
    case "negint":
    case "float":
      if (v.t === "posint" && v.v <= BigInt(U32_MAX)) return { ok: [Number(v.v)] };
      return { err: `\`${numberDisplay(v)}\` is not an ADR number` };
    case "string": {
      let s = v.v;
      while (s.startsWith("ADR-")) s = s.slice(4);
      const digits = /^[0-9]*/.exec(s)![0];
      const n = digits === "" ? NaN : Number(digits);
      if (digits === "" || !(BigInt(digits) <= BigInt(U32_MAX))) return { err: `\`${v.v}\` is not an ADR number` };
      return { ok: [n] };
    }
    case "array": {
      const out: number[] = [];
      for (const i of v.v) {
        const r = numbers(i);
        if ("err" in r) return r;
        out.push(...r.ok);
      }
      return { ok: out };
    }
    default:
      return { err: `${kind(v)} is not an ADR number` };
  }
}

/** Parse one ADR file's text. */
export function parse(file: string, text: string): Adr {
  const name = file.split("/").pop()!;
  const adr: Adr = {
    number: numberOf(name) ?? 0,
    file,
    title: "",
    status: "",
    item: null,
    supersedes: [],
    supersedesLine: 1,
    problems: [],
  };
  let bodyStart = 0;
  const lines = rustLines(text);
  if (lines[0] === "---") {
    const end = lines.slice(1).indexOf("---");
    if (end >= 0) {
      const yaml = lines.slice(1, end + 1).join("\n");
      bodyStart = end + 2;
      const r = fromStrMap(yaml);
      if ("ok" in r) {
        const front = r.ok;
        const lineOf = (key: string) => {
          const prefix = `${key}:`;
          for (let i = 0; i < lines.length; i++) if (lines[i]!.startsWith(prefix)) return i + 1;
          return 1;
        };
        const status = front.get("status");
        if (status === undefined) adr.problems.push([1, "the front matter has no status"]);
        else if (status.t === "string") adr.status = rustTrim(status.v);
        else adr.problems.push([lineOf("status"), "status must be text"]);
        const item = front.get("backlog-item");
        if (item !== undefined && item.t === "string") adr.item = item.v;
        const sup = front.get("supersedes");
        if (sup !== undefined) {
          adr.supersedesLine = lineOf("supersedes");
          const n = numbers(sup);
          if ("ok" in n) adr.supersedes = n.ok;
          else adr.problems.push([lineOf("supersedes"), `supersedes: ${n.err}`]);
        }
      } else {
        const loc = r.err.location();
        const line = loc !== null ? loc.line + 1 : 1;
        adr.problems.push([line, `front matter is not YAML: ${r.err.display()}`]);
      }
    } else {
      adr.problems.push([1, "front matter opened with `---` is never closed"]);
    }
  } else {
    // MADR also allows `Status: accepted` lines in the body.
    let l: string | undefined;
    for (const line of lines) {
      if (asciiLower(line.slice(0, 7)) === "status:") {
        l = line;
        break;
      }
    }
    if (l !== undefined) adr.status = rustTrim(l.slice(7));
    else adr.problems.push([1, "no status (front matter `status:` or a `Status:` line)"]);
  }
  let title = -1;
  for (let i = bodyStart; i < lines.length; i++) {
    if (lines[i]!.startsWith("# ")) {
      title = i;
      break;
    }
  }
  if (title >= 0) adr.title = rustTrim(lines[title]!.slice(2));
  else adr.problems.push([bodyStart + 1, "no `# Title` heading"]);
  const base = asciiLower(firstWord(adr.status) ?? "");
  if (adr.status !== "" && !STATUSES.includes(base)) {
    adr.problems.push([1, `status \`${adr.status}\` is not one of ${STATUSES.join(", ")}`]);
  }
  return adr;
}

/**
 * `read_all`, the part without I/O: which names of `docs/adr/` are records
 * (`NNNN-*.md` directly in the directory), as workspace paths.
 */
export function adrFiles(names: string[]): string[] {
  return names
    .filter((n) => !n.startsWith(".") && n.endsWith(".md") && numberOf(n) !== null)
    .sort(cmpStr)
    .map((n) => `${ADR_DIR}/${n}`);
}

/** `read_all`'s order: by number, then by file. */
export function sortAdrs(adrs: Adr[]): Adr[] {
  return [...adrs].sort((a, b) => a.number - b.number || cmpStr(a.file, b.file));
}

// ---------------------------------------------------------------------------
// lib.rs: Record; records.rs

/** One row of the index (field order as in the Rust struct). */
export interface Record {
  number: number;
  file: string;
  title: string;
  /** As the file says. */
  status: string;
  /** What the index shows: `superseded by NNNN` when a later record says so. */
  effective_status: string;
  item: string | null;
  supersedes: number[];
  superseded_by: number[];
}

export function nameOf(file: string): string {
  return file.split("/").pop()!;
}

export function manage(adrs: Adr[]): [Record[], Finding[]] {
  let problems: Finding[] = [];
  const byNumber = new Map<number, Adr>();
  for (const a of adrs) {
    for (const [line, m] of a.problems) {
      problems.push(finding(a.file, `${line}:1`, m));
    }
    const first = byNumber.get(a.number);
    if (first !== undefined) {
      problems.push(finding(a.file, "1:1", `number ${fmt04(a.number)} is also ${first.file}`));
    } else {
      byNumber.set(a.number, a);
    }
  }
  const supersededBy = new Map<number, number[]>();
  for (const a of adrs) {
    const line = supersedesLine(a);
    for (const s of a.supersedes) {
      if (s === a.number) {
        problems.push(finding(a.file, `${line}:1`, `supersedes itself (${fmt04(s)})`));
      } else if (!byNumber.has(s)) {
        problems.push(finding(a.file, `${line}:1`, `supersedes ${fmt04(s)}, which does not exist`));
      } else if (a.status !== "rejected") {
        const by = supersededBy.get(s) ?? [];
        by.push(a.number);
        supersededBy.set(s, by);
      }
    }
  }
  // A cycle (0003 supersedes 0004 supersedes 0003) leaves no decision standing.
  for (const a of adrs) {
    const seen = new Set<number>();
    const stack: number[] = [...a.supersedes];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n === a.number && !a.supersedes.includes(a.number)) {
        problems.push(finding(a.file, `${supersedesLine(a)}:1`, "supersedes cycle back to this record"));
        break;
      }
      if (!seen.has(n)) {
        seen.add(n);
        const b = byNumber.get(n);
        if (b !== undefined) stack.push(...b.supersedes);
      }
    }
  }
  const records: Record[] = adrs.map((a) => {
    const by = [...(supersededBy.get(a.number) ?? [])];
    const effective =
      by.length === 0
        ? a.status === ""
          ? "unknown"
          : a.status
        : `superseded by ${by.map(fmt04).join(", ")}`;
    return {
      number: a.number,
      file: a.file,
      title: a.title,
      status: a.status,
      effective_status: effective,
      item: a.item,
      supersedes: [...a.supersedes],
      superseded_by: by,
    };
  });
  problems.sort(cmpFinding);
  problems = problems.filter((p, i) => i === 0 || cmpFinding(problems[i - 1]!, p) !== 0);
  return [records, problems];
}

export function supersedesLine(a: Adr): number {
  return a.supersedesLine;
}

export function cell(s: string): string {
  return s.replaceAll("|", "\\|").replaceAll("\n", " ");
}

export function indexMd(records: Record[], problems: Finding[]): string {
  const link = (n: number) => {
    const r = records.find((r) => r.number === n);
    return r !== undefined ? `[${fmt04(n)}](${nameOf(r.file)})` : fmt04(n);
  };
  let md = "# Architecture decision records\n\n";
  if (records.length === 0) {
    md += "No decisions recorded yet.\n";
    return md;
  }
  const accepted = records.filter((r) => r.effective_status === "accepted").length;
  const superseded = records.filter((r) => r.superseded_by.length > 0).length;
  md +=
    `${records.length} records: ${accepted} accepted, ${superseded} superseded. Records are never edited: a changed decision is a new ` +
    "record that supersedes the old one, and this index (written by `adr_manager`) shows the effect.\n\n";
  md += "| ADR | Decision | Status | Backlog item | Supersedes |\n|---|---|---|---|---|\n";
  for (const r of records) {
    const status = r.superseded_by.length === 0 ? cell(r.effective_status) : `superseded by ${r.superseded_by.map(link).join(", ")}`;
    md += `| [${fmt04(r.number)}](${nameOf(r.file)}) | ${cell(r.title === "" ? "(untitled)" : r.title)} | ${status} | ${
      r.item !== null ? `\`${r.item}\`` : ""
    } | ${r.supersedes.map(link).join(", ")} |\n`;
  }
  if (problems.length > 0) {
    md += "\n## Problems\n\n";
    for (const p of problems) {
      md += `* \`${nameOf(p.file)}\` line ${p.location.split(":")[0]}: ${p.message}\n`;
    }
  }
  return md;
}

// ---------------------------------------------------------------------------
// The whole run without I/O, for the tool and the golden tests.

export interface Output {
  index: string;
  records: Record[];
  problems: Finding[];
  files: string[];
}

/** What `run` does between reading the records and writing the index. */
export function runOn(files: { file: string; text: string }[]): { output: Output; index: string; warnings: string[]; summary: string } {
  const adrs = sortAdrs(files.map((f) => parse(f.file, f.text)));
  const [records, problems] = manage(adrs);
  const index = indexMd(records, problems);
  const warnings = problems.map((p) => `${p.file}:${p.location}: ${p.message}`);
  const superseded = records.filter((r) => r.superseded_by.length > 0).length;
  const summary = `${ADR_INDEX}: ${records.length} records, ${superseded} superseded, ${problems.length} problem(s)`;
  return { output: { index: ADR_INDEX, records, problems, files: [ADR_INDEX] }, index, warnings, summary };
}
