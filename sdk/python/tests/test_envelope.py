"""`Envelope.split` / `wrap`: the same cases as protocol/src/envelope.rs."""

import pytest

from taylordash_sdk import Envelope, FailedGate, Feedback, InvalidInput, TaskInfo


def test_split_takes_only_the_envelope_keys():
    env, own = Envelope.split({
        "backlog": "b.yaml", "previous": {"a": 1}, "task": {"run_id": "r1", "attempt": 2},
        "feedback": {"failed_gates": [{"gate": "lint", "report": {"passed": False}}]},
        "shared_context": {"adr": "x"},
    })
    assert own == {"backlog": "b.yaml"}
    assert env.previous == {"a": 1}
    assert (env.task.run_id, env.task.attempt, env.task.stage) == ("r1", 2, "")
    assert env.feedback.gate_names() == ["lint"]
    assert env.shared_context == {"adr": "x"}


def test_null_keys_are_absent_and_a_non_object_passes_through():
    assert Envelope.split({"previous": None, "x": 1}) == (Envelope(), {"x": 1})
    assert Envelope.split([1, 2]) == (Envelope(), [1, 2])
    assert Envelope().is_empty()


def test_a_malformed_envelope_key_is_invalid_input():
    with pytest.raises(InvalidInput) as e:
        Envelope.split({"feedback": "retry"})
    assert e.value.message == 'envelope: feedback: invalid type: string "retry", expected an object (Feedback)'


def test_newer_task_fields_are_ignored():
    env, _ = Envelope.split({"task": {"run_id": "r", "future_field": 1}})
    assert env.task == TaskInfo(run_id="r")


def test_wrap_then_split_round_trips():
    env = Envelope(previous=[1], feedback=Feedback([FailedGate("lint", {"passed": False})]))
    wrapped = env.wrap({"x": True})
    assert wrapped == {"x": True, "previous": [1], "feedback": {"failed_gates": [{"gate": "lint", "report": {"passed": False}}]}}
    assert Envelope.split(wrapped) == (env, {"x": True})
