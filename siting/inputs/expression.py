"""Scenario filters (``where``): a small expression language, parsed and evaluated here.

A scenario file is data, not code: a filter received by mail must not be able to run anything.
Filters are therefore not handed to ``pandas.eval``/``DataFrame.query`` (which resolve ``@``
names and attributes, and so reach ``os.system``). :func:`parse` reads the text with Python's
:mod:`ast` parser and accepts an allow-list only, turned into a small tree of its own
(:class:`Filter`); :func:`evaluate` computes that tree on a frame's columns with vectorised
pandas operations. Nothing else is ever looked up or called.

The language, a subset of pandas' query syntax with the same meaning:

* the layer's fields by name (``status``), in backquotes when the name is not a plain word
  (```State, Province```); text in quotes, numbers, ``True``/``False``/``None``, and lists of
  them (``['a', 'b']``);
* comparisons ``== != < <= > >=`` (chained ``0 < x <= 5`` too), ``in`` / ``not in`` a list
  (``==`` / ``!=`` a list mean the same, as in pandas);
* ``and``, ``or``, ``not`` (and ``&``, ``|``, ``~`` on conditions);
* ``+ - * /`` on numbers, unary minus;
* ``.str.contains(pat, case=True, regex=True)``, ``.str.startswith(pat)``,
  ``.str.endswith(pat)``, ``.str.len()``, ``.str.lower()``, ``.str.upper()``,
  ``.str.strip()`` (``lstrip``/``rstrip``) on text, and ``.isna()``/``.notna()`` (``isnull``,
  ``notnull``) on any field.

Stricter than pandas where pandas is silently wrong: a missing text does not contain, start or
end with anything (pandas gives NaN); a number compared with text, ``== None``, ``and`` between
numbers, and a filter that names no field (``'status' == 'operating'``, a quoted field name) are
errors.
"""

from __future__ import annotations

import ast
import difflib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import Any

import pandas as pd

from siting.errors import ScenarioError

#: What a filter may hold, for the ``fix`` of every refusal.
ALLOWED = (
    "a filter may use the layer's fields (in `backquotes` if the name has spaces), text in "
    "quotes, numbers, True/False/None, lists of values, comparisons == != < <= > >=, "
    "in / not in [list], and / or / not, + - * /, and the methods .str.contains(), "
    ".str.startswith(), .str.endswith(), .str.len(), .str.lower(), .str.upper(), "
    ".str.strip(), .isna(), .notna(); e.g. status == 'operating' and output > 0"
)

MAX_LENGTH = 5000
MAX_DEPTH = 64

Scalar = str | int | float | bool | None


# --- The tree a filter is parsed into -----------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A column of the frame."""

    name: str


@dataclass(frozen=True)
class Value:
    """A literal: text, a number, True/False or None."""

    value: Scalar


@dataclass(frozen=True)
class Values:
    """A literal list (the right side of ``in``)."""

    items: tuple[Scalar, ...]


@dataclass(frozen=True)
class Compare:
    """``left op1 right1 op2 right2 …``: the pairwise comparisons, all true."""

    left: Node
    ops: tuple[str, ...]
    rights: tuple[Node, ...]


@dataclass(frozen=True)
class Logic:
    """``and`` / ``or`` (or ``&`` / ``|``) of two or more conditions."""

    op: str
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """``not`` a condition."""

    part: Node


@dataclass(frozen=True)
class Arith:
    """``left op right`` for ``op`` one of ``+ - * /``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Negate:
    """Unary minus of a number."""

    part: Node


@dataclass(frozen=True)
class Method:
    """``receiver.str.name(args)`` (``text``) or ``receiver.name()``."""

    receiver: Node
    name: str
    text: bool
    args: tuple[tuple[str, Scalar | tuple[str, ...]], ...]


Node = Field | Value | Values | Compare | Logic | Not | Arith | Negate | Method


@dataclass(frozen=True)
class Filter:
    """A parsed filter: its text, its tree and the fields it reads."""

    text: str
    root: Node
    fields: frozenset[str]


# --- Parsing ------------------------------------------------------------------------------


class _Refused(Exception):
    """Something outside the language; the message says what."""


@dataclass(frozen=True)
class _Spec:
    params: tuple[str, ...]  # in positional order
    required: int
    types: dict[str, tuple[type, ...]]


_TEXT_METHODS: dict[str, _Spec] = {
    "contains": _Spec(
        ("pat", "case", "regex"), 1, {"pat": (str,), "case": (bool,), "regex": (bool,)}
    ),
    "startswith": _Spec(("pat",), 1, {"pat": (str, tuple)}),
    "endswith": _Spec(("pat",), 1, {"pat": (str, tuple)}),
    "len": _Spec((), 0, {}),
    "lower": _Spec((), 0, {}),
    "upper": _Spec((), 0, {}),
    "strip": _Spec(("to_strip",), 0, {"to_strip": (str,)}),
    "lstrip": _Spec(("to_strip",), 0, {"to_strip": (str,)}),
    "rstrip": _Spec(("to_strip",), 0, {"to_strip": (str,)}),
}
_MISSING_METHODS = {"isna": True, "isnull": True, "notna": False, "notnull": False}

_COMPARE = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_WHAT = {
    ast.Subscript: "indexing with [...]",
    ast.Lambda: "lambda",
    ast.IfExp: "if ... else",
    ast.NamedExpr: ":=",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Dict: "dictionaries",
    ast.JoinedStr: "f-strings",
    ast.Starred: "*",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


def parse(text: str, key: str) -> Filter:
    """Parse ``text`` as a filter, checking that it holds only what the language allows.

    Parameters
    ----------
    text
        The filter, e.g. ``"status == 'operating' and output > 0"``.
    key
        The scenario key it comes from (``layers.mines.where``), for the messages.

    Returns
    -------
    Filter

    Raises
    ------
    ScenarioError
        If the text is not valid syntax, holds anything outside the language (``@`` names,
        calls, attributes other than ``.str.<method>``, indexing, lambdas, ...), or names no
        field; the message names ``key`` and the fix says what is allowed.
    """
    try:
        if not isinstance(text, str) or not text.strip():
            raise _Refused("it is empty")
        if len(text) > MAX_LENGTH:
            raise _Refused(f"it is longer than {MAX_LENGTH} characters")
        source, quoted = _unquote_names(text)
        lead = len(source) - len(source.lstrip())  # a leading space is an "indent" to Python
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            at = (exc.offset or 0) + lead
            where = f" at character {at}" if exc.offset and not quoted else ""
            detail = "" if exc.msg == "invalid syntax" else f" ({exc.msg})"
            raise _Refused(f"invalid syntax{where}{detail}") from None
        except (RecursionError, MemoryError):
            raise _Refused(f"it is nested more than {MAX_DEPTH} levels deep") from None
        except ValueError as exc:
            raise _Refused(f"it cannot be read ({exc})") from None
        _check_depth(tree)
        root = _Builder(quoted).build(tree.body)
    except _Refused as exc:
        raise ScenarioError(
            f"{key} = {_show(text)} is not an allowed filter: {exc}", ALLOWED
        ) from None
    fields = frozenset(_fields(root))
    if not fields:
        raise ScenarioError(
            f"{key} = {_show(text)} names no field of the layer, so it selects all or nothing",
            "write field names without quotes (status == 'operating', not 'status' == "
            f"'operating'); {ALLOWED}",
        )
    return Filter(text, root, fields)


def _unquote_names(text: str) -> tuple[str, dict[str, str]]:
    """``text`` with every ```field name``` replaced by a plain identifier (returned with the
    names it stands for); ``@`` outside quotes is refused (pandas' local variables)."""
    stem = "_field"
    while stem in text:
        stem += "_"
    out: list[str] = []
    quoted: dict[str, str] = {}
    by_name: dict[str, str] = {}
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                out.append(text[i : i + 2])
                i += 2
            elif text.startswith(quote, i):
                out.append(quote)
                i += len(quote)
                quote = ""
            else:
                out.append(c)
                i += 1
        elif c in "'\"":
            quote = text[i : i + 3] if text[i : i + 3] in ("'''", '"""') else c
            out.append(quote)
            i += len(quote)
        elif c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise _Refused("a ` opens a field name that is not closed")
            name = text[i + 1 : end]
            if not name:
                raise _Refused("`` is an empty field name")
            if name not in by_name:
                by_name[name] = f"{stem}{len(by_name)}"
                quoted[by_name[name]] = name
            out.append(f" {by_name[name]} ")
            i = end + 1
        elif c == "@":
            raise _Refused(
                "@ (pandas' local variables, or matrix product) is not part of the language: "
                "a filter reads only the layer's fields and the values written in it"
            )
        else:
            out.append(c)
            i += 1
    return "".join(out), quoted


def _show(text: object) -> str:
    """``text`` quoted for a message, shortened if long."""
    shown = repr(text)
    return shown if len(shown) <= 120 else f"{shown[:100]}…{shown[-10:]} ({len(str(text))} chars)"


def _check_depth(tree: ast.AST) -> None:
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Refused(f"it is nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


class _Builder:
    """Turns an allowed :mod:`ast` tree into a :data:`Node`; anything else is refused."""

    def __init__(self, quoted: dict[str, str]) -> None:
        self.quoted = quoted

    def build(self, node: ast.expr) -> Node:
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Constant):
            return Value(_literal(node))
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            raise _Refused("a list of values may only follow in, not in, == or !=")
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return Logic(op, tuple(self.build(v) for v in node.values))
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Attribute):
            raise _Refused(
                f"attribute .{node.attr}: only the methods .str.<method>() and "
                ".isna()/.notna() may follow a field"
            )
        what = _WHAT.get(type(node), type(node).__name__)
        raise _Refused(f"{what}: not part of the language")

    def _name(self, node: ast.Name) -> Field:
        if node.id in self.quoted:
            return Field(self.quoted[node.id])
        if node.id.startswith("__"):
            raise _Refused(f"names starting with __ ({node.id}) are not allowed")
        return Field(node.id)

    def _unary(self, node: ast.UnaryOp) -> Node:
        part = self.build(node.operand)
        if isinstance(node.op, ast.Not | ast.Invert):
            return Not(part)
        if isinstance(part, Value) and isinstance(part.value, int | float):
            if isinstance(part.value, bool):
                raise _Refused("a sign before True or False")
            return Value(-part.value if isinstance(node.op, ast.USub) else part.value)
        return Negate(part) if isinstance(node.op, ast.USub) else Arith("+", Value(0), part)

    def _binary(self, node: ast.BinOp) -> Node:
        if isinstance(node.op, ast.BitAnd | ast.BitOr):
            op = "&" if isinstance(node.op, ast.BitAnd) else "|"
            return Logic(op, (self.build(node.left), self.build(node.right)))
        symbol = _ARITH.get(type(node.op))
        if symbol is None:
            raise _Refused(f"the operator {_operator(node.op)} is not part of the language")
        return Arith(symbol, self.build(node.left), self.build(node.right))

    def _compare(self, node: ast.Compare) -> Compare:
        ops: list[str] = []
        rights: list[Node] = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            symbol = _COMPARE.get(type(op))
            if symbol is None:
                raise _Refused(f"{_operator(op)} is not part of the language; use == or !=")
            if isinstance(right, ast.List | ast.Tuple | ast.Set):
                if symbol not in ("in", "not in", "==", "!="):
                    raise _Refused(f"a list of values cannot follow {symbol}")
                rights.append(Values(tuple(_item(e) for e in right.elts)))
            elif symbol in ("in", "not in"):
                raise _Refused(f"{symbol} needs a list of values, e.g. kind in ['a', 'b']")
            else:
                rights.append(self.build(right))
            ops.append(symbol)
        left = self.build(node.left)
        sides = [left, *rights]
        for i, symbol in enumerate(ops):
            pair = sides[i : i + 2]
            if symbol in ("==", "!=") and any(_is_none(s) for s in pair):
                raise _Refused("compare with None by .isna() or .notna(), e.g. name.notna()")
            if len(ops) > 1 and any(isinstance(s, Values) for s in pair):
                raise _Refused("a comparison with a list of values cannot be chained")
        return Compare(left, tuple(ops), tuple(rights))

    def _call(self, node: ast.Call) -> Method:
        func = node.func
        if not isinstance(func, ast.Attribute):
            name = func.id if isinstance(func, ast.Name) else "this"
            raise _Refused(
                f"calling {name}() is not allowed: only .str.<method>() and .isna()/.notna() "
                "may follow a field"
            )
        if node.keywords and any(k.arg is None for k in node.keywords):
            raise _Refused("** arguments are not part of the language")
        inner = func.value
        if isinstance(inner, ast.Attribute) and inner.attr == "str":
            spec = _TEXT_METHODS.get(func.attr)
            if spec is None:
                raise _Refused(
                    f".str.{func.attr}() is not allowed; the text methods are "
                    f"{', '.join(f'.str.{m}()' for m in _TEXT_METHODS)}"
                )
            receiver = self.build(inner.value)
            return Method(receiver, func.attr, True, _arguments(node, func.attr, spec))
        if func.attr in _MISSING_METHODS:
            if node.args or node.keywords:
                raise _Refused(f".{func.attr}() takes no arguments")
            return Method(self.build(inner), func.attr, False, ())
        raise _Refused(
            f".{func.attr}() is not allowed: only .str.<method>() and .isna()/.notna() may "
            "follow a field"
        )


def _is_none(node: Node) -> bool:
    return isinstance(node, Value) and node.value is None


def _literal(node: ast.Constant) -> Scalar:
    value = node.value
    if value is None or isinstance(value, str | int | float):
        return value  # bool is an int
    raise _Refused(f"the literal {value!r} is not text, a number, True, False or None")


def _item(node: ast.expr) -> Scalar:
    """An entry of a literal list: a literal, or a negative number."""
    if isinstance(node, ast.Constant):
        return _literal(node)
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value
    raise _Refused("a list may hold only literal values (text, numbers, True, False, None)")


def _arguments(
    node: ast.Call, method: str, spec: _Spec
) -> tuple[tuple[str, Scalar | tuple[str, ...]], ...]:
    if len(node.args) > len(spec.params):
        raise _Refused(f".str.{method}() takes at most {len(spec.params)} argument(s)")
    given: dict[str, Scalar | tuple[str, ...]] = {}
    named = [(p, a) for p, a in zip(spec.params, node.args, strict=False)]
    named += [(str(k.arg), k.value) for k in node.keywords]
    for param, arg in named:
        if param not in spec.params:
            raise _Refused(f".str.{method}() has no argument {param!r}")
        if param in given:
            raise _Refused(f".str.{method}() got {param!r} twice")
        if isinstance(arg, ast.Tuple | ast.List):
            items = [_item(e) for e in arg.elts]
            texts = tuple(i for i in items if isinstance(i, str))
            if len(texts) != len(items):
                raise _Refused(f".str.{method}() takes a list of text only")
            value: Scalar | tuple[str, ...] = texts
        elif isinstance(arg, ast.Constant):
            value = _literal(arg)
        else:
            raise _Refused(f"the arguments of .str.{method}() must be literal values")
        if not isinstance(value, spec.types[param]):
            kinds = " or ".join(_KIND_NAMES[t] for t in spec.types[param])
            raise _Refused(f".str.{method}(): {param} must be {kinds}")
        given[param] = value
    if len(given) < spec.required:
        raise _Refused(f".str.{method}() needs {spec.params[0]}, e.g. .str.{method}('x')")
    return tuple(given.items())


_KIND_NAMES = {str: "text in quotes", bool: "True or False", tuple: "a list of text"}


def _operator(op: ast.AST) -> str:
    symbols = {
        ast.Pow: "**",
        ast.FloorDiv: "//",
        ast.Mod: "%",
        ast.MatMult: "@",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.BitXor: "^",
        ast.Is: "is",
        ast.IsNot: "is not",
    }
    return symbols.get(type(op), type(op).__name__)


def _fields(node: Node) -> list[str]:
    if isinstance(node, Field):
        return [node.name]
    if isinstance(node, Compare):
        return [f for n in (node.left, *node.rights) for f in _fields(n)]
    if isinstance(node, Logic):
        return [f for n in node.parts for f in _fields(n)]
    if isinstance(node, Not | Negate):
        return _fields(node.part)
    if isinstance(node, Arith):
        return _fields(node.left) + _fields(node.right)
    if isinstance(node, Method):
        return _fields(node.receiver)
    return []


# --- Evaluation ---------------------------------------------------------------------------


class _Invalid(Exception):
    """The filter cannot be computed on this frame; the message says why."""


def evaluate(flt: Filter, frame: pd.DataFrame, key: str) -> pd.Series:
    """The rows of ``frame`` that ``flt`` selects, as a boolean Series aligned to it.

    Raises
    ------
    ScenarioError
        If the filter names a field the frame lacks (with "did you mean ...?"), compares text
        with numbers, applies a text method to numbers, or gives something other than
        true/false for each row.
    """
    head = f"{key} = {_show(flt.text)} cannot be evaluated"
    columns = [str(c) for c in frame.columns if c != "geometry"]
    for name in sorted(flt.fields):
        if name not in frame.columns:
            close = difflib.get_close_matches(name, columns, n=1)
            fields = ", ".join(map(repr, columns))
            raise ScenarioError(
                f"{head}: the layer has no field {name!r}",
                f"did you mean {close[0]!r}? the layer's fields: {fields}"
                if close
                else f"use one of the layer's fields: {fields} (names with spaces in "
                f"`backquotes`); if {name!r} is a value, not a field, put it in quotes: "
                f"'{name}'",
            )
    try:
        result = _Evaluator(frame).eval(flt.root)
    except _Invalid as exc:
        raise ScenarioError(f"{head}: {exc}", ALLOWED) from None
    except (TypeError, ValueError, AttributeError, ZeroDivisionError, OverflowError) as exc:
        raise ScenarioError(f"{head}: {exc}", ALLOWED) from None
    except re.error as exc:
        raise ScenarioError(
            f"{head}: bad regular expression ({exc})", "escape it, or pass regex=False"
        ) from None
    if isinstance(result, bool):
        return pd.Series(result, index=frame.index)
    if not isinstance(result, pd.Series) or _kind(result) != "bool":
        raise ScenarioError(
            f"{head}: it gives {_describe(result)}, not true or false for each feature",
            "write a condition, e.g. output > 0 or name.notna()",
        )
    return result


def select(frame: pd.DataFrame, text: str, key: str) -> pd.Series:
    """:func:`parse` and :func:`evaluate` in one: the boolean mask of the rows ``text``
    selects."""
    return evaluate(parse(text, key), frame, key)


def _kind(value: Any) -> str:
    """``bool``, ``number``, ``text``, ``none`` or ``mixed`` (a column of several kinds)."""
    if isinstance(value, pd.Series):
        dtype = value.dtype
        if pd.api.types.is_bool_dtype(dtype):
            return "bool"
        if pd.api.types.is_numeric_dtype(dtype):
            return "number"
        if pd.api.types.is_string_dtype(dtype):
            inferred = pd.api.types.infer_dtype(value, skipna=True)
            return "text" if inferred in ("string", "empty") else "mixed"
        return "mixed"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return "mixed"


def _describe(value: Any) -> str:
    kind = _kind(value)
    return {"number": "numbers", "text": "text", "none": "None"}.get(kind, f"values ({kind})")


def _name(node: Node) -> str:
    if isinstance(node, Field):
        return f"field {node.name!r}"
    if isinstance(node, Value):
        return repr(node.value)
    if isinstance(node, Method):
        return f"{_name(node.receiver)}{'.str' if node.text else ''}.{node.name}()"
    return "the expression"


def _as_bool(result: Any) -> Any:
    """A comparison's result as plain booleans: a missing value (nullable dtypes) is false, as
    it is for NaN."""
    if isinstance(result, pd.Series) and result.dtype != bool:
        return result.fillna(False).astype(bool)
    return result


_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MATH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


class _Evaluator:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def eval(self, node: Node) -> Any:
        if isinstance(node, Field):
            return self.frame[node.name]
        if isinstance(node, Value):
            return node.value
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Logic):
            parts = [self._condition(p, node.op) for p in node.parts]
            return reduce(operator.and_ if node.op in ("and", "&") else operator.or_, parts)
        if isinstance(node, Not):
            part = self._condition(node.part, "not")
            return ~part if isinstance(part, pd.Series) else not part
        if isinstance(node, Arith):
            left, right = (self._number(n, node.op) for n in (node.left, node.right))
            return _MATH[node.op](left, right)
        if isinstance(node, Negate):
            return -self._number(node.part, "-")
        if isinstance(node, Method):
            return self._method(node)
        raise _Invalid("a list of values stands alone")  # Values: only in Compare

    def _condition(self, node: Node, op: str) -> Any:
        value = self.eval(node)
        if _kind(value) != "bool":
            hint = (
                "put each condition in parentheses, e.g. (a > 1) & (b < 2)"
                if op in ("&", "|")
                else f"compare it, e.g. {_name(node)} > 0"
            )
            raise _Invalid(
                f"{op} needs conditions (true/false), but {_name(node)} gives "
                f"{_describe(value)}; {hint}"
            )
        return value

    def _number(self, node: Node, op: str) -> Any:
        value = self.eval(node)
        if _kind(value) != "number":
            raise _Invalid(f"{op} needs numbers, but {_name(node)} gives {_describe(value)}")
        return value

    def _compare(self, node: Compare) -> Any:
        left_node, left = node.left, self.eval(node.left)
        results = []
        for op, right_node in zip(node.ops, node.rights, strict=True):
            if isinstance(right_node, Values):
                _check_kinds(left_node, left, right_node, list(right_node.items), op)
                result = _isin(left, right_node.items)
                if op in ("not in", "!="):
                    result = ~result if isinstance(result, pd.Series) else not result
            else:
                right = self.eval(right_node)
                _check_kinds(left_node, left, right_node, [right], op)
                result = _ORDER[op](left, right)
            results.append(_as_bool(result))
            left_node, left = right_node, (None if isinstance(right_node, Values) else right)
        return reduce(operator.and_, results)

    def _method(self, node: Method) -> Any:
        receiver = self.eval(node.receiver)
        if not isinstance(receiver, pd.Series):
            raise _Invalid(f".{node.name}() must follow a field, not {_name(node.receiver)}")
        if not node.text:
            missing = receiver.isna()
            return missing if _MISSING_METHODS[node.name] else ~missing
        if _kind(receiver) not in ("text", "mixed"):
            raise _Invalid(
                f".str.{node.name}() needs text, but {_name(node.receiver)} holds "
                f"{_describe(receiver)}"
            )
        args = dict(node.args)
        accessor = receiver.str
        if node.name == "contains":
            return accessor.contains(
                args["pat"],
                case=bool(args.get("case", True)),
                regex=bool(args.get("regex", True)),
                na=False,
            ).astype(bool)
        if node.name in ("startswith", "endswith"):
            pat = args["pat"]
            return getattr(accessor, node.name)(pat, na=False).astype(bool)
        if node.name in ("strip", "lstrip", "rstrip"):
            return getattr(accessor, node.name)(args.get("to_strip"))
        return getattr(accessor, node.name)()  # len, lower, upper: no arguments


def _isin(left: Any, items: tuple[Scalar, ...]) -> Any:
    if isinstance(left, pd.Series):
        return left.isin(list(items))
    return left in items


def _check_kinds(left_node: Node, left: Any, right_node: Node, rights: list[Any], op: str) -> None:
    """Refuse numbers compared with text (pandas says "not equal" to every row, silently)."""
    kinds = {_kind(left)} | {_kind(r) for r in rights}
    kinds -= {"none", "mixed"}
    if "bool" in kinds and "number" in kinds and op in ("==", "!=", "in", "not in"):
        kinds.discard("number")  # True == 1, as in pandas
    if len(kinds) > 1:
        right = (
            f"[{', '.join(map(repr, rights))}]" if isinstance(right_node, Values) else None
        ) or _name(right_node)
        raise _Invalid(
            f"{_name(left_node)} ({_describe(left)}) {op} {right} ({_describe_all(rights)}) "
            "compares different kinds of value; numbers are written without quotes, text "
            "with them"
        )


def _describe_all(values: list[Any]) -> str:
    return ", ".join(sorted({_describe(v) for v in values}))
