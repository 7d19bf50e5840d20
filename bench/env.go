package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// Env is what the peers of one measurement share: the in-memory server and
// the identities. Build it with NewEnv.
type Env struct {
	// DB is the in-memory server every peer dials.
	DB *memdb.DB
	// Mints counts calls of the identities' token source.
	Mints atomic.Int64
	ids   []tokens.Identity
	label []string
}

// NewEnv returns an Env with a fresh memdb server and n token identities.
// Identity 0 of a single-identity scenario is a SQL login (see SQLLogin).
func NewEnv(n int) *Env {
	e := &Env{DB: memdb.New(), ids: make([]tokens.Identity, n), label: make([]string, n)}
	src := tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		e.Mints.Add(1)
		return tokens.Token{Value: "bench-token", ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
	})
	for i := range e.ids {
		e.label[i] = fmt.Sprintf("msi:bench-%05d", i)
		e.ids[i] = tokens.New(tokens.KindManagedIdentity, e.label[i], src)
	}
	return e
}

// Identity returns identity i, a managed identity whose token is valid for a
// day, so checkouts never need a fresh one.
func (e *Env) Identity(i int) tokens.Identity { return e.ids[i] }

// Label returns identity i's label, as memdb records it for baseline peers.
func (e *Env) Label(i int) string { return e.label[i] }

// N is the number of identities.
func (e *Env) N() int { return len(e.ids) }
