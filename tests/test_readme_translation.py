"""README.zh-CN.md is README.md in Chinese and must stay in step with it.

Same sections (every `##` and `###` heading, in the same order and at the same
level) and the same code blocks (commands, JSON, layout), character for
character: a section or a command added to one README and not the other fails
here. Headings are compared by level and position, since their text is translated.
"""

import re

from procs import ROOT

ENGLISH = ROOT / "README.md"
CHINESE = ROOT / "README.zh-CN.md"
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def headings(text: str) -> list[tuple[int, str]]:
    """(level, text) of each ## and ### heading outside code blocks."""
    found = []
    for line in FENCE.sub("", text).splitlines():
        match = re.match(r"^(#{2,3}) (.+)$", line)
        if match:
            found.append((len(match.group(1)), match.group(2)))
    return found


def code_blocks(text: str) -> list[str]:
    return FENCE.findall(text)


def links(text: str) -> list[str]:
    """Local files the README links to or shows (images, docs)."""
    return [target for target in re.findall(r"\]\(([^)#]+)\)", FENCE.sub("", text)) if "://" not in target]


def test_both_readmes_have_the_same_sections_in_the_same_order():
    english, chinese = headings(ENGLISH.read_text()), headings(CHINESE.read_text())
    assert [level for level, _ in chinese] == [level for level, _ in english], "sections differ:\n" + "\n".join(
        f"{e!s:60} | {c}" for e, c in zip(english, chinese, strict=False)
    )
    assert len(english) > 20


def test_both_readmes_have_the_same_code_blocks():
    english, chinese = code_blocks(ENGLISH.read_text()), code_blocks(CHINESE.read_text())
    assert len(chinese) == len(english)
    for number, (e, c) in enumerate(zip(english, chinese, strict=True)):
        assert c == e, f"code block {number} differs"


def test_the_chinese_readme_is_chinese():
    text = FENCE.sub("", CHINESE.read_text())
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 3000


def test_every_file_either_readme_links_to_exists():
    for readme in (ENGLISH, CHINESE):
        for target in links(readme.read_text()):
            assert (ROOT / target).exists(), f"{readme.name} links to {target}, which does not exist"


def test_the_readmes_point_at_the_original_notes_in_docs():
    for readme in (ENGLISH, CHINESE):
        assert "docs/django-backend-notes.zh.md" in readme.read_text()
    assert (ROOT / "docs" / "django-backend-notes.zh.md").exists()
