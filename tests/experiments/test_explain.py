"""``pagealloc explain``: one allocation stepped through with kernel function names."""

from __future__ import annotations

import json

import pytest

from pagealloc.cli import main
from pagealloc.experiments.explain import explain_alloc
from pagealloc.machine import Machine


def _functions(ex: object) -> list[str]:
    return [s.function for s in ex.steps]  # type: ignore[attr-defined]


def test_pcp_refill_then_hit() -> None:
    m = Machine(memory="1G", cpus=2)
    first = explain_alloc(m, "GFP_KERNEL", 0)
    bulk = [s for s in first.steps if s.function == "rmqueue_bulk"]
    assert len(bulk) == 1 and bulk[0].data["got"] == bulk[0].data["asked"] > 1
    assert bulk[0].data["pages"] == bulk[0].data["got"]
    assert "rmqueue_bulk" in first.render() and first.pfn is not None
    second = explain_alloc(m, "GFP_KERNEL", 0)
    pcp = [s for s in second.steps if s.function == "rmqueue_pcplist"]
    assert pcp and pcp[0].data["hit"] and "pcp hit" in pcp[0].text
    assert "rmqueue_bulk" not in _functions(second)
    assert second.pfn == first.pfn + 1
    assert second.result_line().startswith(f"=> pfn 0x{second.pfn:x} (order 0, migratetype Unmovable")


def _fragmented() -> Machine:
    m = Machine(memory="64M", cpus=1)
    got = []
    while (p := m.alloc_pages("GFP_NOWAIT|__GFP_MOVABLE", 0)) is not None:
        got.append(p)
    for p in got[::4]:
        m.free_pages(p, 0)
    m.drain_all_pages()
    return m


def test_fallback_claim_refused_then_steal() -> None:
    ex = explain_alloc(_fragmented(), "GFP_NOWAIT", 0)
    claims = [s for s in ex.steps if s.function == "try_to_claim_block"]
    assert claims and not any(s.data["claimed"] for s in claims)
    c = claims[0]
    assert c.data["free"] + c.data["alike"] < c.data["threshold"] == 256
    assert "vs threshold 256" in c.text
    assert "find_suitable_fallback" in _functions(ex) and "__rmqueue_steal" in _functions(ex)
    steal = next(s for s in ex.steps if s.function == "__rmqueue_steal")
    assert "stole" in steal.text and ex.pfn is not None


def test_whole_block_claim_on_fresh_machine() -> None:
    ex = explain_alloc(Machine(memory="1G", cpus=1), "GFP_KERNEL", 10)
    claim = next(s for s in ex.steps if s.function == "try_to_claim_block")
    assert claim.data["claimed"] and claim.data["whole"]


def test_unmapped_flip_v4() -> None:
    m = Machine(memory="1G", cpus=2, profile="unmapped-v4")
    ex = explain_alloc(m, "GFP_KERNEL", 0, unmapped=True)
    flips = [s for s in ex.steps if s.function == "__rmqueue_direct_map" and s.data.get("flipped")]
    assert len(flips) == 1 and "FLIPPED" in flips[0].text and "to unmapped" in flips[0].text
    assert ex.migratetype == "Unmovable|UNMAPPED" and ex.pfn is not None


def test_failed_request() -> None:
    m = Machine(memory="64M", cpus=1)
    while m.alloc_pages("GFP_NOWAIT", 10) is not None:
        pass
    ex = explain_alloc(m, "GFP_NOWAIT", 10)
    assert ex.pfn is None and ex.result_line() == "=> failed"
    fns = _functions(ex)
    assert "__alloc_pages_slowpath" in fns and "warn_alloc" in fns
    assert "wakeup_kswapd" in fns
    assert any(s.function == "zone_watermark_fast" for s in ex.steps)


def test_cli_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "GFP_KERNEL", "--memory", "1G", "--cpus", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("  1. prepare_alloc_pages(): ")
    assert out.rstrip().splitlines()[-1].startswith("=> pfn 0x")
    assert main(["explain", "GFP_KERNEL", "--memory", "1G", "--cpus", "2", "--order", "3",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["order"] == 3 and d["result"]["zone"] == "DMA32"
    assert isinstance(d["steps"], list) and d["steps"]
    for s in d["steps"]:
        assert set(s) == {"function", "text", "depth", "inferred", "data"}


def test_cli_unmapped_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "GFP_KERNEL", "--profile", "unmapped-v4", "--unmapped",
                 "--memory", "1G", "--cpus", "2"]) == 0
    assert "__rmqueue_direct_map(): FLIPPED" in capsys.readouterr().out


def test_cli_bad_gfp(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "GFP_KERNEL|__GFP_BOGUS", "--memory", "1G"]) == 2
    err = capsys.readouterr().err
    assert "GFP" in err and "__GFP_BOGUS" in err


def test_cli_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "GFP_KERNEL", "--scenario", "secretmem", "--after", "200",
                 "--memory", "1G", "--cpus", "2"]) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith("=>")


SNAP = "../shared/traces/linux-7.2/highorder/snap_before"


def test_cli_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    import os
    if not os.path.isdir(SNAP):
        pytest.skip(f"{SNAP} not present")
    assert main(["explain", "GFP_HIGHUSER_MOVABLE", "--order", "3", "--snapshot", SNAP]) == 0
    out = capsys.readouterr().out
    assert "zone_watermark_fast(): zone Normal" in out and "=> pfn 0x" in out
