package tds

import (
	"bytes"
	"context"
	"database/sql"
	"net"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/require"
)

// recordingDialer records every byte go-mssqldb writes, so tests and fuzz
// seeds use real client packets.
type recordingDialer struct {
	mu      sync.Mutex
	streams []*bytes.Buffer
}

type recordingConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (d *recordingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	buf := &bytes.Buffer{}
	d.streams = append(d.streams, buf)
	return &recordingConn{Conn: c, mu: &d.mu, buf: buf}, nil
}

func (d *recordingDialer) bytes() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out [][]byte
	for _, b := range d.streams {
		out = append(out, bytes.Clone(b.Bytes()))
	}
	return out
}

const seedToken = "seed-token"

// captured is what go-mssqldb sent in one scripted session: whole streams
// and their messages.
type captured struct {
	streams  [][]byte
	messages []message
}

func (c captured) ofType(typ byte) [][]byte {
	var out [][]byte
	for _, m := range c.messages {
		if m.typ == typ {
			out = append(out, m.data)
		}
	}
	return out
}

// captureClient runs a token login and a SQL login through go-mssqldb
// against a fresh server and returns the bytes the client sent.
func captureClient(t testing.TB) captured {
	t.Helper()
	srv, err := Start(Options{
		Users: map[string]string{"sa": "Seed-Passw0rd"},
		VerifyToken: func(tok string) (string, time.Time, error) {
			return "seed@contoso.test", time.Now().Add(time.Hour), nil
		},
	})
	require.NoError(t, err)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &recordingDialer{}

	tc, err := mssql.NewConnectorWithAccessTokenProvider("sqlserver://"+srv.Addr()+"?database=app&encrypt=disable",
		func(context.Context) (string, error) { return seedToken, nil })
	require.NoError(t, err)
	tc.Dialer = rec
	script(t, ctx, sql.OpenDB(tc))

	sc, err := mssql.NewConnector("sqlserver://sa:Seed-Passw0rd@" + srv.Addr() + "?database=app&encrypt=disable")
	require.NoError(t, err)
	sc.Dialer = rec
	script(t, ctx, sql.OpenDB(sc))

	var c captured
	c.streams = rec.bytes()
	for _, s := range c.streams {
		ms, err := parseMessages(s, defaultMaxMessage)
		require.NoError(t, err)
		c.messages = append(c.messages, ms...)
	}
	return c
}

func script(t testing.TB, ctx context.Context, db *sql.DB) {
	t.Helper()
	defer db.Close()
	db.SetMaxOpenConns(1)
	require.NoError(t, db.PingContext(ctx))
	_, _ = db.ExecContext(ctx, "CREATE TABLE seed (id int)")
	var v any
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1, @p2, @p3, @p4", 42, "text", 2.5, []byte{1}).Scan(&v, &v, &v, &v))
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO seed VALUES (@p1)", time.Unix(0, 0))
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
}

func TestCapturedClientMessages(t *testing.T) {
	c := captureClient(t)
	require.Len(t, c.streams, 2)
	require.Len(t, c.ofType(pktPrelogin), 2)
	logins := c.ofType(pktLogin7)
	require.Len(t, logins, 2)

	tokLogin, err := parseLogin7(logins[0])
	require.NoError(t, err)
	require.NotNil(t, tokLogin.fedAuth)
	require.Equal(t, fedAuthLibSecurityToken, tokLogin.fedAuth.library)
	require.Equal(t, seedToken, tokLogin.fedAuth.token)
	require.True(t, tokLogin.fedAuth.echo, "the client echoes FEDAUTHREQUIRED")
	require.Equal(t, "go-mssqldb", tokLogin.ctlIntName)
	require.Equal(t, "app", tokLogin.database)
	require.Equal(t, tdsVersion74, tokLogin.tdsVersion)

	sqlLogin, err := parseLogin7(logins[1])
	require.NoError(t, err)
	require.Nil(t, sqlLogin.fedAuth)
	require.Equal(t, "sa", sqlLogin.userName)
	require.Equal(t, "Seed-Passw0rd", sqlLogin.password)

	p, err := parsePrelogin(c.ofType(pktPrelogin)[0])
	require.NoError(t, err)
	require.True(t, p.fedAuthRequired)
	require.Equal(t, encryptNotSup, p.encryption)

	rpcs := c.ofType(pktRPC)
	require.NotEmpty(t, rpcs)
	r, err := parseRPC(rpcs[0])
	require.NoError(t, err)
	require.True(t, isExecuteSQL(r))
	require.Len(t, r.params, 6)
	require.Equal(t, "SELECT @p1, @p2, @p3, @p4", r.params[0].value)
	require.Equal(t, int64(42), r.params[2].value)
	require.Equal(t, "text", r.params[3].value)
	names, ee := parseDeclarations(r.params[1].value.(string))
	require.Nil(t, ee)
	require.Equal(t, []string{"p1", "p2", "p3", "p4"}, names)

	tms := c.ofType(pktTM)
	require.Len(t, tms, 4, "BeginTx and Rollback on each connection")
	begin, err := parseTM(tms[0])
	require.NoError(t, err)
	require.Equal(t, tmBeginXact, begin.typ)
}
