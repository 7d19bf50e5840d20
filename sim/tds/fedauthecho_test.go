package tds

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFedAuthEchoMustMatchThePreloginReply: [MS-TDS] has the server check
// a FEDAUTH login's fFedAuthEcho against the FEDAUTHREQUIRED its PRELOGIN
// reply carried, and refuse a mismatch with an ERROR, closing the
// connection. The simulator took the token whatever the bit said, so a
// client that set it wrongly logged in here and would fail against SQL
// Server.
func TestFedAuthEchoMustMatchThePreloginReply(t *testing.T) {
	c := captureClient(t)
	srv, err := Start(Options{VerifyToken: func(string) (string, time.Time, error) {
		return "seed@contoso.test", time.Now().Add(time.Hour), nil
	}})
	require.NoError(t, err)
	defer srv.Close()
	preWith, preWithout := c.ofType(pktPrelogin)[0], c.ofType(pktPrelogin)[1]
	p, err := parsePrelogin(preWith)
	require.NoError(t, err)
	require.True(t, p.fedAuthRequired)
	p, err = parsePrelogin(preWithout)
	require.NoError(t, err)
	require.False(t, p.fedAuthRequired)
	echoed := c.ofType(pktLogin7)[0]
	notEchoed := withFedAuthEcho(t, echoed, false)

	for _, tc := range []struct {
		name       string
		pre, login []byte
		ok         bool
	}{
		{"echo after FEDAUTHREQUIRED", preWith, echoed, true},
		{"no echo after FEDAUTHREQUIRED", preWith, notEchoed, false},
		{"echo without FEDAUTHREQUIRED", preWithout, echoed, false},
		{"no echo without FEDAUTHREQUIRED", preWithout, notEchoed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, srv)
			r.send(pktPrelogin, 0, tc.pre)
			r.reply()
			r.send(pktLogin7, 0, tc.login)
			m := r.reply()
			n, failed := firstError(m)
			if tc.ok {
				assert.False(t, failed, "login refused with %d", n)
				return
			}
			require.True(t, failed)
			assert.Equal(t, int32(18456), n)
			r.expectClosed()
		})
	}
}

// withFedAuthEcho returns a copy of a LOGIN7 whose first feature is
// FEDAUTH, with its fFedAuthEcho bit set to echo.
func withFedAuthEcho(t *testing.T, login []byte, echo bool) []byte {
	t.Helper()
	l := append([]byte(nil), login...)
	le := binary.LittleEndian
	at := int(le.Uint32(l[le.Uint16(l[56:]):]))
	require.Equal(t, featFedAuth, l[at], "FEDAUTH is the first feature")
	if echo {
		l[at+5] |= 1
	} else {
		l[at+5] &^= 1
	}
	fa, err := parseLogin7(l)
	require.NoError(t, err)
	require.Equal(t, echo, fa.fedAuth.echo)
	return l
}
