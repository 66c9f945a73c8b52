"""The Lambda function: Soute's registry as a Chalice app behind API Gateway.

Wiring only: the app is built by chalicelib/server/chalice_app.create_app, the factory
`soute serve --lambda` serves too. Chalice deploys the API handler as `app.app` and the
background verifier as `app.verifier`.
"""

from chalicelib.server.chalice_app import create_app

app = create_app()
verifier = app.verifier
