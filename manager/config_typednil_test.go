package manager

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/idpool/idpool/sim/memdb"
)

// nilBudget stands for a fleet budget whose constructor failed.
type nilBudget struct{ SessionBudget }

// TestConfigRefusesAConstructorsNilResult: a Dialer, fleet budget, provider
// or clock kept from a constructor that returned an error is a nil pointer
// in a non-nil interface: it passed for set, and every call on it panicked
// later, inside a dial, the manager actor or New itself. New names each.
func TestConfigRefusesAConstructorsNilResult(t *testing.T) {
	db := memdb.New()
	for field, cfg := range map[string]Config{
		"Dialer":         {Dialer: (*memdb.DB)(nil)},
		"Fleet":          {Dialer: db, Fleet: (*nilBudget)(nil)},
		"MeterProvider":  {Dialer: db, MeterProvider: (*sdkmetric.MeterProvider)(nil)},
		"TracerProvider": {Dialer: db, TracerProvider: (*sdktrace.TracerProvider)(nil)},
		"Clock":          {Dialer: db, Clock: (*skewClock)(nil)},
	} {
		t.Run(field, func(t *testing.T) {
			cfg.Server = "memdb:1/test"
			m, err := New(cfg)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), field+": is a nil *")
			assert.Contains(t, err.Error(), "constructor's result")
		})
	}
}
