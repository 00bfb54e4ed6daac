//go:build linux

package h1server

import (
	"errors"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// parker holds idle keep-alive connections without a goroutine each: one
// loop waits on an epoll set of their descriptors and starts a goroutine
// for a connection when it turns readable (a request, or the peer closing).
//
// Why our own epoll set beside the runtime's netpoller: a goroutine parked
// in Read keeps its stack, which has grown to 4-8 KiB serving the previous
// request and does not shrink below what the read needs; at 10,000 idle
// connections that is ~55 MiB, more than half of the process. The runtime
// has no way to wait for readability without a goroutine, so the
// connections idle past Server.ParkIdleAfter are watched here instead. A
// descriptor in two epoll sets is fine: each set gets its own readiness
// report, and the runtime's (edge-triggered) one is only a hint for the
// next Read.
type parker struct {
	epfd, evfd int
	done       chan struct{}

	mu     sync.Mutex
	closed bool
	seq    uint32
	conns  map[int32]*conn // by descriptor

	unnudged  int       // parks since the last nudge (parkNudgeMin); under mu
	lastNudge time.Time // the loop's
	nudging   sync.WaitGroup
}

// After a burst of parking, the stacks the parked goroutines left behind
// are free heap the runtime keeps until its next collection, which an
// idle process may not run for two minutes (~50 MiB after 10,000 parks).
// So after parkNudgeMin parks, once a loop tick passes without any (the
// burst is over), the parker has the runtime return free memory to the
// system, at most every parkNudgeEvery.
// (Variables for the tests.)
var (
	parkNudgeMin   = 1000
	parkNudgeEvery = 30 * time.Second
	freeOSMemory   = debug.FreeOSMemory
)

// parkLoopTick is how often the loop closes parked connections past their
// idle deadline (it also bounds how late that happens).
const parkLoopTick = time.Second

func newParker() (*parker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd), Pad: -1}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	p := &parker{epfd: epfd, evfd: evfd, done: make(chan struct{}), conns: make(map[int32]*conn)}
	go p.loop()
	return p, nil
}

// park hands c to the loop; it reports false (and c stays the caller's)
// if c cannot be watched. On true the caller must not touch c again: it
// may already be running on a new goroutine.
func (p *parker) park(c *conn) bool {
	sc, ok := c.rwc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
		return false // closed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if _, taken := p.conns[int32(fd)]; taken {
		return false // cannot happen: the descriptor is c's while c is open
	}
	p.seq++
	c.parkFD, c.parkSeq = int32(fd), p.seq
	// Level-triggered and one-shot: bytes that arrived before this call
	// report at once, and a connection is woken once per parking.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd), Pad: int32(p.seq)}
	if unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
		return false
	}
	p.conns[int32(fd)] = c
	p.unnudged++
	return true
}

// unpark takes c back from the loop if it is parked there, for the server
// to close it. It reports whether c was parked.
func (p *parker) unpark(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[c.parkFD] != c {
		return false
	}
	p.removeLocked(c)
	return true
}

func (p *parker) removeLocked(c *conn) {
	delete(p.conns, c.parkFD)
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(c.parkFD), nil)
	c.parkFD = -1
}

// close stops the loop and returns the connections still parked, for the
// caller to close.
func (p *parker) close() []*conn {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var left []*conn
	for _, c := range p.conns {
		left = append(left, c)
	}
	for _, c := range left {
		p.removeLocked(c)
	}
	p.mu.Unlock()
	var one = [8]byte{1}
	unix.Write(p.evfd, one[:])
	<-p.done
	p.nudging.Wait()
	unix.Close(p.epfd)
	unix.Close(p.evfd)
	return left
}

func (p *parker) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	var wake, expire []*conn
	lastSweep := time.Now()
	parksAtSweep := 0
	for {
		n, err := unix.EpollWait(p.epfd, events, int(parkLoopTick/time.Millisecond))
		if err != nil && !errors.Is(err, unix.EINTR) {
			// Cannot happen with a valid set and buffer; do not spin.
			time.Sleep(parkLoopTick)
		}
		now := time.Now()
		wake, expire = wake[:0], expire[:0]
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Pad < 0 {
				continue // the close wake-up
			}
			// The sequence number tells a stale report (the connection
			// was taken back and its descriptor reused) from a live one.
			if c := p.conns[ev.Fd]; c != nil && c.parkSeq == uint32(ev.Pad) {
				p.removeLocked(c)
				wake = append(wake, c)
			}
		}
		if now.Sub(lastSweep) >= parkLoopTick {
			lastSweep = now
			for _, c := range p.conns {
				if !c.idleDeadline.IsZero() && !now.Before(c.idleDeadline) {
					expire = append(expire, c)
				}
			}
			for _, c := range expire {
				p.removeLocked(c)
			}
			if p.unnudged >= parkNudgeMin && p.unnudged == parksAtSweep && now.Sub(p.lastNudge) >= parkNudgeEvery {
				p.unnudged, p.lastNudge = 0, now
				p.nudging.Add(1)
				go func() {
					defer p.nudging.Done()
					freeOSMemory()
				}()
			}
			parksAtSweep = p.unnudged
		}
		p.mu.Unlock()
		for _, c := range wake {
			go c.resume()
		}
		for _, c := range expire {
			c.finish(true)
		}
		clear(wake)
		clear(expire)
	}
}
