package entra

import (
	"crypto/x509"
	"strings"
	"time"
)

// SystemAssigned is the name of the system-assigned managed identity in
// Issued and Rotate.
const SystemAssigned = "system"

// principalKind tells what sort of principal a token is for; it sets idtyp.
type principalKind uint8

const (
	kindApp principalKind = iota
	kindManaged
	kindUser
)

// principal is anything the server issues access tokens to.
type principal struct {
	kind   principalKind
	name   string // the key of counters: client id, SystemAssigned or UPN
	tenant string
	oid    string
	appID  string // apps and managed identities
	upn    string // users

	// How an app proves itself; exactly one is set for apps.
	secret      string
	certificate *x509.Certificate
	federated   string // the subject of accepted federated assertions
}

// state is everything the handlers read and the controls change.
type state struct {
	lifetime  time.Duration
	refreshIn time.Duration
	reuse     bool

	failing    bool
	failStatus int
	failCode   string

	apps     map[string]*principal // tenant/client id, lower case
	managed  map[string]*principal // client id, lower case; "" is the system identity
	users    map[string]*principal // UPN, lower case
	approver string                // UPN signed in at device code and browser prompts, or ""
	// mfaRequired holds the users (UPN, lower case) whose on-behalf-of
	// exchanges conditional access refuses without MFA (RequireMFA).
	mfaRequired map[string]bool

	deviceCodes   map[string]*deviceCode // by device_code
	authCodes     map[string]*authCode   // by code
	refreshTokens map[string]refreshGrant
	refreshSeq    uint64 // the seq of the last refresh token issued

	issued     map[string]int
	total      int
	requests   int
	exchanges  int // on-behalf-of grants answered with a token
	generation map[string]int
	reused     map[string]reusable // name + NUL + audience
}

func newState(lifetime time.Duration) state {
	return state{
		lifetime:      lifetime,
		failStatus:    500,
		failCode:      "temporarily_unavailable",
		apps:          map[string]*principal{},
		managed:       map[string]*principal{},
		users:         map[string]*principal{},
		mfaRequired:   map[string]bool{},
		deviceCodes:   map[string]*deviceCode{},
		authCodes:     map[string]*authCode{},
		refreshTokens: map[string]refreshGrant{},
		issued:        map[string]int{},
		generation:    map[string]int{},
		reused:        map[string]reusable{},
	}
}

func appKey(tenant, clientID string) string {
	return strings.ToLower(tenant) + "/" + strings.ToLower(clientID)
}

// RegisterApp registers a service principal in tenant that authenticates
// with a client secret; its tokens carry oid and appid=clientID.
func (s *Server) RegisterApp(tenant, clientID, secret, oid string) {
	s.registerApp(&principal{tenant: tenant, appID: clientID, oid: oid, secret: secret})
}

// RegisterAppCertificate registers a service principal that authenticates
// with a client assertion signed by the private key of cert (what
// azidentity's ClientCertificateCredential sends).
func (s *Server) RegisterAppCertificate(tenant, clientID string, cert *x509.Certificate, oid string) {
	s.registerApp(&principal{tenant: tenant, appID: clientID, oid: oid, certificate: cert})
}

// RegisterFederatedApp registers a service principal that authenticates with
// a federated assertion: a token from FederatedAssertion(subject) (what
// azidentity's ClientAssertionCredential sends in workload identity setups).
func (s *Server) RegisterFederatedApp(tenant, clientID, subject, oid string) {
	s.registerApp(&principal{tenant: tenant, appID: clientID, oid: oid, federated: subject})
}

func (s *Server) registerApp(p *principal) {
	p.kind, p.name = kindApp, strings.ToLower(p.appID)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.apps[appKey(p.tenant, p.appID)] = p
}

// RegisterManagedIdentity registers a user-assigned managed identity by its
// client id, or the system-assigned one when clientID is "" (then its name in
// Issued and Rotate is SystemAssigned).
func (s *Server) RegisterManagedIdentity(clientID, oid string) {
	p := &principal{kind: kindManaged, tenant: s.tenant, oid: oid, appID: clientID, name: strings.ToLower(clientID)}
	if clientID == "" {
		p.appID, p.name = oid, SystemAssigned
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.managed[strings.ToLower(clientID)] = p
}

// RegisterUser registers a user of tenant who can approve device codes.
// Their tokens carry upn and oid; their home account id is "<oid>.<tenant>".
func (s *Server) RegisterUser(tenant, upn, oid string) {
	p := &principal{kind: kindUser, tenant: tenant, oid: oid, upn: upn, name: strings.ToLower(upn)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.users[strings.ToLower(upn)] = p
}

// HomeAccountID is the home account id MSAL computes for a user of this
// server: "<oid>.<tenant>".
func HomeAccountID(tenant, oid string) string { return oid + "." + tenant }
