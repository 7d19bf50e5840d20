package postgres

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeferredResetSurvivesALeaseThatReplacesItsStatements: a lease's
// server-side code, whose text names neither PREPARE nor DEALLOCATE (so
// requestWatch sees nothing), swaps SQL-level statements in under the names
// of the deferred reset's own prepared statements, then SETs ROLE. Had it
// replaced the check, every later reset of the session would have kept the
// role (and whatever else the lease swapped out). The check is parsed afresh
// by every reset and runs before any prepared statement of the reset, so it
// finds the swapped statements and the reset fails closed: the request
// behind it (an INSERT) never runs and the connection is closed.
func TestDeferredResetSurvivesALeaseThatReplacesItsStatements(t *testing.T) {
	var named []int
	for i := range resetSQL {
		if !parsedEveryTime(i) {
			named = append(named, i)
		}
	}
	for _, tc := range []struct {
		name     string
		replaced []int
		as       string
	}{
		{"every prepared one, with a no-op", named, "SELECT 1"},
		{"the last (RESET ALL), with a no-op", named[len(named)-1:], "SELECT 1"},
		{"the first, turning exit_on_error off", named[:1], "SELECT pg_catalog.set_config('exit_on_error', 'off', false)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, pc, srv, role := resetConn(t, "dfrtamper")
			other, _ := srv.NewRole(t, "dfrtamperother")
			srv.Exec(t, "GRANT "+other+" TO "+role)
			table := "witness_" + role
			srv.Exec(t, "CREATE TABLE "+table+" (x int)")
			srv.Exec(t, "GRANT INSERT ON "+table+" TO "+role+", "+other)
			ctx := resetCtx(t)
			// A first deferred reset prepares the reset's statements.
			EndStrayRead(t, ctx, pc)
			require.NoError(t, sc.ResetSession(ctx))
			require.Equal(t, role, queryString(t, ctx, pc, "SELECT current_user::text"))
			var prepared int
			require.NoError(t, pc.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '"+resetStatement+"\\_%'",
				pgx.QueryExecModeSimpleProtocol).Scan(&prepared))
			require.Equal(t, len(named), prepared, "the reset prepared its statements, and only those not parsed every time")

			var swap strings.Builder
			swap.WriteString("DO $$ BEGIN ")
			for _, i := range tc.replaced {
				name := fmt.Sprintf("%s_%d", resetStatement, i)
				fmt.Fprintf(&swap, "EXECUTE 'DEALLOC' || 'ATE %s'; EXECUTE 'PREP' || 'ARE %s AS %s'; ",
					name, name, strings.ReplaceAll(tc.as, "'", "''"))
			}
			swap.WriteString("END $$")
			for _, q := range []string{swap.String(), "SET ROLE " + other} {
				_, err := pc.Exec(ctx, q)
				require.NoError(t, err, q)
			}
			EndStrayRead(t, ctx, pc)
			require.NoError(t, sc.ResetSession(ctx), "deferred: nothing to see yet")

			_, err := pc.Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", 1)
			var re *resetError
			if assert.ErrorAs(t, err, &re, "the reset failed closed") {
				assert.True(t, re.Fatal(), "the server ended the session: the request did not run")
				assert.Contains(t, re.Message, "SQL-level prepared statement")
			}
			assert.True(t, pc.IsClosed())
			assert.Zero(t, srv.QueryInt(t, "SELECT count(*) FROM "+table), "the request behind the tampered reset ran")
		})
	}
}

// TestTheCheckRunsBeforeAnyPreparedStatementOfTheReset pins the order the
// test above relies on, in the messages the reset sends: exit_on_error is
// turned on first and the check runs right after it, both parsed afresh as
// the unnamed statement, before any of the reset's prepared statements is
// bound (a Parse of one only prepares it; it fails, closing the session, if
// a lease left a statement of that name).
func TestTheCheckRunsBeforeAnyPreparedStatementOfTheReset(t *testing.T) {
	for k, m := range resetMessages {
		var binds, parsedUnnamed []string
		for len(m) > 0 {
			require.GreaterOrEqual(t, len(m), 5)
			typ, n := m[0], int(binary.BigEndian.Uint32(m[1:5]))
			body := m[5 : 1+n]
			m = m[1+n:]
			switch typ {
			case 'P':
				name, rest, _ := bytes.Cut(body, []byte{0})
				text, _, _ := bytes.Cut(rest, []byte{0})
				if len(name) == 0 {
					parsedUnnamed = append(parsedUnnamed, string(text))
				}
			case 'B':
				_, rest, _ := bytes.Cut(body, []byte{0}) // the portal
				statement, _, _ := bytes.Cut(rest, []byte{0})
				binds = append(binds, string(statement))
			}
		}
		assert.Equal(t, []string{resetSQL[0], resetSQL[resetCheck]}, parsedUnnamed, "resetMessages[%d]: parsed every time", k)
		require.Len(t, binds, len(resetSQL), "resetMessages[%d]: every statement runs", k)
		for i, b := range binds {
			if parsedEveryTime(i) {
				assert.Empty(t, b, "resetMessages[%d]: statement %d runs as the unnamed statement", k, i)
			} else {
				assert.Equal(t, fmt.Sprintf("%s_%d", resetStatement, i), b, "resetMessages[%d]: statement %d", k, i)
			}
		}
	}
	assert.Equal(t, "SET exit_on_error = on", resetSQL[0])
	assert.Contains(t, resetSQL[resetCheck], "from_sql", "resetCheck names the check")
	for i := range resetSQL {
		assert.Equal(t, i <= resetCheck, parsedEveryTime(i), "only the first statement and the check, right after it, are parsed every time")
	}
}
