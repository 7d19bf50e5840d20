package manager

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fleetObservability returns the bullets of docs/FLEET.md's
// "Observability" section, each with its runs of white space made single
// spaces.
func fleetObservability(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/FLEET.md")
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "\n## Observability\n")
	require.GreaterOrEqual(t, i, 0)
	s = s[i+len("\n## Observability\n"):]
	if j := strings.Index(s, "\n## "); j >= 0 {
		s = s[:j]
	}
	var bullets []string
	for _, b := range strings.Split(s, "\n- ")[1:] {
		bullets = append(bullets, strings.Join(strings.Fields(b), " "))
	}
	return bullets
}

// fleetBullet returns the bullet of docs/FLEET.md's Observability that
// begins with prefix.
func fleetBullet(t *testing.T, prefix string) string {
	t.Helper()
	for _, b := range fleetObservability(t) {
		if strings.HasPrefix(b, prefix) {
			return b
		}
	}
	require.Failf(t, "no bullet", "docs/FLEET.md's Observability has no bullet beginning %q", prefix)
	return ""
}

// TestFleetDocListsEveryFleetStatsField: docs/FLEET.md ("Observability")
// names every field of FleetStats, the figures manager.Stats().Fleet shows,
// and no other.
func TestFleetDocListsEveryFleetStatsField(t *testing.T) {
	b := fleetBullet(t, "`manager.Stats().Fleet`")
	b, _, _ = strings.Cut(b, "`(*fleet.Budget).Stats()`")
	i := strings.Index(b, "etcd):")
	require.GreaterOrEqual(t, i, 0)
	documented := backticked(b[i:])
	var fields []string
	ft := reflect.TypeFor[FleetStats]()
	for i := range ft.NumField() {
		fields = append(fields, ft.Field(i).Name)
	}
	sort.Strings(documented)
	sort.Strings(fields)
	assert.Equal(t, fields, documented, "docs/FLEET.md's FleetStats fields against FleetStats")
}

// TestFleetDocListsEveryFleetInstrument: docs/FLEET.md ("Observability")
// names every idpool.fleet.* instrument the manager registers with a Fleet
// budget ("`.in_use`" abbreviates the name before it), and no other.
func TestFleetDocListsEveryFleetInstrument(t *testing.T) {
	meter := &recordingMeter{kinds: map[string]string{}}
	fb := &statsBudget{fakeBudget: &fakeBudget{avail: 1}}
	newManager(t, Config{MeterProvider: recordingProvider{meter: meter}, Fleet: fb})
	var registered []string
	for name := range meter.kinds {
		if strings.HasPrefix(name, "idpool.fleet.") {
			registered = append(registered, name)
		}
	}
	var documented []string
	last := ""
	for _, name := range backticked(fleetBullet(t, "OpenTelemetry")) {
		if strings.HasPrefix(name, ".") {
			name = last[:strings.LastIndex(last, ".")] + name
		}
		if strings.HasPrefix(name, "idpool.") {
			documented = append(documented, name)
			last = name
		}
	}
	sort.Strings(documented)
	sort.Strings(registered)
	require.NotEmpty(t, registered)
	assert.Equal(t, registered, documented, "docs/FLEET.md's fleet instruments against those registered")
}
