package page

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/errs"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	const id = "01a22ffd-6172-7011-b325-88e0fb77d3f4"
	tok := Encode(id, "state=active")
	got, err := Decode(tok, "state=active", "page_token")
	require.NoError(t, err)
	require.Equal(t, id, got)

	got, err = Decode("", "anything", "page_token")
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ tok, filter, want string }{
		"garbage":       {"!!!", "", "not a token"},
		"valid base64":  {"e30", "", "not a token"},
		"other filters": {Encode("01a22ffd-6172-7011-b325-88e0fb77d3f4", "state=active"), "state=paused", "different filters"},
		"not an id":     {Encode("x' OR 1=1", "state=active"), "state=active", "not a token"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(tc.tok, tc.filter, "page_token")
			require.ErrorContains(t, err, tc.want)
			require.True(t, errs.Is(err, errs.KindInvalid))
		})
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	require.Equal(t, 50, Size(0, 50))
	require.Equal(t, 7, Size(7, 50))
}
