//go:build linux || darwin || freebsd || netbsd || openbsd

package mapping_test

import (
	"syscall"
	"time"
)

// cpuTime is the processor time the test process has used so far, in user and system mode.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
