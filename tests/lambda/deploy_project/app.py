"""A Chalice app with the outputs of Soute's stack and nothing moto's CloudFormation cannot
create (tests/lambda/test_aws_deploy.py): one function, no Chalice REST API."""

from chalice import Chalice

app = Chalice(app_name="soute-fixture")


@app.lambda_function(name="worker")
def worker(event, context):  # noqa: ANN001, ANN201, ARG001
    return {}
