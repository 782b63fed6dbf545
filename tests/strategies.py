"""Hypothesis strategies shared by the property and schema-fuzz tests."""

from datetime import datetime, timedelta

from hypothesis import strategies as st


def rfc3339(moment: datetime, offset_minutes: int) -> str:
    """A naive datetime written with the given UTC offset (Z for zero)."""
    if offset_minutes == 0:
        return moment.isoformat() + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{moment.isoformat()}{sign}{hours:02d}:{minutes:02d}"


def moments(usual: st.SearchStrategy[datetime]) -> st.SearchStrategy[datetime]:
    """`usual` times, often mixed with the first and last day Python can represent.

    Near either end, converting to UTC leaves Python's datetime range: where the
    API once answered 500. Hypothesis' default strategy seldom goes there.
    """
    return st.one_of(
        st.datetimes(min_value=datetime.min, max_value=datetime.min + timedelta(days=1)),
        st.datetimes(min_value=datetime.max - timedelta(days=1), max_value=datetime.max),
        usual,
    )
