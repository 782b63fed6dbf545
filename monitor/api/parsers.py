"""Request body parsers: lenient JSON, and multipart forms without files (the browsable API's HTML forms)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, JSONParser, MultiPartParser


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


class FieldsOnlyMultiPartParser(MultiPartParser):
    """multipart/form-data with fields only: what a browser sends from the browsable API's HTML forms.

    Browsers post those forms as multipart (DRF's templates say so, and its PUT
    form builds a FormData). Django counts a multipart body's fields against
    DATA_UPLOAD_MAX_MEMORY_SIZE but not its files, which it spools to disk
    whatever their size. The API takes no files: a body announced over the limit
    is refused before it is read (413), and the first file part ends the parse (400).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            announced = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            announced = 0
        if limit is not None and announced > limit:
            raise RequestDataTooBig("multipart body over DATA_UPLOAD_MAX_MEMORY_SIZE")
        meta = {**request.META, "CONTENT_TYPE": media_type}
        try:
            parser = DjangoMultiPartParser(
                meta, stream, [RefuseFiles(request)], parser_context.get("encoding", settings.DEFAULT_CHARSET)
            )
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(_("Multipart form parse error - %(error)s") % {"error": exc}) from None
        return DataAndFiles(data, files)


class RefuseFiles(FileUploadHandler):
    """An upload handler that takes no file: the first file part of a form is a 400."""

    def new_file(self, field_name, *args, **kwargs) -> None:
        raise ParseError(
            _("Files are not accepted (field %(field)s): send the sample's fields as text.") % {"field": field_name}
        )

    def receive_data_chunk(self, raw_data, start):  # never reached: new_file refuses first
        return raw_data

    def file_complete(self, file_size) -> None:
        return None
