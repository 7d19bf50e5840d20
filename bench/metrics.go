package bench

import (
	"context"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/idpool/idpool/manager"
)

// PeerIdpoolMetrics is idpool with an OpenTelemetry MeterProvider set.
const PeerIdpoolMetrics = "idpool_metrics"

// metrics: what turning metrics on costs the hot path. Both peers are idpool
// over one warm identity; one has a MeterProvider (the OpenTelemetry SDK with
// a manual reader, never collected during the run, so only recording is
// measured) and every other Config field at its default.
func runMetrics(ctx context.Context, o Options) ([]Result, error) {
	goroutines := []int{1, 8, 32}
	if o.Quick {
		goroutines = []int{8}
	}
	const size = 8
	withMetrics := PoolFactory{Name: PeerIdpoolMetrics, New: func(env *Env, size, identities int) (Pool, error) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		return NewIdpoolPool(env, manager.Config{MaxSize: size, MeterProvider: mp}, identities)
	}}
	var out []Result
	for _, g := range goroutines {
		res, err := measurePairs(ctx, o, pairSetup{
			scenario:   ScenarioMetrics,
			params:     Params{{"max_size", size}, {"goroutines", g}},
			env:        NewEnv(1),
			peers:      []PoolFactory{IdpoolPeer, withMetrics},
			size:       size,
			identities: 1,
			work:       Workload{Goroutines: g},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}
