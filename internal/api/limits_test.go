package api

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestInFlightLimitShedsAtOnce: with every slot taken, a call is refused at once with
// RESOURCE_EXHAUSTED and a retry delay, and served again as soon as a slot frees.
func TestInFlightLimitShedsAtOnce(t *testing.T) {
	t.Parallel()
	limit := InFlightLimit(2)
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	slow := func(ctx context.Context, req any) (any, error) {
		started <- struct{}{}
		<-release
		return "slow", nil
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := limit(context.Background(), nil, &grpc.UnaryServerInfo{}, slow)
			require.NoError(t, err)
		}()
	}
	<-started
	<-started

	begin := time.Now()
	_, err := limit(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) { return "fast", nil })
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	require.Less(t, time.Since(begin), 100*time.Millisecond, "refused at once, not queued")
	require.Equal(t, 1, RetryAfter(err))

	close(release)
	wg.Wait()
	res, err := limit(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) { return "fast", nil })
	require.NoError(t, err)
	require.Equal(t, "fast", res)
}

// TestKeyLimiterRefillsPerKey: each key has its own bucket, refused beyond its burst with the
// time until the next token, and served again once it refills.
func TestKeyLimiterRefillsPerKey(t *testing.T) {
	t.Parallel()
	k := &keyLimiter{rate: 10, burst: 3, buckets: map[string]*bucket{}}
	now := time.Now()
	for range 3 {
		ok, _ := k.allow("a", now)
		require.True(t, ok)
	}
	ok, wait := k.allow("a", now)
	require.False(t, ok)
	require.InDelta(t, 100*time.Millisecond, wait, float64(5*time.Millisecond))
	ok, _ = k.allow("b", now)
	require.True(t, ok, "another key has its own bucket")
	ok, _ = k.allow("a", now.Add(101*time.Millisecond))
	require.True(t, ok, "one token back after a tenth of a second")
	// A refusal takes no token: the caller told to wait 100 ms is served after it.
	ok, _ = k.allow("a", now.Add(150*time.Millisecond))
	require.False(t, ok)
	ok, _ = k.allow("a", now.Add(202*time.Millisecond))
	require.True(t, ok)
}
