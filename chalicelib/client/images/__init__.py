"""`soute ls`, `tags`, `inspect` and `rm`: see and delete what any OCI registry stores."""
