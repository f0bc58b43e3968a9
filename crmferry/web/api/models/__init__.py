"""The API's request and response models: what the OpenAPI document describes.

Typed at the edge, plain inside: a model checks a request's shape (types, enums,
unknown keys, text that PostgreSQL can store) and is dumped to the plain dict the
domain functions take; the domain's own rules (a mapping against an upload's
headers, export filters against a field's type) stay in the domain.
"""
