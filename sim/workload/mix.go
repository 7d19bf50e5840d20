package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Op is what a worker does with one lease.
type Op uint8

// The operations of the query mix.
const (
	// OpSelect runs a short SELECT and holds the lease for Hold.
	OpSelect Op = iota
	// OpCommit begins a transaction, inserts, and commits.
	OpCommit
	// OpAbandon begins a transaction, inserts, and releases without
	// committing: the pool's release must roll it back.
	OpAbandon
	// OpSlow runs a slow query (WAITFOR) for SlowQuery.
	OpSlow
	numOps
)

var opNames = [numOps]string{"select", "commit", "abandon", "slow"}

// String names the op.
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Mix weighs the operations (any non-negative weights; they need not sum to
// 100). Written "select=80,commit=10,abandon=5,slow=5".
type Mix struct {
	Select, Commit, Abandon, Slow float64
}

func (m Mix) weights() [numOps]float64 {
	return [numOps]float64{m.Select, m.Commit, m.Abandon, m.Slow}
}

func (m Mix) validate() error {
	sum := 0.0
	for i, w := range m.weights() {
		// NaN passes every comparison, and Pick runs every operation as a
		// select when a weight or the sum is not finite.
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("mix weight %s is %v: want a finite number", Op(i), w)
		}
		if w < 0 {
			return fmt.Errorf("mix weight %s is negative", Op(i))
		}
		sum += w
	}
	if math.IsInf(sum, 0) {
		return fmt.Errorf("mix weights sum past the largest float: want finite numbers of a usual size")
	}
	if sum <= 0 {
		return fmt.Errorf("mix weights sum to zero")
	}
	return nil
}

// Pick draws one operation.
func (m Mix) Pick(r *rand.Rand) Op {
	w := m.weights()
	sum := w[0] + w[1] + w[2] + w[3]
	x := r.Float64() * sum
	for i, v := range w {
		if x < v {
			return Op(i)
		}
		x -= v
	}
	return OpSelect
}

// String writes m as it is parsed.
func (m Mix) String() string {
	var b strings.Builder
	for i, w := range m.weights() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(Op(i).String() + "=" + strconv.FormatFloat(w, 'g', -1, 64))
	}
	return b.String()
}

// Set parses s (flag.Value); weights not named are zero.
func (m *Mix) Set(s string) error {
	var out Mix
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		w, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil || w < 0 {
			return fmt.Errorf("mix entry %q: want name=weight", part)
		}
		switch name {
		case "select":
			out.Select = w
		case "commit":
			out.Commit = w
		case "abandon":
			out.Abandon = w
		case "slow":
			out.Slow = w
		default:
			return fmt.Errorf("mix entry %q: unknown operation (select, commit, abandon, slow)", part)
		}
	}
	if err := out.validate(); err != nil {
		return err
	}
	*m = out
	return nil
}
