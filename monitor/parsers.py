from rest_framework.parsers import JSONParser


class LenientJSONParser(JSONParser):
    """JSON parser that reads NaN/Infinity tokens as floats instead of failing.

    DRF's strict parser rejects them with a generic parse error; letting them
    through means the serializer rejects them with a message naming the field.
    """

    strict = False
