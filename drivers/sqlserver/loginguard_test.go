package sqlserver_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/tokens"
)

// stallServer accepts one connection, plays its part of the handshake up to
// a point (act), reports that point on reached and then says nothing until
// the test ends. It reports on clientGone when the client closes the
// connection.
type stallServer struct {
	ln         net.Listener
	reached    chan struct{}
	clientGone chan struct{}
}

func startStallServer(t *testing.T, act func(c net.Conn) error) *stallServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &stallServer{ln: ln, reached: make(chan struct{}), clientGone: make(chan struct{})}
	end := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() {
		close(end)
		_ = ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if err := act(c); err != nil {
			t.Errorf("stall server: %v", err)
			return
		}
		close(s.reached)
		read := make(chan struct{})
		go func() {
			defer close(read)
			_, _ = io.Copy(io.Discard, c) // until the client closes
		}()
		select {
		case <-read:
			close(s.clientGone)
		case <-end:
			_ = c.Close()
			<-read
		}
	}()
	return s
}

// readPacket reads one TDS packet.
func readPacket(c net.Conn) error {
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	_, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint16(hdr[2:]))-8)
	return err
}

// preloginReply answers PRELOGIN with the given ENCRYPTION value and
// FEDAUTHREQUIRED echoed.
func preloginReply(encryption byte) []byte {
	p := []byte{0x00, 0x00, 0x10, 0x00, 0x06, 0x01, 0x00, 0x16, 0x00, 0x01, 0x06, 0x00, 0x17, 0x00, 0x01, 0xFF,
		0x0C, 0x00, 0x07, 0xD0, 0x00, 0x00, encryption, 0x01}
	return append([]byte{0x04, 0x01, 0, byte(8 + len(p)), 0, 0, 1, 0}, p...)
}

// TestDialEndsWithItsCtxWhenTheServerStalls: go-mssqldb waits for the
// PRELOGIN reply and the TLS handshake without looking at its ctx, so a
// server that accepted the connection and then went quiet held Dial (and
// the pool's slot) until it hung up, past any DialTimeout. Dial must return
// the ctx's error once the ctx ends, having closed the connection.
func TestDialEndsWithItsCtxWhenTheServerStalls(t *testing.T) {
	cases := []struct {
		name, query string
		act         func(net.Conn) error
	}{
		{"no PRELOGIN reply", "encrypt=disable", readPacket},
		{"no TLS handshake after PRELOGIN", "encrypt=true&trustservercertificate=true", func(c net.Conn) error {
			if err := readPacket(c); err != nil {
				return err
			}
			_, err := c.Write(preloginReply(0x01))
			return err
		}},
		{"no TLS handshake under strict", "encrypt=strict&trustservercertificate=true", func(c net.Conn) error {
			_, err := c.Read(make([]byte, 1)) // the ClientHello has begun
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startStallServer(t, tc.act)
			d, err := sqlserver.NewDialer("sqlserver://app:" + sentinelPassword + "@" + srv.ln.Addr().String() + "?" + tc.query)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			res := make(chan error, 1)
			go func() {
				_, err := d.Dial(ctx, actors.DialRequest{Identity: tokens.SQLLogin()})
				res <- err
			}()
			<-srv.reached
			cancel()
			select {
			case err := <-res:
				require.ErrorIs(t, err, context.Canceled)
				var de *sqlserver.DialError
				assert.True(t, errors.As(err, &de), "%v", err)
				assertNoSecret(t, err.Error())
			case <-time.After(10 * time.Second): // a failsafe, not an ordering
				t.Fatal("Dial still running 10s after its ctx ended")
			}
			<-srv.clientGone
		})
	}
}

// TestDialedConnectionOutlivesItsCtx: the guard closes nothing once the
// login finished, so a connection dialled under a ctx that then ends (as the
// pool's dial ctx always does) keeps working.
func TestDialedConnectionOutlivesItsCtx(t *testing.T) {
	srv := startServer(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	for name, req := range map[string]actors.DialRequest{
		"sql login": {Identity: tokens.SQLLogin()},
		"token":     tokenRequest(t, srv, "msi:alice", mint(t, "alice@contoso.test", time.Now().Add(time.Hour))),
	} {
		ctx, cancel := context.WithCancel(context.Background())
		conn, err := d.Dial(ctx, req)
		require.NoError(t, err, name)
		cancel()
		assert.NotNil(t, queryOne(t, ctxT(t), conn, "SELECT SUSER_SNAME()"), name)
		require.NoError(t, conn.Close())
	}
}

// readMessage reads the packets of one TDS message and returns its payload.
func readMessage(c net.Conn) ([]byte, error) {
	var out []byte
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return nil, err
		}
		body := make([]byte, int(binary.BigEndian.Uint16(hdr[2:]))-8)
		if _, err := io.ReadFull(c, body); err != nil {
			return nil, err
		}
		out = append(out, body...)
		if hdr[1]&0x01 != 0 {
			return out, nil
		}
	}
}

// neverDone is a ctx of a type of its own (not one of the context package's)
// whose Done channel never closes, like a long-lived ctx of a framework.
type neverDone struct {
	context.Context
	done chan struct{}
}

func (c neverDone) Done() <-chan struct{} { return c.done }

// TestDialLeavesNothingOnItsCtx: the guard's watch on the Dial's ctx ends
// with the login. Left registered, each Dial under a long-lived ctx would
// keep its watch (and the connection it closes) until that ctx ended: for a
// ctx of a type of its own, a goroutine per Dial.
func TestDialLeavesNothingOnItsCtx(t *testing.T) {
	srv := startServer(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	before := goleak.IgnoreCurrent()
	ctx := neverDone{Context: context.Background(), done: make(chan struct{})}
	for range 3 {
		conn, err := d.Dial(ctx, actors.DialRequest{Identity: tokens.SQLLogin()})
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}
	goleak.VerifyNone(t, before)
}
