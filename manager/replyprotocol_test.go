package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// The reply protocol between an Acquire and its pool (DESIGN.md, "Message
// flow"), driven at chosen points: one terminal reply per acquire; a ctx
// that ends sends Cancel and reads exactly one more reply, Cancelled or a
// grant that crossed it and goes back unused. The stress tests reach these
// interleavings by chance; here each is made to happen: the grant sitting
// in the channel as the ctx ends (withdraw's hand-back), the mailbox held
// by another goroutine as the acquire is sent, the grant waiting on a mint.

// waitCtx is a ctx the test ends at a chosen moment. onWait runs, in the
// caller's goroutine, the first time Done is called: with no PrepareConn
// hook and a key known, that is await's, after the acquire was sent and
// found no direct grant, so the acquire is queued or answered on its
// channel. end closes Done.
type waitCtx struct {
	context.Context
	done     chan struct{}
	endOnce  sync.Once
	waitOnce sync.Once
	deadline bool
	onWait   func(end func())
}

func newWaitCtx(deadline bool, onWait func(end func())) *waitCtx {
	return &waitCtx{Context: context.Background(), done: make(chan struct{}), deadline: deadline, onWait: onWait}
}

func (c *waitCtx) end() { c.endOnce.Do(func() { close(c.done) }) }

func (c *waitCtx) Deadline() (time.Time, bool) {
	if c.deadline {
		return time.Now().Add(time.Hour), true
	}
	return time.Time{}, false
}

func (c *waitCtx) Done() <-chan struct{} {
	c.waitOnce.Do(func() {
		if c.onWait != nil {
			c.onWait(c.end)
		}
	})
	return c.done
}

func (c *waitCtx) Err() error {
	select {
	case <-c.done:
		if c.deadline {
			return context.DeadlineExceeded
		}
		return context.Canceled
	default:
		return nil
	}
}

// booksBalance waits until every connection is back and idle, and checks
// the pool's gauges against the server's count: nothing leaked, nothing
// used twice.
func booksBalance(t *testing.T, m *Manager, db *memdb.DB, maxOpen int) {
	t.Helper()
	eventually(t, func() bool {
		s := m.Stats().Total
		return s.Busy == 0 && s.Waiters == 0 && s.Dialing == 0 && s.ClosingConns == 0 && s.Checking == 0 &&
			s.Idle == s.Open && s.Open == db.OpenNow()
	}, "every connection back and idle: %+v, server open %d", m.Stats().Total, db.OpenNow())
	assert.LessOrEqual(t, db.OpenNow(), maxOpen)
	assert.LessOrEqual(t, db.PeakOpen(), maxOpen)
	assert.Zero(t, db.Misuse(), "%v", db.Misuses())
}

// requireEnded checks err is the *TimeoutError of an acquire whose ctx (or
// the pool's AcquireTimeout) ended it.
func requireEnded(t *testing.T, err error) {
	t.Helper()
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
}

// barrier returns once the pool has handled every message sent to it from
// this goroutine before: a Stats query reaches the pool behind them.
func barrier(m *Manager) PoolStats { return m.Stats().Total }

// TestCtxEndingAsTheQueuedAcquireIsGrantedAnswersOnce: the caller's ctx ends
// at the very moment its queued acquire is granted (the holder's Release
// has been handled, the grant sits in the reply channel, and Done is
// closed). The caller's select then picks either: the grant (a lease), or
// the end (Cancel, which finds nothing queued, then the grant read and
// handed back, a *TimeoutError). Both are seen over the rounds; neither
// leaks the connection nor leases it twice; the pool counts each acquire.
func TestCtxEndingAsTheQueuedAcquireIsGrantedAnswersOnce(t *testing.T) {
	for _, deadline := range []bool{false, true} {
		t.Run(map[bool]string{false: "cancelled", true: "deadline"}[deadline], func(t *testing.T) {
			m, db := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1})
			held := acquire(t, m, sqlLogin)
			first := connID(held)
			const rounds = 200
			var granted, handedBack int
			for i := range rounds {
				ctx := newWaitCtx(deadline, func(end func()) {
					held.Release(nil)
					s := barrier(m)
					require.Equal(t, 1, s.Busy, "round %d: the release did not go to the waiter", i)
					require.Zero(t, s.Waiters)
					end()
				})
				l, err := m.Acquire(ctx, sqlLogin)
				if err == nil {
					granted++
					assert.EqualValues(t, first, connID(l))
					held = l
					continue
				}
				handedBack++
				var te *TimeoutError
				require.ErrorAs(t, err, &te, "round %d", i)
				assert.Equal(t, !deadline, te.Canceled)
				if deadline {
					assert.ErrorIs(t, err, context.DeadlineExceeded)
				}
				assert.Nil(t, l)
				held = acquire(t, m, sqlLogin) // the grant handed back serves the next holder
				assert.EqualValues(t, first, connID(held))
			}
			held.Release(nil)
			t.Logf("granted %d, handed back %d", granted, handedBack)
			assert.Positive(t, granted, "the select never took the grant")
			assert.Positive(t, handedBack, "the select never took the ctx's end")
			booksBalance(t, m, db, 1)
			assert.Equal(t, 1, db.Opened(), "a connection was dialed besides the one")
			assert.EqualValues(t, 1+rounds+handedBack, m.Stats().Total.Acquires)
		})
	}
}

// TestTinyAcquireTimeoutRacingAReleaseAnswersOnce: with a ctx that cannot
// end, the pool enforces a 1ns AcquireTimeout itself, racing the holder's
// Release from another goroutine: each acquire gets the connection or an
// acquire timeout, once, and the connection is never lost.
func TestTinyAcquireTimeoutRacingAReleaseAnswersOnce(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1, AcquireTimeout: time.Nanosecond})
	var got, timedOut int
	for range 200 {
		held, err := m.Acquire(context.Background(), sqlLogin)
		for err != nil { // the previous round's release may not have landed
			requireEnded(t, err)
			held, err = m.Acquire(context.Background(), sqlLogin)
		}
		released := make(chan struct{})
		go func() { held.Release(nil); close(released) }()
		l, err := m.Acquire(context.Background(), sqlLogin)
		<-released
		if err == nil {
			got++
			l.Release(nil)
		} else {
			timedOut++
			requireEnded(t, err)
		}
	}
	t.Logf("granted %d, timed out %d", got, timedOut)
	booksBalance(t, m, db, 1)
	assert.Equal(t, 1, db.Opened())
}

// blockingHandler holds the pool actor's mailbox, in the goroutine that
// runs it, while it logs the message named: a step still running when
// other goroutines send to the pool.
type blockingHandler struct {
	slog.Handler
	msg     string
	entered chan struct{}
	hold    chan struct{}
	once    sync.Once
}

func (h *blockingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *blockingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.entered); <-h.hold })
	}
	return nil
}
func (h *blockingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *blockingHandler) WithGroup(string) slog.Handler      { return h }

// TestAcquireQueuedBehindAnEvictOnAnotherGoroutineAnswersOnce: another
// goroutine holds the pool's mailbox (an Evict whose log line blocks) when
// a hit is sent: the caller's send only queues the acquire, so the caller
// waits on its channel. Its ctx ends too, so its Cancel queues behind the
// acquire. When the Evict goes on, the idle connection it was to hit is
// closed, the acquire queues for a new connection, and the Cancel
// withdraws it: Cancelled is its one reply; a dial begun for it lands idle;
// the evicted connection is closed at the server. Without the Cancel the
// grant, made on the other goroutine, arrives on the channel.
func TestAcquireQueuedBehindAnEvictOnAnotherGoroutineAnswersOnce(t *testing.T) {
	for _, cancel := range []bool{false, true} {
		t.Run(map[bool]string{false: "granted", true: "cancelled"}[cancel], func(t *testing.T) {
			h := &blockingHandler{msg: "idpool: evicting pool", entered: make(chan struct{}), hold: make(chan struct{})}
			m, db := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1, Logger: slog.New(h)})
			old := acquire(t, m, sqlLogin)
			oldID := connID(old)
			old.Release(nil)
			barrier(m)
			evicted := make(chan error, 1)
			go func() { evicted <- m.Evict(context.Background(), sqlLogin) }()
			<-h.entered
			// The new connection cannot land before the Cancel is handled.
			releaseDials := db.BlockDials()
			ctx := newWaitCtx(false, func(end func()) {
				if cancel {
					end()
				} else {
					releaseDials()
				}
				close(h.hold)
			})
			l, err := m.Acquire(ctx, sqlLogin)
			releaseDials()
			require.NoError(t, <-evicted)
			if cancel {
				requireEnded(t, err)
				require.Nil(t, l)
			} else {
				require.NoError(t, err)
				assert.Equal(t, stAwaitReply, l.state.Load()&(stGranted|stAwaitReply), "a grant made on another goroutine after the send went direct")
				assert.NotEqual(t, oldID, connID(l), "granted the evicted connection")
				l.Release(nil)
			}
			booksBalance(t, m, db, 1)
			// Cancelled, the acquire may have left before the evicted
			// connection's close ended and its dial began.
			assert.Equal(t, 1+db.OpenNow(), db.Opened())
			info, ok := db.Conn(oldID)
			require.True(t, ok)
			assert.True(t, info.Closed, "the evicted connection is still open")
		})
	}
}

// TestManyAcquirersOnOneConnectionWithCancelsAnswerOnce: many goroutines
// contend for MaxSize 1, so the mailbox is mostly run by a goroutine other
// than the acquire's caller; a third of them end their ctx as they begin to
// wait, a third are released by another goroutine's Release mid-wait, and
// one goroutine Resets the pool meanwhile. Every Acquire returns once, the
// connection is never leased twice, and the books balance.
func TestManyAcquirersOnOneConnectionWithCancelsAnswerOnce(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1})
	const workers, perWorker = 8, 150
	holders := make([]atomic.Int64, 1024)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				var ctx context.Context
				switch (w + i) % 3 {
				case 0: // ends as the caller begins to wait
					ctx = newWaitCtx(w%2 == 0, func(end func()) { end() })
				case 1: // ended by another goroutine, racing the wait
					ctx = newWaitCtx(w%2 == 0, func(end func()) { go end() })
				default:
					ctx = context.Background()
				}
				l, err := m.Acquire(ctx, sqlLogin)
				if err != nil {
					if te := (*TimeoutError)(nil); !errors.As(err, &te) {
						t.Errorf("acquire: %v", err)
					}
					continue
				}
				id := connID(l)
				if !holders[id].CompareAndSwap(0, 1) {
					t.Errorf("connection %d leased twice at once", id)
				}
				holders[id].Store(0)
				l.Release(nil)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := m.Reset(context.Background()); err != nil {
				t.Errorf("reset: %v", err)
			}
		}
	})
	wg.Wait()
	booksBalance(t, m, db, 1)
}

// TestCloseRacingAQueuedAcquireWhoseCtxEndsAnswersOnce: Close fails the
// queued acquire while its ctx ends: one reply, ErrClosed or the timeout,
// and Close returns once the holder releases.
func TestCloseRacingAQueuedAcquireWhoseCtxEndsAnswersOnce(t *testing.T) {
	for range 10 {
		db := memdb.New()
		m, err := New(Config{Server: "memdb:1/test", Dialer: db, MaxSize: 1, HealthCheckAfter: -1})
		require.NoError(t, err)
		held := acquire(t, m, sqlLogin)
		closed := make(chan error, 1)
		ctx := newWaitCtx(true, func(end func()) {
			go func() {
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				closed <- m.Close(cctx)
			}()
			end()
		})
		l, err := m.Acquire(ctx, sqlLogin)
		require.Nil(t, l)
		if !errors.Is(err, ErrClosed) {
			requireEnded(t, err)
		}
		held.Release(nil)
		require.NoError(t, <-closed)
		assert.Zero(t, db.OpenNow())
		assert.Zero(t, db.Misuse(), "%v", db.Misuses())
	}
}

// gatedSource hands out a token valid for an hour, then, once the test has
// aged the first past its threshold, blocks each later mint until the test
// lets it go and hands out a rotated one.
type gatedSource struct {
	clock   *skewClock
	minted  atomic.Int32
	waiting chan struct{} // a mint has begun and is held
	gate    chan struct{}
}

func (s *gatedSource) Token(ctx context.Context) (tokens.Token, error) {
	n := s.minted.Add(1)
	if n > 1 {
		s.waiting <- struct{}{}
		select {
		case <-s.gate:
		case <-ctx.Done():
			return tokens.Token{}, ctx.Err()
		}
	}
	return tokens.Token{Value: fmt.Sprintf("token-%d", n), ExpiresOn: s.clock.Now().Add(time.Hour)}, nil
}

// TestCtxEndingWhileTheGrantWaitsForAMintAnswersOnce: the idle connection
// the acquire would hit holds a token near expiry, so the pool mints before
// granting, and the acquire queues behind that mint. The ctx ends while the
// mint is held (Cancelled: the connection stays in its check, then the
// rotated token retires it), or just after the mint ended and the pool
// granted on a fresh dial (either answer; a grant that crossed the Cancel
// goes back). Nothing is left busy, and the stale connection is closed.
func TestCtxEndingWhileTheGrantWaitsForAMintAnswersOnce(t *testing.T) {
	for _, minted := range []bool{false, true} {
		t.Run(map[bool]string{false: "cancelled-while-minting", true: "granted-after-mint"}[minted], func(t *testing.T) {
			clock := &skewClock{}
			src := &gatedSource{clock: clock, waiting: make(chan struct{}, 1), gate: make(chan struct{})}
			id := tokens.New(tokens.KindProvidedToken, "test:gated", src)
			m, db := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1, Clock: clock,
				IdleTimeout: time.Hour * 24, MaxLifetime: time.Hour * 24, PoolIdleTimeout: time.Hour * 24})
			first := acquire(t, m, id)
			firstID := connID(first)
			first.Release(nil)
			barrier(m)
			clock.Advance(56 * time.Minute) // within the 5-minute threshold
			ctx := newWaitCtx(true, func(end func()) {
				<-src.waiting // the acquire queued behind the mint
				if minted {
					close(src.gate)
					eventually(t, func() bool { return barrier(m).Busy == 1 }, "never granted after the mint")
				}
				end()
			})
			l, err := m.Acquire(ctx, id)
			if !minted {
				close(src.gate)
			}
			if err == nil {
				require.True(t, minted, "granted while the mint was held")
				assert.NotEqual(t, firstID, connID(l), "granted the connection with the stale token")
				l.Release(nil)
			} else {
				requireEnded(t, err)
				require.Nil(t, l)
			}
			booksBalance(t, m, db, 1)
			info, ok := db.Conn(firstID)
			require.True(t, ok)
			assert.True(t, info.Closed, "the connection with the rotated-out token is still open")
		})
	}
}
