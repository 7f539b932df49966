package api

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/handybind/handybind/internal/auth"
)

// Limits bound the load callers can put on a server. Above them a call is refused at once with
// RESOURCE_EXHAUSTED and a RetryInfo saying when to try again (HTTP 429 with Retry-After on
// REST), instead of queueing until every call times out and memory runs out.
type Limits struct {
	// InFlight is how many calls may run at once; 0 means no limit.
	InFlight int
	// KeyRate and KeyBurst bound each API key's calls per second; 0 means no limit.
	KeyRate  float64
	KeyBurst int
}

// busyRetry is what a call refused for lack of room is told to wait.
const busyRetry = time.Second

// exhausted is a RESOURCE_EXHAUSTED status with a RetryInfo.
func exhausted(after time.Duration, msg string) error {
	st := status.New(codes.ResourceExhausted, msg)
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(after)}); err == nil {
		st = d
	}
	return st.Err()
}

// InFlightLimit refuses a call when limit calls are already running. It is cheap enough to run
// before anything else, so an overloaded server spends nothing on what it refuses.
func InFlightLimit(limit int) grpc.UnaryServerInterceptor {
	if limit <= 0 {
		return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(ctx, req)
		}
	}
	slots := make(chan struct{}, limit)
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		select {
		case slots <- struct{}{}:
		default:
			return nil, exhausted(busyRetry, "the server is at its limit of calls in flight; retry in a second")
		}
		defer func() { <-slots }()
		return handler(ctx, req)
	}
}

// keyLimiter holds a token bucket per API key.
type keyLimiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// forgetAfter drops the bucket of a key unused that long (it is full again by then anyway).
const forgetAfter = 10 * time.Minute

func (k *keyLimiter) allow(keyID string, now time.Time) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.sweep) > forgetAfter {
		for id, b := range k.buckets {
			if now.Sub(b.seen) > forgetAfter {
				delete(k.buckets, id)
			}
		}
		k.sweep = now
	}
	b, ok := k.buckets[keyID]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(k.rate, k.burst)}
		k.buckets[keyID] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	r := b.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}

// KeyRateLimit refuses a key's call beyond its rate. It runs after authentication, which names
// the key; calls without one were refused before.
func KeyRateLimit(perSecond float64, burst int) grpc.UnaryServerInterceptor {
	if perSecond <= 0 {
		return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(ctx, req)
		}
	}
	k := &keyLimiter{rate: rate.Limit(perSecond), burst: max(1, burst), buckets: map[string]*bucket{}}
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if c, ok := auth.FromContext(ctx); ok {
			if ok, wait := k.allow(c.KeyID, time.Now()); !ok {
				return nil, exhausted(max(wait, 10*time.Millisecond).Round(time.Millisecond),
					"this API key is over its rate of calls; retry after the delay in the answer")
			}
		}
		return handler(ctx, req)
	}
}

// RetryAfter is the delay a RESOURCE_EXHAUSTED error asks for, rounded up to whole seconds as
// HTTP's Retry-After header has it; 0 when the error names none.
func RetryAfter(err error) int {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay := ri.GetRetryDelay().AsDuration()
			return int((delay + time.Second - 1) / time.Second)
		}
	}
	return 0
}
