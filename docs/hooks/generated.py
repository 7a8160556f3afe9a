"""mkdocs hook: the sections of the docs that are facts of the repository, written at build time.

In: the repository beside ``docs/`` — the package's module docstrings, the committed JSON Schemas
(``netcheck/schema/result.schema.json``, ``netcheck/policy/schema.json``), the failure vocabulary
(``netcheck/failures.py``), the shipped fingerprints (``netcheck/data/fingerprints.yaml``), the
bench scripts and the figures they published (``docs/benchmarks/*.txt``, written by
``bench/_figures.py``). Out: each page's ``<!-- generated: NAME -->`` marker replaced by
Markdown, and the two schema files copied into the site so pages can link them.

Markers, and the page that carries each: ``module-index`` and ``import-contracts``
(architecture; the contracts are ``pyproject.toml``'s ``[tool.importlinter]``),
``failure-strings`` (measurement), ``vendors`` (verdicts), ``lab-scenarios`` (lab, from
``netcheck/lab/scenarios.yaml``), ``record-schema`` (record), ``policy-schema`` (policy),
``bench-scripts`` and ``benchmark-figures`` (benchmarks), ``pytest-markers`` (development, from
``pyproject.toml``). A marker this hook does not know fails the build, and so does a known marker
that no page carries any more. ``api-modules PACKAGE`` (the API pages) expands to one mkdocstrings
block per module of the package. Module docstrings are read with ``ast``; the only netcheck module
imported is the failure vocabulary, which does no I/O; no command is run.
"""

from __future__ import annotations

import ast
import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "netcheck"
FIGURES = ROOT / "docs" / "benchmarks"
SCHEMAS = {
    "schema/result.schema.json": ROOT / "netcheck" / "schema" / "result.schema.json",
    "schema/policy.schema.json": ROOT / "netcheck" / "policy" / "schema.json",
}
MARKER = re.compile(r"<!-- generated: ([a-z-]+)(?: ([a-z_.]+))? -->")
_CODE = re.compile(r"(``.+?``|`[^`]+`)")
_seen: set[str] = set()


# --- Markdown helpers ----------------------------------------------------------------------------


def prose(text: str) -> str:
    """Docstring or schema text as one safe line of Markdown (in a table cell too); ``code`` spans
    are kept as code."""
    parts = _CODE.split(" ".join(text.split()))
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a code span: Markdown escapes its content itself
            out.append(part)
            continue
        part = html.escape(part, quote=False)
        for char in "\\*_[]":
            part = part.replace(char, "\\" + char)
        # a bare pipe would split a table cell; inside code spans the table parser leaves it
        out.append(part.replace("|", "&#124;"))
    return "".join(out)


def summary(docstring: str | None) -> str:
    """The first paragraph of a docstring: what the module takes and gives, in one breath."""
    if not docstring:
        return "(no docstring)"
    return prose(docstring.strip().split("\n\n")[0])


# --- module index (architecture) -----------------------------------------------------------------


def _docstring(path: Path) -> str | None:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))


def _packages() -> Iterator[Path]:
    yield PACKAGE
    for init in sorted(PACKAGE.rglob("__init__.py")):
        if init.parent != PACKAGE and "__pycache__" not in init.parts:
            yield init.parent


def module_index() -> str:
    lines = []
    for package in _packages():
        rel = package.relative_to(ROOT).as_posix()
        modules = sorted(p for p in package.glob("*.py") if p.name not in ("__init__.py",))
        lines.append(f"- **`{rel}/`** — {summary(_docstring(package / '__init__.py'))}")
        for module in modules:
            lines.append(f"    - `{module.name}` — {summary(_docstring(module))}")
    return "\n".join(lines) + "\n"


def import_contracts() -> str:
    """The import-linter contracts of ``pyproject.toml``, as ``lint-imports`` will check them."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config.get("tool", {}).get("importlinter", {}).get("contracts", [])
    if not contracts:
        return '!!! warning "pyproject.toml declares no import-linter contract"\n'
    lines = []
    for contract in contracts:
        lines += [f"**{prose(contract['name'])}** (`{contract['type']}`)", ""]
        if contract["type"] == "layers":
            lines += ["| layer, top to bottom | modules of one layer import each other |"]
            lines += ["|---|---|"]
            for layer in contract.get("layers", []):
                parts = [p.strip() for p in re.split(r"[|:]", layer)]
                names = ", ".join(f"`{p.strip('()')}`" for p in parts)
                if layer.strip().startswith("("):
                    names += " (optional: may not exist yet)"
                siblings = "—" if len(parts) == 1 else ("no" if "|" in layer else "yes")
                lines.append(f"| {names} | {siblings} |")
            lines.append("")
        for key, title in (
            ("source_modules", "modules"),
            ("forbidden_modules", "may never import"),
            ("ignore_imports", "known exceptions"),
        ):
            if contract.get(key):
                lines.append(f"- {title}: " + ", ".join(f"`{m}`" for m in contract[key]))
        lines.append("")
    return "\n".join(lines)


def pytest_markers() -> str:
    """The markers ``pyproject.toml`` declares for pytest."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = config.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("markers", [])
    rows = ["| marker | meaning |", "|---|---|"]
    for line in declared:
        name, _, meaning = line.partition(":")
        rows.append(f"| `{name.strip()}` | {prose(meaning.strip())} |")
    return "\n".join(rows) + "\n"


def api_modules(package: str) -> str:
    """mkdocstrings blocks for a package and every module under it, so a new module is documented
    the day it lands and a removed one leaves no dangling reference."""
    folder = ROOT.joinpath(*package.split("."))
    if not (folder / "__init__.py").is_file():
        from mkdocs.exceptions import PluginError

        raise PluginError(f"api-modules: {package} is not a package")
    names = [package]
    for path in sorted(folder.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py") or "__pycache__" in path.parts:
            if path.name == "__init__.py" and path.parent != folder:
                names.append(".".join(path.parent.relative_to(ROOT).parts))
            continue
        names.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return "\n".join(f"::: {name}\n" for name in sorted(names)) + "\n"


# --- JSON Schemas (record, policy) ---------------------------------------------------------------


def _type(spec: dict[str, Any], anchor: Callable[[str], str]) -> str:
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{anchor(name)})"
    if "anyOf" in spec:
        kinds = [_type(s, anchor) for s in spec["anyOf"]]
        return " or ".join(kinds)
    if "enum" in spec:
        return "one of " + ", ".join(f"`{v}`" for v in spec["enum"])
    if "const" in spec:
        return f"`{spec['const']}`"
    kind = spec.get("type", "any")
    if kind == "array":
        return "list of " + _type(spec.get("items", {}), anchor)
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return "map of string to " + _type(spec["additionalProperties"], anchor)
    if "format" in spec:
        return f"{kind} ({spec['format']})"
    return str(kind)


def _model_table(model: dict[str, Any], anchor: Callable[[str], str]) -> list[str]:
    required = set(model.get("required", []))
    rows = ["| field | type | required | default | meaning |", "|---|---|---|---|---|"]
    for name, spec in model.get("properties", {}).items():
        default = f"`{json.dumps(spec['default'])}`" if "default" in spec else ""
        rows.append(
            f"| `{name}` | {_type(spec, anchor)} | {'yes' if name in required else ''} "
            f"| {default} | {prose(spec.get('description', ''))} |"
        )
    return rows


def _order(schema: dict[str, Any]) -> list[str]:
    """Definitions in the order a reader meets them from the top-level record, then the rest."""
    defs = schema.get("$defs", {})
    order: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in order:
                    order.append(name)
                    visit(defs.get(name, {}))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema.get("properties", {}))
    return order + [name for name in defs if name not in order]


def schema_tables(key: str, prefix: str) -> str:
    schema = json.loads(SCHEMAS[key].read_text(encoding="utf-8"))

    def anchor(name: str) -> str:
        return f"{prefix}-{name.lower()}"

    title = schema.get("title", "record")
    lines = [f"### {title} {{ #{anchor(title)} }}", ""]
    if schema.get("description"):
        lines += [prose(schema["description"]), ""]
    lines += [*_model_table(schema, anchor), ""]
    for name in _order(schema):
        model = schema["$defs"][name]
        lines += [f"### {name} {{ #{anchor(name)} }}", ""]
        if model.get("description"):
            lines += [prose(model["description"]), ""]
        if "properties" in model:
            lines += [*_model_table(model, anchor), ""]
        else:
            lines += [f"Type: {_type(model, anchor)}", ""]
    return "\n".join(lines)


# --- vocabulary (measurement, verdicts) ---------------------------------------------------------


def failure_strings() -> str:
    from netcheck import failures

    notes = _constant_notes(PACKAGE / "failures.py")
    rows = ["| failure | origin | written by the probe | note |", "|---|---|---|---|"]
    for value in sorted(failures.ALL_FAILURES):
        origin = "OONI df-007" if value in failures.OONI_FAILURES else "netcheck"
        if value in failures.NEVER_EMITTED:
            written = "never"
        elif value in failures.FALLBACK:
            written = "catch-all"
        else:
            written = "yes"
        rows.append(f"| `{value}` | {origin} | {written} | {prose(notes.get(value, ''))} |")
    return "\n".join(rows) + "\n"


def _constant_notes(path: Path) -> dict[str, str]:
    """``#:`` comments above string constants, keyed by the constant's value."""
    notes: dict[str, str] = {}
    pending: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#:"):
            pending.append(line[2:].strip())
            continue
        found = re.match(r'^[A-Z_]+ = "([a-z_]+)"', line)
        if found and pending:
            notes[found.group(1)] = " ".join(pending)
        pending = []
    return notes


def vendors() -> str:
    import yaml

    data = yaml.safe_load((PACKAGE / "data" / "fingerprints.yaml").read_text(encoding="utf-8"))
    counts: dict[str, list[int]] = {}
    for entry in data["fingerprints"]:
        block, identity = counts.setdefault(entry["vendor"], [0, 0])
        counts[entry["vendor"]] = (
            [block, identity + 1] if entry.get("kind") == "identity" else [block + 1, identity]
        )
    rows = ["| vendor id | block fingerprints | identity fingerprints |", "|---|---|---|"]
    rows += [f"| `{v}` | {b} | {i} |" for v, (b, i) in counts.items()]
    return "\n".join(rows) + "\n"


# --- the lab's scenarios -----------------------------------------------------------------------


def lab_scenarios() -> str:
    import yaml

    path = PACKAGE / "lab" / "scenarios.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = ["| scenario | what the agency network does | the probe must report |", "|---|---|---|"]
    for name, spec in data["scenarios"].items():
        expected = []
        for e in spec.get("expect", []) or []:
            who = (
                e.get("url")
                or e.get("host")
                or " ".join(filter(None, (e.get("service"), e.get("function"))))
                or "every target"
            )
            what = " ".join(filter(None, (e.get("verdict"), e.get("technique"), e.get("vendor"))))
            expected.append(f"{who}: {what}")
        outcome = "; ".join(dict.fromkeys(expected)) or "everything accessible"
        rows.append(f"| `{name}` | {prose(spec.get('description', ''))} | {prose(outcome)} |")
    return "\n".join(rows) + "\n"


# --- benchmarks ----------------------------------------------------------------------------------


def _figure_files() -> list[Path]:
    return sorted(FIGURES.glob("*.txt")) if FIGURES.is_dir() else []


def bench_scripts() -> str:
    published = {p.stem: p for p in _figure_files()}
    rows = ["| script | what it measures | needs |", "|---|---|---|"]
    for script in sorted((ROOT / "bench").glob("*.py")):
        if script.name.startswith("_"):
            continue
        source = script.read_text(encoding="utf-8")
        needs = "root" if re.search(r"require_root|geteuid|needs root|as root", source) else ""
        names = re.findall(r"published\(\s*[\"']([\w.-]+)[\"']", source)
        figures = ", ".join(
            f"[{n}](#figures-{n})" if n in published else f"{n} (not yet run)" for n in names
        )
        what = summary(_docstring(script))
        if figures:
            what += f" Figures: {figures}."
        rows.append(f"| `bench/{script.name}` | {what} | {needs} |")
    return "\n".join(rows) + "\n"


def benchmark_figures() -> str:
    files = _figure_files()
    if not files:
        return (
            '!!! note "No figures published yet"\n\n'
            "    Run a bench script above: it writes `docs/benchmarks/<name>.txt`.\n"
        )
    lines = []
    for path in files:
        text = path.read_text(encoding="utf-8").rstrip("\n")
        fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
        lines += [f"### {path.stem} {{ #figures-{path.stem} }}", ""]
        lines += [f"{fence}text", text, fence, ""]
    return "\n".join(lines)


# --- mkdocs events -------------------------------------------------------------------------------

SECTIONS: dict[str, Callable[[], str]] = {
    "module-index": module_index,
    "import-contracts": import_contracts,
    "pytest-markers": pytest_markers,
    "failure-strings": failure_strings,
    "vendors": vendors,
    "record-schema": lambda: schema_tables("schema/result.schema.json", "record"),
    "policy-schema": lambda: schema_tables("schema/policy.schema.json", "policy"),
    "lab-scenarios": lab_scenarios,
    "bench-scripts": bench_scripts,
    "benchmark-figures": benchmark_figures,
}


def on_pre_build(config: Any) -> None:
    _seen.clear()


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, path in SCHEMAS.items():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        name, argument = match.group(1), match.group(2)
        if name == "cli-reference":  # docs/hooks/cli_reference.py fills that one
            return match.group(0)
        if name == "api-modules" and argument:
            return api_modules(argument)
        if name not in SECTIONS or argument:
            from mkdocs.exceptions import PluginError

            raise PluginError(f"{page.file.src_uri}: unknown generated section {name!r}")
        _seen.add(name)
        return SECTIONS[name]()

    return MARKER.sub(replace, markdown)


def on_post_build(config: Any) -> None:
    missing = sorted(set(SECTIONS) - _seen)
    if missing:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"generated sections no page carries any more: {', '.join(missing)}")
