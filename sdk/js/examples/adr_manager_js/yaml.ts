// YAML front matter exactly as the Rust tool reads it:
// `serde_yaml_ng::from_str::<BTreeMap<String, serde_json::Value>>` (0.10.0),
// which runs libyaml (unsafe-libyaml 0.2.11) and then serde.
//
// This file is a line-by-line port of the parts that decide what the Rust
// side answers: libyaml's reader (UTF-8, control characters), scanner and
// parser (tokens, events, and every error message with its marks);
// serde_yaml_ng's loader (documents, anchors) and deserializer (scalar
// resolution, error messages and locations); serde_json's `Value` visitor.
// Function names follow the Rust ones (camelCase) so both can be read side
// by side. No I/O; the only import is a Unicode table.
//
// Two departures, for speed only (inside the component every interpreted
// call costs fuel): `fastMap` reads front matter made only of `key: simple
// value` lines directly and hands anything else to the port; an alias met a
// second time reuses its anchor's value instead of walking its events again
// (see `deserializeAny`). Both give the same answers; the tests and the
// differential runs against the Rust tool check it.

import { isGraphemeExtend, isPrintable } from "./unicode_tables.ts";

// ---------------------------------------------------------------------------
// libyaml: marks, errors, tokens, events

export interface Mark {
  /** Byte offset. */
  index: number;
  /** 0-based, in characters. */
  line: number;
  column: number;
}

const zeroMark = (): Mark => ({ index: 0, line: 0, column: 0 });
const copyMark = (m: Mark): Mark => ({ index: m.index, line: m.line, column: m.column });

/** `serde_yaml_ng::libyaml::error::Error` (a reader, scanner or parser error). */
export class LibyamlError {
  constructor(
    public problem: string,
    public problemOffset: number,
    public problemMark: Mark,
    public context: string | null,
    public contextMark: Mark,
  ) {}

  display(): string {
    let s = this.problem;
    const pm = this.problemMark;
    if (pm.line !== 0 || pm.column !== 0) {
      s += ` at ${markDisplay(pm)}`;
    } else if (this.problemOffset !== 0) {
      s += ` at position ${this.problemOffset}`;
    }
    if (this.context !== null) {
      s += `, ${this.context}`;
      const cm = this.contextMark;
      if ((cm.line !== 0 || cm.column !== 0) && (cm.line !== pm.line || cm.column !== pm.column)) {
        s += ` at ${markDisplay(cm)}`;
      }
    }
    return s;
  }
}

function markDisplay(m: Mark): string {
  if (m.line !== 0 || m.column !== 0) return `line ${m.line + 1} column ${m.column + 1}`;
  return `position ${m.index}`;
}

const enum T {
  StreamStart,
  StreamEnd,
  VersionDirective,
  TagDirective,
  DocumentStart,
  DocumentEnd,
  BlockSequenceStart,
  BlockMappingStart,
  BlockEnd,
  FlowSequenceStart,
  FlowSequenceEnd,
  FlowMappingStart,
  FlowMappingEnd,
  BlockEntry,
  FlowEntry,
  Key,
  Value,
  Alias,
  Anchor,
  Tag,
  Scalar,
}

export type ScalarStyle = "plain" | "single" | "double" | "literal" | "folded";

interface Token {
  type: T;
  start: Mark;
  end: Mark;
  /** Alias/anchor name, scalar value. */
  value?: string;
  style?: ScalarStyle;
  /** Tag handle and suffix, tag directive handle and prefix: byte strings. */
  handle?: string;
  suffix?: string;
  prefix?: string;
  major?: number;
  minor?: number;
}

interface SimpleKey {
  possible: boolean;
  required: boolean;
  tokenNumber: number;
  mark: Mark;
}

/** What serde_yaml_ng's `Parser::next` hands the loader. */
export type YamlEvent =
  | { type: "StreamStart" }
  | { type: "StreamEnd" }
  | { type: "DocumentStart" }
  | { type: "DocumentEnd" }
  | { type: "Alias"; anchor: string }
  | { type: "Scalar"; anchor: string | null; tag: string | null; value: string; style: ScalarStyle }
  | { type: "SequenceStart"; anchor: string | null; tag: string | null }
  | { type: "SequenceEnd" }
  | { type: "MappingStart"; anchor: string | null; tag: string | null }
  | { type: "MappingEnd" };

const enum S {
  StreamStart,
  ImplicitDocumentStart,
  DocumentStart,
  DocumentContent,
  DocumentEnd,
  BlockNode,
  BlockNodeOrIndentlessSequence,
  FlowNode,
  BlockSequenceFirstEntry,
  BlockSequenceEntry,
  IndentlessSequenceEntry,
  BlockMappingFirstKey,
  BlockMappingKey,
  BlockMappingValue,
  FlowSequenceFirstEntry,
  FlowSequenceEntry,
  FlowSequenceEntryMappingKey,
  FlowSequenceEntryMappingValue,
  FlowSequenceEntryMappingEnd,
  FlowMappingFirstKey,
  FlowMappingKey,
  FlowMappingValue,
  FlowMappingEmptyValue,
  End,
}

const INPUT_RAW_BUFFER_SIZE = 16384;

/** A C string stops at its first NUL. */
const cstr = (s: string): string => {
  const i = s.indexOf("\0");
  return i < 0 ? s : s.slice(0, i);
};

/** UTF-8 bytes of `s` as a byte string (one char per byte). */
function utf8Bytes(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out += ch;
    else if (c < 0x800) out += String.fromCharCode(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out += String.fromCharCode(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else
      out += String.fromCharCode(
        0xf0 | (c >> 18),
        0x80 | ((c >> 12) & 0x3f),
        0x80 | ((c >> 6) & 0x3f),
        0x80 | (c & 0x3f),
      );
  }
  return out;
}

/** Is this byte string valid UTF-8 (`str::from_utf8(..).is_ok()`)? */
export function isUtf8(bytes: string): boolean {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes.charCodeAt(i);
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = (b & 0xe0) === 0xc0 ? 1 : (b & 0xf0) === 0xe0 ? 2 : (b & 0xf8) === 0xf0 ? 3 : -1;
    if (n < 0 || i + n >= bytes.length) return false;
    const min = n === 1 ? 0x80 : n === 2 ? 0x800 : 0x10000;
    let v = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = bytes.charCodeAt(i + k);
      if ((c & 0xc0) !== 0x80) return false;
      v = (v << 6) | (c & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

/** A byte string (valid UTF-8) back to text. */
function fromUtf8Bytes(bytes: string): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes.charCodeAt(i);
    if (b < 0x80) {
      out += bytes[i];
      i++;
      continue;
    }
    const n = (b & 0xe0) === 0xc0 ? 1 : (b & 0xf0) === 0xe0 ? 2 : 3;
    let v = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) v = (v << 6) | (bytes.charCodeAt(i + k) & 0x3f);
    out += String.fromCodePoint(v);
    i += n + 1;
  }
  return out;
}

const isAlphaC = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d;
const isDigitC = (c: number) => c >= 0x30 && c <= 0x39;
const isHexC = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const asHexC = (c: number) => (c >= 0x41 && c <= 0x46 ? c - 0x41 + 10 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : c - 0x30);
const isBreakC = (c: number) => c === 0x0d || c === 0x0a || c === 0x85 || c === 0x2028 || c === 0x2029;
const isBlankC = (c: number) => c === 0x20 || c === 0x09;
const isBreakzC = (c: number) => isBreakC(c) || c === 0;
const isBlankzC = (c: number) => isBlankC(c) || isBreakzC(c);
/** The characters that cannot start a plain scalar (`-?:` may, when not followed by a blank). */
const INDICATORS = new Set(Array.from("-?:,[]{}#&*!|>'\"%@`", (ch) => ch.charCodeAt(0)));
const utf8Width = (c: number) => (c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4);

/** The libyaml parser (reader + scanner + parser) over one input string. */
export class LibyamlParser {
  // reader: the input's code points and their byte offsets, made available
  // to the scanner chunk by chunk as libyaml's reader decodes them
  private cps: number[] = [];
  private offs: number[] = []; // offs[i]: byte offset of cps[i]; offs[n]: the input's length
  private bad = -1; // index of the first character the reader refuses
  private avail = 0; // characters decoded (the buffer's end), +1 once the end's NUL is appended
  private decoded = 0; // characters decoded, without that NUL
  private readPos = 0; // bytes handed to the raw buffer
  private offset = 0; // bytes decoded
  private eof = false;
  private pos = 0; // the buffer pointer, in characters
  // errors
  error: LibyamlError | null = null;
  // scanner
  private mark: Mark = zeroMark();
  private streamStartProduced = false;
  private streamEndProduced = false;
  private flowLevel = 0;
  private tokens: Token[] = [];
  private tokensHead = 0;
  private tokensParsed = 0;
  private tokenAvailable = false;
  private indents: number[] = [];
  private indent = 0;
  private simpleKeyAllowed = false;
  private simpleKeys: SimpleKey[] = [];
  private notSimpleKeys = 0;
  // parser
  private states: S[] = [];
  private state: S = S.StreamStart;
  private marks: Mark[] = [];
  private tagDirectives: { handle: string; prefix: string }[] = [];

  constructor(text: string) {
    let o = 0;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate is U+FFFD in UTF-8
      if (
        this.bad < 0 &&
        !(
          c === 0x9 ||
          c === 0xa ||
          c === 0xd ||
          (c >= 0x20 && c <= 0x7e) ||
          c === 0x85 ||
          (c >= 0xa0 && c <= 0xd7ff) ||
          (c >= 0xe000 && c <= 0xfffd) ||
          (c >= 0x10000 && c <= 0x10ffff)
        )
      ) {
        this.bad = this.cps.length;
      }
      this.cps.push(c);
      this.offs.push(o);
      o += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    }
    this.offs.push(o);
  }

  // ----- reader.rs (the input is valid UTF-8: only "control characters" can fail)

  private setReaderError(problem: string, offset: number): false {
    this.error = new LibyamlError(problem, offset, zeroMark(), null, zeroMark());
    return false;
  }

  private get unread(): number {
    return this.avail - this.pos;
  }

  private updateRawBuffer(): void {
    if (this.eof) return;
    const total = this.offs[this.cps.length]!;
    const held = this.readPos - this.offset;
    const n = Math.min(INPUT_RAW_BUFFER_SIZE - held, total - this.readPos);
    this.readPos += n;
    if (n === 0) this.eof = true;
  }

  private updateBuffer(length: number): boolean {
    if (this.eof && this.offset === this.readPos) return true;
    if (this.unread >= length) return true;
    let first = true;
    const n = this.cps.length;
    while (this.unread < length) {
      if (!first || this.offset === this.readPos) this.updateRawBuffer();
      first = false;
      // Decode every character wholly inside the raw buffer (the last one whose end fits).
      let lo = this.decoded;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.offs[mid]! <= this.readPos) lo = mid;
        else hi = mid - 1;
      }
      if (this.bad >= this.decoded && this.bad < lo) {
        this.avail += this.bad - this.decoded;
        this.decoded = this.bad;
        return this.setReaderError("control characters are not allowed", this.offs[this.bad]!);
      }
      this.avail += lo - this.decoded;
      this.decoded = lo;
      this.offset = this.offs[this.decoded]!;
      if (this.eof) {
        this.avail += 1; // the NUL that ends the input
        return true;
      }
    }
    return true;
  }

  private cache(length: number): boolean {
    return this.unread >= length ? true : this.updateBuffer(length);
  }

  // ----- buffer access (CHECK_AT & co.; offsets after ASCII only, as in libyaml)

  private at(k = 0): number {
    const p = this.pos + k;
    return p < this.decoded ? this.cps[p]! : 0;
  }
  private isBlank(k = 0) {
    return isBlankC(this.at(k));
  }
  private isBreak(k = 0) {
    return isBreakC(this.at(k));
  }
  private isBreakz(k = 0) {
    return isBreakzC(this.at(k));
  }
  private isBlankz(k = 0) {
    return isBlankzC(this.at(k));
  }
  private isZ(k = 0) {
    return this.at(k) === 0;
  }
  private isCrlf() {
    return this.at(0) === 0x0d && this.at(1) === 0x0a;
  }

  private skip(): void {
    this.mark.index += utf8Width(this.at());
    this.mark.column += 1;
    this.pos += 1;
  }

  private skipLine(): void {
    if (this.isCrlf()) {
      this.mark.index += 2;
      this.mark.column = 0;
      this.mark.line += 1;
      this.pos += 2;
    } else if (this.isBreak()) {
      this.mark.index += utf8Width(this.at());
      this.mark.column = 0;
      this.mark.line += 1;
      this.pos += 1;
    }
  }

  /** READ: append the current character to `s`. */
  private read(s: { v: string }): void {
    const c = this.at();
    s.v += String.fromCodePoint(c);
    this.mark.index += utf8Width(c);
    this.mark.column += 1;
    this.pos += 1;
  }

  /** READ_LINE: append a line break (normalised to \n except LS/PS). */
  private readLine(s: { v: string }): void {
    const c = this.at();
    if (c === 0x0d && this.at(1) === 0x0a) {
      s.v += "\n";
      this.mark.index += 2;
      this.mark.column = 0;
      this.mark.line += 1;
      this.pos += 2;
    } else if (c === 0x0d || c === 0x0a) {
      s.v += "\n";
      this.mark.index += 1;
      this.mark.column = 0;
      this.mark.line += 1;
      this.pos += 1;
    } else if (c === 0x85) {
      s.v += "\n";
      this.mark.index += 2;
      this.mark.column = 0;
      this.mark.line += 1;
      this.pos += 1;
    } else if (c === 0x2028 || c === 0x2029) {
      s.v += String.fromCodePoint(c);
      this.mark.index += 3;
      this.mark.column = 0;
      this.mark.line += 1;
      this.pos += 1;
    }
  }

  // ----- scanner.rs

  private setScannerError(context: string | null, contextMark: Mark, problem: string): false {
    this.error = new LibyamlError(problem, 0, copyMark(this.mark), context, copyMark(contextMark));
    return false;
  }

  private get tokensLen(): number {
    return this.tokens.length - this.tokensHead;
  }

  private enqueue(t: Token): void {
    this.tokens.push(t);
  }

  private queueInsert(index: number, t: Token): void {
    this.tokens.splice(this.tokensHead + index, 0, t);
  }

  fetchMoreTokens(): boolean {
    for (;;) {
      let needMoreTokens = false;
      if (this.tokensLen === 0) {
        needMoreTokens = true;
      } else {
        if (!this.staleSimpleKeys()) return false;
        for (let i = this.notSimpleKeys; i < this.simpleKeys.length; i++) {
          const sk = this.simpleKeys[i]!;
          if (sk.possible && sk.tokenNumber === this.tokensParsed) {
            needMoreTokens = true;
            break;
          }
        }
      }
      if (!needMoreTokens) break;
      if (!this.fetchNextToken()) return false;
    }
    this.tokenAvailable = true;
    return true;
  }

  private fetchNextToken(): boolean {
    if (!this.cache(1)) return false;
    if (!this.streamStartProduced) {
      this.fetchStreamStart();
      return true;
    }
    if (!this.scanToNextToken()) return false;
    if (!this.staleSimpleKeys()) return false;
    this.unrollIndent(this.mark.column);
    if (!this.cache(4)) return false;
    const c = this.at();
    if (c === 0) return this.fetchStreamEnd();
    const col0 = this.mark.column === 0;
    if (col0 && c === 0x25) return this.fetchDirective();
    if (col0 && c === 0x2d && this.at(1) === 0x2d && this.at(2) === 0x2d && this.isBlankz(3)) {
      return this.fetchDocumentIndicator(T.DocumentStart);
    }
    if (col0 && c === 0x2e && this.at(1) === 0x2e && this.at(2) === 0x2e && this.isBlankz(3)) {
      return this.fetchDocumentIndicator(T.DocumentEnd);
    }
    switch (c) {
      case 0x5b: // [
        return this.fetchFlowCollectionStart(T.FlowSequenceStart);
      case 0x7b: // {
        return this.fetchFlowCollectionStart(T.FlowMappingStart);
      case 0x5d: // ]
        return this.fetchFlowCollectionEnd(T.FlowSequenceEnd);
      case 0x7d: // }
        return this.fetchFlowCollectionEnd(T.FlowMappingEnd);
      case 0x2c: // ,
        return this.fetchFlowEntry();
    }
    if (c === 0x2d && this.isBlankz(1)) return this.fetchBlockEntry();
    if (c === 0x3f && (this.flowLevel !== 0 || this.isBlankz(1))) return this.fetchKey();
    if (c === 0x3a && (this.flowLevel !== 0 || this.isBlankz(1))) return this.fetchValue();
    switch (c) {
      case 0x2a: // *
        return this.fetchAnchor(T.Alias);
      case 0x26: // &
        return this.fetchAnchor(T.Anchor);
      case 0x21: // !
        return this.fetchTag();
    }
    if (c === 0x7c && this.flowLevel === 0) return this.fetchBlockScalar(true);
    if (c === 0x3e && this.flowLevel === 0) return this.fetchBlockScalar(false);
    if (c === 0x27) return this.fetchFlowScalar(true);
    if (c === 0x22) return this.fetchFlowScalar(false);
    if (
      !(isBlankzC(c) || INDICATORS.has(c)) ||
      (c === 0x2d && !this.isBlank(1)) ||
      (this.flowLevel === 0 && (c === 0x3f || c === 0x3a) && !this.isBlankz(1))
    ) {
      return this.fetchPlainScalar();
    }
    return this.setScannerError("while scanning for the next token", this.mark, "found character that cannot start any token");
  }

  private staleSimpleKeys(): boolean {
    for (let i = this.notSimpleKeys; i < this.simpleKeys.length; i++) {
      const sk = this.simpleKeys[i]!;
      if (sk.possible && (sk.mark.line < this.mark.line || sk.mark.index + 1024 < this.mark.index)) {
        if (sk.required) {
          return this.setScannerError("while scanning a simple key", sk.mark, "could not find expected ':'");
        }
        sk.possible = false;
        if (this.notSimpleKeys === i) this.notSimpleKeys += 1;
      }
    }
    return true;
  }

  private saveSimpleKey(): boolean {
    const required = this.flowLevel === 0 && this.indent === this.mark.column;
    if (this.simpleKeyAllowed) {
      const sk: SimpleKey = {
        possible: true,
        required,
        tokenNumber: this.tokensParsed + this.tokensLen,
        mark: copyMark(this.mark),
      };
      if (!this.removeSimpleKey()) return false;
      this.simpleKeys[this.simpleKeys.length - 1] = sk;
      if (this.notSimpleKeys === this.simpleKeys.length) this.notSimpleKeys -= 1;
    }
    return true;
  }

  private removeSimpleKey(): boolean {
    const sk = this.simpleKeys[this.simpleKeys.length - 1]!;
    if (sk.possible && sk.required) {
      return this.setScannerError("while scanning a simple key", sk.mark, "could not find expected ':'");
    }
    sk.possible = false;
    return true;
  }

  private increaseFlowLevel(): boolean {
    this.simpleKeys.push({ possible: false, required: false, tokenNumber: 0, mark: zeroMark() });
    this.flowLevel += 1;
    return true;
  }

  private decreaseFlowLevel(): void {
    if (this.flowLevel !== 0) {
      this.flowLevel -= 1;
      if (this.notSimpleKeys === this.simpleKeys.length) this.notSimpleKeys -= 1;
      this.simpleKeys.pop();
    }
  }

  private rollIndent(column: number, number: number, type: T, mark: Mark): boolean {
    if (this.flowLevel !== 0) return true;
    if (this.indent < column) {
      this.indents.push(this.indent);
      this.indent = column;
      const t: Token = { type, start: copyMark(mark), end: copyMark(mark) };
      if (number === -1) this.enqueue(t);
      else this.queueInsert(number - this.tokensParsed, t);
    }
    return true;
  }

  private unrollIndent(column: number): void {
    if (this.flowLevel !== 0) return;
    while (this.indent > column) {
      this.enqueue({ type: T.BlockEnd, start: copyMark(this.mark), end: copyMark(this.mark) });
      this.indent = this.indents.pop()!;
    }
  }

  private fetchStreamStart(): void {
    this.indent = -1;
    this.simpleKeys.push({ possible: false, required: false, tokenNumber: 0, mark: zeroMark() });
    this.notSimpleKeys = 1;
    this.simpleKeyAllowed = true;
    this.streamStartProduced = true;
    this.enqueue({ type: T.StreamStart, start: copyMark(this.mark), end: copyMark(this.mark) });
  }

  private fetchStreamEnd(): boolean {
    if (this.mark.column !== 0) {
      this.mark.column = 0;
      this.mark.line += 1;
    }
    this.unrollIndent(-1);
    if (!this.removeSimpleKey()) return false;
    this.simpleKeyAllowed = false;
    this.enqueue({ type: T.StreamEnd, start: copyMark(this.mark), end: copyMark(this.mark) });
    return true;
  }

  private fetchDirective(): boolean {
    this.unrollIndent(-1);
    if (!this.removeSimpleKey()) return false;
    this.simpleKeyAllowed = false;
    const t = this.scanDirective();
    if (t === null) return false;
    this.enqueue(t);
    return true;
  }

  private fetchDocumentIndicator(type: T): boolean {
    this.unrollIndent(-1);
    if (!this.removeSimpleKey()) return false;
    this.simpleKeyAllowed = false;
    const start = copyMark(this.mark);
    this.skip();
    this.skip();
    this.skip();
    this.enqueue({ type, start, end: copyMark(this.mark) });
    return true;
  }

  private fetchFlowCollectionStart(type: T): boolean {
    if (!this.saveSimpleKey()) return false;
    if (!this.increaseFlowLevel()) return false;
    this.simpleKeyAllowed = true;
    const start = copyMark(this.mark);
    this.skip();
    this.enqueue({ type, start, end: copyMark(this.mark) });
    return true;
  }

  private fetchFlowCollectionEnd(type: T): boolean {
    if (!this.removeSimpleKey()) return false;
    this.decreaseFlowLevel();
    this.simpleKeyAllowed = false;
    const start = copyMark(this.mark);
    this.skip();
    this.enqueue({ type, start, end: copyMark(this.mark) });
    return true;
  }

  private fetchFlowEntry(): boolean {
    if (!this.removeSimpleKey()) return false;
    this.simpleKeyAllowed = true;
    const start = copyMark(this.mark);
    this.skip();
    this.enqueue({ type: T.FlowEntry, start, end: copyMark(this.mark) });
    return true;
  }

  private fetchBlockEntry(): boolean {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed) {
        return this.setScannerError(null, this.mark, "block sequence entries are not allowed in this context");
      }
      if (!this.rollIndent(this.mark.column, -1, T.BlockSequenceStart, this.mark)) return false;
    }
    if (!this.removeSimpleKey()) return false;
    this.simpleKeyAllowed = true;
    const start = copyMark(this.mark);
    this.skip();
    this.enqueue({ type: T.BlockEntry, start, end: copyMark(this.mark) });
    return true;
  }

  private fetchKey(): boolean {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed) {
        return this.setScannerError(null, this.mark, "mapping keys are not allowed in this context");
      }
      if (!this.rollIndent(this.mark.column, -1, T.BlockMappingStart, this.mark)) return false;
    }
    if (!this.removeSimpleKey()) return false;
    this.simpleKeyAllowed = this.flowLevel === 0;
    const start = copyMark(this.mark);
    this.skip();
    this.enqueue({ type: T.Key, start, end: copyMark(this.mark) });
    return true;
  }

  private fetchValue(): boolean {
    const sk = this.simpleKeys[this.simpleKeys.length - 1]!;
    if (sk.possible) {
      this.queueInsert(sk.tokenNumber - this.tokensParsed, { type: T.Key, start: copyMark(sk.mark), end: copyMark(sk.mark) });
      if (!this.rollIndent(sk.mark.column, sk.tokenNumber, T.BlockMappingStart, sk.mark)) return false;
      sk.possible = false;
      this.simpleKeyAllowed = false;
    } else {
      if (this.flowLevel === 0) {
        if (!this.simpleKeyAllowed) {
          return this.setScannerError(null, this.mark, "mapping values are not allowed in this context");
        }
        if (!this.rollIndent(this.mark.column, -1, T.BlockMappingStart, this.mark)) return false;
      }
      this.simpleKeyAllowed = this.flowLevel === 0;
    }
    const start = copyMark(this.mark);
    this.skip();
    this.enqueue({ type: T.Value, start, end: copyMark(this.mark) });
    return true;
  }

  private fetchAnchor(type: T): boolean {
    if (!this.saveSimpleKey()) return false;
    this.simpleKeyAllowed = false;
    const t = this.scanAnchor(type);
    if (t === null) return false;
    this.enqueue(t);
    return true;
  }

  private fetchTag(): boolean {
    if (!this.saveSimpleKey()) return false;
    this.simpleKeyAllowed = false;
    const t = this.scanTag();
    if (t === null) return false;
    this.enqueue(t);
    return true;
  }

  private fetchBlockScalar(literal: boolean): boolean {
    if (!this.removeSimpleKey()) return false;
    this.simpleKeyAllowed = true;
    const t = this.scanBlockScalar(literal);
    if (t === null) return false;
    this.enqueue(t);
    return true;
  }

  private fetchFlowScalar(single: boolean): boolean {
    if (!this.saveSimpleKey()) return false;
    this.simpleKeyAllowed = false;
    const t = this.scanFlowScalar(single);
    if (t === null) return false;
    this.enqueue(t);
    return true;
  }

  private fetchPlainScalar(): boolean {
    if (!this.saveSimpleKey()) return false;
    this.simpleKeyAllowed = false;
    const t = this.scanPlainScalar();
    if (t === null) return false;
    this.enqueue(t);
    return true;
  }

  private scanToNextToken(): boolean {
    for (;;) {
      if (!this.cache(1)) return false;
      if (this.mark.column === 0 && this.at() === 0xfeff) this.skip();
      if (!this.cache(1)) return false;
      while (this.at() === 0x20 || ((this.flowLevel !== 0 || !this.simpleKeyAllowed) && this.at() === 0x09)) {
        this.skip();
        if (!this.cache(1)) return false;
      }
      if (this.at() === 0x23) {
        while (!this.isBreakz()) {
          this.skip();
          if (!this.cache(1)) return false;
        }
      }
      if (!this.isBreak()) break;
      if (!this.cache(2)) return false;
      this.skipLine();
      if (this.flowLevel === 0) this.simpleKeyAllowed = true;
    }
    return true;
  }

  private scanDirective(): Token | null {
    const start = copyMark(this.mark);
    this.skip();
    const name = this.scanDirectiveName(start);
    if (name === null) return null;
    let token: Token;
    if (name === "YAML") {
      const v = this.scanVersionDirectiveValue(start);
      if (v === null) return null;
      token = { type: T.VersionDirective, start, end: copyMark(this.mark), major: v[0], minor: v[1] };
    } else if (name === "TAG") {
      const v = this.scanTagDirectiveValue(start);
      if (v === null) return null;
      token = { type: T.TagDirective, start, end: copyMark(this.mark), handle: v[0], prefix: v[1] };
    } else {
      this.setScannerError("while scanning a directive", start, "found unknown directive name");
      return null;
    }
    if (!this.cache(1)) return null;
    while (this.isBlank()) {
      this.skip();
      if (!this.cache(1)) return null;
    }
    if (this.at() === 0x23) {
      while (!this.isBreakz()) {
        this.skip();
        if (!this.cache(1)) return null;
      }
    }
    if (!this.isBreakz()) {
      this.setScannerError("while scanning a directive", start, "did not find expected comment or line break");
      return null;
    }
    if (this.isBreak()) {
      if (!this.cache(2)) return null;
      this.skipLine();
    }
    return token;
  }

  private scanDirectiveName(start: Mark): string | null {
    const s = { v: "" };
    if (!this.cache(1)) return null;
    while (isAlphaC(this.at())) {
      this.read(s);
      if (!this.cache(1)) return null;
    }
    if (s.v === "") {
      this.setScannerError("while scanning a directive", start, "could not find expected directive name");
      return null;
    }
    if (!this.isBlankz()) {
      this.setScannerError("while scanning a directive", start, "found unexpected non-alphabetical character");
      return null;
    }
    return s.v;
  }

  private scanVersionDirectiveValue(start: Mark): [number, number] | null {
    if (!this.cache(1)) return null;
    while (this.isBlank()) {
      this.skip();
      if (!this.cache(1)) return null;
    }
    const major = this.scanVersionDirectiveNumber(start);
    if (major === null) return null;
    if (this.at() !== 0x2e) {
      this.setScannerError("while scanning a %YAML directive", start, "did not find expected digit or '.' character");
      return null;
    }
    this.skip();
    const minor = this.scanVersionDirectiveNumber(start);
    if (minor === null) return null;
    return [major, minor];
  }

  private scanVersionDirectiveNumber(start: Mark): number | null {
    let value = 0;
    let length = 0;
    if (!this.cache(1)) return null;
    while (isDigitC(this.at())) {
      length += 1;
      if (length > 9) {
        this.setScannerError("while scanning a %YAML directive", start, "found extremely long version number");
        return null;
      }
      value = value * 10 + (this.at() - 0x30);
      this.skip();
      if (!this.cache(1)) return null;
    }
    if (length === 0) {
      this.setScannerError("while scanning a %YAML directive", start, "did not find expected version number");
      return null;
    }
    return value;
  }

  private scanTagDirectiveValue(start: Mark): [string, string] | null {
    if (!this.cache(1)) return null;
    for (;;) {
      if (this.isBlank()) {
        this.skip();
        if (!this.cache(1)) return null;
        continue;
      }
      const handle = this.scanTagHandle(true, start);
      if (handle === null) return null;
      if (!this.cache(1)) return null;
      if (!this.isBlank()) {
        this.setScannerError("while scanning a %TAG directive", start, "did not find expected whitespace");
        return null;
      }
      while (this.isBlank()) {
        this.skip();
        if (!this.cache(1)) return null;
      }
      const prefix = this.scanTagUri(true, true, null, start);
      if (prefix === null) return null;
      if (!this.cache(1)) return null;
      if (!this.isBlankz()) {
        this.setScannerError("while scanning a %TAG directive", start, "did not find expected whitespace or line break");
        return null;
      }
      return [handle, prefix];
    }
  }

  private scanAnchor(type: T): Token | null {
    let length = 0;
    const s = { v: "" };
    const start = copyMark(this.mark);
    this.skip();
    if (!this.cache(1)) return null;
    while (isAlphaC(this.at())) {
      this.read(s);
      if (!this.cache(1)) return null;
      length += 1;
    }
    const end = copyMark(this.mark);
    if (length === 0 || !(this.isBlankz() || "?:,]}%@`".includes(String.fromCodePoint(this.at())))) {
      this.setScannerError(
        type === T.Anchor ? "while scanning an anchor" : "while scanning an alias",
        start,
        "did not find expected alphabetic or numeric character",
      );
      return null;
    }
    return { type, start, end, value: s.v };
  }

  private scanTag(): Token | null {
    let handle: string;
    let suffix: string;
    const start = copyMark(this.mark);
    if (!this.cache(2)) return null;
    if (this.at(1) === 0x3c) {
      handle = "";
      this.skip();
      this.skip();
      const u = this.scanTagUri(true, false, null, start);
      if (u === null) return null;
      suffix = u;
      if (this.at() !== 0x3e) {
        this.setScannerError("while scanning a tag", start, "did not find the expected '>'");
        return null;
      }
      this.skip();
    } else {
      const h = this.scanTagHandle(false, start);
      if (h === null) return null;
      handle = h;
      const hc = cstr(handle);
      if (hc[0] === "!" && hc.length > 1 && hc[hc.length - 1] === "!") {
        const u = this.scanTagUri(false, false, null, start);
        if (u === null) return null;
        suffix = u;
      } else {
        const u = this.scanTagUri(false, false, handle, start);
        if (u === null) return null;
        suffix = u;
        handle = "!";
        if (cstr(suffix) === "") {
          const tmp = handle;
          handle = suffix;
          suffix = tmp;
        }
      }
    }
    if (!this.cache(1)) return null;
    if (!this.isBlankz()) {
      if (this.flowLevel === 0 || this.at() !== 0x2c) {
        this.setScannerError("while scanning a tag", start, "did not find expected whitespace or line break");
        return null;
      }
    }
    return { type: T.Tag, start, end: copyMark(this.mark), handle, suffix };
  }

  private scanTagHandle(directive: boolean, start: Mark): string | null {
    const s = { v: "" };
    if (!this.cache(1)) return null;
    if (this.at() !== 0x21) {
      this.setScannerError(directive ? "while scanning a tag directive" : "while scanning a tag", start, "did not find expected '!'");
      return null;
    }
    this.read(s);
    if (!this.cache(1)) return null;
    while (isAlphaC(this.at())) {
      this.read(s);
      if (!this.cache(1)) return null;
    }
    if (this.at() === 0x21) {
      this.read(s);
    } else if (directive && !(s.v === "!")) {
      this.setScannerError("while parsing a tag directive", start, "did not find expected '!'");
      return null;
    }
    return s.v;
  }

  /** Byte string of the URI; `head` (minus its first char) goes in front. */
  private scanTagUri(uriChar: boolean, directive: boolean, head: string | null, start: Mark): string | null {
    const headC = head === null ? "" : cstr(head);
    let length = headC.length;
    const s = { v: "" };
    if (length > 1) s.v += headC.slice(1);
    if (!this.cache(1)) return null;
    for (;;) {
      const c = this.at();
      const ok =
        isAlphaC(c) ||
        ";/?:@&=+$.%!~*'()".includes(String.fromCharCode(c)) && c < 0x80 && c !== 0 ||
        (uriChar && (c === 0x2c || c === 0x5b || c === 0x5d));
      if (!ok) break;
      if (this.at() === 0x25) {
        if (!this.scanUriEscapes(directive, start, s)) return null;
      } else {
        this.read(s);
      }
      length += 1;
      if (!this.cache(1)) return null;
    }
    if (length === 0) {
      this.setScannerError(directive ? "while parsing a %TAG directive" : "while parsing a tag", start, "did not find expected tag URI");
      return null;
    }
    return s.v;
  }

  private scanUriEscapes(directive: boolean, start: Mark, s: { v: string }): boolean {
    let width = 0;
    const ctx = directive ? "while parsing a %TAG directive" : "while parsing a tag";
    do {
      if (!this.cache(3)) return false;
      if (!(this.at() === 0x25 && isHexC(this.at(1)) && isHexC(this.at(2)))) {
        return this.setScannerError(ctx, start, "did not find URI escaped octet");
      }
      const octet = (asHexC(this.at(1)) << 4) + asHexC(this.at(2));
      if (width === 0) {
        width = (octet & 0x80) === 0 ? 1 : (octet & 0xe0) === 0xc0 ? 2 : (octet & 0xf0) === 0xe0 ? 3 : (octet & 0xf8) === 0xf0 ? 4 : 0;
        if (width === 0) return this.setScannerError(ctx, start, "found an incorrect leading UTF-8 octet");
      } else if ((octet & 0xc0) !== 0x80) {
        return this.setScannerError(ctx, start, "found an incorrect trailing UTF-8 octet");
      }
      s.v += String.fromCharCode(octet);
      this.skip();
      this.skip();
      this.skip();
      width -= 1;
    } while (width !== 0);
    return true;
  }

  private scanBlockScalar(literal: boolean): Token | null {
    const s = { v: "" };
    const leadingBreak = { v: "" };
    const trailingBreaks = { v: "" };
    let chomping = 0;
    let increment = 0;
    let indent = 0;
    let leadingBlank = false;
    const start = copyMark(this.mark);
    this.skip();
    if (!this.cache(1)) return null;
    if (this.at() === 0x2b || this.at() === 0x2d) {
      chomping = this.at() === 0x2b ? 1 : -1;
      this.skip();
      if (!this.cache(1)) return null;
      if (isDigitC(this.at())) {
        if (this.at() === 0x30) {
          this.setScannerError("while scanning a block scalar", start, "found an indentation indicator equal to 0");
          return null;
        }
        increment = this.at() - 0x30;
        this.skip();
      }
    } else if (isDigitC(this.at())) {
      if (this.at() === 0x30) {
        this.setScannerError("while scanning a block scalar", start, "found an indentation indicator equal to 0");
        return null;
      }
      increment = this.at() - 0x30;
      this.skip();
      if (!this.cache(1)) return null;
      if (this.at() === 0x2b || this.at() === 0x2d) {
        chomping = this.at() === 0x2b ? 1 : -1;
        this.skip();
      }
    }
    if (!this.cache(1)) return null;
    while (this.isBlank()) {
      this.skip();
      if (!this.cache(1)) return null;
    }
    if (this.at() === 0x23) {
      while (!this.isBreakz()) {
        this.skip();
        if (!this.cache(1)) return null;
      }
    }
    if (!this.isBreakz()) {
      this.setScannerError("while scanning a block scalar", start, "did not find expected comment or line break");
      return null;
    }
    if (this.isBreak()) {
      if (!this.cache(2)) return null;
      this.skipLine();
    }
    let end = copyMark(this.mark);
    if (increment !== 0) indent = this.indent >= 0 ? this.indent + increment : increment;
    const st = { indent, end };
    if (!this.scanBlockScalarBreaks(st, trailingBreaks, start)) return null;
    if (!this.cache(1)) return null;
    while (this.mark.column === st.indent && !this.isZ()) {
      const trailingBlank = this.isBlank();
      if (!literal && leadingBreak.v.startsWith("\n") && !leadingBlank && !trailingBlank) {
        if (trailingBreaks.v === "") s.v += " ";
        leadingBreak.v = "";
      } else {
        s.v += leadingBreak.v;
        leadingBreak.v = "";
      }
      s.v += trailingBreaks.v;
      trailingBreaks.v = "";
      leadingBlank = this.isBlank();
      while (!this.isBreakz()) {
        this.read(s);
        if (!this.cache(1)) return null;
      }
      if (!this.cache(2)) return null;
      this.readLine(leadingBreak);
      if (!this.scanBlockScalarBreaks(st, trailingBreaks, start)) return null;
    }
    if (chomping !== -1) s.v += leadingBreak.v;
    if (chomping === 1) s.v += trailingBreaks.v;
    end = st.end;
    return { type: T.Scalar, start, end, value: s.v, style: literal ? "literal" : "folded" };
  }

  private scanBlockScalarBreaks(st: { indent: number; end: Mark }, breaks: { v: string }, start: Mark): boolean {
    let maxIndent = 0;
    st.end = copyMark(this.mark);
    for (;;) {
      if (!this.cache(1)) return false;
      while ((st.indent === 0 || this.mark.column < st.indent) && this.at() === 0x20) {
        this.skip();
        if (!this.cache(1)) return false;
      }
      if (this.mark.column > maxIndent) maxIndent = this.mark.column;
      if ((st.indent === 0 || this.mark.column < st.indent) && this.at() === 0x09) {
        return this.setScannerError(
          "while scanning a block scalar",
          start,
          "found a tab character where an indentation space is expected",
        );
      }
      if (!this.isBreak()) break;
      if (!this.cache(2)) return false;
      this.readLine(breaks);
      st.end = copyMark(this.mark);
    }
    if (st.indent === 0) {
      st.indent = maxIndent;
      if (st.indent < this.indent + 1) st.indent = this.indent + 1;
      if (st.indent < 1) st.indent = 1;
    }
    return true;
  }

  private scanFlowScalar(single: boolean): Token | null {
    const s = { v: "" };
    const leadingBreak = { v: "" };
    const trailingBreaks = { v: "" };
    const whitespaces = { v: "" };
    const start = copyMark(this.mark);
    this.skip();
    for (;;) {
      if (!this.cache(4)) return null;
      if (
        this.mark.column === 0 &&
        ((this.at() === 0x2d && this.at(1) === 0x2d && this.at(2) === 0x2d) ||
          (this.at() === 0x2e && this.at(1) === 0x2e && this.at(2) === 0x2e)) &&
        this.isBlankz(3)
      ) {
        this.setScannerError("while scanning a quoted scalar", start, "found unexpected document indicator");
        return null;
      } else if (this.isZ()) {
        this.setScannerError("while scanning a quoted scalar", start, "found unexpected end of stream");
        return null;
      }
      if (!this.cache(2)) return null;
      let leadingBlanks = false;
      while (!this.isBlankz()) {
        if (single && this.at() === 0x27 && this.at(1) === 0x27) {
          s.v += "'";
          this.skip();
          this.skip();
        } else {
          if (this.at() === (single ? 0x27 : 0x22)) break;
          if (!single && this.at() === 0x5c && this.isBreak(1)) {
            if (!this.cache(3)) return null;
            this.skip();
            this.skipLine();
            leadingBlanks = true;
            break;
          } else if (!single && this.at() === 0x5c) {
            let codeLength = 0;
            const e = this.at(1);
            const simple: Record<number, string> = {
              0x30: "\0",
              0x61: "\x07",
              0x62: "\x08",
              0x74: "\t",
              0x09: "\t",
              0x6e: "\n",
              0x76: "\x0b",
              0x66: "\x0c",
              0x72: "\r",
              0x65: "\x1b",
              0x20: " ",
              0x22: '"',
              0x2f: "/",
              0x5c: "\\",
              0x4e: "\u0085",
              0x5f: "\u00a0",
              0x4c: "\u2028",
              0x50: "\u2029",
            };
            if (e in simple) s.v += simple[e];
            else if (e === 0x78) codeLength = 2;
            else if (e === 0x75) codeLength = 4;
            else if (e === 0x55) codeLength = 8;
            else {
              this.setScannerError("while parsing a quoted scalar", start, "found unknown escape character");
              return null;
            }
            this.skip();
            this.skip();
            if (codeLength !== 0) {
              let value = 0;
              if (!this.cache(codeLength)) return null;
              for (let k = 0; k < codeLength; k++) {
                if (!isHexC(this.at(k))) {
                  this.setScannerError("while parsing a quoted scalar", start, "did not find expected hexadecimal number");
                  return null;
                }
                value = value * 16 + asHexC(this.at(k));
              }
              if ((value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff) {
                this.setScannerError("while parsing a quoted scalar", start, "found invalid Unicode character escape code");
                return null;
              }
              s.v += String.fromCodePoint(value);
              for (let k = 0; k < codeLength; k++) this.skip();
            }
          } else {
            this.read(s);
          }
        }
        if (!this.cache(2)) return null;
      }
      if (!this.cache(1)) return null;
      if (this.at() === (single ? 0x27 : 0x22)) break;
      if (!this.cache(1)) return null;
      while (this.isBlank() || this.isBreak()) {
        if (this.isBlank()) {
          if (!leadingBlanks) this.read(whitespaces);
          else this.skip();
        } else {
          if (!this.cache(2)) return null;
          if (!leadingBlanks) {
            whitespaces.v = "";
            this.readLine(leadingBreak);
            leadingBlanks = true;
          } else {
            this.readLine(trailingBreaks);
          }
        }
        if (!this.cache(1)) return null;
      }
      if (leadingBlanks) {
        if (leadingBreak.v.startsWith("\n")) {
          if (trailingBreaks.v === "") s.v += " ";
          else {
            s.v += trailingBreaks.v;
            trailingBreaks.v = "";
          }
          leadingBreak.v = "";
        } else {
          s.v += leadingBreak.v;
          s.v += trailingBreaks.v;
          leadingBreak.v = "";
          trailingBreaks.v = "";
        }
      } else {
        s.v += whitespaces.v;
        whitespaces.v = "";
      }
    }
    this.skip();
    return { type: T.Scalar, start, end: copyMark(this.mark), value: s.v, style: single ? "single" : "double" };
  }

  private scanPlainScalar(): Token | null {
    const s = { v: "" };
    const leadingBreak = { v: "" };
    const trailingBreaks = { v: "" };
    const whitespaces = { v: "" };
    let leadingBlanks = false;
    const indent = this.indent + 1;
    let end = copyMark(this.mark);
    const start = copyMark(this.mark);
    for (;;) {
      if (!this.cache(4)) return null;
      if (
        this.mark.column === 0 &&
        ((this.at() === 0x2d && this.at(1) === 0x2d && this.at(2) === 0x2d) ||
          (this.at() === 0x2e && this.at(1) === 0x2e && this.at(2) === 0x2e)) &&
        this.isBlankz(3)
      ) {
        break;
      }
      if (this.at() === 0x23) break;
      // The scalar's characters up to a blank, `: ` or (in a flow) an indicator:
      // the loop of libyaml with READ and CACHE inlined, the end mark kept as numbers.
      const flow = this.flowLevel !== 0;
      const cps = this.cps;
      let c = this.at();
      let endIndex = end.index;
      let endLine = end.line;
      let endColumn = end.column;
      let moved = false;
      while (!isBlankzC(c)) {
        const c1 = this.at(1);
        if (flow && c === 0x3a && (c1 === 0x2c || c1 === 0x3f || c1 === 0x5b || c1 === 0x5d || c1 === 0x7b || c1 === 0x7d)) {
          this.setScannerError("while scanning a plain scalar", start, "found unexpected ':'");
          return null;
        }
        if ((c === 0x3a && isBlankzC(c1)) || (flow && (c === 0x2c || c === 0x5b || c === 0x5d || c === 0x7b || c === 0x7d))) {
          break;
        }
        if (leadingBlanks || whitespaces.v !== "") {
          if (leadingBlanks) {
            if (leadingBreak.v.startsWith("\n")) {
              if (trailingBreaks.v === "") s.v += " ";
              else {
                s.v += trailingBreaks.v;
                trailingBreaks.v = "";
              }
              leadingBreak.v = "";
            } else {
              s.v += leadingBreak.v;
              s.v += trailingBreaks.v;
              leadingBreak.v = "";
              trailingBreaks.v = "";
            }
            leadingBlanks = false;
          } else {
            s.v += whitespaces.v;
            whitespaces.v = "";
          }
        }
        // READ
        s.v += c < 0x10000 ? String.fromCharCode(c) : String.fromCodePoint(c);
        this.mark.index += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        this.mark.column += 1;
        this.pos += 1;
        endIndex = this.mark.index;
        endLine = this.mark.line;
        endColumn = this.mark.column;
        moved = true;
        if (this.avail - this.pos < 2 && !this.updateBuffer(2)) return null;
        c = this.pos < this.decoded ? cps[this.pos]! : 0;
      }
      if (moved) end = { index: endIndex, line: endLine, column: endColumn };
      if (!(this.isBlank() || this.isBreak())) break;
      if (!this.cache(1)) return null;
      while (this.isBlank() || this.isBreak()) {
        if (this.isBlank()) {
          if (leadingBlanks && this.mark.column < indent && this.at() === 0x09) {
            this.setScannerError("while scanning a plain scalar", start, "found a tab character that violates indentation");
            return null;
          } else if (!leadingBlanks) {
            this.read(whitespaces);
          } else {
            this.skip();
          }
        } else {
          if (!this.cache(2)) return null;
          if (!leadingBlanks) {
            whitespaces.v = "";
            this.readLine(leadingBreak);
            leadingBlanks = true;
          } else {
            this.readLine(trailingBreaks);
          }
        }
        if (!this.cache(1)) return null;
      }
      if (this.flowLevel === 0 && this.mark.column < indent) break;
    }
    if (leadingBlanks) this.simpleKeyAllowed = true;
    return { type: T.Scalar, start, end, value: s.v, style: "plain" };
  }

  // ----- parser.rs

  private peekToken(): Token | null {
    if (this.tokenAvailable || this.fetchMoreTokens()) return this.tokens[this.tokensHead]!;
    return null;
  }

  private skipToken(): void {
    this.tokenAvailable = false;
    this.tokensParsed += 1;
    this.streamEndProduced = this.tokens[this.tokensHead]!.type === T.StreamEnd;
    this.tokensHead += 1;
  }

  private setParserError(problem: string, problemMark: Mark): null {
    this.error = new LibyamlError(problem, 0, copyMark(problemMark), null, zeroMark());
    return null;
  }

  private setParserErrorContext(context: string, contextMark: Mark, problem: string, problemMark: Mark): null {
    this.error = new LibyamlError(problem, 0, copyMark(problemMark), context, copyMark(contextMark));
    return null;
  }

  /** `Parser::next`: the next event and its start mark, or the error. */
  next(): { event: YamlEvent; mark: Mark } | LibyamlError {
    if (this.error !== null) return this.error;
    const r = this.parse();
    if (r === null) return this.error!;
    return r;
  }

  private parse(): { event: YamlEvent; mark: Mark } | null {
    if (this.streamEndProduced || this.error !== null || this.state === S.End) {
      throw new Error("yaml_parser_parse called after the end");
    }
    return this.stateMachine();
  }

  private stateMachine(): { event: YamlEvent; mark: Mark } | null {
    switch (this.state) {
      case S.StreamStart:
        return this.parseStreamStart();
      case S.ImplicitDocumentStart:
        return this.parseDocumentStart(true);
      case S.DocumentStart:
        return this.parseDocumentStart(false);
      case S.DocumentContent:
        return this.parseDocumentContent();
      case S.DocumentEnd:
        return this.parseDocumentEnd();
      case S.BlockNode:
        return this.parseNode(true, false);
      case S.BlockNodeOrIndentlessSequence:
        return this.parseNode(true, true);
      case S.FlowNode:
        return this.parseNode(false, false);
      case S.BlockSequenceFirstEntry:
        return this.parseBlockSequenceEntry(true);
      case S.BlockSequenceEntry:
        return this.parseBlockSequenceEntry(false);
      case S.IndentlessSequenceEntry:
        return this.parseIndentlessSequenceEntry();
      case S.BlockMappingFirstKey:
        return this.parseBlockMappingKey(true);
      case S.BlockMappingKey:
        return this.parseBlockMappingKey(false);
      case S.BlockMappingValue:
        return this.parseBlockMappingValue();
      case S.FlowSequenceFirstEntry:
        return this.parseFlowSequenceEntry(true);
      case S.FlowSequenceEntry:
        return this.parseFlowSequenceEntry(false);
      case S.FlowSequenceEntryMappingKey:
        return this.parseFlowSequenceEntryMappingKey();
      case S.FlowSequenceEntryMappingValue:
        return this.parseFlowSequenceEntryMappingValue();
      case S.FlowSequenceEntryMappingEnd:
        return this.parseFlowSequenceEntryMappingEnd();
      case S.FlowMappingFirstKey:
        return this.parseFlowMappingKey(true);
      case S.FlowMappingKey:
        return this.parseFlowMappingKey(false);
      case S.FlowMappingValue:
        return this.parseFlowMappingValue(false);
      case S.FlowMappingEmptyValue:
        return this.parseFlowMappingValue(true);
      default:
        return null;
    }
  }

  private ev(event: YamlEvent, mark: Mark) {
    return { event, mark: copyMark(mark) };
  }

  private parseStreamStart() {
    const token = this.peekToken();
    if (token === null) return null;
    if (token.type !== T.StreamStart) return this.setParserError("did not find expected <stream-start>", token.start);
    this.state = S.ImplicitDocumentStart;
    const r = this.ev({ type: "StreamStart" }, token.start);
    this.skipToken();
    return r;
  }

  private parseDocumentStart(implicit: boolean) {
    let token = this.peekToken();
    if (token === null) return null;
    if (!implicit) {
      while (token.type === T.DocumentEnd) {
        this.skipToken();
        token = this.peekToken();
        if (token === null) return null;
      }
    }
    if (
      implicit &&
      token.type !== T.VersionDirective &&
      token.type !== T.TagDirective &&
      token.type !== T.DocumentStart &&
      token.type !== T.StreamEnd
    ) {
      if (!this.processDirectives()) return null;
      this.states.push(S.DocumentEnd);
      this.state = S.BlockNode;
      return this.ev({ type: "DocumentStart" }, token.start);
    } else if (token.type !== T.StreamEnd) {
      const start = copyMark(token.start);
      if (!this.processDirectives()) return null;
      token = this.peekToken();
      if (token !== null) {
        if (token.type !== T.DocumentStart) {
          return this.setParserError("did not find expected <document start>", token.start);
        }
        this.states.push(S.DocumentEnd);
        this.state = S.DocumentContent;
        const r = this.ev({ type: "DocumentStart" }, start);
        this.skipToken();
        return r;
      }
      return null;
    } else {
      this.state = S.End;
      const r = this.ev({ type: "StreamEnd" }, token.start);
      this.skipToken();
      return r;
    }
  }

  private parseDocumentContent() {
    const token = this.peekToken();
    if (token === null) return null;
    if (
      token.type === T.VersionDirective ||
      token.type === T.TagDirective ||
      token.type === T.DocumentStart ||
      token.type === T.DocumentEnd ||
      token.type === T.StreamEnd
    ) {
      this.state = this.states.pop()!;
      return this.processEmptyScalar(token.start);
    }
    return this.parseNode(true, false);
  }

  private parseDocumentEnd() {
    const token = this.peekToken();
    if (token === null) return null;
    const start = copyMark(token.start);
    if (token.type === T.DocumentEnd) this.skipToken();
    this.tagDirectives = [];
    this.state = S.DocumentStart;
    return this.ev({ type: "DocumentEnd" }, start);
  }

  private parseNode(block: boolean, indentlessSequence: boolean) {
    let token = this.peekToken();
    if (token === null) return null;
    let anchor: string | null = null;
    let tagHandle: string | null = null;
    let tagSuffix: string | null = null;
    let tag: string | null = null;
    let tagMark = zeroMark();
    if (token.type === T.Alias) {
      this.state = this.states.pop()!;
      const r = this.ev({ type: "Alias", anchor: token.value! }, token.start);
      this.skipToken();
      return r;
    }
    let start = copyMark(token.start);
    if (token.type === T.Anchor) {
      anchor = token.value!;
      start = copyMark(token.start);
      this.skipToken();
      token = this.peekToken();
      if (token === null) return null;
      if (token.type === T.Tag) {
        tagHandle = token.handle!;
        tagSuffix = token.suffix!;
        tagMark = copyMark(token.start);
        this.skipToken();
        token = this.peekToken();
        if (token === null) return null;
      }
    } else if (token.type === T.Tag) {
      tagHandle = token.handle!;
      tagSuffix = token.suffix!;
      tagMark = copyMark(token.start);
      start = copyMark(tagMark);
      this.skipToken();
      token = this.peekToken();
      if (token === null) return null;
      if (token.type === T.Anchor) {
        anchor = token.value!;
        this.skipToken();
        token = this.peekToken();
        if (token === null) return null;
      }
    }
    if (tagHandle !== null) {
      const h = cstr(tagHandle);
      if (h === "") {
        tag = cstr(tagSuffix!);
      } else {
        for (const d of this.tagDirectives) {
          if (d.handle === h) {
            tag = cstr(d.prefix) + cstr(tagSuffix!);
            break;
          }
        }
        if (tag === null) {
          return this.setParserErrorContext("while parsing a node", start, "found undefined tag handle", tagMark);
        }
      }
    }
    if (indentlessSequence && token.type === T.BlockEntry) {
      this.state = S.IndentlessSequenceEntry;
      return this.ev({ type: "SequenceStart", anchor, tag }, start);
    } else if (token.type === T.Scalar) {
      this.state = this.states.pop()!;
      const r = this.ev({ type: "Scalar", anchor, tag, value: token.value!, style: token.style! }, start);
      this.skipToken();
      return r;
    } else if (token.type === T.FlowSequenceStart) {
      this.state = S.FlowSequenceFirstEntry;
      return this.ev({ type: "SequenceStart", anchor, tag }, start);
    } else if (token.type === T.FlowMappingStart) {
      this.state = S.FlowMappingFirstKey;
      return this.ev({ type: "MappingStart", anchor, tag }, start);
    } else if (block && token.type === T.BlockSequenceStart) {
      this.state = S.BlockSequenceFirstEntry;
      return this.ev({ type: "SequenceStart", anchor, tag }, start);
    } else if (block && token.type === T.BlockMappingStart) {
      this.state = S.BlockMappingFirstKey;
      return this.ev({ type: "MappingStart", anchor, tag }, start);
    } else if (anchor !== null || tag !== null) {
      this.state = this.states.pop()!;
      return this.ev({ type: "Scalar", anchor, tag, value: "", style: "plain" }, start);
    }
    return this.setParserErrorContext(
      block ? "while parsing a block node" : "while parsing a flow node",
      start,
      "did not find expected node content",
      token.start,
    );
  }

  private parseBlockSequenceEntry(first: boolean) {
    let token: Token | null;
    if (first) {
      token = this.peekToken();
      this.marks.push(copyMark(token!.start));
      this.skipToken();
    }
    token = this.peekToken();
    if (token === null) return null;
    if (token.type === T.BlockEntry) {
      const mark = copyMark(token.end);
      this.skipToken();
      token = this.peekToken();
      if (token === null) return null;
      if (token.type !== T.BlockEntry && token.type !== T.BlockEnd) {
        this.states.push(S.BlockSequenceEntry);
        return this.parseNode(true, false);
      }
      this.state = S.BlockSequenceEntry;
      return this.processEmptyScalar(mark);
    } else if (token.type === T.BlockEnd) {
      this.state = this.states.pop()!;
      this.marks.pop();
      const r = this.ev({ type: "SequenceEnd" }, token.start);
      this.skipToken();
      return r;
    }
    return this.setParserErrorContext(
      "while parsing a block collection",
      this.marks.pop()!,
      "did not find expected '-' indicator",
      token.start,
    );
  }

  private parseIndentlessSequenceEntry() {
    let token = this.peekToken();
    if (token === null) return null;
    if (token.type === T.BlockEntry) {
      const mark = copyMark(token.end);
      this.skipToken();
      token = this.peekToken();
      if (token === null) return null;
      if (token.type !== T.BlockEntry && token.type !== T.Key && token.type !== T.Value && token.type !== T.BlockEnd) {
        this.states.push(S.IndentlessSequenceEntry);
        return this.parseNode(true, false);
      }
      this.state = S.IndentlessSequenceEntry;
      return this.processEmptyScalar(mark);
    }
    this.state = this.states.pop()!;
    return this.ev({ type: "SequenceEnd" }, token.start);
  }

  private parseBlockMappingKey(first: boolean) {
    let token: Token | null;
    if (first) {
      token = this.peekToken();
      this.marks.push(copyMark(token!.start));
      this.skipToken();
    }
    token = this.peekToken();
    if (token === null) return null;
    if (token.type === T.Key) {
      const mark = copyMark(token.end);
      this.skipToken();
      token = this.peekToken();
      if (token === null) return null;
      if (token.type !== T.Key && token.type !== T.Value && token.type !== T.BlockEnd) {
        this.states.push(S.BlockMappingValue);
        return this.parseNode(true, true);
      }
      this.state = S.BlockMappingValue;
      return this.processEmptyScalar(mark);
    } else if (token.type === T.BlockEnd) {
      this.state = this.states.pop()!;
      this.marks.pop();
      const r = this.ev({ type: "MappingEnd" }, token.start);
      this.skipToken();
      return r;
    }
    return this.setParserErrorContext("while parsing a block mapping", this.marks.pop()!, "did not find expected key", token.start);
  }

  private parseBlockMappingValue() {
    let token = this.peekToken();
    if (token === null) return null;
    if (token.type === T.Value) {
      const mark = copyMark(token.end);
      this.skipToken();
      token = this.peekToken();
      if (token === null) return null;
      if (token.type !== T.Key && token.type !== T.Value && token.type !== T.BlockEnd) {
        this.states.push(S.BlockMappingKey);
        return this.parseNode(true, true);
      }
      this.state = S.BlockMappingKey;
      return this.processEmptyScalar(mark);
    }
    this.state = S.BlockMappingKey;
    return this.processEmptyScalar(token.start);
  }

  private parseFlowSequenceEntry(first: boolean) {
    let token: Token | null;
    if (first) {
      token = this.peekToken();
      this.marks.push(copyMark(token!.start));
      this.skipToken();
    }
    token = this.peekToken();
    if (token === null) return null;
    if (token.type !== T.FlowSequenceEnd) {
      if (!first) {
        if (token.type === T.FlowEntry) {
          this.skipToken();
          token = this.peekToken();
          if (token === null) return null;
        } else {
          return this.setParserErrorContext(
            "while parsing a flow sequence",
            this.marks.pop()!,
            "did not find expected ',' or ']'",
            token.start,
          );
        }
      }
      if (token.type === T.Key) {
        this.state = S.FlowSequenceEntryMappingKey;
        const r = this.ev({ type: "MappingStart", anchor: null, tag: null }, token.start);
        this.skipToken();
        return r;
      } else if (token.type !== T.FlowSequenceEnd) {
        this.states.push(S.FlowSequenceEntry);
        return this.parseNode(false, false);
      }
    }
    this.state = this.states.pop()!;
    this.marks.pop();
    const r = this.ev({ type: "SequenceEnd" }, token.start);
    this.skipToken();
    return r;
  }

  private parseFlowSequenceEntryMappingKey() {
    const token = this.peekToken();
    if (token === null) return null;
    if (token.type !== T.Value && token.type !== T.FlowEntry && token.type !== T.FlowSequenceEnd) {
      this.states.push(S.FlowSequenceEntryMappingValue);
      return this.parseNode(false, false);
    }
    const mark = copyMark(token.end);
    this.skipToken();
    this.state = S.FlowSequenceEntryMappingValue;
    return this.processEmptyScalar(mark);
  }

  private parseFlowSequenceEntryMappingValue() {
    let token = this.peekToken();
    if (token === null) return null;
    if (token.type === T.Value) {
      this.skipToken();
      token = this.peekToken();
      if (token === null) return null;
      if (token.type !== T.FlowEntry && token.type !== T.FlowSequenceEnd) {
        this.states.push(S.FlowSequenceEntryMappingEnd);
        return this.parseNode(false, false);
      }
    }
    this.state = S.FlowSequenceEntryMappingEnd;
    return this.processEmptyScalar(token.start);
  }

  private parseFlowSequenceEntryMappingEnd() {
    const token = this.peekToken();
    if (token === null) return null;
    this.state = S.FlowSequenceEntry;
    return this.ev({ type: "MappingEnd" }, token.start);
  }

  private parseFlowMappingKey(first: boolean) {
    let token: Token | null;
    if (first) {
      token = this.peekToken();
      this.marks.push(copyMark(token!.start));
      this.skipToken();
    }
    token = this.peekToken();
    if (token === null) return null;
    if (token.type !== T.FlowMappingEnd) {
      if (!first) {
        if (token.type === T.FlowEntry) {
          this.skipToken();
          token = this.peekToken();
          if (token === null) return null;
        } else {
          return this.setParserErrorContext(
            "while parsing a flow mapping",
            this.marks.pop()!,
            "did not find expected ',' or '}'",
            token.start,
          );
        }
      }
      if (token.type === T.Key) {
        this.skipToken();
        token = this.peekToken();
        if (token === null) return null;
        if (token.type !== T.Value && token.type !== T.FlowEntry && token.type !== T.FlowMappingEnd) {
          this.states.push(S.FlowMappingValue);
          return this.parseNode(false, false);
        }
        this.state = S.FlowMappingValue;
        return this.processEmptyScalar(token.start);
      } else if (token.type !== T.FlowMappingEnd) {
        this.states.push(S.FlowMappingEmptyValue);
        return this.parseNode(false, false);
      }
    }
    this.state = this.states.pop()!;
    this.marks.pop();
    const r = this.ev({ type: "MappingEnd" }, token.start);
    this.skipToken();
    return r;
  }

  private parseFlowMappingValue(empty: boolean) {
    let token = this.peekToken();
    if (token === null) return null;
    if (empty) {
      this.state = S.FlowMappingKey;
      return this.processEmptyScalar(token.start);
    }
    if (token.type === T.Value) {
      this.skipToken();
      token = this.peekToken();
      if (token === null) return null;
      if (token.type !== T.FlowEntry && token.type !== T.FlowMappingEnd) {
        this.states.push(S.FlowMappingKey);
        return this.parseNode(false, false);
      }
    }
    this.state = S.FlowMappingKey;
    return this.processEmptyScalar(token.start);
  }

  private processEmptyScalar(mark: Mark) {
    return this.ev({ type: "Scalar", anchor: null, tag: null, value: "", style: "plain" }, mark);
  }

  private processDirectives(): boolean {
    const defaults = [
      { handle: "!", prefix: "!" },
      { handle: "!!", prefix: "tag:yaml.org,2002:" },
    ];
    let versionSeen = false;
    let token = this.peekToken();
    if (token === null) return false;
    while (token.type === T.VersionDirective || token.type === T.TagDirective) {
      if (token.type === T.VersionDirective) {
        if (versionSeen) {
          this.setParserError("found duplicate %YAML directive", token.start);
          return false;
        } else if (token.major !== 1 || (token.minor !== 1 && token.minor !== 2)) {
          this.setParserError("found incompatible YAML document", token.start);
          return false;
        }
        versionSeen = true;
      } else {
        if (!this.appendTagDirective({ handle: token.handle!, prefix: token.prefix! }, false, token.start)) return false;
      }
      this.skipToken();
      token = this.peekToken();
      if (token === null) return false;
    }
    for (const d of defaults) {
      if (!this.appendTagDirective(d, true, token.start)) return false;
    }
    return true;
  }

  private appendTagDirective(value: { handle: string; prefix: string }, allowDuplicates: boolean, mark: Mark): boolean {
    for (const d of this.tagDirectives) {
      if (cstr(value.handle) === d.handle) {
        if (allowDuplicates) return true;
        this.setParserError("found duplicate %TAG directive", mark);
        return false;
      }
    }
    this.tagDirectives.push({ handle: cstr(value.handle), prefix: cstr(value.prefix) });
    return true;
  }
}

// ---------------------------------------------------------------------------
// serde_yaml_ng: loader, errors, deserializer into serde_json::Value

/** serde_json::Value, with numbers as serde_json keeps them. */
export type JsonValue =
  | { t: "null" }
  | { t: "bool"; v: boolean }
  | { t: "posint"; v: bigint }
  | { t: "negint"; v: bigint }
  | { t: "float"; v: number }
  | { t: "string"; v: string }
  | { t: "array"; v: JsonValue[] }
  | { t: "object"; v: Map<string, JsonValue> };

type DeEvent = { type: "Void" } | { type: "AliasId"; id: number } | Exclude<YamlEvent, { type: "Alias" }>;

interface Document {
  events: { event: DeEvent; mark: Mark }[];
  error: SerdeYamlError | null;
  aliases: Map<number, number>;
  /** Not in serde_yaml_ng: an anchor's value once deserialized, see `deserializeAny`. */
  memo: Map<number, { value: JsonValue; jumps: number; depth: number }>;
}

/** `serde_yaml_ng::Error`: its Display and its `location()`. */
export class SerdeYamlError {
  constructor(
    public kind: "libyaml" | "message" | "eos" | "more" | "recursion" | "repetition" | "anchor",
    public libyaml: LibyamlError | null = null,
    public message = "",
    public pos: { mark: Mark; path: string } | null = null,
    public mark: Mark | null = null,
  ) {}

  display(): string {
    if (this.kind === "libyaml") return this.libyaml!.display();
    let s: string;
    switch (this.kind) {
      case "message":
        s = this.pos !== null && this.pos.path !== "." ? `${this.pos.path}: ${this.message}` : this.message;
        break;
      case "eos":
        s = "EOF while parsing a value";
        break;
      case "more":
        s = "deserializing from YAML containing more than one document is not supported";
        break;
      case "recursion":
        s = "recursion limit exceeded";
        break;
      case "repetition":
        s = "repetition limit exceeded";
        break;
      case "anchor":
        s = "unknown anchor";
        break;
    }
    const m = this.markOf();
    if (m !== null && (m.line !== 0 || m.column !== 0)) s += ` at ${markDisplay(m)}`;
    return s;
  }

  private markOf(): Mark | null {
    switch (this.kind) {
      case "message":
        return this.pos === null ? null : this.pos.mark;
      case "recursion":
      case "anchor":
        return this.mark;
      case "libyaml":
        return this.libyaml!.problemMark;
      default:
        return null;
    }
  }

  /** `Error::location()`: 1-based line and column. */
  location(): { line: number; column: number } | null {
    const m = this.markOf();
    return m === null ? null : { line: m.line + 1, column: m.column + 1 };
  }
}

class Loader {
  private parser: LibyamlParser | null;
  private documentCount = 0;

  constructor(input: string) {
    this.parser = new LibyamlParser(input);
  }

  nextDocument(): Document | null {
    const parser = this.parser;
    if (parser === null) return null;
    const first = this.documentCount === 0;
    this.documentCount += 1;
    const anchors = new Map<string, number>();
    const document: Document = { events: [], error: null, aliases: new Map(), memo: new Map() };
    for (;;) {
      const r = parser.next();
      if (r instanceof LibyamlError) {
        document.error = new SerdeYamlError("libyaml", r);
        return document;
      }
      const { event, mark } = r;
      let de: DeEvent;
      switch (event.type) {
        case "StreamStart":
          continue;
        case "StreamEnd":
          this.parser = null;
          if (first) {
            if (document.events.length === 0) document.events.push({ event: { type: "Void" }, mark });
            return document;
          }
          return null;
        case "DocumentStart":
          continue;
        case "DocumentEnd":
          return document;
        case "Alias": {
          const id = anchors.get(event.anchor);
          if (id === undefined) {
            document.error = new SerdeYamlError("anchor", null, "", null, mark);
            return document;
          }
          de = { type: "AliasId", id };
          break;
        }
        case "Scalar":
        case "SequenceStart":
        case "MappingStart": {
          if (event.anchor !== null) {
            const id = anchors.size;
            anchors.set(event.anchor, id);
            document.aliases.set(id, document.events.length);
          }
          de = { ...event, anchor: null };
          break;
        }
        default:
          de = event;
      }
      document.events.push({ event: de, mark });
    }
  }
}

// serde's `Unexpected` and error texts.

/** Rust `{:?}` of a str (`char::escape_debug_ext` with grapheme-extend escaping). */
export function rustDebugStr(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\0") out += "\\0";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (isGraphemeExtend(c) || !isPrintable(c)) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

/** Rust's `Display` for f64 (shortest round trip, never an exponent). */
export function rustF64Display(f: number): string {
  if (Number.isNaN(f)) return "NaN";
  if (!Number.isFinite(f)) return f > 0 ? "inf" : "-inf";
  const neg = f < 0 || Object.is(f, -0);
  const a = Math.abs(f);
  if (a === 0) return neg ? "-0" : "0";
  const [mant, expS] = a.toExponential().split("e") as [string, string];
  const digits = mant.replace(".", "");
  const exp = Number(expS);
  let s: string;
  if (exp >= 0) {
    if (digits.length - 1 <= exp) s = digits + "0".repeat(exp - (digits.length - 1));
    else s = digits.slice(0, exp + 1) + "." + digits.slice(exp + 1);
  } else {
    s = "0." + "0".repeat(-exp - 1) + digits;
  }
  return (neg ? "-" : "") + s;
}

type Unexpected =
  | { k: "bool"; v: boolean }
  | { k: "unsigned"; v: bigint }
  | { k: "signed"; v: bigint }
  | { k: "float"; v: number }
  | { k: "str"; v: string }
  | { k: "unit" }
  | { k: "seq" }
  | { k: "map" }
  | { k: "enum" }
  | { k: "other"; v: string };

function unexpectedDisplay(u: Unexpected): string {
  switch (u.k) {
    case "bool":
      return `boolean \`${u.v}\``;
    case "unsigned":
    case "signed":
      return `integer \`${u.v}\``;
    case "float": {
      // serde's WithDecimalPoint
      if (Number.isFinite(u.v)) {
        const s = rustF64Display(u.v);
        return `floating point \`${s.includes(".") ? s : s + ".0"}\``;
      }
      return `floating point \`${rustF64Display(u.v)}\``;
    }
    case "str":
      return `string ${rustDebugStr(u.v)}`;
    case "unit":
      return "unit value";
    case "seq":
      return "sequence";
    case "map":
      return "map";
    case "enum":
      return "enum";
    case "other":
      return u.v;
  }
}

const invalidType = (u: Unexpected, exp: string) => new SerdeYamlError("message", null, `invalid type: ${unexpectedDisplay(u)}, expected ${exp}`);
const invalidValue = (u: Unexpected, exp: string) =>
  new SerdeYamlError("message", null, `invalid value: ${unexpectedDisplay(u)}, expected ${exp}`);
const custom = (msg: string) => new SerdeYamlError("message", null, msg);

function fixMark(err: SerdeYamlError, mark: Mark, path: Path): SerdeYamlError {
  if (err.kind === "message" && err.pos === null) err.pos = { mark, path: pathDisplay(path) };
  return err;
}

type Path =
  | { k: "root" }
  | { k: "seq"; parent: Path; index: number }
  | { k: "map"; parent: Path; key: string }
  | { k: "alias"; parent: Path }
  | { k: "unknown"; parent: Path };

function pathDisplay(p: Path): string {
  const parent = (q: Path) => (q.k === "root" ? "" : `${pathDisplay(q)}.`);
  switch (p.k) {
    case "root":
      return ".";
    case "seq":
      return `${pathDisplay(p.parent)}[${p.index}]`;
    case "map":
      return `${parent(p.parent)}${p.key}`;
    case "alias":
      return pathDisplay(p.parent);
    case "unknown":
      return `${parent(p.parent)}?`;
  }
}

// Scalar resolution (de.rs).

const TAG_NULL = "tag:yaml.org,2002:null";
const TAG_BOOL = "tag:yaml.org,2002:bool";
const TAG_INT = "tag:yaml.org,2002:int";
const TAG_FLOAT = "tag:yaml.org,2002:float";

function parseNull(s: string): boolean {
  return s === "null" || s === "Null" || s === "NULL" || s === "~";
}

function parseBool(s: string): boolean | null {
  if (s === "true" || s === "True" || s === "TRUE") return true;
  if (s === "false" || s === "False" || s === "FALSE") return false;
  return null;
}

/** Rust's `from_str_radix` for an integer type of `bits`, signed or not. */
function fromStrRadix(s: string, radix: number, signed: boolean, bits: number): bigint | null {
  let neg = false;
  let digits = s;
  if (s.startsWith("+")) digits = s.slice(1);
  else if (signed && s.startsWith("-")) {
    neg = true;
    digits = s.slice(1);
  }
  // A lone sign is an error; a sign alone in an unsigned type too.
  if (digits === "") return null;
  let v = 0n;
  const R = BigInt(radix);
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x7a ? c - 0x61 + 10 : c >= 0x41 && c <= 0x5a ? c - 0x41 + 10 : 99;
    if (d >= radix) return null;
    v = v * R + BigInt(d);
  }
  if (neg) v = -v;
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (v < min || v > max) return null;
  return v;
}

function digitsButNotNumber(scalar: string): boolean {
  const s = scalar.startsWith("-") || scalar.startsWith("+") ? scalar.slice(1) : scalar;
  return s.length > 1 && s.startsWith("0") && /^[0-9]*$/.test(s.slice(1));
}

function parseUnsignedInt(scalar: string, bits: number): bigint | null {
  const unpositive = scalar.startsWith("+") ? scalar.slice(1) : scalar;
  for (const [p, radix] of [
    ["0x", 16],
    ["0o", 8],
    ["0b", 2],
  ] as const) {
    if (unpositive.startsWith(p)) {
      const rest = unpositive.slice(2);
      if (rest.startsWith("+") || rest.startsWith("-")) return null;
      const v = fromStrRadix(rest, radix, false, bits);
      if (v !== null) return v;
    }
  }
  if (unpositive.startsWith("+") || unpositive.startsWith("-")) return null;
  if (digitsButNotNumber(scalar)) return null;
  return fromStrRadix(unpositive, 10, false, bits);
}

function parseNegativeInt(scalar: string, bits: number): bigint | null {
  for (const [p, radix] of [
    ["-0x", 16],
    ["-0o", 8],
    ["-0b", 2],
  ] as const) {
    if (scalar.startsWith(p)) {
      const v = fromStrRadix("-" + scalar.slice(3), radix, true, bits);
      if (v !== null) return v;
    }
  }
  if (digitsButNotNumber(scalar)) return null;
  return fromStrRadix(scalar, 10, true, bits);
}

/** Rust's `str::parse::<f64>` grammar (finite values, inf and nan words). */
function rustParseF64(s: string): number | null {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(s)) return null;
  return parseFloat(s);
}

export function parseF64(scalar: string): number | null {
  if (!mayBeNumber(scalar)) return null; // `.inf`, `-.inf`, `.nan`, digits and signs only
  let unpositive = scalar;
  if (scalar.startsWith("+")) {
    unpositive = scalar.slice(1);
    if (unpositive.startsWith("+") || unpositive.startsWith("-")) return null;
  }
  if (unpositive === ".inf" || unpositive === ".Inf" || unpositive === ".INF") return Infinity;
  if (scalar === "-.inf" || scalar === "-.Inf" || scalar === "-.INF") return -Infinity;
  if (scalar === ".nan" || scalar === ".NaN" || scalar === ".NAN") return NaN;
  const f = rustParseF64(unpositive);
  if (f !== null && Number.isFinite(f)) return f;
  return null;
}

/** The visitor a scalar goes to: serde_json's ValueVisitor, or an "invalid type" one. */
interface Visitor {
  expecting: string;
  bool(v: boolean): JsonValue;
  u64(v: bigint): JsonValue;
  i64(v: bigint): JsonValue;
  u128(v: bigint): JsonValue;
  i128(v: bigint): JsonValue;
  f64(v: number): JsonValue;
  str(v: string): JsonValue;
  unit(): JsonValue;
}

const valueVisitor: Visitor = {
  expecting: "any valid JSON value",
  bool: (v) => ({ t: "bool", v }),
  u64: (v) => ({ t: "posint", v }),
  i64: (v) => (v < 0n ? { t: "negint", v } : { t: "posint", v }),
  u128: (v) => {
    if (v <= 0xffffffffffffffffn) return { t: "posint", v };
    throw custom("JSON number out of range");
  },
  i128: (v) => {
    if (v >= 0n && v <= 0xffffffffffffffffn) return { t: "posint", v };
    if (v >= -(1n << 63n) && v < 0n) return { t: "negint", v };
    throw custom("JSON number out of range");
  },
  f64: (v) => (Number.isFinite(v) ? { t: "float", v } : { t: "null" }),
  str: (v) => ({ t: "string", v }),
  unit: () => ({ t: "null" }),
};

/** A visitor that accepts nothing: `invalid_type(Unexpected::…, expected)`. */
function refusing(expecting: string): Visitor {
  const no = (u: Unexpected): never => {
    throw invalidType(u, expecting);
  };
  return {
    expecting,
    bool: (v) => no({ k: "bool", v }),
    u64: (v) => no({ k: "unsigned", v }),
    i64: (v) => no({ k: "signed", v }),
    u128: (v) => no({ k: "other", v: `integer \`${v}\` as u128` }),
    i128: (v) => no({ k: "other", v: `integer \`${v}\` as i128` }),
    f64: (v) => no({ k: "float", v }),
    str: (v) => no({ k: "str", v }),
    unit: () => no({ k: "unit" }),
  };
}

/** Can `v` be an integer or a float at all? (Both need a sign, a digit or a `.` first.) */
function mayBeNumber(v: string): boolean {
  const c = v.charCodeAt(0);
  return (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e;
}

/** `visit_int`: the value, or null when the text is no integer. */
function visitInt(visitor: Visitor, v: string): JsonValue | null {
  if (!mayBeNumber(v)) return null; // every parse below needs a sign or a digit first
  let n = parseUnsignedInt(v, 64);
  if (n !== null) return visitor.u64(n);
  n = parseNegativeInt(v, 64);
  if (n !== null) return visitor.i64(n);
  n = parseUnsignedInt(v, 128);
  if (n !== null) return visitor.u128(n);
  n = parseNegativeInt(v, 128);
  if (n !== null) return visitor.i128(n);
  return null;
}

function visitUntaggedScalar(visitor: Visitor, v: string): JsonValue {
  if (v === "" || parseNull(v)) return visitor.unit();
  const b = parseBool(v);
  if (b !== null) return visitor.bool(b);
  const i = visitInt(visitor, v);
  if (i !== null) return i;
  if (!digitsButNotNumber(v)) {
    const f = parseF64(v);
    if (f !== null) return visitor.f64(f);
  }
  return visitor.str(v);
}

type ScalarEv = Extract<DeEvent, { type: "Scalar" }>;

function visitScalar(visitor: Visitor, scalar: ScalarEv): JsonValue {
  const v = scalar.value;
  const tag = scalar.tag;
  if (tag !== null) {
    if (tag === TAG_BOOL) {
      const b = parseBool(v);
      if (b !== null) return visitor.bool(b);
      throw invalidValue({ k: "str", v }, "a boolean");
    } else if (tag === TAG_INT) {
      const r = visitInt(visitor, v);
      if (r !== null) return r;
      throw invalidValue({ k: "str", v }, "an integer");
    } else if (tag === TAG_FLOAT) {
      const f = parseF64(v);
      if (f !== null) return visitor.f64(f);
      throw invalidValue({ k: "str", v }, "a float");
    } else if (tag === TAG_NULL) {
      if (parseNull(v)) return visitor.unit();
      throw invalidValue({ k: "str", v }, "null");
    } else if (tag.startsWith("!") && scalar.style === "plain") {
      return visitUntaggedScalar(visitor, v);
    }
  } else if (scalar.style === "plain") {
    return visitUntaggedScalar(visitor, v);
  }
  return visitor.str(v);
}

/** `parse_tag`: the enum tag (without its `!`), if the tag starts with `!` and is UTF-8. */
function parseTag(tag: string | null): string | null {
  if (tag === null || !tag.startsWith("!")) return null;
  const rest = tag.length > 1 ? tag.slice(1) : tag;
  return isUtf8(rest) ? fromUtf8Bytes(rest) : null;
}

function invalidTypeOf(ev: DeEvent, expecting: string): SerdeYamlError {
  switch (ev.type) {
    case "Scalar":
      try {
        visitScalar(refusing(expecting), ev);
      } catch (e) {
        return e as SerdeYamlError;
      }
      throw new Error("unreachable");
    case "SequenceStart":
      return invalidType({ k: "seq" }, expecting);
    case "MappingStart":
      return invalidType({ k: "map" }, expecting);
    case "Void":
      return new SerdeYamlError("eos");
    default:
      throw new Error(`unexpected event ${ev.type}`);
  }
}

/** How many collections deep a value is (what `recursion_check` counts); shared parts are measured once. */
function nesting(v: JsonValue, seen = new Map<JsonValue, number>()): number {
  if (v.t !== "array" && v.t !== "object") return 0;
  const known = seen.get(v);
  if (known !== undefined) return known;
  let d = 0;
  for (const x of v.t === "array" ? v.v : v.v.values()) d = Math.max(d, nesting(x, seen));
  seen.set(v, d + 1);
  return d + 1;
}

class DeserializerFromEvents {
  constructor(
    private document: Document,
    private pos: { v: number },
    private jumpcount: { v: number },
    private path: Path,
    private remainingDepth: number,
  ) {}

  private peekEventMark(): { event: DeEvent; mark: Mark } {
    const e = this.document.events[this.pos.v];
    if (e !== undefined) return e;
    throw this.document.error ?? new SerdeYamlError("eos");
  }

  private nextEventMark(): { event: DeEvent; mark: Mark } {
    const e = this.peekEventMark();
    this.pos.v += 1;
    return e;
  }

  private jump(id: number): DeserializerFromEvents {
    this.jumpcount.v += 1;
    if (this.jumpcount.v > this.document.events.length * 100) throw new SerdeYamlError("repetition");
    const found = this.document.aliases.get(id);
    if (found === undefined) throw new Error(`unresolved alias: ${id}`);
    return new DeserializerFromEvents(this.document, { v: found }, this.jumpcount, { k: "alias", parent: this.path }, this.remainingDepth);
  }

  private recursionCheck<R>(mark: Mark, f: () => R): R {
    if (this.remainingDepth === 0) throw new SerdeYamlError("recursion", null, "", null, mark);
    this.remainingDepth -= 1;
    try {
      return f();
    } finally {
      this.remainingDepth += 1;
    }
  }

  private withFix<R>(mark: Mark, f: () => R): R {
    try {
      return f();
    } catch (e) {
      if (e instanceof SerdeYamlError) throw fixMark(e, mark, this.path);
      throw e;
    }
  }

  /** `String::deserialize` (deserialize_str); `expecting` names the visitor in errors. */
  deserializeStr(expecting = "a string"): string {
    const { event, mark } = this.nextEventMark();
    return this.withFix(mark, () => {
      if (event.type === "Scalar") return event.value;
      if (event.type === "AliasId") return this.jump(event.id).deserializeStr(expecting);
      throw invalidTypeOf(event, expecting);
    });
  }

  /** `serde_json::Value::deserialize` (deserialize_any). */
  deserializeAny(): JsonValue {
    const { event, mark } = this.nextEventMark();
    return this.withFix(mark, () => {
      switch (event.type) {
        case "AliasId": {
          // An alias deserializes its anchor's events again, counting one jump
          // for it and one for each alias inside. The value does not depend on
          // where the alias is, so a second visit reuses it and only counts
          // the jumps, unless the count or the depth would fail: then the
          // events are walked again, to fail where serde_yaml_ng fails.
          const memo = this.document.memo.get(event.id);
          const limit = this.document.events.length * 100;
          if (memo !== undefined && this.jumpcount.v + 1 + memo.jumps <= limit && this.remainingDepth >= memo.depth) {
            this.jumpcount.v += 1 + memo.jumps;
            return memo.value;
          }
          const before = this.jumpcount.v;
          const value = this.jump(event.id).deserializeAny();
          this.document.memo.set(event.id, { value, jumps: this.jumpcount.v - before - 1, depth: nesting(value) });
          return value;
        }
        case "Scalar":
          if (parseTag(event.tag) !== null) throw invalidType({ k: "enum" }, "any valid JSON value");
          return visitScalar(valueVisitor, event);
        case "SequenceStart":
          if (parseTag(event.tag) !== null) throw invalidType({ k: "enum" }, "any valid JSON value");
          return this.visitSequence(mark);
        case "MappingStart":
          if (parseTag(event.tag) !== null) throw invalidType({ k: "enum" }, "any valid JSON value");
          // serde_json's visit_map reads the first key with its KeyClassifier.
          return { t: "object", v: this.visitMapping(mark, "a string key") };
        case "Void":
          return { t: "null" };
        default:
          throw new Error(`unexpected ${event.type}`);
      }
    });
  }

  /** `BTreeMap<String, Value>::deserialize` (deserialize_map). */
  deserializeMap(): Map<string, JsonValue> {
    const { event, mark } = this.nextEventMark();
    return this.withFix(mark, () => {
      if (event.type === "AliasId") return this.jump(event.id).deserializeMap();
      if (event.type === "MappingStart") return this.visitMapping(mark);
      if (event.type === "Void" || (event.type === "Scalar" && event.value === "" && event.style === "plain")) {
        return new Map<string, JsonValue>();
      }
      throw invalidTypeOf(event, "a map");
    });
  }

  private visitSequence(mark: Mark): JsonValue {
    const out: JsonValue[] = [];
    this.recursionCheck(mark, () => {
      let len = 0;
      for (;;) {
        const { event } = this.peekEventMark();
        if (event.type === "SequenceEnd" || event.type === "Void") break;
        const element = new DeserializerFromEvents(
          this.document,
          this.pos,
          this.jumpcount,
          { k: "seq", parent: this.path, index: len },
          this.remainingDepth,
        );
        len += 1;
        out.push(element.deserializeAny());
      }
    });
    const { event } = this.nextEventMark();
    if (event.type !== "SequenceEnd" && event.type !== "Void") throw new Error("expected a SequenceEnd event");
    return { t: "array", v: out };
  }

  private visitMapping(mark: Mark, firstKey = "a string"): Map<string, JsonValue> {
    const out = new Map<string, JsonValue>();
    this.recursionCheck(mark, () => {
      for (let first = true; ; first = false) {
        const { event } = this.peekEventMark();
        if (event.type === "MappingEnd" || event.type === "Void") break;
        const keyText = event.type === "Scalar" ? event.value : null;
        const key = this.deserializeStr(first ? firstKey : "a string");
        const valueDe = new DeserializerFromEvents(
          this.document,
          this.pos,
          this.jumpcount,
          keyText !== null ? { k: "map", parent: this.path, key: keyText } : { k: "unknown", parent: this.path },
          this.remainingDepth,
        );
        out.set(key, valueDe.deserializeAny());
      }
    });
    const { event } = this.nextEventMark();
    if (event.type !== "MappingEnd" && event.type !== "Void") throw new Error("expected a MappingEnd event");
    return out;
  }
}

// ---------------------------------------------------------------------------
// A fast path for the front matter tools write: the full port above costs
// thousands of interpreted calls per character inside the component (about
// 9M fuel for a three-line front matter), so lines of the plain shape
//
//     key: plain words | "quoted" | 'quoted' | [item, "item", …] | (nothing)
//
// are read directly, with the same scalar resolution (`visitUntaggedScalar`).
// Anything else, or any value whose resolution fails, returns null and goes
// through the full port, so the result is the same by construction; the tests
// compare both on generated inputs.

// The shapes, as regular expressions (one native call each, where a loop over
// the characters would cost an interpreted call per character). Text here is
// letters, digits, `_ . - / ( ) +` and space, `,` outside a flow, and
// non-ASCII but for line breaks (NEL, LS, PS), the BOM, surrogates and U+FFxx
// specials; a plain scalar starts with a letter, a digit or `_` and does not
// end with a space; a quoted one holds no quote, backslash or control.
const TEXT = "\\u00a0-\\u2027\\u202a-\\ud7ff\\ue000-\\ufefe\\uff00-\\ufffd";
const PLAIN_BLOCK = new RegExp(`^[A-Za-z0-9_](?:[A-Za-z0-9_./()+, ${TEXT}-]*[A-Za-z0-9_./()+,${TEXT}-])?$`);
const PLAIN_FLOW = new RegExp(`^[A-Za-z0-9_](?:[A-Za-z0-9_./()+ ${TEXT}-]*[A-Za-z0-9_./()+${TEXT}-])?$`);
const DOUBLE_QUOTED = new RegExp(`^"[\\x20\\x21\\x23-\\x26\\x28-\\x5b\\x5d-\\x7e${TEXT}]*"$`);
const SINGLE_QUOTED = new RegExp(`^'[\\x20\\x21\\x23-\\x26\\x28-\\x5b\\x5d-\\x7e${TEXT}]*'$`);
/** `key:` then nothing, or a space and the value (spaces around it dropped); the key at most 1000 bytes (libyaml drops a simple key past 1024). */
const KEY_LINE = /^([A-Za-z_][A-Za-z0-9_-]{0,999}):(?:$| +(.*?) *$)/;

/** One scalar of the simple shapes, resolved; null when it is not one. */
function fastScalar(v: string, flow: boolean): JsonValue | null {
  if (DOUBLE_QUOTED.test(v) || SINGLE_QUOTED.test(v)) return { t: "string", v: v.slice(1, -1) };
  if ((flow ? PLAIN_FLOW : PLAIN_BLOCK).test(v)) return visitUntaggedScalar(valueVisitor, v);
  return null;
}

/** The front matter as a map when every line is `key: simple value`; else null. */
export function fastMap(text: string): Map<string, JsonValue> | null {
  if (text === "") return null;
  const out = new Map<string, JsonValue>();
  try {
    for (const line of text.split("\n")) {
      const m = KEY_LINE.exec(line);
      if (m === null) return null;
      const rest = m[2] ?? "";
      let value: JsonValue | null;
      if (rest === "") {
        value = { t: "null" };
      } else if (rest.startsWith("[")) {
        // [item, item, …]
        if (!rest.endsWith("]")) return null;
        const inner = rest.slice(1, -1);
        const items: JsonValue[] = [];
        if (inner !== "") {
          for (const part of inner.split(",")) {
            const item = fastScalar(part.replace(/^ +| +$/g, ""), true);
            if (item === null) return null;
            items.push(item);
          }
        }
        value = { t: "array", v: items };
      } else {
        value = fastScalar(rest, false);
        if (value === null) return null;
      }
      out.set(m[1]!, value);
    }
  } catch {
    return null; // a resolution error (a number out of range): the full port says where
  }
  return out;
}

/**
 * `serde_yaml_ng::from_str::<BTreeMap<String, serde_json::Value>>(text)`:
 * the map, or the error (`display()` is its `to_string()`).
 */
export function fromStrMap(text: string): { ok: Map<string, JsonValue> } | { err: SerdeYamlError } {
  const fast = fastMap(text);
  if (fast !== null) return { ok: fast };
  return fromStrMapFull(text);
}

/** `fromStrMap` through the whole libyaml port and deserializer. */
export function fromStrMapFull(text: string): { ok: Map<string, JsonValue> } | { err: SerdeYamlError } {
  const loader = new Loader(text);
  const document = loader.nextDocument();
  if (document === null) return { err: new SerdeYamlError("eos") };
  let t: Map<string, JsonValue>;
  try {
    t = new DeserializerFromEvents(document, { v: 0 }, { v: 0 }, { k: "root" }, 128).deserializeMap();
  } catch (e) {
    if (e instanceof SerdeYamlError) return { err: e };
    throw e;
  }
  if (document.error !== null) return { err: document.error };
  if (loader.nextDocument() === null) return { ok: t };
  return { err: new SerdeYamlError("more") };
}

export { utf8Bytes as _utf8Bytes };
