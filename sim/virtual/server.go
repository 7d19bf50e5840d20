package virtual

import (
	"errors"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"
)

// The simulated server's and token endpoint's errors.
var (
	errLoginRefused = errors.New("login refused by the server")
	errNetwork      = errors.New("network error while dialing")
	errDialTimeout  = errors.New("dial timed out")
	errLoginExpired = errors.New("login refused: token expired")
	errOutage       = errors.New("token endpoint unavailable")
	errMintTimeout  = errors.New("token request timed out")
)

var serverErrors = []struct {
	err  error
	kind string
}{
	{errLoginRefused, "login_refused"}, {errNetwork, "dial_network"}, {errDialTimeout, "dial_timeout"},
	{errLoginExpired, "login_token_expired"}, {errOutage, "token_outage"}, {errMintTimeout, "token_timeout"},
}

// dial carries out EffDial. Under MaxTotal the pool has already got a
// permit from the manager (manager/decide/permits.go).
func (e *engine) dial(p *vpool, tok tokens.Token) {
	p.dialing++
	e.startDial(&dialOp{pool: p, tok: tok})
	e.bugIgnoresMax(p, tok)
}

func (e *engine) startDial(d *dialOp) {
	d.started = true
	e.totalDialing++
	f := e.cfg.Faults
	lat := e.cfg.Latency.Dial.Sample(e.rServer)
	switch u := e.rServer.Float64(); {
	case u < f.RefuseLogin:
		d.err = errLoginRefused
	case u < f.RefuseLogin+f.DialError:
		d.err = errNetwork
	case u < f.RefuseLogin+f.DialError+f.SlowLogin:
		lat = f.SlowLoginTime
	}
	if lat >= e.cfg.Pool.DialTimeout {
		lat, d.err = e.cfg.Pool.DialTimeout, errDialTimeout
	}
	e.schedule(event{at: e.at(lat), kind: evDialDone, dial: d})
}

// dialDone ends a dial: the server checks the login token against its real
// expiry, then opens a session.
func (e *engine) dialDone(d *dialOp, _ *bconn) {
	p := d.pool
	realExpiry := int64(0)
	if !d.tok.ExpiresOn.IsZero() {
		realExpiry = int64(d.tok.ExpiresOn.Sub(epoch)) - e.tokenShift
	}
	if d.err == nil && realExpiry != 0 && e.now >= realExpiry {
		d.err = errLoginExpired
	}
	if d.extra {
		// Opened behind the pool's back, and closed again at once.
		p.dialing--
		e.totalDialing--
		return
	}
	var c *bconn
	if d.err == nil {
		e.nextConnID++
		c = &bconn{id: e.nextConnID, ident: p.ident, pool: p, realExpiry: realExpiry, open: true, openIdx: len(e.openList)}
		e.openList = append(e.openList, c)
	}
	if c == nil {
		e.stepAfter(p, func() {
			p.dialing--
			e.totalDialing--
		}, actors.DialDone{Token: d.tok, Err: d.err})
		return
	}
	e.stepAfter(p, func() {
		p.dialing--
		e.totalDialing--
		p.open++
		e.totalOpen++
		e.restOpen(p)
	}, actors.DialDone{Conn: c, Token: d.tok})
}

// closeSession closes c at the server.
func (e *engine) closeSession(c *bconn) {
	if !c.open {
		return
	}
	c.open = false
	last := len(e.openList) - 1
	moved := e.openList[last]
	e.openList[c.openIdx] = moved
	moved.openIdx = c.openIdx
	e.openList[last] = nil
	e.openList = e.openList[:last]
}

// kill ends a random open session at the server.
func (e *engine) kill() {
	if e.stopping {
		return
	}
	e.schedule(event{at: e.expGap(e.cfg.Faults.KillRate), kind: evKill})
	if len(e.openList) == 0 {
		return
	}
	c := e.openList[e.rFault.IntN(len(e.openList))]
	if !c.dead {
		c.dead = true
		e.res.SessionsKilled++
	}
}
