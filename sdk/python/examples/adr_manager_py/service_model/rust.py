"""What the Rust standard library, serde and serde_json do to text, in Python,
where Python's own functions differ: `str::lines`, `str::trim`, `{:?}` of a
string, `{}` of an `f64` and of a `serde_json::Number`."""

import unicodedata
from decimal import Decimal
from typing import List

# `char::is_whitespace` (Unicode White_Space); Python's `str.isspace` also counts U+001C..U+001F.
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_WS = "".join(sorted(WHITESPACE))


def lines(text: str) -> List[str]:
    """`str::lines`: split at `\\n` and drop one `\\r` before it; a final `\\n` ends the last line
    (no empty line after it); a `\\r` at the very end, with no `\\n`, stays."""
    parts = text.split("\n")
    ended = parts[-1] == ""  # the text ends with `\n` (or is empty)
    if ended:
        parts.pop()
    last = len(parts) - 1
    return [p[:-1] if p.endswith("\r") and (i < last or ended) else p for i, p in enumerate(parts)]


def trim(s: str) -> str:
    return s.strip(_WS)


def split_whitespace(s: str) -> List[str]:
    out, word = [], []
    for c in s:
        if c in WHITESPACE:
            if word:
                out.append("".join(word))
                word = []
        else:
            word.append(c)
    if word:
        out.append("".join(word))
    return out


_LOWER = {i: i + 32 for i in range(ord("A"), ord("Z") + 1)}


def to_ascii_lowercase(s: str) -> str:
    return s.translate(_LOWER)


def debug_str(s: str) -> str:
    """`format!("{:?}", s)`: quoted, with Rust's escapes."""
    out = ['"']
    for c in s:
        if c == "\0":
            out.append("\\0")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c == "\n":
            out.append("\\n")
        elif c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == " " or (c.isprintable() and unicodedata.category(c) not in ("Mn", "Me")):
            out.append(c)
        else:
            out.append(f"\\u{{{ord(c):x}}}")
    out.append('"')
    return "".join(out)


def _digits(f: float):
    """The shortest round-trip digits of finite `f` >= 0 and their exponent: value = 0.DIGITS * 10**(len + exp)."""
    t = Decimal(repr(f)).as_tuple()
    digits = "".join(map(str, t.digits)).lstrip("0") or "0"
    exp = t.exponent + (len(t.digits) - len("".join(map(str, t.digits)).lstrip("0") or "0"))
    stripped = digits.rstrip("0") or "0"
    exp += len(digits) - len(stripped)
    return stripped, exp


def display_f64(f: float) -> str:
    """`format!("{}", f)` for a finite f64: plain decimal, no exponent, `1` for 1.0."""
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    return format(Decimal(repr(f)).normalize(), "f")


def with_decimal_point(f: float) -> str:
    """serde's `WithDecimalPoint`: `{}` and `.0` when there is no point (`floating point `1.0``)."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "inf" if f > 0 else "-inf"
    s = display_f64(f)
    return s if "." in s else s + ".0"


def json_f64(f: float) -> str:
    """`serde_json::Number`'s `Display` of a finite f64 (serde_json 1.0.154 formats with zmij 1.0):
    the shortest digits, plain from 1e-5 to below 1e16 (`1.0`, `0.00001`), else `1e+16`, `1.5e-7`."""
    sign = "-" if str(f).startswith("-") else ""
    f = abs(f)
    if f == 0:
        return sign + "0.0"
    digits, k = _digits(f)
    length = len(digits)
    kk = length + k
    if 0 <= k and kk <= 16:
        return sign + digits + "0" * k + ".0"
    if 0 < kk <= 16:
        return sign + digits[:kk] + "." + digits[kk:]
    if -5 < kk <= 0:
        return sign + "0." + "0" * (-kk) + digits
    exp = f"e{'+' if kk - 1 >= 0 else '-'}{abs(kk - 1)}"
    if length == 1:
        return f"{sign}{digits}{exp}"
    return f"{sign}{digits[0]}.{digits[1:]}{exp}"
