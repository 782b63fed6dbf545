"""Prometheus remote write 1.0 messages (prompb: types.proto, remote.proto), built at import without protoc.

Only the fields the receiver reads are declared: WriteRequest.timeseries,
TimeSeries.labels and .samples, Label, Sample. Everything else a sender puts
in a WriteRequest (metadata, exemplars, native histograms) is an unknown field
to this schema and skipped by the parser, as protobuf does for any field it
does not know. Field numbers are those of prometheus/prompb (remote.proto:
`repeated TimeSeries timeseries = 1`; types.proto: `Sample {double value = 1;
int64 timestamp = 2}`, `Label {string name = 1; string value = 2}`,
`TimeSeries {repeated Label labels = 1; repeated Sample samples = 2}`).

Built from a FileDescriptorProto rather than protoc's generated module: a
generated module is tied to the protoc release that made it (protobuf refuses
gencode newer than its runtime), this is not.

`WireWriteRequest` reads the same bytes with each label left as its encoded
bytes (`repeated bytes labels = 1`: a message field and a bytes field are the
same on the wire). The receiver keys its label-set cache by those bytes: a
remote-writing Prometheus sends every series again each scrape, and reading
five labels' names and values through message wrappers cost more than the
rest of a sample's decode (bench/remote_write.py). A label is parsed as a
`Label` only when its set is new to the process.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _file(package: str, labels_as_bytes: bool) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name=f"db_django_{package}.proto", package=package, syntax="proto3")

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        body = proto.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            field = body.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name

    optional, repeated = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message("Sample", ("value", 1, _F.TYPE_DOUBLE, optional, ""), ("timestamp", 2, _F.TYPE_INT64, optional, ""))
    message("Label", ("name", 1, _F.TYPE_STRING, optional, ""), ("value", 2, _F.TYPE_STRING, optional, ""))
    label = (
        ("labels", 1, _F.TYPE_BYTES, repeated, "")
        if labels_as_bytes
        else ("labels", 1, _F.TYPE_MESSAGE, repeated, f".{package}.Label")
    )
    message("TimeSeries", label, ("samples", 2, _F.TYPE_MESSAGE, repeated, f".{package}.Sample"))
    message("WriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, repeated, f".{package}.TimeSeries"))
    return proto


_classes = message_factory.GetMessages(
    [_file("prometheus", labels_as_bytes=False), _file("prometheus_wire", labels_as_bytes=True)],
    pool=descriptor_pool.DescriptorPool(),
)
WriteRequest = _classes["prometheus.WriteRequest"]
TimeSeries = _classes["prometheus.TimeSeries"]
Label = _classes["prometheus.Label"]
Sample = _classes["prometheus.Sample"]
WireWriteRequest = _classes["prometheus_wire.WriteRequest"]
