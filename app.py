"""The Lambda function: Soute's registry as a Chalice app behind API Gateway.

Wiring only: the app is built by chalicelib/server/chalice_app.create_app, the factory
`soute serve --lambda` serves too. Chalice deploys the API handler as `app.app`, the
background verifier as `app.verifier`, with several regions the recorder of blob copies
that S3 event notifications invoke as `app.blob_copies`, and the scheduled garbage collector as
`app.gc`.
"""

from chalicelib.server.chalice_app import create_app

app = create_app()
verifier = app.verifier
blob_copies = app.blob_copies
gc = app.gc
