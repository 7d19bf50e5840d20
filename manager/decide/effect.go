package decide

import "github.com/idpool/idpool/actors"

// EffectKind says what the driver must do for an Effect (see the package
// doc).
type EffectKind uint8

// The effects the manager's state machine asks for.
const (
	EffSpawn EffectKind = iota + 1
	EffPublish
	EffForward
	EffFailClosed
	EffCloseRoute
	EffReopenRoute
	EffWithdraw
	EffClosePool
	EffForceClose
	EffStop
	EffClosed
	EffGrantPermit
	EffRefuseFill
	EffDenyPermit
	EffSteal
	EffPermitWithdrawn
	EffCancelSteal
)

var effectNames = [...]string{"", "spawn", "publish", "forward", "fail_closed", "close_route", "reopen_route",
	"withdraw", "close_pool", "force_close", "stop", "closed", "grant_permit", "refuse_fill", "deny_permit", "steal",
	"permit_withdrawn", "cancel_steal"}

// String names the kind, for test failures and traces.
func (k EffectKind) String() string {
	if int(k) < len(effectNames) {
		return effectNames[k]
	}
	return "unknown"
}

// Effect is one instruction to the driver. Only the fields its Kind names
// are set.
type Effect struct {
	Kind EffectKind
	Pool PoolID
	// Disc is the identity (EffSpawn, EffPublish, EffWithdraw).
	Disc string
	// Config is the new pool's configuration (EffSpawn).
	Config actors.PoolConfig
	// Retire: EffClosePool retires an idle pool rather than closing it with
	// the manager.
	Retire bool
	// Removed: EffPermitWithdrawn took a queued request off the queue.
	Removed bool
}
