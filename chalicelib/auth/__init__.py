"""Authentication and authorisation: who the caller is (passwords, access tokens, bearer JWTs)
and what they may do (scopes, the permission model). Sits between api/ and registry/; pure
functions where possible, storage through the `IdentityStore` port."""
