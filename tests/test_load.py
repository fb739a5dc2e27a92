"""Load: 8 concurrent clients with 3 requests each against one studio, served as a user starts it
(`python studio.py`) in a process of its own, so its memory is measured apart from the clients'
(the figures are printed by bench/load.py and recorded in docs/BENCHMARKS.md)."""

from bench.load import run_load, served_studio
from sora_core.library import Library


def test_eight_clients_three_requests_each_all_complete_in_order(tmp_path):
    library = Library(tmp_path / "outputs")
    with served_studio(library.folder) as (url, server):
        run_load(url, 8, 3, steps=2)  # warm up: the model, the queue, buffers for this much traffic
        for clip in library.clips():
            library.delete(clip["id"])
        before = server.memory_info().rss
        result = run_load(url, clients=8, requests=3, steps=2)
        after = server.memory_info().rss
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

    # the same load again leaves the server's memory where the first round left it (without
    # `release_free_memory` it grew by ~36 MB a round here, round after round)
    grown = after - before
    assert grown < 16 * 2**20, f"the server's memory grew by {grown / 2**20:.0f} MB"
