// Package openapi embeds the OpenAPI document generated from proto/ (written by scripts/gen-proto;
// this file is the only hand-written one here).
package openapi

import _ "embed"

// Document is the REST API's OpenAPI (Swagger 2.0) description, as JSON.
//
//go:embed handybind.swagger.json
var Document []byte
