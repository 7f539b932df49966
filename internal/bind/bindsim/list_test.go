package bindsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/bind/bindsim"
)

// TestListPagesFollowChanges: a list read page by page is selected once per version of the
// model, and a change between two reads shows in the next one.
func TestListPagesFollowChanges(t *testing.T) {
	t.Parallel()
	s := bindsim.New()
	s.AddToken("tok", bind.UserProfile{Name: "Admin"})
	for i := range 150 {
		s.AddAccount("105-"+string(rune('A'+i%26))+string(rune('a'+i/26)), "Cuenta")
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	count := func(query string) (int, int) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/Accounts?"+query, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer tok")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var page struct {
			Value []json.RawMessage `json:"value"`
			Count int               `json:"count"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&page))
		return len(page.Value), page.Count
	}
	n, total := count("$orderby=Number")
	require.Equal(t, 100, n)
	require.Equal(t, 150, total)
	n, _ = count("$orderby=Number&$skip=100")
	require.Equal(t, 50, n)
	s.AddAccount("999-01", "Nueva")
	n, total = count("$orderby=Number&$skip=100")
	require.Equal(t, 51, n, "the account added between two pages is there")
	require.Equal(t, 151, total)
	_, total = count("$orderby=Number%20desc")
	require.Equal(t, 151, total)
}
