package messages

import (
	"context"
	"database/sql/driver"

	"github.com/idpool/idpool/tokens"
)

// DialDone reports a finished dial to the pool actor that started it.
type DialDone struct {
	Conn  driver.Conn
	Token tokens.Token
	Err   error
	// Ctx carries the values of the ctx the dial ran with (those of the
	// acquire that caused it, if any), for the log lines its result causes.
	Ctx context.Context
	// Epoch is the pool's eviction epoch when the dial started: a connection
	// dialed before an Evict is closed, not used.
	Epoch uint64
}

// MintDone reports a finished token mint.
type MintDone struct {
	Token tokens.Token
	Err   error
	// Ctx: as DialDone.Ctx.
	Ctx context.Context
}

// ValidateDone reports a finished health check of ConnID.
type ValidateDone struct {
	ConnID uint64
	OK     bool
	// Ctx: as DialDone.Ctx.
	Ctx context.Context
}

// CloseDone reports that ConnID's Close returned.
type CloseDone struct{ ConnID uint64 }

// CloseAfterOperation tells a pool that the operation a forced close found
// inside connection ConnID has left it (see DirectGrant's
// CloseAfterOperation): the pool closes Conn now, and a CloseDone follows.
// The pool already counts the connection closing, so this message only
// starts the Close it put off; it carries the connection because the pool
// forgot it when it counted it closing.
type CloseAfterOperation struct {
	ConnID uint64
	Conn   driver.Conn
}

// Tick wakes a pool actor for its timers (idle, lifetime, token expiry,
// retirement). Only the pool's own timer sends it.
type Tick struct{}
