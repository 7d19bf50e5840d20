package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// DistKind is the shape of a duration distribution.
type DistKind uint8

// The distribution shapes.
const (
	// Const is always A.
	Const DistKind = iota
	// Exp is exponential with mean A, cut at 20×A so a run stays bounded.
	Exp
	// Uniform is uniform in [A, B).
	Uniform
)

// Dist is a distribution of durations, written "const:2ms", "exp:1ms" or
// "uniform:1ms:5ms" on the command line.
type Dist struct {
	Kind DistKind
	A, B time.Duration
}

// Sample draws one duration.
func (d Dist) Sample(r *rand.Rand) time.Duration {
	switch d.Kind {
	case Exp:
		if d.A <= 0 {
			return 0
		}
		x := r.ExpFloat64()
		if x > 20 {
			x = 20
		}
		return time.Duration(x * float64(d.A))
	case Uniform:
		if d.B <= d.A {
			return d.A
		}
		return d.A + time.Duration(r.Int64N(int64(d.B-d.A)))
	default:
		return d.A
	}
}

// Max is the longest duration Sample can return.
func (d Dist) Max() time.Duration {
	switch d.Kind {
	case Exp:
		return 20 * d.A
	case Uniform:
		return max(d.A, d.B)
	default:
		return d.A
	}
}

// String writes d as it is parsed.
func (d Dist) String() string {
	switch d.Kind {
	case Exp:
		return "exp:" + d.A.String()
	case Uniform:
		return "uniform:" + d.A.String() + ":" + d.B.String()
	default:
		return "const:" + d.A.String()
	}
}

// Set parses s (flag.Value).
func (d *Dist) Set(s string) error {
	parts := strings.Split(s, ":")
	durs := make([]time.Duration, 0, 2)
	for _, p := range parts[1:] {
		v, err := time.ParseDuration(p)
		if err != nil || v < 0 {
			return fmt.Errorf("bad duration %q in distribution %q", p, s)
		}
		durs = append(durs, v)
	}
	switch {
	case parts[0] == "const" && len(durs) == 1:
		*d = Dist{Kind: Const, A: durs[0]}
	case parts[0] == "exp" && len(durs) == 1:
		*d = Dist{Kind: Exp, A: durs[0]}
	case parts[0] == "uniform" && len(durs) == 2 && durs[0] <= durs[1]:
		*d = Dist{Kind: Uniform, A: durs[0], B: durs[1]}
	default:
		return fmt.Errorf("distribution %q: want const:D, exp:MEAN or uniform:LO:HI", s)
	}
	return nil
}
