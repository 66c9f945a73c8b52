"""An AWS login's password, made on this machine: a presigned STS GetCallerIdentity URL signed
with the caller's AWS credentials for one registry's service name (chalicelib/auth/aws_login.py
checks it). `soute login --aws` makes one to store, and docker-credential-soute a fresh one on
every use: this module is all the helper loads of the CLI, so that the docker pulls it serves do
not load the admin verbs."""

from __future__ import annotations

from ..client.errors import AuthError


class SigningFailed(AuthError):
    """The AWS credentials could not sign the request; the message says why."""


def aws_secret(service: str, region: str | None, expires: int, endpoint: str | None) -> str:
    """A presigned STS GetCallerIdentity URL for `service`, as an AWS login password."""
    import boto3
    from botocore.exceptions import BotoCoreError

    from ..auth.aws_login import SERVICE_HEADER, encode_secret

    def sign_service(request: object, **_: object) -> None:
        # Signed, so the URL is refused by STS unless sent with this header and value: the
        # registry sends its own service name, so a URL made for one registry fails elsewhere.
        request.headers[SERVICE_HEADER] = service  # type: ignore[attr-defined]

    try:
        session = boto3.Session(region_name=region)
        # botocore resolves the region's own STS endpoint, in whichever partition it is.
        sts = session.client(
            "sts", region_name=session.region_name or "us-east-1", endpoint_url=endpoint
        )
        sts.meta.events.register("before-sign.sts.GetCallerIdentity", sign_service)
        url = sts.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=expires, HttpMethod="GET"
        )
    except BotoCoreError as error:  # no credentials, a broken profile
        raise SigningFailed(f"cannot sign with your AWS credentials: {error}") from None
    return encode_secret(url)
