package tds_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/tds"
)

func TestWaitforCancelledByAttention(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	require.NoError(t, db.PingContext(ctx))

	_, err := db.ExecContext(ctx, "WAITFOR DELAY '00:00:00.020'")
	require.NoError(t, err, "a short WAITFOR completes")

	cctx, cancel := context.WithCancel(ctx)
	go func() {
		// Cancel once the server is executing the WAITFOR.
		for !running(srv) {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = db.ExecContext(cctx, "WAITFOR DELAY '00:10:00'")
	require.ErrorIs(t, err, context.Canceled)
	// An explicit cancel is acknowledged with DONE(ATTN): the session stays
	// good and is reused without a new login.
	var one int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	assert.Equal(t, 1, srv.TotalLogins())

	// A deadline also sends ATTENTION; go-mssqldb then discards the
	// connection, so the next query logs in again.
	dctx, dcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer dcancel()
	_, err = db.ExecContext(dctx, "WAITFOR DELAY '00:10:00'")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	assert.Equal(t, 2, srv.TotalLogins())
}

// running reports whether any session is executing a request.
func running(srv *tds.Server) bool {
	for _, s := range srv.Sessions() {
		if s.Running {
			return true
		}
	}
	return false
}

func TestWaitforBadTime(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	_, err := db.ExecContext(ctxT(t), "WAITFOR DELAY '25:00:00'")
	requireSQLError(t, err, 148)
	_, err = db.ExecContext(ctxT(t), "WAITFOR DELAY @p1", "00:00:00.001")
	require.NoError(t, err)
}

func TestKillThenNewLogin(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	var spid int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))
	require.True(t, srv.Kill(spid))
	assert.False(t, srv.Kill(spid), "a session is killed once")
	assert.False(t, srv.Kill(9999))
	require.Eventually(t, func() bool { return len(srv.Sessions()) == 0 }, 5*time.Second, time.Millisecond)

	var one int
	err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	require.Error(t, err, "the killed session's next read fails once")
	var spid2 int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid2))
	assert.NotEqual(t, spid, spid2)
	assert.Equal(t, 2, srv.TotalLogins())
}

func TestKillRollsBackOpenTransaction(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	_, err := db.ExecContext(ctx, "CREATE TABLE t (id int)")
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	var spid int
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))
	require.True(t, srv.Kill(spid))
	require.Error(t, tx.Commit())
	rows, _ := srv.CommittedRows("t")
	assert.Equal(t, int64(0), rows)
}

func TestRefuseLogins(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	held := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	require.NoError(t, held.PingContext(ctx))

	srv.RefuseLogins(true)
	err := openDB(t, sqlDSN(srv, "alice", alicePassword, "")).PingContext(ctx)
	requireSQLError(t, err, 40613)
	require.NoError(t, held.PingContext(ctx), "existing sessions keep working")
	srv.RefuseLogins(false)
	require.NoError(t, openDB(t, sqlDSN(srv, "alice", alicePassword, "")).PingContext(ctx))
}

func TestMaxSessions(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	srv.SetMaxSessions(1)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	c1, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = db.Conn(ctx)
	requireSQLError(t, err, 17809)
	require.NoError(t, c1.Close())
	require.NoError(t, db.Close())
	require.Eventually(t, func() bool { return len(srv.Sessions()) == 0 }, 5*time.Second, time.Millisecond)
	c2, err := openDB(t, sqlDSN(srv, "alice", alicePassword, "")).Conn(ctx)
	require.NoError(t, err, "a slot frees when a session ends")
	require.NoError(t, c2.Close())
	srv.SetMaxSessions(0)
}

func TestLoginLatency(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	srv.SetLoginLatency(time.Minute)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := openDB(t, sqlDSN(srv, "alice", alicePassword, "")).PingContext(short)
	require.Error(t, err, "a login slower than the caller's deadline fails")
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || isTimeout(err), "%v", err)
	assert.Equal(t, 0, srv.TotalLogins())

	srv.SetLoginLatency(10 * time.Millisecond)
	require.NoError(t, openDB(t, sqlDSN(srv, "alice", alicePassword, "")).PingContext(ctx))
	assert.Equal(t, 1, srv.TotalLogins())
}

func TestExpireSessions(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	exp := time.Now().Add(time.Hour)
	tok := openTokenDB(t, srv, mintToken(t, testKey, "bob", exp))
	sqlDB := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	require.NoError(t, tok.PingContext(ctx))
	require.NoError(t, sqlDB.PingContext(ctx))

	assert.Equal(t, 0, srv.ExpireSessions(time.Now()), "nothing expired yet")
	assert.Equal(t, 1, srv.ExpireSessions(exp.Add(time.Second)))
	sessions := srv.Sessions()
	require.Len(t, sessions, 1)
	assert.Equal(t, "alice", sessions[0].Login, "SQL logins never expire")
	var one int
	require.Error(t, tok.QueryRowContext(ctx, "SELECT 1").Scan(&one))
}

func TestStrictTLS(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	certFile := filepath.Join(t.TempDir(), "server.pem")
	require.NoError(t, os.WriteFile(certFile, srv.CertPEM(), 0o600))
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, "encrypt=strict&certificate="+certFile+"&hostnameincertificate=localhost"))
	var who string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&who))
	assert.Equal(t, "alice", who)
	sessions := srv.Sessions()
	require.Len(t, sessions, 1)
	assert.True(t, sessions[0].Encrypted)

	// A client that does not trust the generated certificate cannot connect.
	other := t.TempDir() + "/other.pem"
	otherSrv := startServer(t)
	require.NoError(t, os.WriteFile(other, otherSrv.CertPEM(), 0o600))
	err := openDB(t, sqlDSN(srv, "alice", alicePassword, "encrypt=strict&certificate="+other+"&hostnameincertificate=localhost")).PingContext(ctx)
	require.Error(t, err)
	assert.Len(t, srv.Sessions(), 1)
}

func TestEncryptRequiredRefusedByPlainServer(t *testing.T) {
	// A server without encryption answers PRELOGIN with ENCRYPT_NOT_SUP, so a
	// client that insists on TDS 7.x encryption gives up rather than sending
	// in clear.
	srv := startServerWith(t, tds.EncryptionUnsupported)
	err := openDB(t, "sqlserver://alice:x@"+srv.Addr()+"?encrypt=true&dial+timeout=5").PingContext(ctxT(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "server does not support encryption")
}
