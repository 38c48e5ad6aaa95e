"""Counting the questions being answered: in one process, and across a server's worker processes."""

import multiprocessing
import os
import signal
import threading
import time

from qa_service.index.occupancy import Occupancy, SharedOccupancy


def test_a_question_is_alone_only_while_no_other_is_answered():
    occupancy = Occupancy()
    entered, leave, seen = threading.Event(), threading.Event(), []

    def other_question():
        with occupancy.busy() as alone:
            seen.append(alone)
            entered.set()
            leave.wait(30)

    with occupancy.busy() as first:
        assert first and occupancy.running() == 1
        other = threading.Thread(target=other_question)
        other.start()
        assert entered.wait(30)
        assert seen == [False] and occupancy.running() == 2
    assert occupancy.running() == 1
    with occupancy.busy() as alone:
        assert not alone
    leave.set()
    other.join(30)
    assert occupancy.running() == 0
    with occupancy.busy() as alone:
        assert alone


def _hold_a_question(occupancy: SharedOccupancy, slot: int, started) -> None:
    occupancy.slot = slot
    with occupancy.busy():
        started.set()
        time.sleep(60)  # killed long before


def test_questions_in_other_workers_count_and_a_killed_workers_count_is_cleared():
    fork = multiprocessing.get_context("fork")
    occupancy = SharedOccupancy(slots=2)
    mine, theirs = occupancy.assign(), occupancy.assign()
    occupancy.slot = mine
    started = fork.Event()
    other = fork.Process(target=_hold_a_question, args=(occupancy, theirs, started))
    other.start()
    try:
        assert started.wait(30)
        assert occupancy.running() == 1
        with occupancy.busy() as alone:
            assert not alone and occupancy.running() == 2
        os.kill(other.pid, signal.SIGKILL)
        other.join(30)
        assert occupancy.running() == 1, "the killed worker's question is still counted..."
        occupancy.release(theirs)
        assert occupancy.running() == 0, "...until the master clears its slot"
        with occupancy.busy() as alone:
            assert alone
        assert occupancy.assign() == theirs
    finally:
        if other.is_alive():
            other.kill()


def test_a_worker_past_the_last_slot_counts_its_own_questions_and_sees_the_others():
    """A reload starts new workers before the old ones leave, and SIGTTIN adds some: a worker that finds no free
    slot (never with SLOTS slots on a real machine) still counts rightly, but is not seen by the others."""
    fork = multiprocessing.get_context("fork")
    occupancy = SharedOccupancy(slots=1)
    theirs = occupancy.assign()
    assert occupancy.assign() is None  # the master warns, and the worker runs without a slot
    started = fork.Event()
    other = fork.Process(target=_hold_a_question, args=(occupancy, theirs, started))
    other.start()
    try:
        assert started.wait(30)
        with occupancy.busy() as alone:  # this process has no slot
            assert not alone and occupancy.running() == 2
        assert occupancy.running() == 1
    finally:
        other.kill()
        other.join(30)
    occupancy.release(None)  # the slot-less worker's exit: nothing to clear
    occupancy.release(theirs)
    assert occupancy.running() == 0 and occupancy.assign() == theirs
