// Package openapi embeds the OpenAPI documents generated from proto/ (written by scripts/gen-proto;
// this file is the only hand-written one here).
package openapi

import _ "embed"

// Document is the REST API's OpenAPI 3 description, as JSON (internal/openapi3gen writes it).
//
//go:embed handybind.openapi3.json
var Document []byte

// Swagger2 is the same description in Swagger 2.0, as protoc-gen-openapiv2 writes it.
//
//go:embed handybind.swagger.json
var Swagger2 []byte
