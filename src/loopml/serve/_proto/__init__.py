"""The Open Inference Protocol's gRPC messages and service (package ``inference``),
generated from ``grpc_predict_v2.proto`` by ``make proto`` (scripts/gen_proto.py): do not
edit the ``_pb2`` modules by hand."""
