"""The import rule between the domain and the surfaces: domain packages (conversations, stores,
knowledge, assistant) hold the rules; the staff dashboard, the reports and the API call them, never
the other way round. Checked on the source (every import statement, those inside functions too), so
it needs no database and fails on the line that breaks the rule."""

import ast
from pathlib import Path

import pytest

CHATBOT = Path(__file__).resolve().parents[1] / "chatbot"
DOMAIN = ["conversations", "stores", "knowledge", "assistant"]
SURFACES = ["chatbot.dashboard", "chatbot.reports", "chatbot.api"]


def imported_modules(path: Path, root: Path = CHATBOT.parent) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file under `root`; `from x import y`
    also counts as importing x.y, so `from chatbot import dashboard` is caught too."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def crosses(module: str) -> bool:
    return any(module == s or module.startswith(s + ".") for s in SURFACES)


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_do_not_import_the_surfaces(package):
    files = sorted((CHATBOT / package).rglob("*.py"))
    assert files
    broken = [
        f"{path.relative_to(CHATBOT.parent)}:{line} imports {module}"
        for path in files
        for line, module in imported_modules(path)
        if crosses(module)
    ]
    assert broken == []


def test_the_check_sees_every_form_of_import(tmp_path):
    """The rule's own check: absolute, relative, nested and `from chatbot import ...` imports."""
    package = tmp_path / "chatbot" / "conversations"
    package.mkdir(parents=True)
    source = package / "sample.py"
    source.write_text(
        "import chatbot.api.models\n"
        "from ..reports import metrics\n"
        "from chatbot import dashboard\n"
        "def later():\n"
        "    from chatbot.dashboard.models import Membership\n"
        "from . import outcomes\n"
        "from chatbot.apis import fine\n"
    )
    found = imported_modules(source, root=tmp_path)
    crossing = sorted({line for line, module in found if crosses(module)})
    assert crossing == [1, 2, 3, 5]
