"""What an error answer must look like: JSON that says what was wrong, never just any JSON."""


def assert_names_what_was_wrong(body: object) -> None:
    """`{"detail": text}`, plus `"items": {index: field errors}` for a bulk write; or `{field: [text, ...]}`."""
    assert isinstance(body, dict) and body, body
    if "detail" in body:
        assert isinstance(body["detail"], str) and body["detail"].strip(), body
        assert set(body) <= {"detail", "items"}, body
        for index, errors in body.get("items", {}).items():
            assert index.isdigit(), body
            assert_field_errors(errors)
        return
    assert_field_errors(body)


def assert_field_errors(errors: object) -> None:
    assert isinstance(errors, dict) and errors, errors
    for field, messages in errors.items():
        assert isinstance(field, str) and field, errors
        assert isinstance(messages, list) and messages, errors
        assert all(isinstance(message, str) and message.strip() for message in messages), errors
