package workload

import (
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultIsValid(t *testing.T) {
	require.NoError(t, Default().Validate())
}

func TestValidateNamesEveryProblem(t *testing.T) {
	c := Default()
	c.Identities, c.ZipfS, c.Arrival, c.TokenLifetime, c.InjectBug = 0, 1, "burst", time.Second, "nope"
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{"identities", "zipf", "arrival", "token lifetime", "nope"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestDistParseAndSample(t *testing.T) {
	r := Default().NewRand(1)
	for _, s := range []string{"const:2ms", "exp:1ms", "uniform:1ms:5ms"} {
		var d Dist
		require.NoError(t, d.Set(s))
		assert.Equal(t, s, d.String())
		for range 1000 {
			v := d.Sample(r)
			assert.GreaterOrEqual(t, v, time.Duration(0))
			assert.LessOrEqual(t, v, d.Max())
		}
	}
	var d Dist
	for _, bad := range []string{"", "exp", "exp:x", "uniform:5ms:1ms", "gauss:1ms", "const:-1ms"} {
		assert.Error(t, d.Set(bad), bad)
	}
}

func TestMixParseAndPick(t *testing.T) {
	var m Mix
	require.NoError(t, m.Set("select=1,slow=3"))
	assert.Equal(t, "select=1,commit=0,abandon=0,slow=3", m.String())
	r := Default().NewRand(2)
	counts := map[Op]int{}
	for range 4000 {
		counts[m.Pick(r)]++
	}
	assert.Zero(t, counts[OpCommit]+counts[OpAbandon])
	assert.InDelta(t, 3000, counts[OpSlow], 200)
	for _, bad := range []string{"select", "select=x", "drop=1", "select=0"} {
		assert.Error(t, m.Set(bad), bad)
	}
}

func TestPickerIsSkewed(t *testing.T) {
	c := Default()
	c.OneShot = 0.1
	p := c.NewPicker(c.NewRand(3))
	counts := map[int]int{}
	for range 20000 {
		counts[p.Pick()]++
	}
	assert.Greater(t, counts[0], counts[1])
	assert.Greater(t, counts[1], counts[10])
	assert.InDelta(t, 2000, counts[-1], 300, "one-shot share")
	for i := range counts {
		assert.Less(t, i, c.Identities)
	}
}

func TestFlagsBindTheConfig(t *testing.T) {
	c := Default()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"--identities", "7", "--hold", "const:3ms", "--mix", "slow=1", "--max-total", "9", "--inject-bug", "drop-reply"}))
	assert.Equal(t, 7, c.Identities)
	assert.Equal(t, Dist{Kind: Const, A: 3 * time.Millisecond}, c.Hold)
	assert.Equal(t, Mix{Slow: 1}, c.Mix)
	assert.Equal(t, 9, c.Pool.MaxTotal)
	assert.Equal(t, "drop-reply", c.InjectBug)
	require.NoError(t, c.Validate())
}

func TestBugsNameKnownViolations(t *testing.T) {
	names := BugNames()
	require.Len(t, names, len(Bugs()))
	for _, n := range names {
		b, ok := LookupBug(n)
		require.True(t, ok)
		assert.NotEmpty(t, b.Violation)
	}
	_, ok := LookupBug("nope")
	assert.False(t, ok)
}
