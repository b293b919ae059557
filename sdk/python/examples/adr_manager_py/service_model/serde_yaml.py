"""`serde_yaml_ng::from_str::<BTreeMap<String, serde_json::Value>>(text)` in Python:
what `adr.rs` does with a record's front matter, down to the error messages.

Three layers, as in Rust:

1. libyaml (`unsafe-libyaml` 0.2.11): PyYAML's pure-Python reader, scanner and
   parser are the same design (both by libyaml's author), and where they differ
   `_Scanner` and `_Parser` carry ports of libyaml's functions: skipping tabs
   and BOMs between tokens, plain, quoted and block scalars, tags, directives,
   simple keys (1024 bytes, not characters; kept past the end of the stream),
   the stream's end on a line of its own, YAML 1.1/1.2 only. The messages left
   to PyYAML are reworded as libyaml's (`_LIBYAML_PROBLEMS`). serde_yaml_ng
   sets the encoding, so even a leading BOM is a character (skipped at column 0,
   counted as a column). Display: `problem at line L column C, context at ...`.
2. serde_yaml_ng 0.10's loader (anchors, one document) and deserializer
   (`de.rs`): YAML 1.2 scalar resolution (`0002` is a string, `0x10` is 16,
   `yes` a string), the recursion and alias limits, error paths (`supersedes:`).
3. serde_json's `Value` visitor: a tagged node (`!foo x`) is an enum it refuses,
   an integer past u64/i64 is "out of range", a non-finite float is `null`.

`from_str_map(text)` returns a dict of JSON values (`None`, `bool`, `int`,
`float`, `str`, `list`, `dict`) or raises `YamlError`, whose `line` is
`Error::location().line()` (1-based) or `None`.
"""

import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import yaml.error
import yaml.events
import yaml.parser
import yaml.reader
import yaml.scanner
from yaml.scanner import SimpleKey
from yaml.tokens import DirectiveToken, ScalarToken, StreamEndToken, TagToken

from .rust import debug_str, with_decimal_point

Mark = Tuple[int, int]  # (line, column), 0-based, as libyaml's `yaml_mark_t`


class YamlError(Exception):
    """A `serde_yaml_ng::Error`: its `Display` and `location().line()`."""

    def __init__(self, message: str, line: Optional[int]):
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return self.message


def _at(mark: Mark) -> str:
    return f"line {mark[0] + 1} column {mark[1] + 1}"


def _libyaml_error(problem: str, mark: Mark, context: Optional[str] = None, context_mark: Mark = (0, 0),
                   offset: int = 0) -> YamlError:
    """`libyaml::Error`'s `Display` (serde_yaml_ng `src/libyaml/error.rs`)."""
    text = problem
    if mark != (0, 0):
        text += f" at {_at(mark)}"
    elif offset:
        text += f" at position {offset}"
    if context is not None:
        text += f", {context}"
        if context_mark != (0, 0) and context_mark != mark:
            text += f" at {_at(context_mark)}"
    return YamlError(text, mark[0] + 1)


# ---------------------------------------------------------------------------
# 1. libyaml

BREAKS = "\r\n\x85\u2028\u2029"
BLANKZ = "\0 \t" + BREAKS
BLANK = " \t"
ALPHA = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"
HEX = "0123456789abcdefABCDEF"
ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
    "L": "\u2028", "P": "\u2029",
}
_CONTROL = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _LibyamlRaised(Exception):
    def __init__(self, problem: str, mark: Mark, context: Optional[str] = None, context_mark: Mark = (0, 0),
                 offset: int = 0):
        super().__init__(problem)
        self.error = _libyaml_error(problem, mark, context, context_mark, offset)


def _mark(m: Any) -> Mark:
    return (m.line, m.column) if m is not None else (0, 0)


# PyYAML's problem → libyaml's, for what PyYAML still scans and parses (the
# context is the same text unless given).
_LIBYAML_PROBLEMS = [
    (r"found character .* that cannot start any token$", "found character that cannot start any token", None),
    (r"mapping values are not allowed here$", "mapping values are not allowed in this context", None),
    (r"sequence entries are not allowed here$", "block sequence entries are not allowed in this context", None),
    (r"mapping keys are not allowed here$", "mapping keys are not allowed in this context", None),
    (r"expected alphabetic or numeric character, but found", "did not find expected alphabetic or numeric character", None),
    (r"expected '<document start>', but found", "did not find expected <document start>", None),
    (r"expected the node content, but found", "did not find expected node content", None),
    (r"found undefined tag handle", "found undefined tag handle", None),
    (r"expected ',' or '\]', but got", "did not find expected ',' or ']'", None),
    (r"expected ',' or '\}', but got", "did not find expected ',' or '}'", None),
]


def _translate(e: yaml.error.MarkedYAMLError) -> YamlError:
    """A PyYAML error as libyaml words it."""
    problem, context = e.problem or "", e.context
    if problem.startswith("expected <block end>, but found"):
        problem = "did not find expected key" if context == "while parsing a block mapping" else "did not find expected '-' indicator"
    else:
        for pattern, libyaml_problem, libyaml_context in _LIBYAML_PROBLEMS:
            if re.match(pattern, problem):
                problem, context = libyaml_problem, libyaml_context or context
                break
    mark = _mark(e.problem_mark)
    context_mark = _mark(e.context_mark) if e.context_mark is not None else mark
    return _libyaml_error(problem, mark, context, context_mark)


RAW_BUFFER = 16384
"""libyaml's `INPUT_RAW_BUFFER_SIZE`: the input is decoded (and checked) that many bytes at a time."""


def _reader_failure(text: str) -> Optional[Tuple[int, int]]:
    """Where libyaml's reader fails on `text`, if it does: `(chars decoded before the
    chunk holding the first control character, that character's byte offset)`."""
    control = _CONTROL.search(text)
    if not control:
        return None
    offset = len(text[: control.start()].encode("utf-8"))
    data = text.encode("utf-8")
    starts = [0]  # byte offsets where characters start, to find each chunk's last complete one
    for c in text:
        starts.append(starts[-1] + len(c.encode("utf-8")))
    start_byte, start_char = 0, 0
    while True:
        end = min(start_byte + RAW_BUFFER, len(data))
        # the chunk decodes every character that ends by `end`
        last = start_char
        while last < len(text) and starts[last + 1] <= end:
            last += 1
        if control.start() < last:
            return start_char, offset
        start_byte, start_char = starts[last], last


class _Reader(yaml.reader.Reader):
    """PyYAML's reader, counting as libyaml does: a BOM is a column, keys measure bytes,
    and a control character fails when the scanner first needs its 16 KiB chunk."""

    def __init__(self, text: str):
        self.failure = _reader_failure(text)
        super().__init__(text)
        self.bindex = 0  # libyaml's `mark.index`: bytes

    def check_printable(self, data: str) -> None:
        pass  # see `failure`: libyaml checks as it decodes

    def _need(self, index: int) -> None:
        if self.failure is not None and index >= self.failure[0]:
            raise _LibyamlRaised("control characters are not allowed", (0, 0), offset=self.failure[1])

    def peek(self, index: int = 0) -> str:
        self._need(self.pointer + index)
        return super().peek(index)

    def prefix(self, length: int = 1) -> str:
        self._need(self.pointer + length - 1)
        return super().prefix(length)

    def forward(self, length: int = 1) -> None:
        while length:
            ch = self.buffer[self.pointer]
            self.pointer += 1
            self.index += 1
            self.bindex += 1 if ch < "\x80" else len(ch.encode("utf-8"))
            if ch in "\n\x85\u2028\u2029" or (ch == "\r" and self.buffer[self.pointer] != "\n"):
                self.line += 1
                self.column = 0
            else:
                self.column += 1
            length -= 1


class _Scanner(yaml.scanner.Scanner):
    """PyYAML's scanner with libyaml's (`scanner.rs`) versions of what differs."""

    def scan_to_next_token(self) -> None:
        # yaml_parser_scan_to_next_token: a BOM at column 0 is skipped; a tab
        # separates tokens in flow context and where no simple key may start.
        while True:
            if self.column == 0 and self.peek() == "\ufeff":
                self.forward()
            while self.peek() == " " or ((self.flow_level or not self.allow_simple_key) and self.peek() == "\t"):
                self.forward()
            if self.peek() == "#":
                while self.peek() not in "\0" + BREAKS:
                    self.forward()
            if self.peek() not in BREAKS:
                break
            self.scan_line_break()
            if not self.flow_level:
                self.allow_simple_key = True

    def stale_possible_simple_keys(self) -> None:
        # yaml_parser_stale_simple_keys: a key is one line of at most 1024 bytes.
        for level in list(self.possible_simple_keys):
            key = self.possible_simple_keys[level]
            if key.line != self.line or self.bindex - key.index > 1024:
                if key.required:
                    raise _LibyamlRaised("could not find expected ':'", (self.line, self.column),
                                         "while scanning a simple key", _mark(key.mark))
                del self.possible_simple_keys[level]

    def save_possible_simple_key(self) -> None:
        required = not self.flow_level and self.indent == self.column
        if self.allow_simple_key:
            self.remove_possible_simple_key()
            token_number = self.tokens_taken + len(self.tokens)
            self.possible_simple_keys[self.flow_level] = SimpleKey(
                token_number, required, self.bindex, self.line, self.column, self.get_mark())

    def fetch_stream_end(self) -> None:
        # yaml_parser_fetch_stream_end: the stream ends on a line of its own, and
        # only the innermost simple key is dropped: a required one further out
        # (`[` opening a key at the last line) fails when `need_more_tokens` looks again.
        if self.column != 0:
            self.column = 0
            self.line += 1
        self.unwind_indent(-1)
        self.remove_possible_simple_key()
        self.allow_simple_key = False
        mark = self.get_mark()
        self.tokens.append(StreamEndToken(mark, mark))
        self.done = True

    def need_more_tokens(self) -> bool:
        # yaml_parser_fetch_more_tokens: stale keys are checked while any token is queued.
        if not self.tokens:
            return not self.done
        self.stale_possible_simple_keys()
        return self.next_possible_simple_key() == self.tokens_taken and not self.done

    def _document_indicator(self) -> bool:
        return self.column == 0 and self.prefix(3) in ("---", "...") and self.peek(3) in BLANKZ

    def scan_plain(self) -> ScalarToken:
        # yaml_parser_scan_plain_scalar
        chunks: List[str] = []
        start_mark = self.get_mark()
        end_mark = start_mark
        indent = self.indent + 1
        leading_break = trailing_breaks = whitespaces = ""
        leading_blanks = False
        while True:
            if self._document_indicator() or self.peek() == "#":
                break
            while self.peek() not in BLANKZ:
                ch = self.peek()
                if self.flow_level and ch == ":" and self.peek(1) in ",?[]{}":
                    raise _LibyamlRaised("found unexpected ':'", (self.line, self.column),
                                         "while scanning a plain scalar", _mark(start_mark))
                if (ch == ":" and self.peek(1) in BLANKZ) or (self.flow_level and ch in ",[]{}"):
                    break
                if leading_blanks or whitespaces:
                    if leading_blanks:
                        if leading_break == "\n":
                            chunks.append(trailing_breaks or " ")
                        else:
                            chunks.append(leading_break + trailing_breaks)
                        leading_break = trailing_breaks = ""
                        leading_blanks = False
                    else:
                        chunks.append(whitespaces)
                        whitespaces = ""
                chunks.append(ch)
                self.forward()
                end_mark = self.get_mark()
            if self.peek() not in BLANK + BREAKS:
                break
            while self.peek() in BLANK + BREAKS:
                ch = self.peek()
                if ch in BLANK:
                    if leading_blanks and self.column < indent and ch == "\t":
                        raise _LibyamlRaised("found a tab character that violates indentation", (self.line, self.column),
                                             "while scanning a plain scalar", _mark(start_mark))
                    if not leading_blanks:
                        whitespaces += ch
                    self.forward()
                elif not leading_blanks:
                    whitespaces = ""
                    leading_break = self.scan_line_break()
                    leading_blanks = True
                else:
                    trailing_breaks += self.scan_line_break()
            if not self.flow_level and self.column < indent:
                break
        if leading_blanks:
            self.allow_simple_key = True
        return ScalarToken("".join(chunks), True, start_mark, end_mark)

    def fetch_plain(self) -> None:
        self.save_possible_simple_key()
        self.allow_simple_key = False
        self.tokens.append(self.scan_plain())  # sets allow_simple_key again after a line break

    def scan_flow_scalar(self, style: str) -> ScalarToken:
        # yaml_parser_scan_flow_scalar
        single = style == "'"
        quote = "'" if single else '"'
        chunks: List[str] = []
        start_mark = self.get_mark()
        start = _mark(start_mark)
        self.forward()
        leading_break = trailing_breaks = whitespaces = ""
        while True:
            if self._document_indicator():
                raise _LibyamlRaised("found unexpected document indicator", (self.line, self.column),
                                     "while scanning a quoted scalar", start)
            if self.peek() == "\0":
                raise _LibyamlRaised("found unexpected end of stream", (self.line, self.column),
                                     "while scanning a quoted scalar", start)
            leading_blanks = False
            while self.peek() not in BLANKZ:
                ch = self.peek()
                if single and ch == "'" and self.peek(1) == "'":
                    chunks.append("'")
                    self.forward(2)
                    continue
                if ch == quote:
                    break
                if not single and ch == "\\" and self.peek(1) in BREAKS:
                    self.forward()
                    self.scan_line_break()
                    leading_blanks = True
                    break
                if not single and ch == "\\":
                    esc = self.peek(1)
                    code_length = {"x": 2, "u": 4, "U": 8}.get(esc, 0)
                    if not code_length:
                        if esc not in ESCAPES:
                            raise _LibyamlRaised("found unknown escape character", (self.line, self.column),
                                                 "while parsing a quoted scalar", start)
                        chunks.append(ESCAPES[esc])
                    self.forward(2)
                    if code_length:
                        digits = self.prefix(code_length)
                        if len(digits) < code_length or any(c not in HEX for c in digits):
                            raise _LibyamlRaised("did not find expected hexadecimal number", (self.line, self.column),
                                                 "while parsing a quoted scalar", start)
                        value = int(digits, 16)
                        if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
                            raise _LibyamlRaised("found invalid Unicode character escape code", (self.line, self.column),
                                                 "while parsing a quoted scalar", start)
                        chunks.append(chr(value))
                        self.forward(code_length)
                    continue
                chunks.append(ch)
                self.forward()
            if self.peek() == quote:
                break
            while self.peek() in BLANK + BREAKS:
                ch = self.peek()
                if ch in BLANK:
                    if not leading_blanks:
                        whitespaces += ch
                    self.forward()
                elif not leading_blanks:
                    whitespaces = ""
                    leading_break = self.scan_line_break()
                    leading_blanks = True
                else:
                    trailing_breaks += self.scan_line_break()
            if leading_blanks:
                if leading_break == "\n":
                    chunks.append(trailing_breaks or " ")
                else:
                    chunks.append(leading_break + trailing_breaks)
                leading_break = trailing_breaks = ""
            else:
                chunks.append(whitespaces)
                whitespaces = ""
        self.forward()
        return ScalarToken("".join(chunks), False, start_mark, self.get_mark(), style)


    def scan_block_scalar(self, style: str) -> ScalarToken:
        # yaml_parser_scan_block_scalar
        literal = style == "|"
        start_mark = self.get_mark()
        start = _mark(start_mark)
        self.forward()
        chomping = increment = 0
        if self.peek() in "+-":
            chomping = 1 if self.peek() == "+" else -1
            self.forward()
            if self.peek() in "0123456789":
                if self.peek() == "0":
                    raise _LibyamlRaised("found an indentation indicator equal to 0", (self.line, self.column),
                                         "while scanning a block scalar", start)
                increment = int(self.peek())
                self.forward()
        elif self.peek() in "0123456789":
            if self.peek() == "0":
                raise _LibyamlRaised("found an indentation indicator equal to 0", (self.line, self.column),
                                     "while scanning a block scalar", start)
            increment = int(self.peek())
            self.forward()
            if self.peek() in "+-":
                chomping = 1 if self.peek() == "+" else -1
                self.forward()
        while self.peek() in BLANK:
            self.forward()
        if self.peek() == "#":
            while self.peek() not in "\0" + BREAKS:
                self.forward()
        if self.peek() not in "\0" + BREAKS:
            raise _LibyamlRaised("did not find expected comment or line break", (self.line, self.column),
                                 "while scanning a block scalar", start)
        if self.peek() in BREAKS:
            self.scan_line_break()
        end_mark = self.get_mark()
        indent = 0
        if increment:
            indent = self.indent + increment if self.indent >= 0 else increment
        chunks: List[str] = []
        leading_break = ""
        leading_blank = False
        indent, trailing_breaks, end_mark = self._block_scalar_breaks(indent, start, end_mark)
        while self.column == indent and self.peek() != "\0":
            trailing_blank = self.peek() in BLANK
            if not literal and leading_break.startswith("\n") and not leading_blank and not trailing_blank:
                if not trailing_breaks:
                    chunks.append(" ")
            else:
                chunks.append(leading_break)
            leading_break = ""
            chunks.append(trailing_breaks)
            leading_blank = self.peek() in BLANK
            while self.peek() not in "\0" + BREAKS:
                chunks.append(self.peek())
                self.forward()
            leading_break = self.scan_line_break()
            indent, trailing_breaks, end_mark = self._block_scalar_breaks(indent, start, end_mark)
        if chomping != -1:
            chunks.append(leading_break)
        if chomping == 1:
            chunks.append(trailing_breaks)
        return ScalarToken("".join(chunks), False, start_mark, end_mark, style)

    def _block_scalar_breaks(self, indent: int, start: Mark, end_mark: Any) -> Tuple[int, str, Any]:
        # yaml_parser_scan_block_scalar_breaks
        max_indent = 0
        breaks = ""
        end_mark = self.get_mark()
        while True:
            while (indent == 0 or self.column < indent) and self.peek() == " ":
                self.forward()
            max_indent = max(max_indent, self.column)
            if (indent == 0 or self.column < indent) and self.peek() == "\t":
                raise _LibyamlRaised("found a tab character where an indentation space is expected",
                                     (self.line, self.column), "while scanning a block scalar", start)
            if self.peek() not in BREAKS:
                break
            breaks += self.scan_line_break()
            end_mark = self.get_mark()
        if indent == 0:
            indent = max(max_indent, self.indent + 1, 1)
        return indent, breaks, end_mark

    def scan_tag(self) -> Any:
        # yaml_parser_scan_tag (+ _tag_handle, _tag_uri, _uri_escapes); the handle
        # is None where libyaml's is empty, as PyYAML's parser expects.
        start_mark = self.get_mark()
        start = _mark(start_mark)
        if self.peek(1) == "<":
            self.forward(2)
            handle, suffix = None, self._tag_uri(True, "", start)
            if self.peek() != ">":
                raise _LibyamlRaised("did not find the expected '>'", (self.line, self.column), "while scanning a tag", start)
            self.forward()
        else:
            handle = self.peek()  # always `!`: fetch_tag saw it
            self.forward()
            while self.peek() in ALPHA:
                handle += self.peek()
                self.forward()
            if self.peek() == "!":
                handle += "!"
                self.forward()
            if len(handle) > 1 and handle.endswith("!"):
                suffix = self._tag_uri(False, "", start)
            else:
                suffix = self._tag_uri(False, handle, start)
                handle = "!"
                if suffix == "":
                    handle, suffix = None, "!"
        if self.peek() not in BLANKZ and not (self.flow_level and self.peek() == ","):
            raise _LibyamlRaised("did not find expected whitespace or line break", (self.line, self.column),
                                 "while scanning a tag", start)
        return TagToken((handle, suffix), start_mark, self.get_mark())

    def _tag_uri(self, uri_char: bool, head: str, start: Mark, directive: bool = False) -> str:
        chunks = [head[1:]]
        length = len(head.encode("utf-8"))
        allowed = ALPHA + ";/?:@&=+$.%!~*'()" + (",[]" if uri_char else "")
        while self.peek() in allowed and self.peek() != "\0":
            if self.peek() == "%":
                chunks.append(self._uri_escapes(start, directive))
            else:
                chunks.append(self.peek())
                self.forward()
            length += 1
        if length == 0:
            raise _LibyamlRaised("did not find expected tag URI", (self.line, self.column),
                                 "while parsing a %TAG directive" if directive else "while parsing a tag", start)
        return "".join(chunks)

    def _uri_escapes(self, start: Mark, directive: bool) -> str:
        context = "while parsing a %TAG directive" if directive else "while parsing a tag"
        octets = bytearray()
        width = 0
        while True:
            if not (self.peek() == "%" and self.peek(1) in HEX and self.peek(2) in HEX):
                raise _LibyamlRaised("did not find URI escaped octet", (self.line, self.column), context, start)
            octet = int(self.prefix(3)[1:], 16)
            if width == 0:
                width = 1 if octet & 0x80 == 0 else 2 if octet & 0xE0 == 0xC0 else 3 if octet & 0xF0 == 0xE0 \
                    else 4 if octet & 0xF8 == 0xF0 else 0
                if width == 0:
                    raise _LibyamlRaised("found an incorrect leading UTF-8 octet", (self.line, self.column),
                                         context, start)
            elif octet & 0xC0 != 0x80:
                raise _LibyamlRaised("found an incorrect trailing UTF-8 octet", (self.line, self.column),
                                     context, start)
            octets.append(octet)
            self.forward(3)
            width -= 1
            if width == 0:
                break
        return octets.decode("utf-8", "surrogateescape")  # libyaml keeps the bytes, valid UTF-8 or not


    def scan_directive(self) -> Any:
        # yaml_parser_scan_directive (+ _name, _version_directive_value, _tag_directive_value)
        start_mark = self.get_mark()
        start = _mark(start_mark)
        self.forward()
        name = ""
        while self.peek() in ALPHA and self.peek() != "\0":
            name += self.peek()
            self.forward()
        if not name:
            raise _LibyamlRaised("could not find expected directive name", (self.line, self.column),
                                 "while scanning a directive", start)
        if self.peek() not in BLANKZ:
            raise _LibyamlRaised("found unexpected non-alphabetical character", (self.line, self.column),
                                 "while scanning a directive", start)
        if name == "YAML":
            while self.peek() in BLANK:
                self.forward()
            major = self._version_number(start)
            if self.peek() != ".":
                raise _LibyamlRaised("did not find expected digit or '.' character", (self.line, self.column),
                                     "while scanning a %YAML directive", start)
            self.forward()
            value: Any = (major, self._version_number(start))
        elif name == "TAG":
            while self.peek() in BLANK:
                self.forward()
            if self.peek() != "!":
                raise _LibyamlRaised("did not find expected '!'", (self.line, self.column),
                                     "while scanning a tag directive", start)
            handle = "!"
            self.forward()
            while self.peek() in ALPHA and self.peek() != "\0":
                handle += self.peek()
                self.forward()
            if self.peek() == "!":
                handle += "!"
                self.forward()
            elif handle != "!":
                raise _LibyamlRaised("did not find expected '!'", (self.line, self.column),
                                     "while parsing a tag directive", start)
            if self.peek() not in BLANK:
                raise _LibyamlRaised("did not find expected whitespace", (self.line, self.column),
                                     "while scanning a %TAG directive", start)
            while self.peek() in BLANK:
                self.forward()
            prefix = self._tag_uri(True, "", start, directive=True)
            if self.peek() not in BLANKZ:
                raise _LibyamlRaised("did not find expected whitespace or line break", (self.line, self.column),
                                     "while scanning a %TAG directive", start)
            value = (handle, prefix)
        else:
            raise _LibyamlRaised("found unknown directive name", (self.line, self.column),
                                 "while scanning a directive", start)
        end_mark = self.get_mark()
        while self.peek() in BLANK:
            self.forward()
        if self.peek() == "#":
            while self.peek() not in "\0" + BREAKS:
                self.forward()
        if self.peek() not in "\0" + BREAKS:
            raise _LibyamlRaised("did not find expected comment or line break", (self.line, self.column),
                                 "while scanning a directive", start)
        self.scan_line_break()
        return DirectiveToken(name, value, start_mark, end_mark)

    def _version_number(self, start: Mark) -> int:
        digits = ""
        while self.peek() in "0123456789" and self.peek() != "\0":
            if len(digits) > 9:
                raise _LibyamlRaised("found extremely long version number", (self.line, self.column),
                                     "while scanning a %YAML directive", start)
            digits += self.peek()
            self.forward()
        if not digits:
            raise _LibyamlRaised("did not find expected version number", (self.line, self.column),
                                 "while scanning a %YAML directive", start)
        return int(digits)


class _Parser(yaml.parser.Parser):
    def process_directives(self) -> Any:
        # yaml_parser_process_directives: only YAML 1.1 and 1.2; a %TAG handle once.
        self.yaml_version = None
        self.tag_handles = {}
        while self.check_token(DirectiveToken):
            token = self.get_token()
            if token.name == "YAML":
                if self.yaml_version is not None:
                    raise _LibyamlRaised("found duplicate %YAML directive", _mark(token.start_mark))
                major, minor = token.value
                if major != 1 or minor not in (1, 2):
                    raise _LibyamlRaised("found incompatible YAML document", _mark(token.start_mark))
                self.yaml_version = token.value
            else:
                handle, prefix = token.value
                if handle in self.tag_handles:
                    raise _LibyamlRaised("found duplicate %TAG directive", _mark(token.start_mark))
                self.tag_handles[handle] = prefix
        value = self.yaml_version, (self.tag_handles.copy() if self.tag_handles else None)
        for key in self.DEFAULT_TAGS:
            self.tag_handles.setdefault(key, self.DEFAULT_TAGS[key])
        return value


class _Loader(_Reader, _Scanner, _Parser):
    def __init__(self, text: str):
        _Reader.__init__(self, text)
        _Scanner.__init__(self)
        _Parser.__init__(self)


# ---------------------------------------------------------------------------
# 2. serde_yaml_ng: the loader (`loader.rs`) and the deserializer (`de.rs`)

VOID, ALIAS, SCALAR, SEQ_START, SEQ_END, MAP_START, MAP_END = range(7)
TAG_NULL = "tag:yaml.org,2002:null"
TAG_BOOL = "tag:yaml.org,2002:bool"
TAG_INT = "tag:yaml.org,2002:int"
TAG_FLOAT = "tag:yaml.org,2002:float"


@dataclass
class _Event:
    kind: int
    mark: Mark
    value: Any = None  # a scalar's text, an alias's id
    tag: Optional[str] = None
    plain: bool = True


@dataclass
class _Document:
    events: List[_Event] = field(default_factory=list)
    error: Optional[Exception] = None
    aliases: Dict[int, int] = field(default_factory=dict)


class _Message(Exception):
    """`ErrorImpl::Message`: a serde error, given its mark and path by the first `fix_mark`."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.pos: Optional[Tuple[Mark, str]] = None

    def to_yaml_error(self) -> YamlError:
        if self.pos is None:
            return YamlError(self.message, None)
        mark, path = self.pos
        text = (f"{path}: " if path != "." else "") + self.message
        if mark != (0, 0):
            text += f" at {_at(mark)}"
        return YamlError(text, mark[0] + 1)


class _Marked(Exception):
    """`RecursionLimitExceeded` and `UnknownAnchor`: a message and a mark, no path."""

    def __init__(self, message: str, mark: Mark):
        super().__init__(message)
        self.error = YamlError(message + (f" at {_at(mark)}" if mark != (0, 0) else ""), mark[0] + 1)


def _unmarked(message: str) -> YamlError:
    return YamlError(message, None)


END_OF_STREAM = "EOF while parsing a value"
MORE_THAN_ONE_DOCUMENT = "deserializing from YAML containing more than one document is not supported"


class _EventLoader:
    """serde_yaml_ng's `Loader`: one document's events, anchors numbered, the first error kept."""

    def __init__(self, text: str):
        self.parser: Optional[_Loader] = _Loader(text)
        self.document_count = 0

    def _next(self) -> Any:
        try:
            return self.parser.get_event()
        except _LibyamlRaised as e:
            raise _ParseFailed(e.error) from None
        except yaml.error.MarkedYAMLError as e:
            raise _ParseFailed(_translate(e)) from None

    def next_document(self) -> Optional[_Document]:
        if self.parser is None:
            return None
        first = self.document_count == 0
        self.document_count += 1
        anchors: Dict[str, int] = {}
        doc = _Document()
        while True:
            try:
                event = self._next()
            except _ParseFailed as e:
                doc.error = e
                return doc
            mark = _mark(event.start_mark)
            if isinstance(event, (yaml.events.StreamStartEvent, yaml.events.DocumentStartEvent)):
                continue
            if isinstance(event, yaml.events.StreamEndEvent):
                self.parser = None
                if first:
                    if not doc.events:
                        doc.events.append(_Event(VOID, mark))
                    return doc
                return None
            if isinstance(event, yaml.events.DocumentEndEvent):
                return doc
            if isinstance(event, yaml.events.AliasEvent):
                if event.anchor not in anchors:
                    doc.error = _Marked("unknown anchor", mark)
                    return doc
                doc.events.append(_Event(ALIAS, mark, anchors[event.anchor]))
                continue
            if getattr(event, "anchor", None) is not None:
                anchors[event.anchor] = len(anchors)
                doc.aliases[anchors[event.anchor]] = len(doc.events)
            if isinstance(event, yaml.events.ScalarEvent):
                doc.events.append(_Event(SCALAR, mark, event.value, event.tag, event.style is None))
            elif isinstance(event, yaml.events.SequenceStartEvent):
                doc.events.append(_Event(SEQ_START, mark, None, event.tag))
            elif isinstance(event, yaml.events.SequenceEndEvent):
                doc.events.append(_Event(SEQ_END, mark))
            elif isinstance(event, yaml.events.MappingStartEvent):
                doc.events.append(_Event(MAP_START, mark, None, event.tag))
            elif isinstance(event, yaml.events.MappingEndEvent):
                doc.events.append(_Event(MAP_END, mark))


class _ParseFailed(Exception):
    def __init__(self, error: YamlError):
        super().__init__(str(error))
        self.error = error


# Paths (`path.rs`): ("root",), ("seq", parent, i), ("map", parent, key), ("alias", parent), ("unknown", parent)
def path_str(path: tuple) -> str:
    kind = path[0]
    if kind == "root":
        return "."
    if kind == "seq":
        return f"{path_str(path[1])}[{path[2]}]"
    if kind == "map":
        return f"{_parent(path[1])}{path[2]}"
    if kind == "alias":
        return path_str(path[1])
    return f"{_parent(path[1])}?"


def _parent(path: tuple) -> str:
    return "" if path[0] == "root" else f"{path_str(path)}."


# Scalars: `parse_null`, `parse_bool`, the integers, `parse_f64`, `digits_but_not_number`.
def parse_null(v: str) -> bool:
    return v in ("null", "Null", "NULL", "~")


def parse_bool(v: str) -> Optional[bool]:
    return True if v in ("true", "True", "TRUE") else False if v in ("false", "False", "FALSE") else None


_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def from_str_radix(s: str, radix: int, signed: bool, bits: int) -> Optional[int]:
    """Rust's `{u,i}N::from_str_radix`: one optional sign (`-` only when signed), digits only."""
    if not s:
        return None
    negative = False
    digits = s
    if s[0] in "+-":
        if len(s) == 1:
            return None
        if s[0] == "+":
            digits = s[1:]
        elif signed:
            negative, digits = True, s[1:]
    if not digits or any(c.lower() not in _DIGITS36[:radix] or not c.isascii() for c in digits):
        return None
    value = -int(digits, radix) if negative else int(digits, radix)
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return value if low <= value <= high else None


def digits_but_not_number(scalar: str) -> bool:
    s = scalar[1:] if scalar[:1] in ("-", "+") else scalar
    return len(s) > 1 and s.startswith("0") and all(c in "0123456789" for c in s[1:])


_PREFIXES = (("0x", 16), ("0o", 8), ("0b", 2))


def parse_unsigned_int(scalar: str, bits: int) -> Optional[int]:
    unpositive = scalar[1:] if scalar.startswith("+") else scalar
    for prefix, radix in _PREFIXES:
        if unpositive.startswith(prefix):
            rest = unpositive[2:]
            if rest.startswith(("+", "-")):
                return None
            n = from_str_radix(rest, radix, False, bits)
            if n is not None:
                return n
    if unpositive.startswith(("+", "-")) or digits_but_not_number(scalar):
        return None
    return from_str_radix(unpositive, 10, False, bits)


def parse_negative_int(scalar: str, bits: int) -> Optional[int]:
    for prefix, radix in _PREFIXES:
        if scalar.startswith("-" + prefix):
            n = from_str_radix("-" + scalar[3:], radix, True, bits)
            if n is not None:
                return n
    if digits_but_not_number(scalar):
        return None
    return from_str_radix(scalar, 10, True, bits)


_RUST_FLOAT = re.compile(r"[+-]?(inf|infinity|nan|([0-9]+|[0-9]+\.[0-9]*|[0-9]*\.[0-9]+)(e[+-]?[0-9]+)?)\Z", re.I)


def rust_parse_f64(s: str) -> Optional[float]:
    """`s.parse::<f64>()`: Rust's grammar (no `_`, no spaces, `inf`/`infinity`/`nan`)."""
    return float(s) if _RUST_FLOAT.match(s) else None


def parse_f64(scalar: str) -> Optional[float]:
    if scalar.startswith("+"):
        unpositive = scalar[1:]
        if unpositive.startswith(("+", "-")):
            return None
    else:
        unpositive = scalar
    if unpositive in (".inf", ".Inf", ".INF"):
        return math.inf
    if scalar in ("-.inf", "-.Inf", "-.INF"):
        return -math.inf
    if scalar in (".nan", ".NaN", ".NAN"):
        return math.nan
    f = rust_parse_f64(unpositive)
    return f if f is not None and math.isfinite(f) else None


# A visitor turns what a scalar is into a value or a `_Message`: `_ValueVisitor`
# is serde_json's `Value`, `_InvalidType` serde_yaml_ng's `invalid_type` (which
# only words what it found).
class _ValueVisitor:
    expecting = "any valid JSON value"

    def unit(self) -> Any:
        return None

    def bool(self, b: bool) -> Any:
        return b

    def u64(self, n: int) -> Any:
        return n

    def i64(self, n: int) -> Any:
        return n

    def u128(self, n: int) -> Any:
        raise _Message("JSON number out of range")

    def i128(self, n: int) -> Any:
        raise _Message("JSON number out of range")

    def f64(self, f: float) -> Any:
        return f if math.isfinite(f) else None

    def str(self, s: str) -> Any:
        return s


class _InvalidType:
    def __init__(self, expecting: str):
        self.expecting = expecting

    def _no(self, unexpected: str) -> Any:
        raise _Message(f"invalid type: {unexpected}, expected {self.expecting}")

    def unit(self) -> Any:
        return self._no("unit value")

    def bool(self, b: bool) -> Any:
        return self._no(f"boolean `{'true' if b else 'false'}`")

    def u64(self, n: int) -> Any:
        return self._no(f"integer `{n}`")

    def i64(self, n: int) -> Any:
        return self._no(f"integer `{n}`")

    def u128(self, n: int) -> Any:
        return self._no(f"integer `{n}` as u128")

    def i128(self, n: int) -> Any:
        return self._no(f"integer `{n}` as i128")

    def f64(self, f: float) -> Any:
        return self._no(f"floating point `{with_decimal_point(f)}`")

    def str(self, s: str) -> Any:
        return self._no(f"string {debug_str(s)}")


def _invalid_value(v: str, expected: str) -> _Message:
    return _Message(f"invalid value: string {debug_str(v)}, expected {expected}")


_NOT_AN_INT = object()


def visit_int(visitor: Any, v: str) -> Any:
    n = parse_unsigned_int(v, 64)
    if n is not None:
        return visitor.u64(n)
    n = parse_negative_int(v, 64)
    if n is not None:
        return visitor.i64(n)
    n = parse_unsigned_int(v, 128)
    if n is not None:
        return visitor.u128(n)
    n = parse_negative_int(v, 128)
    if n is not None:
        return visitor.i128(n)
    return _NOT_AN_INT


def visit_untagged_scalar(visitor: Any, v: str) -> Any:
    if v == "" or parse_null(v):
        return visitor.unit()
    b = parse_bool(v)
    if b is not None:
        return visitor.bool(b)
    result = visit_int(visitor, v)
    if result is not _NOT_AN_INT:
        return result
    if not digits_but_not_number(v):
        f = parse_f64(v)
        if f is not None:
            return visitor.f64(f)
    return visitor.str(v)


def visit_scalar(visitor: Any, event: _Event) -> Any:
    v, tag = event.value, event.tag
    if tag is not None:
        if tag == TAG_BOOL:
            b = parse_bool(v)
            if b is None:
                raise _invalid_value(v, "a boolean")
            return visitor.bool(b)
        if tag == TAG_INT:
            result = visit_int(visitor, v)
            if result is _NOT_AN_INT:
                raise _invalid_value(v, "an integer")
            return result
        if tag == TAG_FLOAT:
            f = parse_f64(v)
            if f is None:
                raise _invalid_value(v, "a float")
            return visitor.f64(f)
        if tag == TAG_NULL:
            if not parse_null(v):
                raise _invalid_value(v, "null")
            return visitor.unit()
        if tag.startswith("!") and event.plain:
            return visit_untagged_scalar(visitor, v)
    elif event.plain:
        return visit_untagged_scalar(visitor, v)
    return visitor.str(v)


def _invalid_type(event: _Event, expecting: str) -> Exception:
    if event.kind == SCALAR:
        try:
            visit_scalar(_InvalidType(expecting), event)
        except _Message as e:
            return e
        raise AssertionError("unreachable")
    if event.kind == SEQ_START:
        return _Message(f"invalid type: sequence, expected {expecting}")
    if event.kind == MAP_START:
        return _Message(f"invalid type: map, expected {expecting}")
    return _EndOfStream()


class _EndOfStream(Exception):
    pass


class _Repetition(Exception):
    pass


def _enum_tag(tag: Optional[str]) -> bool:
    """`parse_tag`: a local tag (`!x`, `!`) in valid UTF-8 makes a node an enum variant."""
    return tag is not None and tag.startswith("!") and not any("\ud800" <= c <= "\udfff" for c in tag)


def _fix_mark(e: Exception, mark: Mark, path: tuple) -> None:
    if isinstance(e, _Message) and e.pos is None:
        e.pos = (mark, path_str(path))


class _De:
    """`DeserializerFromEvents` over one document, for `BTreeMap<String, serde_json::Value>`."""

    def __init__(self, doc: _Document):
        self.doc = doc
        self.jumpcount = 0

    def peek(self, pos: List[int]) -> _Event:
        if pos[0] < len(self.doc.events):
            return self.doc.events[pos[0]]
        raise self.doc.error if self.doc.error is not None else _EndOfStream()

    def next(self, pos: List[int]) -> _Event:
        event = self.peek(pos)
        pos[0] += 1
        return event

    def jump(self, alias: int) -> List[int]:
        self.jumpcount += 1
        if self.jumpcount > len(self.doc.events) * 100:
            raise _Repetition()
        return [self.doc.aliases[alias]]

    def recursion_check(self, mark: Mark, depth: int) -> int:
        if depth == 0:
            raise _Marked("recursion limit exceeded", mark)
        return depth - 1

    def deserialize_str(self, pos: List[int], path: tuple, expecting: str) -> str:
        event = self.next(pos)
        try:
            if event.kind == SCALAR:
                return event.value
            if event.kind == ALIAS:
                return self.deserialize_str(self.jump(event.value), ("alias", path), expecting)
            raise _invalid_type(event, expecting)
        except Exception as e:
            _fix_mark(e, event.mark, path)
            raise

    def deserialize_any(self, pos: List[int], path: tuple, depth: int) -> Any:
        """`serde_json::Value::deserialize`."""
        event = self.next(pos)
        try:
            if event.kind == ALIAS:
                return self.deserialize_any(self.jump(event.value), ("alias", path), depth)
            if event.kind in (SCALAR, SEQ_START, MAP_START) and _enum_tag(event.tag):
                raise _Message("invalid type: enum, expected any valid JSON value")
            if event.kind == SCALAR:
                return visit_scalar(_ValueVisitor(), event)
            if event.kind == SEQ_START:
                inner = self.recursion_check(event.mark, depth)
                items = []
                while self.peek(pos).kind not in (SEQ_END, VOID):
                    items.append(self.deserialize_any(pos, ("seq", path, len(items)), inner))
                self.next(pos)
                return items
            if event.kind == MAP_START:
                return self.visit_mapping(pos, path, event.mark, depth, value_keys=True)
            if event.kind == VOID:
                return None
            raise AssertionError(f"unexpected event {event.kind}")
        except Exception as e:
            _fix_mark(e, event.mark, path)
            raise

    def visit_mapping(self, pos: List[int], path: tuple, mark: Mark, depth: int, value_keys: bool) -> Dict[str, Any]:
        inner = self.recursion_check(mark, depth)
        out: Dict[str, Any] = {}
        first = True
        while True:
            event = self.peek(pos)
            if event.kind in (MAP_END, VOID):
                break
            key_text = event.value if event.kind == SCALAR else None
            # serde_json's first key goes through `KeyClassifier` ("a string key"), the rest are `String`s.
            key = self.deserialize_str(pos, path, "a string key" if value_keys and first else "a string")
            first = False
            value_path = ("map", path, key_text) if key_text is not None else ("unknown", path)
            out[key] = self.deserialize_any(pos, value_path, inner)
        self.next(pos)
        return out

    def deserialize_map(self) -> Dict[str, Any]:
        """`BTreeMap<String, Value>::deserialize` of the document: its root."""
        pos, path = [0], ("root",)
        event = self.next(pos)
        try:
            if event.kind == MAP_START:
                return self.visit_mapping(pos, path, event.mark, 128, value_keys=False)
            if event.kind == VOID or (event.kind == SCALAR and event.value == "" and event.plain):
                return {}
            raise _invalid_type(event, "a map")
        except Exception as e:
            _fix_mark(e, event.mark, path)
            raise


def _as_yaml_error(e: Exception) -> YamlError:
    if isinstance(e, _ParseFailed):
        return e.error
    if isinstance(e, _Message):
        return e.to_yaml_error()
    if isinstance(e, _Marked):
        return e.error
    if isinstance(e, _Repetition):
        return _unmarked("repetition limit exceeded")
    if isinstance(e, _EndOfStream):
        return _unmarked(END_OF_STREAM)
    raise e


def from_str_map(text: str) -> Dict[str, Any]:
    """`serde_yaml_ng::from_str::<BTreeMap<String, serde_json::Value>>(text)`."""
    # serde_yaml_ng sets the encoding, so a leading BOM is no encoding mark: like any BOM at
    # column 0, `scan_to_next_token` skips it, and it counts as a column.
    loader = _EventLoader(text)
    doc = loader.next_document()
    try:
        value = _De(doc).deserialize_map()
        if doc.error is not None:
            raise doc.error
    except (_ParseFailed, _Message, _Marked, _Repetition, _EndOfStream) as e:
        raise _as_yaml_error(e) from None
    if loader.next_document() is not None:
        raise _unmarked(MORE_THAN_ONE_DOCUMENT)
    return value
