"""Validate openapi.yaml with openapi-spec-validator (OpenAPI 3.1)."""
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

spec, _ = read_from_filename("openapi.yaml")
validate(spec)
print(f"openapi-spec-validator: openapi.yaml is valid OpenAPI {spec['openapi']} ({sum(len([m for m in p if m != 'parameters']) for p in spec['paths'].values())} operations)")
