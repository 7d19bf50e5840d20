package workload

import (
	"fmt"
	"math/rand/v2"
)

// Picker draws which identity each acquire is for: index i < Identities
// with Zipf popularity, or -1 for a one-shot identity.
type Picker struct {
	zipf    *rand.Zipf
	r       *rand.Rand
	oneShot float64
}

// NewPicker returns a picker drawing from r.
func (c Config) NewPicker(r *rand.Rand) *Picker {
	return &Picker{zipf: rand.NewZipf(r, c.ZipfS, 1, uint64(c.Identities-1)), r: r, oneShot: c.OneShot}
}

// Pick returns an identity index, or -1 for a fresh one-shot identity.
func (p *Picker) Pick() int {
	if p.oneShot > 0 && p.r.Float64() < p.oneShot {
		return -1
	}
	return int(p.zipf.Uint64())
}

// IdentityName names identity i; one-shot identities are numbered apart.
func IdentityName(i int) string { return fmt.Sprintf("user%03d", i) }

// OneShotName names the n-th one-shot identity.
func OneShotName(n int) string { return fmt.Sprintf("once%06d", n) }

// NewRand returns the random stream named stream of the run: separate
// streams keep one part of the workload (say, faults) from shifting another
// (arrivals) when a setting changes.
func (c Config) NewRand(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(c.Seed, stream*0x9e3779b97f4a7c15+1))
}
