package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A scenario during which ctx ended is cut short even when it returns no
// error (its last runs may have been served from idle and never seen ctx
// end): its results are dropped and Run reports the interruption. Kept, a
// Ctrl-C during the last scenario returned a report and no error, so
// `idpool bench` printed the truncated scenario and exited 0, as passed.
func TestRunDropsAScenarioDuringWhichCtxEndedThoughItReturnedNoError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scenarios := []Scenario{
		{Name: "first", Run: func(context.Context, Options) ([]Result, error) {
			return []Result{{Scenario: "first"}}, nil
		}},
		{Name: "last", Run: func(context.Context, Options) ([]Result, error) {
			cancel() // Ctrl-C, unnoticed by the scenario
			return []Result{{Scenario: "last"}}, nil
		}},
	}
	rep, err := runScenarios(ctx, Options{Quick: true}, scenarios)
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "interrupted in last")
	require.NotNil(t, rep)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, "first", rep.Results[0].Scenario)
}
