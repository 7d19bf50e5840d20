// Package netfault is a TCP proxy for tests that can go silent, as a hung
// server or a network black hole does: connections stay open, and nothing
// more is delivered in either direction.
package netfault

import (
	"errors"
	"io"
	"net"
	"sync"
)

// Proxy forwards every connection it accepts to a target address until it
// is silenced. It is safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	// silent is closed by Silence; a copy that has read bytes checks it
	// before it writes them, and then blocks until Close.
	silent     chan struct{}
	silentOnce sync.Once
	closed     chan struct{}
	closeOnce  sync.Once
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      []net.Conn
	// quiet holds one channel per connection, closed by SilenceOpen.
	quiet []chan struct{}
}

// Listen starts a proxy on a loopback port for target (host:port).
func Listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, silent: make(chan struct{}), closed: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Silence stops delivery on every connection, open and future: bytes
// read from either side after it are dropped and the reader blocks, so
// neither end sees an error or a close until Close.
func (p *Proxy) Silence() { p.silentOnce.Do(func() { close(p.silent) }) }

// SilenceOpen stops delivery on the connections open now, as Silence does,
// and leaves later ones alone: a server that stopped answering on its
// sessions but still accepts new ones (one hung backend, a stalled
// connection through a proxy that restarted).
func (p *Proxy) SilenceOpen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range p.quiet {
		select {
		case <-q:
		default:
			close(q)
		}
	}
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		_ = p.ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
	})
	p.wg.Wait()
	return nil
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		quiet := make(chan struct{})
		if !p.track(client, server, quiet) {
			return
		}
		p.wg.Add(2)
		go p.pipe(server, client, quiet)
		go p.pipe(client, server, quiet)
	}
}

// track records the pair for Close, or closes it if Close has begun.
func (p *Proxy) track(a, b net.Conn, quiet chan struct{}) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		_ = a.Close()
		_ = b.Close()
		return false
	default:
	}
	p.conns = append(p.conns, a, b)
	p.quiet = append(p.quiet, quiet)
	return true
}

// pipe copies from src to dst until either fails or the proxy (or, with
// quiet closed, this connection) goes silent.
func (p *Proxy) pipe(dst, src net.Conn, quiet chan struct{}) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-p.silent:
				<-p.closed
				return
			case <-quiet:
				<-p.closed
				return
			default:
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Half-close as TCP would; the other direction goes on.
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}
			return
		}
	}
}
