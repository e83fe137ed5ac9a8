"""Chinese typography in the web client: a Chinese string uses full-width punctuation (，：；！？（）),
never the half-width , : ; ! ? ( ) next to Chinese text ("已举手, 排第 1 位" is wrong, "已举手，排第 1 位"
right). Scans every string literal of webclient/static/*.js (comments and code are not text people
read) and the text and attributes of every template.

Files whose owners have not yet been through them are listed in KNOWN_TO_FIX: their findings are
reported as expected failures, and a listed file that is clean fails, so it comes off the list."""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATIC = ROOT / "webclient" / "static"
TEMPLATES = ROOT / "webclient" / "templates"

KNOWN_TO_FIX: set[str] = set()

# Han characters and the full-width forms and CJK punctuation that sit among them.
CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
HALF = ",:;!?()"
# A half-width mark right after Chinese text or right before it (one space between allowed either way).
BAD = re.compile(f"[{CJK}] ?[{re.escape(HALF)}]|[{re.escape(HALF)}] ?[{CJK}]")


def half_width_marks(text: str) -> list[str]:
    """The places in `text` where half-width punctuation touches Chinese, with a little context."""
    return [text[max(0, m.start() - 6):m.end() + 6] for m in BAD.finditer(text)]


def js_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string and template literal in a script, skipping comments and regex
    literals (a '/' where a value may start)."""
    out: list[tuple[int, str]] = []
    i, n, line, last = 0, len(source), 1, ""
    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
            continue
        if source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += source.count("\n", i, j)
            i = j
            continue
        if c == "/" and (last == "" or last in "(,=:[!&|?{};+-*%<>~^" or source[:i].rstrip().endswith("return")):
            j = i + 1
            in_class = False
            while j < n and (source[j] != "/" or in_class):
                if source[j] == "\\":
                    j += 1
                elif source[j] == "[":
                    in_class = True
                elif source[j] == "]":
                    in_class = False
                j += 1
            i, last = j + 1, "a"
            continue
        if c in "\"'`":
            j, buf = i + 1, []
            while j < n and source[j] != c:
                if source[j] == "\\" and j + 1 < n:
                    buf.append(source[j:j + 2])
                    j += 2
                    continue
                buf.append(source[j])
                j += 1
            out.append((line, "".join(buf)))
            line += source.count("\n", i, j)
            i, last = j + 1, "a"
            continue
        if not c.isspace():
            last = c
        i += 1
    return out


def template_texts(source: str) -> list[tuple[int, str]]:
    """(line, text) of a template's text between tags and its attribute values, Jinja left out."""
    out: list[tuple[int, str]] = []
    stripped = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", lambda m: "\n" * m.group().count("\n"), source, flags=re.S)
    for m in re.finditer(r"<script\b.*?</script>|<style\b.*?</style>|<[^>]*>|[^<]+", stripped, flags=re.S):
        piece, line = m.group(), stripped.count("\n", 0, m.start()) + 1
        if piece.startswith("<script") or piece.startswith("<style"):
            continue
        if piece.startswith("<"):
            out.extend((line, v) for v in re.findall(r'="([^"]*)"', piece))
        else:
            out.append((line, piece))
    return out


def findings(path: pathlib.Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    texts = js_strings(source) if path.suffix == ".js" else template_texts(source)
    return [f"{path.name}:{line}: {spot!r}" for line, text in texts for spot in half_width_marks(text)]


# every script of ours, the stage's modules in static/stage/ too (static/dist is a vendor bundle)
FILES = (sorted(p for p in STATIC.rglob("*.js") if "dist" not in p.relative_to(STATIC).parts)
         + sorted(TEMPLATES.glob("*.html")))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT / "webclient").as_posix())
def test_chinese_strings_use_full_width_punctuation(path):
    found = findings(path)
    if path.name in KNOWN_TO_FIX:
        if found:
            pytest.xfail("known, its owner is fixing it:\n" + "\n".join(found))
        pytest.fail(f"{path.name} is clean now: take it off KNOWN_TO_FIX")
    assert not found, "half-width punctuation next to Chinese:\n" + "\n".join(found)


def test_the_scan_covers_the_whole_client():
    names = {p.name for p in FILES}
    assert {"page.js", "home.js", "activity.js", "stage.js", "lineup.js", "base.html", "home.html"} <= names
    assert KNOWN_TO_FIX <= names  # a renamed file leaves the list


def test_the_rule_finds_what_people_notice_and_spares_what_is_right():
    assert half_width_marks("已举手, 排第 1 位")
    assert half_width_marks("慢速模式: 请稍候")
    assert half_width_marks("标签 (用逗号分隔)")
    assert half_width_marks("网络教研:直播")
    assert not half_width_marks("已举手，排第 1 位")
    assert not half_width_marks("时区无效（例如 Asia/Shanghai）")
    assert not half_width_marks("Slow mode: wait (a little), then post")
    assert not half_width_marks("09:30 – 11:00")


def test_only_text_is_scanned_not_code_or_comments():
    source = '''// 注释: not shown to anyone
    var re = /^\\d{1,2}(,\\d)?$/; /* 又一个: 注释 */
    f("正文", "English"); g('引号 \\' 里面, 这里');
    var t = `模板: ${x}`;'''
    texts = [t for _, t in js_strings(source)]
    assert "正文" in texts and "English" in texts
    assert not any("注释" in t for t in texts)
    assert any(half_width_marks(t) for t in texts if "里面" in t)
    assert any(half_width_marks(t) for t in texts if "模板" in t)
    html = '{# 注释: 无 #}<p title="提示: 这里">正文 (括号)</p><script>var a = "脚本: 略";</script>'
    texts = [t for _, t in template_texts(html)]
    assert texts == ["提示: 这里", "正文 (括号)"]
