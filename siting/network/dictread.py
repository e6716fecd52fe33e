"""A compiled reader of a networkx graph's adjacency dicts, for
:func:`siting.network.graph.graph_arrays`.

Converting an osmnx graph to a sparse matrix is dominated by pointer chasing over millions of
Python objects (a dict of neighbours per node, a dict of parallel edges per neighbour, an
attribute dict per edge, a float per weight). Python-level passes follow each pointer one object
at a time; this kernel reads the objects' memory directly, one level of the graph per loop, and
prefetches the objects a few iterations ahead so that many cache misses are in flight at once.

It is LLVM IR built with llvmlite and compiled once per process (about 0.04 s), not a numba
function: the first numba call of a process loads numba's whole compiler target (about 0.4 s,
even from numba's cache), more than the conversion itself takes.

Reading another program's memory layout is only safe where it is known exactly, so
:func:`read_adjacency` works on CPython 3.11 alone (the layouts below are those of its headers:
``Include/cpython/dictobject.h``, ``Include/internal/pycore_dict.h``,
``Include/cpython/longintrepr.h``, ``Include/cpython/floatobject.h`` and
``Include/cpython/unicodeobject.h``), is checked against Python's own reading of a probe graph
before its first use, and only follows a pointer once the type of the object that holds it is
known:

* dicts must be exact ``dict`` objects with a combined table (every dict networkx makes);
  deleted entries (a NULL value) are skipped, as iteration skips them;
* node ids (outer keys, neighbour keys) exact ``int`` objects that fit in int64;
* weights exact ``float`` or ``numpy.float64`` objects, or exact ``int`` objects below 2**30
  (converted exactly), that are neither negative nor NaN;
* attribute names are matched as a dict lookup does: the same object, or an equal hash and then
  an exact ``str`` with the same ASCII characters.

Anything else, including a graph with a missing or bad weight, makes it return ``None``: the
caller then takes its pure-Python path, which gives the same result (or raises the same error).
The kernel is called through :class:`ctypes.PYFUNCTYPE`, which keeps the GIL: no Python code can
run while it reads, so no dict can change under it.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from llvmlite import ir

# Byte offsets in CPython 3.11 objects (64-bit, release build: PyObject_HEAD is ob_refcnt then
# ob_type, 16 bytes; `supported` checks the object sizes this implies).
_OB_TYPE = 8
_DICT_USED = 16  # PyDictObject.ma_used: number of items
_DICT_KEYS = 32  # PyDictObject.ma_keys (after ma_used and the uint64 ma_version_tag)
_DICT_VALUES = 40  # PyDictObject.ma_values: NULL for a combined table
_KEYS_LOG2_INDEX_BYTES = 9  # PyDictKeysObject.dk_log2_index_bytes (uint8, after dk_refcnt and
_KEYS_KIND = 10  # the uint8 dk_log2_size); dk_kind: 0 general, 1 unicode (str keys), 2 split
_KEYS_NENTRIES = 24  # dk_nentries, deleted entries included (after dk_version and dk_usable)
_KEYS_INDICES = 32  # dk_indices: 2**dk_log2_index_bytes bytes, then the entries
_GENERAL_ENTRY = 24  # PyDictKeyEntry: me_hash, me_key, me_value
_UNICODE_ENTRY = 16  # PyDictUnicodeEntry: me_key, me_value (the hash is in the str)
_LONG_SIZE = 16  # PyLongObject.ob_size: number of 30-bit digits, negative for negative numbers
_LONG_DIGITS = 24  # ob_digit, uint32 each, least significant first
_FLOAT_VALUE = 16  # PyFloatObject.ob_fval; numpy's float64 scalar keeps its double there too
_STR_LENGTH = 16  # PyASCIIObject.length (code points)
_STR_HASH = 24  # PyASCIIObject.hash
_STR_STATE = 32  # PyASCIIObject.state bit field: interned:2, kind:3, compact, ascii, ready
_STR_COMPACT_ASCII_READY = 0b111 << 5  # its compact, ascii and ready bits
_STR_ASCII_DATA = 48  # a compact ASCII str's characters follow its 48-byte PyASCIIObject

#: How many objects ahead each loop prefetches: enough to keep many cache misses in flight.
_AHEAD = 32

# Bytes of the objects ahead that each loop prefetches: the cache lines holding these offsets,
# spaced at most 64 bytes apart so that no line between them is left out.
_SPAN_INT = (_OB_TYPE, _LONG_DIGITS + 7)  # type, size and two digits
_SPAN_FLOAT = (_OB_TYPE, _FLOAT_VALUE + 7)
_SPAN_DICT = (_OB_TYPE, _DICT_VALUES + 7)  # type to ma_values
# A keys object's header, 8 bytes of indices, then one general entry (a pair's only edge)...
_SPAN_ONE_ITEM_TABLE = (_KEYS_LOG2_INDEX_BYTES, _KEYS_INDICES + 8 + _GENERAL_ENTRY - 1)
# ... or four (a node's neighbours; an attribute dict's first eight unicode entries, nearly).
_SPAN_TABLE = (_KEYS_LOG2_INDEX_BYTES, 72, _KEYS_INDICES + 8 + 4 * _GENERAL_ENTRY)

# The kernel's return values.
_OK = 0
_UNSUPPORTED = 1  # an object of a kind it does not read: Python's path must do it
_TOO_SMALL = 2  # an output array is too small: call again with the sizes it found

# The kernel's one argument is the address of an int64 array of these parameters.
(
    _P_ADJACENCY,  # address of the adjacency dict
    _P_MULTI,  # 1 if neighbours map to dicts of parallel edges
    _P_WEIGHT,  # address of the weight attribute's name (a str)
    _P_WEIGHT_HASH,
    _P_WEIGHT_CHARS,  # address of its ASCII characters (uint8)
    _P_WEIGHT_LENGTH,  # their number, -1 if the name is not ASCII
    _P_DICT_TYPE,  # addresses of the type objects
    _P_INT_TYPE,
    _P_FLOAT_TYPE,
    _P_FLOAT64_TYPE,
    _P_STR_TYPE,
    _P_NODE_CAPACITY,  # lengths of the arrays below
    _P_PAIR_CAPACITY,
    _P_EDGE_CAPACITY,
    _P_NODES,  # int64 array of node ids (out)
    _P_DEGREE,  # int64 array of neighbour counts (out)
    _P_NODE_SCRATCH,  # int64 array
    _P_COLUMNS,  # int64 array of neighbour ids (out)
    _P_COSTS,  # float64 array of costs (out)
    _P_PAIR_SCRATCH,  # int64 array
    _P_COUNTS,  # int64 array of parallel edges per pair
    _P_EDGE_SCRATCH,  # int64 array (multigraphs only)
    _P_N_NODES,  # sizes found (out), as far as the kernel got
    _P_N_PAIRS,
    _P_N_EDGES,
    _N_PARAMS,
) = range(26)

_I1, _I8, _I32, _I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
_F64 = ir.DoubleType()
_PTR = ir.PointerType()


class _Var:
    """A local variable: a stack slot (unoptimised code keeps it there; the loads and stores hit
    the L1 cache, while the loops wait on the graph's objects)."""

    def __init__(self, slot: ir.Value, kind: ir.Type) -> None:
        self.slot, self.kind = slot, kind


class _Emitter:
    """Helpers that write the kernel's IR a statement at a time, so that it reads like the
    loops it compiles to. Every ``fail_if`` returns ``_UNSUPPORTED`` from the kernel."""

    def __init__(self, function: ir.Function) -> None:
        self._allocas = function.append_basic_block("allocas")
        start = function.append_basic_block("start")
        self._fail = function.append_basic_block("fail")
        self.b = ir.IRBuilder(self._fail)
        self.b.ret(_I64(_UNSUPPORTED))
        self.b.position_at_end(start)

    def finish(self) -> None:
        """Close the block of stack slots (its successor is the first block of code)."""
        with self.b.goto_block(self._allocas):
            self.b.branch(self._allocas.function.blocks[1])

    def var(self, value: ir.Value) -> _Var:
        with self.b.goto_block(self._allocas):
            slot = self.b.alloca(value.type)
        self.b.store(value, slot)
        return _Var(slot, value.type)

    def get(self, var: _Var) -> ir.Value:
        return self.b.load(var.slot, typ=var.kind)

    def set(self, var: _Var, value: ir.Value) -> None:
        self.b.store(value, var.slot)

    def add(self, a: ir.Value, b: ir.Value | int) -> ir.Value:
        return self.b.add(a, _I64(b) if isinstance(b, int) else b)

    def mul(self, a: ir.Value, b: ir.Value | int) -> ir.Value:
        return self.b.mul(a, _I64(b) if isinstance(b, int) else b)

    def cmp(self, op: str, a: ir.Value, b: ir.Value | int) -> ir.Value:
        return self.b.icmp_signed(op, a, _I64(b) if isinstance(b, int) else b)

    def read(self, address: ir.Value, offset: int, kind: ir.Type) -> ir.Value:
        """The ``kind`` value at ``address + offset``; integers are widened to int64."""
        if offset:
            address = self.add(address, offset)
        value = self.b.load(self.b.inttoptr(address, _PTR), typ=kind)
        if isinstance(kind, ir.IntType) and kind.width < 64:
            value = self.b.zext(value, _I64)
        return value

    def item(self, array: ir.Value, index: ir.Value, kind: ir.Type = _I64) -> ir.Value:
        """``array[index]``, ``array`` being the address of an array of 8-byte ``kind``."""
        return self.b.load(self._element(array, index), typ=kind)

    def set_item(self, array: ir.Value, index: ir.Value, value: ir.Value) -> None:
        self.b.store(value, self._element(array, index))

    def _element(self, array: ir.Value, index: ir.Value) -> ir.Value:
        return self.b.gep(self.b.inttoptr(array, _PTR), [index], source_etype=_I64)

    def fail_if(self, condition: ir.Value) -> None:
        go_on = self.b.append_basic_block("ok")
        self.b.cbranch(condition, self._fail, go_on)
        self.b.position_at_end(go_on)

    def if_then(self, condition: ir.Value):
        return self.b.if_then(condition)

    @contextmanager
    def loop(self, count: ir.Value) -> Iterator[ir.Value]:
        """``for i in range(count)``: the body is the ``with`` block, given ``i``."""
        counter = self.var(_I64(0))
        test = self.b.append_basic_block("loop")
        body = self.b.append_basic_block("body")
        done = self.b.append_basic_block("done")
        self.b.branch(test)
        self.b.position_at_end(test)
        i = self.get(counter)
        self.b.cbranch(self.cmp("<", i, count), body, done)
        self.b.position_at_end(body)
        yield i
        self.set(counter, self.add(i, 1))
        self.b.branch(test)
        self.b.position_at_end(done)

    def prefetch_ahead(self, array: ir.Value, i: ir.Value, count: ir.Value, span: tuple) -> None:
        """Prefetch the cache lines holding the bytes ``span`` (offsets) of the object at
        ``array[i + _AHEAD]`` (at ``array[i]`` near the end): a hint that never faults, so any
        address will do."""
        ahead = self.add(i, _AHEAD)
        address = self.item(array, self.b.select(self.cmp("<", ahead, count), ahead, i))
        module = self.b.module
        function = module.globals.get("llvm.prefetch.p0") or ir.Function(
            module, ir.FunctionType(ir.VoidType(), [_PTR, _I32, _I32, _I32]), "llvm.prefetch.p0"
        )
        for offset in span:
            pointer = self.b.inttoptr(self.add(address, offset), _PTR)
            # Arguments: 0 = for a read, 3 = keep in all cache levels, 1 = data cache.
            self.b.call(function, [pointer, _I32(0), _I32(3), _I32(1)])

    # Reading objects. Each checks the type of what it reads, or fails.

    def dict_keys(self, obj: ir.Value, dict_type: ir.Value) -> ir.Value:
        """The keys object of ``obj``, which must be an exact dict with a combined table."""
        self.fail_if(self.cmp("!=", self.read(obj, _OB_TYPE, _I64), dict_type))
        self.fail_if(self.cmp("!=", self.read(obj, _DICT_VALUES, _I64), 0))
        return self.read(obj, _DICT_KEYS, _I64)

    def table(self, keys: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value, ir.Value]:
        """(address of entry 0, entry size, offset of the key in an entry, number of entries
        with deleted ones) of a keys object; fails on a split table's keys."""
        kind = self.read(keys, _KEYS_KIND, _I8)
        general = self.cmp("==", kind, 0)
        self.fail_if(self.b.and_(self.cmp("!=", kind, 0), self.cmp("!=", kind, 1)))
        index_bytes = self.b.shl(_I64(1), self.read(keys, _KEYS_LOG2_INDEX_BYTES, _I8))
        entries = self.add(self.add(keys, _KEYS_INDICES), index_bytes)
        size = self.b.select(general, _I64(_GENERAL_ENTRY), _I64(_UNICODE_ENTRY))
        key_at = self.b.select(general, _I64(8), _I64(0))
        return entries, size, key_at, self.read(keys, _KEYS_NENTRIES, _I64)

    def items(self, keys: ir.Value, start: ir.Value, count: ir.Value, keys_out, values_out) -> None:
        """Write the keys (unless ``keys_out`` is None) and values of the ``count`` items of a
        dict's table at ``start`` onwards of the output arrays, in iteration order."""
        entries, size, key_at, n_entries = self.table(keys)
        end = self.add(start, count)
        position = self.var(start)
        with self.loop(n_entries) as e:
            entry = self.add(self.add(entries, self.mul(e, size)), key_at)
            value = self.read(entry, 8, _I64)
            with self.if_then(self.cmp("!=", value, 0)):  # NULL: a deleted entry
                at = self.get(position)
                self.fail_if(self.cmp("==", at, end))
                if keys_out is not None:
                    self.set_item(keys_out, at, self.read(entry, 0, _I64))
                self.set_item(values_out, at, value)
                self.set(position, self.add(at, 1))
        self.fail_if(self.cmp("!=", self.get(position), end))

    def int_value(self, obj: ir.Value, int_type: ir.Value) -> ir.Value:
        """The value of ``obj``, which must be an exact int that fits in int64."""
        self.fail_if(self.cmp("!=", self.read(obj, _OB_TYPE, _I64), int_type))
        size = self.read(obj, _LONG_SIZE, _I64)
        negative = self.cmp("<", size, 0)
        digits = self.b.select(negative, self.b.neg(size), size)
        self.fail_if(self.b.icmp_unsigned(">", digits, _I64(3)))
        value = self.var(_I64(0))
        for d in range(3):  # only the digits the int has: the next bytes may not be its own
            with self.if_then(self.cmp(">", digits, d)):
                digit = self.read(obj, _LONG_DIGITS + 4 * d, _I32)
                if d == 2:
                    self.fail_if(self.cmp(">=", digit, 8))  # 8 * 2**60 = 2**63 does not fit
                self.set(value, self.b.or_(self.get(value), self.b.shl(digit, _I64(30 * d))))
        magnitude = self.get(value)
        return self.b.select(negative, self.b.neg(magnitude), magnitude)

    def weight_value(self, keys: ir.Value, p: Callable[[int], ir.Value]) -> ir.Value:
        """The value object of the weight item of an attribute dict's keys object."""
        entries, size, key_at, n_entries = self.table(keys)
        weight = p(_P_WEIGHT)
        found = self.var(_I64(0))
        # Almost always the weight's name is the very object looked for (an interned literal).
        with self.loop(n_entries) as e:
            entry = self.add(self.add(entries, self.mul(e, size)), key_at)
            with self.if_then(self.cmp("==", self.read(entry, 0, _I64), weight)):
                self.set(found, self.read(entry, 8, _I64))  # NULL if deleted: searched on
        # Otherwise as a dict lookup compares: the hash first, then the strings.
        with self.if_then(self.cmp("==", self.get(found), 0)), self.loop(n_entries) as e:
            start = self.add(entries, self.mul(e, size))
            entry = self.add(start, key_at)
            key, value = self.read(entry, 0, _I64), self.read(entry, 8, _I64)
            live = self.b.and_(self.cmp("!=", value, 0), self.cmp("==", self.get(found), 0))
            with self.if_then(live):
                # A general table keeps each key's hash in its entry, a unicode one in
                # the key (an exact str there).
                key_hash = self.var(self.read(start, 0, _I64))
                with self.if_then(self.cmp("==", key_at, 0)):
                    self.set(key_hash, self.read(key, _STR_HASH, _I64))
                with self.if_then(self.cmp("==", self.get(key_hash), p(_P_WEIGHT_HASH))):
                    self._if_same_str(key, p, lambda: self.set(found, value))
        self.fail_if(self.cmp("==", self.get(found), 0))  # no weight: Python's path says so
        return self.get(found)

    def _if_same_str(self, key: ir.Value, p: Callable[[int], ir.Value], then) -> None:
        """Emit ``then`` if ``key`` (of the weight's hash) is an exact str equal to the weight's
        name; fail where that cannot be told here (other types, strs that are not compact
        ASCII), as equality might then run Python code."""
        length = p(_P_WEIGHT_LENGTH)
        self.fail_if(self.cmp("!=", self.read(key, _OB_TYPE, _I64), p(_P_STR_TYPE)))
        self.fail_if(self.cmp("<", length, 0))
        state = self.b.and_(self.read(key, _STR_STATE, _I32), _I64(_STR_COMPACT_ASCII_READY))
        self.fail_if(self.cmp("!=", state, _STR_COMPACT_ASCII_READY))
        with self.if_then(self.cmp("==", self.read(key, _STR_LENGTH, _I64), length)):
            equal = self.var(_I1(1))
            with self.loop(length) as c:
                char = self.read(self.add(key, c), _STR_ASCII_DATA, _I8)
                same = self.cmp("==", char, self.read(self.add(p(_P_WEIGHT_CHARS), c), 0, _I8))
                self.set(equal, self.b.and_(self.get(equal), same))
            with self.if_then(self.get(equal)):
                then()

    def number(self, obj: ir.Value, p: Callable[[int], ir.Value]) -> ir.Value:
        """``obj`` as a double: an exact float or numpy.float64, or an exact int below 2**30."""
        kind = self.read(obj, _OB_TYPE, _I64)
        value = self.var(_F64(0.0))
        is_float = self.b.or_(
            self.cmp("==", kind, p(_P_FLOAT_TYPE)), self.cmp("==", kind, p(_P_FLOAT64_TYPE))
        )
        with self.b.if_else(is_float) as (then, otherwise):
            with then:
                self.set(value, self.read(obj, _FLOAT_VALUE, _F64))
            with otherwise:
                self.fail_if(self.cmp("!=", kind, p(_P_INT_TYPE)))
                size = self.read(obj, _LONG_SIZE, _I64)
                self.fail_if(self.b.icmp_unsigned(">", self.add(size, 1), _I64(2)))  # -1, 0, 1
                with self.if_then(self.cmp("!=", size, 0)):
                    digit = self.read(obj, _LONG_DIGITS, _I32)
                    signed = self.b.select(self.cmp("<", size, 0), self.b.neg(digit), digit)
                    self.set(value, self.b.sitofp(signed, _F64))  # exact below 2**53
        return self.get(value)


def _build_module() -> ir.Module:
    """The kernel, ``int64 read(int64 *params)``, in the order of :func:`read_adjacency`'s
    documentation: returns ``_OK``, ``_UNSUPPORTED`` or ``_TOO_SMALL``."""
    module = ir.Module(name="siting_dictread")
    function = ir.Function(module, ir.FunctionType(_I64, [_I64]), "read")
    k = _Emitter(function)
    b = k.b
    params = function.args[0]

    # The inputs, read once: their values then serve every loop.
    inputs = [k.item(params, _I64(index)) for index in range(_P_N_NODES)]

    def p(index: int) -> ir.Value:
        return inputs[index]

    def too_small_if(condition: ir.Value) -> None:
        with k.if_then(condition):
            b.ret(_I64(_TOO_SMALL))

    dict_type, int_type = p(_P_DICT_TYPE), p(_P_INT_TYPE)
    nodes, degree, node_scratch = p(_P_NODES), p(_P_DEGREE), p(_P_NODE_SCRATCH)
    columns, costs, pair_scratch = p(_P_COLUMNS), p(_P_COSTS), p(_P_PAIR_SCRATCH)
    counts, edge_scratch = p(_P_COUNTS), p(_P_EDGE_SCRATCH)
    multi = k.cmp("!=", p(_P_MULTI), 0)

    # Level 1: the adjacency dict, node id -> dict of neighbours. Node objects go to `nodes` and
    # neighbour dicts to `node_scratch`, then each is replaced by what is read from it.
    adjacency = p(_P_ADJACENCY)
    adjacency_keys = k.dict_keys(adjacency, dict_type)
    n = k.read(adjacency, _DICT_USED, _I64)
    k.set_item(params, _I64(_P_N_NODES), n)
    too_small_if(k.cmp(">", n, p(_P_NODE_CAPACITY)))
    k.items(adjacency_keys, _I64(0), n, nodes, node_scratch)
    n_pairs = k.var(_I64(0))
    with k.loop(n) as i:
        k.prefetch_ahead(nodes, i, n, _SPAN_INT)
        k.prefetch_ahead(node_scratch, i, n, _SPAN_DICT)
        k.set_item(nodes, i, k.int_value(k.item(nodes, i), int_type))
        neighbours = k.item(node_scratch, i)
        k.set_item(node_scratch, i, k.dict_keys(neighbours, dict_type))
        count = k.read(neighbours, _DICT_USED, _I64)
        k.set_item(degree, i, count)
        k.set(n_pairs, k.add(k.get(n_pairs), count))
    n_pairs = k.get(n_pairs)
    k.set_item(params, _I64(_P_N_PAIRS), n_pairs)
    too_small_if(k.cmp(">", n_pairs, p(_P_PAIR_CAPACITY)))

    # Level 2: each dict of neighbours, neighbour id -> dict of parallel edges (multigraphs) or
    # attribute dict. Neighbour objects go to `columns`, then their ids replace them.
    start = k.var(_I64(0))
    with k.loop(n) as i:
        k.prefetch_ahead(node_scratch, i, n, _SPAN_TABLE)
        count = k.item(degree, i)
        k.items(k.item(node_scratch, i), k.get(start), count, columns, pair_scratch)
        k.set(start, k.add(k.get(start), count))
    with k.loop(n_pairs) as j:
        k.prefetch_ahead(columns, j, n_pairs, _SPAN_INT)
        k.set_item(columns, j, k.int_value(k.item(columns, j), int_type))

    # Level 3, multigraphs only: each dict of parallel edges, edge key -> attribute dict.
    n_edges = k.var(n_pairs)
    with b.if_then(multi):
        k.set(n_edges, _I64(0))
        with k.loop(n_pairs) as j:
            k.prefetch_ahead(pair_scratch, j, n_pairs, _SPAN_DICT)
            parallel = k.item(pair_scratch, j)
            k.set_item(pair_scratch, j, k.dict_keys(parallel, dict_type))
            count = k.read(parallel, _DICT_USED, _I64)
            k.fail_if(k.cmp("<=", count, 0))  # empty: leave it to Python's path
            k.set_item(counts, j, count)
            k.set(n_edges, k.add(k.get(n_edges), count))
        k.set_item(params, _I64(_P_N_EDGES), k.get(n_edges))
        too_small_if(k.cmp(">", k.get(n_edges), p(_P_EDGE_CAPACITY)))
        k.set(start, _I64(0))
        with k.loop(n_pairs) as j:
            k.prefetch_ahead(pair_scratch, j, n_pairs, _SPAN_ONE_ITEM_TABLE)
            count = k.item(counts, j)
            k.items(k.item(pair_scratch, j), k.get(start), count, None, edge_scratch)
            k.set(start, k.add(k.get(start), count))
    n_edges = k.get(n_edges)
    attrs = b.select(multi, edge_scratch, pair_scratch)

    # Level 4: each attribute dict, name -> value, replaced by its keys object, then by the
    # weight's value object; then the values, the minimum over each pair's parallel edges.
    with k.loop(n_edges) as a:
        k.prefetch_ahead(attrs, a, n_edges, _SPAN_DICT)
        k.set_item(attrs, a, k.dict_keys(k.item(attrs, a), dict_type))
    with k.loop(n_edges) as a:
        k.prefetch_ahead(attrs, a, n_edges, _SPAN_TABLE)
        k.set_item(attrs, a, k.weight_value(k.item(attrs, a), p))
    edge = k.var(_I64(0))
    with k.loop(n_pairs) as j:
        parallel = k.var(_I64(1))
        with b.if_then(multi):
            k.set(parallel, k.item(counts, j))
        best = k.var(_F64(float("inf")))
        with k.loop(k.get(parallel)):
            a = k.get(edge)
            k.prefetch_ahead(attrs, a, n_edges, _SPAN_FLOAT)
            cost = k.number(k.item(attrs, a), p)
            # Negative or NaN (the ordered comparison is false): Python's path raises the error.
            k.fail_if(b.not_(b.fcmp_ordered(">=", cost, _F64(0.0))))
            smaller = b.fcmp_ordered("<", cost, k.get(best))
            k.set(best, b.select(smaller, cost, k.get(best)))
            k.set(edge, k.add(a, 1))
        k.set_item(costs, j, k.get(best))
    b.ret(_I64(_OK))
    k.finish()
    return module


def supported() -> bool:
    """Whether this interpreter lays objects out as the kernel reads them (CPython 3.11, 64-bit,
    a release build with 30-bit int digits); :func:`_kernel` checks it further on a probe."""
    return (
        sys.implementation.name == "cpython"
        and sys.version_info[:2] == (3, 11)
        and sys.maxsize == 2**63 - 1
        and sys.byteorder == "little"  # the str state bit field, as GCC and Clang lay it out
        and sys.int_info.bits_per_digit == 30
        and object.__basicsize__ == 16  # no Py_TRACE_REFS pointers in the header
        and dict.__basicsize__ == 48
        and int.__basicsize__ == 24
        and int.__itemsize__ == 4
        and float.__basicsize__ == 24
        and np.float64.__basicsize__ == 24
        and str.__basicsize__ == 80
    )


_lock = threading.Lock()
_state: dict[str, object] = {}


def _kernel() -> Callable[[int], int] | None:
    """The compiled kernel, or None where it must not run; compiled and checked against a probe
    graph on the first call of the process."""
    with _lock:
        if "kernel" not in _state:
            _state["kernel"] = None
            if supported():
                try:
                    _state["kernel"] = _compile()
                except Exception:
                    # Any failure (LLVM cannot build it here, an llvmlite whose API changed) only
                    # costs speed: Python's path does the work. The tests check that it builds.
                    return None
                if not _probe_passes():  # a layout that differs where the size checks miss
                    _state["kernel"] = None
        return _state["kernel"]


def _compile() -> Callable[[int], int]:
    """Compile :func:`_build_module` to machine code for this CPU."""
    import llvmlite.binding as llvm  # here: only the first call of a process needs it

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    module = llvm.parse_assembly(str(_build_module()))
    module.verify()
    # No optimisation: LLVM's passes take 0.05 s or more, and save less than that on a conversion
    # of 700,000 edges (the loops wait on memory, not on instructions).
    machine = llvm.Target.from_default_triple().create_target_machine(opt=0)
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    _state["engine"] = engine  # the machine code lives as long as its engine
    # PYFUNCTYPE, not CFUNCTYPE: the GIL stays held during the call.
    return ctypes.PYFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(engine.get_function_address("read"))


def read_adjacency(
    adjacency: dict, multi: bool, weight: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """A graph's adjacency (``G.adj``'s dict) as arrays, or ``None`` where the kernel does not
    apply.

    Parameters
    ----------
    adjacency
        The graph's dict of dicts of neighbours, in node order.
    multi
        Whether the neighbours' values are dicts of parallel edges keyed by edge key (a
        multigraph) rather than attribute dicts.
    weight
        Attribute holding the edge cost.

    Returns
    -------
    nodes, degree, columns, costs or None
        Node ids (int64, in the order of ``adjacency``), the number of neighbours of each, the id
        of each neighbour (node by node, in dict order) and the cost of going to it: the minimum
        over parallel edges. ``None`` if the interpreter or any object is not of a kind the
        kernel reads (see the module documentation), or a weight is missing, negative or NaN.
    """
    if _kernel() is None:
        return None
    return _read(adjacency, multi, weight)


def _read(
    adjacency: dict, multi: bool, weight: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`read_adjacency` once the kernel is known to work."""
    if type(adjacency) is not dict or type(weight) is not str:
        return None
    # hash() also caches the str's hash, which the kernel compares with its keys' hashes.
    weight_hash = hash(weight)
    chars = np.frombuffer(weight.encode("ascii") if weight.isascii() else b"", np.uint8)
    n_nodes = len(adjacency)
    # Road graphs have fewer than 4 neighbours per node on average, and 1 % or so of pairs
    # have parallel edges; an array found too small costs one more call with the sizes found.
    n_pairs = 4 * n_nodes + 16
    n_edges = n_pairs + n_pairs // 16 + 16 if multi else 0
    for _ in range(3):  # at most: nodes, then pairs, then edges found too many
        nodes, degree, node_scratch = (np.empty(n_nodes, np.int64) for _ in range(3))
        columns, pair_scratch, counts = (np.empty(n_pairs, np.int64) for _ in range(3))
        costs = np.empty(n_pairs)
        edge_scratch = np.empty(n_edges, np.int64)
        params = np.zeros(_N_PARAMS, np.int64)
        params[_P_ADJACENCY], params[_P_MULTI] = id(adjacency), bool(multi)
        params[_P_WEIGHT], params[_P_WEIGHT_HASH] = id(weight), weight_hash
        params[_P_WEIGHT_CHARS] = chars.ctypes.data
        params[_P_WEIGHT_LENGTH] = len(chars) if weight.isascii() else -1
        params[_P_DICT_TYPE : _P_STR_TYPE + 1] = [
            id(t) for t in (dict, int, float, np.float64, str)
        ]
        params[_P_NODE_CAPACITY : _P_EDGE_CAPACITY + 1] = [n_nodes, n_pairs, n_edges]
        arrays = (nodes, degree, node_scratch, columns, costs, pair_scratch, counts, edge_scratch)
        params[_P_NODES : _P_EDGE_SCRATCH + 1] = [array.ctypes.data for array in arrays]
        status = _state["kernel"](params.ctypes.data)
        if status == _OK:
            n, p = params[_P_N_NODES], params[_P_N_PAIRS]
            return nodes[:n], degree[:n], columns[:p], costs[:p]
        if status != _TOO_SMALL:
            return None
        n_nodes = max(n_nodes, int(params[_P_N_NODES]))
        n_pairs = max(n_pairs, int(params[_P_N_PAIRS]))
        n_edges = max(n_edges, int(params[_P_N_EDGES]))
    return None


def _probe_passes() -> bool:
    """Read small dicts of every kind the kernel handles and compare with Python's reading."""
    weight = "".join(["travel", "_time"])  # an equal str, not the interned literal
    a, b = {"travel_time": 2.5, "x": 1}, {"y": None, weight: 7}
    a_deleted = {"z": 0, "travel_time": 1.0}
    del a_deleted["z"]  # a deleted entry first
    edge_keys = {0: a, "k": b, 2**40: a_deleted}
    del edge_keys["k"]
    edge_keys["k"] = b
    adjacency = {
        -(2**62): {5: {"s": b}, 2**45: edge_keys},
        5: {},
        2**45: {-(2**62): {0: {1: 3.0, weight: np.float64(0.5)}}},
    }
    got = _read(adjacency, True, "travel_time")
    if got is None:
        return False
    nodes, degree, cols, costs = got
    return (
        nodes.tolist() == [-(2**62), 5, 2**45]
        and degree.tolist() == [2, 0, 1]
        and cols.tolist() == [5, 2**45, -(2**62)]
        and costs.tolist() == [7.0, 1.0, 0.5]
    )
