// Package migrations embeds handybind's SQL migrations, one folder per database. River's own
// tables are migrated by River's migrator alongside these (see sqlstore.Migrate).
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql, in goose's format.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
