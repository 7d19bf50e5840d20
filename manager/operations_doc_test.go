package manager

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/doctest"
	"github.com/idpool/idpool/tokens"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// operationsSection returns the text of docs/OPERATIONS.md from the heading
// "## "+title to the next "## " heading.
func operationsSection(t *testing.T, title string) string {
	t.Helper()
	b, err := os.ReadFile("../docs/OPERATIONS.md")
	require.NoError(t, err)
	s, ok := doctest.Section(string(b), title)
	require.True(t, ok, "section %q", title)
	return s
}

// backticked returns the `...` spans of s.
func backticked(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// recordingMeter records the name and kind of every instrument created on
// it; the instruments themselves are no-ops.
type recordingMeter struct {
	noop.Meter
	kinds map[string]string
}

func (r *recordingMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	r.kinds[name] = "histogram (" + metric.NewFloat64HistogramConfig(opts...).Unit() + ")"
	return r.Meter.Float64Histogram(name, opts...)
}

func (r *recordingMeter) Int64ObservableCounter(name string, opts ...metric.Int64ObservableCounterOption) (metric.Int64ObservableCounter, error) {
	r.kinds[name] = "counter"
	return r.Meter.Int64ObservableCounter(name, opts...)
}

func (r *recordingMeter) Int64ObservableUpDownCounter(name string, opts ...metric.Int64ObservableUpDownCounterOption) (metric.Int64ObservableUpDownCounter, error) {
	r.kinds[name] = "up-down counter"
	return r.Meter.Int64ObservableUpDownCounter(name, opts...)
}

type recordingProvider struct {
	noop.MeterProvider
	meter *recordingMeter
}

func (p recordingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return p.meter }

// The instrument tables of docs/OPERATIONS.md ("Metrics") name every
// instrument idpool registers, with its kind, and nothing else: dashboards
// and alerts are written from that page.
func TestOperationsMetricTablesNameEveryInstrument(t *testing.T) {
	meter := &recordingMeter{kinds: map[string]string{}}
	fb := &statsBudget{fakeBudget: &fakeBudget{avail: 1}}
	newManager(t, Config{MeterProvider: recordingProvider{meter: meter}, MetricsUseTime: true, Fleet: fb})

	documented := map[string]string{}
	row := regexp.MustCompile("^\\| (`[^|]*(?:\\\\\\|[^|]*)*) \\| ([a-z -]+(?: \\(s\\))?) \\|")
	for _, line := range strings.Split(operationsSection(t, "Metrics"), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, name := range backticked(m[1]) {
			name, _, _ = strings.Cut(name, "{") // attributes
			documented[name] = m[2]
		}
	}
	require.NotEmpty(t, documented)
	assert.Equal(t, meter.kinds, documented, "docs/OPERATIONS.md's metric tables against the instruments registered")
}

// The Closes row of docs/OPERATIONS.md ("Stats") lists every close reason
// Stats and the idpool.close.reason attribute can carry.
func TestOperationsStatsListEveryCloseReason(t *testing.T) {
	var line string
	for _, l := range strings.Split(operationsSection(t, "Stats"), "\n") {
		if strings.HasPrefix(l, "| `Closes[reason]` |") {
			line = l
		}
	}
	require.NotEmpty(t, line)
	documented := backticked(strings.TrimPrefix(line, "| `Closes[reason]` |"))
	var reasons []string
	for r := actors.CloseReason(0); r.String() != "unknown"; r++ {
		reasons = append(reasons, r.String())
	}
	sort.Strings(documented)
	sort.Strings(reasons)
	assert.Equal(t, reasons, documented)
}

// docs/OPERATIONS.md ("Metrics") lists every identity kind by the word the
// metrics and logs use for it.
func TestOperationsMetricsListEveryIdentityKind(t *testing.T) {
	s := operationsSection(t, "Metrics")
	i := strings.Index(s, "`idpool.identity.kind` is the kind as `tokens.Kind` names it (")
	require.GreaterOrEqual(t, i, 0)
	list, _, ok := strings.Cut(s[i:], ";")
	require.True(t, ok)
	documented := backticked(list)[2:]
	var kinds []string
	for k := tokens.KindSQLLogin; !strings.HasPrefix(k.String(), "kind("); k++ {
		kinds = append(kinds, k.String())
	}
	assert.Equal(t, kinds, documented)
}

// tableRows returns the cells of the rows of the Markdown tables in s,
// header and separator rows left out. A cell's escaped pipe (\|) stays in it.
func tableRows(s string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "|---") {
			continue
		}
		line = strings.ReplaceAll(strings.Trim(line, "|"), `\|`, "\x00")
		var cells []string
		for _, c := range strings.Split(line, "|") {
			cells = append(cells, strings.ReplaceAll(strings.TrimSpace(c), "\x00", `\|`))
		}
		rows = append(rows, cells)
	}
	return rows
}

// The Configuration table of docs/OPERATIONS.md has a row for every field
// of Config and no other, and every default it states as a value (a
// duration, a number, a boolean) is the one a zero Config gets: the table
// once lacked TokenRefreshAhead, and a changed default would leave it
// stating the old one.
func TestOperationsConfigurationTableIsConfigs(t *testing.T) {
	def := reflect.ValueOf(Config{}.withDefaults())
	var fields []string
	for f := range reflect.TypeFor[Config]().Fields() {
		if f.IsExported() {
			fields = append(fields, f.Name)
		}
	}
	var documented []string
	checked := 0
	for _, row := range tableRows(operationsSection(t, "Configuration")) {
		if row[0] == "field" {
			continue // the header
		}
		names := backticked(row[0])
		require.NotEmpty(t, names, "row %q names its field", row[0])
		documented = append(documented, names...)
		defaults := strings.Split(row[1], ", ")
		if len(defaults) != len(names) {
			defaults = []string{row[1]} // one default stated for several fields
		}
		for i, name := range names {
			f := def.FieldByName(name)
			if !f.IsValid() {
				continue // reported by the comparison below
			}
			stated, _, _ := strings.Cut(defaults[min(i, len(defaults)-1)], " ")
			switch v := f.Interface().(type) {
			case time.Duration:
				if d, err := time.ParseDuration(stated); err == nil {
					assert.Equal(t, v, d, "%s's default", name)
					checked++
				}
			case int:
				if n, err := strconv.Atoi(stated); err == nil {
					assert.Equal(t, v, n, "%s's default", name)
					checked++
				}
			case bool:
				if b, err := strconv.ParseBool(stated); err == nil {
					assert.Equal(t, v, b, "%s's default", name)
					checked++
				}
			}
		}
	}
	assert.ElementsMatch(t, fields, documented, "docs/OPERATIONS.md's Configuration table against Config's fields")
	assert.GreaterOrEqual(t, checked, 20, "the defaults stated as values were checked")
}

// fieldNames returns the names of T's exported fields.
func fieldNames[T any]() []string {
	var names []string
	for f := range reflect.TypeFor[T]().Fields() {
		if f.IsExported() {
			names = append(names, f.Name)
		}
	}
	return names
}

// firstColumn returns the backticked names in the first cell of each row
// of the tables in s, the header's left out.
func firstColumn(s string) []string {
	var names []string
	for _, row := range tableRows(s) {
		if row[0] == "field" {
			continue
		}
		for _, n := range backticked(row[0]) {
			n, _, _ = strings.Cut(n, "[") // Closes[reason]
			names = append(names, n)
		}
	}
	return names
}

// The Stats section of docs/OPERATIONS.md lists Stats' fields, and its
// tables have a row for every field of PoolStats and of FleetStats and for
// no other: the per-pool table once lacked ClosingConns, Evictions and
// seven more.
func TestOperationsStatsTablesAreTheStatsTypes(t *testing.T) {
	s := operationsSection(t, "Stats")
	list := regexp.MustCompile("`Stats\\{([^}]*)\\}`").FindStringSubmatch(s)
	require.NotNil(t, list, "the Stats{...} list")
	assert.Equal(t, fieldNames[Stats](), strings.Split(strings.Join(strings.Fields(list[1]), " "), ", "), "the Stats{...} list against Stats' fields")

	pool, fleet, ok := strings.Cut(s, "`Stats.Fleet` is nil")
	require.True(t, ok, "the fleet table follows the per-pool one")
	assert.ElementsMatch(t, fieldNames[PoolStats](), firstColumn(pool), "the per-pool table against PoolStats' fields")
	assert.ElementsMatch(t, fieldNames[FleetStats](), firstColumn(fleet), "the fleet table against FleetStats' fields")
}
