package mapping

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestChecksStopWhenTheirTimeIsUp: a check ends once its time is up, with a message that says so,
// and Test reports it as a failure.
func TestChecksStopWhenTheirTimeIsUp(t *testing.T) {
	// Not parallel: it shortens the time of every check.
	src, err := os.ReadFile("../../mappings/handy-bind/v1.yaml")
	require.NoError(t, err)
	m, err := Compile("v1.yaml", src)
	require.NoError(t, err)
	defer func(d time.Duration) { checkTimeout = d }(checkTimeout)
	checkTimeout = time.Nanosecond

	_, err = m.TestContext(context.Background())
	require.EqualError(t, err, "mapping check took longer than 1ns and was stopped")
	require.True(t, IsLimit(err))
	results := m.Test()
	last := results[len(results)-1]
	require.False(t, last.Passed)
	require.Equal(t, []string{"mapping check took longer than 1ns and was stopped"}, last.Failures)
	_, _, err = m.Preview("warehouse", []byte(`{"seller":{"extras":"x"}}`))
	require.True(t, IsLimit(err), "%v", err)
}

func TestSizesAndClipsReadWell(t *testing.T) {
	t.Parallel()
	require.Equal(t, "12 bytes", sizeText(12))
	require.Equal(t, "1 KiB", sizeText(1024))
	require.Equal(t, "1.5 MiB", sizeText(3<<19))
	require.Equal(t, "16 MiB", sizeText(maxCheckWork))
	require.Equal(t, "abc", clip("abc", 3))
	require.Equal(t, "ab… (5 bytes in all)", clip("abcde", 2))
	require.Equal(t, "… (4 bytes in all)", clip("éé", 1), "never cuts a letter in two")
}
