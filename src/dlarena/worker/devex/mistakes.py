"""The classic mistakes, planted in a scratch copy of an implementation's source (stdlib only).

A mistake is a rewrite of the implementation file's text that returns the new source and the
line that now holds the mistake, or None when the file has no place for it (the framework's
API never asks for that value, so the mistake cannot be written there). Rewrites find their
place by the workload's own names (`HIDDEN`, `CLASSES` from its spec) and by the contract's
methods (`to_device`), never by a framework's API, so an implementation added later is
planted by the same rules. The real file is only ever read.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

IMPLEMENTATION_CLASS = "Implementation"


@dataclass(frozen=True)
class Planted:
    source: str
    line: int  # 1-based line of the scratch file that holds the mistake
    text: str  # that line, stripped


@dataclass(frozen=True)
class Mistake:
    name: str
    description: str
    plant: Callable[[str], Planted | None]


def _implementation_class(tree: ast.Module) -> ast.ClassDef | None:
    return next((node for node in tree.body if isinstance(node, ast.ClassDef)
                 and node.name == IMPLEMENTATION_CLASS), None)


def _replace_first(matches: Callable[[ast.AST], bool], replacement: Callable[[str], str]
                   ) -> Callable[[str], Planted | None]:
    """Rewrite the first expression of the file (in source order) that matches: the model
    may be defined in `Implementation` or in a module class beside it."""
    def plant(source: str) -> Planted | None:
        tree = ast.parse(source)
        if _implementation_class(tree) is None:
            return None
        found = sorted((node for node in ast.walk(tree) if isinstance(node, ast.expr)
                        and matches(node)), key=lambda n: (n.lineno, n.col_offset))
        if not found or found[0].end_lineno != found[0].lineno:
            return None
        node = found[0]
        lines = source.splitlines(keepends=True)
        line = lines[node.lineno - 1]
        start, end = _character_offsets(line, node.col_offset, node.end_col_offset or 0)
        lines[node.lineno - 1] = line[:start] + replacement(line[start:end]) + line[end:]
        return Planted("".join(lines), node.lineno, lines[node.lineno - 1].strip())
    return plant


def _character_offsets(line: str, *byte_offsets: int) -> tuple[int, ...]:
    """AST column offsets count UTF-8 bytes; slicing counts characters."""
    encoded = line.encode()
    return tuple(len(encoded[:offset].decode()) for offset in byte_offsets)


def _is_subscript(name: str, index: int) -> Callable[[ast.AST], bool]:
    def matches(node: ast.AST) -> bool:
        return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and node.value.id == name and isinstance(node.slice, ast.Constant)
                and node.slice.value == index)
    return matches


def _is_name(name: str) -> Callable[[ast.AST], bool]:
    def matches(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
    return matches


def _integer_inputs(source: str) -> Planted | None:
    """Feed the model integer pixels: `to_device` receives uint8 inputs (forgotten `/ 255`)."""
    tree = ast.parse(source)
    owner = _implementation_class(tree)
    if owner is None:
        return None
    lines = source.splitlines(keepends=True)
    mistake = 'inputs = inputs.astype("uint8")  # planted: integer pixels\n'
    own = next((item for item in owner.body if isinstance(item, ast.FunctionDef)
                and item.name == "to_device"), None)
    if own is not None:  # the implementation converts batches itself: first thing in it
        first = own.body[0]
        indent = " " * first.col_offset
        lines.insert(first.lineno - 1, indent + mistake)
        return Planted("".join(lines), first.lineno, mistake.strip())
    indent = " " * (owner.body[0].col_offset)
    method = ["\n", f"{indent}def to_device(self, inputs, labels):\n",
              f"{indent}    {mistake}",
              f"{indent}    return super().to_device(inputs, labels)\n"]
    end = owner.end_lineno or len(lines)
    if lines and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines[end:end] = method
    return Planted("".join(lines), end + 3, mistake.strip())  # after a blank line and the def


# The mistakes, by the workload whose names they are written in.
MISTAKES: dict[str, tuple[Mistake, ...]] = {
    "mlp": (
        Mistake("dense_width", "a dense layer one unit too wide (the second hidden layer "
                "declared HIDDEN[1] + 1)",
                _replace_first(_is_subscript("HIDDEN", 1), lambda text: f"({text} + 1)")),
        Mistake("input_dtype", "integer (uint8) pixels fed to a float model",
                _integer_inputs),
        Mistake("class_count", "the output layer one class short of the labels the loss "
                "gets (CLASSES - 1 outputs)",
                _replace_first(_is_name("CLASSES"), lambda text: f"({text} - 1)")),
    ),
}
