package entra_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/redacttest"
)

// TestAServerPrintsNoneOfItsSecrets: a *Server printed (a test's log line,
// an assertion's message) showed its fields: the managed-identity header
// that mints any of its managed identities' tokens, and the access tokens
// it keeps under SetReuse (and its refresh tokens and device codes, the
// keys of its maps). It prints its authority's address only, with every
// verb, by value and by pointer, in slog and in JSON.
func TestAServerPrintsNoneOfItsSecrets(t *testing.T) {
	s := start(t)
	s.SetReuse(true)
	s.RegisterManagedIdentity("", "system-oid")
	tok := rawMIToken(t, s, "", sqlAud)
	status, _ := rawMI(t, s, "", sqlAud)
	require.Equal(t, http.StatusOK, status)
	redacttest.AssertRedacted(t, []string{tok, s.MIHeader()}, s)
	assert.Equal(t, "entra.Server("+strings.TrimSuffix(s.AuthorityHost(), "/")+")", fmt.Sprint(s))
}
