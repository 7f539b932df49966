package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeysCreateListRevoke(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "hb.db")
	common := []string{"--database-url", db, "--log-level", "warn"}
	_, errOut, code := run(t, append([]string{"keys", "list"}, common...)...)
	require.Equal(t, 1, code, "an unmigrated database is refused")
	require.Contains(t, errOut, "handybind migrate")
	_, errOut, code = run(t, append([]string{"migrate"}, common...)...)
	require.Equal(t, 0, code, errOut)

	out, errOut, code := run(t, append([]string{"keys", "create", "--role", "partner", "--tenant", "acme", "--name", "Acme"}, common...)...)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	require.Regexp(t, `^hbk_[a-z2-7]{12}_[a-z2-7]{52}$`, key, "the key alone is the last line")

	out, errOut, code = run(t, append([]string{"keys", "create", "--role", "platform", "--json"}, common...)...)
	require.Equal(t, 0, code, errOut)
	var created struct {
		ID, Key, Role string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	require.Equal(t, "platform", created.Role)
	require.True(t, strings.HasPrefix(created.Key, created.ID+"_"))

	for _, bad := range [][]string{
		{"--role", "partner"},                                            // no tenant
		{"--role", "platform", "--tenant", "acme"},                       // platform has none
		{"--role", "admin"},                                              // no such role
		{"--role", "partner", "--tenant", "Acme Corp"},                   // not a tenant name
		{"--role", "partner", "--tenant", "acme", "--expires-in", "-5h"}, // already expired
		{"--role", "partner", "--tenant", "acme", "--name", "a\x00b"},    // a NUL PostgreSQL cannot store
	} {
		_, errOut, code := run(t, append(append([]string{"keys", "create"}, bad...), common...)...)
		require.Equal(t, 1, code, "%v should be refused", bad)
		require.NotEmpty(t, errOut)
	}

	out, errOut, code = run(t, append([]string{"keys", "list"}, common...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, key[:16], "listed by id")
	require.NotContains(t, out, key[17:], "never the secret")

	id := key[:16]
	// The whole key, pasted by mistake, revokes it by its id and is never echoed or stored.
	out, errOut, code = run(t, append([]string{"keys", "revoke", key}, common...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Revoked "+id)
	require.NotContains(t, out+errOut, key[17:])
	_, errOut, code = run(t, append([]string{"keys", "revoke", key + "x"}, common...)...)
	require.Equal(t, 1, code)
	require.NotContains(t, errOut, key[17:], "what is not a key id is not repeated")
	out, _, _ = run(t, append([]string{"keys", "list"}, common...)...)
	require.NotContains(t, out, id, "revoked keys are left out")
	out, _, _ = run(t, append([]string{"keys", "list", "--all", "--json"}, common...)...)
	require.Contains(t, out, id)
	require.Contains(t, out, `"revokeTime"`)
	_, errOut, code = run(t, append([]string{"keys", "revoke", "hbk_nosuchkeyzzz"}, common...)...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not found")
}
