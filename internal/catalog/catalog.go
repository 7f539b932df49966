// Package catalog is every mapping version a connection can use: the built-in ones shipped in the
// binary and the files of --mappings-dir (global, read-only), and the versions published through
// the API, stored in the database so that every replica serves the same ones. A published version
// belongs to the tenant of the key that published it, or is global when a platform key did.
//
// Each replica polls the stored versions every few seconds and compiles each one once: versions
// are immutable, so only new ones and marks (deprecated, deleted) are read again.
package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/store"
)

// MaxSourceBytes bounds a published source. Validating, testing and previewing accept larger
// files (the mapping package's own limits); what is stored and served to every replica stays
// small.
const MaxSourceBytes = 256 << 10

// DefaultRefresh is how often a replica looks for versions published elsewhere.
const DefaultRefresh = 2 * time.Second

// Version is one mapping version as the API shows it.
type Version struct {
	Name    string
	Version string // "v3"
	Number  int
	// Tenant owns a published version; empty for global ones.
	Tenant string
	// BuiltIn is true for the versions of files (the binary's or --mappings-dir's); they are
	// read-only through the API.
	BuiltIn bool
	// ID is the stored version's id; empty for files.
	ID          string
	Checksum    string
	Description string
	AuthorKeyID string
	CreatedAt   time.Time
	Deprecated  bool
	// Mapping is the compiled version (its Source too); nil when it does not load (then
	// Problems say why).
	Mapping  *mapping.Mapping
	Problems []mapping.Problem
}

// Usable says whether connections can run on the version. A file that was edited into a broken
// state stays usable with its last good content, and lists its problems.
func (v *Version) Usable() bool { return v.Mapping != nil }

// Catalog is the mapping versions of every scope.
type Catalog struct {
	// files are the folders of mapping files, first the operator's (--mappings-dir), whose
	// versions take precedence, then the built-in ones.
	files []*mapping.Registry
	store store.Store
	log   *slog.Logger

	mu     sync.RWMutex
	stored map[string]*Version  // by id, deleted ones left out
	stamps map[string]time.Time // by id, deleted ones too: what was read last
}

// New returns a catalog of the files of regs (the first one's versions take precedence over the
// later ones' of the same name and number) and the versions stored in st. Call Refresh (or Run) to
// read the stored ones.
func New(st store.Store, log *slog.Logger, regs ...*mapping.Registry) *Catalog {
	return &Catalog{files: regs, store: st, log: log, stored: map[string]*Version{}, stamps: map[string]time.Time{}}
}

// fileStatuses lists every file of every folder, a version of a later folder left out when an
// earlier one has it.
func (c *Catalog) fileStatuses() []fileStatus {
	var out []fileStatus
	seen := map[string]bool{}
	for _, reg := range c.files {
		for _, f := range reg.Files() {
			key := f.Name + "/" + f.Version
			if f.Name != "" && seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, fileStatus{FileStatus: f, reg: reg})
		}
	}
	return out
}

type fileStatus struct {
	mapping.FileStatus
	reg *mapping.Registry
}

// Run refreshes the stored versions every interval until ctx ends.
func (c *Catalog) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("reading published mapping versions failed; serving the ones already read", "error", err)
			}
		}
	}
}

// Refresh reads the stored versions that are new or changed since the last read.
func (c *Catalog) Refresh(ctx context.Context) error {
	stamps, err := c.store.MappingVersionStamps(ctx)
	if err != nil {
		return err
	}
	c.mu.RLock()
	var changed []string
	for _, s := range stamps {
		if seen, ok := c.stamps[s.ID]; !ok || !seen.Equal(s.UpdatedAt) {
			changed = append(changed, s.ID)
		}
	}
	c.mu.RUnlock()
	if len(changed) == 0 {
		return nil
	}
	rows, err := c.store.GetMappingVersions(ctx, changed)
	if err != nil {
		return err
	}
	for _, row := range rows {
		c.put(row)
	}
	return nil
}

// put records a stored version read from the database.
func (c *Catalog) put(row *store.MappingVersion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stamps[row.ID] = row.UpdatedAt
	if !row.DeletedAt.IsZero() {
		delete(c.stored, row.ID)
		return
	}
	if prev, ok := c.stored[row.ID]; ok {
		// The source never changes: only the marks do.
		prev.Deprecated = !row.DeprecatedAt.IsZero()
		return
	}
	v := &Version{
		Name: row.Name, Version: "v" + strconv.Itoa(row.Number), Number: row.Number, Tenant: row.Tenant,
		ID: row.ID, Checksum: row.Checksum, Description: row.Description, AuthorKeyID: row.AuthorKeyID,
		CreatedAt: row.CreatedAt, Deprecated: !row.DeprecatedAt.IsZero(),
	}
	m, err := mapping.CompileAs([]byte(row.Source), row.Name, v.Version)
	switch {
	case err == nil:
		v.Mapping = m
		// The checksum is of the stored source, as when it was published.
		v.Checksum, v.Description = m.Checksum, m.Description
	default:
		// A version that loaded when it was published but not in this build (a rule that uses
		// something since removed) is listed with why, and never used.
		var le *mapping.LoadError
		if errors.As(err, &le) {
			v.Problems = le.Problems
		} else {
			v.Problems = []mapping.Problem{{Message: err.Error()}}
		}
		if c.log != nil {
			c.log.Error("a published mapping version does not load in this build; connections pinned to it wait", "name", v.Name, "version", v.Version, "tenant", v.Tenant, "error", err)
		}
	}
	c.stored[row.ID] = v
}

// visible says whether a version of tenant (empty: global) is visible to scope; scope "" (a
// platform key) sees every version.
func visible(versionTenant, scope string) bool {
	return versionTenant == "" || scope == "" || versionTenant == scope
}

// fileVersions returns the versions of the files.
func (c *Catalog) fileVersions() []*Version {
	var out []*Version
	for _, f := range c.fileStatuses() {
		v := &Version{Name: f.Name, Version: f.Version, Number: mapping.VersionNumber(f.Version), BuiltIn: true, Checksum: f.Checksum, CreatedAt: f.LoadedAt}
		if m, ok := f.reg.Get(f.Name, f.Version); ok && f.Active {
			v.Mapping, v.Description, v.Checksum = m, m.Description, m.Checksum
		}
		v.Problems = append(v.Problems, f.Problems...)
		for _, t := range f.Failures {
			v.Problems = append(v.Problems, mapping.Problem{Line: t.Line, Message: "test " + t.Name + " failed: " + strings.Join(t.Failures, "; ")})
		}
		if !f.Active && len(v.Problems) == 0 {
			v.Problems = []mapping.Problem{{Message: "not loaded"}}
		}
		if v.Name == "" {
			v.Version = f.Path // a file that never loaded is known by its path
		}
		out = append(out, v)
	}
	return out
}

// List returns the versions visible to scope ("" for every tenant's), newest first: by name,
// then by number, highest first.
func (c *Catalog) List(scope string) []*Version {
	out := c.fileVersions()
	c.mu.RLock()
	for _, v := range c.stored {
		if visible(v.Tenant, scope) {
			cp := *v
			out = append(out, &cp)
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Version) int {
		if d := strings.Compare(a.Name, b.Name); d != 0 {
			return d
		}
		if a.Number != b.Number {
			return b.Number - a.Number
		}
		return strings.Compare(a.Tenant, b.Tenant)
	})
	return out
}

// Find returns the version a caller of scope means by name and version: its tenant's own, or a
// global one. A platform caller (scope "") names a tenant's version with tenant; otherwise tenant
// must be empty or the caller's own. Another tenant's version is not found, like one that does
// not exist.
func (c *Catalog) Find(scope, tenant, name, version string) (*Version, bool) {
	if scope != "" {
		if tenant != "" && tenant != scope {
			return nil, false
		}
		tenant = scope
	}
	c.mu.RLock()
	var global *Version
	for _, v := range c.stored {
		if v.Name != name || v.Version != version {
			continue
		}
		switch v.Tenant {
		case tenant:
			cp := *v
			c.mu.RUnlock()
			return &cp, true
		case "":
			cp := *v
			global = &cp
		}
	}
	c.mu.RUnlock()
	if global != nil {
		return global, true
	}
	for _, v := range c.fileVersions() {
		if v.Name == name && v.Version == version {
			return v, true
		}
	}
	return nil, false
}

// Resolve returns the mapping a connection of tenant runs on, when it is usable.
func (c *Catalog) Resolve(tenant, name, version string) (*mapping.Mapping, bool) {
	v, ok := c.Find(tenant, "", name, version)
	if !ok || !v.Usable() {
		return nil, false
	}
	return v.Mapping, true
}

// Latest is the newest usable global version of name that is not deprecated: what a new
// connection is pinned to when it names none. Tenants' own versions are pinned by choice.
func (c *Catalog) Latest(name string) string {
	for _, v := range c.List("-") { // "-" is no tenant: global versions only
		if v.Name == name && v.Tenant == "" && v.Usable() && !v.Deprecated {
			return v.Version
		}
	}
	return ""
}

// CheckPin says why a connection of tenant cannot be pinned to version of name, or nil.
func (c *Catalog) CheckPin(tenant, name, version string) error {
	v, ok := c.Find(tenant, "", name, version)
	switch {
	case !ok:
		return fmt.Errorf("there is no version %s of %s for tenant %s; the newest global one is %q", version, name, tenant, c.Latest(name))
	case !v.Usable():
		return fmt.Errorf("version %s of %s does not load or fails its tests, so no connection can use it", version, name)
	case v.Deprecated:
		return fmt.Errorf("version %s of %s is deprecated; the newest global one is %q", version, name, c.Latest(name))
	}
	return nil
}

// families are the names of the mappings connections can run: those of the built-in files.
func (c *Catalog) families() []string {
	var out []string
	for _, f := range c.fileStatuses() {
		if f.Name != "" && !slices.Contains(out, f.Name) {
			out = append(out, f.Name)
		}
	}
	slices.Sort(out)
	return out
}

// tenantScope is the scope that sees a tenant's versions and the global ones; for a global
// publish (tenant empty), the global ones only.
func tenantScope(tenant string) string {
	if tenant == "" {
		return "-"
	}
	return tenant
}

func sum(src []byte) string {
	h := sha256.Sum256(src)
	return hex.EncodeToString(h[:])
}

// TenantsWith lists the tenants that have their own version of name, for a platform caller who
// did not say which one it means.
func (c *Catalog) TenantsWith(name, version string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for _, v := range c.stored {
		if v.Name == name && v.Version == version && v.Tenant != "" {
			out = append(out, v.Tenant)
		}
	}
	slices.Sort(out)
	return out
}

// floor is the highest number of name's files: a published version comes after them.
func (c *Catalog) floor(name string) int {
	highest := 0
	for _, f := range c.fileStatuses() {
		if n := mapping.VersionNumber(f.Version); f.Name == name && n > highest {
			highest = n
		}
	}
	return highest
}

// PublishError is a source refused at publishing: it does not compile, or its tests fail.
type PublishError struct {
	Problems []mapping.Problem
}

func (e *PublishError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return "the mapping was not published: " + strings.Join(msgs, "; ")
}

// Publish checks src (it must compile and pass its own tests) and stores it as the next version
// of name for tenant (empty: global), by the key authorKeyID. Nothing is stored when the check
// fails.
func (c *Catalog) Publish(ctx context.Context, tenant, authorKeyID, name string, src []byte) (*Version, error) {
	if len(src) > MaxSourceBytes {
		return nil, errs.InvalidField("source", "is %d bytes; a published mapping is at most %d bytes (256 KiB)", len(src), MaxSourceBytes)
	}
	families := c.families()
	if !slices.Contains(families, name) {
		// Connections run the built-in families only: a version of another name would never run.
		return nil, errs.NotFound("there is no mapping named %s; versions can be published of %s", name, strings.Join(families, ", "))
	}
	checksum := sum(src)
	for _, v := range c.List(tenantScope(tenant)) {
		if v.Name == name && v.Checksum == checksum {
			return nil, errs.Conflict(nil, "this source is already version %s of %s (the same checksum); nothing was published", v.Version, name)
		}
	}
	floor := c.floor(name)
	for attempt := 0; ; attempt++ {
		highest, err := c.store.MaxMappingVersion(ctx, name, tenant)
		if err != nil {
			return nil, err
		}
		number := max(highest, floor) + 1
		version := "v" + strconv.Itoa(number)
		m, err := mapping.CompileAs(src, name, version)
		if err != nil {
			var le *mapping.LoadError
			if errors.As(err, &le) {
				return nil, &PublishError{Problems: le.Problems}
			}
			return nil, err
		}
		results, err := m.TestContext(ctx)
		if err != nil {
			return nil, err // a limit, or the call ended
		}
		var failed []mapping.Problem
		for _, r := range results {
			if !r.Passed {
				failed = append(failed, mapping.Problem{Line: r.Line, Message: "test " + r.Name + " failed: " + strings.Join(r.Failures, "; ")})
			}
		}
		if len(results) == 0 {
			failed = append(failed, mapping.Problem{Line: 1, Message: "the source has no tests; a published version must carry tests that pass"})
		}
		if len(failed) > 0 {
			return nil, &PublishError{Problems: failed}
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		row := &store.MappingVersion{ID: id.String(), Name: name, Number: number, Tenant: tenant, Source: string(src),
			Checksum: m.Checksum, Description: m.Description, AuthorKeyID: authorKeyID}
		err = c.store.PublishMappingVersion(ctx, row, floor)
		if errs.KindOf(err) == errs.KindConflict && attempt < 5 {
			continue // another version took the number meanwhile: take the next one
		}
		if err != nil {
			return nil, err
		}
		c.put(row)
		v, _ := c.Find(tenant, tenant, name, version)
		if c.log != nil {
			c.log.InfoContext(ctx, "mapping version published", "name", name, "version", version, "tenant", tenant, "key_id", authorKeyID, "checksum", m.Checksum[:12])
		}
		return v, nil
	}
}

// Mark deprecates or deletes a published version the caller of scope may change. Built-in
// versions are read-only; a version connections are pinned to cannot be deleted, and is
// named with them.
func (c *Catalog) Mark(ctx context.Context, scope, tenant, name, version string, del bool) (*Version, error) {
	v, ok := c.Find(scope, tenant, name, version)
	if !ok {
		return nil, errs.NotFound("mapping %s version %s not found", name, version)
	}
	if v.BuiltIn {
		return nil, errs.FailedPrecondition("version %s of %s is built in (shipped with the service or in its mappings folder); it cannot be changed through the API", version, name)
	}
	if scope != "" && v.Tenant != scope {
		return nil, errs.PermissionDenied("version %s of %s is global; only a platform key can change it", version, name)
	}
	if del {
		using, err := c.Using(ctx, scope, v)
		if err != nil {
			return nil, err
		}
		if len(using) > 0 {
			return nil, errs.FailedPrecondition("version %s of %s is in use by connection(s) %s; move them to another version first", version, name, strings.Join(using, ", "))
		}
	}
	var row *store.MappingVersion
	var err error
	if del {
		row, err = c.store.DeleteMappingVersion(ctx, v.ID)
	} else {
		row, err = c.store.DeprecateMappingVersion(ctx, v.ID)
	}
	if err != nil {
		return nil, err
	}
	c.put(row)
	v.Deprecated = !row.DeprecatedAt.IsZero()
	return v, nil
}

// Using lists the connections pinned to v that a caller of scope may see. Only handy-bind is run
// by connections; a global version is used by connections of any tenant.
func (c *Catalog) Using(ctx context.Context, scope string, v *Version) ([]string, error) {
	if v.Name != MappingName {
		return nil, nil
	}
	tenant := v.Tenant
	if tenant == "" {
		tenant = scope
	}
	return c.store.ConnectionsUsingMapping(ctx, tenant, v.Version)
}

// MappingName is the mapping family connections run on.
const MappingName = "handy-bind"
