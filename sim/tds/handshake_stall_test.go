package tds

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHandshakeStallsEndAtTheDeadline: a client that stops anywhere before
// its login is answered loses the connection at Options.HandshakeTimeout, so
// it holds no goroutine past it. (After login a session may idle as long as
// it likes, as on SQL Server; Kill and Close end it.)
func TestHandshakeStallsEndAtTheDeadline(t *testing.T) {
	c := captureClient(t)
	srv, err := Start(Options{Users: map[string]string{"sa": "Seed-Passw0rd"}, HandshakeTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer srv.Close()
	prelogin := appendPackets(nil, pktPrelogin, 0, defaultPacketSize, c.ofType(pktPrelogin)[1])
	login := appendPackets(nil, pktLogin7, 0, defaultPacketSize, c.ofType(pktLogin7)[1])
	encryptOnPrelogin := appendPackets(nil, pktPrelogin, 0, defaultPacketSize,
		[]byte{preEncryption, 0, 6, 0, 1, preTerminator, encryptOn})

	for name, stall := range map[string]func(r *rawClient){
		"before anything":          func(*rawClient) {},
		"inside a PRELOGIN header": func(r *rawClient) { r.sendRaw(prelogin[:3]) },
		"inside a PRELOGIN body":   func(r *rawClient) { r.sendRaw(prelogin[:headerLen+2]) },
		"before LOGIN7": func(r *rawClient) {
			r.sendRaw(prelogin)
			r.reply()
		},
		"inside LOGIN7": func(r *rawClient) {
			r.sendRaw(prelogin)
			r.reply()
			r.sendRaw(login[:len(login)-1])
		},
		"inside a TLS-first ClientHello": func(r *rawClient) { r.sendRaw([]byte{tlsRecordHandshake, 3, 1, 0, 200, 1}) },
		"before the TLS handshake it negotiated": func(r *rawClient) {
			r.sendRaw(encryptOnPrelogin)
			r.reply()
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := dialRaw(t, srv)
			stall(r)
			r.expectClosed()
		})
	}
}
