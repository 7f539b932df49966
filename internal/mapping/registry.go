package mapping

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// FileStatus is what the registry knows of one mapping file.
type FileStatus struct {
	Path     string
	Name     string
	Version  string
	Checksum string
	// Active says the file's mapping compiled, passed its tests and is the one in use.
	Active   bool
	Problems []Problem
	Failures []TestResult
	LoadedAt time.Time
}

// Registry holds every mapping version under a folder (<folder>/<name>/<version>.yaml). A version
// is used only once it compiles and its tests pass; when a changed file breaks, the last good
// version stays in use and the problems are reported.
type Registry struct {
	dir string
	log *slog.Logger

	mu     sync.RWMutex
	active map[string]*Mapping // "name/version" → mapping in use
	files  map[string]*FileStatus
}

// NewRegistry loads every mapping under dir. Broken files are reported, not fatal: the service
// serves with what loaded. A folder that does not exist is an error.
func NewRegistry(dir string, log *slog.Logger) (*Registry, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("mappings folder: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("mappings folder %s is not a folder", dir)
	}
	r := &Registry{dir: dir, log: log, active: map[string]*Mapping{}, files: map[string]*FileStatus{}}
	r.Reload()
	return r, nil
}

func key(name, version string) string { return name + "/" + version }

// Get returns the version in use.
func (r *Registry) Get(name, version string) (*Mapping, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.active[key(name, version)]
	return m, ok
}

// Resolve returns the version in use for a connection of any tenant: files are global.
func (r *Registry) Resolve(_, name, version string) (*Mapping, bool) { return r.Get(name, version) }

// Latest returns the highest version in use of a mapping.
func (r *Registry) Latest(name string) (*Mapping, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var best *Mapping
	for _, m := range r.active {
		if m.Name == name && (best == nil || VersionNumber(m.Version) > VersionNumber(best.Version)) {
			best = m
		}
	}
	return best, best != nil
}

// VersionNumber is N of a version "vN"; 0 for anything else.
func VersionNumber(v string) int {
	n := 0
	fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d", &n)
	return n
}

// Files returns the status of every file, by path.
func (r *Registry) Files() []FileStatus {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]FileStatus, 0, len(r.files))
	for _, f := range r.files {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b FileStatus) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Reload reads every file again and activates those that changed and are good.
func (r *Registry) Reload() {
	var paths []string
	_ = filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			paths = append(paths, p)
		}
		return nil
	})
	slices.Sort(paths)
	seen := map[string]bool{}
	for _, p := range paths {
		seen[p] = true
		r.load(p)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, st := range r.files {
		if !seen[p] && st.Active {
			st.Problems = []Problem{{Message: "the file was removed; its last good version stays in use until the service restarts"}}
		}
	}
}

// load compiles and tests one file and activates it if it is good and new.
func (r *Registry) load(path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		r.record(path, &FileStatus{Path: path, Problems: []Problem{{Message: err.Error()}}})
		return
	}
	r.mu.RLock()
	prev := r.files[path]
	r.mu.RUnlock()
	st := &FileStatus{Path: path, LoadedAt: time.Now().UTC()}
	m, err := Compile(path, src)
	if err != nil {
		var le *LoadError
		if errors.As(err, &le) {
			st.Problems = le.Problems
		} else {
			st.Problems = []Problem{{Message: err.Error()}}
		}
		r.record(path, st)
		return
	}
	st.Name, st.Version, st.Checksum = m.Name, m.Version, m.Checksum
	if prev != nil && prev.Checksum == m.Checksum && prev.Active {
		return // unchanged
	}
	if dirName := filepath.Base(filepath.Dir(path)); dirName != m.Name {
		st.Problems = []Problem{{Line: 1, Message: fmt.Sprintf("the mapping is named %s but lives in the folder %s; put it in %s/", m.Name, dirName, m.Name)}}
		r.record(path, st)
		return
	}
	for _, res := range m.Test() {
		if !res.Passed {
			st.Failures = append(st.Failures, res)
		}
	}
	if len(st.Failures) > 0 {
		st.Problems = append(st.Problems, Problem{Line: st.Failures[0].Line, Message: fmt.Sprintf("%d test case(s) failed; the mapping is not used", len(st.Failures))})
		r.record(path, st)
		return
	}
	r.mu.Lock()
	for p, other := range r.files {
		if p != path && other.Active && other.Name == m.Name && other.Version == m.Version {
			r.mu.Unlock()
			st.Problems = []Problem{{Line: 1, Message: fmt.Sprintf("version %s of %s is already defined in %s", m.Version, m.Name, p)}}
			r.record(path, st)
			return
		}
	}
	st.Active = true
	r.active[key(m.Name, m.Version)] = m
	r.files[path] = st
	r.mu.Unlock()
	if r.log != nil {
		r.log.Info("mapping loaded", "name", m.Name, "version", m.Version, "checksum", m.Checksum[:12], "path", path)
	}
}

// record stores a failed load; the last good mapping of the file stays in use.
func (r *Registry) record(path string, st *FileStatus) {
	r.mu.Lock()
	if prev := r.files[path]; prev != nil && prev.Active {
		// Keep serving the previous version: its status stays active, with the new problems.
		prev.Problems, prev.Failures = st.Problems, st.Failures
		st = prev
	}
	r.files[path] = st
	r.mu.Unlock()
	if r.log != nil {
		msgs := make([]string, 0, len(st.Problems))
		for _, p := range st.Problems {
			msgs = append(msgs, p.String())
		}
		r.log.Error("mapping refused; the previous version, if any, stays in use", "path", path, "problems", strings.Join(msgs, "; "))
	}
}

// Watch reloads the folder whenever a file in it changes, until ctx ends. Bursts of events (an
// editor writing a file in steps) are folded into one reload.
func (r *Registry) Watch(ctx context.Context) error {
	loop, err := r.StartWatching()
	if err != nil {
		return err
	}
	return loop(ctx)
}

// StartWatching sets the watch up now (so no change made after it returns is missed) and returns
// the loop that reloads on changes until its context ends.
func (r *Registry) StartWatching() (func(context.Context) error, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	add := func() {
		_ = filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = w.Add(p)
			}
			return nil
		})
	}
	add()
	// A change between the first load and the watch being set up is read now.
	r.Reload()
	return func(ctx context.Context) error {
		defer w.Close()
		return r.watchLoop(ctx, w, add)
	}, nil
}

func (r *Registry) watchLoop(ctx context.Context, w *fsnotify.Watcher, add func()) error {
	var timer *time.Timer
	fire := make(chan struct{}, 1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				add() // a new subfolder
			}
			if timer != nil {
				timer.Stop()
			}
			timer = time.AfterFunc(200*time.Millisecond, func() {
				select {
				case fire <- struct{}{}:
				default:
				}
			})
		case <-fire:
			r.Reload()
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			if r.log != nil {
				r.log.Warn("watching mappings", "error", err)
			}
		}
	}
}
