package entra

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// DefaultLifetime is the lifetime of issued access tokens until SetLifetime
// changes it. It is over MSAL's 5-minute window, so tokens are cached.
const DefaultLifetime = time.Hour

// DefaultTenant is the tenant of managed identities when Config.Tenant is empty.
const DefaultTenant = "00000000-0000-0000-0000-00000000a11d"

// The listeners' timeouts until Config sets others. Without them a client
// that opened a connection and sent part of a request's header (slowloris),
// or dripped its body, or kept an idle connection open, held a server
// goroutine and a file descriptor for as long as it liked. They are far
// longer than any request of the credentials this server serves takes.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
)

// Config sets up a Server. The zero Config is ready to use.
type Config struct {
	// Tenant is the tenant managed identities belong to. Default DefaultTenant.
	Tenant string
	// Lifetime of issued access tokens. Default DefaultLifetime.
	Lifetime time.Duration

	// ReadHeaderTimeout, ReadTimeout and IdleTimeout are both listeners'
	// http.Server timeouts: for a request's header (and the authority's TLS
	// handshake), for the whole request, and for a kept-alive connection
	// between requests. A connection that overruns one is closed. Zero or
	// less means the Default value.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
}

// Server is a running local Entra ID. All methods are safe for concurrent use.
type Server struct {
	authority *httptest.Server // https: discovery, token, devicecode
	managed   *httptest.Server // http: App Service managed identity
	miHeader  string
	tenant    string

	// poster form-posts authorization codes to loopback redirect URIs.
	poster *http.Client

	key *ecdsa.PrivateKey
	kid string

	// mu guards the state below; the handlers run on net/http goroutines.
	mu    sync.Mutex
	state state
}

// New starts a Server on two loopback listeners. Close it when done.
func New(cfg Config) (*Server, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("entra: generating the signing key: %w", err)
	}
	if cfg.Tenant == "" {
		cfg.Tenant = DefaultTenant
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	orDefault(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	orDefault(&cfg.ReadTimeout, DefaultReadTimeout)
	orDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	s := &Server{
		key:      key,
		kid:      rand.Text()[:12],
		miHeader: rand.Text(),
		tenant:   cfg.Tenant,
		state:    newState(cfg.Lifetime),
		poster:   &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
	}
	s.authority = newHTTPServer(s.authorityMux(), cfg)
	s.authority.StartTLS()
	s.managed = newHTTPServer(http.HandlerFunc(s.serveManagedIdentity), cfg)
	s.managed.Start()
	return s, nil
}

func orDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// newHTTPServer is an unstarted httptest server with cfg's timeouts.
func newHTTPServer(h http.Handler, cfg Config) *httptest.Server {
	hs := httptest.NewUnstartedServer(h)
	hs.Config.ReadHeaderTimeout = cfg.ReadHeaderTimeout
	hs.Config.ReadTimeout = cfg.ReadTimeout
	hs.Config.IdleTimeout = cfg.IdleTimeout
	return hs
}

// Close stops both listeners, closes every connection to them and drops the
// idle connections of Client, so no goroutine of the server outlives it.
func (s *Server) Close() {
	for _, h := range []*httptest.Server{s.managed, s.authority} {
		closeNow(h)
	}
	s.poster.CloseIdleConnections()
}

// closeNow closes an httptest server without waiting for requests in
// progress. httptest's Close waits for them, and a client that sent a
// request's headers and then stalled in its body (a hostile or broken peer)
// would hold that wait, and whoever stops this server, for as long as it
// liked. The listener goes first, so no connection is accepted between the
// forced close and Close.
func closeNow(h *httptest.Server) {
	_ = h.Listener.Close()
	h.CloseClientConnections()
	h.Close()
}

// AuthorityHost is the https URL, with a trailing slash, to use as
// cloud.Configuration.ActiveDirectoryAuthorityHost or AZURE_AUTHORITY_HOST.
func (s *Server) AuthorityHost() string { return s.authority.URL + "/" }

// TokenEndpoint is the v2.0 token endpoint of tenant.
func (s *Server) TokenEndpoint(tenant string) string {
	return s.authority.URL + "/" + tenant + "/oauth2/v2.0/token"
}

// MIEndpoint is the managed-identity endpoint, the value of IDENTITY_ENDPOINT.
func (s *Server) MIEndpoint() string { return s.managed.URL + "/msi/token" }

// MIHeader is the secret the managed-identity endpoint expects in the
// X-IDENTITY-HEADER header, the value of IDENTITY_HEADER.
func (s *Server) MIHeader() string { return s.miHeader }

// Tenant is the tenant of managed identities.
func (s *Server) Tenant() string { return s.tenant }

// Client returns an http.Client that trusts the authority's self-signed
// certificate; it reaches the managed-identity endpoint too.
func (s *Server) Client() *http.Client { return s.authority.Client() }

// ClientOptions returns azcore options that send a credential to this server:
// its authority host, a transport that trusts its certificate, and retries off
// so SetFailing fails a request at once instead of after azcore's backoff.
// Confidential and public credentials also need DisableInstanceDiscovery=true.
func (s *Server) ClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()},
		Transport: s.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// Setenver is what SetManagedIdentityEnv needs; *testing.T and *testing.B
// satisfy it and restore the variables after the test.
type Setenver interface {
	Setenv(key, value string)
}

// SetManagedIdentityEnv points ManagedIdentityCredential at this server by
// setting IDENTITY_ENDPOINT and IDENTITY_HEADER (the App Service source).
//
// MSAL caches managed-identity tokens process-wide, shared by every
// credential instance: give each test its own client id or resource.
func (s *Server) SetManagedIdentityEnv(t Setenver) {
	t.Setenv("IDENTITY_ENDPOINT", s.MIEndpoint())
	t.Setenv("IDENTITY_HEADER", s.MIHeader())
}
