"""`soute push`: the registry client that sends images to a registry, through Soute's direct
upload extension when the registry has it (docs/upload-extension.md), else the v2 API."""
