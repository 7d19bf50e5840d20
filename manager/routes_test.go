package manager

import (
	"fmt"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRouteTablePublishesAndWithdrawsRoutes(t *testing.T) {
	tbl := newRouteTable()
	routes := map[string]*route{}
	for i := range 5000 { // several per bucket
		d := fmt.Sprint("disc", i)
		routes[d] = &route{pid: actor.NewPID("nonhost", d)}
		tbl.put(d, routes[d])
	}
	for d, r := range routes {
		require.Same(t, r, tbl.get(d))
	}
	assert.Nil(t, tbl.get("unknown"))
	for i := 0; i < 5000; i += 2 {
		tbl.remove(fmt.Sprint("disc", i))
	}
	for i := range 5000 {
		d := fmt.Sprint("disc", i)
		if i%2 == 0 {
			assert.Nil(t, tbl.get(d), d)
		} else {
			assert.Same(t, routes[d], tbl.get(d), d)
		}
	}
	tbl.remove("unknown") // harmless
}
