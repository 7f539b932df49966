//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package mapping_test

import "time"

var started = time.Now()

// cpuTime stands in for the processor time the test process has used where it cannot be read:
// the time since the tests started.
func cpuTime() time.Duration { return time.Since(started) }
