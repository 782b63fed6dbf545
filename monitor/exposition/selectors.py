"""`match[]` selectors as Prometheus' federation endpoint takes them: `name{label="v",other=~"re"}`.

Operators =, !=, =~, !~ (regular expressions anchored at both ends, as in
PromQL); values in double or single quotes or backticks (raw), as PromQL
writes strings. `{__name__=~"node_.*"}` selects by name. As in Prometheus, a
selector needs a name or one matcher that does not match the empty string. A
selector that does not parse raises ValueError with the reason.
"""

import re
from collections.abc import Callable, Mapping

_NAME = r"[A-Za-z_:][A-Za-z0-9_:]*"
_MATCHER = re.compile(
    r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"""
    r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|`([^`]*)`)\s*(?:,|$)"""
)

Selector = Callable[[str, Mapping[str, str]], bool]


def parse_selector(text: str) -> Selector:
    """A predicate on (name, labels) for one selector."""
    text = text.strip()
    match = re.match(rf"^({_NAME})?\s*(?:\{{(.*)\}})?$", text, re.S)
    if not text or match is None or (match.group(1) is None and match.group(2) is None):
        raise ValueError(f'invalid selector {text!r}: expected name{{label="value",...}}')
    tests: list[tuple[str, str, str | re.Pattern]] = []
    if match.group(1):
        tests.append(("__name__", "=", match.group(1)))
    body = (match.group(2) or "").strip()
    position = 0
    while position < len(body):
        pair = _MATCHER.match(body, position)
        if pair is None:
            raise ValueError(f"invalid selector {text!r}: cannot read the label matchers from {body[position:]!r}")
        label, op = pair.group(1), pair.group(2)
        quoted = pair.group(3) if pair.group(3) is not None else pair.group(4)
        value = _unescape(quoted) if quoted is not None else pair.group(5)
        if op in ("=~", "!~"):
            try:
                tests.append((label, op, re.compile(value)))
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r} in selector {text!r}: {exc}") from None
        else:
            tests.append((label, op, value))
        position = pair.end()
    # Prometheus asks a selector for one matcher that refuses a series without the label.
    if all(_passes(op, want, "") for _, op, want in tests):
        raise ValueError(f"invalid selector {text!r}: it needs a name or a matcher that does not match empty values")

    def matches(name: str, labels: Mapping[str, str]) -> bool:
        return all(
            _passes(op, want, name if label == "__name__" else labels.get(label, "")) for label, op, want in tests
        )

    return matches


def _passes(op: str, want: str | re.Pattern, have: str) -> bool:
    """Whether a label value `have` (empty: the label is absent) passes one matcher."""
    if op == "=":
        return have == want
    if op == "!=":
        return have != want
    found = want.fullmatch(have) is not None
    return found if op == "=~" else not found


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)
