package sqlserver_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/tokens"
)

// TestTokenLoginCarriesNoChangePassword: a DSN's "change password" is a SQL
// login's credential (its new password), and go-mssqldb writes it into
// every LOGIN7, FEDAUTH or not. A token identity's login must carry none of
// the DSN's SQL credentials, this one included.
func TestTokenLoginCarriesNoChangePassword(t *testing.T) {
	login7 := make(chan []byte, 1)
	srv := startStallServer(t, func(c net.Conn) error {
		if err := readPacket(c); err != nil {
			return err
		}
		if _, err := c.Write(preloginReply(0x02)); err != nil { // ENCRYPT_NOT_SUP
			return err
		}
		m, err := readMessage(c)
		login7 <- m
		return err
	})
	q := url.Values{"encrypt": {"disable"}, "change password": {sentinelPassword + "-new"}}
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword("app", sentinelPassword), Host: srv.ln.Addr().String(), RawQuery: q.Encode()}
	d, err := sqlserver.NewDialer(u.String())
	require.NoError(t, err)
	key, err := sqlserver.ServerKey(u.String())
	require.NoError(t, err)
	req := tokenRequestFor(t, key, "msi:alice", mint(t, "alice@contoso.test", time.Now().Add(time.Hour)))

	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := d.Dial(ctx, req)
		res <- err
	}()
	<-srv.reached
	cancel()
	require.ErrorIs(t, <-res, context.Canceled)
	m := <-login7
	require.GreaterOrEqual(t, len(m), 94, "LOGIN7 header")
	assert.Zero(t, m[27]&0x01, "OptionFlags3 fChangePassword")
	assert.Zero(t, binary.LittleEndian.Uint16(m[88:]), "cchChangePassword")
	assert.Zero(t, binary.LittleEndian.Uint16(m[46:]), "cchPassword")
}

// TestInvalidDSNErrorsHideTheChangePassword: the new password is scrubbed
// from DSN errors as the password is.
func TestInvalidDSNErrorsHideTheChangePassword(t *testing.T) {
	for _, dsn := range []string{
		"server=host;user id=u;password=Other-Pass-1;change password=" + sentinelPassword + ";port=" + sentinelPassword,
		"odbc:server=host;uid=u;pwd=Other-Pass-1;Change Password={" + sentinelPassword + "};port={" + sentinelPassword + "}",
		"sqlserver://u:Other-Pass-1@host?change+password=" + url.QueryEscape(sentinelPassword) + "&port=" + url.QueryEscape(sentinelPassword),
	} {
		_, err := sqlserver.NewDialer(dsn)
		require.Error(t, err, dsn)
		assert.True(t, errors.Is(err, sqlserver.ErrInvalidDSN))
		assertNoSecret(t, err.Error())
	}
}

// tokenRequestFor is a managed identity's dial request for the server key.
func tokenRequestFor(t *testing.T, serverKey, disc string, tok tokens.Token) actors.DialRequest {
	return actors.DialRequest{
		Key:      tokens.NewKey(serverKey, disc),
		Identity: tokens.New(tokens.KindManagedIdentity, disc, noMint(t)),
		Token:    tok,
	}
}
