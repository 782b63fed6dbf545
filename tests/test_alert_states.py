"""The alert state machine: pending before firing, hysteresis both ways, keep_firing_for, no-data policies."""

from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts.models import AlertRule
from monitor.alerts.states import Status, entry_check, step

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def rule(**fields) -> AlertRule:
    defaults = {"name": "r", "metric": "m", "warning": 85, "warning_clear": 80, "critical": 95, "critical_clear": 90}
    return AlertRule(**{**defaults, **fields})


def run(r: AlertRule, values: list, every: int = 15, status: Status | None = None) -> list[str]:
    """Feed values one evaluation apart; returns the state after each."""
    status = status or Status()
    states = []
    for i, value in enumerate(values):
        status = step(r, status, value, T0 + timedelta(seconds=every * i))
        states.append(status.state)
    return states


def test_a_crossing_is_pending_until_for_seconds_passed_then_fires():
    assert run(rule(for_seconds=30), [86, 86, 86, 86]) == ["pending", "pending", "warning", "warning"]


def test_pending_falls_back_to_ok_without_firing_when_the_value_drops():
    assert run(rule(for_seconds=30), [86, 70, 86]) == ["pending", "ok", "pending"]


def test_pending_remembers_which_severity_it_heads_for():
    status = step(rule(for_seconds=60), Status(), 97, T0)
    assert (status.state, status.pending_severity) == ("pending", "critical")


def test_without_for_seconds_it_fires_at_once():
    assert run(rule(), [86]) == ["warning"]


def test_warning_holds_until_past_its_clear_value():
    assert run(rule(), [86, 84, 81, 80, 79.9, 84]) == ["warning", "warning", "warning", "warning", "ok", "ok"]


def test_critical_de_escalates_to_warning_past_critical_clear_then_clears():
    states = run(rule(), [96, 93, 91, 89.9, 82, 79])
    assert states == ["critical", "critical", "critical", "warning", "warning", "ok"]


def test_warning_escalates_to_critical_and_keeps_its_firing_since():
    r = rule()
    first = step(r, Status(), 86, T0)
    second = step(r, first, 96, T0 + timedelta(seconds=15))
    assert (second.state, second.firing_since) == ("critical", T0)


def test_leaving_critical_below_warning_clear_goes_straight_to_ok():
    assert run(rule(), [96, 70]) == ["critical", "ok"]


def test_below_rules_mirror_the_thresholds():
    r = rule(direction="below", warning=10, warning_clear=15, critical=0, critical_clear=None)
    assert run(r, [12, 9, 14, 16, 0, 1]) == ["ok", "warning", "warning", "ok", "critical", "warning"]


def test_keep_firing_for_holds_a_cleared_alert_that_long():
    r = rule(keep_firing_for=30)
    assert run(r, [86, 70, 70, 70, 70]) == ["warning", "warning", "warning", "ok", "ok"]


def test_keep_firing_for_restarts_when_it_crosses_again():
    r = rule(keep_firing_for=30)
    status = Status()
    for i, value in enumerate([86, 70, 86, 70]):
        status = step(r, status, value, T0 + timedelta(seconds=15 * i))
    assert status.state == "warning" and status.cleared_since == T0 + timedelta(seconds=45)


def test_no_data_keep_leaves_the_state_as_it_was():
    assert run(rule(nodata="keep"), [96, None, None]) == ["critical", "critical", "critical"]


def test_a_gap_in_the_data_starts_a_pending_alert_over_even_when_no_data_keeps_the_state():
    # One sample past the line, an hour of nothing, one more: never `for` 120 s in a row.
    states = run(rule(nodata="keep", for_seconds=120), [86] + [None] * 240 + [86, 86])
    assert states[0] == "pending" and set(states[1:241]) == {"ok"} and states[-2:] == ["pending", "pending"]


def test_no_data_ok_clears_a_firing_alert():
    assert run(rule(nodata="ok"), [96, None]) == ["critical", "ok"]


def test_no_data_alert_goes_nodata_and_comes_back_with_the_data():
    assert run(rule(nodata="alert"), [None, None, 50, None, 86]) == ["nodata", "nodata", "ok", "nodata", "warning"]


def test_a_rule_without_thresholds_only_watches_for_silence():
    r = rule(warning=None, warning_clear=None, critical=None, critical_clear=None, nodata="alert")
    assert run(r, [1, None, 1]) == ["ok", "nodata", "ok"]


def test_a_value_on_the_line_enters_and_does_not_flap():
    r = rule(warning=85, warning_clear=None, critical=None, critical_clear=None)
    assert run(r, [85, 85, 85, 84.99]) == ["warning", "warning", "warning", "ok"]


def test_a_resolved_alert_keeps_the_severity_it_fired_with():
    from monitor.alerts.labels import alert_labels
    from monitor.alerts.models import Alert

    r = rule()
    status = step(r, Status(), 96, T0)
    status = step(r, status, 10, T0 + timedelta(seconds=15))
    assert (status.state, status.pending_severity) == ("ok", "critical")
    alert = Alert(state=status.state, pending_severity=status.pending_severity, labels={"alertname": "r"})
    assert alert_labels(alert)["severity"] == "critical"


@pytest.mark.parametrize("direction", ["above", "below"])
@pytest.mark.parametrize("nodata", ["ok", "keep", "alert"])
@pytest.mark.parametrize(
    "levels", [(85, 80, 95, 90), (85, None, None, None), (None, None, 95, None), (10, 15, 0, 5), (None,) * 4]
)
def test_the_fast_path_agrees_with_the_state_machine_for_an_ok_alert(direction, nodata, levels):
    warning, warning_clear, critical, critical_clear = levels
    if direction == "above" and levels == (10, 15, 0, 5):
        return
    r = rule(
        direction=direction,
        nodata=nodata,
        warning=warning,
        warning_clear=warning_clear,
        critical=critical,
        critical_clear=critical_clear,
    )
    stays_ok = entry_check(r)
    for value in [None, -1, 0, 5, 9.99, 10, 10.01, 15, 79, 80, 84.99, 85, 85.01, 90, 94.99, 95, 95.01, 200]:
        assert stays_ok(value) == (step(r, Status(), value, T0).state == "ok"), value
