package bench

import (
	"math"
	"slices"
)

// Summary is what the runner reports for a figure measured over several runs:
// the median, and the spread around it.
type Summary struct {
	Median, Min, Max float64
	// SpreadPct is (Max-Min) as a percentage of Median: how far apart the
	// runs were. Zero for a single run or a zero median.
	SpreadPct float64
	Runs      int
}

// Summarize returns the median and spread of xs. NaNs are ignored; an empty
// input gives a zero Summary.
func Summarize(xs []float64) Summary {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Summary{}
	}
	slices.Sort(v)
	s := Summary{Min: v[0], Max: v[len(v)-1], Runs: len(v)}
	if n := len(v); n%2 == 1 {
		s.Median = v[n/2]
	} else {
		s.Median = (v[n/2-1] + v[n/2]) / 2
	}
	if s.Median != 0 {
		s.SpreadPct = (s.Max - s.Min) / math.Abs(s.Median) * 100
	}
	return s
}

// GeoMean returns the geometric mean of the positive values in xs, or NaN if
// there are none. Ratios are averaged this way so that 2x and 0.5x cancel.
func GeoMean(xs []float64) float64 {
	var sum float64
	n := 0
	for _, x := range xs {
		if x > 0 && !math.IsInf(x, 0) {
			sum += math.Log(x)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return math.Exp(sum / float64(n))
}
