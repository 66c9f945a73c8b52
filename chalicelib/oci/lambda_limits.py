"""The body size a request may have to pass through API Gateway and Lambda, in one place:
the registry advertises it (`OCI-Chunk-Min-Length` under `--lambda` and in `.chalice/config.json`)
and the client sends no larger body to a registry that may be a Lambda function.

A synchronous invocation carries 6 MB and a binary body arrives base64-encoded (4/3 larger),
so a raw body of 4 MiB, with headers, is the largest round size that always fits."""

LAMBDA_CHUNK_BYTES = 4 << 20
