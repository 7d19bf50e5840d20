package sqlserver

import (
	"context"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/microsoft/go-mssqldb/msdsn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// The Dialer keeps each connection's transport only while go-mssqldb has
// it open: a pool that opens and closes connections all day must not grow
// the set, and a closed connection cannot be cut.
func TestTheDialerForgetsEveryClosedConnection(t *testing.T) {
	srv, err := tds.Start(tds.Options{Users: map[string]string{"app": "pw-Transport-1"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword("app", "pw-Transport-1"), Host: srv.Addr(),
		RawQuery: "database=appdb&encrypt=disable"}
	d, err := NewDialer(u.String())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := actors.DialRequest{Key: tokens.NewKey(d.ServerKey(), ""), Identity: tokens.SQLLogin()}

	for range 20 {
		c, err := d.Dial(ctx, req)
		require.NoError(t, err)
		require.Equal(t, 1, d.secrets().open.len(), "an open connection is known")
		require.NoError(t, c.Close())
		require.Zero(t, d.secrets().open.len(), "a closed connection is forgotten")
		assert.False(t, d.AbortTransport(c), "a closed connection cannot be cut")
	}
	// What remembers that go-mssqldb's own Close closed them (so that
	// CloseConn does not close them again) goes with them.
	require.Eventually(t, func() bool {
		runtime.GC()
		n := 0
		d.secrets().open.closed.Range(func(any, any) bool { n++; return true })
		return n == 0
	}, 10*time.Second, 10*time.Millisecond, "the closed connections are remembered after they are garbage")

	c, err := d.Dial(ctx, req)
	require.NoError(t, err)
	require.True(t, d.AbortTransport(c))
	assert.False(t, d.AbortTransport(c), "a cut connection cannot be cut again")
	require.Equal(t, 1, d.secrets().open.len(), "a cut connection is known until it is closed")
	require.NoError(t, d.CloseConn(c)) // as the pool closes it
	assert.Zero(t, d.secrets().open.len(), "a closed connection is forgotten")

	assert.False(t, (&Dialer{}).AbortTransport(c), "the zero Dialer knows no connection")
	other, err := NewDialer(u.String())
	require.NoError(t, err)
	assert.False(t, other.AbortTransport(c), "a Dialer cuts only its own connections")
}

// CloseConn closes a connection's socket, then go-mssqldb's Conn: the
// connection is forgotten, and the closed socket go-mssqldb's Close meets
// is no error. A connection it did not dial (another Dialer's, or any for
// the zero Dialer) is closed by go-mssqldb's Close alone.
func TestCloseConnClosesAndForgetsTheConnection(t *testing.T) {
	srv, err := tds.Start(tds.Options{Users: map[string]string{"app": "pw-Transport-2"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword("app", "pw-Transport-2"), Host: srv.Addr(),
		RawQuery: "database=appdb&encrypt=disable"}
	d, err := NewDialer(u.String())
	require.NoError(t, err)
	other, err := NewDialer(u.String())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := actors.DialRequest{Key: tokens.NewKey(d.ServerKey(), ""), Identity: tokens.SQLLogin()}

	c, err := d.Dial(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 1, srv.SessionCount())
	require.NoError(t, d.CloseConn(c))
	assert.Zero(t, d.secrets().open.len(), "a closed connection is forgotten")
	// Closed without go-mssqldb's Close, the session still ends at the
	// server: its socket is gone.
	require.Eventually(t, func() bool { return srv.SessionCount() == 0 }, 10*time.Second, time.Millisecond, "the session outlived its socket")
	assert.False(t, d.AbortTransport(c), "a closed connection cannot be cut")

	c, err = other.Dial(ctx, req)
	require.NoError(t, err)
	require.NoError(t, d.CloseConn(c), "another Dialer's connection is closed by its Close")
	assert.Zero(t, other.secrets().open.len(), "and its own Dialer forgets it")

	c, err = d.Dial(ctx, req)
	require.NoError(t, err)
	require.NoError(t, (&Dialer{}).CloseConn(c), "the zero Dialer closes by Close")
	assert.Zero(t, d.secrets().open.len())
}

// directProtocol is a go-mssqldb protocol that dials on its own, not
// through the Connector's Dialer, as named pipes ("np") and shared memory
// ("lpc") do on Windows. Hidden: only a DSN that names it uses it.
type directProtocol struct{}

const directProtocolName = "idpool-test-direct"

func init() {
	msdsn.ProtocolParsers = append(msdsn.ProtocolParsers, directProtocol{})
	msdsn.ProtocolDialers[directProtocolName] = directProtocol{}
}

func (directProtocol) ParseServer(server string, p *msdsn.Config) error {
	p.Host = server
	return nil
}
func (directProtocol) Protocol() string                                        { return directProtocolName }
func (directProtocol) Hidden() bool                                            { return true }
func (directProtocol) ParseBrowserData(msdsn.BrowserData, *msdsn.Config) error { return nil }
func (directProtocol) CallBrowser(*msdsn.Config) bool                          { return false }
func (directProtocol) DialConnection(ctx context.Context, p *msdsn.Config) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", net.JoinHostPort(p.Host, strconv.FormatUint(p.Port, 10)))
}

// A connection go-mssqldb dialed without the Dialer's network dialer (a
// protocol of its own: named pipes, shared memory) has no transport the
// Dialer knows: CloseConn must still close it, and forget it.
func TestCloseConnClosesAConnectionDialedByAnotherProtocol(t *testing.T) {
	srv, err := tds.Start(tds.Options{Users: map[string]string{"app": "pw-Protocol-1"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	host, port, err := net.SplitHostPort(srv.Addr())
	require.NoError(t, err)
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword("app", "pw-Protocol-1"), Host: net.JoinHostPort(host, port),
		RawQuery: "database=appdb&encrypt=disable&protocol=" + directProtocolName}
	d, err := NewDialer(u.String())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, actors.DialRequest{Key: tokens.NewKey(d.ServerKey(), ""), Identity: tokens.SQLLogin()})
	require.NoError(t, err)
	require.Equal(t, 1, srv.SessionCount())
	require.NoError(t, d.CloseConn(c))
	require.Eventually(t, func() bool { return srv.SessionCount() == 0 }, 10*time.Second, time.Millisecond,
		"CloseConn left the connection open: it closed the transports it knew, and it knew none")
	assert.Zero(t, d.secrets().open.len(), "the closed connection is forgotten")
}
