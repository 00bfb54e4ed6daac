//go:build unix

package h1client

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestAliveCheck: the check before reuse sees an open idle connection as
// alive, one the peer closed as dead, and allocates nothing (it runs
// before every reuse).
func TestAliveCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer := <-accepted
	cn := &Conn{nc: nc, br: bufio.NewReader(nc), peek: newPeeker(nc)}
	if !cn.alive() {
		t.Fatal("an open idle connection was taken for dead")
	}
	if n := testing.AllocsPerRun(100, func() { cn.alive() }); n != 0 {
		t.Errorf("the alive check allocates %v times, want 0", n)
	}
	peer.Close()
	deadline := time.Now().Add(2 * time.Second)
	for cn.alive() {
		if time.Now().After(deadline) {
			t.Fatal("a connection the peer closed still looks alive")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
