"""benchmarks/compare_evals.py applies the shipping rule to eval JSONs as a person would read them."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks import load_benchmark


def _report(psnrs: list[float], glossy: float, seeds: list[int] | None = None) -> dict:
    """A `worldsim eval` metrics.json cut down to what the comparison reads."""
    seeds = seeds or list(range(len(psnrs)))
    return {"overall": {"psnr": sum(psnrs) / len(psnrs), "ssim": 0.9, "flip": 0.2, "psnr_objects": 21.0},
            "per_clip": [{"scene_seed": s, "summary": {"psnr": p}} for s, p in zip(seeds, psnrs, strict=True)],
            "by_surface": {"glossy": {"psnr": glossy}, "metal": {"psnr": float("nan")}}}


def _write(tmp_path, name: str, report: dict) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(report))
    return str(path)


def test_the_gain_counts_clips_up_and_their_spread_and_each_surface():
    compare = load_benchmark("compare_evals").compare
    result = compare(_report([26.0, 28.0, 30.0], glossy=25.0), _report([26.5, 27.0, 31.5], glossy=25.3))
    assert result["gain"] == pytest.approx(1.0 / 3)
    assert (result["clips_up"], result["clips"]) == (2, 3)
    assert result["clip_gain_range"] == pytest.approx((-1.0, 1.5))
    assert result["surface_gain"]["glossy"] == pytest.approx(0.3)


def test_a_candidate_worse_on_one_set_fails_and_one_better_on_both_passes(tmp_path, capsys):
    main = load_benchmark("compare_evals").main
    base_a = _write(tmp_path, "base_a", _report([26.0, 27.0], 25.0))
    base_b = _write(tmp_path, "base_b", _report([28.0, 29.0], 25.0))
    better_a = _write(tmp_path, "good_a", _report([26.2, 27.1], 25.1))
    better_b = _write(tmp_path, "good_b", _report([28.1, 29.0], 25.0))
    worse_b = _write(tmp_path, "bad_b", _report([27.5, 29.1], 25.0))  # one clip up, the mean down
    assert main([base_a, better_a, base_b, better_b]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main([base_a, better_a, base_b, worse_b]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 of 2 clips up" in out


def test_evals_of_different_clips_or_not_an_eval_are_refused_naming_the_file(tmp_path, capsys):
    main = load_benchmark("compare_evals").main
    base = _write(tmp_path, "base", _report([26.0, 27.0], 25.0))
    other = _write(tmp_path, "other_seed", _report([26.5, 27.5], 25.0, seeds=[7, 8]))
    assert main([base, other]) == 2
    assert "other_seed.json" in capsys.readouterr().err
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    assert main([base, str(junk)]) == 2
    assert "junk.json" in capsys.readouterr().err
    old_eval = _report([26.5, 27.5], 25.0)
    del old_eval["overall"]["flip"]
    assert main([base, _write(tmp_path, "before_flip", old_eval)]) == 2
    assert "before_flip.json" in capsys.readouterr().err
    assert main([base]) == 2
