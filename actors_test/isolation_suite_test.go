package e2e

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// The isolation suite (issue 11), shared by sim/tds and PostgreSQL: every
// entry point of *sql.DB, *sql.Conn, *sql.Tx, *sql.Stmt and *sql.Rows, under
// database/sql's defaults, SetMaxOpenConns(n), SetMaxIdleConns(n) and both,
// with many identities at once. Every answer to "who am I" is checked
// against the identity of the call's ctx (or, on a *sql.Tx or *sql.Conn
// called with a ctx carrying no identity, against the identity it was begun
// with), and every call with another identity's ctx on a bound *sql.Tx,
// *sql.Conn or statement must be refused with manager.ErrIdentityMismatch.

// isoIdentity is one identity and the login the server must name for it.
type isoIdentity struct {
	ID    tokens.Identity
	Login string
}

// isoRig is what the suite needs of a backend.
type isoRig struct {
	m *manager.Manager
	// who is the query that answers the session's login.
	who string
	// exec is a statement without a result, harmless to run anywhere.
	exec string
	ids  []isoIdentity
	// churn, when set, runs during the churn phase: session kills and token
	// rotations, until ctx ends.
	churn func(ctx context.Context, rng *rand.Rand)
	// killed tells an error of a call whose session churn killed.
	killed func(error) bool
}

// isoSetting is one database/sql pool configuration.
type isoSetting struct {
	name            string
	maxOpen, maxIdl int
}

var isoSettings = []isoSetting{
	{"defaults", 0, -1}, // -1: leave OpenDB's own (0 idle)
	{"max_open", 4, -1},
	{"max_idle", 0, 4},
	{"max_open_and_idle", 6, 6},
}

// isoTally counts what a run saw.
type isoTally struct {
	checked, refusedAsMeant atomic.Int64
	wrong                   atomic.Int64 // an answer naming another login
	handover                atomic.Int64 // a call failed by database/sql's hand-over refusals
	broken                  atomic.Int64 // a call cut off by a killed session (churn only)
	other                   atomic.Int64 // any other error
	mu                      sync.Mutex
	samples                 []string
}

func (tl *isoTally) sample(format string, args ...any) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.samples) < 5 {
		tl.samples = append(tl.samples, fmt.Sprintf(format, args...))
	}
}

// runIsolationSuite runs every setting, then (with rig.churn) the churn
// phase under the last setting.
func runIsolationSuite(t *testing.T, rig isoRig) {
	for _, s := range isoSettings {
		t.Run(s.name, func(t *testing.T) { runIsolationSetting(t, rig, s, false) })
	}
	if rig.churn != nil {
		t.Run("churn_kills_and_rotations", func(t *testing.T) {
			runIsolationSetting(t, rig, isoSettings[len(isoSettings)-1], true)
		})
	}
}

func runIsolationSetting(t *testing.T, rig isoRig, s isoSetting, churn bool) {
	const goroutines, perG = 12, 24
	db := manager.OpenDB(rig.m)
	defer db.Close()
	if s.maxIdl >= 0 {
		db.SetMaxIdleConns(s.maxIdl)
	}
	db.SetMaxOpenConns(s.maxOpen)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// One statement prepared on the *sql.DB by the first identity and then
	// run by everyone: database/sql re-prepares it on each connection it
	// picks, and the guard must see to it that it never runs as the first.
	shared, err := db.PrepareContext(tokens.WithIdentity(ctx, rig.ids[0].ID), rig.who)
	require.NoError(t, err)
	defer shared.Close()

	tl := &isoTally{}
	var churnDone chan struct{}
	churnCtx, stopChurn := context.WithCancel(ctx)
	if churn {
		churnDone = make(chan struct{})
		go func() {
			defer close(churnDone)
			rig.churn(churnCtx, rand.New(rand.NewPCG(7, 7)))
		}()
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for range perG {
				id := rig.ids[rng.IntN(len(rig.ids))]
				other := rig.ids[rng.IntN(len(rig.ids))]
				if other.Login == id.Login {
					other = isoIdentity{}
				}
				op := rng.IntN(7)
				if err := isoCall(ctx, db, shared, rig, id, other, op, tl); err != nil {
					switch {
					case errors.Is(err, driver.ErrBadConn) && errors.Is(err, manager.ErrIdentityMismatch):
						tl.handover.Add(1)
					case churn && rig.killed(err):
						tl.broken.Add(1)
					default:
						tl.other.Add(1)
						tl.sample("op %d as %s: %v", op, id.Login, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	stopChurn()
	if churnDone != nil {
		<-churnDone
	}
	calls := int64(goroutines * perG)
	t.Logf("%s (churn %v): %d calls, %d answers checked, %d mismatches refused as meant, %d hand-over refusals, %d cut off by kills, %d other errors %v",
		s.name, churn, calls, tl.checked.Load(), tl.refusedAsMeant.Load(), tl.handover.Load(), tl.broken.Load(), tl.other.Load(), tl.samples)
	require.Zero(t, tl.wrong.Load(), "answers naming another identity: %v", tl.samples)
	require.Positive(t, tl.checked.Load())
	require.Zero(t, tl.other.Load(), "errors: %v", tl.samples)
	if churn {
		assert.Less(t, tl.broken.Load(), calls/2, "most calls succeed through kills and rotations")
	}
	if s.maxOpen == 0 {
		// Without a cap database/sql never hands a connection over to a
		// waiting call, so nothing is refused at hand-over.
		require.Zero(t, tl.handover.Load())
	} else {
		// database/sql gives up after three refused hand-overs; with a cap
		// shared by many identities a few calls can meet that, but never
		// run as another identity.
		assert.Less(t, tl.handover.Load(), calls/4)
	}
}

// isoCall makes one call through entry point op as id, checking every
// answer, and attacks with other's ctx where a connection is bound.
func isoCall(ctx context.Context, db *sql.DB, shared *sql.Stmt, rig isoRig, id, other isoIdentity, op int, tl *isoTally) error {
	cctx := tokens.WithIdentity(ctx, id.ID)
	check := func(where string, got string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		tl.checked.Add(1)
		if got != id.Login {
			tl.wrong.Add(1)
			tl.sample("%s answered %s for %s", where, got, id.Login)
		}
		return nil
	}
	scan := func(where string, r *sql.Row) error {
		var got string
		err := r.Scan(&got)
		return check(where, got, err)
	}
	// attack runs f with the other identity's ctx and requires a refusal
	// naming the mismatch.
	attack := func(where string, f func(context.Context) error) {
		if other.Login == "" {
			return
		}
		err := f(tokens.WithIdentity(ctx, other.ID))
		switch {
		case errors.Is(err, manager.ErrIdentityMismatch) && !errors.Is(err, driver.ErrBadConn):
			tl.refusedAsMeant.Add(1)
		case err == nil:
			tl.wrong.Add(1)
			tl.sample("%s ran with %s's ctx on %s's connection", where, other.Login, id.Login)
		default:
			tl.other.Add(1)
			tl.sample("%s with another identity: %v", where, err)
		}
	}
	switch op {
	case 0:
		return scan("DB.QueryRowContext", db.QueryRowContext(cctx, rig.who))
	case 1:
		rows, err := db.QueryContext(cctx, rig.who)
		if err != nil {
			return fmt.Errorf("DB.QueryContext: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var got string
			if err := check("Rows.Next", got, rows.Scan(&got)); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("Rows.Err: %w", err)
		}
		return rows.Close()
	case 2:
		if _, err := db.ExecContext(cctx, rig.exec); err != nil {
			return fmt.Errorf("DB.ExecContext: %w", err)
		}
		if err := db.PingContext(cctx); err != nil {
			return fmt.Errorf("DB.PingContext: %w", err)
		}
		return nil
	case 3:
		return scan("DB Stmt.QueryRowContext", shared.QueryRowContext(cctx))
	case 4:
		tx, err := db.BeginTx(cctx, nil)
		if err != nil {
			return fmt.Errorf("DB.BeginTx: %w", err)
		}
		defer tx.Rollback()
		if err := scan("Tx.QueryRowContext", tx.QueryRowContext(cctx, rig.who)); err != nil {
			return err
		}
		if err := scan("Tx.QueryRowContext without identity", tx.QueryRowContext(context.Background(), rig.who)); err != nil {
			return err
		}
		if err := scan("Tx.StmtContext", tx.StmtContext(cctx, shared).QueryRowContext(cctx)); err != nil {
			return err
		}
		st, err := tx.PrepareContext(cctx, rig.who)
		if err != nil {
			return fmt.Errorf("Tx.PrepareContext: %w", err)
		}
		defer st.Close()
		if err := scan("Tx Stmt.QueryRowContext", st.QueryRowContext(cctx)); err != nil {
			return err
		}
		attack("Tx.QueryRowContext", func(octx context.Context) error {
			var got string
			return tx.QueryRowContext(octx, rig.who).Scan(&got)
		})
		attack("Tx Stmt.QueryRowContext", func(octx context.Context) error {
			var got string
			return st.QueryRowContext(octx).Scan(&got)
		})
		attack("Tx.ExecContext", func(octx context.Context) error {
			_, err := tx.ExecContext(octx, rig.exec)
			return err
		})
		return tx.Commit()
	case 5:
		conn, err := db.Conn(cctx)
		if err != nil {
			return fmt.Errorf("DB.Conn: %w", err)
		}
		defer conn.Close()
		if err := scan("Conn.QueryRowContext", conn.QueryRowContext(cctx, rig.who)); err != nil {
			return err
		}
		st, err := conn.PrepareContext(cctx, rig.who)
		if err != nil {
			return fmt.Errorf("Conn.PrepareContext: %w", err)
		}
		defer st.Close()
		if err := scan("Conn Stmt.QueryRowContext", st.QueryRowContext(cctx)); err != nil {
			return err
		}
		attack("Conn Stmt.QueryRowContext", func(octx context.Context) error {
			var got string
			return st.QueryRowContext(octx).Scan(&got)
		})
		attack("Conn.QueryRowContext", func(octx context.Context) error {
			var got string
			return conn.QueryRowContext(octx, rig.who).Scan(&got)
		})
		attack("Conn.PingContext", func(octx context.Context) error { return conn.PingContext(octx) })
		if err := conn.PingContext(cctx); err != nil {
			return fmt.Errorf("Conn.PingContext: %w", err)
		}
		tx, err := conn.BeginTx(cctx, nil)
		if err != nil {
			return fmt.Errorf("Conn.BeginTx: %w", err)
		}
		if err := scan("Conn Tx.QueryRowContext", tx.QueryRowContext(cctx, rig.who)); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	default:
		// A statement prepared on the *sql.DB by this identity, run by
		// this identity and attacked by another, which database/sql
		// re-prepares on a connection of the other identity.
		st, err := db.PrepareContext(cctx, rig.who)
		if err != nil {
			return fmt.Errorf("DB.PrepareContext: %w", err)
		}
		defer st.Close()
		if err := scan("DB Stmt.QueryRowContext (own)", st.QueryRowContext(cctx)); err != nil {
			return err
		}
		if other.Login != "" {
			var got string
			octx := tokens.WithIdentity(ctx, other.ID)
			if err := st.QueryRowContext(octx).Scan(&got); err != nil {
				return fmt.Errorf("DB Stmt.QueryRowContext (other): %w", err)
			}
			tl.checked.Add(1)
			if got != other.Login {
				tl.wrong.Add(1)
				tl.sample("a statement prepared as %s answered %s for %s", id.Login, got, other.Login)
			}
		}
		return nil
	}
}
