"""Periodic background work and the app's clean stop."""

from __future__ import annotations

from typing import Any

import gevent

from chatbox.background import Periodic


def test_periodic_work_runs_again_after_a_failed_pass_and_stops_at_once() -> None:
    calls: list[int] = []

    def work() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("one bad pass")

    tasks: list[gevent.Greenlet] = []
    periodic = Periodic("test work", 0.01, work, spawn=lambda run: tasks.append(gevent.spawn(run)))
    assert periodic.start() is periodic and periodic.start() is periodic
    assert len(tasks) == 1, "starting twice starts one task"
    gevent.sleep(0.01)
    while len(calls) < 4:
        gevent.sleep(0.01)
    periodic.stop()
    tasks[0].join(timeout=30)
    assert tasks[0].dead and not periodic.running


def test_stop_wakes_a_task_that_sleeps_a_long_interval() -> None:
    tasks: list[gevent.Greenlet] = []
    periodic = Periodic("hourly", 3600, lambda: None, spawn=lambda run: tasks.append(gevent.spawn(run))).start()
    gevent.sleep(0)
    periodic.stop()
    tasks[0].join(timeout=30)
    assert tasks[0].dead, "stop() ends the task without waiting out its interval"


def test_the_runtime_stops_every_background_task(app: Any, api: Any) -> None:
    rt = app.extensions["chatbox"]
    rt.sessions.ensure_started()
    rt.sequencer.open("sid-1", "0" * 24)
    assert rt.sessions._sweeper.running and rt.sequencer._checker.running
    stopped: list[str] = []

    class Task:
        def stop(self) -> None:
            stopped.append("task")

    rt.background.append(Task())
    rt.stop()
    assert not rt.sessions._sweeper.running and not rt.sequencer._checker.running
    assert rt.sequencer.streams == {} and stopped == ["task"]
