"""The scheduler's settings and its host-wide folder (runner/sched/config.py)."""

from __future__ import annotations

import os

import pytest

from pitfalls.sched.config import Config, default_folder, parse_cpus, prepare_folder
from pitfalls.sched.cpuset import thread_env
from pitfalls.sched.errors import SchedulerError


def test_cpu_lists_parse_like_the_kernels():
    assert parse_cpus("0-3,6") == (0, 1, 2, 3, 6)
    assert parse_cpus("5") == (5,)
    for bad in ("", "a", "3-x", "-1"):
        with pytest.raises(SchedulerError, match="PITFALLS_SCHED_CPUS must be a CPU list"):
            parse_cpus(bad)


def test_slots_split_the_cpus_into_fixed_disjoint_sets(tmp_path):
    assert Config(folder=tmp_path, cpus=(0, 1, 2, 3, 4), cores_per_job=2).slots == ((0, 1), (2, 3))  # 4 unused
    with pytest.raises(SchedulerError, match="CORES_PER_JOB must be at most the number of CPUs"):
        Config(folder=tmp_path, cpus=(0, 1), cores_per_job=3)


def test_settings_come_from_the_environment(tmp_path):
    env = {"PITFALLS_SCHED_DIR": str(tmp_path), "PITFALLS_SCHED_CPUS": "0", "PITFALLS_SCHED_MAX_QUEUE": "5"}
    cfg = Config.from_env(env)
    assert (cfg.folder, cfg.slots, cfg.max_queue, cfg.use_cgroups) == (tmp_path, ((0,),), 5, True)
    assert not Config.from_env({**env, "PITFALLS_SCHED_CGROUPS": "0"}).use_cgroups
    assert Config.from_env({**env, "PITFALLS_SCHED_CPUS": "", "PITFALLS_SCHED_CORES": "1"}).slots == (
        (min(os.sched_getaffinity(0)),),)
    with pytest.raises(SchedulerError, match="PITFALLS_SCHED_CPUS must name online CPUs"):
        Config.from_env({**env, "PITFALLS_SCHED_CPUS": "0,4096"})
    with pytest.raises(SchedulerError, match="CORES_PER_JOB must be a whole number >= 1. Got 'zero'"):
        Config.from_env({**env, "PITFALLS_SCHED_CORES_PER_JOB": "zero"})
    with pytest.raises(SchedulerError, match="MAX_QUEUE must be a whole number >= 1. Got '0'"):
        Config.from_env({**env, "PITFALLS_SCHED_MAX_QUEUE": "0"})


def test_defaults_fit_this_host_and_the_folder_ignores_pitfalls_home(monkeypatch, tmp_path):
    monkeypatch.setenv("PITFALLS_HOME", str(tmp_path / "a"))
    cfg = Config.from_env({})
    assert cfg.folder == default_folder()
    assert str(tmp_path) not in str(cfg.folder)
    assert cfg.slots == tuple((c,) for c in sorted(os.sched_getaffinity(0)))  # one core per job


def test_the_folder_must_be_private(tmp_path):
    open_folder = tmp_path / "open"
    open_folder.mkdir(mode=0o777)
    os.chmod(open_folder, 0o777)
    with pytest.raises(SchedulerError, match="must be a directory owned by uid .* with mode 0700. Got .*mode 777"):
        prepare_folder(Config(folder=open_folder, cpus=(0,)))
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    with pytest.raises(SchedulerError, match="Got a link"):
        prepare_folder(Config(folder=tmp_path / "link", cpus=(0,)))


def test_every_process_must_use_the_same_layout(tmp_path):
    prepare_folder(Config(folder=tmp_path / "s", cpus=(0, 1), cores_per_job=1))
    prepare_folder(Config(folder=tmp_path / "s", cpus=(0, 1), cores_per_job=1))
    with pytest.raises(SchedulerError, match=r"CPU slots must be the same .* Got \[\[0\], \[1\]\] there and \[\[0, 1\]\]"):
        prepare_folder(Config(folder=tmp_path / "s", cpus=(0, 1), cores_per_job=2))


def test_thread_env_sizes_every_pool_to_the_slot():
    env = thread_env(2)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "OMP_THREAD_LIMIT"):
        assert env[name] == "2"
