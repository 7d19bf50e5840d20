package netfault_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/idpool/idpool/internal/netfault"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer echoes every connection until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { _ = ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func TestAProxyForwardsUntilSilencedThenDeliversNothing(t *testing.T) {
	p, err := netfault.Listen(echoServer(t))
	require.NoError(t, err)
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()

	buf := make([]byte, 5)
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf), "forwarded both ways before Silence")

	p.Silence()
	_, err = c.Write([]byte("again"))
	require.NoError(t, err, "the connection stays open")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = c.Read(buf)
	var ne net.Error
	require.ErrorAs(t, err, &ne, "nothing arrives once silenced")
	assert.True(t, ne.Timeout(), "the read timed out rather than saw a close: %v", err)

	require.NoError(t, c.SetReadDeadline(time.Time{}))
	require.NoError(t, p.Close())
	_, err = c.Read(buf)
	assert.Error(t, err, "Close ends every connection")
}

func TestSilenceOpenSilencesTheConnectionsOpenNowOnly(t *testing.T) {
	p, err := netfault.Listen(echoServer(t))
	require.NoError(t, err)
	defer p.Close()
	echo := func(c net.Conn, msg string, within time.Duration) error {
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		if err := c.SetReadDeadline(time.Now().Add(within)); err != nil {
			return err
		}
		buf := make([]byte, len(msg))
		_, err := io.ReadFull(c, buf)
		return err
	}
	old, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer old.Close()
	require.NoError(t, echo(old, "hello", 10*time.Second))

	p.SilenceOpen()
	var ne net.Error
	require.ErrorAs(t, echo(old, "again", 200*time.Millisecond), &ne, "nothing arrives on a connection open at SilenceOpen")
	assert.True(t, ne.Timeout())

	fresh, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer fresh.Close()
	assert.NoError(t, echo(fresh, "fresh", 10*time.Second), "a later connection is forwarded")
}
