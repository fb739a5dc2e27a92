"""Load: 8 concurrent clients with 3 requests each against one studio, served as a user starts it
(`python studio.py`) in a process of its own. Every request completes, to the client that asked, in
the order sent. Its figures, the server's memory round after round among them, are printed by
bench/load.py and recorded in docs/BENCHMARKS.md; the memory hand-back itself is tested in
tests/test_engine.py."""

from bench.load import run_load, served_studio
from sora_core.library import Library


def test_eight_clients_three_requests_each_all_complete_in_order(tmp_path):
    library = Library(tmp_path / "outputs")
    with served_studio(library.folder) as (url, _server):
        result = run_load(url, clients=8, requests=3, steps=2)
    assert result.errors == [] and result.wrong == []
    assert result.ok == 24

    # one generation at a time, first come first served: a request sent clearly after another (by more
    # than the few milliseconds a submission takes to reach the server) finishes after it
    finished = {c["seed"]: library.path(c["id"]).stat().st_mtime_ns for c in library.clips()}
    assert len(finished) == 24
    sent = dict((seed, at) for at, seed in result.submitted)
    for a in sent:
        for b in sent:
            if sent[a] + 0.3 < sent[b]:
                assert finished[a] < finished[b], f"request {b} overtook {a}"

