"""Load: 8 concurrent clients with 3 requests each against one studio (the figures are printed
by bench/load.py and recorded in docs/RELIABILITY.md)."""

import gc

import psutil

from bench.load import run_load


def test_eight_clients_three_requests_each_all_complete_in_order(studio):
    url, engine = studio
    run_load(url, 8, 1, steps=2)  # warm up: the model, the queue and 8 clients' worth of buffers
    for clip in engine.library.clips():
        engine.library.delete(clip["id"])
    gc.collect()
    before = psutil.Process().memory_info().rss
    result = run_load(url, clients=8, requests=3, steps=2)
    assert result.errors == [] and result.wrong == []
    assert result.ok == 24

    # one generation at a time, first come first served: a request sent clearly after another (by more
    # than the few milliseconds a submission takes to reach the server) finishes after it
    finished = {c["seed"]: engine.library.path(c["id"]).stat().st_mtime_ns for c in engine.library.clips()}
    sent = dict((seed, at) for at, seed in result.submitted)
    for a in sent:
        for b in sent:
            if sent[a] + 0.3 < sent[b]:
                assert finished[a] < finished[b], f"request {b} overtook {a}"

    gc.collect()
    grown = psutil.Process().memory_info().rss - before
    # the 8 clients live in this process too, so some growth is theirs
    assert grown < 128 * 2**20, f"memory grew by {grown / 2**20:.0f} MB"
