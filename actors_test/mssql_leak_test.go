package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// secretParts returns what of a JWT must never be printed: the whole token
// and its payload and signature segments (the header is the same for every
// token of the issuer, so it proves nothing).
func secretParts(token string) []string {
	parts := strings.Split(token, ".")
	out := []string{token}
	if len(parts) == 3 {
		out = append(out, parts[1], parts[2])
	}
	return out
}

// TestMSSQLNoTokenLeaks provokes every kind of failure a caller can see
// (acquire timeout, a login the server refuses, a token endpoint outage, a
// session killed mid-query, a cancelled query) with real tokens from
// sim/entra in play, and checks that no error (in any format), no Stats
// value (printed or as JSON) and no log line contains any of them.
func TestMSSQLNoTokenLeaks(t *testing.T) {
	env := startMSSQL(t)
	// Under MSAL's cache window: every mint is a fresh token, so there are
	// many distinct tokens that could leak.
	env.entra.SetLifetime(2 * time.Minute)
	sp, spCred := env.countedSP(t, "leak", nil)
	mi, miCred := env.countedMI(t, "leak")
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Every idle connection is validated, so a session killed while idle is
	// found on the next acquire and replaced by a dial the test controls.
	db := env.openManager(t, manager.Config{MaxSize: 1, TokenThreshold: 30 * time.Second,
		HealthCheckAfter: time.Nanosecond, Logger: logger}, nil)
	base := testCtx(t, 60*time.Second)
	spCtx, miCtx := tokens.WithIdentity(base, sp.ID), tokens.WithIdentity(base, mi.ID)

	var texts []string
	record := func(what string, v any) {
		texts = append(texts, fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v))
		if b, err := json.Marshal(v); err == nil {
			texts = append(texts, string(b))
		}
		if err, ok := v.(error); ok {
			for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
				texts = append(texts, e.Error())
			}
		}
		t.Logf("%s: %v", what, v)
	}
	mustFail := func(what string, err error) {
		t.Helper()
		require.Error(t, err, what)
		record(what, err)
	}
	killSessionsOf := func(login string) {
		for _, s := range env.tds.Sessions() {
			if s.Login == login {
				env.tds.Kill(s.SPID)
			}
		}
	}

	for _, ctx := range []context.Context{spCtx, miCtx, spCtx, miCtx} {
		spidOf(t, ctx, db)
	}

	// An acquire that times out while the only connection is leased.
	l := acquire(t, spCtx, db.Manager, sp.ID)
	tctx, cancel := context.WithTimeout(spCtx, 50*time.Millisecond)
	_, err := db.Manager.Acquire(tctx, sp.ID)
	cancel()
	mustFail("acquire timeout", err)
	require.ErrorIs(t, err, manager.ErrAcquireTimeout)
	l.Release(nil)

	// A login the server refuses (the killed session is replaced by a dial).
	env.tds.RefuseLogins(true)
	killSessionsOf(sp.Login)
	var login string
	mustFail("login refused", db.QueryRowContext(spCtx, "SELECT SUSER_SNAME()").Scan(&login))
	env.tds.RefuseLogins(false)

	// The token endpoint is down when a new connection needs a token.
	env.entra.SetFailing(true)
	killSessionsOf(mi.Login)
	mustFail("token endpoint down", db.QueryRowContext(miCtx, "SELECT SUSER_SNAME()").Scan(&login))
	env.entra.SetFailing(false)

	// A session killed in the middle of a query, and a cancelled query.
	errc := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(miCtx, "WAITFOR DELAY '00:00:20'")
		errc <- err
	}()
	env.tds.Kill(runningSPID(t, env, mi.Login))
	mustFail("killed mid-query", <-errc)
	qctx, qcancel := context.WithTimeout(spCtx, 300*time.Millisecond)
	_, err = db.ExecContext(qctx, "WAITFOR DELAY '00:00:20'")
	qcancel()
	mustFail("cancelled query", err)

	// Everything still works, and the books are open to inspection.
	spidOf(t, spCtx, db)
	spidOf(t, miCtx, db)
	st := db.Manager.Stats()
	record("stats", st)
	for _, p := range st.PerPool {
		record("pool stats", p)
	}
	texts = append(texts, logs.String())

	secrets := append(append(spCred.handedOut(), miCred.handedOut()...), env.tokensSeen()...)
	require.GreaterOrEqual(t, len(spCred.handedOut()), 2)
	require.GreaterOrEqual(t, len(miCred.handedOut()), 2)
	require.NotEmpty(t, logs.String(), "the logger was used")
	leaks := 0
	for _, tok := range secrets {
		for _, part := range secretParts(tok) {
			for _, text := range texts {
				if strings.Contains(text, part) {
					leaks++
					t.Errorf("a token (or part of one, %d bytes) appears in: %.200s", len(part), text)
				}
			}
		}
	}
	assert.Zero(t, leaks)
	t.Logf("no leaks: %d tokens checked against %d texts (%d bytes of logs)", len(secrets), len(texts), len(logs.String()))
}
