package bench

import "context"

// hot_path: a warm pool of one identity, no work between acquire and
// release. It measures what the pool itself costs per checkout.
func runHotPath(ctx context.Context, o Options) ([]Result, error) {
	type cfg struct{ size, goroutines int }
	cfgs := []cfg{}
	if o.Quick {
		cfgs = []cfg{{8, 1}, {8, 8}, {8, 32}, {64, 128}}
	} else {
		for _, size := range []int{8, 64} {
			for _, g := range []int{1, 2, 8, 32, 128} {
				cfgs = append(cfgs, cfg{size, g})
			}
		}
	}
	var out []Result
	for _, c := range cfgs {
		res, err := measurePairs(ctx, o, pairSetup{
			scenario:   ScenarioHotPath,
			params:     Params{{"max_size", c.size}, {"goroutines", c.goroutines}},
			env:        NewEnv(1),
			peers:      []PoolFactory{ChanPeer, PuddlePeer, DatabaseSQLPeer, IdpoolPeer},
			size:       c.size,
			identities: 1,
			work:       Workload{Goroutines: c.goroutines},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}
