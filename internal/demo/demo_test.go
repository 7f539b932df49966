package demo_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/app"
	"github.com/handybind/handybind/internal/demo"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestDemoTellsTheWholeStory runs the README's main command in-process and checks what it prints.
func TestDemoTellsTheWholeStory(t *testing.T) {
	t.Parallel()
	cfg := app.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.MappingsDir = "../../mappings"
	// Every listener on a free port: the admin default (127.0.0.1:9091) is taken whenever another
	// service or test on the machine holds it, and the demo would then end before its story.
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.BindRequestsPerSecond = 1000
	// The story's runs only: a schedule firing mid-story would split its counts between runs.
	cfg.NoSchedule = true
	cfg.ShutdownTimeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- demo.Run(ctx, cfg, slog.New(slog.DiscardHandler), out) }()
	var ended bool
	var endErr error
	require.Eventually(t, func() bool {
		select {
		case endErr = <-done:
			ended = true
			return true
		default:
		}
		return strings.Contains(out.String(), "The service keeps running")
	}, 60*time.Second, 100*time.Millisecond)
	require.False(t, ended, "the demo ended before its story did: %v\n%s", endErr, out.String())
	cancel()
	require.NoError(t, <-done)

	text := out.String()
	// A line at once, before the seeding and the migration (a fresh machine sees it first).
	require.True(t, strings.HasPrefix(text, "handybind demo: seeding a simulated Handy account and Bind company; the database is sqlite:"), text)
	for _, want := range []string{
		"products: 50 created",
		"customers: 20 created",
		"sales: 199 created, 1 waiting",
		"waiting sale 1334: product(s) not in Bind: P-999",
		"replaced by sale",
		"sales: 5 deleted",
		"products: 1 created, 50 unchanged",
	} {
		require.Contains(t, text, want)
	}
	require.True(t, strings.HasSuffix(strings.TrimSpace(strings.Split(text, "The service keeps running")[0]), "sales: 1 created"), text)
}
