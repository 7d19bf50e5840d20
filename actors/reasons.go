package actors

// CloseReason says why the pool closed a connection; Stats counts each.
type CloseReason uint8

// Why connections are closed.
const (
	ReasonBroken CloseReason = iota
	ReasonIdleTimeout
	ReasonLifetime
	ReasonFailedHealthCheck
	ReasonTokenExpiring
	ReasonTokenExpired
	ReasonTokenRotated
	ReasonStaleToken
	ReasonPoolClosed
	ReasonStolen
	ReasonForced
	// ReasonEvicted: Manager.Evict or Reset dropped the connection.
	ReasonEvicted
	numReasons
)

var reasonNames = [numReasons]string{
	"broken", "idle_timeout", "lifetime", "failed_health_check", "token_expiring",
	"token_expired", "token_rotated", "stale_token", "pool_closed", "stolen", "forced", "evicted",
}

// String returns the reason's snake_case name, as used in Stats and metrics.
func (r CloseReason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}
