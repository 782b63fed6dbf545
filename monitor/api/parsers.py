from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class LenientJSONParser(JSONParser):
    """JSON parser that reads NaN/Infinity tokens as floats instead of failing.

    DRF's strict parser rejects them with a generic parse error; letting them
    through means the serializer rejects them with a message naming the field.
    """

    strict = False

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:  # "[[[[...": DRF only turns ValueError into a 400
            raise ParseError("JSON parse error - nested too deeply.") from None
