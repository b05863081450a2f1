"""docs/instructors.md runs: from an empty folder, its commands give the output it shows and
its grader file is what `initkit course new` writes, annotated (tests/literate.py's rules)."""

import ast
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from literate import blocks, run_document  # noqa: E402

from initkit.course.new import GRADERS  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "instructors.md"


def test_every_block_is_run_or_written():
    """Each code block of the guide is a grader file or a console session that runs."""
    found = blocks(DOC.read_text())
    assert {(b.lang, bool(b.title)) for b in found} == {("python", True), ("console", False)}
    assert [b.title for b in found if b.title] == ["graders/ex06_demo/test_ex06_demo.py"]


def test_the_guides_grader_file_is_the_skeletons():
    """The annotated grader file in the guide has the same checks, markers and code as the
    one `initkit course new` writes (comments and docstrings aside)."""
    (block,) = [b for b in blocks(DOC.read_text()) if b.title]

    def code(source: str) -> list[str]:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(body[0].value, ast.Constant):
                node.body = body[1:] or [ast.Pass()]
        return [ast.dump(n) for n in tree.body if isinstance(n, ast.FunctionDef)]

    guide = code(block.body)
    skeleton = code(GRADERS.format(slug="ex06_demo"))
    assert len(guide) == len(skeleton) == 5
    assert guide[:4] == skeleton[:4]


def test_the_guide_runs_from_an_empty_folder(tmp_path):
    """Writing the guide's file and running its commands gives the output it shows."""
    assert run_document(DOC, tmp_path) >= 4
