"""Editing traces (Joseph Gentle's editing-traces collection, CC BY 4.0) replayed on pycrdt in this
process: the baseline the server is compared with, and the per-transaction Yjs updates the concurrent
scenario's clients send.

Trace positions count Unicode code points; pycrdt's Text counts UTF-8 bytes (Yrs OffsetKind::Bytes).
For an all-ASCII trace the two agree and positions are used as they are; otherwise each patch is
converted through the text's current string (correct, but O(document) per patch).
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from pycrdt import Doc, Text

CONTENT = "content"  # collab.docs.template.CONTENT: the document is one Y.Text of this name
DEFAULT_DIR = Path("/work/shared/data/editing-traces")


def load(directory: Path, name: str) -> dict:
    with gzip.open(directory / f"{name}.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def is_ascii(trace: dict) -> bool:
    return (trace.get("startContent", "").isascii() and trace["endContent"].isascii()
            and all(p[2].isascii() for t in trace["txns"] for p in t["patches"]))


def apply_patches(text: Text, patches: list, ascii: bool) -> None:
    """[pos, delete count, inserted text] patches, in order, each on the result of the previous one."""
    for pos, n_del, ins in patches:
        if not ascii:
            s = str(text)
            n_del = len(s[pos:pos + n_del].encode())
            pos = len(s[:pos].encode())
        if n_del:
            del text[pos:pos + n_del]
        if ins:
            text.insert(pos, ins)


# -- lib0 / Yjs v1 encodings read back: state vectors and delete sets ---------------------------------


def _uint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def decode_state_vector(data: bytes) -> dict[int, int]:
    n, pos = _uint(data, 0)
    out = {}
    for _ in range(n):
        client, pos = _uint(data, pos)
        clock, pos = _uint(data, pos)
        out[client] = clock
    return out


def decode_delete_set(data: bytes, pos: int = 0) -> list[tuple[int, int, int]]:
    """[(client, clock, length)] of an encoded delete set (TransactionEvent.delete_set)."""
    n, pos = _uint(data, pos)
    out = []
    for _ in range(n):
        client, pos = _uint(data, pos)
        ranges, pos = _uint(data, pos)
        for _ in range(ranges):
            clock, pos = _uint(data, pos)
            length, pos = _uint(data, pos)
            out.append((client, clock, length))
    return out


def deleted_count(doc: Doc) -> int:
    """Items deleted in `doc`: the diff against its own state vector has no structs, only the whole
    delete set."""
    diff = doc.get_update(doc.get_state())
    structs, pos = _uint(diff, 0)
    assert structs == 0
    return sum(n for _, _, n in decode_delete_set(diff, pos))


# -- sequential ---------------------------------------------------------------------------------------


@dataclass
class Sequential:
    name: str
    txns: list[list]  # patches of each transaction
    end: str  # the text expected at the end: the trace's endContent, or the in-process result of a prefix
    ascii: bool
    full: bool  # the whole trace (end is the trace's endContent)


def sequential(directory: Path, name: str, limit: int = 0) -> Sequential:
    tr = load(directory, name)
    if tr.get("startContent"):
        raise ValueError(f"{name}: startContent is not empty; documents start empty here")
    txns = [t["patches"] for t in tr["txns"]]
    full = not limit or limit >= len(txns)
    return Sequential(name, txns if full else txns[:limit], tr["endContent"], is_ascii(tr), full)


def replay_sequential(tr: Sequential, client_id: int) -> dict:
    """One pycrdt transaction per trace transaction, timed; then the result checked."""
    doc = Doc(client_id=client_id)
    text = doc.get(CONTENT, type=Text)
    t0 = time.perf_counter()
    for patches in tr.txns:
        with doc.transaction():
            apply_patches(text, patches, tr.ascii)
    seconds = time.perf_counter() - t0
    final = str(text)
    if not tr.full:
        tr.end = final  # a prefix has no endContent: the in-process result is the reference
    state = doc.get_update()
    return {"seconds": round(seconds, 3), "txns": len(tr.txns), "ops": sum(len(p) for p in tr.txns),
            "text_equal": final == tr.end, "chars": len(final), "state_bytes": len(state),
            "state_vector": decode_state_vector(doc.get_state()), "deleted_items": deleted_count(doc),
            "us_per_txn": round(1e6 * seconds / len(tr.txns), 2)}


# -- concurrent ---------------------------------------------------------------------------------------


@dataclass
class Concurrent:
    name: str
    num_agents: int
    agents: list[int]  # agent of each txn
    parents: list[list[int]]
    patches: list[list]
    end: str
    ascii: bool
    full: bool
    # filled by replay_concurrent: what each txn did, as its replica emitted it
    updates: list[bytes] = field(default_factory=list)  # the Yjs update of the txn's transaction
    inserted_to: list[int] = field(default_factory=list)  # the agent's clock after the txn (0: no insert)
    deleted: list[list[tuple[int, int, int]]] = field(default_factory=list)  # items the txn deleted
    final_state: dict[int, int] = field(default_factory=dict)

    def client_id(self, agent: int) -> int:
        """Fixed Yjs client ids. Concurrent inserts at one position are ordered by client id; ascending
        ids in agent order reproduce both traces' endContent (descending ones do not for friendsforever)."""
        return agent + 1


def concurrent(directory: Path, name: str, limit: int = 0) -> Concurrent:
    tr = load(directory, name)
    txns = tr["txns"]
    full = not limit or limit >= len(txns)
    if not full:
        txns = txns[:limit]  # parents have smaller indexes: a prefix is a closed history
    return Concurrent(name, tr["numAgents"], [t["agent"] for t in txns], [t["parents"] for t in txns],
                      [t["patches"] for t in txns], tr["endContent"], is_ascii(tr), full)


def missing_closure(parents: list[list[int]], start: list[int], have) -> list[int]:
    """Txns in the history of `start` (inclusive) not in `have`, in trace (= topological) order."""
    out, stack = set(), [p for p in start if p not in have]
    while stack:
        p = stack.pop()
        if p in out:
            continue
        out.add(p)
        stack.extend(q for q in parents[p] if q not in have and q not in out)
    return sorted(out)


def replay_concurrent(tr: Concurrent) -> dict:
    """One replica per agent. Before an agent's txn its replica is brought to exactly the txn's parent
    version by applying the updates of the txns it lacks (its own earlier txns are always there), then
    the patches are applied in one transaction and the update it emits is kept. Timed; afterwards every
    replica receives every update and is compared with the expected text."""
    n = len(tr.patches)
    docs = [Doc(client_id=tr.client_id(a)) for a in range(tr.num_agents)]
    texts = [d.get(CONTENT, type=Text) for d in docs]
    events: list = []
    for d in docs:
        d.observe(lambda e: events.append((e.update, e.after_state, e.delete_set)))
    have: list[set[int]] = [set() for _ in docs]
    updates: list[bytes] = [b""] * n
    events_kept: list = [None] * n
    merged = 0
    t0 = time.perf_counter()
    for i in range(n):
        a = tr.agents[i]
        for p in missing_closure(tr.parents, tr.parents[i], have[a]):
            if updates[p]:
                docs[a].apply_update(updates[p])
            have[a].add(p)
            merged += 1
        events.clear()
        with docs[a].transaction():
            apply_patches(texts[a], tr.patches[i], tr.ascii)
        if events:
            updates[i] = events[-1][0]
            events_kept[i] = events[-1]
        have[a].add(i)
    seconds = time.perf_counter() - t0
    events.clear()
    for a, d in enumerate(docs):  # every replica gets everything
        for i in range(n):
            if i not in have[a] and updates[i]:
                d.apply_update(updates[i])
    finals = [str(t) for t in texts]
    if not tr.full:
        tr.end = finals[0]
    tr.updates = updates
    tr.inserted_to, tr.deleted = [], []
    for i in range(n):
        ev = events_kept[i]
        cid = tr.client_id(tr.agents[i])
        if ev is None:
            tr.inserted_to.append(0)
            tr.deleted.append([])
            continue
        _, after, ds = ev
        tr.inserted_to.append(decode_state_vector(after).get(cid, 0) if _inserts(tr.patches[i]) else 0)
        tr.deleted.append(decode_delete_set(ds))
    tr.final_state = decode_state_vector(docs[0].get_state())
    return {"seconds": round(seconds, 3), "txns": n, "ops": sum(len(p) for p in tr.patches),
            "agents": tr.num_agents, "merged_in": merged, "replicas_equal": [f == tr.end for f in finals],
            "text_equal": all(f == tr.end for f in finals), "chars": len(tr.end),
            "state_bytes": len(docs[0].get_update()), "update_bytes": sum(len(u) for u in updates),
            "cross_agent_parents": sum(1 for i in range(n) for p in tr.parents[i] if tr.agents[p] != tr.agents[i])}


def _inserts(patches: list) -> bool:
    return any(p[2] for p in patches)
