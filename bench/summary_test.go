package bench

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSummarizeOddCount(t *testing.T) {
	s := Summarize([]float64{5, 1, 3, 9, 7})
	assert.Equal(t, Summary{Median: 5, Min: 1, Max: 9, SpreadPct: 160, Runs: 5}, s)
}

func TestSummarizeEvenCountAveragesTheMiddlePair(t *testing.T) {
	s := Summarize([]float64{4, 1, 2, 10})
	assert.Equal(t, 3.0, s.Median)
	assert.Equal(t, 1.0, s.Min)
	assert.Equal(t, 10.0, s.Max)
	assert.InDelta(t, 300.0, s.SpreadPct, 1e-9)
}

func TestSummarizeIgnoresNaNAndHandlesEmpty(t *testing.T) {
	s := Summarize([]float64{math.NaN(), 2, math.NaN()})
	assert.Equal(t, Summary{Median: 2, Min: 2, Max: 2, Runs: 1}, s)
	assert.Equal(t, Summary{}, Summarize(nil))
	assert.Equal(t, Summary{}, Summarize([]float64{math.NaN()}))
}

func TestSummarizeZeroMedianHasNoSpread(t *testing.T) {
	s := Summarize([]float64{0, 0, 1})
	assert.Equal(t, 0.0, s.Median)
	assert.Equal(t, 0.0, s.SpreadPct)
}

func TestSummarizeDoesNotReorderItsInput(t *testing.T) {
	xs := []float64{3, 1, 2}
	Summarize(xs)
	assert.Equal(t, []float64{3, 1, 2}, xs)
}

func TestGeoMean(t *testing.T) {
	assert.InDelta(t, 1.0, GeoMean([]float64{2, 0.5}), 1e-12)
	assert.InDelta(t, 4.0, GeoMean([]float64{2, 8}), 1e-12)
	assert.InDelta(t, 3.0, GeoMean([]float64{3, 0, -1, math.Inf(1)}), 1e-12, "non-positive and infinite values are skipped")
	require.True(t, math.IsNaN(GeoMean(nil)))
}
