// Command obo is a web API that queries the database as its calling users:
// each request's bearer token is validated, exchanged on-behalf-of the user
// for a database token (only when the user's pool opens a connection), and
// the handler's query through the *sql.DB facade runs as that user.
//
// It runs against a local Entra ID (sim/entra) and a simulated SQL Server
// (sim/tds), plays two users, an expired and a forged token, a user whose
// token is renewed, and a user the database's conditional access asks for
// multi-factor authentication (the API relays Entra's claims challenge to
// its client, which signs the user in again), and prints what each got:
//
//	go run ./examples/obo
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

const (
	tenant    = "c0de0000-0000-4000-8000-00000000c0de"
	apiID     = "orders-api"
	apiSecret = "orders-api-secret"
	aliceUPN  = "alice@contoso.example"
	aliceOID  = "a11ce000-0000-4000-8000-000000000001"
	bobUPN    = "bob@contoso.example"
	bobOID    = "b0b00000-0000-4000-8000-000000000002"
	carolUPN  = "carol@contoso.example"
	carolOID  = "ca201000-0000-4000-8000-000000000003"
	sqlAud    = "https://database.windows.net/"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// listenAddr is where the API listens: any free port of the loopback.
var listenAddr = "127.0.0.1:0"

// rig is the demo's world: Entra, the database, and the API in front of it.
type rig struct {
	entra *entra.Server
	db    *manager.DB
	api   string // base URL
	// server is the API's HTTP server (see newServer).
	server *http.Server
	stop   func()
}

// start brings up sim/entra, sim/tds, the facade and the API server.
func start() (*rig, error) {
	es, err := entra.New(entra.Config{})
	if err != nil {
		return nil, err
	}
	es.RegisterApp(tenant, apiID, apiSecret, "oid-"+apiID)
	es.RegisterUser(tenant, aliceUPN, aliceOID)
	es.RegisterUser(tenant, bobUPN, bobOID)
	es.RegisterUser(tenant, carolUPN, carolOID)
	// Conditional access on the database wants MFA of Carol.
	es.RequireMFA(carolUPN, true)
	// The database accepts Entra tokens for Azure SQL; SUSER_SNAME() is the
	// token's user.
	srv, err := tds.Start(tds.Options{Database: "appdb", VerifyToken: func(tok string) (string, time.Time, error) {
		c, err := es.Verify(tok, sqlAud)
		if err != nil {
			return "", time.Time{}, err
		}
		return c.UPN, c.ExpiresAt.Time, nil
	}})
	if err != nil {
		es.Close()
		return nil, err
	}
	dsn := url.URL{Scheme: "sqlserver", Host: srv.Addr(), RawQuery: "database=appdb&encrypt=disable"}
	db, err := sqlserver.OpenDB(dsn.String(), manager.Config{})
	if err != nil {
		_ = srv.Close()
		es.Close()
		return nil, err
	}
	// What start has started, stopped if a later step fails: the servers
	// and the Manager's actors would otherwise run on with nothing to stop
	// them.
	stopBackends := func() {
		_ = db.Close()
		_ = srv.Close()
		es.Close()
	}

	// The API: its own app registration, exchanging its callers' tokens.
	app, err := tokens.NewOnBehalfOfSecret(tenant, apiID, apiSecret, es.OnBehalfOfOptions())
	if err != nil {
		stopBackends()
		return nil, err
	}
	users, err := onbehalf.NewCache(app, 1000)
	if err != nil {
		stopBackends()
		return nil, err
	}
	validate := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		// Signature, issuer, expiry and audience (this API) are checked here.
		c, err := es.Verify(bearer, entra.APIAudience(apiID))
		if err != nil {
			return tokens.Principal{}, err
		}
		return tokens.Principal{TenantID: c.TenantID, ObjectID: c.ObjectID}, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		var who string
		// r.Context() carries the caller's identity: this runs as the caller.
		if err := db.QueryRowContext(r.Context(), "SELECT SUSER_SNAME()").Scan(&who); err != nil {
			// Conditional access refused the exchange of the caller's
			// token (MFA required): only the client can satisfy it, so
			// the API hands it Entra's claims challenge (401).
			if idpoolhttp.AnswerClaimsChallenge(w, err) {
				return
			}
			http.Error(w, "query failed", http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, who)
	})
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		stopBackends()
		return nil, err
	}
	// A request the API cannot serve for a reason of its own (500, 503) is
	// logged, without the caller's token.
	handler := idpoolhttp.Middleware(users, validate, mux, idpoolhttp.WithLogger(slog.Default()))
	hs := newServer(handler)
	go func() { _ = hs.Serve(ln) }()
	stop := func() {
		_ = hs.Close()
		stopBackends()
	}
	return &rig{entra: es, db: db, api: "http://" + ln.Addr().String(), server: hs, stop: stop}, nil
}

// newServer is the API's HTTP server. Each timeout bounds how long one
// client can hold a connection (and its goroutine and buffers) without
// making progress: net/http has none by default, and ReadHeaderTimeout
// alone bounds only a request's headers, so a client could trickle a
// request body, or leave a keep-alive connection idle after its first
// request, for good (an idle wait falls back to ReadTimeout, and without
// it has no deadline).
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,  // headers trickled a byte at a time
		ReadTimeout:       15 * time.Second, // the whole request, body included
		// Longer than manager.DefaultAcquireTimeout (30s), so that a request
		// that waited its full turn for a connection still gets its answer.
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute, // a keep-alive connection between requests
	}
}

// whoami calls the API with bearer and returns its status and body.
func (r *rig) whoami(ctx context.Context, bearer string) (int, string, error) {
	status, body, _, err := r.whoamiChallenged(ctx, bearer)
	return status, body, err
}

// whoamiChallenged is whoami that also returns the answer's
// WWW-Authenticate header.
func (r *rig) whoamiChallenged(ctx context.Context, bearer string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.api+"/whoami", nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), resp.Header.Get("WWW-Authenticate"), err
}

// run plays the demo and prints one line per call.
func run(ctx context.Context, out io.Writer) error {
	r, err := start()
	if err != nil {
		return err
	}
	defer r.stop()
	defer http.DefaultClient.CloseIdleConnections()
	call := func(label, bearer string) (int, error) {
		status, body, err := r.whoami(ctx, bearer)
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(out, "%-34s %d %s\n", label, status, body)
		return status, nil
	}

	// Alice's first token expires in 3 seconds; Bob's in an hour.
	alice1, err := r.entra.UserToken(aliceUPN, apiID, 3*time.Second)
	if err != nil {
		return err
	}
	bob, err := r.entra.UserToken(bobUPN, apiID, time.Hour)
	if err != nil {
		return err
	}
	if _, err := call("alice:", alice1); err != nil {
		return err
	}
	if _, err := call("bob:", bob); err != nil {
		return err
	}
	if _, err := call("bob again (a pool hit):", bob); err != nil {
		return err
	}
	expired, err := r.entra.UserToken(bobUPN, apiID, -time.Minute)
	if err != nil {
		return err
	}
	if _, err := call("an expired token:", expired); err != nil {
		return err
	}
	forged, err := forge(bobUPN, bobOID)
	if err != nil {
		return err
	}
	if _, err := call("a forged token:", forged); err != nil {
		return err
	}

	// Alice's app renews her token; her first one then expires.
	alice2, err := r.entra.UserToken(aliceUPN, apiID, time.Hour)
	if err != nil {
		return err
	}
	if _, err := call("alice, renewed:", alice2); err != nil {
		return err
	}
	for {
		status, _, err := r.whoami(ctx, alice1)
		if err != nil {
			return err
		}
		if status == http.StatusUnauthorized {
			fmt.Fprintf(out, "%-34s %d\n", "alice's first token, expired:", status)
			break
		}
		select {
		case <-ctx.Done():
			return errors.New("alice's first token never expired")
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Drop Alice's connections, so that the next request opens a new one:
	// its token is exchanged with her renewed token, not the expired one.
	if err := evictAlice(ctx, r, alice2); err != nil {
		return err
	}
	if _, err := call("alice, on a new connection:", alice2); err != nil {
		return err
	}
	if err := stepUpCarol(ctx, r, out); err != nil {
		return err
	}
	st := r.db.Manager.Stats().Total
	fmt.Fprintf(out, "physical opens: %d, token exchanges: %d\n", st.Opens, r.entra.Exchanges())
	return nil
}

// stepUpCarol plays Carol, whom the database's conditional access asks for
// MFA: her first call gets 401 with Entra's claims challenge, which her
// client reads (as MSAL's claims-challenge helpers do) to sign her in
// again with MFA; the token it gets then is served.
func stepUpCarol(ctx context.Context, r *rig, out io.Writer) error {
	carol, err := r.entra.UserToken(carolUPN, apiID, time.Hour)
	if err != nil {
		return err
	}
	status, _, challenge, err := r.whoamiChallenged(ctx, carol)
	if err != nil {
		return err
	}
	claims, err := claimsOf(challenge)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%-34s %d claims=%s\n", "carol, MFA required:", status, claims)
	// Her client signs her in again, asking for the claims: with MFA.
	carol, err = r.entra.UserTokenWithMFA(carolUPN, apiID, 2*time.Hour)
	if err != nil {
		return err
	}
	status, body, err := r.whoami(ctx, carol)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%-34s %d %s\n", "carol, after MFA:", status, body)
	return nil
}

// claimsOf is the claims request of a WWW-Authenticate claims challenge
// (its claims parameter, base64-decoded).
func claimsOf(challenge string) (string, error) {
	_, rest, ok := strings.Cut(challenge, `claims="`)
	if !ok || !strings.Contains(challenge, `error="insufficient_claims"`) {
		return "", fmt.Errorf("no claims challenge in %q", challenge)
	}
	encoded, _, _ := strings.Cut(rest, `"`)
	claims, err := base64.StdEncoding.DecodeString(encoded)
	return string(claims), err
}

// evictAlice closes Alice's pooled connections (Manager.Evict).
func evictAlice(ctx context.Context, r *rig, assertion string) error {
	app, err := tokens.NewOnBehalfOfSecret(tenant, apiID, apiSecret, r.entra.OnBehalfOfOptions())
	if err != nil {
		return err
	}
	id, err := app.Identity(tokens.Principal{TenantID: tenant, ObjectID: aliceOID}, assertion)
	if err != nil {
		return err
	}
	return r.db.Manager.Evict(ctx, id)
}

// forge makes a token that claims to be user but is signed by a key of its
// own: what an attacker could send.
func forge(upn, oid string) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": entra.APIAudience(apiID), "upn": upn, "oid": oid, "tid": tenant, "idtyp": "user",
		"exp": time.Now().Add(time.Hour).Unix(), "iss": "https://login.example/" + tenant + "/v2.0",
	}).SignedString([]byte("not entra's key"))
}
