package virtual

import (
	"strconv"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"
)

// startMint carries out EffMint; a mint slower than MintTimeout fails at
// the timeout.
func (e *engine) startMint(p *vpool) {
	p.minting = true
	lat, timedOut := e.cfg.Latency.Mint.Sample(e.rServer), uint64(0)
	if lat >= e.cfg.Pool.MintTimeout {
		lat, timedOut = e.cfg.Pool.MintTimeout, 1
	}
	e.schedule(event{at: e.at(lat), kind: evMintDone, pool: p, n: timedOut})
}

// mintDone answers a mint the way azidentity and Entra ID would: the cached
// token while it is valid beyond the refresh margin and not rotated, else a
// new one; nothing during an outage.
func (e *engine) mintDone(p *vpool, timedOut bool) {
	id := p.ident
	var tok tokens.Token
	var err error
	switch {
	case timedOut:
		err = errMintTimeout
	case e.outage:
		err = errOutage
	default:
		margin := int64(e.cfg.Pool.TokenThreshold)
		if id.tokValue == "" || id.rotateDue || id.tokExpiry-e.now <= margin {
			id.tokN++
			id.tokValue = "tok-" + id.name + "-" + strconv.Itoa(id.tokN)
			id.tokExpiry = e.now + int64(e.cfg.TokenLifetime)
			id.rotateDue = false
		}
		tok = tokens.Token{Value: id.tokValue, ExpiresOn: epoch.Add(time.Duration(id.tokExpiry + e.tokenShift))}
		e.mints++
	}
	e.stepAfter(p, func() { p.minting = false }, actors.MintDone{Token: tok, Err: err})
}

func (e *engine) outageStart() {
	if e.stopping {
		return
	}
	e.outage = true
	e.res.TokenOutages++
	e.schedule(event{at: e.at(e.cfg.Faults.OutageFor), kind: evOutageEnd})
	e.schedule(event{at: e.at(e.cfg.Faults.OutageEvery), kind: evOutageStart})
}

// rotate rolls a random identity's token over at the endpoint.
func (e *engine) rotate() {
	if e.stopping {
		return
	}
	e.schedule(event{at: e.expGap(e.cfg.RotationRate * float64(e.cfg.Identities)), kind: evRotate})
	e.idents[e.rFault.IntN(len(e.idents))].rotateDue = true
}
