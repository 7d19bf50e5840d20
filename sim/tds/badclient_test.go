package tds

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawClient speaks TDS by hand, to send what go-mssqldb never would.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	mr *messageReader
}

func dialRaw(t *testing.T, srv *Server) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return &rawClient{t: t, c: c, mr: newMessageReader(c, defaultMaxMessage)}
}

func (r *rawClient) send(typ, status byte, payload []byte) {
	r.t.Helper()
	b := appendPackets(nil, typ, 0, defaultPacketSize, payload)
	b[1] |= status
	_, err := r.c.Write(b)
	require.NoError(r.t, err)
}

func (r *rawClient) sendRaw(b []byte) {
	r.t.Helper()
	_, err := r.c.Write(b)
	require.NoError(r.t, err)
}

func (r *rawClient) reply() message {
	r.t.Helper()
	m, err := r.mr.readMessage()
	require.NoError(r.t, err)
	require.Equal(r.t, pktReply, m.typ)
	return m
}

// expectClosed asserts the server closed the connection.
func (r *rawClient) expectClosed() {
	r.t.Helper()
	_, err := r.mr.readMessage()
	require.Error(r.t, err)
	var ne net.Error
	require.False(r.t, errors.As(err, &ne) && ne.Timeout(), "server kept the connection open")
}

// login replays go-mssqldb's captured PRELOGIN and LOGIN7.
func (r *rawClient) login(c captured) {
	r.t.Helper()
	r.send(pktPrelogin, 0, c.ofType(pktPrelogin)[1])
	r.reply()
	r.send(pktLogin7, 0, c.ofType(pktLogin7)[1])
	m := r.reply()
	require.NotEqual(r.t, tokError, m.data[0], "login failed")
}

func batchPayload(sql string) []byte {
	b := []byte{22, 0, 0, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	return appendUCS2(b, sql)
}

// firstError returns the number of the reply's first token when it is an ERROR.
func firstError(m message) (int32, bool) {
	if len(m.data) < 7 || m.data[0] != tokError {
		return 0, false
	}
	return int32(binary.LittleEndian.Uint32(m.data[3:])), true
}

func TestMalformedInputClosesOnlyThatConnection(t *testing.T) {
	c := captureClient(t)
	srv, err := Start(Options{
		Users: map[string]string{"sa": "Seed-Passw0rd"},
		VerifyToken: func(tok string) (string, time.Time, error) {
			if tok == "panic" {
				panic("verifier bug")
			}
			return "", time.Time{}, errors.New("no")
		},
	})
	require.NoError(t, err)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	good, err := mssql.NewConnector("sqlserver://sa:Seed-Passw0rd@" + srv.Addr() + "?encrypt=disable")
	require.NoError(t, err)
	db := sql.OpenDB(good)
	defer db.Close()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	var spid int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))

	// The good session keeps querying while bad clients come and go.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var goodQueries atomic.Int64
	var goodErr atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var got int
			if err := conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&got); err != nil || got != spid {
				goodErr.Store(errors.New("good session disturbed"))
				return
			}
			goodQueries.Add(1)
		}
	}()

	t.Run("not TDS at all", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.sendRaw([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		r.expectClosed()
	})
	t.Run("packet shorter than its header", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.sendRaw([]byte{pktPrelogin, statusEOM, 0, 4, 0, 0, 1, 0})
		r.expectClosed()
	})
	t.Run("PRELOGIN option past the end", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.send(pktPrelogin, 0, []byte{preEncryption, 0, 6, 0, 50, preTerminator})
		r.expectClosed()
	})
	t.Run("LOGIN7 truncated", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.send(pktPrelogin, 0, c.ofType(pktPrelogin)[1])
		r.reply()
		r.send(pktLogin7, 0, c.ofType(pktLogin7)[1][:60])
		n, ok := firstError(r.reply())
		require.True(t, ok)
		assert.Equal(t, int32(4002), n)
		r.expectClosed()
	})
	t.Run("LOGIN7 string offset out of range", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.send(pktPrelogin, 0, c.ofType(pktPrelogin)[1])
		r.reply()
		l := append([]byte(nil), c.ofType(pktLogin7)[1]...)
		binary.LittleEndian.PutUint16(l[40:], 0xFFF0) // UserName offset
		r.send(pktLogin7, 0, l)
		n, _ := firstError(r.reply())
		assert.Equal(t, int32(4002), n)
		r.expectClosed()
	})
	t.Run("bad ALL_HEADERS after login", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		bad := batchPayload("SELECT 1")
		bad[0] = 0xFF
		r.send(pktSQLBatch, 0, bad)
		n, ok := firstError(r.reply())
		require.True(t, ok)
		assert.Equal(t, int32(4002), n)
		r.expectClosed()
	})
	t.Run("unexpected message type", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		r.send(pktBulkLoad, 0, []byte{1, 2, 3})
		n, _ := firstError(r.reply())
		assert.Equal(t, int32(4002), n)
		r.expectClosed()
	})
	t.Run("two requests at once", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		r.send(pktSQLBatch, 0, batchPayload("WAITFOR DELAY '00:01'"))
		r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
		r.expectClosed()
	})
	t.Run("unsupported RPC parameter keeps the connection", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		rpc := []byte{22, 0, 0, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xFF, 0xFF, 10, 0, 0, 0}
		rpc = append(rpc, 0, 0, 0xF1, 0) // unnamed XML parameter
		r.send(pktRPC, 0, rpc)
		n, ok := firstError(r.reply())
		require.True(t, ok)
		assert.Equal(t, int32(8009), n)
		r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
		m := r.reply()
		assert.Equal(t, tokColMetadata, m.data[0])
	})
	t.Run("attention with nothing running", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		r.send(pktAttention, 0, nil)
		m := r.reply()
		require.Len(t, m.data, 13)
		assert.Equal(t, tokDone, m.data[0])
		assert.Equal(t, doneAttn, binary.LittleEndian.Uint16(m.data[1:]))
	})
	t.Run("ignored message is skipped", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		r.send(pktSQLBatch, statusIgnore, batchPayload("CREATE TABLE ignored (id int)"))
		r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
		assert.Equal(t, tokColMetadata, r.reply().data[0])
		_, exists := srv.CommittedRows("ignored")
		assert.False(t, exists)
	})
	t.Run("panicking token verifier", func(t *testing.T) {
		pc, err := mssql.NewConnectorWithAccessTokenProvider("sqlserver://"+srv.Addr()+"?encrypt=disable&dial+timeout=5",
			func(context.Context) (string, error) { return "panic", nil })
		require.NoError(t, err)
		pdb := sql.OpenDB(pc)
		defer pdb.Close()
		err = pdb.PingContext(ctx)
		require.Error(t, err)
		var me mssql.Error
		assert.False(t, errors.As(err, &me), "a crashed handler sends no reply: %v", err)
	})

	close(stop)
	wg.Wait()
	if e := goodErr.Load(); e != nil {
		t.Fatal(e)
	}
	assert.Positive(t, goodQueries.Load())
	var got int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&got))
	assert.Equal(t, spid, got)
	// The good session plus the six raw clients that logged in as sa.
	assert.Equal(t, 7, srv.Logins("sa"))
}
