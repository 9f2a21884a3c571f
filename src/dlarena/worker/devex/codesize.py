"""How much code one implementation file needs, read from its tokens and AST (stdlib only).

Only the implementation file is counted (`workloads/<workload>/<framework>.py`), never the
framework's shared base class or the engine: that code is written once per framework, not
once per model. A "framework API" name is a dotted name rooted in a module the file imports
from outside the standard library, dlarena and NumPy (the data layer every implementation
shares), so a framework added later is counted by the same rule without being named here.
Type annotations are left out of the API counts: they document, they do not build anything.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from dataclasses import dataclass

# Imports that are not a framework's API: the canonical data layer and dlarena itself.
_NOT_FRAMEWORK = {"numpy", "dlarena", "__future__"}
# Method or function names that convert a layout (axes order, flattening) rather than compute.
LAYOUT_NAMES = {"transpose", "permute", "reshape", "view", "swapaxes", "moveaxis",
                "ascontiguousarray", "contiguous"}
# The hook every implementation fills; anything else it defines is beyond the layers.
MODEL_HOOK = "build_model"
_NOISE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
          tokenize.ENCODING, tokenize.ENDMARKER}


@dataclass(frozen=True)
class CodeSize:
    lines: int  # physical lines holding code (no blank, comment or docstring lines)
    logical_lines: int  # statements
    tokens: int  # code tokens (no comments, docstrings or layout tokens)
    api_calls: int  # calls of a framework API name
    api_names: tuple[str, ...]  # distinct framework API names used (dotted, sorted)
    engine_helpers: tuple[str, ...]  # names imported from dlarena's framework folder
    helper_classes: tuple[str, ...]  # classes beside `Implementation` (custom layers, cells)
    extra_methods: tuple[str, ...]  # what `Implementation` defines beyond `build_model`
    padding_calls: int  # explicit padding layers or calls
    layout_calls: int  # transposes, reshapes, flattens spelled out

    def metrics(self) -> dict[str, float]:
        """The counts, under the metric names a cell stores."""
        return {"code_lines": float(self.lines), "code_logical_lines": float(self.logical_lines),
                "code_tokens": float(self.tokens), "code_api_calls": float(self.api_calls),
                "code_api_names": float(len(self.api_names)),
                "code_helper_classes": float(len(self.helper_classes)),
                "code_padding_calls": float(self.padding_calls),
                "code_layout_calls": float(self.layout_calls)}

    def details(self) -> dict[str, list[str]]:
        return {"api_names": list(self.api_names), "engine_helpers": list(self.engine_helpers),
                "helper_classes": list(self.helper_classes),
                "extra_methods": list(self.extra_methods)}


def _docstring_nodes(tree: ast.Module) -> list[ast.Constant]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                found.append(body[0].value)
    return found


def _framework_aliases(tree: ast.Module) -> tuple[dict[str, str], set[int]]:
    """Local name -> the framework module path it stands for; and the ids of the
    expressions that only define a local shorthand (not a use of the API)."""
    aliases: dict[str, str] = {}
    shorthands: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_framework(alias.name):
                    local = alias.asname or alias.name.split(".")[0]
                    aliases[local] = alias.name if alias.asname else local
        elif (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
              and _is_framework(node.module)):
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    # Local shorthands: `layers = keras.layers`, `layers, bn = keras.layers, ...`.
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0], node.value
        pairs = (list(zip(target.elts, value.elts, strict=False))
                 if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
                 else [(target, value)])
        for name, expression in pairs:
            parts = _dotted(expression)
            if isinstance(name, ast.Name) and parts and parts[0] in aliases:
                aliases[name.id] = ".".join([aliases[parts[0]], *parts[1:]])
                shorthands.update(id(inner) for inner in ast.walk(expression))
    return aliases, shorthands


def _is_framework(module: str) -> bool:
    root = module.split(".")[0]
    return root not in _NOT_FRAMEWORK and root not in sys.stdlib_module_names


def _dotted(node: ast.AST) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"]; None for anything that is not a plain dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _annotations(tree: ast.Module) -> set[int]:
    """ids of every node inside a type annotation."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(inner) for root in roots for inner in ast.walk(root)}


def measure_source(source: str) -> CodeSize:
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    doc_lines = {line for node in docstrings
                 for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)}
    code_lines: set[int] = set()
    tokens = logical = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NEWLINE and token.start[0] not in doc_lines:
            logical += 1
        if token.type in _NOISE or token.start[0] in doc_lines:
            continue
        tokens += 1
        code_lines.update(range(token.start[0], token.end[0] + 1))

    aliases, shorthands = _framework_aliases(tree)
    skip = _annotations(tree) | shorthands
    names: set[str] = set()
    calls = padding = layout = 0
    inner: set[int] = set()  # attribute nodes that are part of a longer chain
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            inner.add(id(node.value))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Attribute | ast.Name) and id(node) not in inner:
            parts = _dotted(node)
            if parts and parts[0] in aliases and not isinstance(node.ctx, ast.Store):
                names.add(".".join([aliases[parts[0]], *parts[1:]]))
        if isinstance(node, ast.Call):
            parts = _dotted(node.func)
            attribute = (node.func.attr if isinstance(node.func, ast.Attribute)
                         else parts[-1] if parts else "")
            if parts and parts[0] in aliases:
                calls += 1
                if "pad" in attribute.lower():
                    padding += 1
            if attribute in LAYOUT_NAMES or attribute.lower() == "flatten":
                layout += 1

    helpers = sorted({alias.asname or alias.name for node in ast.walk(tree)
                      if isinstance(node, ast.ImportFrom) and node.module
                      and node.module.startswith("dlarena.frameworks.")
                      for alias in node.names})
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    helper_classes = sorted(c.name for c in classes if c.name != "Implementation")
    extra = sorted(
        item.name for c in classes if c.name == "Implementation" for item in c.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name != MODEL_HOOK)
    return CodeSize(lines=len(code_lines), logical_lines=logical, tokens=tokens,
                    api_calls=calls, api_names=tuple(sorted(names)),
                    engine_helpers=tuple(helpers), helper_classes=tuple(helper_classes),
                    extra_methods=tuple(extra), padding_calls=padding, layout_calls=layout)
