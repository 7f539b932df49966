// Package mappings holds the built-in mapping versions, embedded in the binary so that an installed
// binary runs from any folder.
package mappings

import "embed"

// Files are the mapping files shipped with this build (and the JSON Schema editors use).
//
//go:embed handy-bind/*.yaml schema.json
var Files embed.FS
