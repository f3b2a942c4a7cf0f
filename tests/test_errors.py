"""The error tree as a server sees it: a stable code and an HTTP status per class, a
JSON body, the field at fault; and the warnings in their own tree."""

from __future__ import annotations

import pickle
import re
import warnings

import pytest

from loopml import errors

ERRORS = [
    value
    for value in vars(errors).values()
    if isinstance(value, type) and issubclass(value, errors.LoopmlError)
]
STATUSES = {400, 404, 409, 422, 500, 503}


def test_every_error_class_has_its_own_code_and_a_status() -> None:
    assert len(ERRORS) >= 25
    codes = {}
    for cls in ERRORS:
        assert "code" in vars(cls), f"{cls.__name__} inherits its code"
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code), cls.code
        assert cls.code not in codes, f"{cls.__name__} and {codes.get(cls.code)}"
        codes[cls.code] = cls.__name__
        assert cls.http_status in STATUSES, f"{cls.__name__}: {cls.http_status}"


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.InvalidInput, 400),
        (errors.InvalidURL, 400),
        (errors.NotFound, 404),
        (errors.BlobMissing, 500),  # the record is there, its bytes were lost
        (errors.AlreadyExists, 409),
        (errors.PromotionRefused, 409),
        (errors.GateFailed, 422),
        (errors.ValidationFailed, 422),
        (errors.DigestMismatch, 500),
        (errors.StoreError, 500),
        (errors.StoreUnavailable, 503),
        (errors.ArtifactStoreUnavailable, 503),
        (errors.SchemaTooNew, 503),
    ],
)
def test_statuses_say_whose_fault_it_is(cls: type[errors.LoopmlError], status: int) -> None:
    assert cls.http_status == status


def test_the_json_body_names_the_field_only_when_known() -> None:
    bad = errors.InvalidInput("label 'y' is not a column; use x", field="label")
    assert bad.to_dict() == {
        "error": "label 'y' is not a column; use x",
        "code": "invalid_input",
        "field": "label",
    }
    assert errors.NotFound("no model named 'churn'").to_dict() == {
        "error": "no model named 'churn'",
        "code": "not_found",
    }
    assert errors.InvalidInput("no").to_dict() == {"error": "no", "code": "invalid_input"}
    setting = errors.InvalidURL("store URL 'x' is not a database URL", field="store")
    assert (setting.field, setting.to_dict()["code"]) == ("store", "invalid_url")
    failed = errors.StepFailed("step a failed", step="a", run_id="r", traceback="tb")
    assert failed.to_dict() == {"error": "step a failed", "code": "step_failed"}


def test_the_field_survives_a_trip_to_another_process() -> None:
    bad = pickle.loads(pickle.dumps(errors.InvalidInput("workers is 0", field="workers")))
    assert (type(bad), str(bad), bad.field) == (errors.InvalidInput, "workers is 0", "workers")
    gate = pickle.loads(
        pickle.dumps(
            errors.ValidationFailed("v", step="s", run_id="r", traceback="t", alert_id="a")
        )
    )
    assert (gate.code, gate.alert_id, gate.field) == ("validation_failed", "a", None)


def test_warnings_are_loopml_warnings_under_their_old_names() -> None:
    import loopml.evaluation._evaluate
    import loopml.models._base

    assert issubclass(errors.LoopmlWarning, UserWarning)
    for warning in (errors.OverlapWarning, errors.ModelVersionWarning):
        assert issubclass(warning, errors.LoopmlWarning)
        assert not issubclass(warning, errors.LoopmlError)
    assert loopml.evaluation.OverlapWarning is errors.OverlapWarning
    assert loopml.evaluation._evaluate.OverlapWarning is errors.OverlapWarning
    assert loopml.models.ModelVersionWarning is errors.ModelVersionWarning
    assert loopml.models._base.ModelVersionWarning is errors.ModelVersionWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.LoopmlWarning)
        with pytest.raises(errors.OverlapWarning):
            warnings.warn("rows overlap", errors.OverlapWarning, stacklevel=1)
