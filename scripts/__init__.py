"""The `lambdarig` command line."""
