package tds_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/tds"
)

// startServerWith is startServer with the encryption mode set.
func startServerWith(t *testing.T, enc tds.Encryption) *tds.Server {
	t.Helper()
	srv, err := tds.Start(tds.Options{Users: map[string]string{"alice": alicePassword}, VerifyToken: verifyToken, Encryption: enc})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

// certFile writes the server's certificate where a client can trust it.
func certFile(t *testing.T, srv *tds.Server) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "server.pem")
	require.NoError(t, os.WriteFile(f, srv.CertPEM(), 0o600))
	return f
}

// TestTDS7EncryptionNegotiatedInPrelogin runs go-mssqldb's TDS 7.4 encrypt
// settings against each server mode, with certificate checks on, through a
// query, a transaction and a cancelled WAITFOR, and checks which connections
// ended up encrypted.
func TestTDS7EncryptionNegotiatedInPrelogin(t *testing.T) {
	cases := []struct {
		mode      tds.Encryption
		encrypt   string
		encrypted bool   // after login
		refused   string // the client's error, when it must not connect
	}{
		{tds.EncryptionAvailable, "true", true, ""},     // ON -> ON: all encrypted
		{tds.EncryptionAvailable, "false", false, ""},   // OFF -> OFF: LOGIN7 only
		{tds.EncryptionAvailable, "disable", false, ""}, // NOT_SUP -> NOT_SUP
		{tds.EncryptionRequired, "true", true, ""},      // ON -> ON
		{tds.EncryptionRequired, "false", true, ""},     // OFF -> REQ: all encrypted
		{tds.EncryptionRequired, "disable", false, "x"}, // NOT_SUP -> REQ: hang up
		{tds.EncryptionUnsupported, "true", false, "server does not support encryption"},
		{tds.EncryptionUnsupported, "false", false, ""},
	}
	for _, c := range cases {
		t.Run(c.mode.String()+"/encrypt="+c.encrypt, func(t *testing.T) {
			srv := startServerWith(t, c.mode)
			ctx := ctxT(t)
			extra := "encrypt=" + c.encrypt + "&certificate=" + certFile(t, srv)
			db := openDB(t, sqlDSN(srv, "alice", alicePassword, extra))
			if c.refused != "" {
				err := db.PingContext(ctx)
				require.Error(t, err)
				if c.refused != "x" {
					assert.Contains(t, err.Error(), c.refused)
				}
				assert.Empty(t, srv.Sessions())
				return
			}
			var who string
			require.NoError(t, db.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&who))
			assert.Equal(t, "alice", who)
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, tx.Rollback())
			sessions := srv.Sessions()
			require.Len(t, sessions, 1)
			assert.Equal(t, c.encrypted, sessions[0].Encrypted)
		})
	}
}

func TestTDS7EncryptionChecksTheCertificate(t *testing.T) {
	srv := startServerWith(t, tds.EncryptionAvailable)
	other := startServerWith(t, tds.EncryptionAvailable)
	err := openDB(t, sqlDSN(srv, "alice", alicePassword, "encrypt=true&certificate="+certFile(t, other))).PingContext(ctxT(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Empty(t, srv.Sessions())
}

func TestStartRefusesAnUnknownEncryptionMode(t *testing.T) {
	_, err := tds.Start(tds.Options{Encryption: tds.Encryption(7)})
	require.ErrorContains(t, err, "Options.Encryption")
}
