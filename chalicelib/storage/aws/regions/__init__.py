"""The aws backend across several regions (issue 13): one DynamoDB global table, a bucket per
region.

Global tables resolve concurrent writes in different regions by last writer wins, item by
item, and replicate a transaction's items separately: a conditional write is only safe in one
region. So every write goes to the primary region's table, from whichever region receives
the request, and reads that feed a conditional write read it there too; reads on the pull
path read the local replica and fall back to the primary on a miss (`reads.py`). Blob bytes
are written to the bucket of the region that receives them and copied by S3 replication;
which buckets hold a copy is a recorded fact (`copies.py`, kept by the uploads themselves and
by the `blob_copies` function that S3's event notifications invoke, `recorder.py`), so a
pull picks a bucket without an S3 call (`blob_store.py`).

Single-region deployments use none of this: `AwsStorage` builds these only when a primary
region is configured.
"""
