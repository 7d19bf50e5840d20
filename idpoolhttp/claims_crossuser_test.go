package idpoolhttp_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// A claims challenge reaches only the user whose exchange Entra refused:
// with Carol's refused and Dave's served at once, through the *sql.DB
// facade with database/sql's own cap (whose opener hands connections and
// errors from call to call) and one session across the Manager, Dave
// never gets Carol's challenge, and each of Carol's calls does.
func TestClaimsChallengeReachesOnlyTheRefusedUser(t *testing.T) {
	const tenant, apiID, apiSecret = "c0de0000-0000-4000-8000-00000000c0de", "orders-api", "api-secret"
	es, err := entra.New(entra.Config{})
	require.NoError(t, err)
	t.Cleanup(es.Close)
	es.RegisterApp(tenant, apiID, apiSecret, "oid-api")
	es.RegisterUser(tenant, "carol@contoso.example", "ca401000-0000-4000-8000-000000000001")
	es.RegisterUser(tenant, "dave@contoso.example", "da4e0000-0000-4000-8000-000000000002")
	es.RequireMFA("carol@contoso.example", true)
	srv, err := tds.Start(tds.Options{Database: "appdb", VerifyToken: func(tok string) (string, time.Time, error) {
		c, err := es.Verify(tok, "https://database.windows.net/")
		return c.UPN, c.ExpiresAt.Time, err
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	dsn := url.URL{Scheme: "sqlserver", Host: srv.Addr(), RawQuery: "database=appdb&encrypt=disable"}
	db, err := sqlserver.OpenDB(dsn.String(), manager.Config{MaxTotal: 1, AcquireTimeout: 20 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1)

	app, err := tokens.NewOnBehalfOfSecret(tenant, apiID, apiSecret, es.OnBehalfOfOptions())
	require.NoError(t, err)
	users, err := onbehalf.NewCache(app, 100)
	require.NoError(t, err)
	validate := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		c, err := es.Verify(bearer, entra.APIAudience(apiID))
		return tokens.Principal{TenantID: c.TenantID, ObjectID: c.ObjectID}, err
	}
	api := httptest.NewServer(idpoolhttp.Middleware(users, validate, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var who string
		if err := db.QueryRowContext(r.Context(), "SELECT SUSER_SNAME()").Scan(&who); err != nil {
			if idpoolhttp.AnswerClaimsChallenge(w, err) {
				return
			}
			http.Error(w, "query failed", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, who)
	})))
	t.Cleanup(api.Close)

	get := func(bearer string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := api.Client().Do(req)
		if err != nil {
			return 0, "", err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
	}
	carol, err := es.UserToken("carol@contoso.example", apiID, time.Hour)
	require.NoError(t, err)
	dave, err := es.UserToken("dave@contoso.example", apiID, time.Hour)
	require.NoError(t, err)
	wantClaims := base64.StdEncoding.EncodeToString([]byte(`{"access_token":{"capolids":{"essential":true,"values":["` + entra.MFAPolicyID + `"]}}}`))

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			code, challenge, body := get(dave)
			assert.Equal(t, http.StatusOK, code, "dave: %s %s", challenge, body)
			assert.Empty(t, challenge, "dave got a challenge")
		})
		wg.Go(func() {
			code, challenge, body := get(carol)
			assert.Equal(t, http.StatusUnauthorized, code, "carol: %s", body)
			assert.True(t, strings.HasSuffix(challenge, `claims="`+wantClaims+`"`), "carol: %s", challenge)
		})
	}
	wg.Wait()
}
