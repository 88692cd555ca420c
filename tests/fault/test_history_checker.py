"""Tests for history_checker.py: one small hand-built history per rule.

Run: python3 -m pytest -q -p no:cacheprovider tests/fault/test_history_checker.py
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import history_checker  # noqa: E402
from history_checker import HistoryError, check  # noqa: E402

SCRIPT = HERE / "history_checker.py"


# ---------------------------------------------------------------- builders

def op(client, kind, id_, start, end, ok=True, **extra):
    return {"type": "op", "client": client, "op": kind, "id": id_,
            "start": start, "end": end, "ok": ok, **extra}


def put(client, id_, value, start, end, ok=True):
    return op(client, "set", id_, start, end, ok, value=value)


def get(client, id_, result, start, end, ok=True):
    return op(client, "get", id_, start, end, ok, result=result)


def app(client, id_, value, start, end, ok=True):
    return op(client, "append", id_, start, end, ok, value=value)


def delete(client, id_, start, end, ok=True):
    return op(client, "delete", id_, start, end, ok)


def final(id_, value, replicas=None):
    rec = {"type": "final", "id": id_, "value": value}
    if replicas is not None:
        rec["replicas"] = replicas
    return rec


def fault(at, what):
    return {"type": "fault", "at": at, "what": what}


def found(report):
    """The (property, kind) pairs of a report's violations, in order."""
    return [(v["property"], v["kind"]) for v in report.violations]


def run_cli(args, stdin_text=None):
    return subprocess.run([sys.executable, str(SCRIPT), *args], input=stdin_text,
                          capture_output=True, text=True, timeout=60)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# ------------------------------------------------------- correct histories

def test_concurrent_sets_and_reads_during_writes_pass():
    history = [
        put("c1", "k", "v1", 1.0, 3.0),
        put("c2", "k", "v2", 2.0, 4.0),
        get("c3", "k", None, 0.5, 1.5),      # before any write took effect
        get("c3", "k", "v1", 2.5, 3.5),      # during the writes: either value
        get("c4", "k", "v2", 2.6, 3.6),
        get("c3", "k", "v1", 5.0, 6.0),      # overlapping writes: v1 may win
        fault(2.2, "sigkill w2"),
        final("k", "v1"),
    ]
    report = check(history)
    assert report.violations == []
    assert report.ok
    assert report.counts["reads_checked"] == 4
    assert report.counts["faults"] == 1


def test_either_concurrent_value_may_be_final():
    history = [put("c1", "k", "v1", 1.0, 3.0), put("c2", "k", "v2", 2.0, 4.0)]
    assert check(history + [final("k", "v1")]).ok
    assert check(history + [final("k", "v2")]).ok


def test_indeterminate_write_applied_or_not_both_pass():
    history = [
        put("c1", "k", "v1", 0.0, 1.0),
        put("c2", "k", "v2", 2.0, 3.0, ok=None),
        get("c1", "k", "v1", 4.0, 5.0),       # v2 not (yet) applied
        get("c1", "k", "v2", 6.0, 7.0),       # v2 applied late
    ]
    assert check(history + [final("k", "v2")]).ok
    assert check(history + [final("k", "v1")]).ok


def test_deletes_pass():
    history = [
        put("c1", "k", "v1", 0.0, 1.0),
        delete("c2", "k", 2.0, 3.0),
        get("c1", "k", "v1", 2.1, 2.9),       # during the delete
        get("c1", "k", None, 4.0, 5.0),
        put("c1", "k", "v2", 6.0, 7.0, ok=None),
        final("k", None),
        get("c3", "never", None, 1.0, 2.0),
        final("never", None),
    ]
    report = check(history)
    assert report.violations == []
    assert report.counts["ids_checked"] == 2


def test_interleaved_appends_from_two_clients_pass():
    history = [
        app("c1", "a", "c1-0;", 0.0, 1.0),
        app("c2", "a", "c2-0;", 0.5, 1.5),
        get("c3", "a", "c2-0;", 0.6, 0.9),    # c1-0 still in flight
        app("c1", "a", "c1-1;", 2.0, 3.0),
        get("c3", "a", "c2-0;c1-0;", 1.6, 1.9),
        app("c2", "a", "c2-1;", 2.5, 3.5, ok=None),  # indeterminate, not applied
        app("c2", "a", "c2-2;", 4.0, 5.0),
        get("c3", "a", "c2-0;c1-0;c1-1;c2-2;", 5.5, 6.0),
        final("a", "c2-0;c1-0;c1-1;c2-2;",
              replicas={"w1": "c2-0;c1-0;c1-1;c2-2;", "w2": "c2-0;c1-0;c1-1;c2-2;"}),
    ]
    report = check(history)
    assert report.violations == []
    assert report.counts["replica_missing"] == 0


def test_indeterminate_append_applied_passes():
    history = [
        app("c1", "a", "c1-0;", 0.0, 1.0),
        app("c1", "a", "c1-1;", 2.0, 3.0, ok=None),
        final("a", "c1-0;c1-1;"),
    ]
    assert check(history).ok


def test_failed_set_seen_before_any_later_acked_write_is_allowed():
    history = [
        put("c1", "k", "v1", 0.0, 1.0),
        put("c2", "k", "bad", 2.0, 3.0, ok=False),
        get("c1", "k", "bad", 3.5, 4.0),      # no acked write started after it
        put("c1", "k", "v3", 5.0, 6.0),
        final("k", "v3"),
    ]
    assert check(history).ok


# --------------------------------------------------------- (a) lost writes

def test_lost_acked_set():
    history = [put("c1", "k", "v1", 0.0, 1.0), put("c2", "k", "v2", 2.0, 3.0),
               final("k", "v1")]
    report = check(history)
    assert found(report) == [("a", "lost-write")]
    assert report.counts["violations"] == {"a": 1, "b": 0, "c": 0, "d": 0}
    assert "v2" in report.violations[0]["detail"]


def test_lost_acked_set_final_not_found():
    history = [put("c1", "k", "v1", 0.0, 1.0), final("k", None)]
    assert found(check(history)) == [("a", "lost-write")]


def test_phantom_final_value():
    history = [put("c1", "k", "v1", 0.0, 1.0), final("k", "ghost")]
    assert found(check(history)) == [("a", "phantom")]


def test_missing_acked_append():
    history = [
        app("c1", "a", "c1-0;", 0.0, 1.0),
        app("c1", "a", "c1-1;", 2.0, 3.0),
        final("a", "c1-0;"),
    ]
    report = check(history)
    assert found(report) == [("a", "lost-append")]
    assert "c1-1;" in report.violations[0]["detail"]


# --------------------------------------------------------- (b) stale reads

def test_stale_read_after_acked_overwrite():
    history = [
        put("c1", "k", "v1", 0.0, 1.0),
        put("c1", "k", "v2", 2.0, 3.0),
        get("c2", "k", "v1", 4.0, 5.0),
        final("k", "v2"),
    ]
    report = check(history)
    assert found(report) == [("b", "stale-read")]
    violation = report.violations[0]
    assert (violation["id"], violation["client"], violation["start"]) == ("k", "c2", 4.0)


def test_stale_not_found_after_acked_set():
    history = [put("c1", "k", "v1", 0.0, 1.0), get("c2", "k", None, 2.0, 3.0),
               final("k", "v1")]
    assert found(check(history)) == [("b", "stale-read")]


def test_stale_read_after_acked_delete():
    history = [put("c1", "k", "v1", 0.0, 1.0), delete("c1", "k", 2.0, 3.0),
               get("c2", "k", "v1", 4.0, 5.0), final("k", None)]
    assert found(check(history)) == [("b", "stale-read")]


def test_future_read():
    history = [get("c2", "k", "v1", 1.0, 2.0), put("c1", "k", "v1", 5.0, 6.0),
               final("k", "v1")]
    assert found(check(history)) == [("b", "future-read")]


def test_phantom_read():
    history = [put("c1", "k", "v1", 0.0, 1.0), get("c2", "k", "other", 2.0, 3.0),
               final("k", "v1")]
    assert found(check(history)) == [("b", "phantom-read")]


def test_append_read_missing_earlier_acked_token():
    history = [
        app("c1", "a", "c1-0;", 0.0, 1.0),
        app("c2", "a", "c2-0;", 2.0, 3.0),
        get("c3", "a", "c1-0;", 4.0, 5.0),
        final("a", "c1-0;c2-0;"),
    ]
    assert found(check(history)) == [("b", "stale-read")]


def test_failed_or_unsuccessful_gets_are_not_checked():
    history = [put("c1", "k", "v1", 0.0, 1.0),
               get("c2", "k", "junk", 2.0, 3.0, ok=False),
               get("c2", "k", "junk", 2.0, 3.0, ok=None),
               final("k", "v1")]
    report = check(history)
    assert report.ok
    assert report.counts["reads_checked"] == 0


# ------------------------------------------- (c) append integrity, replicas

def test_duplicated_append_token():
    history = [app("c1", "a", "c1-0;", 0.0, 1.0, ok=None), app("c1", "a", "c1-1;", 2.0, 3.0),
               final("a", "c1-0;c1-0;c1-1;")]
    assert found(check(history)) == [("c", "duplicate-token")]


def test_duplicated_token_in_read():
    history = [app("c1", "a", "c1-0;", 0.0, 1.0), get("c2", "a", "c1-0;c1-0;", 2.0, 3.0),
               final("a", "c1-0;")]
    assert found(check(history)) == [("c", "duplicate-token")]


def test_out_of_order_client_tokens():
    history = [
        app("c1", "a", "c1-0;", 0.0, 1.0),
        app("c2", "a", "c2-0;", 0.0, 1.0),
        app("c1", "a", "c1-1;", 2.0, 3.0),
        final("a", "c1-1;c2-0;c1-0;"),
    ]
    report = check(history)
    assert found(report) == [("c", "out-of-order")]
    assert "c1" in report.violations[0]["detail"]


def test_differing_replicas():
    history = [app("c1", "a", "c1-0;", 0.0, 1.0), app("c1", "a", "c1-1;", 2.0, 3.0),
               final("a", "c1-0;c1-1;", replicas={"w1": "c1-0;c1-1;", "w2": "c1-0;"})]
    report = check(history)
    assert found(report) == [("c", "replica-mismatch")]
    assert "w2" in report.violations[0]["detail"]


def test_replica_missing_is_counted_not_a_violation():
    history = [app("c1", "a", "c1-0;", 0.0, 1.0),
               final("a", "c1-0;", replicas={"w1": "c1-0;", "w2": None})]
    report = check(history)
    assert report.ok
    assert report.counts["replica_missing"] == 1


# ------------------------------------------------ (d) failed writes shadow

def test_failed_set_observed_by_later_read():
    history = [
        put("c1", "k", "bad", 2.0, 3.0, ok=False),
        put("c2", "k", "good", 2.5, 4.0),        # acked, started after the failed set
        get("c3", "k", "bad", 5.0, 6.0),
        final("k", "good"),
    ]
    report = check(history)
    assert found(report) == [("d", "failed-set-observed")]
    assert report.counts["violations"]["b"] == 0


def test_failed_set_as_final_value():
    history = [put("c1", "k", "bad", 2.0, 3.0, ok=False), put("c2", "k", "good", 4.0, 5.0),
               final("k", "bad")]
    assert found(check(history)) == [("d", "failed-set-observed")]


def test_failed_append_applied():
    history = [
        app("c1", "a", "c1-0;", 0.0, 1.0),
        app("c1", "a", "c1-1;", 2.0, 3.0, ok=False),
        final("a", "c1-0;c1-1;"),
    ]
    assert found(check(history)) == [("d", "failed-append-applied")]


# ------------------------------------------------------ input and the CLI

def test_mixed_kinds_on_one_id_is_an_input_error():
    with pytest.raises(HistoryError, match="record 2"):
        check([app("c1", "x", "c1-0;", 0.0, 1.0), put("c1", "x", "v", 2.0, 3.0)])


def test_api_missing_field_names_record():
    bad = put("c1", "k", "v1", 0.0, 1.0)
    del bad["end"]
    with pytest.raises(HistoryError, match=r"record 1: missing field 'end'"):
        check([bad])


def test_duplicate_set_value_is_an_input_error():
    with pytest.raises(HistoryError, match="unique"):
        check([put("c1", "k", "v", 0.0, 1.0), put("c2", "k2", "v", 0.0, 1.0)])


def test_cli_malformed_line_exits_2_with_line_number(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text(json.dumps(put("c1", "k", "v1", 0.0, 1.0)) + "\n{not json\n")
    result = run_cli([str(path)])
    assert result.returncode == 2
    assert "line 2" in result.stderr
    assert result.stdout == ""


def test_cli_missing_field_and_unknown_type_exit_2(tmp_path):
    no_ok = put("c1", "k", "v1", 0.0, 1.0)
    del no_ok["ok"]
    result = run_cli(["-"], stdin_text="\n" + json.dumps(no_ok) + "\n")
    assert result.returncode == 2
    assert "line 2" in result.stderr and "'ok'" in result.stderr
    result = run_cli(["-"], stdin_text=json.dumps({"type": "mystery"}) + "\n")
    assert result.returncode == 2
    assert "line 1" in result.stderr and "unknown record type" in result.stderr


def test_cli_json_output_is_parseable(tmp_path):
    path = write_jsonl(tmp_path / "h.jsonl", [
        put("c1", "k", "v1", 0.0, 1.0), put("c1", "k", "v2", 2.0, 3.0),
        get("c2", "k", "v1", 4.0, 5.0), fault(1.5, "pause w1"), final("k", "v2")])
    result = run_cli(["--json", str(path)])
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["counts"]["violations"]["b"] == 1
    assert data["counts"]["ops"]["set"]["acked"] == 2
    assert data["counts"]["faults"] == 1
    assert [(v["property"], v["id"]) for v in data["violations"]] == [("b", "k")]


def test_cli_clean_history_exits_0_with_table(tmp_path):
    path = write_jsonl(tmp_path / "h.jsonl", [
        put("c1", "k", "v1", 0.0, 1.0), get("c2", "k", "v1", 2.0, 3.0), final("k", "v1")])
    result = run_cli([str(path)])
    assert result.returncode == 0, result.stderr
    assert "acked" in result.stdout and "reads checked" in result.stdout
    assert "RESULT: OK" in result.stdout


def test_human_output_lists_at_most_20_violations():
    history = [put("c1", f"k{i}", f"v{i}", 0.0, 1.0) for i in range(25)]
    history += [final(f"k{i}", "x" * 100 + str(i)) for i in range(25)]
    report = check(history)
    assert report.counts["violations"]["a"] == 25
    text = history_checker.format_human(report)
    lines = [line for line in text.splitlines() if line.startswith("  (a)")]
    assert len(lines) == 20
    assert "... and 5 more" in text
    assert all(len(line) < 200 for line in lines)   # values shortened


def test_counts_by_op_and_outcome():
    history = [
        put("c1", "k", "v1", 0.0, 1.0), put("c1", "k", "v2", 1.0, 2.0, ok=False),
        delete("c1", "k", 2.0, 3.0, ok=None), get("c1", "k", None, 4.0, 5.0),
        app("c1", "a", "c1-0;", 0.0, 1.0),
    ]
    counts = check(history).counts
    assert counts["operations"] == 5
    assert counts["ops"]["set"] == {"acked": 1, "failed": 1, "indeterminate": 0}
    assert counts["ops"]["delete"]["indeterminate"] == 1
    assert counts["by_ok"] == {"acked": 3, "failed": 1, "indeterminate": 1}


def test_large_history_is_fast():
    history, t = [], 0.0
    for i in range(60_000):
        key = f"k{i % 50}"
        history.append(put("c1", key, f"v{i}", t, t + 0.001))
        history.append(get("c2", key, f"v{i}", t + 0.002, t + 0.003))
        t += 0.01
    for i in range(20_000):
        history.append(app("c1", "a", f"c1-{i};", t, t + 0.001))
        t += 0.01
    history.append(final("a", "".join(f"c1-{i};" for i in range(20_000))))
    began = time.monotonic()
    report = check(history)
    assert report.ok
    assert time.monotonic() - began < 20


# ------------------------------- append contents examined once (ContentLog)

def appends(specs):
    """AppendIndex over (client, n, start, end, ok) appends on id "a"."""
    ops = [history_checker.validate_record(app(c, "a", f"{c}-{n};", s, e, ok), f"record {i}")
           for i, (c, n, s, e, ok) in enumerate(specs, start=1)]
    return history_checker.AppendIndex(ops)


def reference_examine(index, content, acked_cutoff, seen_before):
    """The checker's rules written as one plain rescan of the content (the oracle)."""
    found_ = history_checker.ContentFindings()
    present, last_n = set(), {}
    for token in history_checker.split_tokens(content):
        if token in present:
            if token not in found_.duplicated:
                found_.duplicated.append(token)
            continue
        present.add(token)
        append = index.by_token.get(token)
        if append is None:
            found_.unknown.append(token)
            continue
        if append.ok is False:
            found_.failed.append(token)
        if append.start >= seen_before:
            found_.future.append(token)
        client, n = history_checker.parse_token(token)
        if client in last_n and n <= last_n[client] and client not in found_.disordered:
            found_.disordered.append(client)
        last_n[client] = max(n, last_n.get(client, n))
    need = index.acked_before(acked_cutoff)
    found_.missing = [t for t, r in index.acked_rank.items() if r < need and t not in present]
    return found_


def examine(index, content, cutoff=0.0, seen_before=math.inf):
    return history_checker.examine_content(index, content, acked_cutoff=cutoff,
                                           seen_before=seen_before)


SIX = [("c1", n, 2.0 * n, 2.0 * n + 1, True) for n in range(6)]


def test_extension_examines_only_new_tokens_and_prefixes_none():
    index = appends(SIX)
    whole = "".join(f"c1-{n};" for n in range(6))
    for cut in (2, 4, 6):          # each read extends the one before it
        assert examine(index, whole[: 5 * cut]) == history_checker.ContentFindings()
    examine(index, whole[:10])     # a prefix seen later: no rescan either
    assert len(index.logs) == 1 and index.logs[0].count == 6


def test_growing_reads_are_examined_in_linear_time():
    index = appends([("c1", n, float(n), n + 0.5, True) for n in range(3000)])
    content = ""
    for n in range(3000):
        content += f"c1-{n};"
        assert examine(index, content, cutoff=n + 0.6, seen_before=n + 1.0).missing == []
    assert len(index.logs) == 1 and index.logs[0].count == 3000


def test_duplicate_in_the_middle_of_an_extension():
    index = appends(SIX)
    assert examine(index, "c1-0;c1-1;") == history_checker.ContentFindings()
    found_ = examine(index, "c1-0;c1-1;c1-2;c1-1;c1-3;")
    assert found_.duplicated == ["c1-1;"] and found_.disordered == []
    # the shorter prefix, asked again after the extension, is still clean
    assert examine(index, "c1-0;c1-1;c1-2;").duplicated == []


def test_out_of_order_token_in_an_extension():
    index = appends(SIX + [("c2", 0, 0.0, 1.0, True)])
    examine(index, "c1-0;c2-0;c1-1;")
    assert examine(index, "c1-0;c2-0;c1-1;c1-3;c1-2;c1-4;").disordered == ["c1"]
    assert examine(index, "c1-0;c2-0;c1-1;c1-3;").disordered == []


def test_unknown_and_failed_tokens_in_an_extension():
    index = appends(SIX + [("c2", 0, 0.0, 1.0, False)])
    examine(index, "c1-0;")
    found_ = examine(index, "c1-0;c9-9;c1-1;c2-0;c1-2;")
    assert found_.unknown == ["c9-9;"] and found_.failed == ["c2-0;"]


def test_missing_token_that_the_log_holds_later():
    index = appends(SIX)
    examine(index, "c1-1;c1-2;c1-3;c1-0;")   # the log holds c1-0 at position 3
    found_ = examine(index, "c1-1;c1-2;", cutoff=6.5)   # c1-0..c1-2 acked by then
    assert found_.missing == ["c1-0;"]
    assert examine(index, "c1-1;c1-2;c1-3;c1-0;", cutoff=6.5).missing == []
    index = appends(SIX)
    examine(index, "c1-1;c1-0;")                # right after the prefix asked next
    assert examine(index, "c1-1;", cutoff=3.5).missing == ["c1-0;"]


def test_future_token_only_within_the_prefix():
    index = appends(SIX)
    examine(index, "c1-0;c1-1;c1-2;c1-3;")
    assert examine(index, "c1-0;c1-1;", seen_before=3.0).future == []
    assert examine(index, "c1-0;c1-1;c1-2;c1-3;", seen_before=3.0).future == ["c1-2;", "c1-3;"]
    index = appends(SIX)
    examine(index, "c1-0;c1-0;c1-1;c1-2;")   # a duplicate before the prefix's end
    assert examine(index, "c1-0;c1-0;c1-1;", seen_before=2.0).future == ["c1-1;"]


def test_torn_token_and_a_fork_start_logs_of_their_own():
    index = appends(SIX)
    examine(index, "c1-0;c1-1;c1-2;")
    assert examine(index, "c1-0;c1-1;c1-").unknown == ["c1-"]        # not at a boundary
    assert examine(index, "c1-0;c1-1;c1-2;c1-").unknown == ["c1-"]   # extends, partial end
    assert examine(index, "c1-0;c1-3;c1-2;").disordered == ["c1"]    # diverges after c1-0
    assert examine(index, "c1-0;c1-1;c1-2;c1-3;c1-").unknown == ["c1-"]  # partial log: not extended
    assert examine(index, "c1-0;c1-1;").unknown == []


def test_diverging_contents_keep_the_busy_log_and_at_most_max_logs():
    index = appends(SIX)
    whole = "".join(f"c1-{n};" for n in range(6))
    examine(index, whole[:10])
    main = index.logs[0]
    for i in range(3 * index.MAX_LOGS):
        assert examine(index, f"c1-0;x-{i};").unknown == [f"x-{i};"]
        examine(index, whole[: 5 * (2 + i % 5)])
    assert len(index.logs) == index.MAX_LOGS and main in index.logs
    assert main.count == 6


def test_examined_contents_match_a_full_rescan():
    rng = random.Random(16)
    specs = [(c, n, rng.uniform(0, 20), 0.0, rng.choice([True, True, True, None, False]))
             for c in ("c1", "c2", "c3") for n in range(12)]
    specs = [(c, n, s, s + rng.uniform(0, 3), ok) for c, n, s, _, ok in specs]
    tokens = [f"{c}-{n};" for c, n, *_ in specs] + ["x-1;", "c4-2"]
    for trial in range(40):
        index = appends(specs)
        seen = [""]
        for _ in range(60):
            base = rng.choice(seen)
            roll = rng.random()
            if roll < 0.5:        # extend
                content = base + "".join(rng.choice(tokens) for _ in range(rng.randrange(1, 4)))
            elif roll < 0.7:      # cut, sometimes inside a token
                content = base[: rng.randrange(len(base) + 1)]
            elif roll < 0.85:     # cut at a token, then diverge
                pieces = history_checker.split_tokens(base)
                content = "".join(pieces[: rng.randrange(len(pieces) + 1)]) + rng.choice(tokens)
            else:
                content = rng.choice(seen)
            seen.append(content)
            cutoff, seen_before = rng.uniform(-1, 25), rng.choice([rng.uniform(0, 25), math.inf])
            got = examine(index, content, cutoff, seen_before)
            assert got == reference_examine(index, content, cutoff, seen_before), (trial, content)
