"""VNNLIB properties as VNN-COMP distributes them: input boxes and output constraints.

A VNN-COMP property file (VNN-LIB 1.0, an SMT-LIB subset) declares the flattened inputs ``X_0 .. X_{n-1}``
and outputs ``Y_0 .. Y_{m-1}`` and asserts linear constraints; the property is *violated* exactly when all
assertions can hold together. Inputs are bounded by a box, outputs constrained by linear inequalities,
possibly under ``or`` / ``and`` (also disjunctions that each carry their own input box). Here each distinct
input box becomes one ``VnnlibCase``: the perturbation ``Box(lo, hi)`` (uniform inputs in the box) and the
failure ``OutputRegion`` (the outputs satisfying the assertions). Strict and non-strict inequalities both
give the closed region (the boundary has probability 0 under continuous noise; counting it is conservative).

Written by hand: the maintained ``vnnlib`` package on PyPI (1.0.x, wheels for CPython 3.10 to 3.13) parses
VNN-LIB 2.0 only (its compatibility table: v1.0.* reads VNN-LIB 2.0, the old v0.0.1 read 1.0), a new syntax
with declared networks, while VNN-COMP distributes its properties in 1.0; this subset is small (docs/design.md).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path

import torch

from .errors import DataError
from .output_regions import OutputRegion
from .perturbations import Box

_VARIABLE = re.compile(r"^([XY])_(\d+)$")
_COMPARISONS = ("<=", ">=", "<", ">")


class VnnlibError(DataError):
    """A VNNLIB file is malformed or outside the supported subset (box inputs, linear output constraints)."""


@dataclasses.dataclass(frozen=True)
class VnnlibCase:
    """One input box of a VNNLIB property and the output region whose points violate it."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    region: OutputRegion

    @property
    def n_inputs(self) -> int:
        return len(self.lo)

    def centre(self) -> torch.Tensor:
        """The box centre (float64, flat): the reference input."""
        return (torch.tensor(self.lo, dtype=torch.float64) + torch.tensor(self.hi, dtype=torch.float64)) / 2

    def perturbation(self) -> Box:
        """Inputs uniform in the box."""
        return Box(lo=self.lo, hi=self.hi)


# -- s-expressions --------------------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    text = re.sub(r";[^\n]*", " ", text)  # comments
    return text.replace("(", " ( ").replace(")", " ) ").split()


def _forms(tokens: list[str], source: str) -> list:
    stack: list[list] = [[]]
    for tok in tokens:
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise VnnlibError(f"{source}: unbalanced ')' (more closing than opening parentheses)")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise VnnlibError(f"{source}: {len(stack) - 1} unclosed '(' at the end of the file")
    return stack[0]


def _show(form) -> str:
    text = form if isinstance(form, str) else "(" + " ".join(_show(f) for f in form) + ")"
    return text if len(text) <= 80 else text[:77] + "..."


# -- linear expressions: ({variable: coefficient}, constant) --------------------------------------------
Linear = tuple[dict[tuple[str, int], float], float]


def _linear(form, source: str) -> Linear:
    if isinstance(form, str):
        match = _VARIABLE.match(form)
        if match:
            return {(match[1], int(match[2])): 1.0}, 0.0
        try:
            return {}, float(form)
        except ValueError:
            raise VnnlibError(f"{source}: unknown symbol {form!r} (expected X_i, Y_j or a number)") from None
    if not form:
        raise VnnlibError(f"{source}: empty expression ()")
    op, args = form[0], [_linear(a, source) for a in form[1:]]
    if op == "+" and args:
        return _add(args)
    if op == "-" and len(args) == 1:
        return _scale(args[0], -1.0)
    if op == "-" and len(args) > 1:
        return _add([args[0], *(_scale(a, -1.0) for a in args[1:])])
    if op == "*" and len(args) == 2:
        (ca, ka), (cb, kb) = args
        if ca and cb:
            raise VnnlibError(f"{source}: {_show(form)} multiplies two variables; only linear constraints are "
                              "supported")
        return _scale(args[1], ka) if not ca else _scale(args[0], kb)
    raise VnnlibError(f"{source}: unsupported expression {_show(form)} (linear +, -, * by a number only)")


def _add(terms: list[Linear]) -> Linear:
    out: dict[tuple[str, int], float] = {}
    for coefs, _ in terms:
        for k, v in coefs.items():
            out[k] = out.get(k, 0.0) + v
    return out, sum(c for _, c in terms)


def _scale(term: Linear, factor: float) -> Linear:
    return {k: v * factor for k, v in term[0].items()}, term[1] * factor


# -- constraints in disjunctive normal form: a list of conjunctions of atoms g >= 0 ------------------------
def _dnf(form, source: str) -> list[list[Linear]]:
    if isinstance(form, str) or not form:
        raise VnnlibError(f"{source}: expected a constraint, got {_show(form)}")
    op = form[0]
    if op == "and":
        return [sum(parts, []) for parts in itertools.product(*(_dnf(f, source) for f in form[1:]))]
    if op == "or":
        return [term for f in form[1:] for term in _dnf(f, source)]
    if op in _COMPARISONS:
        if len(form) != 3:
            raise VnnlibError(f"{source}: {_show(form)} must compare exactly two expressions")
        a, b = _linear(form[1], source), _linear(form[2], source)
        return [[_add([b, _scale(a, -1.0)]) if op in ("<=", "<") else _add([a, _scale(b, -1.0)])]]
    raise VnnlibError(f"{source}: unsupported constraint {_show(form)} (use <=, >=, <, >, and, or)")


def parse_vnnlib(text: str, source: str = "<vnnlib>") -> list[VnnlibCase]:
    """The input boxes and output regions of a VNNLIB property (see the module docstring)."""
    declared: dict[str, set[int]] = {"X": set(), "Y": set()}
    terms: list[list[Linear]] = [[]]
    for form in _forms(_tokens(text), source):
        if isinstance(form, str) or not form:
            raise VnnlibError(f"{source}: unexpected {_show(form)} at the top level")
        head = form[0]
        if head in ("declare-const", "declare-fun"):
            match = _VARIABLE.match(form[1]) if len(form) > 1 and isinstance(form[1], str) else None
            if not match or form[-1] != "Real":
                raise VnnlibError(f"{source}: bad declaration {_show(form)}; expected (declare-const X_0 Real)")
            declared[match[1]].add(int(match[2]))
        elif head == "assert" and len(form) == 2:
            terms = [t + u for t in terms for u in _dnf(form[1], source)]
        elif head in ("set-logic", "check-sat", "get-model", "set-info", "set-option", "exit"):
            continue
        else:
            raise VnnlibError(f"{source}: unsupported command {_show(form)}")
    for kind, name in (("X", "inputs"), ("Y", "outputs")):
        if not declared[kind]:
            raise VnnlibError(f"{source}: no {name} declared (expected (declare-const {kind}_0 Real) ...)")
        if declared[kind] != set(range(len(declared[kind]))):
            raise VnnlibError(f"{source}: {name} must be numbered {kind}_0 .. {kind}_{len(declared[kind]) - 1}")
    n_in, n_out = len(declared["X"]), len(declared["Y"])
    cases: dict[tuple[tuple[float, ...], tuple[float, ...]], list] = {}
    for term in terms:
        box, polytope = _split(term, n_in, n_out, source)
        cases.setdefault(box, []).append(polytope)
    if not cases:
        raise VnnlibError(f"{source}: no assertion; a property needs input bounds and output constraints")
    return [VnnlibCase(lo, hi, OutputRegion(tuple(polys))) for (lo, hi), polys in cases.items()]


def _split(term: list[Linear], n_in: int, n_out: int, source: str):
    """One conjunction as (input box, output polyhedron)."""
    lo, hi = [-float("inf")] * n_in, [float("inf")] * n_in
    polytope = []
    for coefs, const in term:
        kinds = {kind for kind, _ in coefs}
        for kind, i in coefs:
            if i >= (n_in if kind == "X" else n_out):
                raise VnnlibError(f"{source}: {kind}_{i} is used but not declared")
        if kinds == {"X"}:
            if len(coefs) != 1:
                raise VnnlibError(f"{source}: only box constraints on inputs are supported (one X_i with a number), "
                                  f"got a constraint on {sorted(f'X_{i}' for _, i in coefs)}")
            ((_, i), a), = coefs.items()
            bound = -const / a  # a X_i + const >= 0
            if a > 0:
                lo[i] = max(lo[i], bound)
            else:
                hi[i] = min(hi[i], bound)
        elif kinds == {"Y"}:
            row = [0.0] * n_out
            for (_, j), a in coefs.items():
                row[j] = a
            if not any(row):
                raise VnnlibError(f"{source}: an output constraint has all coefficients 0")
            polytope.append((tuple(row), const))
        elif kinds:
            raise VnnlibError(f"{source}: a constraint mixes inputs and outputs; only box inputs are supported")
    missing = [f"X_{i}" for i in range(n_in) if lo[i] == -float("inf") or hi[i] == float("inf")]
    if missing:
        raise VnnlibError(f"{source}: inputs {', '.join(missing[:5])} lack a lower or upper bound; every input needs "
                          "both, e.g. (assert (>= X_0 -1)) (assert (<= X_0 1))")
    empty = [f"X_{i}" for i in range(n_in) if lo[i] > hi[i]]
    if empty:
        raise VnnlibError(f"{source}: the input box is empty: lower bound > upper bound for {', '.join(empty[:5])}")
    if not polytope:
        raise VnnlibError(f"{source}: no output constraint; the property must constrain Y_0 .. Y_{n_out - 1}")
    return (tuple(lo), tuple(hi)), tuple(polytope)


def read_vnnlib(path: str | Path) -> list[VnnlibCase]:
    """Read a ``.vnnlib`` file (see ``parse_vnnlib``); raises ``VnnlibError`` naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VnnlibError(f"VNNLIB file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise VnnlibError(f"cannot read VNNLIB file {path}: {err}") from err
    return parse_vnnlib(text, str(path))
