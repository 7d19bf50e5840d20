package idpoolhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"

	"github.com/idpool/idpool/manager"
)

// A web API whose handler queries as the calling user: the middleware
// validates the bearer token and puts the user's on-behalf-of identity in
// the request's ctx; the *sql.DB facade opens (or reuses) a connection of
// that user. It runs here against a local Entra ID and a simulated SQL
// Server; in production the validator checks tokens against your tenant's
// keys and the DSN names your Azure SQL server.
func ExampleMiddleware() {
	const tenant, apiID, apiSecret = "c0de0000-0000-4000-8000-00000000c0de", "orders-api", "api-secret"
	es, _ := entra.New(entra.Config{})
	defer es.Close()
	es.RegisterApp(tenant, apiID, apiSecret, "oid-api")
	es.RegisterUser(tenant, "alice@contoso.example", "a11ce000-0000-4000-8000-000000000001")
	es.RegisterUser(tenant, "bob@contoso.example", "b0b00000-0000-4000-8000-000000000002")
	srv, _ := tds.Start(tds.Options{Database: "appdb", VerifyToken: func(tok string) (string, time.Time, error) {
		c, err := es.Verify(tok, "https://database.windows.net/")
		return c.UPN, c.ExpiresAt.Time, err
	}})
	defer srv.Close()
	dsn := url.URL{Scheme: "sqlserver", Host: srv.Addr(), RawQuery: "database=appdb&encrypt=disable"}
	db, _ := sqlserver.OpenDB(dsn.String(), manager.Config{})
	defer db.Close()

	app, _ := tokens.NewOnBehalfOfSecret(tenant, apiID, apiSecret, es.OnBehalfOfOptions())
	users, _ := onbehalf.NewCache(app, 10_000)
	validate := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		c, err := es.Verify(bearer, entra.APIAudience(apiID)) // signature, issuer, expiry, audience
		return tokens.Principal{TenantID: c.TenantID, ObjectID: c.ObjectID}, err
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var who string
		if err := db.QueryRowContext(r.Context(), "SELECT SUSER_SNAME()").Scan(&who); err != nil {
			if idpoolhttp.AnswerClaimsChallenge(w, err) {
				return // 401 with Entra's claims challenge: the client signs the user in again (MFA)
			}
			http.Error(w, "query failed", http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, who)
	})
	api := httptest.NewServer(idpoolhttp.Middleware(users, validate, whoami))
	defer api.Close()

	get := func(bearer string) {
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := api.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
	}
	alice, _ := es.UserToken("alice@contoso.example", apiID, time.Hour)
	bob, _ := es.UserToken("bob@contoso.example", apiID, time.Hour)
	expired, _ := es.UserToken("bob@contoso.example", apiID, -time.Minute)
	get(alice)
	get(bob)
	get(alice)
	get(expired)
	fmt.Println("token exchanges:", es.Exchanges(), "physical opens:", db.Manager.Stats().Total.Opens)
	// Output:
	// 200 alice@contoso.example
	// 200 bob@contoso.example
	// 200 alice@contoso.example
	// 401 Unauthorized
	//
	// token exchanges: 2 physical opens: 2
}
