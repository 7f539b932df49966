package app_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/testdb"
)

// TestConsoleRefusesWhatItShould checks the console's edges over plain HTTP: a copied cookie
// stops working once its user signs out, a link cannot make a page show its own text, the
// sign-in never sends elsewhere, ids that are not ids and forms too large are refused with 4xx,
// and every page carries the security headers.
func TestConsoleRefusesWhatItShould(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values, cookie *http.Cookie) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, h.rest+path, body)
		require.NoError(t, err)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := client.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	res, _ := do(http.MethodPost, "/console/login", url.Values{"key": {h.key}, "next": {"/console/../v1/connections"}}, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/console/connections", res.Header.Get("Location"), "a next outside the console is not followed")
	cookie := res.Cookies()[0]
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	require.NotContains(t, cookie.Value, h.key, "the key is sealed")

	res, page := do(http.MethodGet, "/console/connections?flash=Sign+in+again+at+evil.example", nil, cookie)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotContains(t, page, "evil.example", "only the console's own messages are shown")
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"))

	for _, path := range []string{"/console/runs/%ff", "/console/runs/..%2f..%2fv1", "/console/connections/not-an-id", "/console/nothing-here"} {
		res, _ := do(http.MethodGet, path, nil, cookie)
		require.Equal(t, http.StatusNotFound, res.StatusCode, path)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)[1]
	res, _ = do(http.MethodPost, "/console/preview", url.Values{"csrf": {csrf}, "input": {strings.Repeat("x", 2<<20)}}, cookie)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	res, _ = do(http.MethodPost, "/console/logout", url.Values{"csrf": {"forged"}}, cookie)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	// Signed out: the same cookie, replayed, no longer works.
	res, _ = do(http.MethodPost, "/console/logout", url.Values{"csrf": {csrf}}, cookie)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	res, _ = do(http.MethodGet, "/console/connections", nil, cookie)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Contains(t, res.Header.Get("Location"), "/console/login")
}
