package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// The demo is a small, fixed workload on the in-memory database: many
// identities with a skewed popularity share one server through idpool, and
// every query checks that it ran as its own identity. `idpool sim` is the
// full simulation harness.
func init() {
	commands["demo"] = command{summary: demoHelp.summary, run: runDemo}
}

var demoHelp = help{
	name:    "demo",
	summary: "a short workload on the in-memory database",
	description: `Runs a small, fixed workload for a few seconds on the in-memory database: many
identities with a skewed popularity share one server through idpool, and every
query checks that it ran as its own identity. It prints queries, errors, pools
created and retired, hits, physical opens and token mints, and exits 1 if a
query reached another identity's connection or a connection stayed open after
Close, or if it was interrupted (Ctrl-C: the figures cover the part that ran).
idpool sim is the full simulation harness.`,
	examples: []string{
		"idpool demo",
		"idpool demo --identities 500 --workers 64 --duration 10s --max-size 2",
	},
}

func runDemo(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet(demoHelp, stdout)
	identities := fs.Int("identities", 50, "number of identities")
	workers := fs.Int("workers", 32, "concurrent workers")
	duration := fs.Duration("duration", 5*time.Second, "how long to run (positive)")
	maxSize := fs.Int("max-size", 4, "pool MaxSize per identity")
	fs.limit(limits{
		"identities": between(1, 1_000_000),
		"workers":    between(1, 10_000),
		"duration":   atMost(maxRunTime),
		"max-size":   between(1, 10_000),
	})
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *identities < 1:
		return usagef("--identities must be at least 1 (got %d)", *identities)
	case *workers < 1:
		return usagef("--workers must be at least 1 (got %d)", *workers)
	case *duration <= 0:
		return usagef("--duration must be positive (got %s)", *duration)
	case *maxSize < 1:
		return usagef("--max-size must be at least 1 (got %d)", *maxSize)
	}
	db := memdb.New()
	db.SetDialLatency(time.Millisecond)
	m, err := manager.New(manager.Config{Server: "memdb:0/demo", Dialer: db, MaxSize: *maxSize, PoolIdleTimeout: time.Second})
	if err != nil {
		return err
	}
	ids := make([]tokens.Identity, *identities)
	for i := range ids {
		name := fmt.Sprintf("user%03d", i)
		ids[i] = tokens.New(tokens.KindProvidedToken, "demo:"+name, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
			return tokens.Token{Value: "tok-" + name, ExpiresOn: time.Now().Add(time.Hour)}, nil
		}))
	}
	parent := ctx
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var ops, errs, mismatches atomic.Int64
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			zipf := rand.NewZipf(r, 1.2, 1, uint64(len(ids)-1))
			for ctx.Err() == nil {
				id := ids[zipf.Uint64()]
				if err := demoQuery(ctx, m, id); err != nil {
					if ctx.Err() == nil {
						if err == errMismatch {
							mismatches.Add(1)
						}
						errs.Add(1)
					}
					continue
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	// Ctrl-C ends the run early: the rate is over the time it ran, not
	// the --duration asked for (an interrupted --duration 1000h printed
	// 0/s), and the command exits as interrupted, not as passed.
	elapsed := time.Since(start)
	interrupted := parent.Err() != nil
	s := m.Stats()
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelClose()
	if err := m.Close(closeCtx); err != nil {
		return err
	}
	// The figures are written at once and their error kept: on a full
	// disk the run was reported as delivered, exit 0.
	var out bytes.Buffer
	fmt.Fprintf(&out, "queries %d (%.0f/s), errors %d, cross-identity %d\n", ops.Load(), float64(ops.Load())/elapsed.Seconds(), errs.Load(), mismatches.Load())
	fmt.Fprintf(&out, "pools live %d, created %d, retired %d\n", s.Pools, s.PoolsCreated, s.PoolsRetired)
	fmt.Fprintf(&out, "hits %d, physical opens %d, token mints %d\n", s.Total.Hits, s.Total.Opens, s.Total.TokenMints)
	fmt.Fprintf(&out, "connections open after Close: %d\n", db.OpenNow())
	var werr error
	if _, err := stdout.Write(out.Bytes()); err != nil {
		werr = fmt.Errorf("writing the figures: %w", err)
	}
	if mismatches.Load() > 0 || db.OpenNow() > 0 {
		return errors.Join(fmt.Errorf("invariant violated"), werr)
	}
	if interrupted {
		return errors.Join(fmt.Errorf("interrupted after %s of %s: the figures cover the part that ran", elapsed.Round(time.Millisecond), *duration), werr)
	}
	return werr
}

var errMismatch = fmt.Errorf("connection belongs to another identity")

func demoQuery(ctx context.Context, m *manager.Manager, id tokens.Identity) error {
	l, err := m.Acquire(ctx, id)
	if err != nil {
		return err
	}
	rows, err := l.Conn().QueryContext(ctx, "SELECT IDENTITY", nil)
	if err != nil {
		l.Release(err)
		return err
	}
	dest := make([]driverValue, 1)
	err = rows.Next(dest)
	_ = rows.Close()
	l.Release(err)
	if err != nil {
		return err
	}
	want, _ := id.Discriminator(ctx)
	if got, _ := dest[0].(string); got != want {
		return errMismatch
	}
	return nil
}
