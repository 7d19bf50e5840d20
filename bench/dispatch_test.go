package bench

import (
	"log/slog"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// BenchmarkProtoactorDispatch isolates the cost that dominates idpool's hot
// path in the CPU profile: protoactor's default dispatcher starts a new
// goroutine every time an idle mailbox gets a message, and that goroutine's
// small stack is grown (copied) on the way to Receive. One round trip
// (Root.Send, the actor looks up a map, answers on a channel) with the
// default dispatcher, then with mailboxes run on long-lived goroutines.
func BenchmarkProtoactorDispatch(b *testing.B) {
	for _, name := range []string{"default", "workers"} {
		b.Run(name, func(b *testing.B) {
			sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
			var opts []actor.PropsOption
			if name == "workers" {
				d := newWorkerDispatcher(4)
				defer d.stop()
				opts = append(opts, actor.WithDispatcher(d))
			}
			pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &echoActor{m: map[string]int{"k": 1}} }, opts...))
			defer func() { _ = sys.Root.PoisonFuture(pid).Wait() }()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				msg := &echoMsg{reply: make(chan int, 1)}
				for pb.Next() {
					sys.Root.Send(pid, msg)
					<-msg.reply
				}
			})
		})
	}
}

type echoMsg struct{ reply chan int }

type echoActor struct{ m map[string]int }

func (e *echoActor) Receive(c actor.Context) {
	if m, ok := c.Message().(*echoMsg); ok {
		m.reply <- e.m["k"]
	}
}

// workerDispatcher runs mailboxes on long-lived goroutines, whose stacks
// have already grown; when all are busy it falls back to a new goroutine, so
// Schedule never blocks.
type workerDispatcher struct {
	work chan func()
	done chan struct{}
}

func newWorkerDispatcher(n int) *workerDispatcher {
	d := &workerDispatcher{work: make(chan func(), 1024), done: make(chan struct{})}
	for range n {
		go func() {
			for {
				select {
				case fn := <-d.work:
					fn()
				case <-d.done:
					return
				}
			}
		}()
	}
	return d
}

func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go fn()
	}
}

func (d *workerDispatcher) Throughput() int { return 300 }

func (d *workerDispatcher) stop() { close(d.done) }
