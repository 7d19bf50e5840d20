package actors

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoolPrintsNoToken: a Pool keeps the newest token it minted and each
// connection's token; printing the Pool, by pointer with any verb, through
// slog or encoding/json, shows neither. %v of a *Pool used to print the
// newest token's value.
func TestPoolPrintsNoToken(t *testing.T) {
	h := newHarness(t, tokenCfg())
	h.acquire()
	h.finishMint(h.tok("SECRET-POOL-TOKEN", time.Hour), nil)
	h.finishDials()
	require.Equal(t, 1, h.p.Stats().Open)

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		out = append(out, fmt.Sprintf(verb, h.p))
	}
	out = append(out, fmt.Sprint(struct{ p *Pool }{h.p}))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("state", "pool", h.p)
	out = append(out, buf.String())
	for _, s := range out {
		assert.NotContains(t, s, "SECRET-POOL-TOKEN")
		assert.NotContains(t, s, fmt.Sprintf("%x", "SECRET-POOL-TOKEN"))
	}
	assert.Contains(t, fmt.Sprint(h.p), "1 open")
}
