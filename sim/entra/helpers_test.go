package entra_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/idpool/idpool/sim/entra"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	tenant   = "11111111-2222-3333-4444-555555555555"
	sqlScope = "https://database.windows.net/.default"
	sqlAud   = "https://database.windows.net/"
)

// start runs a Server for the test and closes it after.
func start(t *testing.T) *entra.Server {
	t.Helper()
	s, err := entra.New(entra.Config{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// unique names a managed identity or resource afresh for each run of a test:
// MSAL caches managed-identity tokens process-wide, so a second run
// (-count=2) would otherwise be served a token of the first run's Entra.
func unique(name string) string { return name + "-" + strings.ToLower(rand.Text()[:10]) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func tro(scope string) policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: []string{scope}}
}

// rawMI calls the managed-identity endpoint directly, bypassing MSAL's
// process-wide cache, and returns the status and decoded body.
func rawMI(t *testing.T, s *entra.Server, clientID, resource string) (int, map[string]any) {
	t.Helper()
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {resource}}
	if clientID != "" {
		q.Set("client_id", clientID)
	}
	req, err := http.NewRequest(http.MethodGet, s.MIEndpoint()+"?"+q.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("X-IDENTITY-HEADER", s.MIHeader())
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body := map[string]any{}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// rawMIToken is rawMI for a call that must succeed; it returns the token.
func rawMIToken(t *testing.T, s *entra.Server, clientID, resource string) string {
	t.Helper()
	status, body := rawMI(t, s, clientID, resource)
	require.Equal(t, http.StatusOK, status, "body: %v", body)
	tok, _ := body["access_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}
