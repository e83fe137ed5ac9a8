"""Every error the server can answer with has words in both interface languages.

The codes are read from the source of collab/ and sessions/, not from a list kept by hand: every call
to a constructor or helper that takes a `code` (DomainError, CommandError, policy.Denied, TokenError,
reply_error, error_response and the domain errors) or a close `reason`, with a literal, an `Error.X`
constant, or a local variable assigned literals; every constant of collab.realtime.protocol.Error; and
every WebSocket close code (4000 to 4999, and Close's). page.js is then run in Node, in zh-CN and in
English, and Collab.errorText / Collab.closeText must give a sentence for each: Chinese with
full-width punctuation, English in English."""

from __future__ import annotations

import ast
import json
import pathlib
import re
import shutil
import subprocess

import pytest

from test_typography import CJK, half_width_marks

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE_JS = ROOT / "webclient" / "static" / "page.js"
CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
TREES = {p: ast.parse(p.read_text(encoding="utf-8"), str(p))
         for d in ("collab", "sessions") for p in sorted((ROOT / d).rglob("*.py"))}


def carriers() -> dict[str, dict[str, int]]:
    """name -> {"code" or "reason": argument position}, for every class whose __init__ and every
    function that takes a `code` (or a close `reason`)."""
    found: dict[str, dict[str, int]] = {}
    for tree in TREES.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
                names, owner = ([a.arg for a in init.args.args][1:], node.name) if init else ([], None)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names, owner = [a.arg for a in node.args.args], node.name
                if names[:1] == ["self"]:
                    names = names[1:]
            else:
                continue
            where = {k: names.index(k) for k in ("code", "reason") if k in names}
            if owner and where and not owner.startswith("__"):  # an __init__ is found through its class
                found[owner] = where
    # a class without an __init__ of its own takes its code where its base does (CommandError(code, …))
    classes = [n for tree in TREES.values() for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    grew = True
    while grew:
        grew = False
        for node in classes:
            own_init = any(isinstance(f, ast.FunctionDef) and f.name == "__init__" for f in node.body)
            bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
            inherited = next((found[b] for b in bases if b in found), None)
            if not own_init and inherited and node.name not in found:
                found[node.name] = inherited
                grew = True
    return found


def protocol_errors() -> dict[str, str]:
    tree = TREES[ROOT / "collab" / "realtime" / "protocol.py"]
    cls = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "Error")
    return {a.targets[0].id: a.value.value for a in cls.body
            if isinstance(a, ast.Assign) and isinstance(a.value, ast.Constant)}


ERROR = protocol_errors()


def literal_codes(expr: ast.AST, scope: ast.AST) -> set[str]:
    """The codes an argument can be: its literals, Error.X, or what a local name is assigned."""
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "Error":
        return {ERROR[expr.attr]}
    if isinstance(expr, ast.Name):
        return {c for n in ast.walk(scope) if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)
                for c in literal_codes(n.value, scope)}
    return {c.value for c in ast.walk(expr)
            if isinstance(c, ast.Constant) and isinstance(c.value, str) and CODE.match(c.value)}


def server_codes() -> dict[str, str]:
    """code -> one place in the source that answers with it."""
    takes = carriers()
    codes: dict[str, str] = {code: "collab/realtime/protocol.py Error" for code in ERROR.values()}
    for path, tree in TREES.items():
        scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] + [tree]
        for scope in scopes:
            for call in ast.walk(scope):
                if not isinstance(call, ast.Call):
                    continue
                f = call.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
                for key, i in takes.get(name, {}).items():
                    arg = call.args[i] if len(call.args) > i else next(
                        (k.value for k in call.keywords if k.arg == key), None)
                    for code in literal_codes(arg, scope) if arg is not None else ():
                        codes.setdefault(code, f"{path.relative_to(ROOT)}:{call.lineno}")
    return codes


def close_codes() -> set[int]:
    """Close's codes (but 1000, a normal close) and any other 4xxx constant a module names."""
    found: set[int] = set()
    for tree in TREES.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and type(node.value.value) is int:
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if names and names[0].isupper() and 4000 <= node.value.value <= 4999:
                    found.add(node.value.value)
    tree = TREES[ROOT / "collab" / "realtime" / "protocol.py"]
    cls = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "Close")
    found |= {a.value.value for a in cls.body if isinstance(a, ast.Assign)
              and isinstance(a.value, ast.Constant) and type(a.value.value) is int and a.value.value != 1000}
    return found


# page.js in Node with just enough of a browser to load, asked for every code in one language.
RUNNER = """
const fs = require("fs");
const [lang, codesJson, closesJson] = process.argv.slice(1);
global.window = global;
global.localStorage = { getItem: (k) => (k === "collab_lang" ? lang : null) };
global.navigator = { languages: [] };
global.document = { documentElement: {}, addEventListener() {} };
eval(fs.readFileSync(%s, "utf8"));
const C = window.Collab, out = { errors: {}, fallbacks: {}, closes: {}, unknown: C.errorText({ code: "no_such_code" }) };
for (const code of JSON.parse(codesJson)) {
  out.errors[code] = C.errorText({ code, message: "MESSAGE" });
  // what an unknown code with the same message gets, to tell a translation from the fallback
  out.fallbacks[code] = C.errorText({ code: "zz" + code, message: "MESSAGE" }).replace("zz" + code, code);
}
for (const code of JSON.parse(closesJson)) out.closes[code] = C.closeText(code);
console.log(JSON.stringify(out));
"""


def page_texts(lang: str, codes, closes) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is needed to run page.js")
    done = subprocess.run([node, "-e", RUNNER % json.dumps(str(PAGE_JS)), lang, json.dumps(sorted(codes)),
                           json.dumps(sorted(closes))], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


CODES = server_codes()
CLOSES = close_codes()
CLIENT_CODES = {"disconnected"}  # realtime.js and collabApi's own, for a socket or network that is down


def test_the_scan_finds_the_codes_people_meet():
    # a scan that went blind (a renamed helper, a moved table) would pass everything
    assert {"forbidden", "unauthenticated", "not_found", "slow_mode", "rate_limited", "muted", "already_voted",
            "questions_closed", "invalid", "bad_credentials", "token_expired", "already_subscribed",
            "invitation_expired", "type_mismatch", "wrong_state", "busy"} <= set(CODES)
    assert {4001, 4008, 4009, 4012, 4029, 1011} <= CLOSES
    assert not any(" " in c for c in CODES)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_server_error_code_has_words_in_each_language(lang):
    texts = page_texts(lang, set(CODES) | CLIENT_CODES, CLOSES)
    missing = [f"{code} (from {CODES.get(code, 'the client')})" for code, text in texts["errors"].items()
               if not text or text == texts["fallbacks"][code]]
    assert not missing, "no translation in page.js ERRORS for:\n" + "\n".join(missing)
    missing = [str(code) for code, text in texts["closes"].items() if not text]
    assert not missing, "no words in page.js CLOSES for close codes: " + ", ".join(missing)
    for text in list(texts["errors"].values()) + list(texts["closes"].values()):
        if lang == "zh":
            assert re.search(f"[{CJK}]", text), f"not Chinese: {text!r}"
            assert "MESSAGE" not in text  # never the server's English sentence in a Chinese page
        else:
            assert not re.search(f"[{CJK}]", text), f"not English: {text!r}"


def test_chinese_error_texts_use_full_width_punctuation():
    texts = page_texts("zh", set(CODES) | CLIENT_CODES, CLOSES)
    bad = {code: half_width_marks(text) for code, text in {**texts["errors"], **texts["closes"]}.items()
           if half_width_marks(text)}
    assert not bad, f"half-width punctuation next to Chinese: {bad}"


def test_an_unknown_code_is_still_a_sentence_in_the_page_language():
    zh = page_texts("zh", {"http_502"}, set())
    assert "HTTP 502" in zh["errors"]["http_502"] and re.search(f"[{CJK}]", zh["errors"]["http_502"])
    assert re.search(f"[{CJK}]", zh["unknown"])
    en = page_texts("en", {"invalid"}, set())
    assert en["errors"]["invalid"].endswith("MESSAGE")  # English pages keep the server's detail
