"""Other ways in: protocols that agents already speak, each turned into Points for `storage.inserts.store`.

remote_write.py: Prometheus remote write 1.0 (snappy-compressed protobuf);
line_protocol.py: InfluxDB line protocol (Telegraf, Glances, influxdb-client);
bodies.py: request bodies decompressed within a bound; auth.py: the token
forms those agents send; views.py: the endpoints.
"""
